/*
 * test_log.c - log records in both formats, JSON escaping, levels, and
 * whole lines under concurrency.
 *
 * JSON output is parsed back by Python's json module
 * (tests/common/data/log/check_jsonl.py), which also decodes the hostile
 * bytes with errors="replace" as the reference for U+FFFD substitution.
 */
#include "rf_test.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>

#include "rf_buf.h"
#include "rf_log.h"

#define CHECKER RF_TEST_SRCDIR "/tests/common/data/log/check_jsonl.py"

/* 2026-11-23T10:00:00.123Z (1795428000 from Python's datetime). */
static void fixed_clock(struct timespec *now, void *ctx)
{
	(void)ctx;
	now->tv_sec = 1795428000;
	now->tv_nsec = 123456789;
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

static struct rf_log logger(FILE *out, bool json, enum rf_log_level lv)
{
	struct rf_log lg = RF_LOG_INIT(lv, out, "node");

	lg.json = json;
	lg.clock = fixed_clock;
	return lg;
}

static void test_human_format(void **state)
{
	struct capture c;
	struct rf_log lg;
	struct rf_log_field f[] = {
		RF_LOG_STR("site", "chu-lyon"),
		RF_LOG_INT("round", -3),
		RF_LOG_UINT("bytes", 18446744073709551615ULL),
		RF_LOG_STR("note", "two words"),
		RF_LOG_STR("empty", ""),
		RF_LOG_STR("none", NULL),
		RF_LOG_BOOL("ok", true),
		RF_LOG_DBL("loss", 0.25),
	};

	(void)state;
	capture_open(&c);
	lg = logger(c.f, false, RF_LOG_INFO);
	rf_log_error(&lg, "cannot open '%s'", "x.h5");
	rf_log_warn(&lg, "disk %d%% full", 91);
	rf_log_info(&lg, "ingested %zu files", (size_t)12);
	rf_log_debug(&lg, "not shown at info");
	rf_log_info(&lg, "forged\nline\r\x1b[31m\tend\\");
	rf_log_kv(&lg, RF_LOG_INFO, f, sizeof f / sizeof *f, "upload");
	lg.component = NULL;
	rf_log_write(&lg, RF_LOG_WARN, "no component");
	assert_string_equal(
		c.data,
		"2026-11-23T10:00:00.123Z error [node] cannot open 'x.h5'\n"
		"2026-11-23T10:00:00.123Z warn  [node] disk 91% full\n"
		"2026-11-23T10:00:00.123Z info  [node] ingested 12 files\n"
		"2026-11-23T10:00:00.123Z info  [node] "
		"forged\\nline\\r\\x1b[31m\tend\\\n"
		"2026-11-23T10:00:00.123Z info  [node] upload site=chu-lyon "
		"round=-3 bytes=18446744073709551615 note=\"two words\" "
		"empty=\"\" none=null ok=true loss=0.25\n"
		"2026-11-23T10:00:00.123Z warn  no component\n");
	capture_close(&c);
}

static void test_levels(void **state)
{
	struct capture c;
	struct rf_log lg;
	enum rf_log_level lv = RF_LOG_INFO;
	struct rf_err e = {0};
	static const struct {
		const char *s;
		enum rf_log_level lv;
	} names[] = {
		{"error", RF_LOG_ERROR}, {"warn", RF_LOG_WARN},
		{"warning", RF_LOG_WARN}, {"info", RF_LOG_INFO},
		{"debug", RF_LOG_DEBUG}, {"DEBUG", RF_LOG_DEBUG},
		{"Info", RF_LOG_INFO},
	};

	(void)state;
	for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
		RF_ASSERT_OK(rf_log_level_parse(names[i].s, &lv, &e));
		assert_int_equal(lv, names[i].lv);
	}
	RF_ASSERT_RC(rf_log_level_parse("verbose", &lv, &e), RF_EINVAL);
	assert_string_equal(e.msg, "unknown log level 'verbose' (expected "
			    "error, warn, info or debug)");
	assert_int_equal(lv, RF_LOG_INFO);
	RF_ASSERT_RC(rf_log_level_parse("", &lv, &e), RF_EINVAL);
	assert_string_equal(rf_log_level_name(RF_LOG_WARN), "warn");
	assert_string_equal(rf_log_level_name((enum rf_log_level)9),
			    "unknown");

	/* NULL logger, NULL stream: nothing, no crash */
	rf_log_error(NULL, "nothing %d", 1);
	lg = logger(NULL, false, RF_LOG_DEBUG);
	rf_log_error(&lg, "nothing");
	assert_false(rf_log_enabled(&lg, RF_LOG_ERROR));

	capture_open(&c);
	lg = logger(c.f, false, RF_LOG_ERROR);
	assert_true(rf_log_enabled(&lg, RF_LOG_ERROR));
	assert_false(rf_log_enabled(&lg, RF_LOG_WARN));
	rf_log_warn(&lg, "dropped");
	rf_log_info(&lg, "dropped");
	rf_log_debug(&lg, "dropped");
	errno = EPERM;
	rf_log_error(&lg, "kept");
	assert_int_equal(errno, EPERM);
	assert_string_equal(c.data,
			    "2026-11-23T10:00:00.123Z error [node] kept\n");
	capture_close(&c);
}

