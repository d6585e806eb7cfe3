/* test_chunk.c - chunked payload streams: round trips through memory and
 * files at the sizes around the chunk boundary, the wrapped encoding as
 * protobuf-c decodes it, every hostile stream (with nothing left at the
 * destination), and send/download over a real loopback rf_rpc server. */
#include "rf_test.h"
#include "rf_test_pki.h"

#include <dirent.h>
#include <time.h>

#include "radfed.pb-c.h"
#include "rf_buf.h"
#include "rf_chunk.h"
#include "rf_crypto.h"
#include "rf_file.h"
#include "rf_pb.h"
#include "rf_rpc.h"
#include "rf_x509.h"

#define D RF_CHUNK_DATA

/* SHA-256 of pattern(n), computed independently by
 *   /usr/bin/python3 -c 'import hashlib; print(hashlib.sha256(bytes(
 *     ((i * 2654435761) & 0xffffffff) >> 24 for i in range(n)
 *   )).hexdigest())' */
static const struct {
	size_t n;
	const char *sha256;
} sizes[] = {
	{0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
	{1, "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"},
	{D - 1,
	 "91d62fd1d08efb015d4df37140653062ebcb5ef5242123ff349bf50e0bca6858"},
	{D, "ca6073392ee71dbd1a2d356c3caa233f8f828ae17f8f8ba8570ee3491be128ab"},
	{D + 1,
	 "dcb817e18265785736568cf5c70d34a3dbb83af4b943e2af23eb3aa28c4c2eaf"},
	{7u << 19, /* 3.5 MiB */
	 "c6f68c02132cedced8b04f66604341b23c877be0af840c5602ad933d4df19439"},
};
#define N_SIZES (sizeof sizes / sizeof sizes[0])

static uint8_t *pattern(size_t n)
{
	uint8_t *p = malloc(n ? n : 1);

	assert_non_null(p);
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(((uint32_t)i * 2654435761u) >> 24);
	return p;
}

static size_t msgs_for(size_t n)
{
	return n == 0 ? 1 : (n + D - 1) / D;
}

static void write_file(const char *path, const uint8_t *p, size_t n)
{
	RF_ASSERT_OK(rf_file_write_atomic(path, p, n, 0600, NULL));
}

/* Number of entries in dir besides . and .. */
static int dir_entries(const char *dir)
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

static int exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

/* ---- round trips -------------------------------------------------------- */

/* Sends o into in message by message; returns the number of messages. */
static size_t pump(struct rf_chunk_out *o, struct rf_chunk_in *in)
{
	const uint8_t *p;
	size_t n, count = 0;
	int last = 0;
	struct rf_err e = {0};

	while (!last) {
		RF_ASSERT_OK_E(rf_chunk_out_next(o, &p, &n, &last, &e), &e);
		assert_true(n <= RF_CHUNK_MSG_MAX);
		RF_ASSERT_OK_E(rf_chunk_in_feed(in, p, n, &e), &e);
		count++;
	}
	/* nothing after the last one */
	RF_ASSERT_OK(rf_chunk_out_next(o, &p, &n, &last, NULL));
	assert_null(p);
	assert_int_equal(n, 0);
	return count;
}

static void test_mem_round_trip(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_SIZES; i++) {
		size_t n = sizes[i].n;
		uint8_t *src = pattern(n);
		struct rf_buf got = RF_BUF_INIT(8u << 20);
		struct rf_chunk_out o;
		struct rf_chunk_in in;
		char hex[2 * RF_SHA256_LEN + 1];
		uint64_t bytes = 99;
		struct rf_err e = {0};

		RF_ASSERT_OK_E(rf_chunk_out_mem(&o, src, n, 0, &e), &e);
		RF_ASSERT_OK_E(rf_chunk_in_mem(&in, &got, n, &e), &e);
		assert_int_equal(pump(&o, &in), msgs_for(n));
		RF_ASSERT_OK_E(rf_chunk_in_finish(&in, hex, &bytes, &e), &e);
		assert_int_equal(bytes, n);
		assert_string_equal(hex, sizes[i].sha256);
		assert_int_equal(got.len, n);
		assert_memory_equal(got.data ? got.data : (uint8_t *)"",
				    src, n);
		rf_chunk_in_release(&in);
		rf_chunk_out_release(&o);
		rf_buf_release(&got);
		free(src);
	}
}

