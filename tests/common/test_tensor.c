/*
 * test_tensor.c - HDF5 tensor I/O (common/rf_tensor.h).
 *
 * Reference for the file format is h5py (python3-h5py, installed by
 * scripts/install-deps test): tests/common/data/tensor/make_fixtures.py
 * made the files we read, and dump_h5.py prints what h5py sees in the files
 * we write. A missing h5py fails the test: it is part of the test
 * toolchain.
 */
#include "rf_test.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>

#include <hdf5.h>
#include <openssl/evp.h>

#include "rf_tensor.h"

#define DATA_DIR RF_TEST_SRCDIR "/tests/common/data/tensor"
#define PYTHON "/usr/bin/python3"

static char *path_in(const char *dir, const char *file)
{
	static char bufs[4][600];
	static int next;
	char *p = bufs[next++ % 4];
	int n = snprintf(p, sizeof bufs[0], "%s/%s", dir, file);

	if (n < 0 || (size_t)n >= sizeof bufs[0])
		fail_msg("path too long: '%s/%s'", dir, file);
	return p;
}

static bool contains(const char *hay, const char *needle)
{
	return strstr(hay, needle) != NULL;
}

static void sha256_hex(const void *p, size_t n, char out[65])
{
	unsigned char md[32];
	unsigned len = 0;

	assert_int_equal(EVP_Digest(p, n, md, &len, EVP_sha256(), NULL), 1);
	for (unsigned i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static float f32_bits(uint32_t u)
{
	float f;

	memcpy(&f, &u, 4);
	return f;
}

/* Runs `python3 DATA_DIR/<script> <arg>` and returns its stdout+stderr
 * (malloc'd). Fails the test unless it exits 0. */
static char *run_python(const char *script, const char *arg)
{
	char cmd[2048];
	size_t len = 0, cap = 1 << 16;
	char *out = malloc(cap);
	FILE *p;
	int st;

	assert_non_null(out);
	snprintf(cmd, sizeof cmd, "%s '%s/%s' '%s' 2>&1", PYTHON, DATA_DIR,
		 script, arg);
	p = popen(cmd, "r");
	assert_non_null(p);
	for (;;) {
		size_t n;

		if (cap - len < 4096) {
			cap *= 2;
			out = realloc(out, cap);
			assert_non_null(out);
		}
		n = fread(out + len, 1, cap - len - 1, p);
		if (n == 0)
			break;
		len += n;
	}
	out[len] = '\0';
	st = pclose(p);
	if (st != 0)
		fail_msg("'%s' failed (python3-h5py is required, see "
			 "scripts/install-deps): %s", cmd, out);
	return out;
}

static void make_fresh(const char *path, struct rf_h5 **h)
{
	struct rf_err e = {0};

	RF_ASSERT_OK_E(rf_h5_create(path, h, &e), &e);
}

static void commit_close(struct rf_h5 *h)
{
	struct rf_err e = {0};

	RF_ASSERT_OK_E(rf_h5_commit(h, &e), &e);
	rf_h5_close(h);
}

/* ---- round trips ------------------------------------------------------- */

static void test_roundtrip_ranks(void **state)
{
	const char *dir = rf_test_tmpdir("tensor_rt");
	char *path = path_in(dir, "rt.h5");
	static const uint32_t special[] = {
		0x7fc00000, 0x7fa00001, 0xffc00000, 0x7f800000, 0xff800000,
		0x80000000, 0x00000000, 0x00000001, 0x7f7fffff, 0x3f800000,
	};
	float fbuf[1024], fback[1024];
	int32_t ibuf[1024];
	struct rf_err e = {0};
	struct rf_h5 *h;
	char name[64];

	(void)state;
	for (size_t i = 0; i < 1024; i++) {
		uint32_t u = special[i % 10] ^ (uint32_t)(i / 10);

		fbuf[i] = f32_bits(i < 10 ? special[i] : u);
		ibuf[i] = (int32_t)(i * 2654435761u);
	}
	ibuf[0] = INT32_MIN;
	ibuf[1] = INT32_MAX;
	ibuf[2] = -1;
	make_fresh(path, &h);
	for (unsigned r = 1; r <= RF_TENSOR_MAX_RANK; r++) {
		struct rf_tensor_info ti = {RF_DTYPE_F32, r, {0}};

		for (unsigned d = 0; d < r; d++)
			ti.shape[d] = (d + r) % 3 + 1; /* product <= 1024 */
		snprintf(name, sizeof name, "/r%u/f", r);
		RF_ASSERT_OK_E(rf_h5_write(h, name, &ti, fbuf, NULL, &e), &e);
		ti.dtype = RF_DTYPE_I32;
		snprintf(name, sizeof name, "/r%u/deeper/i", r);
		RF_ASSERT_OK_E(rf_h5_write(h, name, &ti, ibuf, NULL, &e), &e);
	}
	{
		struct rf_tensor_info empty = {RF_DTYPE_F32, 2, {0, 3}};

		RF_ASSERT_OK_E(rf_h5_write(h, "/empty", &empty, NULL, NULL,
					   &e), &e);
	}
	RF_ASSERT_RC(rf_h5_write(h, "/r1/f", &(struct rf_tensor_info){
		RF_DTYPE_F32, 1, {1}}, fbuf, NULL, &e), RF_EEXIST);
	assert_true(contains(e.msg, "'/r1/f'"));
	commit_close(h);

	RF_ASSERT_OK_E(rf_h5_open(path, RF_H5_RDONLY, &h, &e), &e);
	for (unsigned r = 1; r <= RF_TENSOR_MAX_RANK; r++) {
		struct rf_tensor_info ti, info;
		size_t n;
		void *p = NULL;

		snprintf(name, sizeof name, "/r%u/f", r);
		memset(fback, 0x55, sizeof fback);
		RF_ASSERT_OK_E(rf_h5_read(h, name, RF_DTYPE_F32, fback, 1024,
					  &ti, &e), &e);
		assert_int_equal(ti.rank, r);
		assert_int_equal(ti.dtype, RF_DTYPE_F32);
		n = rf_tensor_info_count(&ti);
		for (unsigned d = 0; d < r; d++)
			assert_int_equal(ti.shape[d], (d + r) % 3 + 1);
		assert_memory_equal(fback, fbuf, n * 4); /* NaN bits too */
		RF_ASSERT_OK_E(rf_h5_info(h, name, &info, &e), &e);
		assert_memory_equal(&info, &ti, sizeof ti);

		snprintf(name, sizeof name, "/r%u/deeper/i", r);
		RF_ASSERT_OK_E(rf_h5_read_alloc(h, name, RF_DTYPE_I32, n, &p,
						&ti, &e), &e);
		assert_int_equal(ti.dtype, RF_DTYPE_I32);
		assert_int_equal(rf_tensor_info_count(&ti), n);
		assert_memory_equal(p, ibuf, n * 4);
		rf_free(p);
		/* dtype mismatch names the dataset and both types */
		RF_ASSERT_RC(rf_h5_read(h, name, RF_DTYPE_F32, fback, 1024,
					NULL, &e), RF_EPROTO);
		assert_true(contains(e.msg, name));
		assert_true(contains(e.msg, "int32"));
		assert_true(contains(e.msg, "float32"));
	}
	{
		struct rf_tensor_info ti;
		void *p = NULL;

		RF_ASSERT_OK_E(rf_h5_read_alloc(h, "/empty", RF_DTYPE_F32, 0,
						&p, &ti, &e), &e);
		assert_non_null(p);
		assert_int_equal(ti.rank, 2);
		assert_int_equal(ti.shape[0], 0);
		assert_int_equal(ti.shape[1], 3);
		rf_free(p);
	}
	/* writing to a read-only file */
	RF_ASSERT_RC(rf_h5_write(h, "/new", &(struct rf_tensor_info){
		RF_DTYPE_F32, 1, {1}}, fbuf, NULL, &e), RF_EINVAL);
	rf_h5_close(h);
}

static void test_bad_arguments(void **state)
{
	const char *dir = rf_test_tmpdir("tensor_args");
	struct rf_tensor_info ti = {RF_DTYPE_F32, 1, {2}};
	struct rf_h5_wopts o = {{0}, 0, 0};
	float v[2] = {1, 2};
	struct rf_err e = {0};
	struct rf_h5 *h;

	(void)state;
	make_fresh(path_in(dir, "a.h5"), &h);
	RF_ASSERT_RC(rf_h5_write(h, "rel", &ti, v, NULL, &e), RF_EINVAL);
	RF_ASSERT_RC(rf_h5_write(h, "/", &ti, v, NULL, &e), RF_EINVAL);
	RF_ASSERT_RC(rf_h5_write(h, "/a//b", &ti, v, NULL, &e), RF_EINVAL);
	RF_ASSERT_RC(rf_h5_write(h, "/a/", &ti, v, NULL, &e), RF_EINVAL);
	RF_ASSERT_RC(rf_h5_write(h, "/a/../b", &ti, v, NULL, &e), RF_EINVAL);
	ti.rank = 0;
	RF_ASSERT_RC(rf_h5_write(h, "/x", &ti, v, NULL, &e), RF_EINVAL);
	ti.rank = RF_TENSOR_MAX_RANK + 1;
	RF_ASSERT_RC(rf_h5_write(h, "/x", &ti, v, NULL, &e), RF_EINVAL);
	ti.rank = 1;
	ti.dtype = RF_DTYPE_NONE;
	RF_ASSERT_RC(rf_h5_write(h, "/x", &ti, v, NULL, &e), RF_EINVAL);
	ti.dtype = RF_DTYPE_F32;
	o.deflate = 10;
	RF_ASSERT_RC(rf_h5_write(h, "/x", &ti, v, &o, &e), RF_EINVAL);
	o.deflate = 1;
	o.chunk[0] = 3; /* larger than the dimension */
	RF_ASSERT_RC(rf_h5_write(h, "/x", &ti, v, &o, &e), RF_EINVAL);
	o.chunk[0] = 1ULL << 27; /* 512 MiB rows of an extendable dataset */
	RF_ASSERT_RC(rf_h5_create_rows(h, "/x", &ti, &o, &e), RF_EINVAL);
	assert_true(contains(e.msg, "MiB"));
	RF_ASSERT_RC(rf_h5_write(h, "/\xff", &ti, v, NULL, &e), RF_EINVAL);
	RF_ASSERT_RC(rf_h5_commit(NULL, &e), RF_EINVAL);
	RF_ASSERT_OK_E(rf_h5_write(h, "/x", &ti, v, NULL, &e), &e);
	commit_close(h);
	/* a committed handle only accepts close */
	make_fresh(path_in(dir, "b.h5"), &h);
	RF_ASSERT_OK_E(rf_h5_commit(h, &e), &e);
	RF_ASSERT_RC(rf_h5_commit(h, &e), RF_EINVAL);
	RF_ASSERT_RC(rf_h5_write(h, "/x", &ti, v, NULL, &e), RF_EINVAL);
	rf_h5_close(h);
	rf_h5_close(NULL);
}

/* ---- compression ------------------------------------------------------- */

static off_t file_size(const char *p)
{
	struct stat st;

	assert_int_equal(stat(p, &st), 0);
	return st.st_size;
}

static void test_compressed(void **state)
{
	const char *dir = rf_test_tmpdir("tensor_gz");
	char *pz = path_in(dir, "z.h5"), *pc = path_in(dir, "c.h5");
	struct rf_tensor_info ti = {RF_DTYPE_F32, 2, {256, 256}};
	struct rf_h5_wopts o = {{0}, 6, 1};
	size_t n = 256 * 256;
	float *v = malloc(n * 4), *back = malloc(n * 4);
	struct rf_err e = {0};
	struct rf_h5 *h;

	(void)state;
	assert_non_null(v);
	assert_non_null(back);
	for (size_t i = 0; i < n; i++)
		v[i] = (float)(i % 7) * 0.5f; /* compressible */
	make_fresh(pz, &h);
	RF_ASSERT_OK_E(rf_h5_write(h, "/big", &ti, v, &o, &e), &e);
	commit_close(h);
	make_fresh(pc, &h);
	RF_ASSERT_OK_E(rf_h5_write(h, "/big", &ti, v, NULL, &e), &e);
	commit_close(h);
	/* raw data is 256 KiB: the compressed file must be far smaller */
	assert_true(file_size(pc) >= (off_t)(n * 4));
	assert_true(file_size(pz) < (off_t)(n * 4) / 4);

	RF_ASSERT_OK_E(rf_h5_open(pz, RF_H5_RDONLY, &h, &e), &e);
	RF_ASSERT_OK_E(rf_h5_read(h, "/big", RF_DTYPE_F32, back, n, NULL,
				  &e), &e);
	assert_memory_equal(back, v, n * 4);
	rf_h5_close(h);
	free(v);
	free(back);
}

/* ---- rows -------------------------------------------------------------- */

static float row_val(uint64_t row, unsigned k)
{
	return (float)row * 100.0f + (float)k;
}

static void test_rows(void **state)
{
	const char *dir = rf_test_tmpdir("tensor_rows");
	char *path = path_in(dir, "rows.h5");
	struct rf_tensor_info ti = {RF_DTYPE_F32, 3, {0, 2, 3}};
	struct rf_h5_wopts o = {{4}, 1, 1};
	static const uint64_t idx[] = {12, 0, 5, 5, 7, 1, 12};
	float row[6 * 3], got[7 * 6];
	struct rf_err e = {0};
	struct rf_h5 *h;
	uint64_t nrows;

	(void)state;
	make_fresh(path, &h);
	RF_ASSERT_OK_E(rf_h5_create_rows(h, "/ds/images", &ti, &o, &e), &e);
	RF_ASSERT_OK_E(rf_h5_row_count(h, "/ds/images", &nrows, &e), &e);
	assert_int_equal(nrows, 0);
	for (uint64_t r = 0; r < 10; r++) {
		for (unsigned k = 0; k < 6; k++)
			row[k] = row_val(r, k);
		RF_ASSERT_OK_E(rf_h5_append_rows(h, "/ds/images",
						 RF_DTYPE_F32, 1, row, 6, &e),
			       &e);
	}
	for (unsigned k = 0; k < 18; k++)
		row[k] = row_val(10 + k / 6, k % 6);
	RF_ASSERT_OK_E(rf_h5_append_rows(h, "/ds/images", RF_DTYPE_F32, 3,
					 row, 18, &e), &e);
	/* wrong element count, wrong dtype, fixed-size dataset */
	RF_ASSERT_RC(rf_h5_append_rows(h, "/ds/images", RF_DTYPE_F32, 1, row,
				       5, &e), RF_EINVAL);
	RF_ASSERT_RC(rf_h5_append_rows(h, "/ds/images", RF_DTYPE_I32, 1, row,
				       6, &e), RF_EPROTO);
	RF_ASSERT_OK_E(rf_h5_write(h, "/fixed", &(struct rf_tensor_info){
		RF_DTYPE_F32, 2, {1, 6}}, row, NULL, &e), &e);
	RF_ASSERT_RC(rf_h5_append_rows(h, "/fixed", RF_DTYPE_F32, 1, row, 6,
				       &e), RF_EPROTO);
	assert_true(contains(e.msg, "'/fixed'"));
	RF_ASSERT_OK_E(rf_h5_row_count(h, "/ds/images", &nrows, &e), &e);
	assert_int_equal(nrows, 13);
	commit_close(h);

	RF_ASSERT_OK_E(rf_h5_open(path, RF_H5_RDONLY, &h, &e), &e);
	RF_ASSERT_OK_E(rf_h5_row_count(h, "/ds/images", &nrows, &e), &e);
	assert_int_equal(nrows, 13);
	RF_ASSERT_OK_E(rf_h5_read_rows(h, "/ds/images", RF_DTYPE_F32, 5, 4,
				       got, 24, &e), &e);
	for (unsigned i = 0; i < 24; i++)
		assert_true(got[i] == row_val(5 + i / 6, i % 6));
	RF_ASSERT_OK_E(rf_h5_read_rows(h, "/ds/images", RF_DTYPE_F32, 13, 0,
				       got, 0, &e), &e);
	RF_ASSERT_RC(rf_h5_read_rows(h, "/ds/images", RF_DTYPE_F32, 10, 4,
				     got, 42, &e), RF_EINVAL);
	RF_ASSERT_RC(rf_h5_read_rows(h, "/ds/images", RF_DTYPE_F32,
				     UINT64_MAX, 2, got, 42, &e), RF_EINVAL);
	RF_ASSERT_RC(rf_h5_read_rows(h, "/ds/images", RF_DTYPE_F32, 0, 4,
				     got, 23, &e), RF_ETOOBIG);

	memset(got, 0, sizeof got);
	RF_ASSERT_OK_E(rf_h5_gather_rows(h, "/ds/images", RF_DTYPE_F32, idx,
					 7, got, 42, &e), &e);
	for (unsigned i = 0; i < 42; i++)
		assert_true(got[i] == row_val(idx[i / 6], i % 6));
	RF_ASSERT_RC(rf_h5_gather_rows(h, "/ds/images", RF_DTYPE_F32, idx, 7,
				       got, 41, &e), RF_ETOOBIG);
	{
		uint64_t bad[] = {3, 13};

		RF_ASSERT_RC(rf_h5_gather_rows(h, "/ds/images", RF_DTYPE_F32,
					       bad, 2, got, 42, &e),
			     RF_EINVAL);
		assert_true(contains(e.msg, "13"));
	}
	RF_ASSERT_OK_E(rf_h5_gather_rows(h, "/ds/images", RF_DTYPE_F32, idx,
					 0, NULL, 0, &e), &e);
	/* a read-only file cannot grow */
	RF_ASSERT_RC(rf_h5_append_rows(h, "/ds/images", RF_DTYPE_F32, 1, row,
				       6, &e), RF_EINVAL);
	rf_h5_close(h);
}

/* ---- attributes -------------------------------------------------------- */

static void test_attributes(void **state)
{
	const char *dir = rf_test_tmpdir("tensor_attr");
	char *path = path_in(dir, "attr.h5");
	const char *utf = "H\xc3\xb4pital Europ\xc3\xa9" "en \xe2\x9c\x93";
	struct rf_tensor_info ti = {RF_DTYPE_I32, 1, {3}};
	int32_t v[3] = {1, 2, 3};
	struct rf_err e = {0};
	struct rf_h5 *h;
	char *s = NULL;
	int64_t i64;
	double f64;

	(void)state;
	make_fresh(path, &h);
	RF_ASSERT_OK_E(rf_h5_write(h, "/params/fc/bias", &ti, v, NULL, &e),
		       &e);
	RF_ASSERT_OK_E(rf_h5_attr_set_str(h, "/", "model", utf, &e), &e);
	RF_ASSERT_OK_E(rf_h5_attr_set_fixstr(h, "/", "arch", "resnet18", &e),
		       &e);
	RF_ASSERT_OK_E(rf_h5_attr_set_i64(h, "/", "round", INT64_MIN, &e),
		       &e);
	RF_ASSERT_OK_E(rf_h5_attr_set_f64(h, "/params", "lr", -0.125, &e),
		       &e);
	RF_ASSERT_OK_E(rf_h5_attr_set_i64(h, "/params/fc/bias", "n", 3, &e),
		       &e);
	RF_ASSERT_OK_E(rf_h5_attr_set_str(h, "/params/fc/bias", "n", "three",
					  &e), &e); /* replaces, new type */
	RF_ASSERT_RC(rf_h5_attr_set_str(h, "/", "bad", "\xc3(", &e),
		     RF_EINVAL);
	RF_ASSERT_RC(rf_h5_attr_set_i64(h, "/nope", "x", 1, &e),
		     RF_ENOTFOUND);
	commit_close(h);

	RF_ASSERT_OK_E(rf_h5_open(path, RF_H5_RDONLY, &h, &e), &e);
	RF_ASSERT_OK_E(rf_h5_attr_get_str(h, "/", "model", 100, &s, &e), &e);
	assert_string_equal(s, utf);
	rf_free(s);
	RF_ASSERT_OK_E(rf_h5_attr_get_str(h, "/", "arch", 8, &s, &e), &e);
	assert_string_equal(s, "resnet18");
	rf_free(s);
	RF_ASSERT_RC(rf_h5_attr_get_str(h, "/", "arch", 7, &s, &e),
		     RF_ETOOBIG);
	assert_null(s);
	RF_ASSERT_RC(rf_h5_attr_get_str(h, "/", "model", 5, &s, &e),
		     RF_ETOOBIG);
	assert_null(s);
	RF_ASSERT_OK_E(rf_h5_attr_get_i64(h, "/", "round", &i64, &e), &e);
	assert_true(i64 == INT64_MIN);
	RF_ASSERT_OK_E(rf_h5_attr_get_f64(h, "/params", "lr", &f64, &e), &e);
	assert_true(f64 == -0.125);
	RF_ASSERT_OK_E(rf_h5_attr_get_str(h, "/params/fc/bias", "n", 10, &s,
					  &e), &e);
	assert_string_equal(s, "three");
	rf_free(s);
	RF_ASSERT_RC(rf_h5_attr_get_i64(h, "/", "missing", &i64, &e),
		     RF_ENOTFOUND);
	assert_true(contains(e.msg, "'missing'"));
	RF_ASSERT_RC(rf_h5_attr_get_i64(h, "/params/x", "lr", &i64, &e),
		     RF_ENOTFOUND);
	RF_ASSERT_RC(rf_h5_attr_get_i64(h, "/", "model", &i64, &e),
		     RF_EPROTO);
	assert_true(contains(e.msg, "string"));
	RF_ASSERT_RC(rf_h5_attr_get_f64(h, "/", "round", &f64, &e),
		     RF_EPROTO);
	RF_ASSERT_RC(rf_h5_attr_get_str(h, "/params", "lr", 10, &s, &e),
		     RF_EPROTO);
	rf_h5_close(h);
}

/* ---- listing ----------------------------------------------------------- */

struct listing {
	char text[8192];
	size_t len;
	int stop_after; /* > 0: return RF_EPOLICY at that entry */
	int count;
};

static enum rf_rc list_cb(void *ctx, const char *path,
			  const struct rf_tensor_info *ti, struct rf_err *e)
{
	struct listing *l = ctx;
	int n;

	l->count++;
	if (l->stop_after && l->count == l->stop_after)
		return rf_err_set(e, RF_EPOLICY, "stop at '%s'", path);
	n = snprintf(l->text + l->len, sizeof l->text - l->len, "%s %s ",
		     path, rf_dtype_name(ti->dtype));
	assert_true(n > 0 && (size_t)n < sizeof l->text - l->len);
	l->len += (size_t)n;
	for (unsigned i = 0; i < ti->rank; i++) {
		n = snprintf(l->text + l->len, sizeof l->text - l->len,
			     "%s%llu", i ? "x" : "",
			     (unsigned long long)ti->shape[i]);
		l->len += (size_t)n;
	}
	l->text[l->len++] = '\n';
	l->text[l->len] = '\0';
	return RF_OK;
}

/* Reads every listed tensor through the same handle, as checkpoint
 * hashing does. */
struct reader {
	struct rf_h5 *h;
	size_t elems;
};

static enum rf_rc read_cb(void *ctx, const char *path,
			  const struct rf_tensor_info *ti, struct rf_err *e)
{
	struct reader *r = ctx;
	struct rf_tensor_info got;
	int32_t buf[16];

	assert_true(rf_tensor_info_count(ti) <= 16);
	if (rf_h5_read(r->h, path, ti->dtype, buf, 16, &got, e))
		return e->rc;
	assert_memory_equal(&got, ti, sizeof got);
	r->elems += rf_tensor_info_count(&got);
	return RF_OK;
}

static void test_listing(void **state)
{
	const char *dir = rf_test_tmpdir("tensor_list");
	char *path = path_in(dir, "list.h5");
	/* created out of order on purpose */
	static const char *const names[] = {
		"/z", "/params/fc/weight", "/b", "/a.b", "/a/x",
		"/params/conv1/weight", "/params/conv1/bias", "/B",
	};
	struct listing l = {.len = 0};
	struct rf_err e = {0};
	float v[6] = {0};
	struct rf_h5 *h;

	(void)state;
	make_fresh(path, &h);
	for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
		struct rf_tensor_info ti = {i % 2 ? RF_DTYPE_F32 :
					    RF_DTYPE_I32, 2, {2, i % 3 + 1}};

		RF_ASSERT_OK_E(rf_h5_write(h, names[i], &ti, v, NULL, &e), &e);
	}
	RF_ASSERT_OK_E(rf_h5_list(h, "/", list_cb, &l, &e), &e);
	assert_string_equal(l.text,
			    "/B float32 2x2\n"
			    "/a/x int32 2x2\n"
			    "/a.b float32 2x1\n"
			    "/b int32 2x3\n"
			    "/params/conv1/bias int32 2x1\n"
			    "/params/conv1/weight float32 2x3\n"
			    "/params/fc/weight float32 2x2\n"
			    "/z int32 2x1\n");
	memset(&l, 0, sizeof l);
	RF_ASSERT_OK_E(rf_h5_list(h, "/params/conv1", list_cb, &l, &e), &e);
	assert_string_equal(l.text, "/params/conv1/bias int32 2x1\n"
			    "/params/conv1/weight float32 2x3\n");
	memset(&l, 0, sizeof l);
	l.stop_after = 3;
	RF_ASSERT_RC(rf_h5_list(h, "/", list_cb, &l, &e), RF_EPOLICY);
	assert_string_equal(e.msg, "stop at '/a.b'");
	{
		struct reader rd = {h, 0};

		RF_ASSERT_OK_E(rf_h5_list(h, "/", read_cb, &rd, &e), &e);
		assert_int_equal(rd.elems, 2 * (1 + 2 + 3 + 1 + 2 + 3 + 1 + 2));
	}
	RF_ASSERT_RC(rf_h5_list(h, "/nope", list_cb, &l, &e), RF_ENOTFOUND);
	RF_ASSERT_RC(rf_h5_list(h, "/z", list_cb, &l, &e), RF_EPROTO);
	rf_h5_close(h);
}

/* ---- interoperability with h5py ---------------------------------------- */

static void test_reads_h5py_files(void **state)
{
	const char *dir = rf_test_tmpdir("tensor_h5py");
	char *ref = path_in(DATA_DIR, "h5py_ref.h5");
	static const uint32_t bias_bits[] = {
		0x7fc00000, 0x7fa00001, 0x7f800000, 0xff800000, 0x80000000,
		0x00000001, 0x7f7fffff,
	};
	struct rf_tensor_info ti;
	struct rf_err e = {0};
	struct listing l = {.len = 0};
	float f[64];
	int32_t i32[16];
	struct rf_h5 *h;
	char *s = NULL;
	int64_t i64;
	double d;
	FILE *fp;
	char cmd[1400];

	(void)state;
	RF_ASSERT_OK_E(rf_h5_open(ref, RF_H5_RDONLY, &h, &e), &e);
	/* chunked, gzip + shuffle */
	RF_ASSERT_OK_E(rf_h5_read(h, "/params/conv1/weight", RF_DTYPE_F32, f,
				  64, &ti, &e), &e);
	assert_int_equal(ti.rank, 4);
	assert_int_equal(rf_tensor_info_count(&ti), 48);
	assert_int_equal(ti.shape[0], 4);
	assert_int_equal(ti.shape[3], 2);
	for (unsigned i = 0; i < 48; i++)
		assert_true(f[i] == (float)i * 0.25f - 6.0f);
	/* special values bit for bit */
	RF_ASSERT_OK_E(rf_h5_read(h, "/params/conv1/bias", RF_DTYPE_F32, f,
				  64, &ti, &e), &e);
	assert_int_equal(ti.shape[0], 7);
	assert_memory_equal(f, bias_bits, sizeof bias_bits);
	/* big-endian storage */
	RF_ASSERT_OK_E(rf_h5_read(h, "/be/f32", RF_DTYPE_F32, f, 64, &ti,
				  &e), &e);
	for (unsigned i = 0; i < 6; i++)
		assert_true(f[i] == (float)i * 1.5f);
	RF_ASSERT_OK_E(rf_h5_read(h, "/be/i32", RF_DTYPE_I32, i32, 16, &ti,
				  &e), &e);
	assert_int_equal(i32[0], INT32_MIN);
	assert_int_equal(i32[1], INT32_MAX);
	assert_int_equal(i32[2], -1);
	/* an extendable dataset h5py made: rows and gather */
	{
		uint64_t idx[] = {2, 0};

		RF_ASSERT_OK_E(rf_h5_read_rows(h, "/images", RF_DTYPE_F32, 1,
					       2, f, 8, &e), &e);
		for (unsigned i = 0; i < 8; i++)
			assert_true(f[i] == (float)(4 + i));
		RF_ASSERT_OK_E(rf_h5_gather_rows(h, "/images", RF_DTYPE_F32,
						 idx, 2, f, 8, &e), &e);
		for (unsigned i = 0; i < 8; i++)
			assert_true(f[i] == (float)(i < 4 ? 8 + i : i - 4));
	}
	/* wrong types */
	RF_ASSERT_RC(rf_h5_read(h, "/f64", RF_DTYPE_F32, f, 64, NULL, &e),
		     RF_EPROTO);
	assert_true(contains(e.msg, "'/f64'"));
	assert_true(contains(e.msg, "float64"));
	assert_true(contains(e.msg, "float32"));
	RF_ASSERT_RC(rf_h5_read(h, "/scalar", RF_DTYPE_F32, f, 64, NULL, &e),
		     RF_EPROTO);
	assert_true(contains(e.msg, "rank 0"));
	/* attributes */
	RF_ASSERT_OK_E(rf_h5_attr_get_str(h, "/", "model", 64, &s, &e), &e);
	assert_string_equal(s, "r\xc3\xa9snet-18 \xe2\x9c\x93");
	rf_free(s);
	RF_ASSERT_OK_E(rf_h5_attr_get_str(h, "/", "fixed", 64, &s, &e), &e);
	assert_string_equal(s, "fixed-ascii");
	rf_free(s);
	RF_ASSERT_OK_E(rf_h5_attr_get_str(h, "/", "fixed_utf8", 64, &s, &e),
		       &e);
	assert_string_equal(s, "\xc3\xa9-fixed");
	rf_free(s);
	RF_ASSERT_OK_E(rf_h5_attr_get_i64(h, "/", "arch_version", &i64, &e),
		       &e);
	assert_int_equal(i64, 3);
	RF_ASSERT_OK_E(rf_h5_attr_get_i64(h, "/", "round", &i64, &e), &e);
	assert_int_equal(i64, 7);
	RF_ASSERT_RC(rf_h5_attr_get_i64(h, "/", "big", &i64, &e), RF_EPROTO);
	RF_ASSERT_OK_E(rf_h5_attr_get_i64(h, "/params", "count", &i64, &e),
		       &e);
	assert_int_equal(i64, -5);
	RF_ASSERT_OK_E(rf_h5_attr_get_f64(h, "/", "lr", &d, &e), &e);
	assert_true(d == 0.001);
	RF_ASSERT_OK_E(rf_h5_attr_get_f64(h, "/", "half", &d, &e), &e);
	assert_true(d == 0.5);
	RF_ASSERT_RC(rf_h5_attr_get_i64(h, "/", "vector", &i64, &e),
		     RF_EPROTO);
	RF_ASSERT_OK_E(rf_h5_attr_get_str(h, "/labels", "note", 64, &s, &e),
		       &e);
	assert_string_equal(s, "labels");
	rf_free(s);
	/* listing skips the soft link, reports other types as "other" and
	 * scalars with rank 0 (nothing after the type) */
	RF_ASSERT_OK_E(rf_h5_list(h, "/", list_cb, &l, &e), &e);
	assert_string_equal(l.text,
			    "/be/f32 float32 2x3\n"
			    "/be/i32 int32 3\n"
			    "/f64 other 2\n"
			    "/images float32 3x1x2x2\n"
			    "/labels int32 5\n"
			    "/params/conv1/bias float32 7\n"
			    "/params/conv1/weight float32 4x3x2x2\n"
			    "/scalar float32 \n");
	rf_h5_close(h);

	/* a new-format file with dense, creation-ordered groups: the listing
	 * must match the order make_fixtures.py computed */
	{
		char *want = NULL;
		long n;

		fp = fopen(path_in(DATA_DIR, "h5py_latest.order"), "rb");
		assert_non_null(fp);
		fseek(fp, 0, SEEK_END);
		n = ftell(fp);
		rewind(fp);
		want = calloc(1, (size_t)n + 1);
		assert_non_null(want);
		assert_int_equal(fread(want, 1, (size_t)n, fp), (size_t)n);
		fclose(fp);
		memset(&l, 0, sizeof l);
		RF_ASSERT_OK_E(rf_h5_open(path_in(DATA_DIR, "h5py_latest.h5"),
					  RF_H5_RDONLY, &h, &e), &e);
		RF_ASSERT_OK_E(rf_h5_list(h, "/", list_cb, &l, &e), &e);
		assert_string_equal(l.text, want);
		rf_h5_close(h);
		free(want);
	}

	/* append to an h5py-made extendable dataset (on a copy) */
	snprintf(cmd, sizeof cmd, "cp '%s' '%s'", ref, path_in(dir, "c.h5"));
	assert_int_equal(system(cmd), 0);
	RF_ASSERT_OK_E(rf_h5_open(path_in(dir, "c.h5"), RF_H5_RDWR, &h, &e),
		       &e);
	i32[0] = 9;
	i32[1] = 2;
	RF_ASSERT_OK_E(rf_h5_append_rows(h, "/labels", RF_DTYPE_I32, 2, i32,
					 2, &e), &e);
	memset(i32, 0, sizeof i32);
	RF_ASSERT_OK_E(rf_h5_read(h, "/labels", RF_DTYPE_I32, i32, 16, &ti,
				  &e), &e);
	assert_int_equal(ti.shape[0], 7);
	assert_memory_equal(i32, ((int32_t[]){3, 1, 4, 1, 5, 9, 2}), 28);
	rf_h5_close(h);
}

static void append_line(char *buf, size_t cap, const char *fmt, ...)
	RF_PRINTF(3, 4);
static void append_line(char *buf, size_t cap, const char *fmt, ...)
{
	size_t len = strlen(buf);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf + len, cap - len, fmt, ap);
	va_end(ap);
}

