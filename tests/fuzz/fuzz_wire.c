/*
 * fuzz_wire.c - libFuzzer target for what the aggregator and the nodes
 * decode from the wire.
 *
 * The first input byte picks what the rest is:
 *   - one of the radfed.proto messages (table `msgs`), decoded with
 *     rf_pb_unpack under the limit its receiver uses. A decoded message is
 *     walked (every string read to its NUL, every bytes field read, every
 *     repeated field counted, sub-messages recursed), encoded again, and
 *     the encoding must decode and encode to the same bytes. A Task also
 *     goes through the node's checks (node_fed_verify_claim, with a
 *     signature made here so that the spec is reached, then
 *     pol_spec_parse and node_fed_evaluate); a StartRoundRequest through
 *     the aggregator's bound and pol_spec_parse;
 *   - MODE_STREAM: records, each a Chunk encoding (or an UpdatePart, the
 *     aggregator's upload message), fed to a memory receiver with a small
 *     max, then rf_chunk_in_finish. Each record is decoded twice, by
 *     rf_chunk_in_feed's own decoder and by protobuf-c (rf_pb_unpack then
 *     rf_chunk_in_add) into two receivers: wherever both decoders accept
 *     a record, the two receivers must answer alike and end with the same
 *     payload;
 *   - MODE_BUILT: records describing chunks (flags, data) that are encoded
 *     here with correct or deliberately wrong offsets, totals and hashes,
 *     fed to a receiver whose every answer must be the one rf_chunk.h
 *     specifies (a reference model below, SHA-256 from OpenSSL directly);
 *   - MODE_SPEC: a round spec as `radfed round start` sends it, for
 *     pol_spec_parse; a valid spec's canonical form must parse back to the
 *     same canonical form and hash.
 * Any crash, sanitizer report, leak or abort() is a finding. Setting
 * FUZZ_WIRE_STRICT=1 in the environment also aborts when the two Chunk
 * decoders disagree on whether a record is well formed.
 *
 * Build and run (clang only; see tests/fuzz/CMakeLists.txt):
 *   cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang
 *   cmake --build build-fuzz --target fuzz_wire
 *   build-fuzz/tests/fuzz/fuzz_wire -max_len=65536 -timeout=10 \
 *       tests/fuzz/corpus/wire
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "agg_enroll.h"
#include "agg_round.h"
#include "node_fed.h"
#include "pol_policy.h"
#include "pol_spec.h"
#include "radfed.pb-c.h"
#include "rf_alloc.h"
#include "rf_buf.h"
#include "rf_chunk.h"
#include "rf_crypto.h"
#include "rf_pb.h"
#include "rf_rpc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* The node's limits (node/node_fed.c, node/node_enroll.c: private there). */
#define NODE_TASK_MAX (POL_SPEC_CANONICAL_MAX + 8192)
#define NODE_SMALL_MAX 4096
#define NODE_ENROLL_RESPONSE_MAX (64 * 1024)

enum hook { HOOK_NONE, HOOK_TASK, HOOK_START_ROUND };

struct msg_kind {
	const ProtobufCMessageDescriptor *d;
	size_t max; /* what the receiving side accepts */
	enum hook hook;
};

