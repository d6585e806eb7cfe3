/*
 * test_config.c - YAML configuration loading, getters, schema and limits.
 *
 * Every position asserted below was counted by hand in the fixture text
 * (tests/common/data/config/); the syntax error's text and marks are
 * libyaml's own (also what PyYAML's CLoader reports for the same file).
 */
#include "rf_test.h"

#include <math.h>

#include "rf_config.h"

#define DATA RF_TEST_SRCDIR "/tests/common/data/config/"

static struct rf_cfg *load_ok(const char *name)
{
	struct rf_err e = {0};
	struct rf_cfg *cfg = NULL;

	RF_ASSERT_OK_E(rf_cfg_load_file(&cfg, name, NULL, &e), &e);
	assert_non_null(cfg);
	return cfg;
}

/* Loads a fixture expecting failure rc and the message DATA name ": " rest
 * (the display name is the path as given). */
static void load_fails(const char *name, enum rf_rc rc, const char *rest)
{
	struct rf_err e = {0};
	struct rf_cfg *cfg = (struct rf_cfg *)&e; /* must be reset to NULL */
	char path[512], want[512];

	snprintf(path, sizeof path, DATA "%s", name);
	snprintf(want, sizeof want, "%s%s", path, rest);
	RF_ASSERT_RC(rf_cfg_load_file(&cfg, path, NULL, &e), rc);
	assert_null(cfg);
	assert_int_equal(e.rc, rc);
	assert_string_equal(e.msg, want);
}

