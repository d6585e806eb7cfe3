/*
 * test_strategy.c - aggregation strategies against a numpy reference.
 *
 * Three rounds of three sites with different sample counts: the deltas,
 * the counts and a list of runs (strategy + hyper-parameters) are written
 * to a text file; tests/aggregator/ref/strategy_ref.py (run here with
 * /usr/bin/python3 and numpy; missing is a failure) computes, from the
 * papers' formulas and the per-site deltas, the weighted average of each
 * round and the global weights after each round of each run. radfed sees
 * only the weighted sum (struct agg_sum) and must agree to 1e-6 relative.
 * Then: the registry, hyper-parameter refusals, input refusals, state
 * files (round trip, restart mid-sequence, refusals) and allocation
 * failures in create and state load.
 */
#include "rf_test.h"

#include <math.h>

#include "agg_strategy.h"
#include "rf_tensor.h"

#define LEN 37
#define SITES 3
#define ROUNDS 3
#define RUNS_MAX 16

static const uint64_t counts[ROUNDS][SITES] = {
	{120, 45, 300},
	{118, 50, 290},
	{7, 400, 33},
};

struct run {
	const char *label, *strategy;
	struct agg_param kv[4];
	size_t n;
};

static const struct run runs[] = {
	{"avg", "fedavg", {{0}}, 0},
	{"avg_half", "fedavg", {{"eta", 0.5}}, 1},
	{"prox", "fedprox", {{"mu", 0.1}}, 1},
	{"avgm", "fedavgm", {{0}}, 0},
	{"avgm2", "fedavgm", {{"momentum", 0.5}, {"eta", 0.7}}, 2},
	{"adam", "fedadam", {{0}}, 0},
	{"adam2",
	 "fedadam",
	 {{"eta", 0.05}, {"beta_1", 0.5}, {"beta_2", 0.9}, {"tau", 0.01}},
	 4},
	{"yogi", "fedyogi", {{0}}, 0},
	{"yogi2",
	 "fedyogi",
	 {{"eta", 0.05}, {"beta_1", 0.5}, {"beta_2", 0.9}, {"tau", 0.01}},
	 4},
};
#define NRUNS (sizeof runs / sizeof runs[0])

static struct {
	char dir[512];
	float w0[LEN];
	float delta[ROUNDS][SITES][LEN];
	float avg[ROUNDS][LEN];              /* reference */
	float w[RUNS_MAX][ROUNDS][LEN];      /* reference */
} ref;

/* ---- fixture ------------------------------------------------------------- */

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

/* Uniform in [-1, 1), from a 64-bit LCG (Knuth's MMIX constants). */
static float uniform(void)
{
	rng_state = rng_state * 6364136223846793005u + 1442695040888963407u;
	return (float)((double)(rng_state >> 11) / 9007199254740992.0 * 2.0 -
		       1.0);
}

static void write_vec(FILE *f, const float *v)
{
	for (size_t i = 0; i < LEN; i++)
		fprintf(f, " %.9g", (double)v[i]);
	fputc('\n', f);
}

/* Parses LEN floats from s into v. */
static void parse_vec(const char *s, float *v)
{
	char *end;

	for (size_t i = 0; i < LEN; i++) {
		v[i] = strtof(s, &end);
		if (end == s)
			fail_msg("reference output: too few values");
		s = end;
	}
}

