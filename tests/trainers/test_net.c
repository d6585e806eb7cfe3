/*
 * test_net.c - the oneDNN training engine: forward values against naive
 * double-precision loops written here, gradients of every layer kind and
 * both losses against central finite differences, padded batches,
 * determinism, initialisation, flops, builder errors and allocation
 * failures.
 */
#include "rf_test.h"

#include <math.h>

#include "trn_net.h"

/* ---- helpers ------------------------------------------------------------- */

#define assert_close(a, b, tol) close_((double)(a), (double)(b), (tol), \
				       __FILE__, __LINE__)

static void close_(double a, double b, double tol, const char *file,
		   int line)
{
	if (!(fabs(a - b) <= tol))
		fail_msg("%s:%d: %.9g != %.9g (tolerance %g)", file, line, a, b,
			 tol);
}

static uint64_t rng_state;

static float frand(void)
{
	rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
	return (float)((double)(rng_state >> 40) / 16777216.0) * 2.0f - 1.0f;
}

static float *rand_vec(size_t count, uint64_t seed)
{
	float *v = malloc(count * sizeof *v);

	assert_non_null(v);
	rng_state = seed;
	for (size_t i = 0; i < count; i++)
		v[i] = frand();
	return v;
}

static struct trn_param *param(struct trn_net *n, const char *path)
{
	size_t count;
	struct trn_param *p = trn_net_params(n, &count);

	for (size_t i = 0; i < count; i++)
		if (strcmp(p[i].path, path) == 0)
			return &p[i];
	fail_msg("no parameter '%s'", path);
	return NULL;
}

static float *tensor(struct trn_net *n, int id, size_t *count)
{
	struct rf_err e = {0};
	size_t c = 0;
	float *v;

	assert_int_equal(trn_net_tensor(n, id, NULL, &c, &e), RF_ETOOBIG);
	v = malloc(c * sizeof *v);
	assert_non_null(v);
	RF_ASSERT_OK_E(trn_net_tensor(n, id, v, &c, &e), &e);
	if (count)
		*count = c;
	return v;
}

/* One batch: input, labels or targets. */
struct batch {
	float *x;
	int32_t *labels;
	float *targets;
	uint64_t step;
};

static void batch_make(struct trn_net *n, struct batch *b, bool multi,
		       uint64_t seed)
{
	const struct trn_net_shape *s = trn_net_input_shape(n);
	unsigned k = trn_net_classes(n);

	b->x = rand_vec((size_t)s->batch * s->channels * s->height * s->width,
			seed);
	b->labels = NULL;
	b->targets = NULL;
	b->step = 7;
	if (multi) {
		b->targets = rand_vec((size_t)s->batch * k, seed + 1);
		for (size_t i = 0; i < (size_t)s->batch * k; i++)
			b->targets[i] = b->targets[i] > 0.2f ? 1.0f
				      : b->targets[i] < -0.5f ? 0.0f
				      : 0.5f;
		return;
	}
	b->labels = malloc(s->batch * sizeof *b->labels);
	assert_non_null(b->labels);
	for (unsigned i = 0; i < s->batch; i++)
		b->labels[i] = (int32_t)((i * 7 + seed) % k);
}

static void batch_free(struct batch *b)
{
	free(b->x);
	free(b->labels);
	free(b->targets);
}

static float loss_of(struct trn_net *n, const struct batch *b)
{
	struct rf_err e = {0};
	float loss;

	RF_ASSERT_OK_E(trn_net_forward(n, b->x, b->labels, b->targets, true,
				       b->step, &loss, &e),
		       &e);
	return loss;
}

#define FD_TOL 2e-2 /* relative error on the norm of the sampled gradient */
#define FD_H 1e-3f  /* step: truncation error stays far below FD_TOL */
#define FD_PER 12   /* coordinates sampled per parameter */

/*
 * Central differences on up to `per` coordinates of every parameter:
 * returns |g - fd| / |fd| over all of them (Euclidean norms), with g the
 * analytic gradient scaled by `wrong` (1 for the real check). The tolerance
 * used below, 2e-2, is far from what a wrong gradient gives: test_fd_rejects
 * shows that g scaled by 1.05 (a 5% error), or one coordinate of each
 * parameter with its sign flipped, fails it.
 */
static double fd_error(struct trn_net *n, const struct batch *b, size_t per,
		       float h, float wrong, bool flip)
{
	struct rf_err e = {0};
	struct trn_param *ps;
	size_t np;
	double num = 0, den = 0;

	(void)loss_of(n, b);
	RF_ASSERT_OK_E(trn_net_backward(n, &e), &e);
	ps = trn_net_params(n, &np);
	for (size_t i = 0; i < np; i++) {
		struct trn_param *p = &ps[i];
		float *g = malloc(p->count * sizeof *g);
		size_t stride = p->count > per ? p->count / per : 1;

		assert_non_null(g);
		memcpy(g, p->g, p->count * sizeof *g);
		for (size_t j = 0, c = 0; j < p->count && c < per;
		     j += stride, c++) {
			float w = p->w[j], lp, lm;
			double fd, an = (double)g[j] * wrong;

			if (flip && c == 0)
				an = -an;
			p->w[j] = w + h;
			lp = loss_of(n, b);
			p->w[j] = w - h;
			lm = loss_of(n, b);
			p->w[j] = w;
			fd = ((double)lp - (double)lm) / (2.0 * h);
			num += (an - fd) * (an - fd);
			den += fd * fd;
		}
		free(g);
	}
	if (!(den > 0))
		fail_msg("no finite difference (loss %g)",
			 (double)loss_of(n, b));
	return sqrt(num / den);
}


