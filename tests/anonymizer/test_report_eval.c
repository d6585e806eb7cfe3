/*
 * test_report_eval.c - the report scrubber measured on synthetic reports.
 *
 * 1250 reports from five generator seeds, each scrubbed with the seeds its
 * DICOM header would give. A planted identifier counts as caught when, in
 * the output with the report's clinical sentences blanked out, neither its
 * text (folded: lowercase, no accents, as a whole token) nor, for numbers
 * of eight digits or more, its digits (in the output's digits) survive; a
 * postal code must not survive as a whole number either. A clinical
 * sentence is kept when it appears unchanged in the output.
 *
 * Requires recall >= 99 % and clinical sentences kept >= 95 %, and prints
 * both, the recall per category, the recall without DICOM seeds (for
 * information) and the throughput.
 */
#include <time.h>

#include "rf_test.h"

#include "anon_report.h"
#include "anon_textgen.h"
#include "rf_buf.h"

#define REPORTS_PER_SEED 250
static const uint64_t gen_seeds[] = {1, 2, 3, 20240312, 0xdeadbeef};

struct tally {
	size_t planted[ANON_REPORT_CAT_COUNT];
	size_t caught[ANON_REPORT_CAT_COUNT];
	size_t sentences, kept;
	size_t bytes;
	int shown;
};

/* Folds UTF-8 to ASCII lowercase without accents (Latin-1 letters), an
 * independent implementation of what the check needs. */
static size_t fold(const char *s, size_t n, char *o)
{
	static const char latin1[] = "aaaaaaaceeeeiiiidnooooo*ouuuuyts"
				     "aaaaaaaceeeeiiiidnooooo*ouuuuyty";
	const unsigned char *p = (const unsigned char *)s;
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		if (p[i] == 0xc3 && i + 1 < n && p[i + 1] >= 0x80 &&
		    p[i + 1] <= 0xbf) {
			o[k++] = latin1[p[i + 1] - 0x80];
			i++;
		} else if (p[i] == 0xc5 && i + 1 < n &&
			   (p[i + 1] == 0x92 || p[i + 1] == 0x93)) {
			o[k++] = 'o';
			o[k++] = 'e';
			i++;
		} else if (p[i] >= 'A' && p[i] <= 'Z') {
			o[k++] = (char)(p[i] | 0x20);
		} else {
			o[k++] = (char)p[i];
		}
	}
	o[k] = 0;
	return k;
}

static int alnum(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	       (c >= 'A' && c <= 'Z') || (unsigned char)c >= 0x80;
}

/* 1 if needle occurs in hay as a whole token (and, for an age, not as
 * the "90 ans ou plus" that replaces it). */
static int has_token(const char *hay, const char *needle, int age)
{
	size_t nl = strlen(needle);
	const char *p = hay;

	if (nl == 0)
		return 0;
	while ((p = strstr(p, needle)) != NULL) {
		int before = p > hay && alnum(p[-1]) && alnum(needle[0]);
		int after = alnum(p[nl]) && alnum(needle[nl - 1]);

		if (age && strncmp(p + nl, " ou plus", 8) == 0)
			after = 1;
		if (!before && !after)
			return 1;
		p++;
	}
	return 0;
}

static size_t digits_of(const char *s, size_t n, char *o)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++)
		if (s[i] >= '0' && s[i] <= '9')
			o[k++] = s[i];
	o[k] = 0;
	return k;
}

static int survives(const char *folded_out, const char *out_digits,
		    const struct anon_textgen_doc *d,
		    const struct anon_textgen_span *sp)
{
	const char *txt = (const char *)d->text.data + sp->off;
	char f[256], dg[256];

	assert_true(sp->len < 120);
	fold(txt, sp->len, f);
	if (has_token(folded_out, f, sp->cat == ANON_REPORT_AGE))
		return 1;
	if (digits_of(txt, sp->len, dg) >= 8 && strstr(out_digits, dg))
		return 1;
	if (sp->cat == ANON_REPORT_CITY) {
		memcpy(dg, txt, 5);
		dg[5] = 0;
		if (has_token(folded_out, dg, 0))
			return 1;
	}
	return 0;
}

static void evaluate(const struct anon_textgen_doc *d,
		     const struct rf_buf *out, struct tally *t)
{
	char *blank = rf_malloc(out->len + 1), *folded, *dig;
	const char *o = rf_buf_str(out);

	assert_non_null(blank);
	memcpy(blank, o, out->len + 1);
	for (size_t i = 0; i < d->n_sentences; i++) {
		const struct anon_textgen_span *s = &d->sentences[i];
		char sent[512];
		char *p;

		assert_true(s->len < sizeof sent);
		memcpy(sent, d->text.data + s->off, s->len);
		sent[s->len] = 0;
		t->sentences++;
		if (strstr(o, sent))
			t->kept++;
		while ((p = strstr(blank, sent)) != NULL)
			memset(p, ' ', s->len);
	}
	folded = rf_malloc(2 * out->len + 1);
	dig = rf_malloc(out->len + 1);
	assert_non_null(folded);
	assert_non_null(dig);
	fold(blank, out->len, folded);
	digits_of(blank, out->len, dig);
	for (size_t i = 0; i < d->n_spans; i++) {
		const struct anon_textgen_span *sp = &d->spans[i];

		t->planted[sp->cat]++;
		if (!survives(folded, dig, d, sp)) {
			t->caught[sp->cat]++;
		} else if (t->shown < 12) {
			t->shown++;
			print_message("  missed %s: \"%.*s\"\n",
				      anon_report_cat_name(sp->cat),
				      (int)sp->len,
				      (const char *)d->text.data + sp->off);
		}
	}
	rf_free(blank);
	rf_free(folded);
	rf_free(dig);
}

