/* test_refuse.c - the limit on rpc.refused audit lines (agg_refuse.h): the
 * limiter alone on a fake clock (burst, refill, counts carried on the next
 * line, eviction of the key idle longest with its pending count, the lines
 * taken at the end, and sum(1 + suppressed) == refusals over long random
 * runs, from one thread and from several), then a real aggregator on
 * loopback flooded by calls without a certificate: few lines, a log that
 * verifies, and every refusal counted. */
#include "rf_test.h"

#include <inttypes.h>
#include <pthread.h>
#include <time.h>

#include "agg_ctx.h"
#include "agg_refuse.h"
#include "agg_server.h"
#include "rf_audit.h"
#include "rf_audit_events.h"
#include "rf_buf.h"
#include "rf_rpc.h"

/* ---- the limiter on a fake clock ---------------------------------------- */

struct fake {
	int64_t now_ms;
	struct agg_refuse *r;
};

static int64_t fake_clock(void *ctx)
{
	return ((struct fake *)ctx)->now_ms;
}

static struct fake *fake_make(void)
{
	struct fake *f = calloc(1, sizeof *f);
	struct rf_err e = { 0 };

	assert_non_null(f);
	f->now_ms = 1000000;
	RF_ASSERT_OK_E(agg_refuse_create(fake_clock, f, &f->r, &e), &e);
	return f;
}

static void fake_free(struct fake *f)
{
	agg_refuse_destroy(f->r);
	free(f);
}

/* A fingerprint-like key of 64 hex digits for number i. */
static void key_of(unsigned i, char out[RF_X509_FP_SIZE])
{
	snprintf(out, RF_X509_FP_SIZE, "%064x", i);
}

static int note(struct fake *f, const char *fp, const char *method,
		struct agg_refuse_line out[2])
{
	return agg_refuse_note(f->r, method, "site-x", fp, "refused here", out);
}

static void test_burst(void **state)
{
	struct fake *f = fake_make();
	struct agg_refuse_line l[2];
	char a[RF_X509_FP_SIZE], b[RF_X509_FP_SIZE];

	(void)state;
	key_of(1, a);
	key_of(2, b);
	for (int i = 0; i < AGG_REFUSE_BURST; i++) {
		assert_int_equal(note(f, a, "/m", l), 1);
		assert_int_equal(l[0].suppressed, 0);
		assert_string_equal(l[0].cert_sha256, a);
		assert_string_equal(l[0].method, "/m");
		assert_string_equal(l[0].site, "site-x");
		assert_string_equal(l[0].reason, "refused here");
	}
	for (int i = 0; i < 50; i++)
		assert_int_equal(note(f, a, "/m", l), 0);
	/* other keys, and the anonymous one, have their own buckets */
	assert_int_equal(note(f, b, "/m", l), 1);
	assert_int_equal(agg_refuse_note(f->r, "/m", "", "", "anon", l), 1);
	assert_string_equal(l[0].cert_sha256, "");
	assert_int_equal(agg_refuse_note(f->r, "/m", NULL, NULL, NULL, l), 1);
	assert_string_equal(l[0].reason, "");
	assert_int_equal(agg_refuse_keys(f->r), 3);
	fake_free(f);
}