static void fd_check(struct trn_net *n, bool multi, uint64_t seed)
{
	struct batch b;
	double err;

	batch_make(n, &b, multi, seed);
	err = fd_error(n, &b, FD_PER, FD_H, 1.0f, false);
	if (!(err <= FD_TOL))
		fail_msg("gradient relative error %g > %g", err, FD_TOL);
	batch_free(&b);
}

static struct trn_net *net_new(unsigned nb, unsigned c, unsigned h,
			       unsigned w, uint64_t seed)
{
	struct trn_net_shape s = {nb, c, h, w};
	struct trn_net *n = NULL;
	struct rf_err e = {0};

	RF_ASSERT_OK_E(trn_net_create(&s, seed, &n, &e), &e);
	return n;
}

#define OK(call) RF_ASSERT_OK_E(call, &e)

/* ---- gradients ----------------------------------------------------------- */

static void test_fd_conv_fc(void **state)
{
	struct rf_err e = {0};
	struct trn_net *n = net_new(2, 3, 6, 6, 1);
	int t = TRN_NET_INPUT;

	(void)state;
	OK(trn_net_conv(n, "c1", t, 4, 3, 1, 1, true, &t, &e));
	OK(trn_net_conv(n, "c2", t, 5, 3, 2, 0, false, &t, &e));
	OK(trn_net_conv(n, "c3", t, 6, 1, 1, 0, true, &t, &e));
	OK(trn_net_fc(n, "fc", t, 3, &t, &e));
	OK(trn_net_fc(n, "fc2", t, 4, &t, &e));
	OK(trn_net_loss(n, t, TRN_LOSS_SOFTMAX_CE, NULL, &e));
	fd_check(n, false, 11);
	trn_net_destroy(n);
}

static void test_fd_rejects(void **state)
{
	struct rf_err e = {0};
	struct trn_net *n = net_new(2, 2, 5, 5, 2);
	struct batch b;
	int t = TRN_NET_INPUT;

	(void)state;
	OK(trn_net_conv(n, "c1", t, 3, 3, 1, 1, true, &t, &e));
	OK(trn_net_fc(n, "fc", t, 3, &t, &e));
	OK(trn_net_loss(n, t, TRN_LOSS_SOFTMAX_CE, NULL, &e));
	batch_make(n, &b, false, 5);
	assert_true(fd_error(n, &b, FD_PER, FD_H, 1.0f, false) <= FD_TOL);
	assert_true(fd_error(n, &b, FD_PER, FD_H, 1.05f, false) > FD_TOL);
	assert_true(fd_error(n, &b, FD_PER, FD_H, 1.0f, true) > FD_TOL);
	batch_free(&b);
	trn_net_destroy(n);
}

static void test_fd_relu_pool(void **state)
{
	struct rf_err e = {0};
	struct trn_net *n = net_new(2, 2, 9, 9, 3);
	int t = TRN_NET_INPUT, a;

	(void)state;
	OK(trn_net_conv(n, "c1", t, 16, 3, 1, 1, true, &t, &e));
	OK(trn_net_relu(n, t, &t, &e));
	OK(trn_net_maxpool(n, t, 3, 2, 1, &t, &e));
	OK(trn_net_conv(n, "c2", t, 8, 3, 1, 1, true, &a, &e));
	OK(trn_net_avgpool(n, a, 3, 2, 1, &t, &e));
	OK(trn_net_conv(n, "c3", t, 5, 1, 1, 0, true, &t, &e));
	OK(trn_net_avgpool(n, t, 2, 1, 0, &t, &e));
	OK(trn_net_maxpool(n, t, 2, 2, 0, &t, &e));
	OK(trn_net_gap(n, t, &t, &e));
	OK(trn_net_fc(n, "fc", t, 3, &t, &e));
	OK(trn_net_loss(n, t, TRN_LOSS_SOFTMAX_CE, NULL, &e));
	fd_check(n, false, 12);
	trn_net_destroy(n);
}

/* groups 1 and > 1; channel counts that do and do not fit 8/16 blocks;
 * a norm on the raw input and one on [N, K] */
static void test_fd_norm(void **state)
{
	/* channels, groups, batch */
	static const unsigned cases[][3] = {
		{16, 1, 2}, {32, 2, 2}, {12, 3, 2}, {24, 2, 2},
		{48, 3, 2}, {5, 5, 2},  {32, 2, 1}, {12, 3, 1},
	};

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		struct rf_err e = {0};
		struct trn_net *n = net_new(cases[i][2], 3, 5, 5, 4 + i);
		int t = TRN_NET_INPUT;

		if (i == 0)
			OK(trn_net_norm(n, "n0", t, 3, &t, &e));
		OK(trn_net_conv(n, "c1", t, cases[i][0], 3, 1, 1, true, &t,
				&e));
		OK(trn_net_norm(n, "n1", t, cases[i][1], &t, &e));
		OK(trn_net_relu(n, t, &t, &e));
		OK(trn_net_conv(n, "c2", t, 4, 3, 1, 0, true, &t, &e));
		OK(trn_net_fc(n, "fc", t, 6, &t, &e));
		OK(trn_net_norm(n, "n2", t, 2, &t, &e));
		OK(trn_net_fc(n, "fc2", t, 3, &t, &e));
		OK(trn_net_loss(n, t, TRN_LOSS_SOFTMAX_CE, NULL, &e));
		/* scale and shift away from 1 and 0 */
		for (int j = 0; j < 3; j++) {
			static const char *const p[] = {"n1/weight",
							"n1/bias", "n2/weight"};
			struct trn_param *q = param(n, p[j]);

			for (size_t c = 0; c < q->count; c++)
				q->w[c] +=
					0.3f * ((float)(c % 5) - 2.0f) + 0.1f;
		}
		fd_check(n, false, 20 + i);
		trn_net_destroy(n);
	}
}