static void test_file_round_trip(void **state)
{
	const char *dir = rf_test_tmpdir("chunk_file");
	char src[600], dst[600];

	(void)state;
	snprintf(src, sizeof src, "%s/src.bin", dir);
	snprintf(dst, sizeof dst, "%s/dst.bin", dir);
	for (size_t i = 0; i < N_SIZES; i++) {
		size_t n = sizes[i].n;
		uint8_t *p = pattern(n);
		struct rf_buf got = RF_BUF_INIT(8u << 20);
		struct rf_chunk_out o;
		struct rf_chunk_in in;
		char hex[2 * RF_SHA256_LEN + 1], hex2[2 * RF_SHA256_LEN + 1];
		uint8_t raw[RF_SHA256_LEN];
		uint64_t bytes = 99, bytes2 = 99;
		struct stat st;
		struct rf_err e = {0};

		unlink(dst);
		write_file(src, p, n);
		RF_ASSERT_OK_E(rf_chunk_hash_file(src, raw, hex2, &bytes2, &e),
			       &e);
		assert_string_equal(hex2, sizes[i].sha256);
		assert_int_equal(bytes2, n);
		RF_ASSERT_OK_E(rf_chunk_out_file(&o, src, 0, &e), &e);
		RF_ASSERT_OK_E(rf_chunk_in_file(&in, dst, n, &e), &e);
		assert_int_equal(pump(&o, &in), msgs_for(n));
		/* not there before finish */
		assert_false(exists(dst));
		RF_ASSERT_OK_E(rf_chunk_in_finish(&in, hex, &bytes, &e), &e);
		assert_string_equal(hex, sizes[i].sha256);
		assert_int_equal(bytes, n);
		assert_memory_equal(o.sha256, raw, RF_SHA256_LEN);
		rf_chunk_in_release(&in);
		rf_chunk_out_release(&o);
		assert_int_equal(stat(dst, &st), 0);
		assert_int_equal(st.st_mode & 0777, 0600);
		RF_ASSERT_OK(rf_file_read(dst, &got, NULL));
		assert_int_equal(got.len, n);
		assert_memory_equal(got.data ? got.data : (uint8_t *)"", p,
				    n);
		/* src and dst only: no temporary file left */
		assert_int_equal(dir_entries(dir), 2);
		rf_buf_release(&got);
		free(p);
	}
}

/* The wrapped messages are radfed.UpdatePart{chunk} for protobuf-c, with
 * the fields where they belong. */
static void test_wrap_update_part(void **state)
{
	size_t n = D + 1;
	uint8_t *src = pattern(n);
	uint8_t want[RF_SHA256_LEN];
	struct rf_chunk_out o;
	const uint8_t *p;
	size_t len, count = 0;
	uint64_t off = 0;
	int last = 0;

	(void)state;
	RF_ASSERT_OK(rf_sha256(src, n, want, NULL));
	RF_ASSERT_OK(rf_chunk_out_mem(&o, src, n, 2, NULL));
	while (!last) {
		Radfed__UpdatePart *u;

		RF_ASSERT_OK(rf_chunk_out_next(&o, &p, &len, &last, NULL));
		u = radfed__update_part__unpack(NULL, len, p);
		assert_non_null(u);
		assert_null(u->header);
		assert_non_null(u->chunk);
		assert_int_equal(u->chunk->offset, off);
		assert_int_equal(u->chunk->last, last);
		assert_memory_equal(u->chunk->data.data, src + off,
				    u->chunk->data.len);
		off += u->chunk->data.len;
		if (last) {
			assert_int_equal(u->chunk->total_bytes, n);
			assert_int_equal(u->chunk->sha256.len, RF_SHA256_LEN);
			assert_memory_equal(u->chunk->sha256.data, want,
					    RF_SHA256_LEN);
		}
		radfed__update_part__free_unpacked(u, NULL);
		count++;
	}
	assert_int_equal(count, 2);
	assert_int_equal(off, n);
	rf_chunk_out_release(&o);

	/* an empty payload: one message, last, the hash of nothing */
	RF_ASSERT_OK(rf_chunk_out_mem(&o, NULL, 0, 2, NULL));
	RF_ASSERT_OK(rf_chunk_out_next(&o, &p, &len, &last, NULL));
	{
		Radfed__UpdatePart *u = radfed__update_part__unpack(NULL, len,
								    p);

		assert_non_null(u);
		assert_non_null(u->chunk);
		assert_true(u->chunk->last);
		assert_int_equal(u->chunk->total_bytes, 0);
		RF_ASSERT_OK(rf_sha256(NULL, 0, want, NULL));
		assert_memory_equal(u->chunk->sha256.data, want,
				    RF_SHA256_LEN);
		radfed__update_part__free_unpacked(u, NULL);
	}
	assert_true(last);
	rf_chunk_out_release(&o);
	free(src);
}

/* ---- hostile streams ---------------------------------------------------- */

struct hchunk {
	uint64_t offset;
	size_t len;    /* data bytes (pattern from offset) */
	int last;
	uint64_t total;
	int bad_hash;  /* send a wrong hash in the last one */
};

