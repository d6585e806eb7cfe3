/*
 * test_metrics.c - trn_metrics against scikit-learn.
 *
 * data/metrics_ref.h holds score/label sets and sklearn's loss, accuracy,
 * balanced accuracy, ROC AUC and confusion matrix for them; it is made by
 * tests/ref/metrics_ref.py (ctest trainers_metrics_fixture checks that it
 * still is).
 */
#include <math.h>

#include "rf_test.h"
#include "trn_metrics.h"

#include "data/metrics_ref.h"

#define NREFS (sizeof metrics_refs / sizeof metrics_refs[0])

static void assert_close(double got, double want, const char *what,
			 const char *name)
{
	if (isnan(want)) {
		if (!isnan(got))
			fail_msg("%s of %s: %.17g, want NaN", what, name, got);
		return;
	}
	if (!(fabs(got - want) <= 1e-12))
		fail_msg("%s of %s: %.17g, want %.17g", what, name, got, want);
}

static void check_ref(const struct trn_metrics_result *r,
		      const struct metrics_ref *ref)
{
	size_t i;

	assert_int_equal(r->samples, ref->samples);
	assert_int_equal(r->classes, ref->k);
	assert_close(r->loss, ref->loss, "loss", ref->name);
	assert_close(r->accuracy, ref->accuracy, "accuracy", ref->name);
	assert_close(r->balanced_accuracy, ref->balanced_accuracy,
		     "balanced accuracy", ref->name);
	assert_close(r->auc, ref->auc, "auc", ref->name);
	for (i = 0; i < (size_t)ref->k * ref->k; i++)
		if (r->confusion[i] != ref->confusion[i])
			fail_msg("confusion[%zu][%zu] of %s: %llu, want %llu",
				 i / ref->k, i % ref->k, ref->name,
				 (unsigned long long)r->confusion[i],
				 (unsigned long long)ref->confusion[i]);
}

static void test_sklearn(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < NREFS; i++) {
		const struct metrics_ref *ref = &metrics_refs[i];
		struct trn_metrics *m = NULL;
		struct trn_metrics_result r;
		struct rf_err e = {0};

		RF_ASSERT_OK_E(trn_metrics_create(ref->k, &m, &e), &e);
		RF_ASSERT_OK_E(trn_metrics_add(m, ref->probs, ref->labels,
					       ref->n, ref->loss_sum, &e), &e);
		RF_ASSERT_OK_E(trn_metrics_compute(m, &r, &e), &e);
		check_ref(&r, ref);
		/* reset, then the same again */
		trn_metrics_reset(m);
		RF_ASSERT_OK_E(trn_metrics_compute(m, &r, &e), &e);
		assert_int_equal(r.samples, 0);
		assert_true(isnan(r.accuracy) && isnan(r.auc));
		RF_ASSERT_OK_E(trn_metrics_add(m, ref->probs, ref->labels,
					       ref->n, ref->loss_sum, &e), &e);
		RF_ASSERT_OK_E(trn_metrics_compute(m, &r, &e), &e);
		check_ref(&r, ref);
		trn_metrics_destroy(m);
	}
}

/* Sum of the cross-entropies of rows [a, b) of ref. */
static double loss_of(const struct metrics_ref *ref, size_t a, size_t b)
{
	double s = 0.0;

	for (; a < b; a++)
		if (ref->labels[a] >= 0)
			s -= log((double)ref->probs[a * ref->k +
						    ref->labels[a]]);
	return s;
}

static void test_batches(void **state)
{
	static const size_t sizes[] = {1, 7, 32, 1000};
	size_t i, j, s;

	(void)state;
	for (i = 0; i < NREFS; i++) {
		const struct metrics_ref *ref = &metrics_refs[i];
		struct trn_metrics *one = NULL, *m = NULL;
		struct trn_metrics_result r1, r;

		RF_ASSERT_OK(trn_metrics_create(ref->k, &one, NULL));
		RF_ASSERT_OK(trn_metrics_add(one, ref->probs, ref->labels,
					     ref->n, loss_of(ref, 0, ref->n),
					     NULL));
		RF_ASSERT_OK(trn_metrics_compute(one, &r1, NULL));
		assert_close(r1.loss, ref->loss, "C loss", ref->name);
		for (s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
			RF_ASSERT_OK(trn_metrics_create(ref->k, &m, NULL));
			for (j = 0; j < ref->n; j += sizes[s]) {
				size_t b = j + sizes[s] < ref->n ?
					   j + sizes[s] : ref->n;

				RF_ASSERT_OK(trn_metrics_add(
					m, ref->probs + j * ref->k,
					ref->labels + j, b - j,
					loss_of(ref, j, b), NULL));
			}
			RF_ASSERT_OK(trn_metrics_compute(m, &r, NULL));
			assert_int_equal(r.samples, r1.samples);
			assert_close(r.loss, r1.loss, "batched loss",
				     ref->name);
			assert_true(r.accuracy == r1.accuracy);
			assert_true(r.balanced_accuracy ==
				    r1.balanced_accuracy);
			assert_true(r.auc == r1.auc ||
				    (isnan(r.auc) && isnan(r1.auc)));
			assert_memory_equal(r.confusion, r1.confusion,
					    ref->k * ref->k *
					    sizeof(uint64_t));
			trn_metrics_destroy(m);
		}
		trn_metrics_destroy(one);
	}
}