static void test_time_format(void **state)
{
	struct timespec ts = {946684799, 999999999};
	char buf[40];

	(void)state;
	assert_string_equal(rf_log_format_time(&ts, buf, sizeof buf),
			    "1999-12-31T23:59:59.999Z");
	ts.tv_sec = 0;
	ts.tv_nsec = 1000000;
	assert_string_equal(rf_log_format_time(&ts, buf, sizeof buf),
			    "1970-01-01T00:00:00.001Z");
}

static void test_json_escape(void **state)
{
	static const struct {
		const char *in;
		size_t len;
		const char *out;
	} v[] = {
		{"plain", 5, "plain"},
		{"", 0, ""},
		{"q\"b\\s/", 6, "q\\\"b\\\\s/"},
		{"\b\f\n\r\t", 5, "\\b\\f\\n\\r\\t"},
		{"\x01\x1f\x7f", 3, "\\u0001\\u001f\\u007f"},
		{"nul\0x", 5, "nul\\u0000x"},
		/* valid UTF-8 is kept: e-acute, euro, emoji */
		{"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9,
		 "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"},
		/* line and paragraph separators break JavaScript */
		{"\xe2\x80\xa8\xe2\x80\xa9", 6, "\\u2028\\u2029"},
		/* invalid: lone continuation, overlong, surrogate, > U+10FFFF,
		 * truncated at the end */
		{"\x80", 1, "\xef\xbf\xbd"},
		{"\xc0\xaf", 2, "\xef\xbf\xbd\xef\xbf\xbd"},
		{"\xed\xa0\x80", 3, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
		{"\xf4\x90\x80\x80", 4,
		 "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
		{"a\xf0\x9f\x98", 4, "a\xef\xbf\xbd"},
		{"\xe2\x82x", 3, "\xef\xbf\xbdx"},
	};
	struct rf_buf b = RF_BUF_INIT(1024), small = RF_BUF_INIT(8);
	struct rf_err e = {0};

	(void)state;
	for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
		rf_buf_reset(&b);
		RF_ASSERT_OK(rf_json_escape(&b, v[i].in, v[i].len, &e));
		assert_int_equal(b.len, strlen(v[i].out));
		assert_memory_equal(b.data ? (const char *)b.data : "",
				    v[i].out, b.len);
	}
	rf_buf_reset(&b);
	RF_ASSERT_OK(rf_json_quote(&b, "a\"", 2, &e));
	assert_string_equal(rf_buf_str(&b), "\"a\\\"\"");

	/* a cap that is hit part-way leaves the buffer as it was */
	RF_ASSERT_OK(rf_buf_puts(&small, "ab", &e));
	RF_ASSERT_RC(rf_json_escape(&small, "\n\n\n\n", 4, &e), RF_ETOOBIG);
	assert_string_equal(rf_buf_str(&small), "ab");
	RF_ASSERT_RC(rf_json_quote(&small, "abcdef", 6, &e), RF_ETOOBIG);
	assert_string_equal(rf_buf_str(&small), "ab");
	rf_buf_release(&small);
	rf_buf_release(&b);
}

static void write_file(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(p, 1, n, f), n);
	fclose(f);
}