/* Feeds the chunks (encoded by protobuf-c) to a file receiver of at most
 * max bytes, then finishes; returns the first failure. Checks that nothing
 * is left in the directory afterwards. */
static enum rf_rc hostile(const struct hchunk *cs, size_t n_cs,
			  uint64_t max, struct rf_err *e)
{
	const char *dir = rf_test_tmpdir("chunk_hostile");
	char dst[600];
	uint8_t *src = pattern(4 * D);
	struct rf_chunk_in in;
	enum rf_rc rc = RF_OK;
	uint8_t sha[RF_SHA256_LEN];
	uint64_t sent = 0;

	snprintf(dst, sizeof dst, "%s/model.h5", dir);
	RF_ASSERT_OK(rf_chunk_in_file(&in, dst, max, NULL));
	for (size_t i = 0; i < n_cs && rc == RF_OK; i++) {
		Radfed__Chunk c = RADFED__CHUNK__INIT;
		struct rf_buf b = RF_BUF_INIT(RF_CHUNK_MSG_MAX + 64);

		c.offset = cs[i].offset;
		c.data.data = src + cs[i].offset;
		c.data.len = cs[i].len;
		sent = cs[i].offset + cs[i].len;
		c.last = cs[i].last;
		c.total_bytes = cs[i].total;
		if (cs[i].last) {
			RF_ASSERT_OK(rf_sha256(src, sent, sha, NULL));
			sha[0] ^= (uint8_t)cs[i].bad_hash;
			c.sha256.data = sha;
			c.sha256.len = sizeof sha;
		}
		RF_ASSERT_OK(rf_pb_pack(&c.base, &b, NULL));
		rc = rf_chunk_in_feed(&in, b.data, b.len, e);
		rf_buf_release(&b);
	}
	if (rc == RF_OK)
		rc = rf_chunk_in_finish(&in, NULL, NULL, e);
	/* a failed transfer accepts nothing more */
	if (rc) {
		Radfed__Chunk c = RADFED__CHUNK__INIT;

		c.offset = sent;
		assert_int_not_equal(rf_chunk_in_add(&in, &c.base, NULL),
				     RF_OK);
		assert_int_not_equal(rf_chunk_in_finish(&in, NULL, NULL,
							NULL), RF_OK);
	}
	assert_false(exists(dst));
	rf_chunk_in_release(&in);
	assert_int_equal(dir_entries(dir), 0);
	free(src);
	return rc;
}

static void test_hostile(void **state)
{
	struct rf_err e = {0};
	const uint64_t big = 64u << 20;

	(void)state;
	{
		const struct hchunk gap[] = {{0, D, 0, 0, 0},
					     {D + 1, 5, 1, D + 6, 0}};
		RF_ASSERT_RC(hostile(gap, 2, big, &e), RF_EPROTO);
		assert_non_null(strstr(e.msg, "offset"));
	}
	{
		const struct hchunk overlap[] = {{0, D, 0, 0, 0},
						 {D - 1, 5, 1, D + 4, 0}};
		RF_ASSERT_RC(hostile(overlap, 2, big, &e), RF_EPROTO);
	}
	{
		const struct hchunk oversize[] = {{0, D + 1, 1, D + 1, 0}};
		RF_ASSERT_RC(hostile(oversize, 1, big, &e), RF_EPROTO);
		assert_non_null(strstr(e.msg, "exceeds"));
	}
	{
		const struct hchunk past[] = {{0, D, 0, 0, 0},
					      {D, D, 1, 2 * D, 0}};
		RF_ASSERT_RC(hostile(past, 2, D + 10, &e), RF_ETOOBIG);
	}
	{
		const struct hchunk after[] = {{0, 10, 1, 10, 0},
					       {10, 10, 1, 20, 0}};
		RF_ASSERT_RC(hostile(after, 2, big, &e), RF_EPROTO);
		assert_non_null(strstr(e.msg, "after the last"));
	}
	{
		const struct hchunk total[] = {{0, D, 0, 0, 0},
					       {D, 7, 1, D + 8, 0}};
		RF_ASSERT_RC(hostile(total, 2, big, &e), RF_EINTEGRITY);
	}
	{
		const struct hchunk hash[] = {{0, D, 0, 0, 0},
					      {D, 7, 1, D + 7, 1}};
		RF_ASSERT_RC(hostile(hash, 2, big, &e), RF_EINTEGRITY);
		assert_non_null(strstr(e.msg, "SHA-256"));
	}
	{
		const struct hchunk nolast[] = {{0, D, 0, 0, 0},
						{D, 7, 0, 0, 0}};
		RF_ASSERT_RC(hostile(nolast, 2, big, &e), RF_EPROTO);
		assert_non_null(strstr(e.msg, "before its last chunk"));
	}
	{
		/* an empty stream */
		RF_ASSERT_RC(hostile(NULL, 0, big, &e), RF_EPROTO);
	}
	{
		/* the same good stream, whole: accepted */
		const struct hchunk ok[] = {{0, D, 0, 0, 0},
					    {D, D, 0, 0, 0},
					    {2 * D, 5, 1, 2 * D + 5, 0}};
		const char *dir = rf_test_tmpdir("chunk_good");
		uint8_t *src = pattern(4 * D);
		struct rf_chunk_in in;
		struct rf_buf b = RF_BUF_INIT(RF_CHUNK_MSG_MAX + 64);
		char dst[600];
		uint8_t sha[RF_SHA256_LEN];

		snprintf(dst, sizeof dst, "%s/m", dir);
		RF_ASSERT_OK(rf_chunk_in_file(&in, dst, big, NULL));
		for (size_t i = 0; i < 3; i++) {
			Radfed__Chunk c = RADFED__CHUNK__INIT;

			c.offset = ok[i].offset;
			c.data.data = src + ok[i].offset;
			c.data.len = ok[i].len;
			c.last = ok[i].last;
			c.total_bytes = ok[i].total;
			if (c.last) {
				RF_ASSERT_OK(rf_sha256(src, 2 * D + 5, sha,
						       NULL));
				c.sha256.data = sha;
				c.sha256.len = sizeof sha;
			}
			rf_buf_reset(&b);
			RF_ASSERT_OK(rf_pb_pack(&c.base, &b, NULL));
			RF_ASSERT_OK_E(rf_chunk_in_feed(&in, b.data, b.len,
							&e), &e);
		}
		RF_ASSERT_OK_E(rf_chunk_in_finish(&in, NULL, NULL, &e), &e);
		rf_chunk_in_release(&in);
		assert_true(exists(dst));
		rf_buf_release(&b);
		free(src);
	}
	/* garbage that is not a Chunk at all */
	{
		struct rf_chunk_in in;
		const uint8_t junk[] = {0x12, 0x80, 0x80, 0x80, 0x80, 0x10};

		RF_ASSERT_OK(rf_chunk_in_mem(&in, &(struct rf_buf)
					     RF_BUF_INIT(16), 16, NULL));
		RF_ASSERT_RC(rf_chunk_in_feed(&in, junk, sizeof junk, &e),
			     RF_EPROTO);
		rf_chunk_in_release(&in);
	}
}

