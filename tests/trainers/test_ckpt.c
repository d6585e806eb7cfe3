/*
 * test_ckpt.c - model files, their hash, flat vectors and deltas.
 *
 * The file written is read back by h5py (tests/ref/ckpt_check.py, run with
 * /usr/bin/python3), which lists attributes and shapes and recomputes the
 * SHA-256 of the canonical stream on its own. Every refusal of
 * trn_ckpt_load is checked for its code, for a message naming the file and
 * the reason, and for leaving the parameters untouched.
 */
#include "rf_test.h"

#include <math.h>

#include "rf_crypto.h"
#include "rf_tensor.h"
#include "trn_ckpt.h"

#define NP 5
#define NV (6 + 4 + 3 + 18 + 2)

/* Parameters in path order ("a.b/w" < "a/x": '.' sorts before '/'). */
struct model {
	struct trn_param p[NP];
	float v[NV];
};

static const struct trn_ckpt_meta meta = {"cnn-small", 3, 1, 64, 64, 2, 7};

static void model_init(struct model *m, float base)
{
	static const struct {
		const char *path;
		unsigned rank;
		uint64_t shape[4];
	} def[NP] = {
		{"a.b/w", 2, {2, 3}},
		{"a/x", 1, {4}},
		{"conv1/bias", 1, {3}},
		{"conv1/weight", 4, {2, 1, 3, 3}},
		{"fc/bias", 1, {2}},
	};
	size_t off = 0;

	memset(m, 0, sizeof(*m));
	for (int i = 0; i < NP; i++) {
		struct trn_param *p = &m->p[i];

		snprintf(p->path, sizeof p->path, "%s", def[i].path);
		p->rank = def[i].rank;
		p->count = 1;
		for (unsigned d = 0; d < p->rank; d++) {
			p->shape[d] = def[i].shape[d];
			p->count *= def[i].shape[d];
		}
		p->w = m->v + off;
		off += p->count;
	}
	for (size_t i = 0; i < NV; i++)
		m->v[i] = base + (float)i * 0.37f - (float)(i % 3) * 1.5f;
	/* values that must survive bit for bit */
	m->v[6] = 1234.5678f; /* a/x[0]: located in the file below */
	m->v[7] = -0.0f;
	m->v[8] = 1e-40f;     /* subnormal */
	m->v[9] = -3.4e38f;
}

