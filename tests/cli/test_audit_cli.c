/* test_audit_cli.c - `radfed audit verify`, `crosscheck` and `report` with
 * the real binary on logs written by rf_audit for an aggregator and two
 * sites over two rounds: verification with and without the owner's key, a
 * tampered byte, agreeing logs, and each kind of disagreement with its
 * exact message. JSON outputs are checked against
 * tests/cli/ref/audit_check.py, which recomputes them from the logs with
 * Python's json module alone. */
#include "rf_test.h"

#include "rf_audit.h"
#include "rf_audit_events.h"
#include "rf_crypto.h"

#define PY "/usr/bin/python3"
#define CHECK "'" RF_TEST_SRCDIR "/tests/cli/ref/audit_check.py'"

/* What a set of logs gets wrong on purpose. */
enum flaw {
	FLAW_NONE,
	FLAW_NOT_SENT,     /* site-a never logged its r1/2 update */
	FLAW_NOT_RECEIVED, /* the aggregator never logged site-a's r1/2 */
	FLAW_HASH,         /* the aggregator logged another hash, site-b r1/1 */
	FLAW_BYTES,        /* the aggregator logged 4095 bytes, site-a r1/1 */
	FLAW_EXTRA,        /* the aggregator logged an update never sent */
};

static char tmp[512];
static struct rf_key *k_agg, *k_a, *k_b;

/* 2026-11-23T13:45:01.123Z */
static void fixed_clock(struct timespec *now, void *ctx)
{
	(void)ctx;
	now->tv_sec = 1795441501;
	now->tv_nsec = 123456789;
}

/* The SHA-256, in hex, of a label: stands for the bytes of a transfer. */
static void sha_hex(const char *label, char out[65])
{
	uint8_t h[RF_SHA256_LEN];

	RF_ASSERT_OK(rf_sha256(label, strlen(label), h, NULL));
	RF_ASSERT_OK(rf_hex_encode(h, sizeof h, out, 65, NULL));
}

static void ev(struct rf_audit *a, const char *event, const char *fmt, ...)
	RF_PRINTF(3, 4);
static void ev(struct rf_audit *a, const char *event, const char *fmt, ...)
{
	char data[1024];
	struct rf_err e = {0};
	va_list ap;

	va_start(ap, fmt);
	assert_true(vsnprintf(data, sizeof data, fmt, ap) < (int)sizeof data);
	va_end(ap);
	RF_ASSERT_OK_E(rf_audit_append(a, event, data, NULL, &e), &e);
}

static struct rf_audit *open_log(const char *name, const char *actor,
				 const struct rf_key *key)
{
	struct rf_audit_opts o = {3, false, fixed_clock, NULL};
	struct rf_audit *a = NULL;
	struct rf_err e = {0};
	char path[600];

	snprintf(path, sizeof path, "%s/%s", tmp, name);
	unlink(path);
	RF_ASSERT_OK_E(rf_audit_open(path, actor, key, &o, &a, &e), &e);
	return a;
}

static void close_log(struct rf_audit *a)
{
	struct rf_err e = {0};

	RF_ASSERT_OK_E(rf_audit_close(a, &e), &e);
}

/* Model and update of one site in one iteration, on both sides. */
static void exchange(struct rf_audit *agg, struct rf_audit *s,
		     const char *site, const char *round, int no,
		     uint64_t bytes, uint64_t samples, const char *kind,
		     enum flaw flaw)
{
	char label[128], m[65], u[65], other[65];

	snprintf(label, sizeof label, "model %s/%d", round, no);
	sha_hex(label, m);
	snprintf(label, sizeof label, "update %s %s/%d", site, round, no);
	sha_hex(label, u);
	sha_hex("something else", other);
	ev(agg, RF_AUDIT_EV_MODEL_SENT,
	   "{\"round\":\"%s\",\"round_no\":%d,\"site\":\"%s\","
	   "\"sha256\":\"%s\",\"bytes\":8192}",
	   round, no, site, m);
	ev(s, RF_AUDIT_EV_MODEL_RECEIVED,
	   "{\"round\":\"%s\",\"round_no\":%d,\"sha256\":\"%s\","
	   "\"bytes\":8192}",
	   round, no, m);
	if (flaw != FLAW_NOT_SENT)
		ev(s, RF_AUDIT_EV_UPDATE_SENT,
		   "{\"round\":\"%s\",\"round_no\":%d,\"sha256\":\"%s\","
		   "\"bytes\":%llu,\"samples\":%llu,\"kind\":\"%s\"}",
		   round, no, u, (unsigned long long)bytes,
		   (unsigned long long)samples, kind);
	if (flaw != FLAW_NOT_RECEIVED)
		ev(agg, RF_AUDIT_EV_UPDATE_RECEIVED,
		   "{\"round\":\"%s\",\"round_no\":%d,\"site\":\"%s\","
		   "\"sha256\":\"%s\",\"bytes\":%llu,\"samples\":%llu,"
		   "\"kind\":\"%s\"}",
		   round, no, site, flaw == FLAW_HASH ? other : u,
		   (unsigned long long)(flaw == FLAW_BYTES ? bytes - 1
							   : bytes),
		   (unsigned long long)samples, kind);
}