/* rf_chunk_in_feed decodes what protobuf-c decodes: unknown fields of
 * every wire type are skipped, the last of a repeated field wins; and it
 * refuses what protobuf-c refuses. */
/* Keys as protobuf-c reads them: a 32-bit varint of at most 5 bytes. The
 * data field's key (0x12) padded to 6 bytes is refused by both. */
static void test_long_key(void **state)
{
	static const uint8_t k5[] = {0x92, 0x80, 0x80, 0x80, 0x00, 0x01, 'a'};
	static const uint8_t k6[] = {0x92, 0x80, 0x80, 0x80, 0x80, 0x00,
				     0x01, 'a'};
	struct rf_buf got = RF_BUF_INIT(64);
	struct rf_chunk_in in;
	Radfed__Chunk *ref;

	(void)state;
	ref = radfed__chunk__unpack(NULL, sizeof k5, k5);
	assert_non_null(ref);
	radfed__chunk__free_unpacked(ref, NULL);
	assert_null(radfed__chunk__unpack(NULL, sizeof k6, k6));
	RF_ASSERT_OK(rf_chunk_in_mem(&in, &got, 64, NULL));
	RF_ASSERT_OK(rf_chunk_in_feed(&in, k5, sizeof k5, NULL));
	rf_chunk_in_release(&in);
	RF_ASSERT_OK(rf_chunk_in_mem(&in, &got, 64, NULL));
	RF_ASSERT_RC(rf_chunk_in_feed(&in, k6, sizeof k6, NULL), RF_EPROTO);
	rf_chunk_in_release(&in);
	rf_buf_release(&got);
}

