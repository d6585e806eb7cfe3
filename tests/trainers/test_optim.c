/*
 * test_optim.c - SGD, Adam and FedProx against PyTorch 1.13.
 *
 * tests/ref/optim_ref.py (run here with /usr/bin/python3; torch missing is
 * a failure) records ten steps of torch.optim.SGD and torch.optim.Adam over
 * five tensors of odd sizes for every case of its table; the optimizer must
 * reproduce each trajectory bit for bit.
 */
#include "rf_test.h"

#include <math.h>

#include "trn_optim.h"

#define NT 5
#define STEPS 10

static const size_t sizes[NT] = {1, 7, 15, 33, 1029};

struct ref {
	char dir[512];
	float *inputs; /* init (total), then STEPS gradients (total each) */
	size_t total;
};

static struct ref ref;

static float *read_f32(const char *path, size_t count)
{
	FILE *f = fopen(path, "rb");
	float *p = malloc(count * sizeof(float));
	size_t got;

	if (!f || !p)
		fail_msg("cannot read '%s'", path);
	got = fread(p, sizeof(float), count, f);
	if (got != count || fgetc(f) != EOF)
		fail_msg("'%s': %zu floats, want %zu", path, got, count);
	fclose(f);
	return p;
}

static int setup(void **state)
{
	const char *dir = rf_test_tmpdir("trainers_optim");
	char path[600];

	(void)state;
	snprintf(ref.dir, sizeof ref.dir, "%s", dir);
	if (rf_sh("/usr/bin/python3 '%s/tests/ref/optim_ref.py' '%s'",
		  RF_TEST_SRCDIR, ref.dir) != 0)
		fail_msg("tests/ref/optim_ref.py failed: it needs /usr/bin/"
			 "python3 with torch (python3-torch)");
	ref.total = 0;
	for (int i = 0; i < NT; i++)
		ref.total += sizes[i];
	snprintf(path, sizeof path, "%s/inputs.f32", ref.dir);
	ref.inputs = read_f32(path, ref.total * (1 + STEPS));
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	free(ref.inputs);
	return 0;
}

struct params {
	struct trn_param p[NT];
	float w[1 + 7 + 15 + 33 + 1029];
	float g[1 + 7 + 15 + 33 + 1029];
};

static void params_init(struct params *ps)
{
	size_t off = 0;

	memset(ps, 0, sizeof(*ps));
	for (int i = 0; i < NT; i++) {
		struct trn_param *p = &ps->p[i];

		snprintf(p->path, sizeof p->path, "t%d/w", i);
		p->w = ps->w + off;
		p->g = ps->g + off;
		p->count = sizes[i];
		p->rank = 1;
		p->shape[0] = sizes[i];
		if (sizes[i] == 15) {
			p->rank = 2;
			p->shape[0] = 5;
			p->shape[1] = 3;
		}
		off += sizes[i];
	}
	memcpy(ps->w, ref.inputs, ref.total * sizeof(float));
}

static uint32_t bits(float f)
{
	uint32_t u;

	memcpy(&u, &f, sizeof u);
	return u;
}