static void test_site_values(void **state)
{
	struct rf_cfg *cfg = load_ok(DATA "site.yaml");
	const struct rf_cfg_node *root = rf_cfg_root(cfg), *n;
	static const char *const optims[] = {"sgd", "adam", "fedprox", NULL};
	struct rf_err e = {0};
	const char *s = NULL;
	int64_t i = 0, ms = 0;
	uint64_t sz = 0;
	double d = 0;
	bool b = false;
	int which = -1;
	char path[64];

	(void)state;
	assert_string_equal(rf_cfg_name(cfg), DATA "site.yaml");
	assert_int_equal(root->kind, RF_CFG_MAP);
	assert_int_equal(root->count, 4);
	assert_int_equal(root->line, 2);
	assert_int_equal(root->column, 1);

	RF_ASSERT_OK_E(rf_cfg_get_str(root, "site.name", RF_CFG_REQUIRED, &s,
				      &e), &e);
	assert_string_equal(s, "chu-lyon");
	RF_ASSERT_OK_E(rf_cfg_get_str(root, "site.store", RF_CFG_REQUIRED, &s,
				      &e), &e);
	assert_string_equal(s, "/var/lib/radfed");
	n = rf_cfg_find(root, "site.store");
	assert_non_null(n);
	assert_false(n->plain);
	assert_int_equal(n->line, 4);
	assert_int_equal(n->column, 10);

	RF_ASSERT_OK_E(rf_cfg_get_int(root, "training.epochs", 1, 1000,
				      RF_CFG_REQUIRED, &i, &e), &e);
	assert_int_equal(i, 20);
	n = rf_cfg_find(root, "training.epochs");
	assert_int_equal(n->line, 6);
	assert_int_equal(n->column, 11);
	assert_string_equal(rf_cfg_node_path(n, path, sizeof path),
			    "training.epochs");
	RF_ASSERT_OK_E(rf_cfg_get_int(root, "training.batch_size", 1, 4096,
				      RF_CFG_REQUIRED, &i, &e), &e);
	assert_int_equal(i, 32);
	RF_ASSERT_OK_E(rf_cfg_get_double(root, "training.lr", 0, 1,
					 RF_CFG_REQUIRED, &d, &e), &e);
	assert_true(d == 1e-3);
	RF_ASSERT_OK_E(rf_cfg_get_double(root, "training.momentum", 0, 1,
					 RF_CFG_REQUIRED, &d, &e), &e);
	assert_true(d == 0.9);
	RF_ASSERT_OK_E(rf_cfg_get_bool(root, "training.augment",
				       RF_CFG_REQUIRED, &b, &e), &e);
	assert_true(b);
	RF_ASSERT_OK_E(rf_cfg_get_bool(root, "training.shuffle",
				       RF_CFG_REQUIRED, &b, &e), &e);
	assert_false(b);
	RF_ASSERT_OK_E(rf_cfg_get_enum(root, "training.optimizer", optims,
				       RF_CFG_REQUIRED, &which, &e), &e);
	assert_int_equal(which, 1);

	RF_ASSERT_OK_E(rf_cfg_get_duration(root, "round.timeout", 1000,
					   3600000, RF_CFG_REQUIRED, &ms, &e),
		       &e);
	assert_int_equal(ms, 30000);
	RF_ASSERT_OK_E(rf_cfg_get_duration(root, "round.retention", 0,
					   INT64_MAX, RF_CFG_REQUIRED, &ms,
					   &e), &e);
	assert_int_equal(ms, 7 * 24 * 3600 * 1000LL);
	RF_ASSERT_OK_E(rf_cfg_get_size(root, "round.max_upload", 0,
				       UINT64_MAX, RF_CFG_REQUIRED, &sz, &e),
		       &e);
	assert_int_equal(sz, 512ULL * 1024 * 1024);
	RF_ASSERT_OK_E(rf_cfg_get_size(root, "round.chunk", 0, UINT64_MAX,
				       RF_CFG_REQUIRED, &sz, &e), &e);
	assert_int_equal(sz, 512000);
	assert_true(rf_cfg_is_null(rf_cfg_find(root, "round.comment")));

	/* sequences, indexes, paths */
	n = rf_cfg_find(root, "peers");
	assert_int_equal(n->kind, RF_CFG_SEQ);
	assert_int_equal(n->count, 2);
	assert_int_equal(n->line, 20);
	assert_int_equal(n->column, 3);
	RF_ASSERT_OK_E(rf_cfg_get_str(root, "peers[1].name", RF_CFG_REQUIRED,
				      &s, &e), &e);
	assert_string_equal(s, "beta");
	n = rf_cfg_find(root, "peers[1].name");
	assert_int_equal(n->line, 22);
	assert_int_equal(n->column, 11);
	assert_string_equal(rf_cfg_node_path(n, path, sizeof path),
			    "peers[1].name");
	/* exactly fits (13 + NUL), then one byte short: cut with "..." */
	assert_string_equal(rf_cfg_node_path(n, path, 14), "peers[1].name");
	assert_string_equal(rf_cfg_node_path(n, path, 13), "peers[1]....");
	assert_string_equal(rf_cfg_node_path(n, path, 8), "peer...");
	assert_string_equal(rf_cfg_node_path(root, path, sizeof path), "");
	RF_ASSERT_OK_E(rf_cfg_get_int(n->parent, "weight", -10, 10,
				      RF_CFG_REQUIRED, &i, &e), &e);
	assert_int_equal(i, -2);
	n = rf_cfg_find(root, "peers[0]");
	assert_int_equal(n->line, 20);
	assert_int_equal(n->column, 5);
	assert_ptr_equal(rf_cfg_child(rf_cfg_child(root, "site"), "name"),
			 rf_cfg_find(root, "site.name"));

	/* absent paths */
	assert_null(rf_cfg_find(root, "peers[2]"));
	assert_null(rf_cfg_find(root, "training.nope"));
	assert_null(rf_cfg_find(root, "training..lr"));
	assert_null(rf_cfg_find(root, "training.lr.x"));
	assert_null(rf_cfg_find(root, "[0]"));
	assert_null(rf_cfg_find(root, "peers[x]"));
	assert_null(rf_cfg_find(root, "peers[1]name"));
	assert_null(rf_cfg_find(root, "peers]"));
	assert_null(rf_cfg_find(root, "peers[99999999999999999999999]"));
	assert_ptr_equal(rf_cfg_find(rf_cfg_find(root, "peers"), "[0].name"),
			 rf_cfg_find(root, "peers[0].name"));
	assert_ptr_equal(rf_cfg_find(root, ""), root);

	/* collections by kind */
	n = NULL;
	RF_ASSERT_OK_E(rf_cfg_get_node(root, "peers", RF_CFG_SEQ,
				       RF_CFG_REQUIRED, &n, &e), &e);
	assert_int_equal(n->count, 2);
	RF_ASSERT_RC(rf_cfg_get_node(root, "peers", RF_CFG_MAP,
				     RF_CFG_REQUIRED, &n, &e), RF_ECONFIG);
	assert_string_equal(e.msg, DATA "site.yaml:20:3: 'peers' must be a "
			    "mapping, got a sequence");
	RF_ASSERT_RC(rf_cfg_get_node(root, "site.name", RF_CFG_SEQ,
				     RF_CFG_REQUIRED, &n, &e), RF_ECONFIG);
	assert_string_equal(e.msg, DATA "site.yaml:3:9: 'site.name' must be a "
			    "sequence, got 'chu-lyon'");
	RF_ASSERT_RC(rf_cfg_get_node(root, "labels", RF_CFG_SEQ,
				     RF_CFG_REQUIRED, &n, &e), RF_ECONFIG);
	assert_string_equal(e.msg, DATA "site.yaml:2:1: missing required key "
			    "'labels'");
	RF_ASSERT_OK(rf_cfg_get_node(root, "labels", 0, RF_CFG_OPTIONAL, &n,
				     &e));
	assert_int_equal(n->count, 2);
	RF_ASSERT_RC(rf_cfg_get_node(root, "a..b", 0, RF_CFG_OPTIONAL, &n,
				     &e), RF_EINVAL);
	assert_string_equal(e.msg, "malformed key path 'a..b'");

	/* optional and absent: untouched, RF_OK */
	i = 77;
	RF_ASSERT_OK_E(rf_cfg_get_int(root, "training.warmup", 0, 10,
				      RF_CFG_OPTIONAL, &i, &e), &e);
	assert_int_equal(i, 77);
	rf_cfg_destroy(cfg);
}