static void test_decode_rules(void **state)
{
	static const uint8_t payload[] = "abcdef";
	uint8_t sha[RF_SHA256_LEN];
	struct rf_buf msg = RF_BUF_INIT(4096), got = RF_BUF_INIT(64);
	struct rf_chunk_in in;
	Radfed__Chunk c = RADFED__CHUNK__INIT;
	Radfed__Chunk *ref;
	/* field 9 varint, field 10 bytes, field 11 fixed64, field 12
	 * fixed32, then data again ("abcdef" replaces "zz") */
	static const uint8_t extra[] = {
		0x48, 0x96, 0x01,
		0x52, 0x03, 'x', 'y', 'z',
		0x59, 1, 2, 3, 4, 5, 6, 7, 8,
		0x65, 1, 2, 3, 4,
		0x12, 0x06, 'a', 'b', 'c', 'd', 'e', 'f'};
	struct rf_err e = {0};

	(void)state;
	RF_ASSERT_OK(rf_sha256(payload, 6, sha, NULL));
	c.data.data = (uint8_t *)"zz";
	c.data.len = 2;
	c.last = 1;
	c.total_bytes = 6;
	c.sha256.data = sha;
	c.sha256.len = sizeof sha;
	RF_ASSERT_OK(rf_pb_pack(&c.base, &msg, NULL));
	RF_ASSERT_OK(rf_buf_append(&msg, extra, sizeof extra, NULL));
	/* protobuf-c's reading of the same bytes */
	ref = radfed__chunk__unpack(NULL, msg.len, msg.data);
	assert_non_null(ref);
	assert_int_equal(ref->data.len, 6);
	assert_memory_equal(ref->data.data, payload, 6);
	radfed__chunk__free_unpacked(ref, NULL);
	RF_ASSERT_OK(rf_chunk_in_mem(&in, &got, 64, NULL));
	RF_ASSERT_OK_E(rf_chunk_in_feed(&in, msg.data, msg.len, &e), &e);
	RF_ASSERT_OK_E(rf_chunk_in_finish(&in, NULL, NULL, &e), &e);
	assert_int_equal(got.len, 6);
	assert_memory_equal(got.data, payload, 6);
	rf_chunk_in_release(&in);

	/* malformed: truncated in every possible place, a group, a known
	 * field with the wrong wire type, field number 0 */
	for (size_t cut = 1; cut < msg.len; cut++) {
		ref = radfed__chunk__unpack(NULL, cut, msg.data);
		RF_ASSERT_OK(rf_chunk_in_mem(&in, &got, 64, NULL));
		if (ref) {
			/* a prefix that is a whole message */
			radfed__chunk__free_unpacked(ref, NULL);
			(void)!rf_chunk_in_feed(&in, msg.data, cut, NULL);
		} else {
			RF_ASSERT_RC(rf_chunk_in_feed(&in, msg.data, cut, &e),
				     RF_EPROTO);
		}
		rf_chunk_in_release(&in);
	}
	{
		static const uint8_t bad[][4] = {
			{0x0b, 0x0c, 0, 0},    /* group start / end */
			{0x0a, 0x01, 0x05, 0}, /* offset as bytes */
			{0x10, 0x01, 0, 0},    /* data as varint */
			{0x02, 0x00, 0, 0},    /* field 0 */
		};
		static const size_t len[] = {2, 3, 2, 2};

		for (size_t i = 0; i < 4; i++) {
			ref = radfed__chunk__unpack(NULL, len[i], bad[i]);
			assert_null(ref);
			RF_ASSERT_OK(rf_chunk_in_mem(&in, &got, 64, NULL));
			RF_ASSERT_RC(rf_chunk_in_feed(&in, bad[i], len[i],
						      &e), RF_EPROTO);
			rf_chunk_in_release(&in);
		}
	}
	rf_buf_release(&msg);
	rf_buf_release(&got);
}

/* A memory receiver is also bounded by its buffer's cap. */
static void test_mem_cap(void **state)
{
	uint8_t *src = pattern(100);
	struct rf_buf got = RF_BUF_INIT(50);
	struct rf_chunk_out o;
	struct rf_chunk_in in;
	const uint8_t *p;
	size_t n;
	int last;
	struct rf_err e = {0};

	(void)state;
	RF_ASSERT_OK(rf_chunk_out_mem(&o, src, 100, 0, NULL));
	RF_ASSERT_OK(rf_chunk_in_mem(&in, &got, 1000, NULL));
	RF_ASSERT_OK(rf_chunk_out_next(&o, &p, &n, &last, NULL));
	RF_ASSERT_RC(rf_chunk_in_feed(&in, p, n, &e), RF_ETOOBIG);
	rf_chunk_in_release(&in);
	rf_chunk_out_release(&o);
	rf_buf_release(&got);
	free(src);
}

/* A source file that shrinks while it is sent fails; a missing one is
 * RF_ENOTFOUND. */