static void test_refill_and_carry(void **state)
{
	struct fake *f = fake_make();
	struct agg_refuse_line l[2];
	char a[RF_X509_FP_SIZE];

	(void)state;
	key_of(7, a);
	for (int i = 0; i < AGG_REFUSE_BURST; i++)
		assert_int_equal(note(f, a, "/m", l), 1);
	for (int i = 0; i < 6; i++)
		assert_int_equal(note(f, a, "/m", l), 0);
	/* one token AGG_REFUSE_EVERY_MS after the first was taken */
	f->now_ms += AGG_REFUSE_EVERY_MS - 1;
	assert_int_equal(note(f, a, "/m", l), 0);
	f->now_ms += 1;
	assert_int_equal(note(f, a, "/last", l), 1);
	assert_int_equal(l[0].suppressed, 7);
	assert_string_equal(l[0].method, "/last");
	assert_int_equal(note(f, a, "/m", l), 0);
	/* the next one AGG_REFUSE_EVERY_MS later, carrying one */
	f->now_ms += AGG_REFUSE_EVERY_MS;
	assert_int_equal(note(f, a, "/m", l), 1);
	assert_int_equal(l[0].suppressed, 1);
	/* a long silence refills the bucket up to the burst, no more */
	f->now_ms += 1000 * (int64_t)AGG_REFUSE_EVERY_MS;
	for (int i = 0; i < AGG_REFUSE_BURST; i++) {
		assert_int_equal(note(f, a, "/m", l), 1);
		assert_int_equal(l[0].suppressed, 0);
	}
	assert_int_equal(note(f, a, "/m", l), 0);
	/* a clock that goes back earns nothing and breaks nothing */
	f->now_ms -= 5 * (int64_t)AGG_REFUSE_EVERY_MS;
	assert_int_equal(note(f, a, "/m", l), 0);
	fake_free(f);
}

static void test_evict(void **state)
{
	struct fake *f = fake_make();
	struct agg_refuse_line l[2];
	char k[RF_X509_FP_SIZE], k0[RF_X509_FP_SIZE];
	unsigned i;

	(void)state;
	key_of(0, k0);
	/* key 0: the burst, then 5 left out */
	for (i = 0; i < AGG_REFUSE_BURST + 5; i++)
		(void)note(f, k0, "/m", l);
	for (i = 1; i < AGG_REFUSE_KEYS; i++) {
		f->now_ms++;
		key_of(i, k);
		assert_int_equal(note(f, k, "/m", l), 1);
	}
	assert_int_equal(agg_refuse_keys(f->r), AGG_REFUSE_KEYS);
	/* key 0 refused once more: now the most recent, key 1 idle longest */
	f->now_ms++;
	assert_int_equal(
	    agg_refuse_note(f->r, "/last", "site-0", k0, "last reason", l), 0);
	/* new keys evict keys 1 .. AGG_REFUSE_KEYS - 1, nothing pending */
	for (i = AGG_REFUSE_KEYS; i < 2 * AGG_REFUSE_KEYS - 1; i++) {
		f->now_ms++;
		key_of(i, k);
		assert_int_equal(note(f, k, "/m", l), 1);
		assert_string_equal(l[0].cert_sha256, k);
		assert_int_equal(agg_refuse_keys(f->r), AGG_REFUSE_KEYS);
	}
	/* then key 0, with its 6 pending: the last of them, 5 suppressed */
	key_of(i, k);
	assert_int_equal(note(f, k, "/m", l), 2);
	assert_string_equal(l[0].cert_sha256, k0);
	assert_int_equal(l[0].suppressed, 5);
	assert_string_equal(l[0].method, "/last");
	assert_string_equal(l[0].site, "site-0");
	assert_string_equal(l[0].reason, "last reason");
	assert_string_equal(l[1].cert_sha256, k);
	assert_int_equal(l[1].suppressed, 0);
	/* key 0 is forgotten: it comes back with a full bucket */
	assert_int_equal(note(f, k0, "/m", l), 1);
	assert_int_equal(l[0].suppressed, 0);
	assert_int_equal(agg_refuse_take(f->r, l), 0);
	fake_free(f);
}

static void test_take_at_end(void **state)
{
	struct fake *f = fake_make();
	struct agg_refuse_line l[2];
	uint64_t want[4] = { 0, 3, 1, 40 }, seen[4] = { 0 };
	char k[RF_X509_FP_SIZE];
	int lines = 0;

	(void)state;
	for (unsigned i = 0; i < 4; i++) {
		key_of(i, k);
		for (uint64_t j = 0; j < AGG_REFUSE_BURST + want[i]; j++)
			(void)note(f, k,
				   j + 1 == AGG_REFUSE_BURST + want[i] ? "/last"
								       : "/m",
				   l);
	}
	while (agg_refuse_take(f->r, &l[0])) {
		unsigned i = (unsigned)strtoul(l[0].cert_sha256, NULL, 16);

		assert_true(i < 4);
		assert_int_equal(seen[i], 0);
		seen[i] = 1 + l[0].suppressed;
		assert_string_equal(l[0].method, "/last");
		lines++;
	}
	assert_int_equal(lines, 3);
	for (unsigned i = 0; i < 4; i++)
		assert_int_equal(seen[i], want[i]);
	assert_int_equal(agg_refuse_take(f->r, &l[0]), 0);
	fake_free(f);
}