/*
 * agg.jsonl, site-a.jsonl, site-b.jsonl: round r1 (two iterations, both
 * sites; site-a sends deltas, site-b masked updates) and round r2 (one
 * iteration; site-b declines it).
 */
static void write_logs(enum flaw flaw)
{
	struct rf_audit *agg = open_log("agg.jsonl", "agg:consortium", k_agg);
	struct rf_audit *sa = open_log("site-a.jsonl", "site:site-a", k_a);
	struct rf_audit *sb = open_log("site-b.jsonl", "site:site-b", k_b);
	char spec1[65], spec2[65], pa[65], pb[65], agg1[65];

	sha_hex("spec r1", spec1);
	sha_hex("spec r2", spec2);
	sha_hex("policy a", pa);
	sha_hex("policy b", pb);
	sha_hex("model r1 aggregated", agg1);
	ev(agg, RF_AUDIT_EV_ROUND_STARTED,
	   "{\"round\":\"r1\",\"spec_sha256\":\"%s\",\"researcher\":\"ana\"}",
	   spec1);
	ev(sa, RF_AUDIT_EV_ROUND_OFFERED,
	   "{\"round\":\"r1\",\"spec_sha256\":\"%s\"}", spec1);
	ev(sa, RF_AUDIT_EV_ROUND_ACCEPTED,
	   "{\"round\":\"r1\",\"policy_sha256\":\"%s\",\"reasons\":[]}", pa);
	ev(sb, RF_AUDIT_EV_ROUND_OFFERED,
	   "{\"round\":\"r1\",\"spec_sha256\":\"%s\"}", spec1);
	ev(sb, RF_AUDIT_EV_ROUND_ACCEPTED,
	   "{\"round\":\"r1\",\"policy_sha256\":\"%s\",\"reasons\":[]}", pb);
	exchange(agg, sa, "site-a", "r1", 1, 4096, 120, "delta",
		 flaw == FLAW_BYTES ? flaw : FLAW_NONE);
	exchange(agg, sb, "site-b", "r1", 1, 5000, 80, "masked",
		 flaw == FLAW_HASH ? flaw : FLAW_NONE);
	ev(agg, RF_AUDIT_EV_AGGREGATED,
	   "{\"round\":\"r1\",\"round_no\":1,\"sites\":[\"site-a\","
	   "\"site-b\"],\"model_sha256\":\"%s\"}",
	   agg1);
	exchange(agg, sa, "site-a", "r1", 2, 4100, 120, "delta",
		 flaw == FLAW_NOT_SENT || flaw == FLAW_NOT_RECEIVED
			 ? flaw
			 : FLAW_NONE);
	exchange(agg, sb, "site-b", "r1", 2, 5000, 80, "masked", FLAW_NONE);
	ev(agg, RF_AUDIT_EV_ROUND_STARTED,
	   "{\"round\":\"r2\",\"spec_sha256\":\"%s\",\"researcher\":\"ana\"}",
	   spec2);
	ev(sa, RF_AUDIT_EV_ROUND_ACCEPTED,
	   "{\"round\":\"r2\",\"policy_sha256\":\"%s\",\"reasons\":[]}", pa);
	ev(sb, RF_AUDIT_EV_ROUND_DECLINED,
	   "{\"round\":\"r2\",\"policy_sha256\":\"%s\",\"reasons\":"
	   "[\"min-sites 1 is below the site's floor of 3\"]}",
	   pb);
	exchange(agg, sa, "site-a", "r2", 1, 4200, 130, "delta", FLAW_NONE);
	if (flaw == FLAW_EXTRA) {
		char u[65];

		sha_hex("forged update", u);
		ev(agg, RF_AUDIT_EV_UPDATE_RECEIVED,
		   "{\"round\":\"r2\",\"round_no\":1,\"site\":\"site-b\","
		   "\"sha256\":\"%s\",\"bytes\":5000,\"samples\":80,"
		   "\"kind\":\"masked\"}",
		   u);
	}
	close_log(agg);
	close_log(sa);
	close_log(sb);
}