static void test_undefined_auc(void **state)
{
	/* three classes, every sample of class 2: no class has both
	 * positives and negatives */
	static const float p[] = {0.2f, 0.3f, 0.5f, 0.1f, 0.1f, 0.8f,
				  0.6f, 0.3f, 0.1f};
	static const int32_t y[] = {2, 2, 2};
	/* binary, only negatives */
	static const float q[] = {0.9f, 0.1f, 0.4f, 0.6f};
	static const int32_t z[] = {0, 0};
	/* binary: half the pairs ordered, then all tied */
	static const float s[] = {0.9f, 0.1f, 0.2f, 0.8f, 0.6f, 0.4f};
	static const int32_t t[] = {1, 1, 0};
	static const float u[] = {0.5f, 0.5f, 0.5f, 0.5f};
	static const int32_t v[] = {0, 1};
	struct trn_metrics *m = NULL;
	struct trn_metrics_result r;

	(void)state;
	RF_ASSERT_OK(trn_metrics_create(3, &m, NULL));
	RF_ASSERT_OK(trn_metrics_add(m, p, y, 3, 0.0, NULL));
	RF_ASSERT_OK(trn_metrics_compute(m, &r, NULL));
	assert_true(isnan(r.auc));
	assert_true(r.accuracy == 2.0 / 3.0);
	assert_true(r.balanced_accuracy == 2.0 / 3.0);
	trn_metrics_destroy(m);

	RF_ASSERT_OK(trn_metrics_create(2, &m, NULL));
	RF_ASSERT_OK(trn_metrics_add(m, q, z, 2, 0.0, NULL));
	RF_ASSERT_OK(trn_metrics_compute(m, &r, NULL));
	assert_true(isnan(r.auc));
	trn_metrics_reset(m);
	RF_ASSERT_OK(trn_metrics_add(m, s, t, 3, 0.0, NULL));
	RF_ASSERT_OK(trn_metrics_compute(m, &r, NULL));
	assert_true(r.auc == 0.5); /* 0.1 < 0.4 < 0.8: one pair of two */
	trn_metrics_reset(m);
	RF_ASSERT_OK(trn_metrics_add(m, u, v, 2, 0.0, NULL));
	RF_ASSERT_OK(trn_metrics_compute(m, &r, NULL));
	assert_true(r.auc == 0.5);
	/* first maximum on ties: both predicted class 0 */
	assert_int_equal(r.confusion[0], 1);
	assert_int_equal(r.confusion[2], 1);
	trn_metrics_destroy(m);
}

static void test_errors(void **state)
{
	static const float p[] = {0.2f, 0.8f, 0.6f, 0.4f};
	static const int32_t bad[] = {1, 2};
	static const int32_t good[] = {1, -1};
	struct trn_metrics *m = NULL;
	struct trn_metrics_result r;
	struct rf_err e = {0};

	(void)state;
	RF_ASSERT_RC(trn_metrics_create(1, &m, &e), RF_EINVAL);
	assert_null(m);
	RF_ASSERT_RC(trn_metrics_create(TRN_METRICS_CLASSES_MAX + 1, &m, &e),
		     RF_EINVAL);
	RF_ASSERT_OK(trn_metrics_create(2, &m, NULL));
	RF_ASSERT_RC(trn_metrics_add(m, p, bad, 2, 1.0, &e), RF_EINVAL);
	assert_non_null(strstr(e.msg, "label 2"));
	/* nothing was added */
	RF_ASSERT_OK(trn_metrics_compute(m, &r, NULL));
	assert_int_equal(r.samples, 0);
	RF_ASSERT_OK(trn_metrics_add(m, p, good, 2, 0.25, NULL));
	RF_ASSERT_OK(trn_metrics_compute(m, &r, NULL));
	assert_int_equal(r.samples, 1);
	assert_true(r.loss == 0.25);
	trn_metrics_destroy(m);
	trn_metrics_destroy(NULL);
}

static void test_oom(void **state)
{
	const struct metrics_ref *ref = &metrics_refs[1];
	struct trn_metrics *m = NULL;
	struct trn_metrics_result r;
	enum rf_rc rc;
	size_t j;

	(void)state;
	RF_TEST_OOM_LOOP(rc, {
		m = NULL;
		rc = trn_metrics_create(ref->k, &m, NULL);
		for (j = 0; !rc && j < ref->n; j += 50)
			rc = trn_metrics_add(m, ref->probs + j * ref->k,
					     ref->labels + j,
					     ref->n - j < 50 ? ref->n - j : 50,
					     loss_of(ref, j, j + 50 < ref->n ?
						     j + 50 : ref->n), NULL);
		if (!rc)
			rc = trn_metrics_compute(m, &r, NULL);
		if (rc)
			trn_metrics_destroy(m);
	}, {
		check_ref(&r, ref);
		trn_metrics_destroy(m);
	});
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sklearn),
		cmocka_unit_test(test_batches),
		cmocka_unit_test(test_undefined_auc),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_oom),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