static void test_file_changes(void **state)
{
	const char *dir = rf_test_tmpdir("chunk_changes");
	char src[600];
	uint8_t *p = pattern(3 * D);
	struct rf_chunk_out o;
	const uint8_t *m;
	size_t n;
	int last = 0;
	enum rf_rc rc = RF_OK;
	struct rf_err e = {0};

	(void)state;
	snprintf(src, sizeof src, "%s/src", dir);
	write_file(src, p, 3 * D);
	RF_ASSERT_OK(rf_chunk_out_file(&o, src, 0, NULL));
	RF_ASSERT_OK(rf_chunk_out_next(&o, &m, &n, &last, NULL));
	assert_int_equal(truncate(src, D + 10), 0);
	while (!last && rc == RF_OK)
		rc = rf_chunk_out_next(&o, &m, &n, &last, &e);
	assert_int_equal(rc, RF_EIO);
	rf_chunk_out_release(&o);

	write_file(src, p, 10);
	RF_ASSERT_OK(rf_chunk_out_file(&o, src, 0, NULL));
	assert_int_equal(truncate(src, 20), 0); /* grows */
	RF_ASSERT_RC(rf_chunk_out_next(&o, &m, &n, &last, &e), RF_EINTEGRITY);
	rf_chunk_out_release(&o);

	snprintf(src, sizeof src, "%s/absent", dir);
	RF_ASSERT_RC(rf_chunk_out_file(&o, src, 0, &e), RF_ENOTFOUND);
	assert_non_null(strstr(e.msg, "absent"));
	rf_chunk_out_release(&o);
	/* zeroed structures release safely */
	memset(&o, 0, sizeof o);
	rf_chunk_out_release(&o);
	{
		struct rf_chunk_in in;

		memset(&in, 0, sizeof in);
		rf_chunk_in_release(&in);
	}
	free(p);
}

/* A sender that announces a hash it knows does not hash again: the
 * announced one travels, the receiver checks it, and a payload that is not
 * the announced one (a file rewritten with the same size after it was
 * hashed) fails at the receiver, leaving nothing at the destination. */
static void test_announce(void **state)
{
	const char *dir = rf_test_tmpdir("chunk_announce");
	size_t n = 3 * D + 5;
	uint8_t *p = pattern(n);
	char src[600], dst[600], hex[2 * RF_SHA256_LEN + 1];
	uint8_t raw[RF_SHA256_LEN];
	struct rf_chunk_out o;
	struct rf_chunk_in in;
	const uint8_t *m;
	size_t k;
	int last = 0;
	enum rf_rc rc = RF_OK;
	struct rf_err e = {0};

	(void)state;
	snprintf(src, sizeof src, "%s/src.bin", dir);
	snprintf(dst, sizeof dst, "%s/dst.bin", dir);
	write_file(src, p, n);
	RF_ASSERT_OK_E(rf_chunk_hash_file(src, raw, NULL, NULL, &e), &e);

	/* the right hash: the transfer goes through */
	RF_ASSERT_OK_E(rf_chunk_out_file(&o, src, 0, &e), &e);
	rf_chunk_out_announce(&o, raw);
	RF_ASSERT_OK_E(rf_chunk_in_file(&in, dst, n, &e), &e);
	assert_int_equal(pump(&o, &in), msgs_for(n));
	RF_ASSERT_OK_E(rf_chunk_in_finish(&in, hex, NULL, &e), &e);
	rf_chunk_in_release(&in);
	rf_chunk_out_release(&o);
	assert_true(exists(dst));
	unlink(dst);

	/* the file changes after it was hashed, same size: the receiver
	 * refuses the stream, nothing is left */
	p[D + 7] ^= 0x40;
	write_file(src, p, n);
	RF_ASSERT_OK_E(rf_chunk_out_file(&o, src, 0, &e), &e);
	rf_chunk_out_announce(&o, raw);
	RF_ASSERT_OK_E(rf_chunk_in_file(&in, dst, n, &e), &e);
	while (!last && rc == RF_OK) {
		RF_ASSERT_OK_E(rf_chunk_out_next(&o, &m, &k, &last, &e), &e);
		rc = rf_chunk_in_feed(&in, m, k, &e);
	}
	assert_int_equal(rc, RF_EINTEGRITY);
	assert_non_null(strstr(e.msg, "SHA-256"));
	assert_memory_equal(o.sha256, raw, RF_SHA256_LEN);
	rf_chunk_in_release(&in);
	rf_chunk_out_release(&o);
	assert_false(exists(dst));
	assert_int_equal(dir_entries(dir), 1);

	/* memory senders too */
	{
		struct rf_buf got = RF_BUF_INIT(8u << 20);

		RF_ASSERT_OK_E(rf_chunk_out_mem(&o, p, n, 0, &e), &e);
		rf_chunk_out_announce(&o, raw); /* p no longer hashes to it */
		RF_ASSERT_OK_E(rf_chunk_in_mem(&in, &got, n, &e), &e);
		rc = RF_OK;
		last = 0;
		while (!last && rc == RF_OK) {
			RF_ASSERT_OK_E(rf_chunk_out_next(&o, &m, &k, &last,
							 &e), &e);
			rc = rf_chunk_in_feed(&in, m, k, &e);
		}
		assert_int_equal(rc, RF_EINTEGRITY);
		rf_chunk_in_release(&in);
		rf_chunk_out_release(&o);
		rf_buf_release(&got);
	}
	free(p);
}

