/*
 * trn_metrics.h - classification metrics accumulated batch by batch: mean
 * loss, accuracy, balanced accuracy (mean per-class recall over the
 * classes present), ROC AUC (binary: on the probability of class 1;
 * K > 2: the unweighted mean of the one-vs-rest AUCs of the classes that
 * have both positives and negatives, as sklearn's roc_auc_score with
 * multi_class="ovr", average="macro"), and the confusion matrix.
 *
 * AUC is exact: the Mann-Whitney statistic over every stored score, ties
 * counted one half (average ranks), so it equals sklearn's value. It is
 * undefined (NaN) when a class has no positive or no negative example.
 *
 * Memory: K floats per sample are kept until trn_metrics_reset (4 MB per
 * 100,000 binary samples).
 *
 * Thread safety: one thread per struct trn_metrics.
 *
 * Must not use: oneDNN, HDF5; only libc and common/.
 */
#ifndef TRN_METRICS_H
#define TRN_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "rf_err.h"

/* Largest number of classes. */
#define TRN_METRICS_CLASSES_MAX 1024

struct trn_metrics;

struct trn_metrics_result {
	size_t samples;
	double loss;          /* mean of the losses added, per sample */
	double accuracy;
	double balanced_accuracy;
	double auc;           /* NaN when undefined */
	unsigned classes;
	/* classes*classes counts, row = true class, column = predicted
	 * (argmax, first on ties); owned by the struct trn_metrics. */
	const uint64_t *confusion;
};

enum rf_rc trn_metrics_create(unsigned classes, struct trn_metrics **out,
			      struct rf_err *e) RF_WUR;

/* Adds n samples: probs [n, K] (rows need not sum to 1: only the order
 * matters), labels [n] (negative labels are skipped), and the sum of their
 * losses. RF_EINVAL for a label >= K (nothing of the call is added);
 * RF_ETOOBIG past 2^32 samples; RF_ENOMEM. On failure m is unchanged. */
enum rf_rc trn_metrics_add(struct trn_metrics *m, const float *probs,
			   const int32_t *labels, size_t n, double loss_sum,
			   struct rf_err *e) RF_WUR;

/* Computes the metrics of everything added since creation or the last
 * reset. RF_ENOMEM (ranking needs n floats of scratch). */
enum rf_rc trn_metrics_compute(struct trn_metrics *m,
			       struct trn_metrics_result *out,
			       struct rf_err *e) RF_WUR;

void trn_metrics_reset(struct trn_metrics *m);

void trn_metrics_destroy(struct trn_metrics *m);

#endif