static const struct msg_kind msgs[] = {
	/* received by the node */
	{&radfed__task__descriptor, NODE_TASK_MAX, HOOK_TASK},
	{&radfed__upload_receipt__descriptor, NODE_SMALL_MAX, HOOK_NONE},
	{&radfed__enroll_response__descriptor, NODE_ENROLL_RESPONSE_MAX,
	 HOOK_NONE},
	{&radfed__chunk__descriptor, RF_CHUNK_MSG_MAX, HOOK_NONE},
	{&radfed__empty__descriptor, NODE_SMALL_MAX, HOOK_NONE},
	/* received by the aggregator */
	{&radfed__task_request__descriptor, AGG_SMALL_REQUEST_MAX, HOOK_NONE},
	{&radfed__decision__descriptor, AGG_DECIDE_MAX, HOOK_NONE},
	{&radfed__model_request__descriptor, AGG_SMALL_REQUEST_MAX, HOOK_NONE},
	{&radfed__update_part__descriptor, AGG_UPLOAD_MSG_MAX, HOOK_NONE},
	{&radfed__start_round_request__descriptor, AGG_START_ROUND_MAX,
	 HOOK_START_ROUND},
	{&radfed__round_status_request__descriptor, AGG_SMALL_REQUEST_MAX,
	 HOOK_NONE},
	{&radfed__export_request__descriptor, AGG_SMALL_REQUEST_MAX,
	 HOOK_NONE},
	{&radfed__enroll_request__descriptor, AGG_ENROLL_REQUEST_MAX,
	 HOOK_NONE},
	/* received by `radfed round` */
	{&radfed__round_status_reply__descriptor, RF_RPC_MSG_MAX, HOOK_NONE},
	{&radfed__round_info__descriptor, RF_RPC_MSG_MAX, HOOK_NONE},
	{&radfed__build_info__descriptor, NODE_SMALL_MAX, HOOK_NONE},
};
#define NMSGS (sizeof msgs / sizeof msgs[0])

enum {
	MODE_STREAM = NMSGS,
	MODE_BUILT,
	MODE_SPEC,
	NMODES
};

/* Set once in LLVMFuzzerInitialize, read-only afterwards. */
static struct rf_key *sign_key;
static struct pol_policy *policy;
static int strict;

static const char policy_yaml[] =
	"accept: true\n"
	"researchers: ['*']\n"
	"models: [cnn-small, resnet-mini]\n"
	"strategies: [fedavg, fedprox, fedadam]\n"
	"max-rounds: 50\n"
	"max-local-epochs: 5\n"
	"min-sites: 2\n";

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const uint8_t seed[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
	struct rf_err e = {0};
	const char *s = getenv("FUZZ_WIRE_STRICT");

	(void)argc;
	(void)argv;
	strict = s && s[0] == '1';
	if (rf_key_from_raw_private(RF_KEY_ED25519, seed, sizeof seed,
				    &sign_key, &e) ||
	    pol_policy_parse(&policy, "policy.yaml", policy_yaml,
			     sizeof policy_yaml - 1, &e)) {
		fprintf(stderr, "fuzz_wire: %s\n", e.msg);
		abort();
	}
	return 0;
}

/* ---- walking a decoded message ------------------------------------------ */

static volatile uint64_t sink;

/* Set by walk() when a message holds an unknown field numbered 0.
 * protobuf-c 1.4 accepts such a field when its key takes two bytes or
 * more (0x80 0x00) and keeps it, but refuses the one-byte key it packs it
 * back to. rf_pb_unpack now refuses such messages, so none should get
 * here; the re-encoding check still skips them unless FUZZ_WIRE_STRICT
 * is set. */
static int field_zero;

static void read_bytes(const uint8_t *p, size_t n)
{
	uint64_t x = 0;

	if (n && !p)
		abort();
	for (size_t i = 0; i < n; i++)
		x += p[i];
	sink += x;
}

static void walk(const ProtobufCMessage *m, unsigned depth);

static void walk_value(const ProtobufCFieldDescriptor *f, const void *v,
		       unsigned depth)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_STRING: {
		const char *s = *(char *const *)v;

		/* proto3 strings are never NULL: receivers strlen() them */
		if (!s)
			abort();
		read_bytes((const uint8_t *)s, strlen(s));
		break;
	}
	case PROTOBUF_C_TYPE_BYTES: {
		const ProtobufCBinaryData *b = v;

		read_bytes(b->data, b->len);
		break;
	}
	case PROTOBUF_C_TYPE_MESSAGE: {
		const ProtobufCMessage *sub = *(ProtobufCMessage *const *)v;

		if (sub && sub->descriptor != f->descriptor)
			abort();
		if (sub)
			walk(sub, depth + 1);
		break;
	}
	case PROTOBUF_C_TYPE_BOOL:
		sink += *(const protobuf_c_boolean *)v != 0;
		break;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
	case PROTOBUF_C_TYPE_DOUBLE:
		read_bytes(v, 8);
		break;
	default: /* 32-bit scalars and enums */
		read_bytes(v, 4);
		break;
	}
}

