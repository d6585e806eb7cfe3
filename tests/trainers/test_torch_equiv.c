/*
 * test_torch_equiv.c - whole-model equivalence with PyTorch.
 *
 * tests/ref/train_ref.py (run here with /usr/bin/python3: PyTorch 1.13,
 * h5py; a missing module fails the test) trains the torch.nn mirrors of
 * both built-in architectures (tests/ref/torch_models.py) for 5 SGD steps
 * (lr 0.01, momentum 0.9, weight decay 1e-4, dropout 0) on 5 batches of 8
 * synthetic 1x64x64 images, from PyTorch's own initial weights, and
 * records the batches, the weights before and after, and the 5 losses.
 * We build the same architectures from the registry, load the initial
 * weights by parameter path, run the same 5 steps with trn_optim's SGD and
 * require every loss within 1e-4 (relative) of PyTorch's, the final
 * weights close to PyTorch's, and the trained model's logits in evaluation
 * mode on the first batch close to PyTorch's.
 */
#include "rf_test.h"

#include <math.h>

#include "rf_tensor.h"
#include "trn.h"
#include "trn_optim.h"

#define STEPS 5
#define BATCH 8
#define SIDE 64
#define IMG (SIDE * SIDE)
#define LOSS_RTOL 1e-4
/* final weights: |ours - torch| <= W_RTOL * max|torch| of the tensor +
 * W_ATOL; the figures are printed */
#define W_RTOL 1e-4
#define W_ATOL 1e-6
/* evaluation logits of the trained models: |ours - torch| <= LOGIT_TOL *
 * (1 + |torch|) */
#define LOGIT_TOL 1e-4

static char ref_path[600];

static int make_reference(void **state)
{
	const char *dir = rf_test_tmpdir("torch_equiv");
	int st;

	(void)state;
	snprintf(ref_path, sizeof ref_path, "%s/ref.h5", dir);
	st = rf_sh("/usr/bin/python3 '%s/tests/ref/train_ref.py' '%s' "
		   ">'%s/train_ref.log' 2>&1",
		   RF_TEST_SRCDIR, ref_path, dir);
	if (st != 0) {
		rf_sh("cat '%s/train_ref.log' >&2", dir);
		fail_msg("tests/ref/train_ref.py failed (%d): it needs "
			 "/usr/bin/python3 with torch and h5py "
			 "(python3-torch, python3-h5py)", st);
	}
	return 0;
}

/* Every dataset under /<model>/init must be a parameter of the net: counts
 * them. */
static enum rf_rc count_ds(void *ctx, const char *path,
			   const struct rf_tensor_info *ti, struct rf_err *e)
{
	(void)path;
	(void)ti;
	(void)e;
	++*(size_t *)ctx;
	return RF_OK;
}

/* Reads /<model>/<which>/<param path> into buf (p->count floats), checking
 * its shape against the parameter's. */
static void read_param(struct rf_h5 *h, const char *model, const char *which,
		       const struct trn_param *p, float *buf)
{
	struct rf_tensor_info ti;
	struct rf_err e = {0};
	char name[256];

	snprintf(name, sizeof name, "/%s/%s/%s", model, which, p->path);
	RF_ASSERT_OK_E(rf_h5_read(h, name, RF_DTYPE_F32, buf, p->count, &ti,
				  &e),
		       &e);
	if (ti.rank != p->rank)
		fail_msg("'%s': rank %u in PyTorch, %u here", name, ti.rank,
			 p->rank);
	for (unsigned d = 0; d < p->rank; d++)
		if (ti.shape[d] != p->shape[d])
			fail_msg("'%s': dimension %u is %llu in PyTorch, %llu "
				 "here",
				 name, d, (unsigned long long)ti.shape[d],
				 (unsigned long long)p->shape[d]);
	assert_int_equal(rf_tensor_info_count(&ti), p->count);
}