static const struct rf_cfg_key site_keys[] = {
	{"name", RF_CFG_REQUIRED, NULL},
	{"store", RF_CFG_OPTIONAL, NULL},
	{NULL, 0, NULL},
};
static const struct rf_cfg_key training_keys[] = {
	{"epochs", RF_CFG_REQUIRED, NULL},
	{"batch_size", 0, NULL},
	{"lr", 0, NULL},
	{"momentum", 0, NULL},
	{"augment", 0, NULL},
	{"shuffle", 0, NULL},
	{"optimizer", 0, NULL},
	{NULL, 0, NULL},
};
static const struct rf_cfg_key peer_keys[] = {
	{"name", RF_CFG_REQUIRED, NULL},
	{"weight", 0, NULL},
	{NULL, 0, NULL},
};
static const struct rf_cfg_key top_keys[] = {
	{"site", RF_CFG_REQUIRED, site_keys},
	{"training", 0, training_keys},
	{"round", 0, NULL},
	{"peers", 0, peer_keys},
	{NULL, 0, NULL},
};

static void test_schema(void **state)
{
	static const struct rf_cfg_key strict_peers[] = {
		{"name", 0, NULL},
		{NULL, 0, NULL},
	};
	static const struct rf_cfg_key top2[] = {
		{"site", 0, NULL}, {"training", 0, NULL}, {"round", 0, NULL},
		{"peers", 0, strict_peers}, {NULL, 0, NULL},
	};
	static const struct rf_cfg_key top3[] = {
		{"site", 0, NULL}, {"training", 0, NULL}, {"round", 0, NULL},
		{"peers", 0, NULL}, {"version", RF_CFG_REQUIRED, NULL},
		{NULL, 0, NULL},
	};
	static const struct rf_cfg_key top4[] = {
		{"site", 0, site_keys}, {"training", 0, NULL},
		{"round", 0, top_keys}, {"peers", 0, NULL}, {NULL, 0, NULL},
	};
	struct rf_cfg *cfg = load_ok(DATA "site.yaml");
	struct rf_err e = {0};

	(void)state;
	RF_ASSERT_OK_E(rf_cfg_check_keys(rf_cfg_root(cfg), top_keys, &e), &e);

	/* inside a sequence of mappings: peers[0].weight at 21:5 */
	RF_ASSERT_RC(rf_cfg_check_keys(rf_cfg_root(cfg), top2, &e),
		     RF_ECONFIG);
	assert_string_equal(e.msg, DATA "site.yaml:21:5: unknown key "
			    "'peers[0].weight'; expected: name");
	/* a required key missing at the top level (mapping at 2:1) */
	RF_ASSERT_RC(rf_cfg_check_keys(rf_cfg_root(cfg), top3, &e),
		     RF_ECONFIG);
	assert_string_equal(e.msg, DATA "site.yaml:2:1: missing required key "
			    "'version'");
	/* 'round' checked against a table that knows none of its keys:
	 * round.timeout at 14:3 */
	RF_ASSERT_RC(rf_cfg_check_keys(rf_cfg_root(cfg), top4, &e),
		     RF_ECONFIG);
	assert_string_equal(e.msg, DATA "site.yaml:14:3: unknown key "
			    "'round.timeout'; expected: site, training, "
			    "round, peers");
	rf_cfg_destroy(cfg);
}

