/* test_spec.c - round specs: validation, messages, canonical identity. */
#include "rf_test.h"

#include "pol_spec.h"
#include "rf_buf.h"
#include "trn_optim.h"

#define EXAMPLE RF_TEST_SRCDIR "/docs/examples/round.yaml"

/* docs/examples/round.yaml, by tests/policies/data/canonical_ref.py */
static const char example_canonical[] =
	"{\"input\": {\"channels\": 1, \"height\": 64, \"width\": 64}, "
	"\"labels\": [\"normal\", \"pneumothorax\"], \"local\": {\"batch\": "
	"32, \"epochs\": 2, \"lr\": 0.001, \"momentum\": 0, \"optimizer\": "
	"\"adam\", \"prox-mu\": 0.01, \"weight-decay\": 0.0001}, "
	"\"max-wait\": \"1800000ms\", \"min-sites\": 3, \"model\": "
	"\"cnn-small\", \"name\": \"Pneumothorax triage, chest X-ray, "
	"pilot\", \"rounds\": 20, \"seed\": 42, \"strategy\": {\"name\": "
	"\"fedprox\", \"params\": {\"eta\": 1}}, \"val-fraction\": "
	"0.2}";
static const char example_hash[] =
	"19fc733a7ace69023034ddddcef8c542da26b143b5a4503218fd90cb8c66f98c";

static const char minimal[] = "name: m\n"
			      "model: cnn-small\n"
			      "input: 1x64x64\n"
			      "labels: [a, b]\n";

static struct pol_spec *parse_ok(const char *text)
{
	struct pol_spec *sp = NULL;
	struct rf_err e = { 0 };

	RF_ASSERT_OK_E(pol_spec_parse(&sp, "r.yaml", text, strlen(text), &e),
		       &e);
	assert_non_null(sp);
	return sp;
}

static void hash_of(const char *text, char hex[65])
{
	struct pol_spec *sp = parse_ok(text);
	uint8_t d[RF_SHA256_LEN];
	struct rf_err e = { 0 };

	RF_ASSERT_OK_E(pol_spec_hash(sp, d, hex, &e), &e);
	pol_spec_destroy(sp);
}

static void parse_fails(const char *text, enum rf_rc want, const char *msg)
{
	struct pol_spec *sp = (struct pol_spec *)1;
	struct rf_err e = { 0 };
	enum rf_rc rc = pol_spec_parse(&sp, "r.yaml", text, strlen(text), &e);

	if (rc != want)
		fail_msg("%s: got %s (%s), want %s", text, rf_rc_name(rc),
			 e.msg, rf_rc_name(want));
	assert_null(sp);
	if (msg && strcmp(e.msg, msg) != 0)
		fail_msg("for:\n%s\ngot  '%s'\nwant '%s'", text, e.msg, msg);
}

static void test_example(void **state)
{
	struct pol_spec *sp = NULL;
	struct rf_err e = { 0 };
	struct rf_buf b = RF_BUF_INIT(POL_SPEC_CANONICAL_MAX);
	uint8_t d[RF_SHA256_LEN];
	char hex[65];

	(void)state;
	RF_ASSERT_OK_E(pol_spec_parse_file(&sp, EXAMPLE, &e), &e);
	assert_string_equal(sp->name,
			    "Pneumothorax triage, chest X-ray, pilot");
	assert_string_equal(sp->model, "cnn-small");
	assert_int_equal(sp->channels, 1);
	assert_int_equal(sp->height, 64);
	assert_int_equal(sp->width, 64);
	assert_int_equal(sp->nlabels, 2);
	assert_string_equal(sp->labels[1], "pneumothorax");
	assert_int_equal(sp->local.epochs, 2);
	assert_int_equal(sp->local.batch, 32);
	assert_true(sp->local.lr == 1e-3);
	assert_int_equal(sp->local.optimizer, TRN_OPTIM_ADAM);
	assert_true(sp->local.weight_decay == 1e-4);
	assert_true(sp->local.prox_mu == 0.01);
	assert_int_equal(sp->rounds, 20);
	assert_int_equal(sp->min_sites, 3);
	assert_int_equal(sp->max_wait_ms, 1800000);
	assert_int_equal(sp->strategy, POL_STRATEGY_FEDPROX);
	assert_int_equal(sp->nparams, 1);
	assert_string_equal(sp->params[0].name, "eta");
	assert_true(sp->params[0].value == 1.0);
	assert_true(sp->val_fraction == 0.2);
	assert_int_equal(sp->seed, 42);
	RF_ASSERT_OK_E(pol_spec_canonical(sp, &b, &e), &e);
	assert_string_equal(rf_buf_str(&b), example_canonical);
	RF_ASSERT_OK_E(pol_spec_hash(sp, d, hex, &e), &e);
	assert_string_equal(hex, example_hash);
	rf_buf_release(&b);
	pol_spec_destroy(sp);
}

