/*
 * trn_train.h - the local training loop and evaluation: a site's
 * dataset.h5 (trn_data.h), a registered architecture (trn.h), an optimizer
 * (trn_optim.h), metrics (trn_metrics.h) and model files (trn_ckpt.h) put
 * together. `radfed train` and `radfed eval` are thin wrappers; a
 * federated round (node/) calls trn_train_run with the round's global
 * model as `init` and takes the delta of the result.
 *
 * One epoch: the training side of the patient split (trn_data_split with
 * val_fraction and the seed) in a fresh shuffled order, one optimizer step
 * per batch (a short last batch is padded, its padding ignored by the
 * loss), then the validation side in record order without dropout or
 * augmentation: loss (mean of -log p(label), unweighted), accuracy,
 * balanced accuracy, ROC AUC and the confusion matrix. The model written
 * is the one after the last epoch.
 *
 * Determinism: the seed fixes the initial weights (without init), the
 * split, the order, the augmentation and the dropout masks; the same seed,
 * data and settings give a bit-identical model file on the same machine
 * with the same thread count.
 *
 * Thread safety: HDF5 is not thread-safe; one run per process at a time.
 *
 * Must not use: node/, aggregator/, cli/; HDF5 only through the trainers'
 * modules.
 */
#ifndef TRN_TRAIN_H
#define TRN_TRAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rf_err.h"
#include "trn_optim.h"

/* Defaults of `radfed train`. */
#define TRN_TRAIN_EPOCHS 5
#define TRN_TRAIN_BATCH 32
#define TRN_TRAIN_VAL_FRACTION 0.2
#define TRN_TRAIN_BATCH_MAX 4096
#define TRN_TRAIN_EPOCHS_MAX 100000

/* What one epoch gave (validation figures are NaN without a validation
 * side). */
struct trn_epoch_report {
	unsigned epoch;           /* 1-based */
	unsigned epochs;
	double loss;              /* mean training loss of the epoch */
	double val_loss;
	double val_acc;
	double val_bal_acc;
	double val_auc;
	size_t train_images, val_images;
	double seconds;           /* training part of the epoch */
	double images_per_s;      /* training images per second */
	unsigned classes;
	const uint64_t *confusion; /* classes x classes, validation */
};

struct trn_train_config {
	const char *data;      /* dataset.h5 */
	const char *model;     /* architecture name (trn.h) */
	const char *init;      /* model file to start from, or NULL */
	const char *out;       /* model file to write */
	unsigned epochs;       /* >= 1 */
	unsigned batch;        /* 1..TRN_TRAIN_BATCH_MAX */
	struct trn_optim_config optim;
	uint64_t seed;
	double val_fraction;   /* [0, 1) */
	bool augment;          /* flips and shifts of up to `shift` pixels */
	unsigned shift;
	float dropout;         /* [0, 1) */
	bool balance;          /* class weights = inverse class frequency */
	int64_t round;         /* stored in the model file */
	size_t mem_budget;     /* trn_batcher_config.mem_budget */
	/* optional: after every step (images done of the epoch's total,
	 * the batch loss) and after every epoch */
	void (*on_step)(void *ctx, unsigned epoch, size_t done, size_t total,
			float loss);
	void (*on_epoch)(void *ctx, const struct trn_epoch_report *r);
	void *ctx;
};

/* The figures of a whole run. */
struct trn_train_result {
	struct trn_epoch_report last; /* confusion is NULL here */
	size_t params;                /* learnable floats */
	double gflops;                /* forward+backward GFLOP/s, mean */
	char sha256[65];              /* hash of the model written (hex) */
};

/* Sets the defaults above (Adam, lr 1e-3, weight decay 1e-4, seed 1, no
 * augmentation, dropout 0, round 0). */
void trn_train_config_init(struct trn_train_config *c);

/*
 * Trains and writes c->out (atomically: a failed run leaves no file).
 * RF_EINVAL names the bad setting; errors of the modules otherwise. A
 * dataset whose image shape the architecture refuses gives RF_EINVAL with
 * the architecture's reason. With init, the file must match the
 * architecture, input shape and classes (trn_ckpt_load).
 */
enum rf_rc trn_train_run(const struct trn_train_config *c,
			 struct trn_train_result *r, struct rf_err *e) RF_WUR;

/* What trn_eval_run measured. confusion points into out itself. */
struct trn_eval_result {
	char model[32];
	int64_t arch_version, round;
	size_t images;
	double loss, accuracy, balanced_accuracy, auc;
	unsigned classes;
	uint64_t confusion[16 * 16]; /* first classes*classes used */
};

/* Largest class count trn_eval_run reports a confusion matrix for. */
#define TRN_EVAL_CLASSES_MAX 16

/*
 * Evaluates the model file `model` on every labelled record of `data`
 * (both sides of any split). RF_EINVAL when the data's image shape or
 * labels do not fit the model (a label >= its classes), or more than
 * TRN_EVAL_CLASSES_MAX classes.
 */
enum rf_rc trn_eval_run(const char *data, const char *model, unsigned batch,
			struct trn_eval_result *out, struct rf_err *e) RF_WUR;

#endif