static void test_schema_typo(void **state)
{
	struct rf_cfg *cfg = load_ok(DATA "typo.yaml");
	struct rf_err e = {0};

	(void)state;
	RF_ASSERT_RC(rf_cfg_check_keys(rf_cfg_root(cfg), top_keys, &e),
		     RF_ECONFIG);
	assert_string_equal(e.msg, DATA "typo.yaml:5:3: unknown key "
			    "'training.epcohs' (did you mean 'epochs'?); "
			    "expected: epochs, batch_size, lr, momentum, "
			    "augment, shuffle, optimizer");
	rf_cfg_destroy(cfg);
}

static void test_type_errors(void **state)
{
	static const char *const optims[] = {"sgd", "adam", NULL};
	struct rf_cfg *cfg = load_ok(DATA "types.yaml");
	const struct rf_cfg_node *root = rf_cfg_root(cfg);
	struct rf_err e = {0};
	int64_t i = 5, ms = 5;
	uint64_t sz = 5;
	double d = 5;
	bool b = true;
	int which = 5;
	const char *s = "untouched";

	(void)state;
	RF_ASSERT_RC(rf_cfg_get_int(root, "training.epochs", 1, 1000,
				    RF_CFG_REQUIRED, &i, &e), RF_ECONFIG);
	assert_string_equal(e.msg, DATA "types.yaml:4:11: 'training.epochs' "
			    "must be an integer in [1, 1000], got 'ten'");
	RF_ASSERT_RC(rf_cfg_get_int(root, "training.batch_size", 1, 16,
				    RF_CFG_REQUIRED, &i, &e), RF_ECONFIG);
	assert_string_equal(e.msg, DATA "types.yaml:3:15: "
			    "'training.batch_size' must be an integer in "
			    "[1, 16], got '32'");
	assert_int_equal(i, 5);
	RF_ASSERT_RC(rf_cfg_get_double(root, "training.lr", 0, 1,
				       RF_CFG_REQUIRED, &d, &e), RF_ECONFIG);
	assert_string_equal(e.msg, DATA "types.yaml:5:7: 'training.lr' must "
			    "be a number in [0, 1], got 'fast'");
	assert_true(d == 5);
	RF_ASSERT_RC(rf_cfg_get_bool(root, "training.augment",
				     RF_CFG_REQUIRED, &b, &e), RF_ECONFIG);
	assert_string_equal(e.msg, DATA "types.yaml:6:12: 'training.augment' "
			    "must be true, false, yes or no, got 'maybe'");
	assert_true(b);
	RF_ASSERT_RC(rf_cfg_get_enum(root, "training.optimizer", optims,
				     RF_CFG_REQUIRED, &which, &e), RF_ECONFIG);
	assert_string_equal(e.msg, DATA "types.yaml:7:14: "
			    "'training.optimizer' must be one of sgd, adam, "
			    "got 'adamw'");
	assert_int_equal(which, 5);
	RF_ASSERT_RC(rf_cfg_get_duration(root, "round.timeout", 1000,
					 3600000, RF_CFG_REQUIRED, &ms, &e),
		     RF_ECONFIG);
	assert_string_equal(e.msg, DATA "types.yaml:9:12: 'round.timeout' "
			    "must be a duration (e.g. 30s, 24h) in [1s, 1h], "
			    "got '30 s'");
	RF_ASSERT_RC(rf_cfg_get_size(root, "round.max_upload", 1024,
				     1ULL << 30, RF_CFG_REQUIRED, &sz, &e),
		     RF_ECONFIG);
	assert_string_equal(e.msg, DATA "types.yaml:10:15: 'round.max_upload' "
			    "must be a size (e.g. 512k, 1MiB) in [1KiB, 1GiB], "
			    "got '2GiB'");
	assert_int_equal(sz, 5);
	RF_ASSERT_RC(rf_cfg_get_duration(root, "round.retention", 0,
					 86400000, RF_CFG_REQUIRED, &ms, &e),
		     RF_ECONFIG);
	assert_string_equal(e.msg, DATA "types.yaml:11:14: 'round.retention' "
			    "must be a duration (e.g. 30s, 24h) in [0ms, 1d], "
			    "got a mapping");
	assert_int_equal(ms, 5);
	RF_ASSERT_RC(rf_cfg_get_str(root, "round", RF_CFG_REQUIRED, &s, &e),
		     RF_ECONFIG);
	assert_string_equal(e.msg, DATA "types.yaml:9:3: 'round' must be a "
			    "string, got a mapping");
	assert_string_equal(s, "untouched");
	/* a step through a scalar */
	RF_ASSERT_RC(rf_cfg_get_int(root, "training.epochs.max", 0, 1,
				    RF_CFG_REQUIRED, &i, &e), RF_ECONFIG);
	assert_string_equal(e.msg, DATA "types.yaml:4:11: 'training.epochs' "
			    "must be a mapping, got 'ten'");
	/* missing keys: the position of the deepest mapping that exists */
	RF_ASSERT_RC(rf_cfg_get_int(root, "training.warmup", 0, 10,
				    RF_CFG_REQUIRED, &i, &e), RF_ECONFIG);
	assert_string_equal(e.msg, DATA "types.yaml:3:3: missing required key "
			    "'training.warmup'");
	RF_ASSERT_RC(rf_cfg_get_int(rf_cfg_find(root, "round"), "a.b", 0, 10,
				    RF_CFG_REQUIRED, &i, &e), RF_ECONFIG);
	assert_string_equal(e.msg, DATA "types.yaml:9:3: missing required key "
			    "'round.a.b'");
	assert_int_equal(i, 5);
	rf_cfg_destroy(cfg);
}

