/* trn_train.c - the local training loop and evaluation (trn_train.h). */
#include "trn_train.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "rf_alloc.h"
#include "rf_crypto.h"
#include "trn.h"
#include "trn_ckpt.h"
#include "trn_data.h"
#include "trn_metrics.h"

void trn_train_config_init(struct trn_train_config *c)
{
	memset(c, 0, sizeof(*c));
	c->epochs = TRN_TRAIN_EPOCHS;
	c->batch = TRN_TRAIN_BATCH;
	c->optim.kind = TRN_OPTIM_ADAM;
	c->optim.lr = 1e-3f;
	c->optim.weight_decay = 1e-4f;
	c->seed = 1;
	c->val_fraction = TRN_TRAIN_VAL_FRACTION;
	c->shift = 4;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Sum over the real samples of -log p(label), the unweighted validation
 * loss (independent of the class weights the training loss may use). */
static double nll_sum(const float *probs, const int32_t *labels, size_t n,
		      unsigned k)
{
	double s = 0;

	for (size_t i = 0; i < n; i++) {
		double p;

		if (labels[i] < 0)
			continue;
		p = probs[i * k + (size_t)labels[i]];
		s -= log(p > 1e-12 ? p : 1e-12);
	}
	return s;
}

/* Runs net over one side of d (or all of it: validation false with no
 * split), adding every batch to m. */
static enum rf_rc evaluate(struct trn_net *net, struct trn_data *d,
			   bool validation, unsigned batch, uint64_t seed,
			   struct trn_metrics *m, struct rf_err *e)
{
	struct trn_batcher_config bc = {validation, batch, false, false, 0,
					seed, 0};
	struct trn_batcher *b = NULL;
	struct trn_batch bt;
	unsigned k = trn_net_classes(net);
	enum rf_rc rc;

	trn_metrics_reset(m);
	rc = trn_batcher_create(d, &bc, &b, e);
	if (rc == RF_OK)
		rc = trn_batcher_start(b, 0, e);
	while (rc == RF_OK) {
		float loss;

		rc = trn_batcher_next(b, &bt, e);
		if (rc == RF_ENOTFOUND) {
			rc = RF_OK;
			break;
		}
		if (rc == RF_OK)
			rc = trn_net_forward(net, bt.images, bt.labels, NULL,
					     false, 0, &loss, e);
		if (rc == RF_OK)
			rc = trn_metrics_add(m, trn_net_probs(net), bt.labels,
					     bt.count,
					     nll_sum(trn_net_probs(net),
						     bt.labels, bt.count, k),
					     e);
	}
	trn_batcher_destroy(b);
	return rc;
}

static enum rf_rc check_config(const struct trn_train_config *c,
			       struct rf_err *e)
{
	if (!c->data || !c->model || !c->out)
		return rf_err_set(e, RF_EINVAL,
				  "training needs a dataset, a model name and "
				  "an output path");
	if (c->epochs < 1 || c->epochs > TRN_TRAIN_EPOCHS_MAX)
		return rf_err_set(e, RF_EINVAL, "epochs must be 1..%u, not %u",
				  TRN_TRAIN_EPOCHS_MAX, c->epochs);
	if (c->batch < 1 || c->batch > TRN_TRAIN_BATCH_MAX)
		return rf_err_set(e, RF_EINVAL, "batch must be 1..%u, not %u",
				  TRN_TRAIN_BATCH_MAX, c->batch);
	if (!(c->val_fraction >= 0 && c->val_fraction < 1))
		return rf_err_set(e, RF_EINVAL,
				  "validation fraction must be in [0, 1), "
				  "not %g", c->val_fraction);
	if (!(c->dropout >= 0 && c->dropout < 1))
		return rf_err_set(e, RF_EINVAL,
				  "dropout must be in [0, 1), not %g",
				  (double)c->dropout);
	return RF_OK;
}

/* Inverse class frequency over the training side, normalised so that the
 * weights average 1 over the samples: w_c = n / (K * n_c), 1 for a class
 * absent from it. */
static enum rf_rc class_weights(const struct trn_data *d, unsigned classes,
				float *w, struct rf_err *e)
{
	size_t *count, total = 0;

	count = rf_calloc(classes, sizeof(*count));
	if (!count)
		return rf_err_set(e, RF_ENOMEM, "out of memory");
	trn_data_class_counts(d, false, count, classes);
	for (unsigned i = 0; i < classes; i++)
		total += count[i];
	for (unsigned i = 0; i < classes; i++)
		w[i] = count[i] ? (float)((double)total /
					  ((double)classes * (double)count[i]))
				: 1.0f;
	rf_free(count);
	return RF_OK;
}

static void report_from(struct trn_epoch_report *r,
			const struct trn_metrics_result *mr, bool have_val)
{
	r->val_loss = have_val ? mr->loss : NAN;
	r->val_acc = have_val ? mr->accuracy : NAN;
	r->val_bal_acc = have_val ? mr->balanced_accuracy : NAN;
	r->val_auc = have_val ? mr->auc : NAN;
	r->confusion = have_val ? mr->confusion : NULL;
}

enum rf_rc trn_train_run(const struct trn_train_config *c,
			 struct trn_train_result *r, struct rf_err *e)
{
	struct trn_data *d = NULL;
	struct trn_data_info di;
	struct trn_net *net = NULL;
	struct trn_optim *opt = NULL;
	struct trn_batcher *b = NULL;
	struct trn_metrics *m = NULL;
	struct trn_param *params;
	struct trn_model_spec spec;
	struct trn_ckpt_meta meta;
	struct trn_metrics_result mr;
	float *weights = NULL;
	const struct trn_model_vtable *vt;
	uint8_t hash[RF_SHA256_LEN];
	double flops_total = 0, time_total = 0;
	uint64_t step = 0;
	size_t np = 0;
	enum rf_rc rc;

	memset(r, 0, sizeof(*r));
	rc = check_config(c, e);
	if (rc)
		return rc;
	vt = trn_model_find(c->model);
	if (!vt)
		return rf_err_set(e, RF_ENOTFOUND,
				  "unknown model '%s' (radfed train --help "
				  "lists the models)", c->model);
	rc = trn_data_open(c->data, &d, e);
	if (rc)
		return rc;
	trn_data_info(d, &di);
	rc = trn_data_split(d, c->val_fraction, c->seed, e);
	if (rc)
		goto out;
	spec.channels = di.channels;
	spec.height = di.height;
	spec.width = di.width;
	spec.classes = di.classes;
	spec.dropout = c->dropout;
	if (c->balance) {
		weights = rf_mallocarray(di.classes, sizeof(*weights));
		if (!weights) {
			rc = rf_err_set(e, RF_ENOMEM, "out of memory");
			goto out;
		}
		rc = class_weights(d, di.classes, weights, e);
		if (rc)
			goto out;
	}
	rc = trn_model_build(c->model, &spec, c->batch, TRN_LOSS_SOFTMAX_CE,
			     weights, c->seed, &net, e);
	if (rc) {
		rf_err_prefix(e, "model '%s' on '%s'", c->model, c->data);
		goto out;
	}
	params = trn_net_params(net, &np);
	memset(&meta, 0, sizeof(meta));
	snprintf(meta.model, sizeof(meta.model), "%s", vt->name);
	meta.arch_version = vt->arch_version;
	meta.channels = di.channels;
	meta.height = di.height;
	meta.width = di.width;
	meta.classes = di.classes;
	meta.round = c->round;
	if (c->init) {
		rc = trn_ckpt_load(c->init, &meta, params, np, e);
		if (rc)
			goto out;
	}
	rc = trn_optim_create(&c->optim, params, np, &opt, e);
	if (rc == RF_OK && c->optim.prox_mu > 0)
		rc = trn_optim_set_anchor(opt, e);
	if (rc == RF_OK)
		rc = trn_metrics_create(di.classes, &m, e);
	if (rc)
		goto out;
	{
		struct trn_batcher_config bc = {false, c->batch, true,
						c->augment, c->shift, c->seed,
						c->mem_budget};

		rc = trn_batcher_create(d, &bc, &b, e);
		if (rc)
			goto out;
	}
	r->params = trn_flat_count(params, np);
	for (unsigned ep = 1; ep <= c->epochs; ep++) {
		struct trn_epoch_report er;
		struct trn_batch bt;
		size_t done = 0, total = trn_data_count(d, false), imgs = 0;
		double loss_sum = 0, t0;

		memset(&er, 0, sizeof(er));
		rc = trn_batcher_start(b, ep - 1, e);
		if (rc)
			goto out;
		t0 = now_s();
		for (;;) {
			float loss;

			rc = trn_batcher_next(b, &bt, e);
			if (rc == RF_ENOTFOUND)
				break;
			if (rc == RF_OK)
				rc = trn_net_forward(net, bt.images, bt.labels,
						     NULL, true, step, &loss,
						     e);
			if (rc == RF_OK)
				rc = trn_net_backward(net, e);
			if (rc)
				goto out;
			trn_optim_step(opt);
			step++;
			done++;
			imgs += bt.count;
			loss_sum += (double)loss * (double)bt.count;
			if (c->on_step)
				c->on_step(c->ctx, ep, imgs, total, loss);
		}
		er.seconds = now_s() - t0;
		time_total += er.seconds;
		flops_total += 3.0 * trn_net_flops(net) * (double)done;
		er.epoch = ep;
		er.epochs = c->epochs;
		er.train_images = imgs;
		er.loss = imgs ? loss_sum / (double)imgs : NAN;
		er.images_per_s = er.seconds > 0 ?
					  (double)imgs / er.seconds : 0;
		er.classes = di.classes;
		er.val_images = trn_data_count(d, true);
		memset(&mr, 0, sizeof(mr));
		if (er.val_images) {
			rc = evaluate(net, d, true, c->batch, c->seed, m, e);
			if (rc == RF_OK)
				rc = trn_metrics_compute(m, &mr, e);
			if (rc)
				goto out;
		}
		report_from(&er, &mr, er.val_images > 0);
		if (c->on_epoch)
			c->on_epoch(c->ctx, &er);
		r->last = er;
		r->last.confusion = NULL;
	}
	r->gflops = time_total > 0 ? flops_total / time_total * 1e-9 : 0;
	rc = trn_ckpt_save(c->out, &meta, params, np, e);
	if (rc == RF_OK)
		rc = trn_params_hash(params, np, hash, e);
	if (rc == RF_OK)
		rc = rf_hex_encode(hash, sizeof(hash), r->sha256,
				   sizeof(r->sha256), e);
out:
	trn_batcher_destroy(b);
	trn_metrics_destroy(m);
	trn_optim_destroy(opt);
	trn_net_destroy(net);
	trn_data_close(d);
	rf_free(weights);
	return rc;
}

enum rf_rc trn_eval_run(const char *data, const char *model, unsigned batch,
			struct trn_eval_result *out, struct rf_err *e)
{
	struct trn_ckpt_meta meta;
	struct trn_data *d = NULL;
	struct trn_data_info di;
	struct trn_net *net = NULL;
	struct trn_metrics *m = NULL;
	struct trn_metrics_result mr;
	struct trn_model_spec spec;
	struct trn_param *params;
	size_t np;
	enum rf_rc rc;

	memset(out, 0, sizeof(*out));
	if (batch < 1 || batch > TRN_TRAIN_BATCH_MAX)
		return rf_err_set(e, RF_EINVAL, "batch must be 1..%u, not %u",
				  TRN_TRAIN_BATCH_MAX, batch);
	rc = trn_ckpt_read_meta(model, &meta, e);
	if (rc)
		return rc;
	if (meta.classes > TRN_EVAL_CLASSES_MAX)
		return rf_err_set(e, RF_EINVAL,
				  "'%s' has %u classes; evaluation reports at "
				  "most %u", model, meta.classes,
				  TRN_EVAL_CLASSES_MAX);
	rc = trn_data_open(data, &d, e);
	if (rc)
		return rc;
	trn_data_info(d, &di);
	if (di.channels != meta.channels || di.height != meta.height ||
	    di.width != meta.width) {
		rc = rf_err_set(e, RF_EINVAL,
				"'%s' holds %ux%ux%u images but '%s' takes "
				"%ux%ux%u", data, di.channels, di.height,
				di.width, model, meta.channels, meta.height,
				meta.width);
		goto out;
	}
	if (di.classes > meta.classes) {
		rc = rf_err_set(e, RF_EINVAL,
				"'%s' has labels up to %u but '%s' has %u "
				"classes", data, di.classes - 1, model,
				meta.classes);
		goto out;
	}
	rc = trn_data_split(d, 0, 0, e);
	if (rc)
		goto out;
	spec.channels = meta.channels;
	spec.height = meta.height;
	spec.width = meta.width;
	spec.classes = meta.classes;
	spec.dropout = 0;
	rc = trn_model_build(meta.model, &spec, batch, TRN_LOSS_SOFTMAX_CE,
			     NULL, 0, &net, e);
	if (rc) {
		rf_err_prefix(e, "model of '%s'", model);
		goto out;
	}
	params = trn_net_params(net, &np);
	rc = trn_ckpt_load(model, &meta, params, np, e);
	if (rc == RF_OK)
		rc = trn_metrics_create(meta.classes, &m, e);
	if (rc == RF_OK)
		rc = evaluate(net, d, false, batch, 0, m, e);
	if (rc == RF_OK)
		rc = trn_metrics_compute(m, &mr, e);
	if (rc)
		goto out;
	snprintf(out->model, sizeof(out->model), "%s", meta.model);
	out->arch_version = meta.arch_version;
	out->round = meta.round;
	out->images = mr.samples;
	out->loss = mr.loss;
	out->accuracy = mr.accuracy;
	out->balanced_accuracy = mr.balanced_accuracy;
	out->auc = mr.auc;
	out->classes = meta.classes;
	memcpy(out->confusion, mr.confusion,
	       (size_t)meta.classes * meta.classes * sizeof(uint64_t));
out:
	trn_metrics_destroy(m);
	trn_net_destroy(net);
	trn_data_close(d);
	return rc;
}
