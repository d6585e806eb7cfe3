/* test_policy.c - site policies: loading, hashing, evaluation. */
#include "rf_test.h"

#include "pol_policy.h"
#include "rf_crypto.h"
#include "rf_file.h"

#define EXAMPLE RF_TEST_SRCDIR "/docs/examples/policy.yaml"

static const char spec_ok[] = "name: s\nmodel: cnn-small\ninput: 1x64x64\n"
			      "labels: [a, b]\nrounds: 20\nmin-sites: 3\n"
			      "local: {epochs: 2}\nstrategy: fedavg\n";

static struct pol_spec *spec_of(const char *text)
{
	struct pol_spec *sp = NULL;
	struct rf_err e = { 0 };

	RF_ASSERT_OK_E(pol_spec_parse(&sp, "r.yaml", text, strlen(text), &e),
		       &e);
	return sp;
}

static struct pol_policy *policy_of(const char *text)
{
	struct pol_policy *p = NULL;
	struct rf_err e = { 0 };

	RF_ASSERT_OK_E(pol_policy_parse(&p, "p.yaml", text, strlen(text), &e),
		       &e);
	return p;
}

static void policy_fails(const char *text, const char *msg)
{
	struct pol_policy *p = (struct pol_policy *)1;
	struct rf_err e = { 0 };

	RF_ASSERT_RC(pol_policy_parse(&p, "p.yaml", text, strlen(text), &e),
		     RF_ECONFIG);
	assert_null(p);
	if (strcmp(e.msg, msg) != 0)
		fail_msg("got  '%s'\nwant '%s'", e.msg, msg);
}

/* The example loads; its hash is the SHA-256 of the file's bytes, computed
 * here independently of the policy code. */
static void test_example(void **state)
{
	struct rf_buf b = RF_BUF_INIT(1 << 20);
	struct pol_policy *p = NULL;
	struct pol_spec *sp;
	struct pol_decision d;
	struct rf_err e = { 0 };
	uint8_t dg[RF_SHA256_LEN];
	char hex[65];

	(void)state;
	RF_ASSERT_OK_E(pol_policy_load(&p, EXAMPLE, &e), &e);
	assert_true(p->accept);
	assert_int_equal(p->nresearchers, 2);
	assert_string_equal(p->researchers[1], "dr-dubois.aphp");
	assert_false(p->any_model);
	assert_int_equal(p->nmodels, 2);
	assert_int_equal(p->max_rounds, 50);
	assert_int_equal(p->max_local_epochs, 5);
	assert_int_equal(p->min_sites, 3);
	assert_int_equal(p->strategies,
			 (1u << POL_STRATEGY_FEDAVG) |
				 (1u << POL_STRATEGY_FEDPROX) |
				 (1u << POL_STRATEGY_FEDADAM));
	RF_ASSERT_OK(rf_file_read(EXAMPLE, &b, &e));
	RF_ASSERT_OK(rf_sha256(b.data, b.len, dg, &e));
	RF_ASSERT_OK(rf_hex_encode(dg, sizeof dg, hex, sizeof hex, &e));
	assert_string_equal(pol_policy_hash(p), hex);
	/* and accepts the example round of its researchers */
	sp = NULL;
	RF_ASSERT_OK_E(pol_spec_parse_file(&sp, RF_TEST_SRCDIR
					   "/docs/examples/round.yaml", &e),
		       &e);
	RF_ASSERT_OK(pol_policy_evaluate(p, sp, "dr-martin.chu-lyon", &d,
					 &e));
	assert_true(d.accepted);
	assert_int_equal(d.nreasons, 0);
	assert_string_equal(d.policy_hash, hex);
	RF_ASSERT_OK(pol_policy_evaluate(p, sp, "dr-evil", &d, &e));
	assert_false(d.accepted);
	assert_int_equal(d.failed, POL_RULE_RESEARCHER);
	pol_spec_destroy(sp);
	pol_policy_destroy(p);
	rf_buf_release(&b);
}

static void test_defaults_and_star(void **state)
{
	struct pol_policy *p = policy_of("accept: yes\nresearchers: ['*']\n");
	struct pol_spec *sp = spec_of(spec_ok);
	struct pol_decision d;
	struct rf_err e = { 0 };

	(void)state;
	assert_true(p->any_model);
	assert_int_equal(p->max_rounds, 1000);
	assert_int_equal(p->min_sites, 1);
	RF_ASSERT_OK(pol_policy_evaluate(p, sp, "anyone", &d, &e));
	assert_true(d.accepted);
	/* "*" does not admit a caller without a name */
	RF_ASSERT_OK(pol_policy_evaluate(p, sp, "", &d, &e));
	assert_false(d.accepted);
	assert_string_equal(d.reasons[0],
			    "researcher '' is not in the allow-list");
	RF_ASSERT_RC(pol_policy_evaluate(p, sp, NULL, &d, &e), RF_EINVAL);
	pol_spec_destroy(sp);
	pol_policy_destroy(p);
}