/* Getter syntax on in-memory documents. */
static void test_scalar_syntax(void **state)
{
	static const char doc[] =
		"a: -9223372036854775808\n"
		"b: 9223372036854775808\n"
		"c: 0x7fffffffffffffff\n"
		"d: 1.5e3\n"
		"e: nan\n"
		"f: 1_000\n"
		"g: ''\n"
		"h:\n"
		"i: YES\n"
		"j: 'on'\n"
		"k: \" 12\"\n"
		"l: inf\n";
	struct rf_cfg *cfg = NULL;
	struct rf_err e = {0};
	const struct rf_cfg_node *r;
	const char *s;
	int64_t i;
	double d;
	bool b;

	(void)state;
	RF_ASSERT_OK_E(rf_cfg_load_string(&cfg, "t.yaml", doc, strlen(doc),
					  NULL, &e), &e);
	r = rf_cfg_root(cfg);
	RF_ASSERT_OK(rf_cfg_get_int(r, "a", INT64_MIN, INT64_MAX, 1, &i, &e));
	assert_true(i == INT64_MIN);
	RF_ASSERT_RC(rf_cfg_get_int(r, "b", INT64_MIN, INT64_MAX, 1, &i, &e),
		     RF_ECONFIG);
	assert_string_equal(e.msg, "t.yaml:2:4: 'b' must be an integer in "
			    "[-9223372036854775808, 9223372036854775807], got "
			    "'9223372036854775808'");
	RF_ASSERT_OK(rf_cfg_get_int(r, "c", INT64_MIN, INT64_MAX, 1, &i, &e));
	assert_true(i == INT64_MAX);
	RF_ASSERT_OK(rf_cfg_get_double(r, "d", 0, 1e4, 1, &d, &e));
	assert_true(d == 1500.0);
	RF_ASSERT_RC(rf_cfg_get_double(r, "e", -1e300, 1e300, 1, &d, &e),
		     RF_ECONFIG);
	RF_ASSERT_RC(rf_cfg_get_double(r, "l", -INFINITY, INFINITY, 1, &d,
				       &e), RF_ECONFIG);
	RF_ASSERT_RC(rf_cfg_get_int(r, "f", 0, 10000, 1, &i, &e), RF_ECONFIG);
	/* a quoted empty string is a string, an empty plain value is null */
	RF_ASSERT_OK(rf_cfg_get_str(r, "g", 1, &s, &e));
	assert_string_equal(s, "");
	RF_ASSERT_RC(rf_cfg_get_str(r, "h", 1, &s, &e), RF_ECONFIG);
	assert_string_equal(e.msg, "t.yaml:8:3: 'h' must be a string, got "
			    "nothing");
	RF_ASSERT_OK(rf_cfg_get_bool(r, "i", 1, &b, &e));
	assert_true(b);
	RF_ASSERT_RC(rf_cfg_get_bool(r, "j", 1, &b, &e), RF_ECONFIG);
	RF_ASSERT_RC(rf_cfg_get_int(r, "k", 0, 100, 1, &i, &e), RF_ECONFIG);
	rf_cfg_destroy(cfg);
}

