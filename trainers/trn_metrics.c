/*
 * trn_metrics.c - classification metrics (trn_metrics.h).
 *
 * Samples are stored as they come (K floats and a label each); the
 * confusion matrix is kept up to date; everything else is computed by
 * trn_metrics_compute. AUC per class: the scores of all samples are
 * sorted once (O(n log n)), tied scores get the mean of their ranks, and
 * AUC = (R+ - P(P+1)/2) / (P N) with R+ the rank sum of the P positives
 * and N the negatives (Mann-Whitney U). NaN scores rank below every
 * number, tied with each other.
 */
#include "trn_metrics.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "rf_alloc.h"

/* Largest number of samples kept, so that n * K floats stay addressable
 * and ranks stay exact in a double. */
#define SAMPLES_MAX ((size_t)1 << 32)

struct trn_metrics {
	unsigned k;
	size_t n, cap;          /* samples stored, room for */
	float *probs;           /* [cap][k] */
	int32_t *labels;        /* [cap] */
	double loss_sum;
	uint64_t *confusion;    /* [k][k] */
};

struct scored {
	float s;
	int pos;
};

enum rf_rc trn_metrics_create(unsigned classes, struct trn_metrics **out,
			      struct rf_err *e)
{
	struct trn_metrics *m;

	if (!out)
		return rf_err_set(e, RF_EINVAL, "no output for "
				  "trn_metrics_create");
	*out = NULL;
	if (classes < 2 || classes > TRN_METRICS_CLASSES_MAX)
		return rf_err_set(e, RF_EINVAL, "%u classes is not in 2..%d",
				  classes, TRN_METRICS_CLASSES_MAX);
	m = rf_calloc(1, sizeof *m);
	if (!m)
		return rf_err_set(e, RF_ENOMEM, "out of memory for metrics");
	m->k = classes;
	m->confusion = rf_calloc((size_t)classes * classes,
				 sizeof *m->confusion);
	if (!m->confusion) {
		rf_free(m);
		return rf_err_set(e, RF_ENOMEM, "out of memory for metrics");
	}
	*out = m;
	return RF_OK;
}

static unsigned argmax(const float *p, unsigned k)
{
	unsigned c, best = 0;

	for (c = 1; c < k; c++)
		if (p[c] > p[best])
			best = c;
	return best;
}

/* Makes room for `more` samples; on failure m is unchanged. */
static enum rf_rc reserve(struct trn_metrics *m, size_t more,
			  struct rf_err *e)
{
	size_t want, cap;
	float *p;
	int32_t *l;

	if (more > SAMPLES_MAX - m->n)
		return rf_err_set(e, RF_ETOOBIG, "metrics over %zu samples",
				  SAMPLES_MAX);
	want = m->n + more;
	if (want <= m->cap)
		return RF_OK;
	cap = m->cap ? m->cap : 256;
	while (cap < want)
		cap *= 2;
	if (cap > SAMPLES_MAX)
		cap = SAMPLES_MAX;
	if (cap > (size_t)-1 / sizeof(float) / m->k)
		return rf_err_set(e, RF_ENOMEM, "out of memory for metrics");
	p = rf_realloc(m->probs, cap * m->k * sizeof(float));
	if (!p)
		return rf_err_set(e, RF_ENOMEM, "out of memory for metrics");
	m->probs = p;
	l = rf_realloc(m->labels, cap * sizeof *l);
	if (!l)
		return rf_err_set(e, RF_ENOMEM, "out of memory for metrics");
	m->labels = l;
	m->cap = cap;
	return RF_OK;
}

enum rf_rc trn_metrics_add(struct trn_metrics *m, const float *probs,
			   const int32_t *labels, size_t n, double loss_sum,
			   struct rf_err *e)
{
	size_t i, keep = 0;
	enum rf_rc rc;