static void test_h5py_reads_ours(void **state)
{
	const char *dir = rf_test_tmpdir("tensor_ours");
	char *path = path_in(dir, "ours.h5");
	static const uint32_t special[] = {0x7fc00000, 0xff800000,
					   0x80000000};
	struct rf_tensor_info tw = {RF_DTYPE_F32, 2, {2, 3}};
	struct rf_tensor_info tb = {RF_DTYPE_F32, 1, {3}};
	struct rf_tensor_info tl = {RF_DTYPE_I32, 1, {0}};
	struct rf_tensor_info timg = {RF_DTYPE_F32, 4, {0, 1, 2, 2}};
	struct rf_h5_wopts ol = {{16}, 0, 0}, oimg = {{2}, 5, 1};
	struct rf_h5_wopts obig = {{0}, 6, 1};
	struct rf_tensor_info tbig = {RF_DTYPE_F32, 2, {256, 256}};
	float w[6] = {-1.5f, 0.0f, 2.25f, 1e-30f, -3e30f, 7.0f};
	int32_t labels[4] = {INT32_MIN, 0, 1, INT32_MAX};
	struct rf_tensor_info tfix = {RF_DTYPE_F32, 2, {1024, 512}};
	struct rf_tensor_info trows = {RF_DTYPE_F32, 4, {0, 3, 64, 64}};
	float img[12], *big = malloc(256 * 256 * 4);
	float *fix = calloc(1024 * 512, 4);
	char hfix[65], hnone[65];
	char hw[65], hb[65], hl[65], hi[65], hbig[65];
	char want[4096] = "";
	struct rf_err e = {0};
	struct rf_h5 *h;
	char *got;

	(void)state;
	assert_non_null(big);
	assert_non_null(fix);
	for (unsigned i = 0; i < 1024 * 512; i++)
		fix[i] = (float)(i % 1000) * 0.001f;
	for (unsigned i = 0; i < 12; i++)
		img[i] = (float)i / 3.0f;
	for (unsigned i = 0; i < 256 * 256; i++)
		big[i] = (float)(i % 13);
	make_fresh(path, &h);
	RF_ASSERT_OK_E(rf_h5_write(h, "/params/conv1/weight", &tw, w, NULL,
				   &e), &e);
	RF_ASSERT_OK_E(rf_h5_write(h, "/params/conv1/bias", &tb, special,
				   NULL, &e), &e);
	RF_ASSERT_OK_E(rf_h5_create_rows(h, "/labels", &tl, &ol, &e), &e);
	RF_ASSERT_OK_E(rf_h5_append_rows(h, "/labels", RF_DTYPE_I32, 4,
					 labels, 4, &e), &e);
	RF_ASSERT_OK_E(rf_h5_create_rows(h, "/images", &timg, &oimg, &e), &e);
	for (unsigned r = 0; r < 3; r++)
		RF_ASSERT_OK_E(rf_h5_append_rows(h, "/images", RF_DTYPE_F32, 1,
						 img + 4 * r, 4, &e), &e);
	RF_ASSERT_OK_E(rf_h5_write(h, "/big", &tbig, big, &obig, &e), &e);
	/* automatic chunks: 2 MiB halved to 1 MiB; 48 KiB rows, 21 a chunk */
	RF_ASSERT_OK_E(rf_h5_write(h, "/auto/fixed", &tfix, fix, &obig, &e),
		       &e);
	RF_ASSERT_OK_E(rf_h5_create_rows(h, "/auto/rows", &trows, NULL, &e),
		       &e);
	RF_ASSERT_OK_E(rf_h5_attr_set_str(h, "/", "model",
					  "H\xc3\xb4pital \xe2\x9c\x93", &e),
		       &e);
	RF_ASSERT_OK_E(rf_h5_attr_set_fixstr(h, "/", "arch", "abc", &e), &e);
	RF_ASSERT_OK_E(rf_h5_attr_set_i64(h, "/", "round", -42, &e), &e);
	RF_ASSERT_OK_E(rf_h5_attr_set_f64(h, "/", "lr", 0.1, &e), &e);
	RF_ASSERT_OK_E(rf_h5_attr_set_str(h, "/params", "note", "", &e), &e);
	RF_ASSERT_OK_E(rf_h5_attr_set_i64(h, "/labels", "classes", 5, &e),
		       &e);
	commit_close(h);

	sha256_hex(w, sizeof w, hw);
	sha256_hex(special, sizeof special, hb);
	sha256_hex(labels, sizeof labels, hl);
	sha256_hex(img, sizeof img, hi);
	sha256_hex(big, 256 * 256 * 4, hbig);
	sha256_hex(fix, 1024 * 512 * 4, hfix);
	sha256_hex("", 0, hnone);
	append_line(want, sizeof want, "A / arch fstr4 abc\n");
	append_line(want, sizeof want, "A / lr f64 0.1\n");
	append_line(want, sizeof want,
		    "A / model str H\xc3\xb4pital \xe2\x9c\x93\n");
	append_line(want, sizeof want, "A / round i64 -42\n");
	append_line(want, sizeof want, "D /auto/fixed float32 1024x512 "
		    "chunk=512x512,gzip=6,shuffle=1 sha256:%s\n", hfix);
	append_line(want, sizeof want, "D /auto/rows float32 0x3x64x64 "
		    "chunk=21x3x64x64,gzip=-,shuffle=0 sha256:%s\n", hnone);
	append_line(want, sizeof want, "D /big float32 256x256 "
		    "chunk=256x256,gzip=6,shuffle=1 sha256:%s\n", hbig);
	append_line(want, sizeof want, "D /images float32 3x1x2x2 "
		    "chunk=2x1x2x2,gzip=5,shuffle=1 sha256:%s\n", hi);
	append_line(want, sizeof want, "D /labels int32 4 "
		    "chunk=16,gzip=-,shuffle=0 sha256:%s\n", hl);
	append_line(want, sizeof want, "A /labels classes i64 5\n");
	append_line(want, sizeof want, "A /params note str \n");
	append_line(want, sizeof want, "D /params/conv1/bias float32 3 "
		    "contiguous sha256:%s\n", hb);
	append_line(want, sizeof want, "D /params/conv1/weight float32 2x3 "
		    "contiguous sha256:%s\n", hw);
	got = run_python("dump_h5.py", path);
	assert_string_equal(got, want);
	free(got);
	free(big);
	free(fix);
}