static void test_parse_units(void **state)
{
	static const struct {
		const char *s;
		int64_t ms;
	} durs[] = {
		{"0", 0},          {"500ms", 500},        {"30s", 30000},
		{"15m", 900000},   {"24h", 86400000},      {"7d", 604800000},
		{"106751991167d", 106751991167LL * 86400000},
	};
	static const struct {
		const char *s;
		uint64_t v;
	} sizes[] = {
		{"0", 0},
		{"17", 17},
		{"17B", 17},
		{"512k", 512000},
		{"512K", 512000},
		{"2kB", 2000},
		{"1MiB", 1048576},
		{"1Mi", 1048576},
		{"3MB", 3000000},
		{"1GiB", 1073741824},
		{"2G", 2000000000},
		{"1TiB", 1099511627776ULL},
		{"16777215TiB", 16777215ULL * 1099511627776ULL},
	};
	static const char *const bad[] = {"", "s", "10", "-1s", "1.5h",
					  "1 s", "1sec", "1S", "0x10s"};
	static const char *const bad_sizes[] = {"", "k", "-1", "1.5MiB",
						"1 MiB", "1mib", "1KIB", "1b"};
	struct rf_err e = {0};
	int64_t ms;
	uint64_t v;

	(void)state;
	for (size_t i = 0; i < sizeof durs / sizeof *durs; i++) {
		RF_ASSERT_OK(rf_cfg_parse_duration(durs[i].s, &ms, &e));
		assert_int_equal(ms, durs[i].ms);
	}
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		RF_ASSERT_RC(rf_cfg_parse_duration(bad[i], &ms, &e),
			     RF_EINVAL);
	assert_string_equal(e.msg, "invalid duration '0x10s'");
	/* INT64_MAX ms is 106751991167 days and a bit */
	RF_ASSERT_RC(rf_cfg_parse_duration("106751991168d", &ms, &e),
		     RF_ETOOBIG);
	RF_ASSERT_RC(rf_cfg_parse_duration("99999999999999999999s", &ms, &e),
		     RF_ETOOBIG);
	for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
		RF_ASSERT_OK(rf_cfg_parse_size(sizes[i].s, &v, &e));
		assert_int_equal(v, sizes[i].v);
	}
	for (size_t i = 0; i < sizeof bad_sizes / sizeof *bad_sizes; i++)
		RF_ASSERT_RC(rf_cfg_parse_size(bad_sizes[i], &v, &e),
			     RF_EINVAL);
	/* 2^64 / 2^40 = 2^24 = 16777216 TiB does not fit */
	RF_ASSERT_RC(rf_cfg_parse_size("16777216TiB", &v, &e), RF_ETOOBIG);
	RF_ASSERT_OK(rf_cfg_parse_size("18446744073709551615", &v, &e));
	assert_true(v == UINT64_MAX);
	RF_ASSERT_RC(rf_cfg_parse_size("18446744073709551616", &v, &e),
		     RF_ETOOBIG);
}

static void test_syntax_error(void **state)
{
	(void)state;
	load_fails("syntax.yaml", RF_ECONFIG,
		   ":4:9: did not find expected ',' or ']' (while parsing a "
		   "flow sequence at 3:10)");
}

static void test_duplicate_key(void **state)
{
	(void)state;
	load_fails("dup.yaml", RF_ECONFIG,
		   ":6:3: duplicate key 'training.epochs' (first defined at "
		   "4:3)");
}

static void test_alias_refused(void **state)
{
	struct rf_cfg *cfg = NULL;
	struct rf_err e = {0};
	static const char doc[] = "a: 1\nb: *x\n";

	(void)state;
	load_fails("alias.yaml", RF_ECONFIG,
		   ":1:4: anchors and aliases are not allowed");
	/* an alias alone (libyaml's parser does not resolve it) */
	RF_ASSERT_RC(rf_cfg_load_string(&cfg, "s.yaml", doc, strlen(doc),
					NULL, &e), RF_ECONFIG);
	assert_string_equal(e.msg,
			    "s.yaml:2:4: anchors and aliases are not allowed");
	assert_null(cfg);
}