static void test_oom(void **state)
{
	uint8_t *src = pattern(3000);
	enum rf_rc rc;
	struct rf_buf got = RF_BUF_INIT(4096);
	struct rf_chunk_out o;
	struct rf_chunk_in in;

	(void)state;
	RF_TEST_OOM_LOOP(rc, {
		const uint8_t *p;
		size_t n;
		int last = 0;

		rc = rf_chunk_out_mem(&o, src, 3000, 0, NULL);
		if (rc == RF_OK) {
			rc = rf_chunk_in_mem(&in, &got, 3000, NULL);
			while (rc == RF_OK && !last) {
				rc = rf_chunk_out_next(&o, &p, &n, &last,
						       NULL);
				if (rc == RF_OK)
					rc = rf_chunk_in_feed(&in, p, n, NULL);
			}
			if (rc == RF_OK)
				rc = rf_chunk_in_finish(&in, NULL, NULL, NULL);
			rf_chunk_in_release(&in);
		}
		rf_chunk_out_release(&o);
		if (rc)
			rf_buf_release(&got);
	}, {
		assert_int_equal(got.len, 3000);
		assert_memory_equal(got.data, src, 3000);
		rf_buf_release(&got);
	});
	free(src);
}

/* ---- over rf_rpc -------------------------------------------------------- */

static struct {
	char *ca_pem;
	struct rf_test_cred server, site;
	struct rf_rpc_server *srv;
	char target[64];
	char src[600];
} fx;

/* GetModel: the request names a file in the fixture's folder ("src" or
 * "absent"); the answer is its chunks. */
static enum rf_rc h_get(struct rf_rpc_call *c, void *user, struct rf_err *e)
{
	struct rf_chunk_out o;
	size_t n;
	const uint8_t *req = rf_rpc_call_request(c, &n);
	char path[700];
	enum rf_rc rc;

	(void)user;
	snprintf(path, sizeof path, "%s%.*s", fx.src, (int)n,
		 (const char *)req);
	rc = rf_chunk_out_file(&o, path, 0, e);
	if (rc == RF_OK)
		rc = rf_chunk_send(c, &o, e);
	rf_chunk_out_release(&o);
	return rc;
}

/* Sends a stream that stops before its last chunk. */
static enum rf_rc h_cut(struct rf_rpc_call *c, void *user, struct rf_err *e)
{
	static const uint8_t two[2 * D]; /* zeros */
	struct rf_chunk_out o;
	const uint8_t *p;
	size_t n;
	int last;
	enum rf_rc rc;

	(void)user;
	/* the first of two chunks, and nothing more */
	rc = rf_chunk_out_mem(&o, two, sizeof two, 0, e);
	if (rc == RF_OK)
		rc = rf_chunk_out_next(&o, &p, &n, &last, e);
	if (rc == RF_OK)
		rc = rf_rpc_call_send(c, p, n, e);
	rf_chunk_out_release(&o);
	return rc;
}

static const char *const roles_site[] = {"site", NULL};

static const struct rf_rpc_method methods[] = {
	{"/t.Fed/GetModel", RF_RPC_SERVER_STREAM, 0, roles_site, 64, h_get},
	{"/t.Fed/Cut", RF_RPC_SERVER_STREAM, 0, roles_site, 64, h_cut},
};

static int rpc_setup(void **state)
{
	struct rf_key *ca_key = NULL;
	struct rf_x509 *ca = NULL;
	const char *dir = rf_test_tmpdir("chunk_rpc");
	int64_t now = (int64_t)time(NULL);
	struct rf_rpc_server_opts o = {0};
	struct rf_err e = {0};

	(void)state;
	RF_ASSERT_OK(rf_key_generate(RF_KEY_P256, &ca_key, NULL));
	RF_ASSERT_OK(rf_x509_ca_create(ca_key, "chunk test CA", now - 3600,
				       now + 86400, &ca, NULL));
	fx.ca_pem = rf_test_pem_of_cert(ca);
	rf_test_cred_now(&fx.server, ca, ca_key, "aggregator", "aggregator",
			 "localhost", RF_X509_SERVER, dir);
	rf_test_cred_now(&fx.site, ca, ca_key, "site-a", "site", NULL,
			 RF_X509_CLIENT, dir);
	rf_x509_destroy(ca);
	rf_key_destroy(ca_key);
	snprintf(fx.src, sizeof fx.src, "%s/", dir);

	o.listen = "127.0.0.1:0";
	o.cert_pem = fx.server.cert;
	o.key_pem = fx.server.key;
	o.ca_pem = fx.ca_pem;
	o.methods = methods;
	o.n_methods = sizeof methods / sizeof methods[0];
	o.workers = 2;
	RF_ASSERT_OK_E(rf_rpc_server_create(&o, &fx.srv, &e), &e);
	snprintf(fx.target, sizeof fx.target, "127.0.0.1:%d",
		 rf_rpc_server_port(fx.srv));
	return 0;
}