static void test_minimal_defaults(void **state)
{
	struct pol_spec *sp = parse_ok(minimal);

	(void)state;
	assert_int_equal(sp->local.epochs, 1);
	assert_int_equal(sp->local.batch, 32);
	assert_true(sp->local.lr == 0.01);
	assert_int_equal(sp->local.optimizer, TRN_OPTIM_SGD);
	assert_true(sp->local.momentum == 0 && sp->local.prox_mu == 0);
	assert_int_equal(sp->rounds, 10);
	assert_int_equal(sp->min_sites, 1);
	assert_int_equal(sp->max_wait_ms, 3600000);
	assert_int_equal(sp->strategy, POL_STRATEGY_FEDAVG);
	assert_int_equal(sp->nparams, 0);
	assert_true(sp->val_fraction == 0.1);
	assert_int_equal(sp->seed, 0);
	pol_spec_destroy(sp);
}

/* Parameters are kept sorted by name; the list order is the class
 * index. */
static void test_params_and_labels(void **state)
{
	struct pol_spec *sp = parse_ok(
		"name: p\nmodel: resnet-mini\ninput: {channels: 1, height: "
		"128, width: 96}\nlabels: [z, a, m]\nstrategy:\n  name: "
		"fedyogi\n  params: {tau: 1e-3, beta2: 0.99, beta1: -0.5, "
		"eta: 16}\n");

	(void)state;
	assert_int_equal(sp->height, 128);
	assert_int_equal(sp->width, 96);
	assert_int_equal(sp->strategy, POL_STRATEGY_FEDYOGI);
	assert_int_equal(sp->nparams, 4);
	assert_string_equal(sp->params[0].name, "beta1");
	assert_true(sp->params[0].value == -0.5);
	assert_string_equal(sp->params[1].name, "beta2");
	assert_string_equal(sp->params[2].name, "eta");
	assert_true(sp->params[2].value == 16);
	assert_string_equal(sp->params[3].name, "tau");
	assert_true(sp->params[3].value == 1e-3);
	assert_string_equal(sp->labels[0], "z");
	assert_string_equal(sp->labels[2], "m");
	pol_spec_destroy(sp);
}