static char *slurp(const char *name)
{
	char path[600];
	FILE *f;
	char *p = calloc(1, 1 << 16);
	size_t n;

	assert_non_null(p);
	snprintf(path, sizeof path, "%s/%s", tmp, name);
	f = fopen(path, "rb");
	assert_non_null(f);
	n = fread(p, 1, (1 << 16) - 1, f);
	p[n] = '\0';
	fclose(f);
	return p;
}

/* Runs `radfed audit ARGS` with stdout in out.txt and stderr in err.txt;
 * returns the exit status. */
static int audit(const char *args)
{
	return rf_sh("cd '%s' && '%s' audit %s > out.txt 2> err.txt", tmp,
		     RF_TEST_RADFED, args);
}

/* Runs tests/cli/ref/audit_check.py ARGS in the test's directory. */
static int check(const char *args)
{
	return rf_sh("cd '%s' && " PY " " CHECK " %s", tmp, args);
}

static void assert_has(const char *file, const char *want)
{
	char *s = slurp(file);

	if (!strstr(s, want))
		fail_msg("%s lacks \"%s\"; it holds:\n%s", file, want, s);
	free(s);
}

static void first16(const char *label, char out[17])
{
	char h[65];

	sha_hex(label, h);
	memcpy(out, h, 16);
	out[16] = '\0';
}

static int setup(void **state)
{
	struct rf_err e = {0};
	char path[600];

	(void)state;
	snprintf(tmp, sizeof tmp, "%s", rf_test_tmpdir("audit_cli"));
	if (rf_key_generate(RF_KEY_ED25519, &k_agg, &e) ||
	    rf_key_generate(RF_KEY_ED25519, &k_a, &e) ||
	    rf_key_generate(RF_KEY_ED25519, &k_b, &e))
		return -1;
	snprintf(path, sizeof path, "%s/agg.pub.pem", tmp);
	if (rf_key_save_public_pem(k_agg, path, &e))
		return -1;
	snprintf(path, sizeof path, "%s/site-a.pub.pem", tmp);
	if (rf_key_save_public_pem(k_a, path, &e))
		return -1;
	snprintf(path, sizeof path, "%s/site-b.pub.pem", tmp);
	return rf_key_save_public_pem(k_b, path, &e) ? -1 : 0;
}

static int teardown(void **state)
{
	(void)state;
	rf_key_destroy(k_agg);
	rf_key_destroy(k_a);
	rf_key_destroy(k_b);
	return 0;
}

/* ---- verify -------------------------------------------------------------- */

static void test_verify_ok(void **state)
{
	(void)state;
	write_logs(FLAW_NONE);
	/* site-a: offered, 2 accepted, 3 models, 3 updates = 9 events; a
	 * checkpoint after every third: 3, and nothing left unsigned */
	assert_int_equal(audit("verify site-a.jsonl"), 0);
	assert_has("out.txt", "  actor          site:site-a\n");
	assert_has("out.txt", "  events         9\n");
	assert_has("out.txt", "    update.sent              3\n");
	assert_has("out.txt", "  checkpoints    3\n");
	assert_has("out.txt", "  unsigned tail  0 lines\n");
	assert_has("out.txt", "integrity, not authenticity");
	assert_has("out.txt", "\nOK\n");
	/* the owner's key: authentic */
	assert_int_equal(audit("verify site-a.jsonl --key site-a.pub.pem"),
			 0);
	assert_has("out.txt", "one of the --key keys: authentic");
	assert_int_equal(audit("verify --json --key site-a.pub.pem "
			       "site-a.jsonl"),
			 0);
	assert_int_equal(check("verify out.txt site-a.jsonl true"), 0);
	assert_int_equal(audit("verify --json site-a.jsonl"), 0);
	assert_int_equal(check("verify out.txt site-a.jsonl false"), 0);
	/* another owner's key: the checkpoints are not trusted */
	assert_int_equal(audit("verify site-a.jsonl --key site-b.pub.pem"),
			 5);
	assert_has("err.txt", "audit log 'site-a.jsonl' line 4: ");
	/* no such file; a usage error */
	assert_int_equal(audit("verify nosuch.jsonl"), 1);
	assert_int_equal(audit("verify"), 2);
	assert_int_equal(audit("verify a b"), 2);
	assert_int_equal(audit("verify --key nosuch.pem site-a.jsonl"), 1);
	assert_has("err.txt", "cannot load the key 'nosuch.pem'");
	assert_int_equal(audit("crosscheck --jsno agg.jsonl site-a.jsonl"),
			 2);
	assert_has("err.txt", "did you mean '--json'?");
	assert_int_equal(audit("report --help"), 0);
	assert_has("out.txt", "usage: radfed audit report LOG...");
}

