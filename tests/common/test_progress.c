/*
 * test_progress.c - the progress bar, driven by a fake clock.
 *
 * Expected lines are worked out by hand from the rules in rf_progress.h:
 * redraw at most every 100 ms; rate = newest interval's rate on the first
 * sample, then 0.3 * newest + 0.7 * previous; ETA = ceil(remaining / rate);
 * percentage and bar fill rounded down; line at most width - 1 columns.
 */
#include "rf_test.h"

#include "rf_progress.h"

struct fake_clock {
	uint64_t now;
};

static uint64_t fake_ms(void *ctx)
{
	return ((struct fake_clock *)ctx)->now;
}

struct capture {
	FILE *f;
	char *data;
	size_t len;
};

static void capture_open(struct capture *c)
{
	c->data = NULL;
	c->len = 0;
	c->f = open_memstream(&c->data, &c->len);
	assert_non_null(c->f);
}

static void capture_close(struct capture *c)
{
	fclose(c->f);
	free(c->data);
}

static struct rf_progress *bar(const char *label, uint64_t total,
			       const char *unit, unsigned width,
			       struct fake_clock *clk, FILE *out)
{
	struct rf_progress_opts o = {out, fake_ms, clk, width};
	struct rf_progress *p = NULL;
	struct rf_err e = {0};

	RF_ASSERT_OK_E(rf_progress_create(&p, label, total, unit, true, &o,
					  &e), &e);
	return p;
}

/*
 * Width 80 (the default for a stream that is not a terminal): 79 columns.
 * Without the bar: "ingest" 6 + 2 + "  0%" 4 + 2 + "   0/2743 img" 13 = 27;
 * reserved: 2 + "12345 img/s" 11 + 2 + "ETA 1:00:00" 11 = 26; the bar is
 * 79 - 27 - 26 - 4 (brackets, separator) = 22 wide.
 */
static void test_known_total(void **state)
{
	struct fake_clock clk = {0};
	struct capture c;
	struct rf_progress *p;

	(void)state;
	capture_open(&c);
	p = bar("ingest", 2743, "img", 0, &clk, c.f);
	/* first update draws at once; no interval yet: no rate, no ETA */
	rf_progress_set(p, 0);
	clk.now = 50;
	rf_progress_set(p, 5); /* within 100 ms: not drawn */
	/* 210 in 1 s: rate 210; ETA ceil(2533 / 210) = 13 s; 7%;
	 * fill 210 * 22 / 2743 = 1.68 -> 1 */
	clk.now = 1000;
	rf_progress_set(p, 210);
	clk.now = 1050;
	rf_progress_set(p, 300);
	/* 1024 more in 1 s: rate 0.3 * 1024 + 0.7 * 210 = 454.2; ETA
	 * ceil(1509 / 454.2) = 4 s; 44%; fill 27148 / 2743 = 9.9 -> 9 */
	clk.now = 2000;
	rf_progress_add(p, 934);
	clk.now = 2050;
	rf_progress_set(p, 2743);
	/* final: 2743 in 13 s = 211/s, elapsed 0:13; one column shorter than
	 * the previous line, so one blank */
	clk.now = 13000;
	rf_progress_finish(p);
	clk.now = 14000;
	rf_progress_set(p, 1);
	rf_progress_finish(p);
	assert_string_equal(
		c.data,
		"\ringest  [......................]    0%     0/2743 img"
		"\ringest  [#.....................]    7%   210/2743 img  "
		"210 img/s  ETA 0:13"
		"\ringest  [#########.............]   44%  1234/2743 img  "
		"454 img/s  ETA 0:04"
		"\ringest  [######################]  100%  2743/2743 img  "
		"211 img/s  in 0:13 \n");
	rf_progress_destroy(p);
	capture_close(&c);
}

static void test_unknown_total(void **state)
{
	struct fake_clock clk = {0};
	struct capture c;
	struct rf_progress *p;

	(void)state;
	capture_open(&c);
	p = bar("scan", 0, "files", 80, &clk, c.f);
	clk.now = 200; /* 10 in 0.2 s: 50/s */
	rf_progress_set(p, 10);
	clk.now = 400; /* 4 in 0.2 s = 20/s: 0.3 * 20 + 0.7 * 50 = 41 */
	rf_progress_set(p, 14);
	clk.now = 10400; /* nothing in 10 s: 0.7 * 41 = 28.7 */
	rf_progress_set(p, 14);
	clk.now = 20000; /* 14 in 20 s: 0.7/s, one decimal under 10 */
	rf_progress_finish(p);
	assert_string_equal(c.data,
			    "\rscan  10 files  50 files/s"
			    "\rscan  14 files  41 files/s"
			    "\rscan  14 files  29 files/s"
			    "\rscan  14 files  0.7 files/s  in 0:20\n");
	rf_progress_destroy(p);
	capture_close(&c);
}

static void test_formats(void **state)
{
	struct fake_clock clk = {0};
	struct capture c;
	struct rf_progress *p;

	(void)state;
	/* ETA over an hour: 999900 left at 100/s = 9999 s = 2:46:39.
	 * Width 120: the bar is at its maximum of 40. */
	capture_open(&c);
	p = bar("x", 1000000, "img", 120, &clk, c.f);
	clk.now = 1000;
	rf_progress_set(p, 100);
	assert_string_equal(c.data,
			    "\rx  [........................................]"
			    "    0%      100/1000000 img  100 img/s  "
			    "ETA 2:46:39");
	rf_progress_destroy(p);
	capture_close(&c);

	/* no unit; a rate under 10 has one decimal: 3 in 2 s = 1.5/s, ETA
	 * ceil(7 / 1.5) = 5 s. Without the bar 17 columns, reserved 2 + 5 +
	 * 2 + 11 = 20 + 2: the bar is 79 - 17 - 22 - 4 = 36, fill 10.8 ->
	 * 10 */
	capture_open(&c);
	p = bar("fold", 10, NULL, 80, &clk, c.f);
	clk.now = 3000;
	rf_progress_set(p, 3);
	assert_string_equal(c.data,
			    "\rfold  [##########.........................."
			    "]   30%   3/10  1.5/s  ETA 0:05");
	rf_progress_destroy(p);
	capture_close(&c);
}