/* Runs one case of cases.txt and compares every step bit for bit. */
static void run_case(const char *line)
{
	char name[64], kind[16], path[700];
	struct trn_optim_config c = {0};
	float v[8];
	struct params *ps = calloc(1, sizeof(*ps));
	struct trn_optim *o = NULL;
	struct rf_err e = {0};
	float *want;
	const char *s;
	char *end;
	int n = 0;
	size_t diffs = 0;
	double maxrel = 0;

	assert_non_null(ps);
	if (sscanf(line, "%63s %15s%n", name, kind, &n) != 2)
		fail_msg("bad line in cases.txt: %s", line);
	s = line + n;
	for (int i = 0; i < 8; i++) {
		v[i] = (float)strtod(s, &end);
		assert_true(end != s);
		s = end;
	}
	c.kind = trn_optim_kind_from_name(kind);
	assert_int_not_equal(c.kind, 0);
	c.lr = v[0];
	c.momentum = v[1];
	c.weight_decay = v[2];
	c.beta1 = v[3];
	c.beta2 = v[4];
	c.eps = v[5];
	c.prox_mu = v[6];
	snprintf(path, sizeof path, "%s/%s.f32", ref.dir, name);
	want = read_f32(path, ref.total * STEPS);

	params_init(ps);
	RF_ASSERT_OK_E(trn_optim_create(&c, ps->p, NT, &o, &e), &e);
	RF_ASSERT_OK_E(trn_optim_set_anchor(o, &e), &e);
	for (int st = 0; st < STEPS; st++) {
		const float *exp = want + (size_t)st * ref.total;

		memcpy(ps->g, ref.inputs + (size_t)(st + 1) * ref.total,
		       ref.total * sizeof(float));
		if (st == 5 && v[7] != 0)
			trn_optim_set_lr(o, v[7]);
		trn_optim_step(o);
		for (size_t i = 0; i < ref.total; i++) {
			double rel;

			if (bits(ps->w[i]) == bits(exp[i]))
				continue;
			rel = fabs((double)ps->w[i] - exp[i]) /
			      fmax(fabs(exp[i]), 1e-30);
			if (rel > maxrel)
				maxrel = rel;
			if (diffs++ < 5)
				print_message("%s step %d [%zu]: %.9g, torch "
					      "%.9g\n", name, st + 1, i,
					      ps->w[i], exp[i]);
		}
	}
	if (diffs)
		fail_msg("%s: %zu values differ from torch (max relative "
			 "%.3g)", name, diffs, maxrel);
	trn_optim_destroy(o);
	free(want);
	free(ps);
}

static void test_torch_trajectories(void **state)
{
	char path[600], line[512];
	FILE *f;
	int cases = 0;

	(void)state;
	snprintf(path, sizeof path, "%s/cases.txt", ref.dir);
	f = fopen(path, "r");
	assert_non_null(f);
	while (fgets(line, sizeof line, f)) {
		run_case(line);
		cases++;
	}
	fclose(f);
	/* sgd and adam, momentum 0 and 0.9, weight decay 0 and 1e-2,
	 * FedProx, learning-rate changes */
	assert_int_equal(cases, 12);
}

/* beta1 = beta2 = 0 and eps 0 are Adam's defaults (0.9, 0.999, 1e-8): the
 * same trajectory as the explicit "adam" case. */
static void test_adam_defaults(void **state)
{
	struct trn_optim_config c = {TRN_OPTIM_ADAM, 0.01f, 0, 0, 0, 0, 0, 0};
	struct params *ps = calloc(1, sizeof(*ps));
	struct trn_optim *o = NULL;
	char path[600];
	float *want;

	(void)state;
	assert_non_null(ps);
	snprintf(path, sizeof path, "%s/adam.f32", ref.dir);
	want = read_f32(path, ref.total * STEPS);
	params_init(ps);
	RF_ASSERT_OK(trn_optim_create(&c, ps->p, NT, &o, NULL));
	for (int st = 0; st < STEPS; st++) {
		memcpy(ps->g, ref.inputs + (size_t)(st + 1) * ref.total,
		       ref.total * sizeof(float));
		trn_optim_step(o);
	}
	assert_memory_equal(ps->w, want + (STEPS - 1) * ref.total,
			    ref.total * sizeof(float));
	trn_optim_destroy(o);
	free(want);
	free(ps);
}

/* The FedProx anchor is taken at creation and replaced by set_anchor: with
 * a zero gradient, w moves toward the anchor by lr * mu * (w - a). */
