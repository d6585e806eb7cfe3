/* test_fed.c - a site's side of a round, without an aggregator: the signed
 * spec, the decision, the delta file, the checks at start of serve. */
#include "rf_test.h"

#include "node_fed.h"
#include "node_site.h"
#include "pol_policy.h"
#include "pol_spec.h"
#include "rf_buf.h"
#include "rf_crypto.h"
#include "rf_file.h"
#include "trn.h"
#include "trn_ckpt.h"

#define SPEC_EXAMPLE RF_TEST_SRCDIR "/docs/examples/round.yaml"

/* The canonical form of docs/examples/round.yaml and its hash. */
static void example_spec(struct pol_spec **spec, struct rf_buf *json,
			 char hex[65])
{
	uint8_t md[RF_SHA256_LEN];

	RF_ASSERT_OK(pol_spec_parse_file(spec, SPEC_EXAMPLE, NULL));
	RF_ASSERT_OK(pol_spec_canonical(*spec, json, NULL));
	RF_ASSERT_OK(rf_sha256(json->data, json->len, md, NULL));
	RF_ASSERT_OK(rf_hex_encode(md, sizeof md, hex, 65, NULL));
}

static void read_file(const char *path, uint8_t *out, size_t n)
{
	FILE *f = fopen(path, "rb");

	assert_non_null(f);
	assert_int_equal(fread(out, 1, n, f), n);
	fclose(f);
}

/* The signed bytes are the contract's, and a signature made by OpenSSL's
 * own command line over them verifies; every tampering is refused. */
static void test_signature(void **state)
{
	const char *tmp = rf_test_tmpdir("fed_sig");
	struct rf_buf json = RF_BUF_INIT(POL_SPEC_CANONICAL_MAX);
	struct rf_buf text = RF_BUF_INIT(4096);
	struct pol_spec *spec = NULL;
	struct rf_key *key = NULL, *other = NULL, *pub = NULL;
	struct node_fed_spec_claim c;
	uint8_t sig[RF_ED25519_SIG_LEN], bad[RF_ED25519_SIG_LEN];
	uint8_t raw[RF_ED25519_LEN];
	char hex[65], p[700], want[200], badhex[65];
	struct rf_err e = { 0 };
	enum rf_rc rc = RF_OK;

	(void)state;
	example_spec(&spec, &json, hex);
	RF_ASSERT_OK(node_fed_signed_text("42", hex, "dr-martin.chu-lyon",
					  &text, NULL));
	snprintf(want, sizeof want,
		 "radfed.round.v1\n42\n%s\ndr-martin.chu-lyon", hex);
	assert_int_equal(text.len, strlen(want));
	assert_memory_equal(text.data, want, text.len);

	/* the aggregator's key, and a signature made outside radfed */
	RF_ASSERT_OK(rf_key_generate(RF_KEY_ED25519, &key, NULL));
	snprintf(p, sizeof p, "%s/agg.key", tmp);
	RF_ASSERT_OK(rf_key_save_private_pem(key, p, NULL));
	snprintf(p, sizeof p, "%s/msg", tmp);
	RF_ASSERT_OK(rf_file_write_atomic(p, text.data, text.len, 0600, NULL));
	assert_int_equal(rf_sh("openssl pkeyutl -sign -rawin -inkey %s/agg.key "
			       "-in %s/msg -out %s/sig",
			       tmp, tmp, tmp),
			 0);
	snprintf(p, sizeof p, "%s/sig", tmp);
	read_file(p, sig, sizeof sig);
	/* the node holds only the public key, as saved at enrollment */
	RF_ASSERT_OK(rf_key_raw_public(key, raw, sizeof raw, NULL));
	RF_ASSERT_OK(rf_key_from_raw_public(RF_KEY_ED25519, raw, sizeof raw,
					    &pub, NULL));

	c.round = "42";
	c.spec_json = (const char *)json.data;
	c.spec_len = json.len;
	c.spec_sha256 = hex;
	c.sig = sig;
	c.sig_len = sizeof sig;
	c.researcher = "dr-martin.chu-lyon";
	RF_ASSERT_OK_E(node_fed_verify_claim(pub, &c, &e), &e);

	/* the same, with every allocation failing in turn */
	RF_TEST_OOM_LOOP(rc, rc = node_fed_verify_claim(pub, &c, NULL), );

	/* another researcher, round or key: not what was signed */
	c.researcher = "dr-dubois.aphp";
	RF_ASSERT_RC(node_fed_verify_claim(pub, &c, &e), RF_ECRYPTO);
	assert_non_null(strstr(e.msg, "not signed by the aggregator"));
	c.researcher = "dr-martin.chu-lyon";
	c.round = "43";
	RF_ASSERT_RC(node_fed_verify_claim(pub, &c, &e), RF_ECRYPTO);
	c.round = "42";
	RF_ASSERT_OK(rf_key_generate(RF_KEY_ED25519, &other, NULL));
	RF_ASSERT_RC(node_fed_verify_claim(other, &c, &e), RF_ECRYPTO);
	memcpy(bad, sig, sizeof bad);
	bad[10] ^= 1;
	c.sig = bad;
	RF_ASSERT_RC(node_fed_verify_claim(pub, &c, &e), RF_ECRYPTO);
	c.sig = sig;
	c.sig_len = 63;
	RF_ASSERT_RC(node_fed_verify_claim(pub, &c, &e), RF_ECRYPTO);
	c.sig_len = sizeof sig;

	/* a spec that is not the one hashed, or a hash that is not the
	 * spec's: an integrity failure whatever the signature says */
	c.spec_len = json.len - 1;
	RF_ASSERT_RC(node_fed_verify_claim(pub, &c, &e), RF_EINTEGRITY);
	c.spec_len = json.len;
	memcpy(badhex, hex, sizeof badhex);
	badhex[0] = badhex[0] == '0' ? '1' : '0';
	c.spec_sha256 = badhex;
	RF_ASSERT_RC(node_fed_verify_claim(pub, &c, &e), RF_EINTEGRITY);
	c.spec_sha256 = hex;

	/* round ids become folder names: decimal only */
	c.round = "../etc";
	RF_ASSERT_RC(node_fed_verify_claim(pub, &c, &e), RF_EINVAL);
	c.round = "";
	RF_ASSERT_RC(node_fed_verify_claim(pub, &c, &e), RF_EINVAL);
	c.round = "123456789012345678901";
	RF_ASSERT_RC(node_fed_verify_claim(pub, &c, &e), RF_EINVAL);
	c.round = "42";
	c.researcher = "dr martin";
	RF_ASSERT_RC(node_fed_verify_claim(pub, &c, &e), RF_EINVAL);
	assert_true(node_fed_round_valid("7"));
	assert_true(node_fed_round_valid("12345678901234567890"));
	assert_false(node_fed_round_valid("7a"));
	assert_false(node_fed_round_valid("-7"));

	rf_key_destroy(key);
	rf_key_destroy(other);
	rf_key_destroy(pub);
	pol_spec_destroy(spec);
	rf_buf_release(&json);
	rf_buf_release(&text);
}