static int setup(void **state)
{
	const char *dir = rf_test_tmpdir("aggregator_strategy");
	char path[600], *line = NULL;
	size_t cap = 0;
	FILE *f;

	(void)state;
	snprintf(ref.dir, sizeof ref.dir, "%s", dir);
	for (size_t i = 0; i < LEN; i++)
		ref.w0[i] = uniform();
	/* each site drifts its own way, plus noise of another scale */
	for (int r = 0; r < ROUNDS; r++)
		for (int k = 0; k < SITES; k++)
			for (size_t i = 0; i < LEN; i++)
				ref.delta[r][k][i] =
					0.02f * (float)(k - 1) +
					0.05f * uniform() *
						(i % 5 == 0 ? 0.01f : 1.0f);
	snprintf(path, sizeof path, "%s/in.txt", ref.dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "len %d\nw0", LEN);
	write_vec(f, ref.w0);
	for (int r = 0; r < ROUNDS; r++) {
		fprintf(f, "counts %d", r + 1);
		for (int k = 0; k < SITES; k++)
			fprintf(f, " %llu", (unsigned long long)counts[r][k]);
		fputc('\n', f);
		for (int k = 0; k < SITES; k++) {
			fprintf(f, "delta %d %d", r + 1, k);
			write_vec(f, ref.delta[r][k]);
		}
	}
	for (size_t j = 0; j < NRUNS; j++) {
		fprintf(f, "run %s %s", runs[j].label, runs[j].strategy);
		for (size_t p = 0; p < runs[j].n; p++)
			fprintf(f, " %s=%.17g", runs[j].kv[p].name,
				runs[j].kv[p].value);
		fputc('\n', f);
	}
	assert_int_equal(fclose(f), 0);
	if (rf_sh("/usr/bin/python3 '%s/tests/aggregator/ref/strategy_ref.py'"
		  " '%s/in.txt' '%s/out.txt'",
		  RF_TEST_SRCDIR, ref.dir, ref.dir) != 0)
		fail_msg("strategy_ref.py failed: it needs /usr/bin/python3 "
			 "with numpy");
	snprintf(path, sizeof path, "%s/out.txt", ref.dir);
	f = fopen(path, "r");
	assert_non_null(f);
	while (getline(&line, &cap, f) > 0) {
		char label[32];
		int r, off = 0;

		if (sscanf(line, "avg %d %n", &r, &off) == 1 && off) {
			assert_true(r >= 1 && r <= ROUNDS);
			parse_vec(line + off, ref.avg[r - 1]);
		} else if (sscanf(line, "w %31s %d %n", label, &r, &off) ==
				   2 &&
			   off) {
			size_t j;

			for (j = 0; j < NRUNS; j++)
				if (strcmp(runs[j].label, label) == 0)
					break;
			assert_true(j < NRUNS && r >= 1 && r <= ROUNDS);
			parse_vec(line + off, ref.w[j][r - 1]);
		} else {
			fail_msg("reference output: bad line %.40s", line);
		}
	}
	free(line);
	fclose(f);
	return 0;
}

/* |got - want| <= 1e-6 |want| (plus a floor of 1e-9 for values near 0). */
static void assert_close(const float *got, const float *want,
			 const char *what, int round)
{
	for (size_t i = 0; i < LEN; i++) {
		double g = got[i], w = want[i];

		if (!(fabs(g - w) <= 1e-6 * fabs(w) + 1e-9))
			fail_msg("%s round %d [%zu]: %.9g, want %.9g", what,
				 round, i, g, w);
	}
}

/* The average delta of round r (0-based) through the sum. */
static void round_avg(int r, float *avg)
{
	struct agg_sum sum;
	struct rf_err e = {0};

	RF_ASSERT_OK_E(agg_sum_init(&sum, LEN, &e), &e);
	for (int k = 0; k < SITES; k++)
		RF_ASSERT_OK_E(agg_sum_add(&sum, ref.delta[r][k],
					   counts[r][k], &e),
			       &e);
	assert_int_equal(sum.sites, SITES);
	assert_int_equal(sum.samples,
			 counts[r][0] + counts[r][1] + counts[r][2]);
	RF_ASSERT_OK_E(agg_sum_mean(&sum, avg, &e), &e);
	agg_sum_release(&sum);
	assert_null(sum.acc);
}

static struct agg_strategy *create_run(size_t j)
{
	struct agg_strategy *s = NULL;
	struct rf_err e = {0};

	RF_ASSERT_OK_E(agg_strategy_create(runs[j].strategy, LEN, runs[j].kv,
					   runs[j].n, &s, &e),
		       &e);
	return s;
}

/* ---- against the reference ---------------------------------------------- */

static void test_weighted_average(void **state)
{
	float avg[LEN];

	(void)state;
	for (int r = 0; r < ROUNDS; r++) {
		round_avg(r, avg);
		assert_close(avg, ref.avg[r], "average delta", r + 1);
	}
}