/* Replaces the first from in line n (1-based) of name with to, of the same
 * length. */
static void tamper(const char *name, int n, const char *from, const char *to)
{
	char path[600];
	char *s = slurp(name), *p = s, *q;
	FILE *f;

	for (int i = 1; i < n; i++) {
		p = strchr(p, '\n');
		assert_non_null(p);
		p++;
	}
	q = strstr(p, from);
	assert_non_null(q);
	assert_true(q < strchr(p, '\n'));
	assert_int_equal(strlen(from), strlen(to));
	memcpy(q, to, strlen(to));
	snprintf(path, sizeof path, "%s/%s", tmp, name);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(s, 1, strlen(s), f), strlen(s));
	assert_int_equal(fclose(f), 0);
	free(s);
}

static void test_verify_tampered(void **state)
{
	(void)state;
	write_logs(FLAW_NONE);
	/* line 5 of site-a.jsonl is update.sent r1/1 (line 4 is the first
	 * checkpoint): 4096 bytes become 5096 */
	tamper("site-a.jsonl", 5, "\"bytes\":4096", "\"bytes\":5096");
	assert_int_equal(audit("verify site-a.jsonl"), 5);
	assert_has("err.txt", "radfed: audit log 'site-a.jsonl' line 5: ");
	assert_int_equal(audit("verify --json site-a.jsonl"), 5);
	assert_int_equal(check("verify-bad out.txt 5"), 0);
	/* crosscheck and report verify every log first */
	assert_int_equal(audit("crosscheck agg.jsonl site-a.jsonl "
			       "site-b.jsonl"),
			 5);
	assert_has("err.txt", "audit log 'site-a.jsonl' line 5: ");
	assert_int_equal(audit("report site-b.jsonl site-a.jsonl"), 5);
}

/* ---- crosscheck ---------------------------------------------------------- */

static void test_crosscheck_agrees(void **state)
{
	(void)state;
	write_logs(FLAW_NONE);
	assert_int_equal(audit("crosscheck agg.jsonl site-a.jsonl "
			       "site-b.jsonl --key agg.pub.pem "
			       "--key site-a.pub.pem --key site-b.pub.pem"),
			 0);
	assert_has("out.txt", "round r1/1\n");
	assert_has("out.txt", "round r2/1\n");
	assert_has("out.txt", "  site-a               update   delta          "
			      "4096  ");
	assert_has("out.txt", "  site-b               update   masked         "
			      "5000  ");
	assert_has("out.txt", "OK: the 20 transfer records of 3 logs agree");
	assert_int_equal(audit("crosscheck --json agg.jsonl site-a.jsonl "
			       "site-b.jsonl"),
			 0);
	assert_int_equal(check("crosscheck out.txt agg.jsonl site-a.jsonl "
			       "site-b.jsonl"),
			 0);
	/* the aggregator's log comes first; two logs at least */
	assert_int_equal(audit("crosscheck site-a.jsonl agg.jsonl"), 1);
	assert_has("err.txt", "'site-a.jsonl' (actor 'site:site-a') is not "
			      "an aggregator log");
	assert_int_equal(audit("crosscheck agg.jsonl"), 2);
	assert_int_equal(audit("crosscheck agg.jsonl site-a.jsonl "
			       "site-a.jsonl"),
			 1);
	assert_has("err.txt", "are both logs of site 'site-a'");
	/* a site whose log is missing cannot be vouched for */
	assert_int_equal(audit("crosscheck agg.jsonl site-a.jsonl"), 5);
	assert_has("out.txt", "aggregator recorded an update from site-b "
			      "round r1/1 sha256 ");
	assert_has("out.txt", ".. but no log of site-b was given");
}