static void test_depth_bomb(void **state)
{
	(void)state;
	load_fails("depth.yaml", RF_ETOOBIG,
		   ":1:38: nesting deeper than 32 levels");
}

static void test_empty(void **state)
{
	struct rf_cfg *cfg = NULL;
	struct rf_err e = {0};

	(void)state;
	load_fails("empty.yaml", RF_ECONFIG, ":1:1: configuration is empty");
	RF_ASSERT_RC(rf_cfg_load_string(&cfg, "c.yaml", "# nothing\n", 10,
					NULL, &e), RF_ECONFIG);
	assert_string_equal(e.msg, "c.yaml:1:1: configuration is empty");
	RF_ASSERT_RC(rf_cfg_load_string(&cfg, "d.yaml", "---\n", 4, NULL,
					&e), RF_ECONFIG);
	assert_string_equal(e.msg, "d.yaml:2:1: configuration is empty");
}

static void test_missing_file(void **state)
{
	struct rf_cfg *cfg = NULL;
	struct rf_err e = {0};

	(void)state;
	RF_ASSERT_RC(rf_cfg_load_file(&cfg, DATA "no-such.yaml", NULL, &e),
		     RF_ENOTFOUND);
	assert_string_equal(e.msg, "cannot open '" DATA "no-such.yaml': "
			    "No such file or directory");
	assert_null(cfg);
}

static void test_refused_constructs(void **state)
{
	static const struct {
		const char *doc, *msg;
		enum rf_rc rc;
	} cases[] = {
		{"- 1\n- 2\n",
		 "x.yaml:1:1: the top level must be a mapping, got a sequence",
		 RF_ECONFIG},
		{"plain\n",
		 "x.yaml:1:1: the top level must be a mapping, got 'plain'",
		 RF_ECONFIG},
		{"a: 1\n---\nb: 2\n",
		 "x.yaml:2:1: only one document is allowed", RF_ECONFIG},
		{"a: !!str 1\n", "x.yaml:1:4: tags are not allowed",
		 RF_ECONFIG},
		{"? [a, b]\n: 1\n", "x.yaml:1:3: mapping keys must be scalars",
		 RF_ECONFIG},
		{"a: 1\n\"a\": 2\n",
		 "x.yaml:2:1: duplicate key 'a' (first defined at 1:1)",
		 RF_ECONFIG},
		/* a tab where indentation is expected */
		{"a:\n\tb: 1\n",
		 "x.yaml:2:1: found character that cannot start any token "
		 "(while scanning for the next token at 2:1)", RF_ECONFIG},
		/* invalid UTF-8: libyaml reports a byte offset, shown as a
		 * position (the bad byte is the 4th character of line 2) */
		{"a: 1\nb: \xff\n",
		 "x.yaml:2:4: invalid leading UTF-8 octet", RF_ECONFIG},
	};
	struct rf_err e = {0};

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		struct rf_cfg *cfg = NULL;

		RF_ASSERT_RC(rf_cfg_load_string(&cfg, "x.yaml", cases[i].doc,
						strlen(cases[i].doc), NULL,
						&e), cases[i].rc);
		assert_string_equal(e.msg, cases[i].msg);
		assert_null(cfg);
	}
}