static void test_every_strategy(void **state)
{
	struct rf_err e = {0};
	float w[LEN], avg[LEN];

	(void)state;
	for (size_t j = 0; j < NRUNS; j++) {
		struct agg_strategy *s = create_run(j);

		memcpy(w, ref.w0, sizeof w);
		for (int r = 0; r < ROUNDS; r++) {
			round_avg(r, avg);
			RF_ASSERT_OK_E(agg_strategy_apply(s, w, avg,
							  (uint64_t)r + 1, &e),
				       &e);
			assert_close(w, ref.w[j][r], runs[j].label, r + 1);
		}
		assert_int_equal(s->round, ROUNDS);
		agg_strategy_destroy(s);
	}
}

/* Save after round 2, restore into a new instance, round 3: the same
 * weights, bit for bit, as without the restart. */
static void test_restart(void **state)
{
	const char *dir = rf_test_tmpdir("aggregator_strategy_restart");
	struct rf_err e = {0};
	char path[600];

	(void)state;
	snprintf(path, sizeof path, "%s/state.h5", dir);
	for (size_t j = 0; j < NRUNS; j++) {
		struct agg_strategy *s = create_run(j), *t = create_run(j);
		float w1[LEN], w2[LEN], avg[LEN];

		memcpy(w1, ref.w0, sizeof w1);
		for (int r = 0; r < ROUNDS; r++) {
			round_avg(r, avg);
			RF_ASSERT_OK_E(agg_strategy_apply(s, w1, avg,
							  (uint64_t)r + 1, &e),
				       &e);
			if (r == 1) {
				memcpy(w2, w1, sizeof w2);
				RF_ASSERT_OK_E(agg_strategy_state_save(
						       s, path, &e),
					       &e);
			}
		}
		RF_ASSERT_OK_E(agg_strategy_state_load(t, path, &e), &e);
		assert_int_equal(t->round, 2);
		for (size_t i = 0; i < t->vt->nstate; i++)
			assert_non_null(t->state[i]);
		/* a round already applied is refused after the restart */
		round_avg(1, avg);
		RF_ASSERT_RC(agg_strategy_apply(t, w2, avg, 2, &e), RF_EINVAL);
		round_avg(2, avg);
		RF_ASSERT_OK_E(agg_strategy_apply(t, w2, avg, 3, &e), &e);
		assert_memory_equal(w1, w2, sizeof w1);
		assert_close(w2, ref.w[j][2], runs[j].label, 3);
		agg_strategy_destroy(s);
		agg_strategy_destroy(t);
	}
}

/* ---- state files --------------------------------------------------------- */

static void assert_fresh_adam(const struct agg_strategy *s)
{
	assert_int_equal(s->round, 0);
	for (size_t i = 0; i < LEN; i++) {
		assert_true(s->state[0][i] == 0.0f);
		assert_true(s->state[1][i] == (float)(1e-3 * 1e-3));
	}
}