/* Each rule alone declines with its reason; all failing rules are listed
 * in a fixed order. */
static void test_matrix(void **state)
{
	static const char allow[] =
		"accept: true\nresearchers: [alice]\nmodels: [cnn-small]\n"
		"strategies: [fedavg]\nmax-rounds: 20\nmax-local-epochs: 2\n"
		"min-sites: 3\n";
	static const struct {
		const char *policy, *spec, *cn;
		unsigned rule;
		const char *reason;
	} cases[] = {
		{ "accept: false\nresearchers: [alice]\n", spec_ok, "alice",
		  POL_RULE_ACCEPT,
		  "the site accepts no rounds (accept: false)" },
		{ allow, spec_ok, "bob", POL_RULE_RESEARCHER,
		  "researcher 'bob' is not in the allow-list" },
		{ allow,
		  "name: s\nmodel: resnet-mini\ninput: 1x64x64\nlabels: [a, "
		  "b]\nrounds: 20\nmin-sites: 3\nlocal: {epochs: 2}\n",
		  "alice", POL_RULE_MODEL,
		  "model 'resnet-mini' is not allowed" },
		{ allow,
		  "name: s\nmodel: cnn-small\ninput: 1x64x64\nlabels: [a, "
		  "b]\nrounds: 20\nmin-sites: 3\nlocal: {epochs: 2}\n"
		  "strategy: fedyogi\n",
		  "alice", POL_RULE_STRATEGY,
		  "strategy 'fedyogi' is not allowed (allowed: fedavg)" },
		{ allow,
		  "name: s\nmodel: cnn-small\ninput: 1x64x64\nlabels: [a, "
		  "b]\nrounds: 21\nmin-sites: 3\nlocal: {epochs: 2}\n",
		  "alice", POL_RULE_ROUNDS,
		  "21 rounds exceed the site's maximum of 20" },
		{ allow,
		  "name: s\nmodel: cnn-small\ninput: 1x64x64\nlabels: [a, "
		  "b]\nrounds: 20\nmin-sites: 3\nlocal: {epochs: 3}\n",
		  "alice", POL_RULE_EPOCHS,
		  "3 local epochs exceed the site's maximum of 2" },
		{ allow,
		  "name: s\nmodel: cnn-small\ninput: 1x64x64\nlabels: [a, "
		  "b]\nrounds: 20\nmin-sites: 2\nlocal: {epochs: 2}\n",
		  "alice", POL_RULE_MIN_SITES,
		  "min-sites 2 is below the site's floor of 3" },
	};
	struct pol_policy *p;
	struct pol_spec *sp;
	struct pol_decision d;
	struct rf_err e = { 0 };
	size_t i;

	(void)state;
	/* the boundary values pass */
	p = policy_of(allow);
	sp = spec_of(spec_ok);
	RF_ASSERT_OK(pol_policy_evaluate(p, sp, "alice", &d, &e));
	assert_true(d.accepted);
	assert_int_equal(d.failed, 0);
	pol_spec_destroy(sp);
	pol_policy_destroy(p);
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		p = policy_of(cases[i].policy);
		sp = spec_of(cases[i].spec);
		RF_ASSERT_OK(pol_policy_evaluate(p, sp, cases[i].cn, &d, &e));
		assert_false(d.accepted);
		assert_int_equal(d.failed, cases[i].rule);
		assert_int_equal(d.nreasons, 1);
		assert_string_equal(d.reasons[0], cases[i].reason);
		pol_spec_destroy(sp);
		pol_policy_destroy(p);
	}
}

static void test_all_reasons(void **state)
{
	struct pol_policy *p = policy_of(
		"accept: false\nresearchers: [alice]\nmodels: [cnn-small]\n"
		"strategies: [fedavg, fedprox]\nmax-rounds: 5\n"
		"max-local-epochs: 1\nmin-sites: 4\n");
	struct pol_spec *sp = spec_of(
		"name: s\nmodel: resnet-mini\ninput: 1x64x64\nlabels: [a, b]\n"
		"rounds: 6\nmin-sites: 3\nlocal: {epochs: 2}\n"
		"strategy: fedadam\n");
	static const char *const want[] = {
		"the site accepts no rounds (accept: false)",
		"researcher 'mallory' is not in the allow-list",
		"model 'resnet-mini' is not allowed",
		"strategy 'fedadam' is not allowed (allowed: fedavg, fedprox)",
		"6 rounds exceed the site's maximum of 5",
		"2 local epochs exceed the site's maximum of 1",
		"min-sites 3 is below the site's floor of 4",
	};
	struct pol_decision d, d2;
	struct rf_err e = { 0 };
	size_t i;

	(void)state;
	RF_ASSERT_OK(pol_policy_evaluate(p, sp, "mallory", &d, &e));
	assert_false(d.accepted);
	assert_int_equal(d.failed, (1u << POL_RULE_COUNT) - 1);
	assert_int_equal(d.nreasons, POL_RULE_COUNT);
	for (i = 0; i < POL_RULE_COUNT; i++)
		assert_string_equal(d.reasons[i], want[i]);
	/* deterministic */
	RF_ASSERT_OK(pol_policy_evaluate(p, sp, "mallory", &d2, &e));
	assert_memory_equal(&d, &d2, sizeof d);
	pol_spec_destroy(sp);
	pol_policy_destroy(p);
}