static void test_cut(void **state)
{
	struct fake *f = fake_make();
	struct agg_refuse_line l[2];
	char method[300], reason[AGG_REFUSE_REASON_MAX + 8];

	(void)state;
	memset(method, 'm', sizeof method - 1);
	method[sizeof method - 1] = '\0';
	/* a 2-byte character across the cut is dropped whole */
	memset(reason, 'r', AGG_REFUSE_REASON_MAX - 1);
	memcpy(reason + AGG_REFUSE_REASON_MAX - 1, "\xc3\xa9", 3);
	assert_int_equal(agg_refuse_note(f->r, method, "s", "k", reason, l), 1);
	assert_int_equal(strlen(l[0].method), AGG_REFUSE_METHOD_MAX);
	assert_int_equal(strlen(l[0].reason), AGG_REFUSE_REASON_MAX - 1);
	fake_free(f);
}

/* xorshift64*, a fixed seed: the same sequence on every run. */
static uint64_t prng(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ull;
}

/*
 * events refusals over nkeys keys (half to 8 hot ones, a quarter to a
 * key that changes every 500 refusals and then goes quiet, the rest to any
 * key), the clock moving by 0 to 199 ms between them, with now and then a
 * long silence. Checks that
 * sum(1 + suppressed) over every line, those taken at the end included,
 * is events; with nkeys <= AGG_REFUSE_KEYS (nothing evicted), that no key
 * writes more than the burst plus one line per AGG_REFUSE_EVERY_MS of its
 * active span before the end.
 */
static void random_run(uint64_t seed, unsigned nkeys, unsigned events)
{
	struct fake *f = fake_make();
	struct agg_refuse_line l[2];
	char k[RF_X509_FP_SIZE];
	uint64_t s = seed, sum = 0, lines = 0, evicted = 0;
	uint64_t *per_key = calloc(nkeys, sizeof *per_key);
	int64_t *first = calloc(nkeys, sizeof *first);
	int64_t *last = calloc(nkeys, sizeof *last);

	assert_non_null(per_key);
	assert_non_null(first);
	assert_non_null(last);
	for (unsigned ev = 0; ev < events; ev++) {
		uint64_t x = prng(&s);
		unsigned i = (x & 3) < 2    ? (unsigned)(x >> 8) % 8
			     : (x & 3) == 2 ? 8 + ev / 500 % (nkeys - 8)
					    : (unsigned)(x >> 8) % nkeys;
		int n;

		f->now_ms += (int64_t)((x >> 40) % 200);
		if ((x >> 20) % 500 == 0)
			f->now_ms += 300 * (int64_t)AGG_REFUSE_EVERY_MS;
		key_of(i, k);
		n = note(f, k, "/m", l);
		assert_true(n >= 0 && n <= 2);
		evicted += n == 2;
		for (int j = 0; j < n; j++) {
			unsigned owner =
			    (unsigned)strtoul(l[j].cert_sha256, NULL, 16);

			assert_true(owner < nkeys);
			sum += 1 + l[j].suppressed;
			lines++;
			per_key[owner]++;
		}
		if (!first[i])
			first[i] = f->now_ms;
		last[i] = f->now_ms;
		assert_true(agg_refuse_keys(f->r) <= AGG_REFUSE_KEYS);
	}
	for (unsigned i = 0; nkeys <= AGG_REFUSE_KEYS && i < nkeys; i++)
		if (first[i])
			assert_true(per_key[i] <=
				    AGG_REFUSE_BURST +
					(uint64_t)(last[i] - first[i]) /
					    AGG_REFUSE_EVERY_MS);
	while (agg_refuse_take(f->r, &l[0])) {
		sum += 1 + l[0].suppressed;
		lines++;
	}
	print_message("seed %#" PRIx64 ", %u keys: %u refusals, %" PRIu64
		      " lines, %" PRIu64 " keys evicted with a count\n",
		      seed, nkeys, events, lines, evicted);
	assert_int_equal(sum, events);
	assert_true(lines < events);
	if (nkeys > AGG_REFUSE_KEYS)
		assert_true(evicted > 0);
	free(per_key);
	free(first);
	free(last);
	fake_free(f);
}