static int rpc_teardown(void **state)
{
	(void)state;
	rf_rpc_server_destroy(fx.srv);
	free(fx.ca_pem);
	rf_test_cred_free(&fx.server);
	rf_test_cred_free(&fx.site);
	return 0;
}

static struct rf_rpc_client *client(void)
{
	struct rf_rpc_client_opts o = {0};
	struct rf_rpc_client *c = NULL;
	struct rf_err e = {0};

	o.target = fx.target;
	o.ca_pem = fx.ca_pem;
	o.cert_pem = fx.site.cert;
	o.key_pem = fx.site.key;
	o.server_name = "localhost";
	RF_ASSERT_OK_E(rf_rpc_client_create(&o, &c, &e), &e);
	return c;
}

static void test_rpc_download(void **state)
{
	struct rf_rpc_client *c = client();
	char path[700], dst[700];
	struct rf_buf got = RF_BUF_INIT(8u << 20);
	struct rf_err e = {0};

	(void)state;
	snprintf(path, sizeof path, "%ssrc", fx.src);
	snprintf(dst, sizeof dst, "%sdst", fx.src);
	for (size_t i = 0; i < N_SIZES; i++) {
		size_t n = sizes[i].n;
		uint8_t *p = pattern(n);
		struct rf_chunk_in in;
		char hex[2 * RF_SHA256_LEN + 1];
		uint64_t bytes = 0;

		write_file(path, p, n);
		unlink(dst);
		RF_ASSERT_OK(rf_chunk_in_file(&in, dst, 8u << 20, NULL));
		RF_ASSERT_OK_E(rf_chunk_download(c, "/t.Fed/GetModel", "src",
						 3, 30000, &in, hex, &bytes,
						 &e), &e);
		rf_chunk_in_release(&in);
		assert_string_equal(hex, sizes[i].sha256);
		assert_int_equal(bytes, n);
		rf_buf_reset(&got);
		RF_ASSERT_OK(rf_file_read(dst, &got, NULL));
		assert_int_equal(got.len, n);
		assert_memory_equal(got.data ? got.data : (uint8_t *)"", p,
				    n);

		/* into memory */
		RF_ASSERT_OK(rf_chunk_in_mem(&in, &got, n, NULL));
		RF_ASSERT_OK_E(rf_chunk_download(c, "/t.Fed/GetModel", "src",
						 3, 30000, &in, hex, NULL,
						 &e), &e);
		rf_chunk_in_release(&in);
		assert_string_equal(hex, sizes[i].sha256);
		assert_int_equal(got.len, n);
		free(p);
	}
	rf_buf_release(&got);

	/* the server fails: its code, nothing at the destination */
	{
		struct rf_chunk_in in;

		unlink(dst);
		RF_ASSERT_OK(rf_chunk_in_file(&in, dst, 8u << 20, NULL));
		RF_ASSERT_RC(rf_chunk_download(c, "/t.Fed/GetModel", "absent",
					       6, 30000, &in, NULL, NULL, &e),
			     RF_ENOTFOUND);
		rf_chunk_in_release(&in);
		assert_false(exists(dst));
	}
	/* too large for the receiver: the call is cancelled */
	{
		struct rf_chunk_in in;

		RF_ASSERT_OK(rf_chunk_in_file(&in, dst, D / 2, NULL));
		RF_ASSERT_RC(rf_chunk_download(c, "/t.Fed/GetModel", "src",
					       3, 30000, &in, NULL, NULL, &e),
			     RF_ETOOBIG);
		rf_chunk_in_release(&in);
		assert_false(exists(dst));
	}
	/* a stream that ends early */
	{
		struct rf_chunk_in in;

		RF_ASSERT_OK(rf_chunk_in_file(&in, dst, 8u << 20, NULL));
		RF_ASSERT_RC(rf_chunk_download(c, "/t.Fed/Cut", "", 0, 30000,
					       &in, NULL, NULL, &e),
			     RF_EPROTO);
		assert_non_null(strstr(e.msg, "before its last chunk"));
		rf_chunk_in_release(&in);
		assert_false(exists(dst));
	}
	rf_rpc_client_destroy(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mem_round_trip),
		cmocka_unit_test(test_file_round_trip),
		cmocka_unit_test(test_wrap_update_part),
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_decode_rules),
		cmocka_unit_test(test_long_key),
		cmocka_unit_test(test_mem_cap),
		cmocka_unit_test(test_file_changes),
		cmocka_unit_test(test_announce),
		cmocka_unit_test(test_oom),
		cmocka_unit_test_setup_teardown(test_rpc_download, rpc_setup,
						rpc_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