static size_t value_size(const ProtobufCFieldDescriptor *f)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_STRING:
		return sizeof(char *);
	case PROTOBUF_C_TYPE_BYTES:
		return sizeof(ProtobufCBinaryData);
	case PROTOBUF_C_TYPE_MESSAGE:
		return sizeof(ProtobufCMessage *);
	case PROTOBUF_C_TYPE_BOOL:
		return sizeof(protobuf_c_boolean);
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
	case PROTOBUF_C_TYPE_DOUBLE:
		return 8;
	default:
		return 4;
	}
}

static void walk(const ProtobufCMessage *m, unsigned depth)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;

	/* radfed.proto nests three levels at most */
	if (depth > 4)
		abort();
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		const char *member = (const char *)m + f->offset;

		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t n = *(const size_t *)((const char *)m +
						     f->quantifier_offset);
			const char *arr = *(char *const *)member;
			size_t sz = value_size(f);

			if (n && !arr)
				abort();
			for (size_t k = 0; k < n; k++)
				walk_value(f, arr + k * sz, depth);
			sink += n;
		} else {
			walk_value(f, member, depth);
		}
	}
	for (unsigned i = 0; i < m->n_unknown_fields; i++) {
		read_bytes(m->unknown_fields[i].data,
			   m->unknown_fields[i].len);
		if (m->unknown_fields[i].tag == 0)
			field_zero = 1;
	}
}

/* ---- round specs -------------------------------------------------------- */

/* Parses a spec; a valid one must have a canonical form that parses back
 * to itself. Returns the spec (or NULL) for more checks. */
static struct pol_spec *spec_check(const char *text, size_t len)
{
	struct pol_spec *sp = NULL, *sp2 = NULL;
	struct rf_buf c1 = RF_BUF_INIT(POL_SPEC_CANONICAL_MAX);
	struct rf_buf c2 = RF_BUF_INIT(POL_SPEC_CANONICAL_MAX);
	char h1[2 * RF_SHA256_LEN + 1], h2[2 * RF_SHA256_LEN + 1];
	uint8_t d1[RF_SHA256_LEN], d2[RF_SHA256_LEN];
	struct rf_err e = {0};
	enum rf_rc rc;

	rc = pol_spec_parse(&sp, "spec.yaml", text, len, &e);
	if (rc != RF_OK) {
		if (sp || rc == RF_OK || e.msg[0] == '\0')
			abort();
		return NULL;
	}
	if (sp->nlabels < 2 || sp->nlabels > POL_SPEC_LABELS_MAX ||
	    sp->channels < 1 || sp->channels > POL_SPEC_DIM_MAX ||
	    sp->height < 1 || sp->height > POL_SPEC_DIM_MAX ||
	    sp->width < 1 || sp->width > POL_SPEC_DIM_MAX ||
	    sp->nparams > POL_SPEC_PARAMS_MAX ||
	    strnlen(sp->name, POL_SPEC_NAME_MAX + 1) > POL_SPEC_NAME_MAX)
		abort();
	for (size_t i = 0; i < sp->nlabels; i++)
		read_bytes((const uint8_t *)sp->labels[i],
			   strlen(sp->labels[i]));
	if (pol_spec_canonical(sp, &c1, &e) != RF_OK)
		abort();
	if (pol_spec_parse(&sp2, "canonical", (const char *)c1.data, c1.len,
			   &e) != RF_OK) {
		fprintf(stderr, "canonical form does not parse: %s\n%.*s\n",
			e.msg, (int)c1.len, (const char *)c1.data);
		abort();
	}
	if (pol_spec_canonical(sp2, &c2, &e) != RF_OK)
		abort();
	if (c1.len != c2.len || memcmp(c1.data, c2.data, c1.len) != 0) {
		fprintf(stderr, "canonical form not stable:\n%.*s\n%.*s\n",
			(int)c1.len, (const char *)c1.data, (int)c2.len,
			(const char *)c2.data);
		abort();
	}
	if (pol_spec_hash(sp, d1, h1, &e) || pol_spec_hash(sp2, d2, h2, &e) ||
	    memcmp(d1, d2, sizeof d1) != 0 || strcmp(h1, h2) != 0)
		abort();
	pol_spec_destroy(sp2);
	rf_buf_release(&c1);
	rf_buf_release(&c2);
	return sp;
}