static void test_fd_residual(void **state)
{
	struct rf_err e = {0};
	struct trn_net *n = net_new(2, 3, 6, 6, 5);
	int t = TRN_NET_INPUT, t1, t2;

	(void)state;
	OK(trn_net_conv(n, "c1", t, 16, 3, 1, 1, true, &t1, &e));
	OK(trn_net_conv(n, "c2", t1, 16, 3, 1, 1, true, &t2, &e));
	OK(trn_net_relu(n, t2, &t2, &e));
	OK(trn_net_add(n, t1, t2, &t, &e));
	/* t1 read a third time, and a tensor added to itself */
	OK(trn_net_add(n, t, t1, &t, &e));
	OK(trn_net_add(n, t, t, &t, &e));
	OK(trn_net_gap(n, t, &t, &e));
	OK(trn_net_fc(n, "fc", t, 3, &t, &e));
	OK(trn_net_loss(n, t, TRN_LOSS_SOFTMAX_CE, NULL, &e));
	fd_check(n, false, 13);
	trn_net_destroy(n);
}

/* Global max pooling: forward is the largest value of each channel (naive
 * loop over the plain tensor), backward checked by finite differences
 * through the convolution before it. */
static void test_gmp(void **state)
{
	enum { N = 2, C = 16, H = 5, W = 7 };
	struct rf_err e = {0};
	struct trn_net *n = net_new(N, 3, H, W, 23);
	int t = TRN_NET_INPUT, tc, tg;
	struct batch b;
	float *yc, *yg;

	(void)state;
	OK(trn_net_conv(n, "c1", t, C, 3, 1, 1, true, &tc, &e));
	OK(trn_net_gmp(n, tc, &tg, &e));
	OK(trn_net_fc(n, "fc", tg, 3, &t, &e));
	OK(trn_net_loss(n, t, TRN_LOSS_SOFTMAX_CE, NULL, &e));
	batch_make(n, &b, false, 5);
	(void)loss_of(n, &b);
	yc = tensor(n, tc, NULL);
	yg = tensor(n, tg, NULL);
	for (int i = 0; i < N * C; i++) {
		float m = yc[(size_t)i * H * W];

		for (int j = 1; j < H * W; j++)
			if (yc[(size_t)i * H * W + (size_t)j] > m)
				m = yc[(size_t)i * H * W + (size_t)j];
		assert_true(yg[i] == m);
	}
	free(yc);
	free(yg);
	batch_free(&b);
	fd_check(n, false, 17);
	trn_net_destroy(n);
}

static void test_fd_dropout(void **state)
{
	struct rf_err e = {0};
	struct trn_net *n = net_new(3, 2, 5, 5, 6);
	struct batch b;
	int t = TRN_NET_INPUT, d;
	float l1, l2, l3, l4, l5;
	float *v;
	size_t count, zeros = 0, kept = 0;

	(void)state;
	OK(trn_net_conv(n, "c1", t, 16, 3, 1, 1, true, &t, &e));
	OK(trn_net_dropout(n, t, 0.5f, &d, &e));
	OK(trn_net_fc(n, "fc", d, 4, &t, &e));
	OK(trn_net_dropout(n, t, 0.25f, &t, &e));
	OK(trn_net_fc(n, "fc2", t, 3, &t, &e));
	OK(trn_net_loss(n, t, TRN_LOSS_SOFTMAX_CE, NULL, &e));
	fd_check(n, false, 14);
	batch_make(n, &b, false, 3);
	/* the same step gives the same mask, another step another one */
	l1 = loss_of(n, &b);
	l2 = loss_of(n, &b);
	b.step = 8;
	l3 = loss_of(n, &b);
	assert_memory_equal(&l1, &l2, sizeof l1);
	assert_true(l1 != l3);
	/* kept values are scaled by 1/(1-p), about half are dropped */
	v = tensor(n, d, &count);
	{
		float *c = tensor(n, d - 1, NULL);

		for (size_t i = 0; i < count; i++) {
			if (v[i] == 0.0f && c[i] != 0.0f)
				zeros++;
			else if (c[i] != 0.0f) {
				kept++;
				assert_close(v[i], 2.0f * c[i],
						   1e-6f * fabsf(c[i]) + 1e-7f);
			}
		}
		free(c);
	}
	assert_true(zeros > count / 3 && kept > count / 3);
	free(v);
	/* evaluation: identity, any step */
	OK(trn_net_forward(n, b.x, b.labels, NULL, false, 1, &l4, &e));
	OK(trn_net_forward(n, b.x, b.labels, NULL, false, 2, &l5, &e));
	assert_memory_equal(&l4, &l5, sizeof l4);
	v = tensor(n, d, &count);
	{
		float *c = tensor(n, d - 1, NULL);

		assert_memory_equal(v, c, count * sizeof *v);
		free(c);
	}
	free(v);
	assert_int_equal(trn_net_backward(n, &e), RF_EINVAL);
	batch_free(&b);
	trn_net_destroy(n);
}

/* ---- losses -------------------------------------------------------------- */