static void test_errors(void **state)
{
	static const struct {
		const char *yaml, *msg;
	} cases[] = {
		{ "name: m\nmodel: cnn-small\ninput: 1x64x64\nlabels: [a, "
		  "b]\nrouns: 3\n",
		  "r.yaml:5:1: unknown key 'rouns' (did you mean 'rounds'?)"
		  "; expected: name, model, input, labels, local, rounds, "
		  "min-sites, max-wait, strategy, val-fraction, seed" },
		{ "model: cnn-small\ninput: 1x64x64\nlabels: [a, b]\n",
		  "r.yaml:1:1: missing required key 'name'" },
		{ "name: m\nmodel: vgg16\ninput: 1x64x64\nlabels: [a, b]\n",
		  "r.yaml:2:8: unknown model 'vgg16' (known: cnn-small, "
		  "resnet-mini)" },
		{ "name: m\nmodel: cnn-small\ninput: 1x32x32\nlabels: [a, "
		  "b]\n",
		  "r.yaml:3:8: input 1x32x32 does not suit model "
		  "'cnn-small': 'cnn-small' takes inputs from 64x64 to "
		  "256x256, not 32x32" },
		{ "name: m\nmodel: cnn-small\ninput: 3x64x64\nlabels: [a, "
		  "b]\n",
		  "r.yaml:3:8: input 3x64x64 does not suit model "
		  "'cnn-small': 'cnn-small' takes 1 input channel, not 3" },
		{ "name: m\nmodel: cnn-small\ninput: 64x64\nlabels: [a, b]\n",
		  "r.yaml:3:8: 'input' must be CxHxW (e.g. 1x64x64) with "
		  "sides 1 to 4096, or a mapping of channels, height and "
		  "width, got '64x64'" },
		{ "name: m\nmodel: cnn-small\ninput: {channels: 1, height: "
		  "64}\nlabels: [a, b]\n",
		  "r.yaml:3:8: missing required key 'input.width'" },
		{ "name: m\nmodel: cnn-small\ninput: 1x64x64\nlabels: [a]\n",
		  "r.yaml:4:9: 'labels' must list 2 to 1024 class names, "
		  "got 1" },
		{ "name: m\nmodel: cnn-small\ninput: 1x64x64\nlabels: [a, b, "
		  "a]\n",
		  "r.yaml:4:16: 'labels[2]' repeats 'a' of labels[0]" },
		{ "name: m\nmodel: cnn-small\ninput: 1x64x64\nlabels: a\n",
		  "r.yaml:4:9: 'labels' must be a sequence, got 'a'" },
		{ "name: \"\"\nmodel: cnn-small\ninput: 1x64x64\nlabels: [a, "
		  "b]\n",
		  "r.yaml:1:7: 'name' must be 1 to 128 bytes, got 0" },
		{ "name: \"a\\tb\"\nmodel: cnn-small\ninput: 1x64x64\nlabels: "
		  "[a, b]\n",
		  "r.yaml:1:7: 'name' must not contain control characters" },
		{ "name: m\nmodel: cnn-small\ninput: 1x64x64\nlabels: [a, "
		  "b]\nlocal:\n  epochs: 0\n",
		  "r.yaml:6:11: 'local.epochs' must be an integer in "
		  "[1, 1000], got '0'" },
		{ "name: m\nmodel: cnn-small\ninput: 1x64x64\nlabels: [a, "
		  "b]\nlocal:\n  lr: 0\n",
		  "r.yaml:6:7: 'local.lr' must be a number in (0, 10], "
		  "got '0'" },
		{ "name: m\nmodel: cnn-small\ninput: 1x64x64\nlabels: [a, "
		  "b]\nlocal:\n  optimizer: adamw\n",
		  "r.yaml:6:14: 'local.optimizer' must be one of sgd, adam, "
		  "got 'adamw'" },
		{ "name: m\nmodel: cnn-small\ninput: 1x64x64\nlabels: [a, "
		  "b]\nlocal:\n  momentum: 1\n",
		  "r.yaml:6:13: 'local.momentum' must be a number in [0, 1), "
		  "got '1'" },
		{ "name: m\nmodel: cnn-small\ninput: 1x64x64\nlabels: [a, "
		  "b]\nlocal:\n  epoch: 3\n",
		  "r.yaml:6:3: unknown key 'local.epoch' (did you mean "
		  "'epochs'?); expected: epochs, batch, lr, optimizer, "
		  "momentum, weight-decay, prox-mu" },
		{ "name: m\nmodel: cnn-small\ninput: 1x64x64\nlabels: [a, "
		  "b]\nrounds: 1001\n",
		  "r.yaml:5:9: 'rounds' must be an integer in [1, 1000], "
		  "got '1001'" },
		{ "name: m\nmodel: cnn-small\ninput: 1x64x64\nlabels: [a, "
		  "b]\nmin-sites: 0\n",
		  "r.yaml:5:12: 'min-sites' must be an integer in "
		  "[1, 10000], got '0'" },
		{ "name: m\nmodel: cnn-small\ninput: 1x64x64\nlabels: [a, "
		  "b]\nmax-wait: 10\n",
		  "r.yaml:5:11: 'max-wait' must be a duration (e.g. 30s, "
		  "24h) in [1s, 7d], got '10'" },
		{ "name: m\nmodel: cnn-small\ninput: 1x64x64\nlabels: [a, "
		  "b]\nstrategy: fedsgd\n",
		  "r.yaml:5:11: 'strategy' must be one of fedavg, fedavgm, "
		  "fedadam, fedyogi, fedprox, got 'fedsgd'" },
		{ "name: m\nmodel: cnn-small\ninput: 1x64x64\nlabels: [a, "
		  "b]\nstrategy: {name: fedadam, params: {eta: fast}}\n",
		  "r.yaml:5:41: 'strategy.params.eta' must be a finite "
		  "number, got 'fast'" },
		{ "name: m\nmodel: cnn-small\ninput: 1x64x64\nlabels: [a, "
		  "b]\nstrategy: {name: fedadam, params: {Eta: 1}}\n",
		  "r.yaml:5:36: strategy parameter 'Eta' must be 1 to 32 "
		  "characters of a-z, 0-9, '-' and '_'" },
		{ "name: m\nmodel: cnn-small\ninput: 1x64x64\nlabels: [a, "
		  "b]\nstrategy: {nam: fedadam}\n",
		  "r.yaml:5:12: unknown key 'strategy.nam' (did you mean "
		  "'name'?); expected: name, params" },
		{ "name: m\nmodel: cnn-small\ninput: 1x64x64\nlabels: [a, "
		  "b]\nval-fraction: 0.6\n",
		  "r.yaml:5:15: 'val-fraction' must be a number in "
		  "[0, 0.5], got '0.6'" },
		{ "name: m\nmodel: cnn-small\ninput: 1x64x64\nlabels: [a, "
		  "b]\nseed: -1\n",
		  "r.yaml:5:7: 'seed' must be an integer in "
		  "[0, 9007199254740992], got '-1'" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++)
		parse_fails(cases[i].yaml, RF_ECONFIG, cases[i].msg);
}

/* The same spec, written differently, has the same identity; any change
 * of value changes it. */
static void test_canonical_identity(void **state)
{
	static const char base[] =
		"name: x\nmodel: cnn-small\ninput: 1x64x64\nlabels: [a, b]\n"
		"local: {lr: 0.001, epochs: 2}\nstrategy: {name: fedadam, "
		"params: {eta: 0.01, tau: 1e-9}}\n";
	static const char *const same[] = {
		/* reordered keys, comments, block style, other spellings */
		"# a comment\nstrategy:\n  params:\n    tau: 0.000000001\n"
		"    eta: 1e-2   # server lr\n  name: fedadam\nlocal:\n"
		"  epochs: 2\n  lr: 1e-3\nlabels:\n  - a\n  - b\n"
		"input: {width: 64, height: 64, channels: 1}\n"
		"model: \"cnn-small\"\nname: 'x'\n",
		/* defaults written out */
		"name: x\nmodel: cnn-small\ninput: 1x64x64\nlabels: [a, b]\n"
		"local: {lr: 1.0e-3, epochs: 2, batch: 32, optimizer: sgd, "
		"momentum: 0, weight-decay: 0.0, prox-mu: -0}\nrounds: 10\n"
		"min-sites: 1\nmax-wait: 60m\nval-fraction: .1\nseed: 0\n"
		"strategy: {name: fedadam, params: {tau: 1E-9, eta: "
		"0.0100}}\n",
	};
	static const char *const other[] = {
		"name: y\nmodel: cnn-small\ninput: 1x64x64\nlabels: [a, b]\n"
		"local: {lr: 0.001, epochs: 2}\nstrategy: {name: fedadam, "
		"params: {eta: 0.01, tau: 1e-9}}\n",
		"name: x\nmodel: cnn-small\ninput: 1x64x64\nlabels: [b, a]\n"
		"local: {lr: 0.001, epochs: 2}\nstrategy: {name: fedadam, "
		"params: {eta: 0.01, tau: 1e-9}}\n",
		"name: x\nmodel: cnn-small\ninput: 1x64x64\nlabels: [a, b]\n"
		"local: {lr: 0.0011, epochs: 2}\nstrategy: {name: fedadam, "
		"params: {eta: 0.01, tau: 1e-9}}\n",
		"name: x\nmodel: cnn-small\ninput: 1x64x64\nlabels: [a, b]\n"
		"local: {lr: 0.001, epochs: 2}\nstrategy: {name: fedadam, "
		"params: {eta: 0.01, tau: 1e-8}}\n",
		"name: x\nmodel: cnn-small\ninput: 1x64x64\nlabels: [a, b]\n"
		"local: {lr: 0.001, epochs: 2}\nstrategy: {name: fedyogi, "
		"params: {eta: 0.01, tau: 1e-9}}\n",
		"name: x\nmodel: cnn-small\ninput: 1x64x64\nlabels: [a, b]\n"
		"local: {lr: 0.001, epochs: 2}\nstrategy: {name: fedadam, "
		"params: {eta: 0.01, tau: 1e-9}}\nseed: 1\n",
		"name: x\nmodel: resnet-mini\ninput: 1x64x64\nlabels: [a, "
		"b]\nlocal: {lr: 0.001, epochs: 2}\nstrategy: {name: "
		"fedadam, params: {eta: 0.01, tau: 1e-9}}\n",
	};
	char h0[65], h[65], seen[8][65];
	size_t i, j;

	(void)state;
	hash_of(base, h0);
	for (i = 0; i < sizeof same / sizeof same[0]; i++) {
		hash_of(same[i], h);
		assert_string_equal(h, h0);
	}
	for (i = 0; i < sizeof other / sizeof other[0]; i++) {
		hash_of(other[i], seen[i]);
		assert_string_not_equal(seen[i], h0);
		for (j = 0; j < i; j++)
			assert_string_not_equal(seen[i], seen[j]);
	}
}

/* The canonical form parses back to the same canonical form, including
 * names that need escaping. */
static void test_roundtrip(void **state)
{
	static const char *const specs[] = {
		minimal,
		"name: 'say \"hi\" \\ caf\xc3\xa9'\nmodel: cnn-small\n"
		"input: 1x256x64\nlabels: ['a: b', \"c\\\\d\", '[e]']\n"
		"local: {lr: 0.1, momentum: 0.9}\nval-fraction: 0.3\n"
		"strategy: {name: fedavgm, params: {momentum: 0.7, "
		"big: 1e300, tiny: -4.9e-324}}\nmax-wait: 1500ms\n"
		"seed: 9007199254740992\n",
	};
	struct rf_buf a = RF_BUF_INIT(POL_SPEC_CANONICAL_MAX);
	struct rf_buf b = RF_BUF_INIT(POL_SPEC_CANONICAL_MAX);
	struct pol_spec *sp, *sq = NULL;
	struct rf_err e = { 0 };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof specs / sizeof specs[0]; i++) {
		sp = parse_ok(specs[i]);
		rf_buf_reset(&a);
		rf_buf_reset(&b);
		RF_ASSERT_OK_E(pol_spec_canonical(sp, &a, &e), &e);
		RF_ASSERT_OK_E(pol_spec_parse(&sq, "c.json",
					      (const char *)a.data, a.len, &e),
			       &e);
		RF_ASSERT_OK_E(pol_spec_canonical(sq, &b, &e), &e);
		assert_string_equal(rf_buf_str(&a), rf_buf_str(&b));
		assert_string_equal(sq->name, sp->name);
		assert_string_equal(sq->labels[1], sp->labels[1]);
		pol_spec_destroy(sp);
		pol_spec_destroy(sq);
		sq = NULL;
	}
	rf_buf_release(&a);
	rf_buf_release(&b);
}