static void run_model(const char *model)
{
	struct trn_model_spec spec = {1, SIDE, SIDE, 2, 0};
	struct trn_optim_config oc = {0};
	struct trn_optim *opt = NULL;
	struct trn_net *n = NULL;
	struct trn_param *params;
	struct rf_h5 *h = NULL;
	struct rf_err e = {0};
	float *x = NULL, *ref = NULL, ref_loss[STEPS], ref_logits[BATCH * 2];
	const float *logits;
	float loss;
	int32_t y[STEPS * BATCH];
	size_t np, nds = 0, total = 0;
	double worst = 0, worst_loss = 0, worst_logit = 0;
	const char *worst_path = "";
	char group[64];

	RF_ASSERT_OK_E(rf_h5_open(ref_path, RF_H5_RDONLY, &h, &e), &e);
	x = rf_malloc(sizeof(float) * STEPS * BATCH * IMG);
	assert_non_null(x);
	RF_ASSERT_OK_E(rf_h5_read(h, "/x", RF_DTYPE_F32, x,
				  (size_t)STEPS * BATCH * IMG, NULL, &e),
		       &e);
	RF_ASSERT_OK_E(rf_h5_read(h, "/y", RF_DTYPE_I32, y, STEPS * BATCH,
				  NULL, &e),
		       &e);
	snprintf(group, sizeof group, "/%s/loss", model);
	RF_ASSERT_OK_E(rf_h5_read(h, group, RF_DTYPE_F32, ref_loss, STEPS,
				  NULL, &e),
		       &e);

	RF_ASSERT_OK_E(trn_model_build(model, &spec, BATCH,
				       TRN_LOSS_SOFTMAX_CE, NULL, 99, &n, &e),
		       &e);
	params = trn_net_params(n, &np);
	assert_non_null(params);

	/* the mapping is 1:1: as many tensors in PyTorch's state_dict as
	 * parameters here, and each found by its path */
	snprintf(group, sizeof group, "/%s/init", model);
	RF_ASSERT_OK_E(rf_h5_list(h, group, count_ds, &nds, &e), &e);
	assert_int_equal(nds, np);
	for (size_t i = 0; i < np; i++) {
		read_param(h, model, "init", &params[i], params[i].w);
		total += params[i].count;
	}

	oc.kind = TRN_OPTIM_SGD;
	oc.lr = 0.01f;
	oc.momentum = 0.9f;
	oc.weight_decay = 1e-4f;
	RF_ASSERT_OK_E(trn_optim_create(&oc, params, np, &opt, &e), &e);

	for (unsigned s = 0; s < STEPS; s++) {
		double rel;

		RF_ASSERT_OK_E(trn_net_forward(n, x + (size_t)s * BATCH * IMG,
					       y + s * BATCH, NULL, true, s,
					       &loss, &e),
			       &e);
		rel = fabs((double)loss - ref_loss[s]) / fabs(ref_loss[s]);
		print_message("%s step %u: loss %.7f, PyTorch %.7f, "
			      "relative difference %.2e\n",
			      model, s + 1, (double)loss, (double)ref_loss[s],
			      rel);
		if (rel > worst_loss)
			worst_loss = rel;
		if (!(rel <= LOSS_RTOL))
			fail_msg("%s step %u: loss %.7f, PyTorch %.7f", model,
				 s + 1, (double)loss, (double)ref_loss[s]);
		RF_ASSERT_OK_E(trn_net_backward(n, &e), &e);
		trn_optim_step(opt);
	}

	/* final weights */
	for (size_t i = 0; i < np; i++) {
		const struct trn_param *p = &params[i];
		double amax = 0, dmax = 0;

		ref = rf_mallocarray(p->count, sizeof(float));
		assert_non_null(ref);
		read_param(h, model, "final", p, ref);
		for (size_t k = 0; k < p->count; k++) {
			double d = fabs((double)p->w[k] - ref[k]);

			if (fabs(ref[k]) > amax)
				amax = fabs(ref[k]);
			if (isnan(d))
				fail_msg("%s '%s': NaN", model, p->path);
			if (d > dmax)
				dmax = d;
		}
		if (!(dmax <= W_RTOL * amax + W_ATOL))
			fail_msg("%s '%s': final weights differ by %.3e, "
				 "largest PyTorch value %.3e",
				 model, p->path, dmax, amax);
		if (amax > 0 && dmax / amax > worst) {
			worst = dmax / amax;
			worst_path = p->path;
		}
		rf_free(ref);
		ref = NULL;
	}
	/* the trained model in evaluation mode on the first batch */
	snprintf(group, sizeof group, "/%s/logits", model);
	RF_ASSERT_OK_E(rf_h5_read(h, group, RF_DTYPE_F32, ref_logits,
				  BATCH * 2, NULL, &e),
		       &e);
	RF_ASSERT_OK_E(trn_net_forward(n, x, y, NULL, false, 0, &loss, &e),
		       &e);
	logits = trn_net_logits(n);
	assert_non_null(logits);
	for (unsigned k = 0; k < BATCH * 2; k++) {
		double d = fabs((double)logits[k] - ref_logits[k]);

		if (!(d <= LOGIT_TOL * (1 + fabs(ref_logits[k]))))
			fail_msg("%s: evaluation logit %u is %.6f, PyTorch "
				 "%.6f",
				 model, k, (double)logits[k],
				 (double)ref_logits[k]);
		if (d > worst_logit)
			worst_logit = d;
	}
	print_message("%s: evaluation logits within %.2e of PyTorch's\n",
		      model, worst_logit);

	print_message("%s: %zu tensors, %zu weights; largest loss difference "
		      "%.2e, largest final weight difference %.2e of the "
		      "tensor's largest value ('%s')\n",
		      model, np, total, worst_loss, worst, worst_path);

	trn_optim_destroy(opt);
	trn_net_destroy(n);
	rf_free(x);
	rf_h5_close(h);
}

static void test_cnn_small(void **state)
{
	(void)state;
	run_model("cnn-small");
}

static void test_resnet_mini(void **state)
{
	(void)state;
	run_model("resnet-mini");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cnn_small),
		cmocka_unit_test(test_resnet_mini),
	};

	return cmocka_run_group_tests(tests, make_reference, NULL);
}