/* ---- what the node does with a Task -------------------------------------- */

static int researcher_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 64)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
			return 0;
	return 1;
}

static int round_ok(const char *s)
{
	size_t n = strlen(s);

	return n >= 1 && n <= NODE_FED_ROUND_MAX &&
	       strspn(s, "0123456789") == n;
}

static void hex_of(const uint8_t *p, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * n] = '\0';
}

static void task_hook(const Radfed__Task *t)
{
	struct node_fed_spec_claim c;
	struct node_fed_decision dec;
	struct trn_data_info info = {1, 64, 64, 100, 100, 2, 10};
	struct rf_buf msg = RF_BUF_INIT(4096);
	struct pol_spec *sp;
	uint8_t sig[RF_ED25519_SIG_LEN], md[SHA256_DIGEST_LENGTH];
	char hex[2 * SHA256_DIGEST_LENGTH + 1];
	struct rf_err e = {0};
	int want_ok;
	enum rf_rc rc;

	/* as the node receives it: mostly refused, never a crash */
	c.round = t->round;
	c.spec_json = t->spec_json;
	c.spec_len = strlen(t->spec_json);
	c.spec_sha256 = t->spec_sha256;
	c.sig = t->spec_signature.data;
	c.sig_len = t->spec_signature.len;
	c.researcher = t->researcher;
	(void)!node_fed_verify_claim(sign_key, &c, &e);

	/* properly signed: the verdict then depends on round and researcher
	 * only (node_fed.h) */
	SHA256((const uint8_t *)t->spec_json, c.spec_len, md);
	hex_of(md, sizeof md, hex);
	c.spec_sha256 = hex;
	if (node_fed_signed_text(t->round, hex, t->researcher, &msg, &e) ||
	    rf_ed25519_sign(sign_key, msg.data, msg.len, sig, &e))
		abort();
	c.sig = sig;
	c.sig_len = sizeof sig;
	want_ok = round_ok(t->round) && researcher_ok(t->researcher);
	rc = node_fed_verify_claim(sign_key, &c, &e);
	if ((rc == RF_OK) != want_ok ||
	    (!want_ok && rc != RF_EINVAL)) {
		fprintf(stderr, "verify_claim: rc %d, want %s\n", (int)rc,
			want_ok ? "ok" : "einval");
		abort();
	}
	if (want_ok) {
		sig[t->round_no % sizeof sig] ^= 0x01;
		if (node_fed_verify_claim(sign_key, &c, &e) != RF_ECRYPTO)
			abort();
	}
	rf_buf_release(&msg);
	if (!want_ok)
		return;

	sp = spec_check(t->spec_json, c.spec_len);
	if (!sp)
		return;
	memset(&dec, 0, sizeof dec);
	if (node_fed_evaluate(policy, sp, t->researcher,
			      t->round_no & 1 ? &info : NULL, &dec, &e))
		abort();
	if (dec.nreasons > NODE_FED_REASONS_MAX ||
	    dec.accepted != (dec.nreasons == 0) ||
	    strlen(dec.policy_sha256) != 2 * RF_SHA256_LEN)
		abort();
	for (size_t i = 0; i < dec.nreasons; i++)
		if (strnlen(dec.reasons[i], POL_REASON_MAX) == POL_REASON_MAX)
			abort();
	pol_spec_destroy(sp);
}