static void test_softmax_weights_ignored(void **state)
{
	static const float cw[3] = {1.0f, 2.5f, 0.5f};
	struct rf_err e = {0};
	struct trn_net *n = net_new(5, 2, 4, 4, 7);
	struct batch b;
	int t = TRN_NET_INPUT;
	const float *lg, *pr;
	double num = 0, den = 0;
	float loss;

	(void)state;
	OK(trn_net_conv(n, "c1", t, 4, 3, 1, 1, true, &t, &e));
	OK(trn_net_fc(n, "fc", t, 3, &t, &e));
	OK(trn_net_loss(n, t, TRN_LOSS_SOFTMAX_CE, cw, &e));
	batch_make(n, &b, false, 9);
	b.labels[1] = -1;
	b.labels[3] = -5;
	loss = loss_of(n, &b);
	/* nn.CrossEntropyLoss(weight=w, ignore_index<0) in double */
	lg = trn_net_logits(n);
	pr = trn_net_probs(n);
	for (int i = 0; i < 5; i++) {
		double m = -INFINITY, s = 0;

		for (int j = 0; j < 3; j++)
			m = fmax(m, lg[i * 3 + j]);
		for (int j = 0; j < 3; j++)
			s += exp(lg[i * 3 + j] - m);
		for (int j = 0; j < 3; j++)
			assert_close(pr[i * 3 + j],
					   exp(lg[i * 3 + j] - m) / s, 1e-5);
		if (b.labels[i] < 0)
			continue;
		num -= cw[b.labels[i]] * (lg[i * 3 + b.labels[i]] - m -
					  log(s));
		den += cw[b.labels[i]];
	}
	assert_close(loss, num / den, 1e-5 * fabs(num / den));
	/* gradients with the weights and the ignored samples */
	assert_true(fd_error(n, &b, FD_PER, FD_H, 1.0f, false) <= FD_TOL);
	/* every label ignored: loss 0 and zero gradients */
	for (int i = 0; i < 5; i++)
		b.labels[i] = -1;
	assert_true(loss_of(n, &b) == 0.0f);
	OK(trn_net_backward(n, &e));
	assert_true(param(n, "fc/weight")->g[0] == 0.0f);
	b.labels[0] = 3;
	assert_int_equal(trn_net_forward(n, b.x, b.labels, NULL, true, 1,
					 &loss, &e),
			 RF_EINVAL);
	batch_free(&b);
	trn_net_destroy(n);
}

static void test_sigmoid_bce(void **state)
{
	struct rf_err e = {0};
	struct trn_net *n = net_new(3, 2, 4, 4, 8);
	struct batch b;
	int t = TRN_NET_INPUT;
	const float *lg, *pr;
	double sum = 0;
	float loss;

	(void)state;
	OK(trn_net_conv(n, "c1", t, 4, 3, 1, 1, true, &t, &e));
	OK(trn_net_fc(n, "fc", t, 4, &t, &e));
	OK(trn_net_loss(n, t, TRN_LOSS_SIGMOID_BCE, NULL, &e));
	batch_make(n, &b, true, 10);
	/* large logits: the stable form must not overflow */
	param(n, "fc/bias")->w[1] = 40.0f;
	param(n, "fc/bias")->w[2] = -40.0f;
	loss = loss_of(n, &b);
	lg = trn_net_logits(n);
	pr = trn_net_probs(n);
	for (int i = 0; i < 12; i++) {
		double x = lg[i], y = b.targets[i], p = 1 / (1 + exp(-x));

		assert_close(pr[i], p, 1e-6);
		/* -(y log p + (1-y) log(1-p)), with log(1-p) = log p - x */
		sum -= y * log(p) + (1 - y) * (log(p) - x);
	}
	assert_close(loss, sum / 12, 1e-5 * sum / 12);
	param(n, "fc/bias")->w[1] = 0.5f;
	param(n, "fc/bias")->w[2] = -0.5f;
	fd_check(n, true, 15);
	batch_free(&b);
	trn_net_destroy(n);
}

/* A short batch padded with any image and label -1 gives the same loss,
 * logits and gradients for its real samples. */
static void test_padded_batch(void **state)
{
	struct rf_err e = {0};
	struct trn_net *n[2];
	float loss[2], *x4;
	int32_t lab[4] = {1, 0, 2, -1};
	const float *lg[2];

	(void)state;
	for (int i = 0; i < 2; i++) {
		int t = TRN_NET_INPUT;

		n[i] = net_new(3 + (unsigned)i, 3, 8, 8, 99);
		OK(trn_net_conv(n[i], "c1", t, 16, 3, 1, 1, true, &t, &e));
		OK(trn_net_norm(n[i], "n1", t, 4, &t, &e));
		OK(trn_net_relu(n[i], t, &t, &e));
		OK(trn_net_maxpool(n[i], t, 2, 2, 0, &t, &e));
		/* the mask of a sample does not depend on the batch size */
		OK(trn_net_dropout(n[i], t, 0.3f, &t, &e));
		OK(trn_net_gap(n[i], t, &t, &e));
		OK(trn_net_fc(n[i], "fc", t, 3, &t, &e));
		OK(trn_net_loss(n[i], t, TRN_LOSS_SOFTMAX_CE, NULL, &e));
	}
	x4 = rand_vec(4 * 3 * 8 * 8, 77);
	OK(trn_net_forward(n[0], x4, lab, NULL, true, 1, &loss[0], &e));
	OK(trn_net_forward(n[1], x4, lab, NULL, true, 1, &loss[1], &e));
	OK(trn_net_backward(n[0], &e));
	OK(trn_net_backward(n[1], &e));
	assert_close(loss[0], loss[1], 1e-6 * fabs(loss[0]));
	lg[0] = trn_net_logits(n[0]);
	lg[1] = trn_net_logits(n[1]);
	for (int i = 0; i < 9; i++)
		assert_close(lg[0][i], lg[1][i], 1e-6);
	{
		size_t np;
		struct trn_param *p0 = trn_net_params(n[0], &np);
		struct trn_param *p1 = trn_net_params(n[1], &np);

		for (size_t i = 0; i < np; i++)
			for (size_t j = 0; j < p0[i].count; j++)
				assert_close(p0[i].g[j], p1[i].g[j],
						   1e-6 + 1e-5 *
						   fabsf(p0[i].g[j]));
	}
	free(x4);
	trn_net_destroy(n[0]);
	trn_net_destroy(n[1]);
}

/* ---- forward values against naive loops ---------------------------------- */

static double at(const float *x, int64_t c, int64_t h, int64_t w, int64_t i,
		 int64_t j, int64_t ci, int64_t ni)
{
	return x[((ni * c + ci) * h + i) * w + j];
}