	if (!m || (n && (!probs || !labels)))
		return rf_err_set(e, RF_EINVAL, "no metrics or samples");
	for (i = 0; i < n; i++) {
		if (labels[i] >= (int32_t)m->k)
			return rf_err_set(e, RF_EINVAL, "sample %zu has label "
					  "%d, not below %u classes", i,
					  (int)labels[i], m->k);
		keep += labels[i] >= 0;
	}
	if ((rc = reserve(m, keep, e)))
		return rc;
	for (i = 0; i < n; i++) {
		const float *p = probs + i * m->k;

		if (labels[i] < 0)
			continue;
		memcpy(m->probs + m->n * m->k, p, m->k * sizeof(float));
		m->labels[m->n++] = labels[i];
		m->confusion[(size_t)labels[i] * m->k + argmax(p, m->k)]++;
	}
	m->loss_sum += loss_sum;
	return RF_OK;
}

static int scored_cmp(const void *a, const void *b)
{
	float x = ((const struct scored *)a)->s;
	float y = ((const struct scored *)b)->s;
	bool nx = isnan(x), ny = isnan(y);

	if (nx || ny)
		return ny - nx;
	return (x > y) - (x < y);
}

/* One-vs-rest AUC of class c on column col; NaN without positives or
 * negatives. */
static double auc_one(const struct trn_metrics *m, struct scored *sc,
		      unsigned c, unsigned col)
{
	double rank_pos = 0.0, np = 0.0, nn;
	size_t i, j, t;

	for (i = 0; i < m->n; i++) {
		sc[i].s = m->probs[i * m->k + col];
		sc[i].pos = m->labels[i] == (int32_t)c;
		np += sc[i].pos;
	}
	nn = (double)m->n - np;
	if (np == 0.0 || nn == 0.0)
		return NAN;
	qsort(sc, m->n, sizeof *sc, scored_cmp);
	for (i = 0; i < m->n; i = j) {
		size_t pos = 0;
		double avg;

		for (j = i + 1; j < m->n && !scored_cmp(&sc[i], &sc[j]); j++)
			;
		for (t = i; t < j; t++)
			pos += (size_t)sc[t].pos;
		/* ranks i+1 .. j, their mean (i + 1 + j) / 2 */
		avg = ((double)i + 1.0 + (double)j) / 2.0;
		rank_pos += avg * (double)pos;
	}
	return (rank_pos - np * (np + 1.0) / 2.0) / (np * nn);
}

enum rf_rc trn_metrics_compute(struct trn_metrics *m,
			       struct trn_metrics_result *out,
			       struct rf_err *e)
{
	struct scored *sc = NULL;
	double recall = 0.0, auc = 0.0;
	uint64_t correct = 0, row;
	unsigned c, j, present = 0, defined = 0;

	if (!m || !out)
		return rf_err_set(e, RF_EINVAL, "no metrics or result");
	memset(out, 0, sizeof *out);
	out->samples = m->n;
	out->classes = m->k;
	out->confusion = m->confusion;
	out->loss = out->accuracy = out->balanced_accuracy = NAN;
	out->auc = NAN;
	if (m->n == 0)
		return RF_OK;
	out->loss = m->loss_sum / (double)m->n;
	for (c = 0; c < m->k; c++) {
		const uint64_t *r = m->confusion + (size_t)c * m->k;

		for (j = 0, row = 0; j < m->k; j++)
			row += r[j];
		correct += r[c];
		if (row) {
			recall += (double)r[c] / (double)row;
			present++;
		}
	}
	out->accuracy = (double)correct / (double)m->n;
	out->balanced_accuracy = recall / present;

	sc = rf_mallocarray(m->n, sizeof *sc);
	if (!sc)
		return rf_err_set(e, RF_ENOMEM, "out of memory ranking %zu "
				  "scores", m->n);
	if (m->k == 2) {
		out->auc = auc_one(m, sc, 1, 1);
	} else {
		for (c = 0; c < m->k; c++) {
			double a = auc_one(m, sc, c, c);

			if (!isnan(a)) {
				auc += a;
				defined++;
			}
		}
		out->auc = defined ? auc / defined : NAN;
	}
	rf_free(sc);
	return RF_OK;
}

void trn_metrics_reset(struct trn_metrics *m)
{
	if (!m)
		return;
	m->n = 0;
	m->loss_sum = 0.0;
	memset(m->confusion, 0, (size_t)m->k * m->k * sizeof *m->confusion);
}

void trn_metrics_destroy(struct trn_metrics *m)
{
	if (!m)
		return;
	rf_free(m->probs);
	rf_free(m->labels);
	rf_free(m->confusion);
	rf_free(m);
}