static void test_state_refusals(void **state)
{
	const char *dir = rf_test_tmpdir("aggregator_strategy_refuse");
	struct agg_strategy *adam = NULL, *yogi = NULL, *small = NULL;
	struct rf_tensor_info ti = {RF_DTYPE_F32, 1, {LEN}};
	struct rf_err e = {0};
	char yogi_path[600], small_path[600], nan_path[600], bad_path[600];
	char missing[600];
	float w[LEN], avg[LEN], nan_v[LEN];
	struct rf_h5 *h = NULL;

	(void)state;
	snprintf(yogi_path, sizeof yogi_path, "%s/yogi.h5", dir);
	snprintf(small_path, sizeof small_path, "%s/small.h5", dir);
	snprintf(nan_path, sizeof nan_path, "%s/nan.h5", dir);
	snprintf(bad_path, sizeof bad_path, "%s/other.h5", dir);
	snprintf(missing, sizeof missing, "%s/missing.h5", dir);

	RF_ASSERT_OK(agg_strategy_create("fedadam", LEN, NULL, 0, &adam, &e));
	RF_ASSERT_OK(agg_strategy_create("fedyogi", LEN, NULL, 0, &yogi, &e));
	RF_ASSERT_OK(agg_strategy_create("fedadam", LEN - 1, NULL, 0, &small,
					 &e));
	memcpy(w, ref.w0, sizeof w);
	round_avg(0, avg);
	RF_ASSERT_OK(agg_strategy_apply(yogi, w, avg, 1, &e));
	RF_ASSERT_OK(agg_strategy_state_save(yogi, yogi_path, &e));
	RF_ASSERT_OK(agg_strategy_state_save(small, small_path, &e));

	/* another strategy */
	RF_ASSERT_RC(agg_strategy_state_load(adam, yogi_path, &e),
		     RF_EPROTO);
	assert_non_null(strstr(e.msg, "'fedyogi', not 'fedadam'"));
	/* another length */
	RF_ASSERT_RC(agg_strategy_state_load(adam, small_path, &e),
		     RF_EPROTO);
	assert_non_null(strstr(e.msg, "36 elements, not 37"));
	/* no file */
	RF_ASSERT_RC(agg_strategy_state_load(adam, missing, &e),
		     RF_ENOTFOUND);

	/* a NaN in a state vector */
	for (size_t i = 0; i < LEN; i++)
		nan_v[i] = 1.0f;
	nan_v[5] = NAN;
	RF_ASSERT_OK(rf_h5_create(nan_path, &h, &e));
	RF_ASSERT_OK(rf_h5_attr_set_str(h, "/", "strategy", "fedadam", &e));
	RF_ASSERT_OK(rf_h5_attr_set_i64(h, "/", "length", LEN, &e));
	RF_ASSERT_OK(rf_h5_attr_set_i64(h, "/", "round", 4, &e));
	RF_ASSERT_OK(rf_h5_write(h, "/state/m", &ti, nan_v, NULL, &e));
	nan_v[5] = 1.0f;
	nan_v[LEN - 1] = INFINITY;
	RF_ASSERT_OK(rf_h5_write(h, "/state/v", &ti, nan_v, NULL, &e));
	RF_ASSERT_OK(rf_h5_commit(h, &e));
	rf_h5_close(h);
	h = NULL;
	/* m[5] is NaN, v[36] infinite: the first one found is named */
	RF_ASSERT_RC(agg_strategy_state_load(adam, nan_path, &e), RF_EPROTO);
	assert_non_null(strstr(e.msg, "m[5] is not finite"));

	/* an HDF5 file that is not a state file */
	RF_ASSERT_OK(rf_h5_create(bad_path, &h, &e));
	RF_ASSERT_OK(rf_h5_write(h, "/params/x", &ti, nan_v, NULL, &e));
	RF_ASSERT_OK(rf_h5_commit(h, &e));
	rf_h5_close(h);
	RF_ASSERT_RC(agg_strategy_state_load(adam, bad_path, &e), RF_EPROTO);
	assert_non_null(strstr(e.msg, "not a strategy state file"));

	/* every refusal left the instance as it was */
	assert_fresh_adam(adam);

	/* and the yogi file does load into a yogi instance */
	agg_strategy_destroy(yogi);
	yogi = NULL;
	RF_ASSERT_OK(agg_strategy_create("fedyogi", LEN, NULL, 0, &yogi, &e));
	RF_ASSERT_OK(agg_strategy_state_load(yogi, yogi_path, &e));
	assert_int_equal(yogi->round, 1);
	agg_strategy_destroy(adam);
	agg_strategy_destroy(yogi);
	agg_strategy_destroy(small);
}

/* ---- registry ------------------------------------------------------------ */

static enum rf_rc half_apply(struct agg_strategy *s, float *w,
			     const float *d, uint64_t round, struct rf_err *e)
{
	(void)round;
	(void)e;
	for (size_t i = 0; i < s->len; i++)
		w[i] += 0.5f * d[i];
	return RF_OK;
}

static const struct agg_strategy_vtable half = {
	.abi_version = AGG_STRATEGY_ABI_VERSION,
	.name = "half",
	.summary = "half a fedavg step",
	.caps = AGG_STRATEGY_CAP_SUM_ONLY,
	.apply = half_apply,
};