static int has_reason(const struct node_fed_decision *d, const char *s)
{
	size_t i;

	for (i = 0; i < d->nreasons; i++)
		if (strstr(d->reasons[i], s))
			return 1;
	return 0;
}

/* A new site's policy declines everything, and says so. */
static void test_default_policy(void **state)
{
	const char *tmp = rf_test_tmpdir("fed_policy");
	struct rf_buf json = RF_BUF_INIT(POL_SPEC_CANONICAL_MAX);
	struct rf_buf file = RF_BUF_INIT(1 << 20);
	struct pol_spec *spec = NULL;
	struct pol_policy *pol = NULL;
	struct node_fed_decision d;
	struct trn_data_info di;
	uint8_t md[RF_SHA256_LEN];
	char hex[65], dir[600], p[700];
	struct rf_err e = { 0 };

	(void)state;
	snprintf(dir, sizeof dir, "%s/site", tmp);
	RF_ASSERT_OK_E(node_site_init(dir, "chu-a", &e), &e);
	snprintf(p, sizeof p, "%s/policy.yaml", dir);
	RF_ASSERT_OK_E(pol_policy_load(&pol, p, &e), &e);
	assert_false(pol->accept);
	assert_int_equal(pol->nresearchers, 0);
	/* the hash logged is the file's */
	RF_ASSERT_OK(rf_file_read(p, &file, NULL));
	RF_ASSERT_OK(rf_sha256(file.data, file.len, md, NULL));
	RF_ASSERT_OK(rf_hex_encode(md, sizeof md, hex, sizeof hex, NULL));
	assert_string_equal(pol_policy_hash(pol), hex);
	/* the examples in its comments are a valid policy once uncommented */
	assert_int_equal(rf_sh("sed -n 's/^#   //p' %s > %s/allow.yaml", p,
			       tmp), 0);
	pol_policy_destroy(pol);
	pol = NULL;
	snprintf(p, sizeof p, "%s/allow.yaml", tmp);
	RF_ASSERT_OK_E(pol_policy_load(&pol, p, &e), &e);
	assert_true(pol->accept);
	pol_policy_destroy(pol);
	pol = NULL;

	snprintf(p, sizeof p, "%s/policy.yaml", dir);
	RF_ASSERT_OK(pol_policy_load(&pol, p, NULL));
	example_spec(&spec, &json, hex);
	memset(&di, 0, sizeof di);
	di.channels = 1;
	di.height = 64;
	di.width = 64;
	di.classes = 2;
	RF_ASSERT_OK(node_fed_evaluate(pol, spec, "dr-martin.chu-lyon", &di,
				       &d, NULL));
	assert_false(d.accepted);
	assert_true(d.nreasons >= 1);
	assert_string_equal(d.policy_sha256, pol_policy_hash(pol));
	assert_true(has_reason(&d, "accept"));
	pol_policy_destroy(pol);
	pol_spec_destroy(spec);
	rf_buf_release(&json);
	rf_buf_release(&file);
}