static void test_invariant_random(void **state)
{
	(void)state;
	random_run(0x5eed0001, 64, 5000);
	random_run(0x5eed0002, 900, 20000);
	/* more keys than the limiter holds: evictions all along */
	random_run(0x5eed0003, 3 * AGG_REFUSE_KEYS, 20000);
}

/* ---- several threads ---------------------------------------------------- */

struct racer {
	struct agg_refuse *r;
	unsigned id;
	uint64_t sum;
};

/* Called with the limiter's mutex held: a plain counter is enough. */
static int64_t ticking_clock(void *ctx)
{
	int64_t *t = ctx;

	return *t += 7;
}

static void *race(void *p)
{
	struct racer *rc = p;
	struct agg_refuse_line l[2];
	uint64_t s = 0x1234 + rc->id;
	char k[RF_X509_FP_SIZE];

	for (int i = 0; i < 20000; i++) {
		int n;

		key_of((unsigned)(prng(&s) % 1500), k);
		n = agg_refuse_note(rc->r, "/m", "", k, "r", l);
		for (int j = 0; j < n; j++)
			rc->sum += 1 + l[j].suppressed;
	}
	return NULL;
}

static void test_threads(void **state)
{
	struct racer rc[4];
	pthread_t th[4];
	struct agg_refuse *r = NULL;
	struct agg_refuse_line l;
	int64_t t = 0;
	uint64_t sum = 0;
	struct rf_err e = { 0 };

	(void)state;
	RF_ASSERT_OK_E(agg_refuse_create(ticking_clock, &t, &r, &e), &e);
	for (unsigned i = 0; i < 4; i++) {
		rc[i] = (struct racer){ r, i, 0 };
		assert_int_equal(pthread_create(&th[i], NULL, race, &rc[i]), 0);
	}
	for (unsigned i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		sum += rc[i].sum;
	}
	while (agg_refuse_take(r, &l))
		sum += 1 + l.suppressed;
	assert_int_equal(sum, 4 * 20000);
	agg_refuse_destroy(r);
}

static void test_create_oom(void **state)
{
	struct agg_refuse *r = NULL;
	struct rf_err e = { 0 };
	enum rf_rc rc;

	(void)state;
	RF_TEST_OOM_LOOP(rc, rc = agg_refuse_create(NULL, NULL, &r, &e),
			 agg_refuse_destroy(r));
}

/* ---- a real aggregator on loopback -------------------------------------- */

/* Calls without a certificate. */
#define FLOOD 300

struct refusals {
	int lines;
	uint64_t sum;
	char bad[512]; /* the first line that is not as expected */
};

static void bad(struct refusals *rs, const struct rf_audit_entry *ent,
		const char *why)
{
	if (!rs->bad[0])
		snprintf(rs->bad, sizeof rs->bad, "line %" PRIu64 ": %s: %.*s",
			 ent->line, why, (int)ent->data_len, ent->data);
}

static enum rf_rc collect(const struct rf_audit_entry *ent, void *ctx,
			  struct rf_err *e)
{
	struct refusals *rs = ctx;
	char data[4096], *p, *end;
	const char *key = "\"" RF_AUDIT_KEY_SUPPRESSED "\":";

	(void)e;
	if (strcmp(ent->event, RF_AUDIT_EV_RPC_REFUSED) != 0)
		return RF_OK;
	rs->lines++;
	snprintf(data, sizeof data, "%.*s", (int)ent->data_len, ent->data);
	if (!strstr(data, "\"method\":\"" AGG_PING_PATH "\"") ||
	    !strstr(data, "\"site\":\"\"") ||
	    !strstr(data, "\"cert_sha256\":\"\"") ||
	    !strstr(data, "needs a client certificate"))
		bad(rs, ent, "not the refusal made");
	p = strstr(data, key);
	if (!p || strstr(p + 1, key)) {
		bad(rs, ent, "not one suppressed member");
		return RF_OK;
	}
	p += strlen(key);
	rs->sum += 1 + strtoull(p, &end, 10);
	if (end == p || *end != '}')
		bad(rs, ent, "suppressed is not an integer");
	return RF_OK;
}