static void test_registry(void **state)
{
	static const char *const builtin[] = {"fedavg", "fedavgm", "fedadam",
					      "fedyogi", "fedprox"};
	struct agg_strategy_vtable bad = half;
	struct agg_strategy *s = NULL;
	struct rf_err e = {0};
	char names[200];
	float w[LEN] = {0}, d[LEN];

	(void)state;
	for (size_t i = 0; i < 5; i++) {
		const struct agg_strategy_vtable *vt = agg_strategy_at(i);

		assert_non_null(vt);
		assert_string_equal(vt->name, builtin[i]);
		assert_ptr_equal(agg_strategy_find(builtin[i]), vt);
		assert_true(vt->caps & AGG_STRATEGY_CAP_SUM_ONLY);
	}
	assert_true(agg_strategy_find("fedprox")->caps &
		    AGG_STRATEGY_CAP_SITE_MU);
	assert_null(agg_strategy_find("krum"));
	assert_null(agg_strategy_find(NULL));
	assert_string_equal(agg_strategy_names(names, sizeof names),
			    "fedavg, fedavgm, fedadam, fedyogi, fedprox");
	/* truncated to whole names */
	assert_string_equal(agg_strategy_names(names, 18), "fedavg, fedavgm");

	RF_ASSERT_RC(agg_strategy_create("krum", LEN, NULL, 0, &s, &e),
		     RF_ENOTFOUND);
	assert_null(s);
	assert_string_equal(e.msg, "unknown strategy 'krum' (known: fedavg, "
				   "fedavgm, fedadam, fedyogi, fedprox)");

	/* refusals */
	bad.name = "fedavg";
	RF_ASSERT_RC(agg_strategy_register(&bad, &e), RF_EEXIST);
	bad = half;
	bad.abi_version = AGG_STRATEGY_ABI_VERSION + 1;
	RF_ASSERT_RC(agg_strategy_register(&bad, &e), RF_EUNSUPPORTED);
	bad = half;
	bad.caps = 0;
	RF_ASSERT_RC(agg_strategy_register(&bad, &e), RF_EUNSUPPORTED);
	assert_non_null(strstr(e.msg, "per-site deltas"));
	bad = half;
	bad.apply = NULL;
	RF_ASSERT_RC(agg_strategy_register(&bad, &e), RF_EINVAL);
	bad = half;
	bad.instance_size = 8;
	RF_ASSERT_RC(agg_strategy_register(&bad, &e), RF_EINVAL);
	assert_null(agg_strategy_find("half"));

	/* a plugin through the real registry */
	RF_ASSERT_OK(agg_strategy_register(&half, &e));
	RF_ASSERT_RC(agg_strategy_register(&half, &e), RF_EEXIST);
	assert_ptr_equal(agg_strategy_at(5), &half);
	assert_null(agg_strategy_at(6));
	RF_ASSERT_OK(agg_strategy_create("half", LEN, NULL, 0, &s, &e));
	for (size_t i = 0; i < LEN; i++)
		d[i] = (float)i;
	RF_ASSERT_OK(agg_strategy_apply(s, w, d, 1, &e));
	for (size_t i = 0; i < LEN; i++)
		assert_true(w[i] == 0.5f * (float)i);
	agg_strategy_destroy(s);
}

/* ---- hyper-parameters and inputs ---------------------------------------- */