/* The policy decides, and the dataset must fit the spec's input and
 * label set. */
static void test_decision(void **state)
{
	static const char allow[] = "accept: true\n"
				    "researchers: [dr-martin.chu-lyon]\n";
	struct rf_buf json = RF_BUF_INIT(POL_SPEC_CANONICAL_MAX);
	struct pol_spec *spec = NULL;
	struct pol_policy *pol = NULL;
	struct node_fed_decision d;
	struct trn_data_info di;
	char hex[65];

	(void)state;
	example_spec(&spec, &json, hex);
	RF_ASSERT_OK(pol_policy_parse(&pol, "allow", allow, sizeof allow - 1,
				      NULL));
	memset(&di, 0, sizeof di);
	di.channels = 1;
	di.height = 64;
	di.width = 64;
	di.classes = 2;
	di.records = 10;
	RF_ASSERT_OK(node_fed_evaluate(pol, spec, "dr-martin.chu-lyon", &di,
				       &d, NULL));
	assert_true(d.accepted);
	assert_int_equal(d.nreasons, 0);

	/* images of another size */
	di.height = 128;
	RF_ASSERT_OK(node_fed_evaluate(pol, spec, "dr-martin.chu-lyon", &di,
				       &d, NULL));
	assert_false(d.accepted);
	assert_int_equal(d.nreasons, 1);
	assert_string_equal(d.reasons[0], "input 1x64x64 differs from the "
					  "site's images 1x128x64");
	/* and another label count: both reasons */
	di.classes = 3;
	RF_ASSERT_OK(node_fed_evaluate(pol, spec, "dr-martin.chu-lyon", &di,
				       &d, NULL));
	assert_false(d.accepted);
	assert_int_equal(d.nreasons, 2);
	assert_string_equal(d.reasons[1], "2 labels asked, the site's dataset "
					  "has 3 classes");
	/* a researcher the policy does not name: the policy's reason first */
	di.height = 64;
	di.classes = 2;
	RF_ASSERT_OK(node_fed_evaluate(pol, spec, "dr-x", &di, &d, NULL));
	assert_false(d.accepted);
	assert_int_equal(d.nreasons, 1);
	assert_true(has_reason(&d, "dr-x"));
	/* no dataset at all */
	RF_ASSERT_OK(node_fed_evaluate(pol, spec, "dr-martin.chu-lyon", NULL,
				       &d, NULL));
	assert_false(d.accepted);
	assert_true(has_reason(&d, "no dataset"));
	RF_ASSERT_RC(node_fed_evaluate(NULL, spec, "x", &di, &d, NULL),
		     RF_EINVAL);
	pol_policy_destroy(pol);
	pol_spec_destroy(spec);
	rf_buf_release(&json);
}

/* A model file of cnn-small 1x64x64 with weights from seed. */
static void save_model(const char *path, unsigned classes, uint64_t seed)
{
	const struct trn_model_vtable *vt = trn_model_find("cnn-small");
	struct trn_model_spec ms = { 1, 64, 64, classes, 0 };
	struct trn_ckpt_meta meta;
	struct trn_net *net = NULL;
	struct trn_param *params;
	size_t np = 0;

	assert_non_null(vt);
	RF_ASSERT_OK(trn_model_build("cnn-small", &ms, 1, TRN_LOSS_SOFTMAX_CE,
				     NULL, seed, &net, NULL));
	params = trn_net_params(net, &np);
	memset(&meta, 0, sizeof meta);
	snprintf(meta.model, sizeof meta.model, "%s", vt->name);
	meta.arch_version = vt->arch_version;
	meta.channels = 1;
	meta.height = 64;
	meta.width = 64;
	meta.classes = classes;
	meta.round = 3;
	RF_ASSERT_OK(trn_ckpt_save(path, &meta, params, np, NULL));
	trn_net_destroy(net);
}