static double now(void)
{
	struct timespec ts;

	/* processor time: the figure does not depend on other processes */
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Scrubs all the reports of the first seed, concatenated, a few times:
 * the best run gives the throughput in MB/s. */
static double throughput(void)
{
	struct anon_textgen g;
	struct anon_textgen_doc d;
	struct anon_report_ctx c;
	struct rf_buf all, out;
	struct rf_err e = {0};
	double best = 1e9, t0;

	anon_textgen_init(&g, gen_seeds[0]);
	anon_textgen_doc_init(&d, 1 << 16);
	rf_buf_init(&all, 1 << 24);
	rf_buf_init(&out, 1 << 25);
	for (int r = 0; r < 4 * REPORTS_PER_SEED; r++) {
		RF_ASSERT_OK_E(anon_textgen_report(&g, &d, &e), &e);
		RF_ASSERT_OK_E(rf_buf_append(&all, d.text.data, d.text.len,
					     &e),
			       &e);
	}
	anon_textgen_ctx(&d, &c);
	for (int k = 0; k < 5; k++) {
		rf_buf_reset(&out);
		t0 = now();
		RF_ASSERT_OK_E(anon_report_scrub(&c, (const char *)all.data,
						 all.len, &out, NULL, &e),
			       &e);
		t0 = now() - t0;
		if (t0 < best)
			best = t0;
	}
	best = (double)all.len / 1e6 / (best > 0 ? best : 1e-9);
	rf_buf_release(&all);
	rf_buf_release(&out);
	anon_textgen_doc_release(&d);
	return best;
}

static void run(struct tally *t, int with_seeds)
{
	struct anon_textgen g;
	struct anon_textgen_doc d;
	struct anon_report_ctx c;
	struct rf_buf out;
	struct rf_err e = {0};

	memset(t, 0, sizeof *t);
	if (!with_seeds)
		t->shown = 12; /* list misses of the main run only */
	anon_textgen_doc_init(&d, 1 << 16);
	rf_buf_init(&out, 1 << 18);
	for (size_t s = 0; s < sizeof gen_seeds / sizeof gen_seeds[0]; s++) {
		anon_textgen_init(&g, gen_seeds[s]);
		for (int r = 0; r < REPORTS_PER_SEED; r++) {
			RF_ASSERT_OK_E(anon_textgen_report(&g, &d, &e), &e);
			anon_textgen_ctx(&d, &c);
			if (!with_seeds) {
				c.n_names = 0;
				c.n_ids = 0;
			}
			rf_buf_reset(&out);
			RF_ASSERT_OK_E(anon_report_scrub(&c,
							 (const char *)
								 d.text.data,
							 d.text.len, &out,
							 NULL, &e),
				       &e);
			t->bytes += d.text.len;
			evaluate(&d, &out, t);
		}
	}
	rf_buf_release_secret(&out);
	anon_textgen_doc_release(&d);
}

static double ratio(size_t a, size_t b)
{
	return b ? 100.0 * (double)a / (double)b : 100.0;
}

static void print_tally(const char *title, const struct tally *t,
			double *recall)
{
	size_t planted = 0, caught = 0;

	for (int k = 0; k < ANON_REPORT_CAT_COUNT; k++) {
		planted += t->planted[k];
		caught += t->caught[k];
	}
	*recall = ratio(caught, planted);
	print_message("%s: recall %.2f %% (%zu/%zu identifiers), clinical "
		      "sentences kept %.2f %% (%zu/%zu)\n",
		      title, *recall, caught, planted,
		      ratio(t->kept, t->sentences), t->kept, t->sentences);
	for (int k = 0; k < ANON_REPORT_CAT_COUNT; k++)
		print_message("  %-8s %7.2f %% (%zu/%zu)\n",
			      anon_report_cat_name((enum anon_report_cat)k),
			      ratio(t->caught[k], t->planted[k]),
			      t->caught[k], t->planted[k]);
}

static void test_eval(void **state)
{
	struct tally t, bare;
	double recall, recall_bare;
	size_t reports = REPORTS_PER_SEED *
			 (sizeof gen_seeds / sizeof gen_seeds[0]);

	(void)state;
	run(&t, 1);
	print_message("%zu reports, %.1f MB\n", reports,
		      (double)t.bytes / 1e6);
	print_tally("with DICOM seeds", &t, &recall);
	print_message("throughput: %.1f MB/s (best of 5 over %d reports)\n",
		      throughput(), 4 * REPORTS_PER_SEED);
	run(&bare, 0);
	print_tally("without seeds (information)", &bare, &recall_bare);
	assert_true(reports >= 1000);
	assert_true(recall >= 99.0);
	assert_true(ratio(t.kept, t.sentences) >= 95.0);
	for (int k = 0; k < ANON_REPORT_CAT_COUNT; k++)
		assert_true(t.planted[k] > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_eval),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