/* ---- atomic creation --------------------------------------------------- */

static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

static void test_atomic_create(void **state)
{
	const char *tmp = rf_test_tmpdir("tensor_atomic");
	char dir[600];
	char *path;
	struct rf_tensor_info ti = {RF_DTYPE_I32, 1, {2}};
	int32_t v1[2] = {1, 1}, v2[2] = {2, 2}, back[2];
	struct rf_err e = {0};
	struct rf_h5 *h, *h2;
	struct stat st;

	(void)state;
	snprintf(dir, sizeof dir, "%s", tmp);
	path = path_in(dir, "model.h5");
	make_fresh(path, &h);
	RF_ASSERT_OK_E(rf_h5_write(h, "/v", &ti, v1, NULL, &e), &e);
	RF_ASSERT_OK_E(rf_h5_flush(h, &e), &e);
	/* nothing at path yet: only the temporary file */
	assert_int_equal(stat(path, &st), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(count_entries(dir), 1);
	assert_string_equal(rf_h5_path(h), path);
	RF_ASSERT_OK_E(rf_h5_commit(h, &e), &e);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(count_entries(dir), 1); /* temp renamed */
	rf_h5_close(h);
	assert_int_equal(count_entries(dir), 1);

	/* a second creation abandoned: old file intact, temp removed */
	make_fresh(path, &h2);
	RF_ASSERT_OK_E(rf_h5_write(h2, "/v", &ti, v2, NULL, &e), &e);
	assert_int_equal(count_entries(dir), 2);
	rf_h5_close(h2);
	assert_int_equal(count_entries(dir), 1);
	RF_ASSERT_OK_E(rf_h5_open(path, RF_H5_RDONLY, &h, &e), &e);
	RF_ASSERT_OK_E(rf_h5_read(h, "/v", RF_DTYPE_I32, back, 2, NULL, &e),
		       &e);
	assert_memory_equal(back, v1, sizeof v1);
	rf_h5_close(h);

	/* a committed replacement replaces */
	make_fresh(path, &h2);
	RF_ASSERT_OK_E(rf_h5_write(h2, "/v", &ti, v2, NULL, &e), &e);
	commit_close(h2);
	assert_int_equal(count_entries(dir), 1);
	RF_ASSERT_OK_E(rf_h5_open(path, RF_H5_RDONLY, &h, &e), &e);
	RF_ASSERT_OK_E(rf_h5_read(h, "/v", RF_DTYPE_I32, back, 2, NULL, &e),
		       &e);
	assert_memory_equal(back, v2, sizeof v2);
	rf_h5_close(h);

	/* a directory that does not exist */
	RF_ASSERT_RC(rf_h5_create(path_in(dir, "no/such/x.h5"), &h, &e),
		     RF_ENOTFOUND);
	assert_null(h);
}

/* ---- broken files ------------------------------------------------------ */

static void write_bytes(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(p, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
}

static void test_broken_files(void **state)
{
	const char *tmp = rf_test_tmpdir("tensor_broken");
	char dir[600];
	char good_p[600];
	char *good, *trunc, *text, *empty;
	struct rf_tensor_info ti = {RF_DTYPE_F32, 1, {4096}};
	static float v[4096];
	struct rf_err e = {0};
	struct rf_h5 *h;
	unsigned char *bytes;
	FILE *f, *errf;
	int saved;
	long n;

	(void)state;
	snprintf(dir, sizeof dir, "%s", tmp);
	snprintf(good_p, sizeof good_p, "%s", path_in(dir, "good.h5"));
	good = good_p;
	trunc = path_in(dir, "trunc.h5");
	text = path_in(dir, "text.h5");
	empty = path_in(dir, "empty.h5");
	make_fresh(good, &h);
	RF_ASSERT_OK_E(rf_h5_write(h, "/v", &ti, v, NULL, &e), &e);
	commit_close(h);

	f = fopen(good, "rb");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	bytes = malloc((size_t)n);
	assert_non_null(bytes);
	assert_int_equal(fread(bytes, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	write_bytes(trunc, bytes, (size_t)n / 2);
	free(bytes);
	write_bytes(text, "not an HDF5 file\n", 17);
	write_bytes(empty, "", 0);

	/* HDF5 prints nothing: the details are in e only */
	fflush(stderr);
	saved = dup(2);
	assert_true(saved >= 0);
	errf = fopen(path_in(dir, "stderr.txt"), "w+");
	assert_non_null(errf);
	assert_true(dup2(fileno(errf), 2) >= 0);
	RF_ASSERT_RC(rf_h5_open(trunc, RF_H5_RDONLY, &h, &e), RF_EPROTO);
	RF_ASSERT_RC(rf_h5_open(text, RF_H5_RDONLY, &h, &e), RF_EPROTO);
	fflush(stderr);
	assert_true(dup2(saved, 2) >= 0);
	close(saved);
	assert_int_equal(fseek(errf, 0, SEEK_END), 0);
	assert_int_equal(ftell(errf), 0);
	fclose(errf);

	RF_ASSERT_RC(rf_h5_open(trunc, RF_H5_RDONLY, &h, &e), RF_EPROTO);
	assert_null(h);
	assert_true(contains(e.msg, trunc));
	assert_true(contains(e.msg, "truncated"));
	RF_ASSERT_RC(rf_h5_open(text, RF_H5_RDONLY, &h, &e), RF_EPROTO);
	assert_true(contains(e.msg, text));
	assert_true(contains(e.msg, "signature"));
	RF_ASSERT_RC(rf_h5_open(empty, RF_H5_RDWR, &h, &e), RF_EPROTO);
	assert_true(contains(e.msg, empty));
	RF_ASSERT_RC(rf_h5_open(path_in(dir, "missing.h5"), RF_H5_RDONLY, &h,
				&e), RF_ENOTFOUND);
	assert_true(contains(e.msg, "missing.h5"));
	RF_ASSERT_RC(rf_h5_open(dir, RF_H5_RDONLY, &h, &e), RF_EIO);

	/* missing datasets and groups */
	RF_ASSERT_OK_E(rf_h5_open(good, RF_H5_RDONLY, &h, &e), &e);
	RF_ASSERT_RC(rf_h5_read(h, "/w", RF_DTYPE_F32, v, 4096, NULL, &e),
		     RF_ENOTFOUND);
	assert_true(contains(e.msg, "'/w'"));
	assert_true(contains(e.msg, good));
	RF_ASSERT_RC(rf_h5_info(h, "/params/nope/w", &ti, &e), RF_ENOTFOUND);
	assert_true(contains(e.msg, "'/params'"));
	RF_ASSERT_RC(rf_h5_read(h, "/v/below", RF_DTYPE_F32, v, 4096, NULL,
				&e), RF_EPROTO);
	assert_true(e.msg[0] != '\0');
	rf_h5_close(h);
}

/* Objects pointing outside the file are refused, link cycles end. */
static void test_hostile_links(void **state)
{
	struct rf_tensor_info ti;
	struct listing l = {.len = 0};
	struct rf_err e = {0};
	struct rf_h5 *h;
	int32_t i32[4];
	float f[4];

	(void)state;
	RF_ASSERT_OK_E(rf_h5_open(path_in(DATA_DIR, "h5py_hostile.h5"),
				  RF_H5_RDONLY, &h, &e), &e);
	RF_ASSERT_RC(rf_h5_read(h, "/ext", RF_DTYPE_F32, f, 4, NULL, &e),
		     RF_EPROTO);
	assert_true(contains(e.msg, "external link"));
	RF_ASSERT_RC(rf_h5_info(h, "/ext/x", &ti, &e), RF_EPROTO);
	RF_ASSERT_RC(rf_h5_read(h, "/extdata", RF_DTYPE_F32, f, 4, NULL, &e),
		     RF_EPROTO);
	assert_true(contains(e.msg, "other files"));
	RF_ASSERT_RC(rf_h5_read(h, "/vds", RF_DTYPE_F32, f, 4, NULL, &e),
		     RF_EPROTO);
	assert_true(contains(e.msg, "other files"));
	RF_ASSERT_OK_E(rf_h5_read(h, "/loop/self/self/d", RF_DTYPE_I32, i32,
				  4, NULL, &e), &e);
	assert_int_equal(i32[0], 1);
	RF_ASSERT_RC(rf_h5_read(h, "/bigchunk", RF_DTYPE_F32, f, 4, NULL, &e),
		     RF_EPROTO);
	assert_true(contains(e.msg, "chunks over"));
	RF_ASSERT_RC(rf_h5_info(h, "/r9", &ti, &e), RF_EPROTO);
	assert_true(contains(e.msg, "rank 9"));
	/* the listing stops at the dataset it cannot describe */
	RF_ASSERT_RC(rf_h5_list(h, "/", list_cb, &l, &e), RF_EPROTO);
	assert_true(contains(e.msg, "'/r9'"));
	assert_string_equal(l.text, "/bigchunk float32 4\n"
			    "/extdata float32 4\n"
			    "/loop/d int32 1\n");
	rf_h5_close(h);
}

/* A damaged compressed chunk: a clear error for what touches it, the
 * other chunk still reads. */
static void test_corrupt_chunk(void **state)
{
	const char *dir = rf_test_tmpdir("tensor_corrupt");
	char *path = path_in(dir, "c.h5");
	struct rf_tensor_info ti = {RF_DTYPE_F32, 2, {64, 64}};
	struct rf_h5_wopts o = {{32, 64}, 6, 1};
	static float v[64 * 64], back[64 * 64];
	hsize_t off[2];
	unsigned mask;
	haddr_t addr;
	hsize_t size;
	struct rf_err e = {0};
	struct rf_h5 *h;
	hid_t fid, dset, space;
	FILE *f;

	(void)state;
	for (unsigned i = 0; i < 64 * 64; i++)
		v[i] = (float)(i % 5);
	make_fresh(path, &h);
	RF_ASSERT_OK_E(rf_h5_write(h, "/w", &ti, v, &o, &e), &e);
	commit_close(h);
	/* where HDF5 put the first chunk */
	fid = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
	assert_true(fid >= 0);
	dset = H5Dopen2(fid, "/w", H5P_DEFAULT);
	assert_true(dset >= 0);
	space = H5Dget_space(dset);
	assert_true(space >= 0);
	assert_true(H5Dget_chunk_info(dset, space, 0, off, &mask, &addr,
				      &size) >= 0);
	assert_int_equal(off[0], 0);
	assert_true(size > 4);
	H5Sclose(space);
	H5Dclose(dset);
	H5Fclose(fid);
	f = fopen(path, "r+b");
	assert_non_null(f);
	assert_int_equal(fseek(f, (long)addr, SEEK_SET), 0);
	assert_int_equal(fwrite("\xff\xff\xff\xff", 1, 4, f), 4);
	assert_int_equal(fclose(f), 0);

	RF_ASSERT_OK_E(rf_h5_open(path, RF_H5_RDONLY, &h, &e), &e);
	RF_ASSERT_RC(rf_h5_read(h, "/w", RF_DTYPE_F32, back, 64 * 64, NULL,
				&e), RF_EPROTO);
	assert_true(contains(e.msg, "'/w'"));
	assert_true(contains(e.msg, path));
	RF_ASSERT_OK_E(rf_h5_read_rows(h, "/w", RF_DTYPE_F32, 32, 32, back,
				       32 * 64, &e), &e);
	assert_memory_equal(back, v + 32 * 64, 32 * 64 * 4);
	rf_h5_close(h);
}

/* ---- limits ------------------------------------------------------------ */

static void test_max_elements(void **state)
{
	const char *dir = rf_test_tmpdir("tensor_cap");
	char *path = path_in(dir, "cap.h5");
	/* 2^40 rows claimed, nothing stored: what a hostile file can say */
	struct rf_tensor_info huge = {RF_DTYPE_F32, 2, {1ULL << 40, 4}};
	struct rf_tensor_info ti = {RF_DTYPE_F32, 1, {1000}};
	static float v[1000];
	uint64_t idx[2] = {0, (1ULL << 40) - 1};
	struct rf_err e = {0};
	struct rf_h5 *h;
	void *p = (void *)1;

	(void)state;
	make_fresh(path, &h);
	RF_ASSERT_OK_E(rf_h5_write(h, "/v", &ti, v, NULL, &e), &e);
	RF_ASSERT_OK_E(rf_h5_create_rows(h, "/huge", &huge, NULL, &e), &e);
	commit_close(h);
	assert_true(file_size(path) < 1 << 20);

	RF_ASSERT_OK_E(rf_h5_open(path, RF_H5_RDONLY, &h, &e), &e);
	/* every allocation fails from here: ETOOBIG proves none was tried */
	rf_test_fail_alloc_after(0);
	RF_ASSERT_RC(rf_h5_read_alloc(h, "/v", RF_DTYPE_F32, 999, &p, NULL,
				      &e), RF_ETOOBIG);
	assert_null(p);
	assert_true(contains(e.msg, "'/v'"));
	RF_ASSERT_RC(rf_h5_read_alloc(h, "/huge", RF_DTYPE_F32, 1 << 20, &p,
				      NULL, &e), RF_ETOOBIG);
	RF_ASSERT_RC(rf_h5_read(h, "/v", RF_DTYPE_F32, v, 999, NULL, &e),
		     RF_ETOOBIG);
	RF_ASSERT_RC(rf_h5_gather_rows(h, "/huge", RF_DTYPE_F32, idx, 2, v,
				       7, &e), RF_ETOOBIG);
	assert_int_equal(rf_test_alloc_st.failures, 0);
	rf_test_alloc_reset();
	/* the last of 2^40 rows reads as the fill value */
	RF_ASSERT_OK_E(rf_h5_gather_rows(h, "/huge", RF_DTYPE_F32, idx, 2, v,
					 8, &e), &e);
	for (unsigned i = 0; i < 8; i++)
		assert_true(v[i] == 0.0f);
	rf_h5_close(h);
}

/* ---- allocation failures ----------------------------------------------- */

static enum rf_rc oom_read(const char *path, void **p, char **s,
			   struct rf_err *e)
{
	struct rf_tensor_info ti;
	struct rf_h5 *h = NULL;
	enum rf_rc rc;

	*p = NULL;
	*s = NULL;
	rc = rf_h5_open(path, RF_H5_RDONLY, &h, e);
	if (!rc)
		rc = rf_h5_read_alloc(h, "/a/v", RF_DTYPE_F32, 100, p, &ti, e);
	if (!rc)
		rc = rf_h5_attr_get_str(h, "/a", "s", 10, s, e);
	if (!rc)
		rc = rf_h5_attr_get_str(h, "/a", "f", 10, s + 1, e);
	if (rc) {
		rf_free(*p);
		*p = NULL;
		rf_free(s[0]);
		s[0] = NULL;
	}
	rf_h5_close(h);
	return rc;
}

static enum rf_rc oom_gather(const char *path, float *out, struct listing *l,
			     struct rf_err *e)
{
	static const uint64_t idx[] = {9, 2, 2, 0};
	struct rf_h5 *h = NULL;
	enum rf_rc rc;

	memset(l, 0, sizeof *l);
	rc = rf_h5_open(path, RF_H5_RDONLY, &h, e);
	if (!rc)
		rc = rf_h5_gather_rows(h, "/a/v", RF_DTYPE_F32, idx, 4, out,
				       40, e);
	if (!rc)
		rc = rf_h5_list(h, "/", list_cb, l, e);
	rf_h5_close(h);
	return rc;
}

static enum rf_rc oom_write(const char *path, const float *v,
			    struct rf_err *e)
{
	struct rf_tensor_info ti = {RF_DTYPE_F32, 2, {10, 10}};
	struct rf_h5 *h = NULL;
	enum rf_rc rc;

	rc = rf_h5_create(path, &h, e);
	if (!rc)
		rc = rf_h5_write(h, "/a/v", &ti, v, NULL, e);
	if (!rc)
		rc = rf_h5_attr_set_str(h, "/a", "s", "x", e);
	if (!rc)
		rc = rf_h5_attr_set_fixstr(h, "/a", "f", "fixed", e);
	if (!rc)
		rc = rf_h5_write(h, "/b", &ti, v, NULL, e);
	if (!rc)
		rc = rf_h5_commit(h, e);
	rf_h5_close(h);
	return rc;
}

static void test_oom(void **state)
{
	const char *tmp = rf_test_tmpdir("tensor_oom");
	char dir[600];
	char *path;
	float v[100], out[40];
	struct listing l;
	struct rf_err e = {0};
	enum rf_rc rc;
	void *p = NULL;
	char *strs[2];

	(void)state;
	snprintf(dir, sizeof dir, "%s", tmp);
	path = path_in(dir, "oom.h5");
	for (unsigned i = 0; i < 100; i++)
		v[i] = (float)i;
	RF_TEST_OOM_LOOP(rc, rc = oom_write(path, v, &e), (void)0);
	assert_int_equal(count_entries(dir), 1); /* no temp file left */
	RF_TEST_OOM_LOOP(rc, rc = oom_read(path, &p, strs, &e),
			 assert_float_equal(((float *)p)[99], 99.0f, 0);
			 assert_string_equal(strs[0], "x");
			 assert_string_equal(strs[1], "fixed");
			 rf_free(p); rf_free(strs[0]); rf_free(strs[1]));
	RF_TEST_OOM_LOOP(rc, rc = oom_gather(path, out, &l, &e), (void)0);
	for (unsigned i = 0; i < 40; i++)
		assert_true(out[i] == (float)((i < 10 ? 90 : i < 30 ? 20 : 0) +
					      i % 10));
	assert_string_equal(l.text, "/a/v float32 10x10\n"
			    "/b float32 10x10\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_ranks),
		cmocka_unit_test(test_bad_arguments),
		cmocka_unit_test(test_compressed),
		cmocka_unit_test(test_rows),
		cmocka_unit_test(test_attributes),
		cmocka_unit_test(test_listing),
		cmocka_unit_test(test_reads_h5py_files),
		cmocka_unit_test(test_h5py_reads_ours),
		cmocka_unit_test(test_atomic_create),
		cmocka_unit_test(test_broken_files),
		cmocka_unit_test(test_hostile_links),
		cmocka_unit_test(test_corrupt_chunk),
		cmocka_unit_test(test_max_elements),
		cmocka_unit_test(test_oom),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
