/*
 * test_proto.c - rf_pb: round trips of radfed.Chunk and radfed.BuildInfo
 * against encodings made by protobuf's own encoder (proto_fixtures.h, see
 * gen-fixtures.sh), and hostile input: every truncation, huge length
 * prefixes, random bytes, bit flips, sizes over the limit, failing
 * allocations. Every failure must be clean (RF_EPROTO/RF_ETOOBIG/RF_ENOMEM)
 * and leave no live allocation.
 */
#include "rf_test.h"

#include "proto_fixtures.h"
#include "radfed.pb-c.h"
#include "rf_buf.h"
#include "rf_pb.h"

#define MAX_MSG (1u << 20)

static const uint8_t sha_hello[32] = {
	0x2c, 0xf2, 0x4d, 0xba, 0x5f, 0xb0, 0xa3, 0x0e, 0x26, 0xe8, 0x3b,
	0x2a, 0xc5, 0xb9, 0xe2, 0x9e, 0x1b, 0x16, 0x1e, 0x5c, 0x1f, 0xa7,
	0x42, 0x5e, 0x73, 0x04, 0x33, 0x62, 0x93, 0x8b, 0x98, 0x24,
};

/* xorshift64*: a fixed, libc-independent sequence */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

static void chunk_fill(Radfed__Chunk *c)
{
	static uint8_t hello[] = "hello";

	c->offset = 300;
	c->data.len = 5;
	c->data.data = hello;
	c->last = 1;
	c->total_bytes = 5;
	c->sha256.len = sizeof sha_hello;
	c->sha256.data = (uint8_t *)sha_hello;
}

static void assert_pack_equals(const ProtobufCMessage *m, const uint8_t *want,
			       size_t n)
{
	struct rf_buf b = RF_BUF_INIT(MAX_MSG);
	struct rf_err e = {0};

	RF_ASSERT_OK_E(rf_pb_pack(m, &b, &e), &e);
	assert_int_equal(b.len, n);
	assert_memory_equal(b.data, want, n);
	rf_buf_release(&b);
}

static void test_chunk_round_trip(void **state)
{
	Radfed__Chunk c = RADFED__CHUNK__INIT;
	ProtobufCMessage *m = NULL;
	Radfed__Chunk *d;
	struct rf_err e = {0};

	(void)state;
	rf_test_fail_alloc_after(-1);
	chunk_fill(&c);
	assert_pack_equals(&c.base, chunk_ref, sizeof chunk_ref);

	RF_ASSERT_OK_E(rf_pb_unpack(&radfed__chunk__descriptor, chunk_ref,
				    sizeof chunk_ref, MAX_MSG, &m, &e),
		       &e);
	d = (Radfed__Chunk *)m;
	assert_int_equal(d->offset, 300);
	assert_int_equal(d->data.len, 5);
	assert_memory_equal(d->data.data, "hello", 5);
	assert_true(d->last);
	assert_int_equal(d->total_bytes, 5);
	assert_int_equal(d->sha256.len, 32);
	assert_memory_equal(d->sha256.data, sha_hello, 32);
	/* decoded, then encoded again: the same bytes */
	assert_pack_equals(m, chunk_ref, sizeof chunk_ref);
	assert_true(rf_test_alloc_live() > 0); /* through rf_malloc */
	rf_pb_free(m);
	rf_pb_free(NULL);
	assert_int_equal(rf_test_alloc_live(), 0);
	rf_test_alloc_reset();
}

static void test_buildinfo_round_trip(void **state)
{
	Radfed__BuildInfo bi = RADFED__BUILD_INFO__INIT;
	Radfed__BuildInfo__Component c0 = RADFED__BUILD_INFO__COMPONENT__INIT;
	Radfed__BuildInfo__Component c1 = RADFED__BUILD_INFO__COMPONENT__INIT;
	Radfed__BuildInfo__Component *cs[2] = {&c0, &c1};
	char v[] = "0.1.0", n0[] = "grpc", v0[] = "29.0.0", n1[] = "zlib",
	     v1[] = "1.2.13";
	ProtobufCMessage *m = NULL;
	Radfed__BuildInfo *d;
	struct rf_err e = {0};

	(void)state;
	rf_test_fail_alloc_after(-1);
	bi.radfed = v;
	c0.name = n0;
	c0.version = v0;
	c1.name = n1;
	c1.version = v1;
	bi.n_components = 2;
	bi.components = cs;
	assert_pack_equals(&bi.base, buildinfo_ref, sizeof buildinfo_ref);

	RF_ASSERT_OK_E(rf_pb_unpack(&radfed__build_info__descriptor,
				    buildinfo_ref, sizeof buildinfo_ref,
				    MAX_MSG, &m, &e),
		       &e);
	d = (Radfed__BuildInfo *)m;
	assert_string_equal(d->radfed, "0.1.0");
	assert_int_equal(d->n_components, 2);
	assert_string_equal(d->components[0]->name, "grpc");
	assert_string_equal(d->components[0]->version, "29.0.0");
	assert_string_equal(d->components[1]->name, "zlib");
	assert_string_equal(d->components[1]->version, "1.2.13");
	assert_pack_equals(m, buildinfo_ref, sizeof buildinfo_ref);
	rf_pb_free(m);
	assert_int_equal(rf_test_alloc_live(), 0);
	rf_test_alloc_reset();
}