static void start_round_hook(const Radfed__StartRoundRequest *r)
{
	size_t len = strnlen(r->spec_yaml, AGG_SPEC_MAX + 1);

	if (len == 0 || len > AGG_SPEC_MAX)
		return;
	pol_spec_destroy(spec_check(r->spec_yaml, len));
}

/* ---- one message -------------------------------------------------------- */

static void one_message(const struct msg_kind *k, const uint8_t *p, size_t n)
{
	ProtobufCMessage *m = NULL, *m2 = NULL;
	struct rf_buf b1 = RF_BUF_INIT((size_t)1 << 26);
	struct rf_buf b2 = RF_BUF_INIT((size_t)1 << 26);
	struct rf_err e = {0};
	enum rf_rc rc;

	rc = rf_pb_unpack(k->d, p, n, k->max, &m, &e);
	if (rc != RF_OK) {
		if (m || (rc != RF_EPROTO && rc != RF_ETOOBIG) ||
		    (rc == RF_ETOOBIG) != (n > k->max) ||
		    !strstr(e.msg, k->d->name))
			abort();
		return;
	}
	if (!m || m->descriptor != k->d)
		abort();
	field_zero = 0;
	walk(m, 0);

	/* what decodes encodes, and its encoding is a fixed point */
	if (rf_pb_pack(m, &b1, &e) != RF_OK)
		abort();
	if (field_zero && !strict)
		goto hooks;
	if (rf_pb_unpack(k->d, b1.data, b1.len, b1.len, &m2, &e) != RF_OK) {
		fprintf(stderr, "re-encoding does not decode: %s\n", e.msg);
		abort();
	}
	if (rf_pb_pack(m2, &b2, &e) != RF_OK || b1.len != b2.len ||
	    memcmp(b1.data, b2.data, b1.len) != 0)
		abort();
hooks:

	if (k->hook == HOOK_TASK)
		task_hook((const Radfed__Task *)m);
	else if (k->hook == HOOK_START_ROUND)
		start_round_hook((const Radfed__StartRoundRequest *)m);
	rf_pb_free(m2);
	rf_pb_free(m);
	rf_buf_release(&b1);
	rf_buf_release(&b2);
}

/* ---- chunk streams ------------------------------------------------------ */

/* The next record of a stream: a 2-byte big-endian length, then that many
 * bytes (fewer at the end of the input). 0 when the input is used up. */
static int next_record(const uint8_t **p, const uint8_t *end,
		       const uint8_t **rec, size_t *n)
{
	size_t len;

	if (end - *p < 2)
		return 0;
	len = (size_t)(*p)[0] << 8 | (*p)[1];
	*p += 2;
	if (len > (size_t)(end - *p))
		len = (size_t)(end - *p);
	*rec = *p;
	*n = len;
	*p += len;
	return 1;
}

/* The aggregator's way: an UpdatePart holding a chunk alone. */
static enum rf_rc add_part(struct rf_chunk_in *in, const uint8_t *p,
			   size_t n, struct rf_err *e)
{
	ProtobufCMessage *m = NULL;
	const Radfed__UpdatePart *part;
	enum rf_rc rc;

	rc = rf_pb_unpack(&radfed__update_part__descriptor, p, n,
			  AGG_UPLOAD_MSG_MAX, &m, e);
	if (rc)
		return rc;
	part = (const Radfed__UpdatePart *)m;
	if (!part->chunk || part->header)
		rc = rf_err_set(e, RF_EPROTO, "not a chunk alone");
	else
		rc = rf_chunk_in_add(in, &part->chunk->base, e);
	rf_pb_free(m);
	return rc;
}