static char *read_all(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *s = calloc(1, 1 << 16);
	size_t n;

	assert_non_null(f);
	assert_non_null(s);
	n = fread(s, 1, (1 << 16) - 1, f);
	s[n] = '\0';
	fclose(f);
	return s;
}

static void test_json_lines(void **state)
{
	/* every control character, the JSON specials, valid and invalid
	 * UTF-8, as one message */
	static const char hostile[] =
		"\x01\x02\x03\x04\x05\x06\x07\x08\t\n\x0b\x0c\r\x0e\x0f"
		"\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d"
		"\x1e\x1f\x7f \"quoted\" back\\slash {\"msg\":\"forged\"}"
		" \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80 \xe2\x80\xa8"
		" \x80\xbf \xc0\xaf \xc2 \xe0\x80\xaf \xed\xa0\x80"
		" \xed\x9f\xbf \xef\xbf\xbf \xf0\x8f\xbf\xbf \xf4\x90\x80\x80"
		" \xf5\xff\xfe \xe1\x80 \xf1\x80\x80 end\xe2";
	const char *dir = rf_test_tmpdir("log_json");
	char logp[600], outp[600], rawp[600], cmd[2400], *got;
	struct rf_log lg;
	struct rf_log_field f[] = {
		RF_LOG_STR("site", "chu \"lyon\"\n"),
		RF_LOG_INT("round", -3),
		RF_LOG_UINT("bytes", 18446744073709551615ULL),
		RF_LOG_DBL("loss", 0.25),
		RF_LOG_DBL("bad", NAN),
		RF_LOG_BOOL("ok", false),
		RF_LOG_STR("none", NULL),
	};
	FILE *out;

	(void)state;
	snprintf(logp, sizeof logp, "%s/log.jsonl", dir);
	snprintf(outp, sizeof outp, "%s/canon.jsonl", dir);
	snprintf(rawp, sizeof rawp, "%s/raw.bin", dir);
	write_file(rawp, hostile, sizeof hostile - 1);
	out = fopen(logp, "w");
	assert_non_null(out);
	lg = logger(out, true, RF_LOG_DEBUG);
	rf_log_info(&lg, "%s", hostile);
	rf_log_kv(&lg, RF_LOG_WARN, f, sizeof f / sizeof *f, "upload %d", 7);
	lg.component = NULL;
	rf_log_debug(&lg, "no component");
	fclose(out);

	snprintf(cmd, sizeof cmd, "python3 '%s' '%s' '%s' '%s'", CHECKER, logp,
		 outp, rawp);
	assert_int_equal(system(cmd), 0);
	got = read_all(outp);
	/* the first line's msg was checked by the script; here the rest */
	assert_non_null(strstr(got, "{\"component\": \"node\", \"level\": "
				    "\"info\", \"msg\": \"\\u0001"));
	assert_non_null(strstr(
		got, "\n{\"bad\": null, \"bytes\": 18446744073709551615, "
		     "\"component\": \"node\", \"level\": \"warn\", \"loss\": "
		     "0.25, \"msg\": \"upload 7\", \"none\": null, \"ok\": "
		     "false, \"round\": -3, \"site\": \"chu \\\"lyon\\\"\\n\", "
		     "\"ts\": \"2026-11-23T10:00:00.123Z\"}\n"
		     "{\"level\": \"debug\", \"msg\": \"no component\", "
		     "\"ts\": \"2026-11-23T10:00:00.123Z\"}\n"));
	free(got);

	/* the exact bytes of a simple record, key order included */
	got = read_all(logp);
	assert_non_null(strstr(got, "\n{\"ts\":\"2026-11-23T10:00:00.123Z\","
				    "\"level\":\"debug\",\"msg\":"
				    "\"no component\"}\n"));
	free(got);
}