/* nn.Conv2d on a batch of 2 [C, H, W] images: out [2, O, OH, OW] */
static void naive_conv(const float *x, int C, int H, int W, const float *w,
		       const float *bias, int O, int k, int st, int pad,
		       double *out)
{
	int OH = (H + 2 * pad - k) / st + 1, OW = (W + 2 * pad - k) / st + 1;

	for (int ni = 0; ni < 2; ni++)
		for (int o = 0; o < O; o++)
			for (int i = 0; i < OH * OW; i++) {
				double s = bias[o];

				for (int cp = 0; cp < C * k * k; cp++) {
					int c = cp / (k * k), p = cp % (k * k);
					int y = i / OW * st - pad + p / k;
					int xx = i % OW * st - pad + p % k;

					if (y < 0 || y >= H || xx < 0 ||
					    xx >= W)
						continue;
					s += w[o * C * k * k + cp] *
					     at(x, C, H, W, y, xx, c, ni);
				}
				*out++ = s;
			}
}

/* nn.MaxPool2d or nn.AvgPool2d (padding counted) on 2 [C, H, W] images */
static void naive_pool(const float *x, int C, int H, int W, int k, int st,
		       int pad, bool max, double *out)
{
	int OH = (H + 2 * pad - k) / st + 1, OW = (W + 2 * pad - k) / st + 1;

	for (int ni = 0; ni < 2; ni++)
		for (int c = 0; c < C; c++)
			for (int i = 0; i < OH * OW; i++) {
				double m = -INFINITY, s = 0;

				for (int p = 0; p < k * k; p++) {
					int y = i / OW * st - pad + p / k;
					int xx = i % OW * st - pad + p % k;

					if (y < 0 || y >= H || xx < 0 ||
					    xx >= W)
						continue;
					m = fmax(m, at(x, C, H, W, y, xx, c,
						       ni));
					s += at(x, C, H, W, y, xx, c, ni);
				}
				*out++ = max ? m : s / (k * k);
			}
}

static void test_forward_values(void **state)
{
	enum { N = 2, C = 3, H = 7, W = 6, O = 20 };
	struct rf_err e = {0};
	struct trn_net *n = net_new(N, C, H, W, 21);
	int t0 = TRN_NET_INPUT, tc, tn, tm, ta, tg, tf;
	struct trn_param *cw, *cb, *gw, *gb, *fw, *fb;
	struct batch b;
	float *yc, *yn, *ym, *ya, *yg, *yf;
	const int OH = 4, OW = 3; /* (7+2-3)/2+1, (6+2-3)/2+1 */
	double r[2 * 20 * 5 * 4]; /* N * O * (OH + 1) * (OW + 1) */

	(void)state;
	OK(trn_net_conv(n, "conv", t0, O, 3, 2, 1, true, &tc, &e));
	OK(trn_net_norm(n, "norm", tc, 4, &tn, &e));
	OK(trn_net_maxpool(n, tn, 3, 2, 1, &tm, &e));
	OK(trn_net_avgpool(n, tn, 2, 1, 1, &ta, &e));
	OK(trn_net_gap(n, ta, &tg, &e));
	OK(trn_net_fc(n, "fc", tm, 3, &tf, &e));
	OK(trn_net_add(n, tf, tf, &tf, &e));
	OK(trn_net_loss(n, tf, TRN_LOSS_SOFTMAX_CE, NULL, &e));
	cw = param(n, "conv/weight");
	cb = param(n, "conv/bias");
	gw = param(n, "norm/weight");
	gb = param(n, "norm/bias");
	fw = param(n, "fc/weight");
	fb = param(n, "fc/bias");
	assert_int_equal(fw->shape[1], O * 2 * 2);
	for (size_t i = 0; i < gw->count; i++) {
		gw->w[i] = 0.5f + 0.1f * (float)i;
		gb->w[i] = 0.05f * (float)i - 0.3f;
	}
	batch_make(n, &b, false, 31);
	(void)loss_of(n, &b);
	yc = tensor(n, tc, NULL);
	yn = tensor(n, tn, NULL);
	ym = tensor(n, tm, NULL);
	ya = tensor(n, ta, NULL);
	yg = tensor(n, tg, NULL);
	yf = tensor(n, tf, NULL);
	/* convolution, stride 2, padding 1 */
	naive_conv(b.x, C, H, W, cw->w, cb->w, O, 3, 2, 1, r);
	for (int i = 0; i < N * O * OH * OW; i++)
		assert_close(yc[i], r[i], 1e-5);
	/* group norm, 4 groups of 5 channels */
	for (int ni = 0; ni < N; ni++)
		for (int g = 0; g < 4; g++) {
			double m = 0, v = 0;
			int S = 5 * OH * OW;
			const float *x = yc + (ni * O + g * 5) * OH * OW;

			for (int i = 0; i < S; i++)
				m += x[i];
			m /= S;
			for (int i = 0; i < S; i++)
				v += (x[i] - m) * (x[i] - m);
			v /= S;
			for (int i = 0; i < S; i++) {
				int c = g * 5 + i / (OH * OW);
				double y = (x[i] - m) / sqrt(v + 1e-5) *
					   gw->w[c] + gb->w[c];

				assert_close(yn[(ni * O + g * 5) * OH * OW + i],
					     y, 1e-4);
			}
		}
	/* max pooling 3/2/1 -> 2x2; average 2/1/1 counting padding -> 5x4;
	 * global average of that */
	naive_pool(yn, O, OH, OW, 3, 2, 1, true, r);
	for (int i = 0; i < N * O * 2 * 2; i++)
		assert_close(ym[i], r[i], 1e-6);
	naive_pool(yn, O, OH, OW, 2, 1, 1, false, r);
	for (int i = 0; i < N * O; i++) {
		double gs = 0;

		for (int j = 0; j < (OH + 1) * (OW + 1); j++) {
			assert_close(ya[i * (OH + 1) * (OW + 1) + j],
				     r[i * (OH + 1) * (OW + 1) + j], 1e-5);
			gs += r[i * (OH + 1) * (OW + 1) + j];
		}
		assert_close(yg[i], gs / ((OH + 1) * (OW + 1)), 1e-5);
	}
	/* inner product on the flattened [C, H, W] (PyTorch's order), then
	 * the add of the logits to themselves */
	for (int ni = 0; ni < N; ni++)
		for (int k = 0; k < 3; k++) {
			double s = fb->w[k];

			for (int i = 0; i < O * 4; i++)
				s += fw->w[k * O * 4 + i] * ym[ni * O * 4 + i];
			assert_close(yf[ni * 3 + k], 2 * s, 1e-5);
			assert_close(trn_net_logits(n)[ni * 3 + k],
					   2 * s, 1e-5);
		}
	free(yc);
	free(yn);
	free(ym);
	free(ya);
	free(yg);
	free(yf);
	batch_free(&b);
	trn_net_destroy(n);
}