static void check_finish(struct rf_chunk_in *in, const struct rf_buf *out,
			 enum rf_rc *rc_out)
{
	char hex[2 * RF_SHA256_LEN + 1], want[2 * SHA256_DIGEST_LENGTH + 1];
	uint8_t md[SHA256_DIGEST_LENGTH];
	uint64_t bytes = 0;
	struct rf_err e = {0};
	enum rf_rc rc;

	rc = rf_chunk_in_finish(in, hex, &bytes, &e);
	*rc_out = rc;
	if (rc != RF_OK)
		return;
	if (bytes != out->len || bytes > in->max)
		abort();
	SHA256(out->data ? out->data : (const uint8_t *)"", out->len, md);
	hex_of(md, sizeof md, want);
	if (strcmp(hex, want) != 0)
		abort();
}

static void stream(const uint8_t *p, size_t n)
{
	struct rf_buf outa = RF_BUF_INIT(1 << 16), outb = RF_BUF_INIT(1 << 16);
	struct rf_chunk_in ina, inb;
	struct rf_err ea = {0}, eb = {0};
	const uint8_t *end = p + n, *rec;
	size_t len;
	uint64_t max;
	int parts, same = 1, dead = 0;
	enum rf_rc rca, rcb, fa, fb;

	if (n < 1)
		return;
	parts = p[0] & 0x80;
	max = (uint64_t)(p[0] & 0x7f) * 16;
	p++;
	if (rf_chunk_in_mem(&ina, &outa, max, &ea) ||
	    rf_chunk_in_mem(&inb, &outb, max, &eb))
		abort();
	while (next_record(&p, end, &rec, &len)) {
		ProtobufCMessage *m = NULL;
		int a_dec, b_dec;

		if (parts) {
			/* the aggregator ends the upload at the first error */
			if (add_part(&ina, rec, len, &ea) != RF_OK)
				break;
			continue;
		}
		/* the node's way */
		rca = rf_chunk_in_feed(&ina, rec, len, &ea);
		if (dead && rca == RF_OK)
			abort(); /* a failed transfer stays failed */
		dead |= rca != RF_OK;
		a_dec = !((rca == RF_EPROTO &&
			   strstr(ea.msg, "malformed radfed.Chunk")) ||
			  (rca == RF_ETOOBIG && len > RF_CHUNK_MSG_MAX));
		/* protobuf-c's */
		rcb = rf_pb_unpack(&radfed__chunk__descriptor, rec, len,
				   RF_CHUNK_MSG_MAX, &m, &eb);
		b_dec = rcb == RF_OK;
		if (b_dec)
			rcb = rf_chunk_in_add(&inb, m, &eb);
		rf_pb_free(m);
		if (!same)
			continue;
		if (a_dec != b_dec) {
			if (strict) {
				fprintf(stderr, "chunk decoders disagree on "
					"%zu bytes: '%s' / '%s'\n", len,
					ea.msg, eb.msg);
				abort();
			}
			same = 0;
		} else if (!a_dec) {
			same = 0; /* both refused: nothing left to compare */
		} else if (rca != rcb) {
			fprintf(stderr, "chunk decoders differ: %d '%s' / "
				"%d '%s'\n", (int)rca, ea.msg, (int)rcb,
				eb.msg);
			abort();
		}
	}
	check_finish(&ina, &outa, &fa);
	check_finish(&inb, &outb, &fb);
	if (!parts && same &&
	    (fa != fb || outa.len != outb.len ||
	     (outa.len && memcmp(outa.data, outb.data, outa.len) != 0)))
		abort();
	rf_chunk_in_release(&ina);
	rf_chunk_in_release(&inb);
	rf_buf_release(&outa);
	rf_buf_release(&outb);
}

/* Records of MODE_BUILT: a flags byte, a length byte, that many data
 * bytes. */