/* The one mismatch a flaw must cause. */
static void expect_one(enum flaw flaw, const char *want)
{
	write_logs(flaw);
	assert_int_equal(audit("crosscheck agg.jsonl site-a.jsonl "
			       "site-b.jsonl"),
			 5);
	assert_has("out.txt", "\n1 mismatch:\n");
	assert_has("out.txt", want);
	assert_int_equal(audit("crosscheck --json agg.jsonl site-a.jsonl "
			       "site-b.jsonl"),
			 5);
	assert_has("out.txt", want);
	assert_int_equal(check("crosscheck out.txt agg.jsonl site-a.jsonl "
			       "site-b.jsonl"),
			 0);
}

static void test_crosscheck_not_sent(void **state)
{
	char h[17], want[256];

	(void)state;
	first16("update site-a r1/2", h);
	snprintf(want, sizeof want,
		 "aggregator recorded an update from site-a round r1/2 "
		 "sha256 %s.. that site-a never sent",
		 h);
	expect_one(FLAW_NOT_SENT, want);
}

static void test_crosscheck_not_received(void **state)
{
	char h[17], want[256];

	(void)state;
	first16("update site-a r1/2", h);
	snprintf(want, sizeof want,
		 "site-a sent an update round r1/2 sha256 %s.. that the "
		 "aggregator never recorded",
		 h);
	expect_one(FLAW_NOT_RECEIVED, want);
}

static void test_crosscheck_hash(void **state)
{
	char h[17], h2[17], want[256];

	(void)state;
	first16("update site-b r1/1", h);
	first16("something else", h2);
	snprintf(want, sizeof want,
		 "update from site-b round r1/1: site-b sent sha256 %s.., "
		 "the aggregator recorded sha256 %s..",
		 h, h2);
	expect_one(FLAW_HASH, want);
}

static void test_crosscheck_bytes(void **state)
{
	char h[17], want[256];

	(void)state;
	first16("update site-a r1/1", h);
	snprintf(want, sizeof want,
		 "update from site-a round r1/1 sha256 %s..: site-a sent "
		 "4096 bytes, the aggregator recorded 4095",
		 h);
	expect_one(FLAW_BYTES, want);
}

static void test_crosscheck_extra(void **state)
{
	char h[17], want[256];

	(void)state;
	first16("forged update", h);
	snprintf(want, sizeof want,
		 "aggregator recorded an update from site-b round r2/1 "
		 "sha256 %s.. that site-b never sent",
		 h);
	expect_one(FLAW_EXTRA, want);
}

/* ---- report -------------------------------------------------------------- */

static void test_report(void **state)
{
	char pa[17];

	(void)state;
	write_logs(FLAW_NONE);
	first16("policy a", pa);
	assert_int_equal(audit("report agg.jsonl site-a.jsonl site-b.jsonl"),
			 0);
	assert_has("out.txt", "\nround r1\n");
	assert_has("out.txt", "\nround r2\n");
	{
		char want[256];

		/* r1: two delta updates of 4096 and 4100 bytes */
		snprintf(want, sizeof want,
			 "  site-a               accepted  %s..        2"
			 "          8196             0  site log\n",
			 pa);
		assert_has("out.txt", want);
	}
	assert_has("out.txt", "  site-b               declined  ");
	assert_int_equal(audit("report --json agg.jsonl site-a.jsonl "
			       "site-b.jsonl"),
			 0);
	assert_int_equal(check("report out.txt agg.jsonl site-a.jsonl "
			       "site-b.jsonl"),
			 0);
	/* the aggregator's log alone: what it recorded, without decisions */
	assert_int_equal(audit("report --json agg.jsonl"), 0);
	assert_int_equal(check("report out.txt agg.jsonl"), 0);
	assert_int_equal(audit("report"), 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_verify_ok),
		cmocka_unit_test(test_verify_tampered),
		cmocka_unit_test(test_crosscheck_agrees),
		cmocka_unit_test(test_crosscheck_not_sent),
		cmocka_unit_test(test_crosscheck_not_received),
		cmocka_unit_test(test_crosscheck_hash),
		cmocka_unit_test(test_crosscheck_bytes),
		cmocka_unit_test(test_crosscheck_extra),
		cmocka_unit_test(test_report),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