/* group norm where each group is whole 16-channel blocks (worked on in
 * the blocked layout) and where it is not (reordered to plain) */
static void test_norm_values(void **state)
{
	/* channels, groups, batch */
	static const unsigned cases[][3] = {
		{32, 2, 3}, {32, 1, 3}, {24, 3, 3}, {32, 2, 1}, {24, 3, 1},
	};

	(void)state;
	for (size_t k = 0; k < 5; k++) {
		struct rf_err e = {0};
		unsigned C = cases[k][0], G = cases[k][1], S = C / G * 30;
		unsigned nb = cases[k][2];
		struct trn_net *n = net_new(nb, 2, 5, 6, 50 + k);
		int t = TRN_NET_INPUT, tc, tn;
		struct trn_param *gw, *gb;
		struct batch b;
		float *yc, *yn;

		OK(trn_net_conv(n, "conv", t, C, 3, 1, 1, true, &tc, &e));
		OK(trn_net_norm(n, "norm", tc, G, &tn, &e));
		OK(trn_net_gap(n, tn, &t, &e));
		OK(trn_net_fc(n, "fc", t, 2, &t, &e));
		OK(trn_net_loss(n, t, TRN_LOSS_SOFTMAX_CE, NULL, &e));
		gw = param(n, "norm/weight");
		gb = param(n, "norm/bias");
		for (size_t i = 0; i < C; i++) {
			gw->w[i] = 1.5f - 0.05f * (float)i;
			gb->w[i] = 0.02f * (float)i;
		}
		batch_make(n, &b, false, 60 + k);
		(void)loss_of(n, &b);
		yc = tensor(n, tc, NULL);
		yn = tensor(n, tn, NULL);
		for (unsigned ng = 0; ng < nb * G; ng++) {
			const float *x = yc + (size_t)ng * S;
			double m = 0, v = 0;

			for (unsigned i = 0; i < S; i++)
				m += x[i];
			m /= S;
			for (unsigned i = 0; i < S; i++)
				v += (x[i] - m) * (x[i] - m);
			v /= S;
			for (unsigned i = 0; i < S; i++) {
				unsigned c = ng % G * (C / G) + i / 30;

				assert_close(yn[(size_t)ng * S + i],
					     (x[i] - m) / sqrt(v + 1e-5) *
						     gw->w[c] + gb->w[c],
					     1e-4);
			}
		}
		free(yc);
		free(yn);
		batch_free(&b);
		trn_net_destroy(n);
	}
}

/* ---- determinism, initialisation, flops ---------------------------------- */

static struct trn_net *small_cnn(unsigned nb, uint64_t seed)
{
	struct rf_err e = {0};
	struct trn_net *n = net_new(nb, 1, 16, 16, seed);
	int t = TRN_NET_INPUT, r;

	OK(trn_net_conv(n, "conv1", t, 16, 3, 1, 1, true, &t, &e));
	OK(trn_net_norm(n, "norm1", t, 4, &t, &e));
	OK(trn_net_relu(n, t, &r, &e));
	OK(trn_net_conv(n, "conv2", r, 16, 3, 1, 1, false, &t, &e));
	OK(trn_net_relu(n, t, &t, &e));
	OK(trn_net_add(n, t, r, &t, &e));
	OK(trn_net_maxpool(n, t, 2, 2, 0, &t, &e));
	OK(trn_net_dropout(n, t, 0.3f, &t, &e));
	OK(trn_net_fc(n, "fc", t, 3, &t, &e));
	OK(trn_net_loss(n, t, TRN_LOSS_SOFTMAX_CE, NULL, &e));
	return n;
}

static void test_determinism(void **state)
{
	struct rf_err e = {0};
	struct trn_net *n[2] = {small_cnn(4, 5), small_cnn(4, 5)};
	struct trn_net *o = small_cnn(4, 6);
	struct batch b;
	size_t np, np2;
	struct trn_param *p[2];

	(void)state;
	batch_make(n[0], &b, false, 40);
	for (uint64_t step = 0; step < 3; step++)
		for (int k = 0; k < 2; k++) {
			float loss;

			OK(trn_net_forward(n[k], b.x, b.labels, NULL, true,
					   step, &loss, &e));
			OK(trn_net_backward(n[k], &e));
			p[k] = trn_net_params(n[k], &np);
			for (size_t i = 0; i < np; i++)
				for (size_t j = 0; j < p[k][i].count; j++)
					p[k][i].w[j] -= 0.1f * p[k][i].g[j];
		}
	p[0] = trn_net_params(n[0], &np);
	p[1] = trn_net_params(n[1], &np2);
	assert_int_equal(np, np2);
	for (size_t i = 0; i < np; i++) {
		assert_string_equal(p[0][i].path, p[1][i].path);
		assert_memory_equal(p[0][i].w, p[1][i].w,
				    p[0][i].count * sizeof(float));
		assert_memory_equal(p[0][i].g, p[1][i].g,
				    p[0][i].count * sizeof(float));
	}
	/* another seed, other weights */
	assert_memory_not_equal(param(o, "conv1/weight")->w,
				param(n[0], "conv1/weight")->w,
				16 * 9 * sizeof(float));
	batch_free(&b);
	trn_net_destroy(n[0]);
	trn_net_destroy(n[1]);
	trn_net_destroy(o);
}