static void test_hparams(void **state)
{
	const struct agg_strategy_vtable *adam = agg_strategy_find("fedadam");
	double hp[AGG_STRATEGY_PARAMS_MAX] = {0}, mu = 0;
	struct agg_param kv[2];
	struct agg_strategy *s = NULL;
	struct rf_err e = {0};

	(void)state;
	RF_ASSERT_OK(agg_strategy_hparams(adam, NULL, 0, hp, &e));
	assert_true(hp[0] == 1e-2 && hp[1] == 0.9 && hp[2] == 0.99 &&
		    hp[3] == 1e-3);

	kv[0] = (struct agg_param){"beta1", 0.8};
	RF_ASSERT_RC(agg_strategy_hparams(adam, kv, 1, hp, &e), RF_EINVAL);
	assert_string_equal(e.msg, "strategy 'fedadam' has no parameter "
				   "'beta1' (did you mean 'beta_1'?)");
	assert_true(hp[1] == 0.9); /* unchanged */
	kv[0] = (struct agg_param){"learning_rate", 0.1};
	RF_ASSERT_RC(agg_strategy_hparams(adam, kv, 1, hp, &e), RF_EINVAL);
	assert_string_equal(e.msg, "strategy 'fedadam' has no parameter "
				   "'learning_rate' (known: eta, beta_1, "
				   "beta_2, tau)");
	kv[0] = (struct agg_param){"mu", 0.1};
	RF_ASSERT_RC(agg_strategy_create("fedavg", LEN, kv, 1, &s, &e),
		     RF_EINVAL);
	assert_null(s);
	assert_string_equal(e.msg, "strategy 'fedavg' has no parameter 'mu' "
				   "(known: eta)");

	kv[0] = (struct agg_param){"beta_2", 1.0};
	RF_ASSERT_RC(agg_strategy_hparams(adam, kv, 1, hp, &e), RF_EINVAL);
	assert_string_equal(e.msg, "strategy 'fedadam': parameter 'beta_2' = "
				   "1 outside [0, 1)");
	kv[0] = (struct agg_param){"eta", 0.0};
	RF_ASSERT_RC(agg_strategy_hparams(adam, kv, 1, hp, &e), RF_EINVAL);
	assert_non_null(strstr(e.msg, "'eta' = 0 outside (0, 100]"));
	kv[0] = (struct agg_param){"tau", NAN};
	RF_ASSERT_RC(agg_strategy_hparams(adam, kv, 1, hp, &e), RF_EINVAL);
	assert_non_null(strstr(e.msg, "'tau'"));
	kv[0] = (struct agg_param){"momentum", -0.1};
	RF_ASSERT_RC(agg_strategy_create("fedavgm", LEN, kv, 1, &s, &e),
		     RF_EINVAL);
	assert_non_null(strstr(e.msg, "'momentum' = -0.1 outside [0, 1)"));
	kv[0] = (struct agg_param){"eta", 0.1};
	kv[1] = (struct agg_param){"eta", 0.2};
	RF_ASSERT_RC(agg_strategy_hparams(adam, kv, 2, hp, &e), RF_EINVAL);
	assert_non_null(strstr(e.msg, "'eta' given twice"));

	/* fedprox's mu, for the sites */
	kv[0] = (struct agg_param){"mu", 0.25};
	RF_ASSERT_OK(agg_strategy_create("fedprox", LEN, kv, 1, &s, &e));
	RF_ASSERT_OK(agg_strategy_param(s, "mu", &mu, &e));
	assert_true(mu == 0.25);
	RF_ASSERT_OK(agg_strategy_param(s, "eta", &mu, &e));
	assert_true(mu == 1.0);
	RF_ASSERT_RC(agg_strategy_param(s, "tau", &mu, &e), RF_ENOTFOUND);
	agg_strategy_destroy(s);

	RF_ASSERT_RC(agg_strategy_create("fedavg", 0, NULL, 0, &s, &e),
		     RF_EINVAL);
	assert_null(s);
}