/* The update payload: local - global, float32 LE in path order, checked
 * against h5py + numpy. */
static void test_delta_file(void **state)
{
	const char *tmp = rf_test_tmpdir("fed_delta");
	char g[600], l[600], o[600], other[600];
	struct stat st;
	struct rf_err e = { 0 };
	uint64_t bytes = 0;

	(void)state;
	snprintf(g, sizeof g, "%s/global-2.h5", tmp);
	snprintf(l, sizeof l, "%s/local-3.h5", tmp);
	snprintf(o, sizeof o, "%s/update-3.delta", tmp);
	snprintf(other, sizeof other, "%s/other.h5", tmp);
	save_model(g, 2, 1);
	save_model(l, 2, 2);
	RF_ASSERT_OK_E(node_fed_delta_file(g, l, o, &bytes, &e), &e);
	assert_int_equal(stat(o, &st), 0);
	assert_int_equal((uint64_t)st.st_size, bytes);
	assert_int_equal(bytes % 4, 0);
	assert_true(bytes > 4 * 1000);
	assert_int_equal(rf_sh("/usr/bin/python3 "
			       "%s/tests/node/ref/fed_delta.py %s %s %s",
			       RF_TEST_SRCDIR, g, l, o),
			 0);
	/* the same model twice: all zeros */
	RF_ASSERT_OK(node_fed_delta_file(g, g, o, NULL, NULL));
	assert_int_equal(rf_sh("/usr/bin/python3 -c \"import numpy as np, sys; "
			       "sys.exit(int(np.any(np.fromfile('%s', "
			       "dtype='<f4') != 0)))\"",
			       o),
			 0);

	/* a model of another shape is refused, nothing written */
	unlink(o);
	save_model(other, 3, 2);
	RF_ASSERT_RC(node_fed_delta_file(g, other, o, NULL, &e),
		     RF_EINTEGRITY);
	assert_int_equal(stat(o, &st), -1);
	snprintf(other, sizeof other, "%s/missing.h5", tmp);
	RF_ASSERT_RC(node_fed_delta_file(other, l, o, NULL, &e),
		     RF_ENOTFOUND);
	assert_int_equal(stat(o, &st), -1);
}

/* Serve refuses to start without what it needs, naming it. */
static void test_serve_start(void **state)
{
	const char *tmp = rf_test_tmpdir("fed_serve");
	struct node_fed_opts o;
	char dir[600], p[700];
	struct rf_err e = { 0 };
	FILE *f;

	(void)state;
	snprintf(dir, sizeof dir, "%s/site", tmp);
	RF_ASSERT_OK(node_site_init(dir, "chu-a", NULL));
	memset(&o, 0, sizeof o);
	o.until_idle = true;

	/* no dataset yet */
	RF_ASSERT_RC(node_fed_serve(dir, &o, &e), RF_ENOTFOUND);
	assert_non_null(strstr(e.msg, "store/dataset.h5"));

	/* a bad policy: file, line and column */
	snprintf(p, sizeof p, "%s/bad.yaml", tmp);
	f = fopen(p, "w");
	assert_non_null(f);
	fputs("accept: true\nresearchers: [a]\nmax-rounds: 0\n", f);
	fclose(f);
	o.policy = p;
	RF_ASSERT_RC(node_fed_serve(dir, &o, &e), RF_ECONFIG);
	assert_non_null(strstr(e.msg, "bad.yaml:3:"));
	assert_non_null(strstr(e.msg, "max-rounds"));
	/* a missing one */
	snprintf(p, sizeof p, "%s/none.yaml", tmp);
	assert_int_not_equal(node_fed_serve(dir, &o, &e), RF_OK);
	assert_non_null(strstr(e.msg, "none.yaml"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_signature),
		cmocka_unit_test(test_default_policy),
		cmocka_unit_test(test_decision),
		cmocka_unit_test(test_delta_file),
		cmocka_unit_test(test_serve_start),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