static void test_init_and_flops(void **state)
{
	static const char *const paths[] = {
		"conv1/bias", "conv1/weight", "conv2/weight", "fc/bias",
		"fc/weight",  "norm1/bias",   "norm1/weight",
	};
	static const double bounds[] = {1 / 3.0, 1 / 3.0, 1 / 12.0,
					1 / 32.0, 1 / 32.0, 0, 1};
	struct trn_net *n = small_cnn(8, 1);
	struct trn_param *p;
	size_t np;

	(void)state;
	p = trn_net_params(n, &np);
	assert_int_equal(np, 7);
	for (size_t i = 0; i < np; i++) {
		double mx = 0, sum = 0;

		assert_string_equal(p[i].path, paths[i]);
		for (size_t j = 0; j < p[i].count; j++) {
			mx = fmax(mx, fabs(p[i].w[j]));
			sum += p[i].w[j];
		}
		if (i >= 5) { /* norms: scale 1, shift 0 */
			for (size_t j = 0; j < p[i].count; j++)
				assert_true(p[i].w[j] == (float)bounds[i]);
			continue;
		}
		/* U(-b, b): inside, and reaching near the bound */
		assert_true(mx <= bounds[i]);
		assert_true(mx > bounds[i] * (p[i].count > 100 ? 0.95 : 0.5));
		if (p[i].count > 1000)
			assert_true(fabs(sum / p[i].count) < 0.05 * bounds[i]);
	}
	assert_int_equal(p[4].rank, 2);
	assert_int_equal(p[4].shape[0], 3);
	assert_int_equal(p[4].shape[1], 16 * 8 * 8);
	assert_int_equal(p[2].shape[0], 16);
	assert_int_equal(p[2].shape[1], 16);
	assert_int_equal(p[2].shape[3], 3);
	/* conv1 8*16*256*(1*9), conv2 8*16*256*(16*9), fc 8*3*1024, times 2 */
	assert_close(trn_net_flops(n),
			   2.0 * (8 * 16 * 256 * 9 + 8 * 16 * 256 * 144 +
				  8 * 3 * 1024),
			   0.5);
	assert_int_equal(trn_net_classes(n), 3);
	trn_net_destroy(n);
}

/* ---- errors -------------------------------------------------------------- */

static void expect(enum rf_rc got, enum rf_rc want, const struct rf_err *e,
		   const char *needle)
{
	if (got != want)
		fail_msg("got %s, want %s (%s)", rf_rc_name(got),
			 rf_rc_name(want), rf_err_msg(e));
	if (!strstr(e->msg, needle))
		fail_msg("message '%s' does not name '%s'", e->msg, needle);
}