#define B_LAST      0x01 /* last = true */
#define B_OFFSET    0x02 /* offset one past the right one */
#define B_TOTAL     0x04 /* total_bytes one more than the truth */
#define B_SHA       0x08 /* a wrong SHA-256 */
#define B_SHA_SHORT 0x10 /* a 31-byte SHA-256 */
#define B_UNKNOWN   0x20 /* an unknown field (number 9) */

static void built(const uint8_t *p, size_t n)
{
	struct rf_buf out = RF_BUF_INIT(1 << 16), all = RF_BUF_INIT(1 << 16);
	struct rf_buf enc = RF_BUF_INIT(RF_CHUNK_MSG_MAX);
	struct rf_chunk_in in;
	struct rf_err e = {0};
	const uint8_t *end = p + n;
	uint64_t max, received = 0;
	int dead = 0, done = 0;
	enum rf_rc rc, want, fin;

	if (n < 1)
		return;
	max = (uint64_t)p[0] * 8;
	p++;
	if (rf_chunk_in_mem(&in, &out, max, &e))
		abort();
	while (end - p >= 2) {
		Radfed__Chunk c = RADFED__CHUNK__INIT;
		uint8_t flags = p[0], md[SHA256_DIGEST_LENGTH];
		size_t k = p[1];

		p += 2;
		if (k > (size_t)(end - p))
			k = (size_t)(end - p);
		c.offset = received + (flags & B_OFFSET ? 1 : 0);
		c.data.data = (uint8_t *)p;
		c.data.len = k;
		p += k;
		/* the reference: rf_chunk.h, receiving */
		if (dead || done || c.offset != received)
			want = RF_EPROTO;
		else if (k > max || received > max - k)
			want = RF_ETOOBIG;
		else
			want = RF_OK;
		if (want == RF_OK &&
		    rf_buf_append(&all, c.data.data, k, &e) != RF_OK)
			abort();
		if (want == RF_OK)
			received += k;
		if (flags & B_LAST) {
			c.last = 1;
			c.total_bytes = received + (flags & B_TOTAL ? 1 : 0);
			SHA256(all.data ? all.data : (const uint8_t *)"",
			       all.len, md);
			if (flags & B_SHA)
				md[k % sizeof md] ^= 0x80;
			c.sha256.data = md;
			c.sha256.len = flags & B_SHA_SHORT ? 31 : sizeof md;
			if (want == RF_OK &&
			    (flags & (B_TOTAL | B_SHA | B_SHA_SHORT)))
				want = RF_EINTEGRITY;
		}
		rf_buf_reset(&enc);
		if (rf_pb_pack(&c.base, &enc, &e) != RF_OK)
			abort();
		if (flags & B_UNKNOWN) {
			static const uint8_t unk[] = {0x4a, 2, 'h', 'i'};

			if (rf_buf_append(&enc, unk, sizeof unk, &e))
				abort();
		}
		rc = rf_chunk_in_feed(&in, enc.data, enc.len, &e);
		if (rc != want) {
			fprintf(stderr, "chunk %02x/%zu: rc %d, want %d (%s)\n",
				flags, k, (int)rc, (int)want, e.msg);
			abort();
		}
		if (want != RF_OK)
			dead = 1;
		else if (c.last)
			done = 1;
	}
	check_finish(&in, &out, &fin);
	if ((fin == RF_OK) != (done && !dead))
		abort();
	if (fin == RF_OK && (out.len != all.len ||
			     (all.len && memcmp(out.data, all.data, all.len))))
		abort();
	rf_chunk_in_release(&in);
	rf_buf_release(&out);
	rf_buf_release(&all);
	rf_buf_release(&enc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned mode;

	if (size == 0)
		return 0;
	mode = data[0] % NMODES;
	data++;
	size--;
	if (mode < NMSGS)
		one_message(&msgs[mode], data, size);
	else if (mode == MODE_STREAM)
		stream(data, size);
	else if (mode == MODE_BUILT)
		built(data, size);
	else
		pol_spec_destroy(spec_check((const char *)data, size));
	return 0;
}