/* Field boundaries of the fixtures (from the encodings: tag, length,
 * value), where a truncated encoding is still a valid, shorter message. */
static const size_t chunk_cuts[] = {0, 3, 10, 12, 14};
static const size_t buildinfo_cuts[] = {0, 7, 23};

static int is_cut(const size_t *cuts, size_t ncuts, size_t k)
{
	for (size_t i = 0; i < ncuts; i++)
		if (cuts[i] == k)
			return 1;
	return 0;
}

static void truncations(const ProtobufCMessageDescriptor *d,
			const uint8_t *ref, size_t n, const size_t *cuts,
			size_t ncuts)
{
	char want[128];

	for (size_t k = 0; k < n; k++) {
		ProtobufCMessage *m = (ProtobufCMessage *)1;
		struct rf_err e = {0};
		enum rf_rc rc;
		uint8_t *copy;

		/* an exact-size heap copy, so ASan sees any read past k */
		copy = malloc(k ? k : 1);
		assert_non_null(copy);
		memcpy(copy, ref, k);
		rf_test_fail_alloc_after(-1);
		rc = rf_pb_unpack(d, copy, k, MAX_MSG, &m, &e);
		if (is_cut(cuts, ncuts, k)) {
			/* a prefix ending on a field boundary is the message
			 * with the later fields at their defaults */
			RF_ASSERT_OK_E(rc, &e);
			assert_pack_equals(m, ref, k);
			rf_pb_free(m);
		} else {
			assert_int_equal(rc, RF_EPROTO);
			assert_null(m);
			snprintf(want, sizeof want,
				 "malformed %s message (%zu bytes)", d->name,
				 k);
			assert_string_equal(e.msg, want);
		}
		assert_int_equal(rf_test_alloc_live(), 0);
		rf_test_alloc_reset();
		free(copy);
	}
}

static void test_every_truncation(void **state)
{
	(void)state;
	truncations(&radfed__chunk__descriptor, chunk_ref, sizeof chunk_ref,
		    chunk_cuts, sizeof chunk_cuts / sizeof chunk_cuts[0]);
	truncations(&radfed__build_info__descriptor, buildinfo_ref,
		    sizeof buildinfo_ref, buildinfo_cuts,
		    sizeof buildinfo_cuts / sizeof buildinfo_cuts[0]);
}

static void expect_eproto(const ProtobufCMessageDescriptor *d,
			  const uint8_t *p, size_t n)
{
	ProtobufCMessage *m = (ProtobufCMessage *)1;
	struct rf_err e = {0};

	rf_test_fail_alloc_after(-1);
	RF_ASSERT_RC(rf_pb_unpack(d, p, n, MAX_MSG, &m, &e), RF_EPROTO);
	assert_null(m);
	assert_non_null(strstr(e.msg, d->name));
	assert_int_equal(rf_test_alloc_live(), 0);
	rf_test_alloc_reset();
}