static void test_limits(void **state)
{
	const char *dir = rf_test_tmpdir("cfg_limits");
	struct rf_cfg_limits lim = {0, 0, 10};
	struct rf_cfg *cfg = NULL;
	struct rf_err e = {0};
	char path[600], want[700];
	size_t n = RF_CFG_MAX_BYTES + 1;
	char *big;
	FILE *f;

	(void)state;
	/* node count: a: [1..5] is 1 map + 1 key + 1 seq + 5 items = 8 */
	RF_ASSERT_OK(rf_cfg_load_string(&cfg, "n.yaml", "a: [1, 2, 3, 4, 5]",
					18, &lim, &e));
	rf_cfg_destroy(cfg);
	/* ... and three more make 11: the 11th node, "8", at 1:26 */
	RF_ASSERT_RC(rf_cfg_load_string(&cfg, "n.yaml",
					"a: [1, 2, 3, 4, 5, 6, 7, 8]", 27,
					&lim, &e), RF_ETOOBIG);
	assert_string_equal(e.msg, "n.yaml:1:26: more than 10 nodes");

	/* size: a file of exactly the limit loads, one byte more does not */
	big = malloc(n);
	assert_non_null(big);
	memset(big, ' ', n);
	memcpy(big, "a: 1\n#", 6);
	big[n - 1] = '\n';
	snprintf(path, sizeof path, "%s/big.yaml", dir);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(big, 1, n - 1, f), n - 1);
	fclose(f);
	RF_ASSERT_OK_E(rf_cfg_load_file(&cfg, path, NULL, &e), &e);
	rf_cfg_destroy(cfg);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(big, 1, n, f), n);
	fclose(f);
	RF_ASSERT_RC(rf_cfg_load_file(&cfg, path, NULL, &e), RF_ETOOBIG);
	snprintf(want, sizeof want, "'%s' is larger than 1048576 bytes",
		 path);
	assert_string_equal(e.msg, want);
	assert_null(cfg);
	RF_ASSERT_RC(rf_cfg_load_string(&cfg, "s.yaml", big, n, NULL, &e),
		     RF_ETOOBIG);
	assert_string_equal(e.msg, "'s.yaml' is larger than 1048576 bytes");
	free(big);

	/* a directory is not a file */
	RF_ASSERT_RC(rf_cfg_load_file(&cfg, dir, NULL, &e), RF_EIO);
	snprintf(want, sizeof want, "cannot read '%s': Is a directory", dir);
	assert_string_equal(e.msg, want);
}

/* Every prefix of site.yaml, and site.yaml with each byte replaced by a
 * YAML indicator or a bad byte: loads or fails cleanly with a positioned
 * message (ASan/UBSan builds check the memory side). */
static void test_mutations(void **state)
{
	static const char subst[] = "[]{}:&*!|>'\"#-?\t\n\xff\x01 ";
	char *text = NULL, *copy;
	size_t len = 0;
	FILE *f = fopen(DATA "site.yaml", "rb");
	struct rf_err e;

	(void)state;
	assert_non_null(f);
	text = calloc(1, 4096);
	assert_non_null(text);
	len = fread(text, 1, 4095, f);
	fclose(f);
	copy = malloc(len + 1);
	assert_non_null(copy);
	for (size_t i = 0; i <= len; i++) {
		for (size_t k = 0; k <= sizeof subst - 1; k++) {
			struct rf_cfg *cfg = NULL;
			size_t n = len;
			enum rf_rc rc;

			memcpy(copy, text, len);
			if (k == sizeof subst - 1)
				n = i; /* the prefix of length i */
			else if (i < len)
				copy[i] = subst[k];
			else
				continue;
			rf_err_clear(&e);
			rc = rf_cfg_load_string(&cfg, "m.yaml", copy, n, NULL,
						&e);
			if (rc == RF_OK) {
				assert_non_null(rf_cfg_root(cfg));
				rf_cfg_destroy(cfg);
				continue;
			}
			assert_null(cfg);
			if (rc != RF_ECONFIG && rc != RF_ETOOBIG)
				fail_msg("offset %zu byte %zu: %s", i, k,
					 rf_rc_name(rc));
			if (strncmp(e.msg, "m.yaml:", 7) != 0)
				fail_msg("offset %zu byte %zu: '%s'", i, k,
					 e.msg);
		}
	}
	free(copy);
	free(text);
}

static void test_oom(void **state)
{
	struct rf_cfg *cfg = NULL;
	enum rf_rc rc = RF_OK;

	(void)state;
	RF_TEST_OOM_LOOP(rc,
			 rc = rf_cfg_load_file(&cfg, DATA "site.yaml", NULL,
					       NULL),
			 rf_cfg_destroy(cfg));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_site_values),
		cmocka_unit_test(test_schema),
		cmocka_unit_test(test_schema_typo),
		cmocka_unit_test(test_type_errors),
		cmocka_unit_test(test_scalar_syntax),
		cmocka_unit_test(test_parse_units),
		cmocka_unit_test(test_syntax_error),
		cmocka_unit_test(test_duplicate_key),
		cmocka_unit_test(test_alias_refused),
		cmocka_unit_test(test_depth_bomb),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_refused_constructs),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_mutations),
		cmocka_unit_test(test_oom),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