static void model_copy_shape(struct model *dst, const struct model *src)
{
	*dst = *src;
	for (size_t i = 0, off = 0; i < NP; i++) {
		dst->p[i].w = dst->v + off;
		off += dst->p[i].count;
	}
	for (size_t i = 0; i < NV; i++)
		dst->v[i] = -7.25f;
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (!f)
		fail_msg("cannot open '%s'", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static void spew(const char *path, const char *buf, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(buf, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static const char *tmp_file(const char *dir, const char *name)
{
	static char path[4][600];
	static int k;

	k = (k + 1) % 4;
	snprintf(path[k], sizeof path[k], "%s/%s", dir, name);
	return path[k];
}

static void test_round_trip(void **state)
{
	const char *dir = rf_test_tmpdir("trainers_ckpt_rt");
	const char *path = tmp_file(dir, "model.h5");
	struct model a, b;
	struct trn_ckpt_meta got;
	struct rf_err e = {0};
	uint8_t h1[RF_SHA256_LEN], h2[RF_SHA256_LEN];
	struct stat st;

	(void)state;
	model_init(&a, 0.5f);
	model_copy_shape(&b, &a);
	RF_ASSERT_OK_E(trn_ckpt_save(path, &meta, a.p, NP, &e), &e);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	RF_ASSERT_OK_E(trn_ckpt_read_meta(path, &got, &e), &e);
	assert_string_equal(got.model, "cnn-small");
	assert_true(got.arch_version == 3 && got.round == 7);
	assert_true(got.channels == 1 && got.height == 64 &&
		    got.width == 64 && got.classes == 2);
	RF_ASSERT_OK_E(trn_ckpt_load(path, &meta, b.p, NP, &e), &e);
	assert_memory_equal(a.v, b.v, sizeof a.v);
	RF_ASSERT_OK(trn_params_hash(a.p, NP, h1, NULL));
	RF_ASSERT_OK(trn_params_hash(b.p, NP, h2, NULL));
	assert_memory_equal(h1, h2, sizeof h1);

	/* a round other than the caller's is not a mismatch */
	got = meta;
	got.round = 99;
	RF_ASSERT_OK_E(trn_ckpt_save(path, &got, a.p, NP, &e), &e);
	RF_ASSERT_OK_E(trn_ckpt_load(path, &meta, b.p, NP, &e), &e);
	RF_ASSERT_OK_E(trn_ckpt_read_meta(path, &got, &e), &e);
	assert_true(got.round == 99);
}

/* h5py reads the file as docs/formats.md describes it. */
static void test_h5py_view(void **state)
{
	const char *dir = rf_test_tmpdir("trainers_ckpt_py");
	const char *path = tmp_file(dir, "model.h5");
	const char *out = tmp_file(dir, "check.txt");
	struct model a;
	uint8_t h[RF_SHA256_LEN];
	char hex[2 * RF_SHA256_LEN + 1], want[1024];
	char *text;
	size_t len;

	(void)state;
	model_init(&a, -2.0f);
	RF_ASSERT_OK(trn_ckpt_save(path, &meta, a.p, NP, NULL));
	RF_ASSERT_OK(trn_params_hash(a.p, NP, h, NULL));
	RF_ASSERT_OK(rf_hex_encode(h, sizeof h, hex, sizeof hex, NULL));
	if (rf_sh("/usr/bin/python3 '%s/tests/ref/ckpt_check.py' '%s' > '%s'",
		  RF_TEST_SRCDIR, path, out) != 0)
		fail_msg("tests/ref/ckpt_check.py failed: it needs /usr/bin/"
			 "python3 with h5py and numpy");
	snprintf(want, sizeof want,
		 "attr arch_version int64 3\n"
		 "attr classes int64 2\n"
		 "attr input str-vlen-utf-8 1,64,64\n"
		 "attr model str-vlen-utf-8 cnn-small\n"
		 "attr round int64 7\n"
		 "attr sha256 str-vlen-utf-8 %s\n"
		 "param a.b/w float32 2x3\n"
		 "param a/x float32 4\n"
		 "param conv1/bias float32 3\n"
		 "param conv1/weight float32 2x1x3x3\n"
		 "param fc/bias float32 2\n"
		 "sha256 %s ok\n", hex, hex);
	text = slurp(out, &len);
	assert_string_equal(text, want);
	free(text);
}

/* The hash of a known stream: 1.0f, -2.0f little-endian is the 8 bytes
 * 0000803f000000c0;
 * python3 -c "import hashlib; print(hashlib.sha256(
 *     bytes.fromhex('0000803f000000c0')).hexdigest())" */
static void test_hash_known(void **state)
{
	float w1[1] = {1.0f}, w2[1] = {-2.0f};
	struct trn_param p[2] = {
		{"a/w", w1, NULL, 1, 1, {1, 0, 0, 0}},
		{"b/w", w2, NULL, 1, 1, {1, 0, 0, 0}},
	};
	uint8_t h[RF_SHA256_LEN];
	char hex[2 * RF_SHA256_LEN + 1];
	struct rf_err e = {0};

	(void)state;
	RF_ASSERT_OK(trn_params_hash(p, 2, h, NULL));
	RF_ASSERT_OK(rf_hex_encode(h, sizeof h, hex, sizeof hex, NULL));
	assert_string_equal(hex, "ee4ac73c2bd27756ab82780f27c73a7bc4d3f0bb6a"
			    "cb37e008bc27eccd7e588b");
	/* out of path order */
	snprintf(p[1].path, sizeof p[1].path, "a.b/w");
	RF_ASSERT_RC(trn_params_hash(p, 2, h, &e), RF_EINVAL);
	assert_non_null(strstr(e.msg, "path order"));
	/* shape and count disagree */
	snprintf(p[1].path, sizeof p[1].path, "b/w");
	p[1].shape[0] = 2;
	RF_ASSERT_RC(trn_params_hash(p, 2, h, &e), RF_EINVAL);
}

/* Expects load to fail with rc and a message holding the path and needle,
 * leaving the parameters' values as they were. */
static void expect_refused(const char *path, const struct trn_ckpt_meta *m,
			   struct model *b, size_t n, enum rf_rc rc,
			   const char *needle)
{
	struct rf_err e = {0};
	float before[NV];

	memcpy(before, b->v, sizeof before);
	RF_ASSERT_RC(trn_ckpt_load(path, m, b->p, n, &e), rc);
	if (!strstr(e.msg, path) || !strstr(e.msg, needle))
		fail_msg("message '%s' does not name '%s' and '%s'", e.msg,
			 path, needle);
	assert_memory_equal(before, b->v, sizeof before);
}

static void test_refusals(void **state)
{
	const char *dir = rf_test_tmpdir("trainers_ckpt_bad");
	const char *path = tmp_file(dir, "model.h5");
	struct model a, b;
	struct trn_ckpt_meta m;
	struct trn_param p[NP + 1];
	struct rf_err e = {0};
	float extra[3] = {1, 2, 3}, before[NV];

	(void)state;
	model_init(&a, 1.0f);
	model_copy_shape(&b, &a);
	RF_ASSERT_OK(trn_ckpt_save(path, &meta, a.p, NP, NULL));

	m = meta;
	snprintf(m.model, sizeof m.model, "resnet-tiny");
	expect_refused(path, &m, &b, NP, RF_EINTEGRITY,
		       "model 'cnn-small', expected 'resnet-tiny'");
	m = meta;
	m.arch_version = 4;
	expect_refused(path, &m, &b, NP, RF_EINTEGRITY,
		       "architecture version 3, expected 4");
	m = meta;
	m.width = 32;
	expect_refused(path, &m, &b, NP, RF_EINTEGRITY,
		       "input 1,64,64, expected 1,64,32");
	m = meta;
	m.classes = 3;
	expect_refused(path, &m, &b, NP, RF_EINTEGRITY,
		       "2 classes, expected 3");

	/* the caller has a parameter the file lacks */
	memcpy(p, b.p, sizeof b.p);
	p[NP] = b.p[NP - 1];
	snprintf(p[NP].path, sizeof p[NP].path, "zz/w");
	p[NP].w = extra;
	p[NP].count = 3;
	p[NP].shape[0] = 3;
	memcpy(before, b.v, sizeof before);
	RF_ASSERT_RC(trn_ckpt_load(path, &meta, p, NP + 1, &e), RF_EINTEGRITY);
	if (!strstr(e.msg, path) || !strstr(e.msg, "missing parameter 'zz/w'"))
		fail_msg("message '%s'", e.msg);
	assert_memory_equal(before, b.v, sizeof before);
	assert_true(extra[0] == 1 && extra[1] == 2 && extra[2] == 3);

	/* the file has a parameter the caller lacks */
	expect_refused(path, &meta, &b, NP - 1, RF_EINTEGRITY,
		       "unexpected parameter 'fc/bias'");
	/* same count, other shape */
	b.p[3].rank = 3;
	b.p[3].shape[2] = 9;
	b.p[3].shape[3] = 0;
	expect_refused(path, &meta, &b, NP, RF_EINTEGRITY,
		       "parameter 'conv1/weight' has shape [2,1,3,3], "
		       "expected [2,1,9]");
	b.p[3].rank = 4;
	b.p[3].shape[2] = 3;
	b.p[3].shape[3] = 3;
	RF_ASSERT_OK(trn_ckpt_load(path, &meta, b.p, NP, NULL));
	assert_memory_equal(a.v, b.v, sizeof a.v);
}

/* Writes a file with a's attributes, a's parameters but the one at
 * `skip`, and calls add() to put something else in. */
static void write_custom(const char *path, const struct model *a, int skip,
			 void (*add)(struct rf_h5 *h))
{
	struct rf_h5 *h = NULL;
	char name[100];
	uint8_t dig[RF_SHA256_LEN];
	char hex[2 * RF_SHA256_LEN + 1];

	RF_ASSERT_OK(trn_params_hash(a->p, NP, dig, NULL));
	RF_ASSERT_OK(rf_hex_encode(dig, sizeof dig, hex, sizeof hex, NULL));
	RF_ASSERT_OK(rf_h5_create(path, &h, NULL));
	for (int i = 0; i < NP; i++) {
		struct rf_tensor_info ti = {RF_DTYPE_F32, a->p[i].rank, {0}};

		if (i == skip)
			continue;
		memcpy(ti.shape, a->p[i].shape, sizeof a->p[i].shape);
		snprintf(name, sizeof name, "/params/%s", a->p[i].path);
		RF_ASSERT_OK(rf_h5_write(h, name, &ti, a->p[i].w, NULL, NULL));
	}
	RF_ASSERT_OK(rf_h5_attr_set_str(h, "/", "model", "cnn-small", NULL));
	RF_ASSERT_OK(rf_h5_attr_set_i64(h, "/", "arch_version", 3, NULL));
	RF_ASSERT_OK(rf_h5_attr_set_str(h, "/", "input", "1,64,64", NULL));
	RF_ASSERT_OK(rf_h5_attr_set_i64(h, "/", "classes", 2, NULL));
	RF_ASSERT_OK(rf_h5_attr_set_i64(h, "/", "round", 0, NULL));
	RF_ASSERT_OK(rf_h5_attr_set_str(h, "/", "sha256", hex, NULL));
	if (add)
		add(h);
	RF_ASSERT_OK(rf_h5_commit(h, NULL));
	rf_h5_close(h);
}

/* fc/bias as a dataset of 2^40 (unwritten) elements */
static void add_huge(struct rf_h5 *h)
{
	struct rf_tensor_info ti = {RF_DTYPE_F32, 1, {(uint64_t)1 << 40}};
	struct rf_h5_wopts o = {{1 << 16}, 0, 0};

	RF_ASSERT_OK(rf_h5_create_rows(h, "/params/fc/bias", &ti, &o, NULL));
}

/* fc/bias as int32 */
static void add_int(struct rf_h5 *h)
{
	struct rf_tensor_info ti = {RF_DTYPE_I32, 1, {2}};
	int32_t v[2] = {1, 2};

	RF_ASSERT_OK(rf_h5_write(h, "/params/fc/bias", &ti, v, NULL, NULL));
}

/* a deeper dataset than any parameter */
static void add_nested(struct rf_h5 *h)
{
	struct rf_tensor_info ti = {RF_DTYPE_F32, 1, {1}};
	float v = 1;

	RF_ASSERT_OK(rf_h5_write(h, "/params/a/x2/y", &ti, &v, NULL, NULL));
}

/* Hostile and damaged files. */
static void test_hostile(void **state)
{
	const char *dir = rf_test_tmpdir("trainers_ckpt_host");
	const char *path = tmp_file(dir, "model.h5");
	const char *bad = tmp_file(dir, "bad.h5");
	struct model a, b;
	struct trn_ckpt_meta m;
	struct rf_err e = {0};
	char *data;
	size_t len, hit = 0, found = 0;
	uint8_t pat[4];
	uint32_t u;
	struct rf_h5 *h = NULL;

	(void)state;
	model_init(&a, 3.0f);
	model_copy_shape(&b, &a);
	RF_ASSERT_OK(trn_ckpt_save(path, &meta, a.p, NP, NULL));

	/* the hash attribute no longer matches one data byte */
	data = slurp(path, &len);
	memcpy(&u, &a.v[6], 4);
	for (int i = 0; i < 4; i++)
		pat[i] = (uint8_t)(u >> (8 * i));
	for (size_t i = 0; i + 4 <= len; i++)
		if (memcmp(data + i, pat, 4) == 0) {
			hit = i;
			found++;
		}
	assert_int_equal(found, 1);
	data[hit] ^= 0x01;
	spew(bad, data, len);
	expect_refused(bad, &meta, &b, NP, RF_EINTEGRITY, "SHA-256");

	/* truncated */
	spew(bad, data, len / 2);
	expect_refused(bad, &meta, &b, NP, RF_EPROTO, "truncated");
	RF_ASSERT_RC(trn_ckpt_read_meta(bad, &m, &e), RF_EPROTO);
	free(data);

	/* not HDF5 */
	spew(bad, "model: cnn-small\n", 17);
	expect_refused(bad, &meta, &b, NP, RF_EPROTO, "HDF5");
	RF_ASSERT_RC(trn_ckpt_read_meta(bad, &m, &e), RF_EPROTO);

	/* missing */
	expect_refused(tmp_file(dir, "none.h5"), &meta, &b, NP, RF_ENOTFOUND,
		       "No such file");
	RF_ASSERT_RC(trn_ckpt_read_meta(tmp_file(dir, "none.h5"), &m, &e),
		     RF_ENOTFOUND);

	/* HDF5 but not a model file */
	RF_ASSERT_OK(rf_h5_create(bad, &h, NULL));
	RF_ASSERT_OK(rf_h5_attr_set_str(h, "/", "model", "cnn-small", NULL));
	RF_ASSERT_OK(rf_h5_attr_set_str(h, "/", "arch_version", "3", NULL));
	RF_ASSERT_OK(rf_h5_commit(h, NULL));
	rf_h5_close(h);
	expect_refused(bad, &meta, &b, NP, RF_EPROTO,
		       "not a model file: no valid attribute 'arch_version'");
	RF_ASSERT_RC(trn_ckpt_read_meta(bad, &m, &e), RF_EPROTO);

	/* a parameter of 2^40 elements: refused on its shape, before any
	 * allocation */
	write_custom(bad, &a, 4, add_huge);
	expect_refused(bad, &meta, &b, NP, RF_EINTEGRITY,
		       "'fc/bias' has shape [1099511627776], expected [2]");
	/* a parameter of another type */
	write_custom(bad, &a, 4, add_int);
	expect_refused(bad, &meta, &b, NP, RF_EPROTO,
		       "'fc/bias' is int32, not float32");
	/* an extra dataset inside a parameter's group */
	write_custom(bad, &a, -1, add_nested);
	expect_refused(bad, &meta, &b, NP, RF_EINTEGRITY,
		       "unexpected parameter 'a/x2/y'");
	/* the control: the same writer without changes loads */
	write_custom(bad, &a, -1, NULL);
	RF_ASSERT_OK(trn_ckpt_load(bad, &meta, b.p, NP, NULL));
	assert_memory_equal(a.v, b.v, sizeof a.v);
}

static void test_save_invalid(void **state)
{
	const char *dir = rf_test_tmpdir("trainers_ckpt_inv");
	const char *path = tmp_file(dir, "model.h5");
	struct model a;
	struct trn_ckpt_meta m = meta;
	struct trn_param t;
	struct rf_err e = {0};
	struct stat st;

	(void)state;
	model_init(&a, 0);
	m.model[0] = '\0';
	RF_ASSERT_RC(trn_ckpt_save(path, &m, a.p, NP, &e), RF_EINVAL);
	m = meta;
	m.classes = 0;
	RF_ASSERT_RC(trn_ckpt_save(path, &m, a.p, NP, &e), RF_EINVAL);
	t = a.p[0];
	a.p[0] = a.p[1];
	a.p[1] = t;
	RF_ASSERT_RC(trn_ckpt_save(path, &meta, a.p, NP, &e), RF_EINVAL);
	assert_non_null(strstr(e.msg, "path order"));
	a.p[1] = a.p[0];
	a.p[0] = t;
	snprintf(a.p[2].path, sizeof a.p[2].path, "conv1/../x");
	RF_ASSERT_RC(trn_ckpt_save(path, &meta, a.p, NP, &e), RF_EINVAL);
	assert_non_null(strstr(e.msg, "invalid parameter path"));
	assert_int_equal(stat(path, &st), -1);
}

static void test_flat_delta(void **state)
{
	struct model l, g;
	float fl[NV], fg[NV], d[NV];

	(void)state;
	model_init(&l, 0);
	model_copy_shape(&g, &l);
	assert_int_equal(trn_flat_count(l.p, NP), NV);
	assert_int_equal(trn_flat_count(l.p, 0), 0);
	/* values in [1, 2): differences are exact (Sterbenz), so
	 * g + (l - g) == l bit for bit */
	for (size_t i = 0; i < NV; i++) {
		l.v[i] = 1.0f + (float)((i * 7919) % 1000) / 1000.0f;
		g.v[i] = 1.0f + (float)((i * 104729) % 997) / 997.0f;
	}
	trn_flat_get(l.p, NP, fl);
	assert_memory_equal(fl, l.v, sizeof fl);
	trn_flat_get(g.p, NP, fg);
	trn_delta(fl, fg, d, NV);
	for (size_t i = 0; i < NV; i++)
		assert_true(d[i] == (float)((double)fl[i] - (double)fg[i]));
	trn_delta_apply(g.p, NP, d, 1.0f);
	assert_memory_equal(g.v, l.v, sizeof g.v);
	/* scale: w + s * d, rounded once after the product */
	for (size_t i = 0; i < NV; i++) {
		g.v[i] = (float)i;
		d[i] = (float)(2 * i + 1);
	}
	trn_delta_apply(g.p, NP, d, -0.5f);
	for (size_t i = 0; i < NV; i++)
		assert_true(g.v[i] == (float)i - ((float)i + 0.5f));
	/* set then get */
	for (size_t i = 0; i < NV; i++)
		fl[i] = (float)i * 0.25f;
	trn_flat_set(g.p, NP, fl);
	assert_memory_equal(g.v, fl, sizeof fl);
	assert_true(g.p[1].w[0] == 6 * 0.25f); /* a/x follows a.b/w's 6 */
}

static void test_oom(void **state)
{
	const char *dir = rf_test_tmpdir("trainers_ckpt_oom");
	const char *path = tmp_file(dir, "model.h5");
	struct model a, b;
	struct stat st;
	enum rf_rc rc;

	(void)state;
	model_init(&a, 0.25f);
	model_copy_shape(&b, &a);
	RF_TEST_OOM_LOOP(rc,
			 {
				 rc = trn_ckpt_save(path, &meta, a.p, NP,
						    NULL);
				 if (rc != RF_OK)
					 assert_int_equal(stat(path, &st),
							  -1);
			 },
			 {});
	RF_TEST_OOM_LOOP(rc,
			 {
				 float before[NV];

				 memcpy(before, b.v, sizeof before);
				 rc = trn_ckpt_load(path, &meta, b.p, NP,
						    NULL);
				 if (rc != RF_OK)
					 assert_memory_equal(before, b.v,
							     sizeof before);
			 },
			 {});
	assert_memory_equal(a.v, b.v, sizeof a.v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_h5py_view),
		cmocka_unit_test(test_hash_known),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_save_invalid),
		cmocka_unit_test(test_flat_delta),
		cmocka_unit_test(test_oom),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