/* The hash covers the bytes: a comment changes it, the verdict not. */
static void test_hash(void **state)
{
	struct pol_policy *a = policy_of("accept: true\nresearchers: [x]\n");
	struct pol_policy *b =
		policy_of("accept: true # on\nresearchers: [x]\n");

	(void)state;
	/* printf 'accept: true\nresearchers: [x]\n' | sha256sum */
	assert_string_equal(pol_policy_hash(a),
			    "3d741f8c25be6c149bc13213f4aeead50fca98dc60b4"
			    "d7a894b7514de38ca732");
	assert_string_not_equal(pol_policy_hash(a), pol_policy_hash(b));
	pol_policy_destroy(a);
	pol_policy_destroy(b);
}

static void test_errors(void **state)
{
	(void)state;
	policy_fails("accept: true\nresearcher: [x]\n",
		     "p.yaml:2:1: unknown key 'researcher' (did you mean "
		     "'researchers'?); expected: accept, researchers, models, "
		     "strategies, max-rounds, max-local-epochs, min-sites");
	policy_fails("researchers: [x]\n",
		     "p.yaml:1:1: missing required key 'accept'");
	policy_fails("accept: maybe\nresearchers: [x]\n",
		     "p.yaml:1:9: 'accept' must be true, false, yes or no, "
		     "got 'maybe'");
	policy_fails("accept: true\nresearchers: x\n",
		     "p.yaml:2:14: 'researchers' must be a sequence, got 'x'");
	policy_fails("accept: true\nresearchers: [x, {a: 1}]\n",
		     "p.yaml:2:18: 'researchers[1]' must be a string, got a "
		     "mapping");
	policy_fails("accept: true\nresearchers: [x]\nmodels: [vgg]\n",
		     "p.yaml:3:10: 'models[0]': unknown model 'vgg'");
	policy_fails("accept: true\nresearchers: [x]\nstrategies: [fedsgd]\n",
		     "p.yaml:3:14: 'strategies[0]' must be one of fedavg, "
		     "fedavgm, fedadam, fedyogi, fedprox, got 'fedsgd'");
	policy_fails("accept: true\nresearchers: [x]\nmax-rounds: 0\n",
		     "p.yaml:3:13: 'max-rounds' must be an integer in "
		     "[1, 1000], got '0'");
	policy_fails("accept: true\nresearchers: [x]\nmax-local-epochs: 1e3\n",
		     "p.yaml:3:19: 'max-local-epochs' must be an integer in "
		     "[1, 1000], got '1e3'");
	policy_fails("accept: true\nresearchers: [x]\nmin-sites: -1\n",
		     "p.yaml:3:12: 'min-sites' must be an integer in "
		     "[1, 10000], got '-1'");
	policy_fails("accept: &a true\nresearchers: [x]\n",
		     "p.yaml:1:9: anchors and aliases are not allowed");
}

static void test_load_errors(void **state)
{
	const char *dir = rf_test_tmpdir("policy_load");
	struct pol_policy *p = NULL;
	struct rf_err e = { 0 };
	char path[1024];
	FILE *f;
	size_t i;

	(void)state;
	snprintf(path, sizeof path, "%.900s/missing.yaml", dir);
	RF_ASSERT_RC(pol_policy_load(&p, path, &e), RF_EIO);
	assert_null(p);
	snprintf(path, sizeof path, "%.900s/big.yaml", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("accept: true\nresearchers:\n", f);
	for (i = 0; i < 70000; i++)
		fputs("  - someone\n", f);
	fclose(f);
	RF_ASSERT_RC(pol_policy_load(&p, path, &e), RF_ETOOBIG);
	assert_null(p);
}

static void test_oom(void **state)
{
	struct pol_policy *p = NULL;
	struct rf_err e = { 0 };
	enum rf_rc rc;

	(void)state;
	RF_TEST_OOM_LOOP(rc, rc = pol_policy_load(&p, EXAMPLE, &e), {
		pol_policy_destroy(p);
		p = NULL;
	});
	RF_TEST_OOM_LOOP(rc, rc = pol_policy_parse(&p, "s", "accept: no\n"
						   "researchers: ['*', a]\n"
						   "models: ['*']\n", 47, &e),
			 {
				 pol_policy_destroy(p);
				 p = NULL;
			 });
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_example),
		cmocka_unit_test(test_defaults_and_star),
		cmocka_unit_test(test_matrix),
		cmocka_unit_test(test_all_reasons),
		cmocka_unit_test(test_hash),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_load_errors),
		cmocka_unit_test(test_oom),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