/* Columns of the longest line drawn (lines separated by \r or \n). */
static size_t widest(const char *s)
{
	size_t best = 0, cur = 0;

	for (; *s; s++) {
		if (*s == '\r' || *s == '\n') {
			cur = 0;
			continue;
		}
		if (((unsigned char)*s & 0xc0) != 0x80)
			cur++;
		if (cur > best)
			best = cur;
	}
	return best;
}

static void test_narrow(void **state)
{
	static const char label[] = "a-very-long-label-for-a-narrow-terminal";
	struct fake_clock clk = {0};
	struct capture c;
	struct rf_progress *p;

	(void)state;
	/* 39 columns: no room for a bar; ETA, rate and percentage dropped,
	 * then the label cut to 39 - 2 - 17 = 20 columns */
	capture_open(&c);
	p = bar(label, 100000, "img", 40, &clk, c.f);
	clk.now = 1000;
	rf_progress_set(p, 500);
	assert_string_equal(c.data,
			    "\ra-very-long-label-fo     500/100000 img");
	rf_progress_destroy(p);
	capture_close(&c);

	/* 9 columns: label dropped, the count cut */
	capture_open(&c);
	p = bar(label, 100000, "img", 10, &clk, c.f);
	clk.now = 2000;
	rf_progress_set(p, 500);
	assert_string_equal(c.data, "\r   500/10");
	rf_progress_destroy(p);
	capture_close(&c);

	/* every width, every stage, multibyte label: never wider than
	 * width - 1 */
	for (unsigned w = 1; w <= 200; w++) {
		capture_open(&c);
		clk.now = 0;
		p = bar("d\xc3\xa9identification", 123456, "fichiers", w, &clk,
			c.f);
		for (uint64_t i = 0; i <= 123456; i += 4321) {
			clk.now += 250;
			rf_progress_set(p, i);
		}
		clk.now = 3600 * 1000 * 5;
		rf_progress_finish(p);
		if (widest(c.data) > (w > 1 ? w - 1 : 1))
			fail_msg("width %u: a line of %zu columns", w,
				 widest(c.data));
		rf_progress_destroy(p);
		capture_close(&c);
	}
}

static void test_disabled(void **state)
{
	struct rf_progress_opts o = {NULL, fake_ms, NULL, 80};
	struct fake_clock clk = {0};
	struct rf_progress *p = NULL;
	struct capture c;

	(void)state;
	capture_open(&c);
	o.out = c.f;
	o.clock_ctx = &clk;
	RF_ASSERT_OK(rf_progress_create(&p, "quiet", 10, "img", false, &o,
					NULL));
	for (int i = 0; i <= 10; i++) {
		clk.now += 1000;
		rf_progress_set(p, (uint64_t)i);
	}
	rf_progress_add(p, 1);
	rf_progress_finish(p);
	fflush(c.f);
	assert_int_equal(c.len, 0);
	rf_progress_destroy(p);
	capture_close(&c);

	/* NULL is accepted everywhere */
	rf_progress_set(NULL, 1);
	rf_progress_add(NULL, 1);
	rf_progress_finish(NULL);
	rf_progress_destroy(NULL);

	assert_false(rf_progress_should_draw(true));
	assert_int_equal(rf_progress_should_draw(false),
			 isatty(STDOUT_FILENO) != 0);
}

static void test_hostile_label(void **state)
{
	struct fake_clock clk = {0};
	struct capture c;
	struct rf_progress *p;

	(void)state;
	capture_open(&c);
	p = bar("a\rb\x1b[2Jc", 0, "u\n", 80, &clk, c.f);
	rf_progress_set(p, 1);
	assert_string_equal(c.data, "\ra?b?[2Jc  1 u?");
	rf_progress_add(p, UINT64_MAX);
	rf_progress_destroy(p);
	capture_close(&c);
}

/* A new label shows from the next draw, cleaned like the first. */
static void test_set_label(void **state)
{
	struct fake_clock clk = {0};
	struct capture c;
	struct rf_progress *p;
	struct rf_err e = {0};

	(void)state;
	capture_open(&c);
	p = bar("a", 0, "u", 80, &clk, c.f);
	rf_progress_set(p, 1);
	RF_ASSERT_OK_E(rf_progress_set_label(p, "loss 0.5\n", &e), &e);
	clk.now += RF_PROGRESS_INTERVAL_MS;
	rf_progress_set(p, 2);
	fflush(c.f);
	assert_non_null(strstr(c.data, "\ra  1 u"));
	assert_non_null(strstr(c.data, "\rloss 0.5?  2 u"));
	rf_progress_destroy(p);
	capture_close(&c);
}

static void test_oom(void **state)
{
	struct rf_progress *p = NULL;
	enum rf_rc rc = RF_OK;

	(void)state;
	RF_TEST_OOM_LOOP(rc,
			 rc = rf_progress_create(&p, "x", 1, "u", true, NULL,
						 NULL),
			 rf_progress_destroy(p));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_known_total),
		cmocka_unit_test(test_set_label),
		cmocka_unit_test(test_unknown_total),
		cmocka_unit_test(test_formats),
		cmocka_unit_test(test_narrow),
		cmocka_unit_test(test_disabled),
		cmocka_unit_test(test_hostile_label),
		cmocka_unit_test(test_oom),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