static void test_huge_length_prefix(void **state)
{
	/* data (field 2, bytes): length 2^31 as a varint, then 3 bytes */
	static const uint8_t chunk_2g[] = {0x12, 0x80, 0x80, 0x80, 0x80,
					   0x08, 'a', 'b', 'c'};
	/* the same with a 2^63 - 1 length (9 bytes of varint) */
	static const uint8_t chunk_2e63[] = {0x12, 0xff, 0xff, 0xff, 0xff,
					     0xff, 0xff, 0xff, 0xff, 0x7f,
					     'a'};
	/* a varint longer than 10 bytes */
	static const uint8_t chunk_longvar[] = {0x08, 0xff, 0xff, 0xff, 0xff,
						0xff, 0xff, 0xff, 0xff, 0xff,
						0xff, 0xff, 0x01};
	/* components (field 2, message) of 2^31 bytes */
	static const uint8_t bi_2g[] = {0x12, 0x80, 0x80, 0x80, 0x80,
					0x08, 0x0a, 0x01, 'x'};
	/* a component that fits its outer length, whose name claims 2^31 */
	static const uint8_t bi_inner_2g[] = {0x12, 0x07, 0x0a, 0x80, 0x80,
					      0x80, 0x80, 0x08, 'x'};
	/* 2^31 - 1: the largest length that fits an int32 */
	static const uint8_t bi_name_max[] = {0x0a, 0xff, 0xff, 0xff, 0xff,
					      0x07, 'x'};

	(void)state;
	expect_eproto(&radfed__chunk__descriptor, chunk_2g, sizeof chunk_2g);
	expect_eproto(&radfed__chunk__descriptor, chunk_2e63,
		      sizeof chunk_2e63);
	expect_eproto(&radfed__chunk__descriptor, chunk_longvar,
		      sizeof chunk_longvar);
	expect_eproto(&radfed__build_info__descriptor, bi_2g, sizeof bi_2g);
	expect_eproto(&radfed__build_info__descriptor, bi_inner_2g,
		      sizeof bi_inner_2g);
	expect_eproto(&radfed__build_info__descriptor, bi_name_max,
		      sizeof bi_name_max);
}

static void random_inputs(const ProtobufCMessageDescriptor *d,
			  const uint8_t *seed_msg, size_t seed_n)
{
	uint8_t buf[96];
	long ok = 0, bad = 0;

	for (int it = 0; it < 10000; it++) {
		ProtobufCMessage *m = NULL;
		struct rf_err e = {0};
		size_t n;
		enum rf_rc rc;

		if (it % 2 == 0) {
			/* pure noise */
			n = (size_t)(rng() % sizeof buf);
			for (size_t i = 0; i < n; i++)
				buf[i] = (uint8_t)rng();
		} else {
			/* a valid message with 1 to 3 bytes changed */
			n = seed_n;
			memcpy(buf, seed_msg, n);
			for (uint64_t f = rng() % 3 + 1; f > 0; f--)
				buf[rng() % n] ^= (uint8_t)(rng() | 1);
		}
		rf_test_fail_alloc_after(-1);
		rc = rf_pb_unpack(d, buf, n, MAX_MSG, &m, &e);
		if (rc == RF_OK) {
			ok++;
			assert_non_null(m);
			rf_pb_free(m);
		} else {
			bad++;
			if (rc != RF_EPROTO)
				fail_msg("iteration %d: %s", it,
					 rf_rc_name(rc));
			assert_null(m);
		}
		assert_int_equal(rf_test_alloc_live(), 0);
		rf_test_alloc_reset();
	}
	/* the noise exercised both outcomes */
	assert_true(ok > 0);
	assert_true(bad > 0);
}

static void test_random_bytes(void **state)
{
	(void)state;
	random_inputs(&radfed__chunk__descriptor, chunk_ref,
		      sizeof chunk_ref);
	random_inputs(&radfed__build_info__descriptor, buildinfo_ref,
		      sizeof buildinfo_ref);
}

static void test_over_max(void **state)
{
	ProtobufCMessage *m = (ProtobufCMessage *)1;
	struct rf_err e = {0};
	struct rf_buf b = RF_BUF_INIT(sizeof chunk_ref - 1);
	Radfed__Chunk c = RADFED__CHUNK__INIT;

	(void)state;
	rf_test_fail_alloc_after(0); /* nothing may even be allocated */
	RF_ASSERT_RC(rf_pb_unpack(&radfed__chunk__descriptor, chunk_ref,
				  sizeof chunk_ref, sizeof chunk_ref - 1, &m,
				  &e),
		     RF_ETOOBIG);
	assert_null(m);
	assert_non_null(strstr(e.msg, "radfed.Chunk"));
	/* the size is refused before a byte is read */
	RF_ASSERT_RC(rf_pb_unpack(&radfed__chunk__descriptor, chunk_ref,
				  SIZE_MAX, MAX_MSG, &m, NULL),
		     RF_ETOOBIG);
	assert_int_equal(rf_test_alloc_live(), 0);
	assert_int_equal(rf_test_alloc_st.failures, 0);

	/* packing into a buffer capped below the encoding */
	rf_test_fail_alloc_after(-1);
	chunk_fill(&c);
	RF_ASSERT_RC(rf_pb_pack(&c.base, &b, &e), RF_ETOOBIG);
	assert_int_equal(b.len, 0);
	assert_non_null(strstr(e.msg, "radfed.Chunk"));
	RF_ASSERT_RC(rf_pb_pack(&c.base, &b, NULL), RF_ETOOBIG);
	rf_buf_release(&b);
	assert_int_equal(rf_test_alloc_live(), 0);
	rf_test_alloc_reset();
}