static void test_prox_anchor(void **state)
{
	struct trn_optim_config c = {TRN_OPTIM_SGD, 0.5f, 0, 0, 0, 0, 0, 1};
	float w[2] = {2, -4}, g[2] = {0, 0};
	struct trn_param p = {"x/w", w, g, 2, 1, {2, 0, 0, 0}};
	struct trn_optim *o = NULL;

	(void)state;
	RF_ASSERT_OK(trn_optim_create(&c, &p, 1, &o, NULL));
	trn_optim_step(o); /* anchor = initial values: no move */
	assert_true(w[0] == 2 && w[1] == -4);
	w[0] = 3;
	w[1] = -2;
	trn_optim_step(o); /* w - 0.5 * (w - a) */
	assert_true(w[0] == 2.5f && w[1] == -3);
	RF_ASSERT_OK(trn_optim_set_anchor(o, NULL));
	trn_optim_step(o);
	assert_true(w[0] == 2.5f && w[1] == -3);
	trn_optim_destroy(o);
}

static void test_names(void **state)
{
	(void)state;
	assert_int_equal(trn_optim_kind_from_name("sgd"), TRN_OPTIM_SGD);
	assert_int_equal(trn_optim_kind_from_name("adam"), TRN_OPTIM_ADAM);
	assert_int_equal(trn_optim_kind_from_name("Adam"), 0);
	assert_int_equal(trn_optim_kind_from_name(""), 0);
	assert_int_equal(trn_optim_kind_from_name(NULL), 0);
	assert_string_equal(trn_optim_kind_name(TRN_OPTIM_SGD), "sgd");
	assert_string_equal(trn_optim_kind_name(TRN_OPTIM_ADAM), "adam");
}

static void expect_invalid(const struct trn_optim_config *c,
			   const char *needle)
{
	float w[1] = {0}, g[1] = {0};
	struct trn_param p = {"x/w", w, g, 1, 1, {1, 0, 0, 0}};
	struct trn_optim *o = (struct trn_optim *)&p;
	struct rf_err e = {0};

	RF_ASSERT_RC(trn_optim_create(c, &p, 1, &o, &e), RF_EINVAL);
	assert_null(o);
	if (!strstr(e.msg, needle))
		fail_msg("message '%s' does not name '%s'", e.msg, needle);
}

static void test_invalid(void **state)
{
	struct trn_optim_config ok = {TRN_OPTIM_SGD, 0.1f, 0.9f, 0, 0, 0, 0,
				      0};
	struct trn_optim_config c;

	(void)state;
	c = ok;
	c.kind = 3;
	expect_invalid(&c, "optimizer kind");
	c = ok;
	c.lr = 0;
	expect_invalid(&c, "learning rate");
	c.lr = NAN;
	expect_invalid(&c, "learning rate");
	c = ok;
	c.momentum = 1;
	expect_invalid(&c, "momentum");
	c = ok;
	c.weight_decay = -1e-3f;
	expect_invalid(&c, "weight decay");
	c = ok;
	c.prox_mu = -1;
	expect_invalid(&c, "proximal");
	c = ok;
	c.kind = TRN_OPTIM_ADAM;
	c.beta1 = 1;
	expect_invalid(&c, "beta1");
	c.beta1 = 0.9f;
	c.beta2 = -0.5f;
	expect_invalid(&c, "beta2");
	c.beta2 = 0.99f;
	c.eps = -1;
	expect_invalid(&c, "epsilon");
	trn_optim_destroy(NULL);
}

static void test_oom(void **state)
{
	struct trn_optim_config c = {TRN_OPTIM_ADAM, 0.01f, 0, 0, 0, 0, 0,
				     0.1f};
	struct params *ps = calloc(1, sizeof(*ps));
	struct trn_optim *o = NULL;
	enum rf_rc rc;

	(void)state;
	assert_non_null(ps);
	params_init(ps);
	RF_TEST_OOM_LOOP(rc,
			 {
				 rc = trn_optim_create(&c, ps->p, NT, &o,
						       NULL);
				 if (rc == RF_OK)
					 rc = trn_optim_set_anchor(o, NULL);
				 if (rc != RF_OK) {
					 trn_optim_destroy(o);
					 o = NULL;
				 }
			 },
			 {
				 trn_optim_destroy(o);
			 });
	free(ps);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_torch_trajectories),
		cmocka_unit_test(test_adam_defaults),
		cmocka_unit_test(test_prox_anchor),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_oom),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