/* A short buffer fails with RF_ETOOBIG and keeps what it held. */
static void test_canonical_cap(void **state)
{
	struct pol_spec *sp = parse_ok(minimal);
	struct rf_buf b = RF_BUF_INIT(64);
	struct rf_err e = { 0 };

	(void)state;
	RF_ASSERT_OK(rf_buf_puts(&b, "keep", &e));
	RF_ASSERT_RC(pol_spec_canonical(sp, &b, &e), RF_ETOOBIG);
	assert_string_equal(rf_buf_str(&b), "keep");
	rf_buf_release(&b);
	pol_spec_destroy(sp);
}

static void test_hostile(void **state)
{
	struct rf_buf big = RF_BUF_INIT((size_t)4 << 20);
	struct rf_err e = { 0 };
	size_t i;

	(void)state;
	parse_fails("name: &n m\nmodel: cnn-small\ninput: 1x64x64\n"
		    "labels: [*n, b]\n",
		    RF_ECONFIG,
		    "r.yaml:1:7: anchors and aliases are not allowed");
	parse_fails("name: !!str m\nmodel: cnn-small\n", RF_ECONFIG, NULL);
	parse_fails("name: m\nname: n\n", RF_ECONFIG, NULL);
	parse_fails("", RF_ECONFIG, "r.yaml:1:1: configuration is empty");
	parse_fails("- a\n- b\n", RF_ECONFIG, NULL);
	/* deep nesting, inside a key the schema would refuse anyway */
	RF_ASSERT_OK(rf_buf_puts(&big, "name: ", &e));
	for (i = 0; i < 100; i++)
		RF_ASSERT_OK(rf_buf_putc(&big, '[', &e));
	parse_fails(rf_buf_str(&big), RF_ETOOBIG,
		    "r.yaml:1:38: nesting deeper than 32 levels");
	/* a document over 1 MiB */
	rf_buf_reset(&big);
	RF_ASSERT_OK(rf_buf_puts(&big, "name: m\nmodel: cnn-small\n"
				 "input: 1x64x64\nlabels:\n", &e));
	while (big.len <= ((size_t)1 << 20))
		RF_ASSERT_OK(rf_buf_puts(&big, "  - some-class-name\n", &e));
	parse_fails(rf_buf_str(&big), RF_ETOOBIG, NULL);
	/* too many labels, but a small document */
	rf_buf_reset(&big);
	RF_ASSERT_OK(rf_buf_puts(&big, "name: m\nmodel: cnn-small\n"
				 "input: 1x64x64\nlabels: [", &e));
	for (i = 0; i < 1025; i++)
		RF_ASSERT_OK(rf_buf_printf(&big, &e, "%sc%zu", i ? "," : "",
					   i));
	RF_ASSERT_OK(rf_buf_puts(&big, "]\n", &e));
	parse_fails(rf_buf_str(&big), RF_ECONFIG,
		    "r.yaml:4:9: 'labels' must list 2 to 1024 class names, "
		    "got 1025");
	/* too many strategy parameters */
	rf_buf_reset(&big);
	RF_ASSERT_OK(rf_buf_puts(&big, "name: m\nmodel: cnn-small\n"
				 "input: 1x64x64\nlabels: [a, b]\n"
				 "strategy: {name: fedavg, params: {", &e));
	for (i = 0; i < 17; i++)
		RF_ASSERT_OK(rf_buf_printf(&big, &e, "%sp%zu: 1",
					   i ? ", " : "", i));
	RF_ASSERT_OK(rf_buf_puts(&big, "}}\n", &e));
	parse_fails(rf_buf_str(&big), RF_ECONFIG,
		    "r.yaml:5:34: 'strategy.params' has 17 entries, at most "
		    "16 allowed");
	rf_buf_release(&big);
}