static void test_builder_errors(void **state)
{
	struct rf_err e = {0};
	struct trn_net *n;
	struct trn_net_shape bad = {0, 1, 4, 4};
	int t = TRN_NET_INPUT, u;
	float loss;

	(void)state;
	n = (void *)&e;
	assert_int_equal(trn_net_create(&bad, 1, &n, &e), RF_EINVAL);
	assert_null(n);

	n = net_new(2, 3, 8, 8, 1);
	expect(trn_net_conv(n, "c1", 5, 4, 3, 1, 1, true, &u, &e), RF_EINVAL,
	       &e, "'c1'");
	trn_net_destroy(n);

	n = net_new(2, 3, 8, 8, 1);
	expect(trn_net_conv(n, "Bad-Name", t, 4, 3, 1, 1, true, &u, &e),
	       RF_EINVAL, &e, "Bad-Name");
	trn_net_destroy(n);

	n = net_new(2, 3, 8, 8, 1);
	expect(trn_net_conv(n, "big", t, 4, 11, 1, 1, true, &u, &e),
	       RF_EINVAL, &e, "'big'");
	trn_net_destroy(n);

	n = net_new(2, 3, 8, 8, 1);
	t = TRN_NET_INPUT;
	OK(trn_net_conv(n, "c1", t, 6, 3, 1, 1, true, &t, &e));
	expect(trn_net_norm(n, "c1", t, 3, &u, &e), RF_EEXIST, &e, "'c1'");
	trn_net_destroy(n);

	n = net_new(2, 3, 8, 8, 1);
	t = TRN_NET_INPUT;
	OK(trn_net_conv(n, "c1", t, 6, 3, 1, 1, true, &t, &e));
	expect(trn_net_norm(n, "gn", t, 4, &u, &e), RF_EINVAL, &e, "'gn'");
	/* the net is unusable after a failed call */
	expect(trn_net_relu(n, t, &u, &e), RF_EINVAL, &e, "relu");
	trn_net_destroy(n);

	n = net_new(2, 3, 8, 8, 1);
	expect(trn_net_maxpool(n, t, 2, 2, 2, &u, &e), RF_EINVAL, &e,
	       "maxpool0");
	trn_net_destroy(n);

	n = net_new(2, 3, 8, 8, 1);
	t = TRN_NET_INPUT;
	OK(trn_net_fc(n, "fc", t, 4, &t, &e));
	expect(trn_net_maxpool(n, t, 2, 2, 0, &u, &e), RF_EINVAL, &e,
	       "maxpool1");
	trn_net_destroy(n);

	n = net_new(2, 3, 8, 8, 1);
	t = TRN_NET_INPUT;
	OK(trn_net_conv(n, "c1", t, 6, 3, 1, 1, true, &u, &e));
	expect(trn_net_add(n, t, u, &u, &e), RF_EINVAL, &e, "add1");
	trn_net_destroy(n);

	n = net_new(2, 3, 8, 8, 1);
	expect(trn_net_dropout(n, t, 1.0f, &u, &e), RF_EINVAL, &e,
	       "dropout0");
	trn_net_destroy(n);

	n = net_new(2, 3, 8, 8, 1);
	t = TRN_NET_INPUT;
	OK(trn_net_conv(n, "c1", t, 6, 3, 1, 1, true, &t, &e));
	expect(trn_net_loss(n, t, TRN_LOSS_SOFTMAX_CE, NULL, &e), RF_EINVAL,
	       &e, "loss");
	trn_net_destroy(n);

	n = net_new(2, 3, 8, 8, 1);
	t = TRN_NET_INPUT;
	OK(trn_net_fc(n, "fc", t, 4, &t, &e));
	{
		float cw[4] = {1, 1, 0, 1};

		expect(trn_net_loss(n, t, TRN_LOSS_SOFTMAX_CE, cw, &e),
		       RF_EINVAL, &e, "loss");
	}
	trn_net_destroy(n);

	n = net_new(2, 3, 8, 8, 1);
	t = TRN_NET_INPUT;
	OK(trn_net_fc(n, "fc", t, 4, &t, &e));
	OK(trn_net_loss(n, t, TRN_LOSS_SOFTMAX_CE, NULL, &e));
	expect(trn_net_relu(n, t, &u, &e), RF_EINVAL, &e, "relu");
	expect(trn_net_backward(n, &e), RF_EINVAL, &e, "training");
	{
		float x[2 * 3 * 8 * 8] = {0};
		float tg[8] = {0};
		int32_t lab[2] = {0, 4};
		size_t c = 3;
		float out[3];

		expect(trn_net_forward(n, x, lab, NULL, true, 0, &loss, &e),
		       RF_EINVAL, &e, "label");
		expect(trn_net_forward(n, x, NULL, tg, true, 0, &loss, &e),
		       RF_EINVAL, &e, "labels");
		lab[1] = 3;
		memset(param(n, "fc/bias")->w, 0, 4 * sizeof(float));
		OK(trn_net_forward(n, x, lab, NULL, true, 0, &loss, &e));
		assert_close(loss, log(4.0), 1e-5);
		expect(trn_net_tensor(n, t, out, &c, &e), RF_ETOOBIG, &e,
		       "tensor");
		assert_int_equal(c, 8);
	}
	trn_net_destroy(n);
}

static enum rf_rc oom_build(struct trn_net **out, struct rf_err *e)
{
	struct trn_net_shape s = {2, 2, 6, 6};
	struct trn_net *n = NULL;
	int t = TRN_NET_INPUT;
	int r;
	enum rf_rc rc;

	rc = trn_net_create(&s, 3, &n, e);
	if (!rc)
		rc = trn_net_conv(n, "c", t, 16, 3, 1, 1, true, &t, e);
	if (!rc)
		rc = trn_net_norm(n, "n", t, 2, &r, e);
	if (!rc)
		rc = trn_net_dropout(n, r, 0.5f, &t, e);
	if (!rc)
		rc = trn_net_add(n, t, r, &t, e);
	if (!rc)
		rc = trn_net_maxpool(n, t, 2, 2, 0, &t, e);
	if (!rc)
		rc = trn_net_fc(n, "fc", t, 3, &t, e);
	if (!rc)
		rc = trn_net_loss(n, t, TRN_LOSS_SOFTMAX_CE, NULL, e);
	if (rc) {
		trn_net_destroy(n);
		n = NULL;
	}
	*out = n;
	return rc;
}

static void test_oom(void **state)
{
	struct rf_err e = {0};
	struct trn_net *n = NULL;
	enum rf_rc rc = RF_OK;

	(void)state;
	RF_TEST_OOM_LOOP(rc, rc = oom_build(&n, &e), trn_net_destroy(n));
	/* a training step allocates nothing */
	RF_ASSERT_OK_E(oom_build(&n, &e), &e);
	{
		float x[2 * 2 * 6 * 6] = {0}, loss;
		int32_t lab[2] = {0, 2};

		rf_test_fail_alloc_after(0);
		RF_ASSERT_OK_E(trn_net_forward(n, x, lab, NULL, true, 1, &loss,
					       &e),
			       &e);
		RF_ASSERT_OK_E(trn_net_backward(n, &e), &e);
		RF_ASSERT_OK_E(trn_net_forward(n, x, lab, NULL, false, 2,
					       &loss, &e),
			       &e);
		rf_test_alloc_reset();
	}
	trn_net_destroy(n);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_forward_values),
		cmocka_unit_test(test_norm_values),
		cmocka_unit_test(test_fd_rejects),
		cmocka_unit_test(test_fd_conv_fc),
		cmocka_unit_test(test_fd_relu_pool),
		cmocka_unit_test(test_fd_norm),
		cmocka_unit_test(test_fd_residual),
		cmocka_unit_test(test_gmp),
		cmocka_unit_test(test_fd_dropout),
		cmocka_unit_test(test_softmax_weights_ignored),
		cmocka_unit_test(test_sigmoid_bce),
		cmocka_unit_test(test_padded_batch),
		cmocka_unit_test(test_determinism),
		cmocka_unit_test(test_init_and_flops),
		cmocka_unit_test(test_builder_errors),
		cmocka_unit_test(test_oom),
	};

	/* tiny primitives on a shared machine: let idle threads sleep */
	setenv("OMP_WAIT_POLICY", "passive", 0);
	if (argc > 1)
		cmocka_set_test_filter(argv[1]);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