/* Field number 0 written with a two-byte key (0x80 0x00, varint): protobuf-c
 * 1.4 keeps it as an unknown field, and would encode it back as 0x00,
 * which it refuses; rf_pb_unpack refuses it from the start, at the top
 * level and inside a nested message (UpdatePart.header). */
static void test_field0(void **state)
{
	static const uint8_t top[] = {0x80, 0x00, 0x00};
	static const uint8_t nested[] = {0x0a, 0x03, 0x80, 0x00, 0x00};
	static const uint8_t fine[] = {0x0a, 0x02, 0x18, 0x05};
	ProtobufCMessage *m = NULL;
	struct rf_err e = {0};

	(void)state;
	RF_ASSERT_RC(rf_pb_unpack(&radfed__chunk__descriptor, top,
				  sizeof top, MAX_MSG, &m, &e),
		     RF_EPROTO);
	assert_null(m);
	assert_non_null(strstr(e.msg, "field number 0"));
	RF_ASSERT_RC(rf_pb_unpack(&radfed__update_part__descriptor, nested,
				  sizeof nested, MAX_MSG, &m, &e),
		     RF_EPROTO);
	assert_null(m);
	/* the same shape without field 0 decodes (header.samples = 5) */
	RF_ASSERT_OK(rf_pb_unpack(&radfed__update_part__descriptor, fine,
				  sizeof fine, MAX_MSG, &m, NULL));
	assert_int_equal(((Radfed__UpdatePart *)m)->header->samples, 5);
	rf_pb_free(m);
	assert_int_equal(rf_test_alloc_live(), 0);
}

static void test_bad_arguments(void **state)
{
	ProtobufCMessage *m = NULL;
	struct rf_err e = {0};

	(void)state;
	RF_ASSERT_RC(rf_pb_unpack(&radfed__chunk__descriptor, NULL, 1,
				  MAX_MSG, &m, &e),
		     RF_EINVAL);
	assert_null(m);
	/* no bytes at all is the empty message */
	RF_ASSERT_OK(rf_pb_unpack(&radfed__chunk__descriptor, NULL, 0,
				  MAX_MSG, &m, &e));
	assert_int_equal(((Radfed__Chunk *)m)->offset, 0);
	rf_pb_free(m);
}

static void test_oom(void **state)
{
	ProtobufCMessage *m = NULL;
	struct rf_err e = {0};
	struct rf_buf b = RF_BUF_INIT(MAX_MSG);
	Radfed__Chunk c = RADFED__CHUNK__INIT;
	enum rf_rc rc = RF_OK;
	Radfed__BuildInfo *d;

	(void)state;
	RF_TEST_OOM_LOOP(rc,
			 rc = rf_pb_unpack(&radfed__build_info__descriptor,
					   buildinfo_ref,
					   sizeof buildinfo_ref, MAX_MSG, &m,
					   &e),
			 {
				 d = (Radfed__BuildInfo *)m;
				 assert_int_equal(d->n_components, 2);
				 assert_string_equal(
					 d->components[1]->version, "1.2.13");
				 rf_pb_free(m);
			 });
	chunk_fill(&c);
	RF_TEST_OOM_LOOP(rc, rc = rf_pb_pack(&c.base, &b, &e), {
		assert_int_equal(b.len, sizeof chunk_ref);
		assert_memory_equal(b.data, chunk_ref, sizeof chunk_ref);
		rf_buf_release(&b);
	});
	(void)e;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_chunk_round_trip),
		cmocka_unit_test(test_buildinfo_round_trip),
		cmocka_unit_test(test_every_truncation),
		cmocka_unit_test(test_huge_length_prefix),
		cmocka_unit_test(test_random_bytes),
		cmocka_unit_test(test_over_max),
		cmocka_unit_test(test_field0),
		cmocka_unit_test(test_bad_arguments),
		cmocka_unit_test(test_oom),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