static void test_missing_file(void **state)
{
	struct pol_spec *sp = NULL;
	struct rf_err e = { 0 };

	(void)state;
	RF_ASSERT_RC(pol_spec_parse_file(&sp, RF_TEST_SRCDIR "/no/such.yaml",
					 &e), RF_ENOTFOUND);
	assert_null(sp);
	RF_ASSERT_RC(pol_spec_parse(NULL, "x", "a: 1", 4, &e), RF_EINVAL);
	pol_spec_destroy(NULL);
}

static void test_oom(void **state)
{
	struct pol_spec *sp = NULL;
	struct rf_err e = { 0 };
	uint8_t d[RF_SHA256_LEN];
	char hex[65];
	enum rf_rc rc;

	(void)state;
	RF_TEST_OOM_LOOP(rc, rc = pol_spec_parse_file(&sp, EXAMPLE, &e), {
		pol_spec_destroy(sp);
		sp = NULL;
	});
	sp = parse_ok(minimal);
	RF_TEST_OOM_LOOP(rc, rc = pol_spec_hash(sp, d, hex, &e), {});
	pol_spec_destroy(sp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_example),
		cmocka_unit_test(test_minimal_defaults),
		cmocka_unit_test(test_params_and_labels),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_canonical_identity),
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_canonical_cap),
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_oom),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