static void test_inputs(void **state)
{
	struct agg_strategy *s = NULL;
	struct agg_sum sum;
	struct rf_err e = {0};
	float w[LEN], d[LEN], keep[LEN];

	(void)state;
	for (size_t i = 0; i < LEN; i++)
		d[i] = 0.01f * (float)i;
	memcpy(w, ref.w0, sizeof w);

	/* no sample: no average (no 0/0) */
	RF_ASSERT_OK(agg_sum_init(&sum, LEN, &e));
	RF_ASSERT_RC(agg_sum_mean(&sum, d, &e), RF_EINVAL);
	assert_non_null(strstr(e.msg, "no samples"));
	RF_ASSERT_RC(agg_sum_add(&sum, d, 0, &e), RF_EINVAL);
	d[3] = NAN;
	RF_ASSERT_RC(agg_sum_add(&sum, d, 10, &e), RF_EINVAL);
	assert_string_equal(e.msg, "delta[3] is not finite (nan)");
	assert_int_equal(sum.samples, 0);
	assert_int_equal(sum.sites, 0);
	d[3] = 0.03f;
	RF_ASSERT_RC(agg_sum_add(&sum, d, AGG_SAMPLES_MAX + 1, &e),
		     RF_EINVAL);
	RF_ASSERT_OK(agg_sum_add(&sum, d, 4, &e));
	agg_sum_release(&sum);
	agg_sum_release(&sum); /* twice is fine */
	agg_sum_release(NULL);
	RF_ASSERT_RC(agg_sum_init(&sum, 0, &e), RF_EINVAL);
	agg_sum_release(&sum);

	/* non-finite inputs of a step, named, and nothing changes */
	RF_ASSERT_OK(agg_strategy_create("fedadam", LEN, NULL, 0, &s, &e));
	d[7] = INFINITY;
	memcpy(keep, w, sizeof keep);
	RF_ASSERT_RC(agg_strategy_apply(s, w, d, 1, &e), RF_EINVAL);
	assert_string_equal(e.msg, "strategy 'fedadam' round 1: average "
				   "delta[7] is not finite (inf)");
	d[7] = 0.07f;
	w[2] = NAN;
	RF_ASSERT_RC(agg_strategy_apply(s, w, d, 1, &e), RF_EINVAL);
	assert_non_null(strstr(e.msg, "weights[2] is not finite"));
	w[2] = keep[2];
	assert_memory_equal(w, keep, sizeof w);
	assert_fresh_adam(s);
	RF_ASSERT_RC(agg_strategy_apply(s, w, d, 0, &e), RF_EINVAL);
	RF_ASSERT_OK(agg_strategy_apply(s, w, d, 3, &e));
	RF_ASSERT_RC(agg_strategy_apply(s, w, d, 3, &e), RF_EINVAL);
	assert_string_equal(e.msg, "strategy 'fedadam': round 3 does not "
				   "follow round 3");
	RF_ASSERT_OK(agg_strategy_apply(s, w, d, 5, &e)); /* 4 aborted */
	agg_strategy_destroy(s);
	agg_strategy_destroy(NULL);
}

/* ---- allocation failures ------------------------------------------------- */

static void test_oom(void **state)
{
	const char *dir = rf_test_tmpdir("aggregator_strategy_oom");
	struct agg_strategy *s = NULL, *t = NULL;
	struct agg_param kv[1] = {{"beta_1", 0.5}};
	struct agg_sum sum;
	struct rf_err e = {0};
	float w[LEN], avg[LEN];
	char path[600];
	enum rf_rc rc;

	(void)state;
	snprintf(path, sizeof path, "%s/state.h5", dir);
	RF_TEST_OOM_LOOP(rc,
			 rc = agg_strategy_create("fedyogi", LEN, kv, 1, &s,
						  &e),
			 (agg_strategy_destroy(s), s = NULL));
	RF_TEST_OOM_LOOP(rc, rc = agg_sum_init(&sum, LEN, &e),
			 agg_sum_release(&sum));

	/* a state file after one round, loaded with failing allocations */
	RF_ASSERT_OK(agg_strategy_create("fedyogi", LEN, kv, 1, &s, &e));
	memcpy(w, ref.w0, sizeof w);
	round_avg(0, avg);
	RF_ASSERT_OK(agg_strategy_apply(s, w, avg, 1, &e));
	RF_ASSERT_OK(agg_strategy_state_save(s, path, &e));
	RF_ASSERT_OK(agg_strategy_create("fedyogi", LEN, kv, 1, &t, &e));
	RF_TEST_OOM_LOOP(rc,
			 do {
				 rc = agg_strategy_state_load(t, path, &e);
				 if (rc)
					 assert_int_equal(t->round, 0);
			 } while (0),
			 (void)0);
	assert_int_equal(t->round, 1);
	assert_memory_equal(t->state[0], s->state[0], LEN * sizeof(float));
	assert_memory_equal(t->state[1], s->state[1], LEN * sizeof(float));
	agg_strategy_destroy(s);
	agg_strategy_destroy(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_weighted_average),
		cmocka_unit_test(test_every_strategy),
		cmocka_unit_test(test_restart),
		cmocka_unit_test(test_state_refusals),
		cmocka_unit_test(test_registry),
		cmocka_unit_test(test_hparams),
		cmocka_unit_test(test_inputs),
		cmocka_unit_test(test_oom),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