static int64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void test_flood(void **state)
{
	struct agg_init_opts o = { "refuse", "127.0.0.1:0", NULL, 0 };
	struct agg_ctx *ctx = NULL;
	struct agg_server *srv = NULL;
	struct rf_rpc_client_opts co = { 0 };
	struct rf_rpc_client *cl = NULL;
	struct rf_buf resp = RF_BUF_INIT(1024);
	struct rf_audit_report r;
	struct refusals rs = { 0 };
	const struct rf_key *trusted[1];
	char agg[700], target[64];
	int64_t t0, t1 = 0, t2, elapsed_ms;
	struct rf_err e = { 0 };

	(void)state;
	snprintf(agg, sizeof agg, "%s/agg", rf_test_tmpdir("refuse"));
	RF_ASSERT_OK_E(agg_ctx_init(agg, &o, &e), &e);
	RF_ASSERT_OK_E(agg_ctx_open(agg, &ctx, &e), &e);
	RF_ASSERT_OK_E(agg_server_create(ctx, NULL, &srv, &e), &e);
	snprintf(target, sizeof target, "127.0.0.1:%d", agg_server_port(srv));
	co.target = target;
	co.ca_pem = ctx->ca_pem;
	co.server_name = "localhost";
	RF_ASSERT_OK_E(rf_rpc_client_create(&co, &cl, &e), &e);

	t0 = mono_us();
	for (int i = 0; i < FLOOD; i++) {
		if (i == AGG_REFUSE_BURST)
			t1 = mono_us();
		rf_err_clear(&e);
		RF_ASSERT_RC(rf_rpc_client_unary(cl, AGG_PING_PATH, "", 0, 5000,
						 &resp, &e),
			     RF_EAUTH);
		if (!strstr(e.msg, "needs a client certificate"))
			fail_msg("call %d: caller told '%s'", i, e.msg);
	}
	t2 = mono_us();
	elapsed_ms = (t2 - t0) / 1000;
	print_message("%d refused calls in %" PRId64 " ms: %" PRId64
		      " us each while logged, %" PRId64
		      " us each once limited\n",
		      FLOOD, elapsed_ms, (t1 - t0) / AGG_REFUSE_BURST,
		      (t2 - t1) / (FLOOD - AGG_REFUSE_BURST));
	rf_rpc_client_destroy(cl);
	agg_server_destroy(srv); /* writes the pending count */

	trusted[0] = ctx->audit_key;
	RF_ASSERT_OK_E(
	    rf_audit_iterate(ctx->audit_path, trusted, 1, collect, &rs, &r, &e),
	    &e);
	print_message("%d rpc.refused lines, sum(1 + suppressed) %" PRIu64 "\n",
		      rs.lines, rs.sum);
	if (rs.bad[0])
		fail_msg("%s", rs.bad);
	assert_int_equal(r.bad_line, 0);
	assert_int_equal(r.unsigned_tail, 0);
	assert_int_equal(rs.sum, FLOOD);
	/* the burst, what the time taken earned, and the one at the end */
	assert_true(rs.lines >= AGG_REFUSE_BURST + 1);
	assert_true(rs.lines <= AGG_REFUSE_BURST + 1 +
				    elapsed_ms / AGG_REFUSE_EVERY_MS + 1);
	rf_buf_release(&resp);
	agg_ctx_close(ctx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_burst),
		cmocka_unit_test(test_refill_and_carry),
		cmocka_unit_test(test_evict),
		cmocka_unit_test(test_take_at_end),
		cmocka_unit_test(test_cut),
		cmocka_unit_test(test_invariant_random),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_create_oom),
		cmocka_unit_test(test_flood),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