static void test_long_message(void **state)
{
	char *big = malloc(10000), want[RF_LOG_MSG_MAX + 1];
	struct capture c;
	struct rf_log lg;
	const char *msg;

	(void)state;
	assert_non_null(big);
	memset(big, 'x', 9999);
	big[9999] = '\0';
	/* a 2-byte character straddling the cut is dropped whole */
	big[RF_LOG_MSG_MAX - 4] = '\xc3';
	big[RF_LOG_MSG_MAX - 3] = '\xa9';
	capture_open(&c);
	lg = logger(c.f, false, RF_LOG_INFO);
	lg.component = NULL;
	rf_log_info(&lg, "%s", big);
	memset(want, 'x', RF_LOG_MSG_MAX - 4);
	memcpy(want + RF_LOG_MSG_MAX - 4, "...\n", 5);
	msg = c.data + strlen("2026-11-23T10:00:00.123Z info  ");
	assert_string_equal(msg, want);
	capture_close(&c);
	free(big);
}

static void test_oom_fallback(void **state)
{
	struct capture c;
	struct rf_log lg;

	(void)state;
	capture_open(&c);
	lg = logger(c.f, true, RF_LOG_INFO);
	rf_test_fail_alloc_after(0);
	rf_log_info(&lg, "lost");
	assert_int_equal(rf_test_alloc_live(), 0);
	rf_test_alloc_reset();
	assert_string_equal(c.data,
			    "{\"ts\":\"2026-11-23T10:00:00.123Z\",\"level\":"
			    "\"info\",\"msg\":\"log record dropped: out of "
			    "memory\"}\n");
	capture_close(&c);
}

#define THREADS 4
#define LINES 300
#define MSG_LEN 3000

struct writer {
	const struct rf_log *lg;
	char fill;
};

static void *write_lines(void *arg)
{
	const struct writer *w = arg;
	char msg[MSG_LEN + 1];

	memset(msg, w->fill, MSG_LEN);
	msg[MSG_LEN] = '\0';
	for (int i = 0; i < LINES; i++)
		rf_log_info(w->lg, "%s", msg);
	return NULL;
}

/* Several threads share one file: every line comes out whole. */
static void test_threads(void **state)
{
	const char *dir = rf_test_tmpdir("log_threads");
	struct writer w[THREADS];
	pthread_t t[THREADS];
	char path[600], line[MSG_LEN + 200];
	static const char prefix[] = "2026-11-23T10:00:00.123Z info  [node] ";
	int count[THREADS] = {0};
	struct rf_log lg;
	FILE *f;

	(void)state;
	snprintf(path, sizeof path, "%s/threads.log", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	lg = logger(f, false, RF_LOG_INFO);
	for (int i = 0; i < THREADS; i++) {
		w[i].lg = &lg;
		w[i].fill = (char)('a' + i);
		assert_int_equal(pthread_create(&t[i], NULL, write_lines,
						&w[i]), 0);
	}
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	fclose(f);

	f = fopen(path, "r");
	assert_non_null(f);
	while (fgets(line, sizeof line, f)) {
		size_t n = strlen(line), p = sizeof prefix - 1;
		int k;

		assert_int_equal(n, p + MSG_LEN + 1);
		assert_memory_equal(line, prefix, p);
		k = line[p] - 'a';
		assert_true(k >= 0 && k < THREADS);
		for (size_t i = p; i < p + MSG_LEN; i++)
			assert_int_equal(line[i], line[p]);
		assert_int_equal(line[n - 1], '\n');
		count[k]++;
	}
	fclose(f);
	for (int i = 0; i < THREADS; i++)
		assert_int_equal(count[i], LINES);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_human_format),
		cmocka_unit_test(test_levels),
		cmocka_unit_test(test_time_format),
		cmocka_unit_test(test_json_escape),
		cmocka_unit_test(test_json_lines),
		cmocka_unit_test(test_long_message),
		cmocka_unit_test(test_oom_fallback),
		cmocka_unit_test(test_threads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
