/* test_audit_fed.c - reading federation events out of verified audit logs
 * (rf_audit_fed.h): members found only at the top level of the data,
 * strict counts, malformed events refused with the line, duplicate logs,
 * the set left unchanged by a failure, pairing, and allocation failures. */
#include "rf_test.h"

#include "rf_audit.h"
#include "rf_audit_events.h"
#include "rf_audit_fed.h"

#define H1 "1111111111111111111111111111111111111111111111111111111111111111"
#define H2 "2222222222222222222222222222222222222222222222222222222222222222"

static char tmp[512];

static void write_log(const char *name, const char *actor,
		      const char *const *events, size_t n)
{
	char path[600];
	struct rf_audit *a = NULL;
	struct rf_err e = {0};

	snprintf(path, sizeof path, "%s/%s", tmp, name);
	unlink(path);
	RF_ASSERT_OK_E(rf_audit_open(path, actor, NULL, NULL, &a, &e), &e);
	for (size_t i = 0; i < n; i += 2)
		RF_ASSERT_OK_E(rf_audit_append(a, events[i], events[i + 1],
					       NULL, &e),
			       &e);
	RF_ASSERT_OK_E(rf_audit_close(a, &e), &e);
}

static enum rf_rc add(struct rf_audit_fed *f, const char *name,
		      struct rf_err *e)
{
	char path[600];

	snprintf(path, sizeof path, "%s/%s", tmp, name);
	return rf_audit_fed_add_log(f, path, NULL, 0, NULL, e);
}

static const char *const agg_events[] = {
	RF_AUDIT_EV_ROUND_STARTED, "{\"round\":\"r1\"}",
	/* members inside nested values and strings do not count; order and
	 * extra members do not matter */
	RF_AUDIT_EV_UPDATE_RECEIVED,
	"{\"x\":{\"bytes\":1,\"site\":\"evil\"},\"note\":\"\\\"bytes\\\":2\","
	"\"kind\":\"masked\",\"samples\":7,\"bytes\":300,\"sha256\":\"" H1
	"\",\"site\":\"site-a\",\"round_no\":2,\"round\":\"r1\","
	"\"list\":[1,[2,{\"a\":\"]\"}]]}",
	RF_AUDIT_EV_MODEL_SENT,
	"{\"round\":\"r1\",\"round_no\":2,\"site\":\"site-a\",\"sha256\":\"" H2
	"\",\"bytes\":9223372036854775807}",
};

static const char *const site_events[] = {
	RF_AUDIT_EV_ROUND_ACCEPTED,
	"{\"round\":\"r1\",\"policy_sha256\":\"" H1 "\",\"reasons\":[]}",
	RF_AUDIT_EV_UPDATE_SENT,
	"{\"round\":\"r1\",\"round_no\":2,\"sha256\":\"" H1 "\","
	"\"bytes\":300,\"samples\":7,\"kind\":\"masked\"}",
	RF_AUDIT_EV_MODEL_RECEIVED,
	"{\"round\":\"r1\",\"round_no\":2,\"sha256\":\"" H2 "\","
	"\"bytes\":9223372036854775807}",
};

static int setup(void **state)
{
	(void)state;
	snprintf(tmp, sizeof tmp, "%s", rf_test_tmpdir("audit_fed"));
	return 0;
}

static void test_read_and_pair(void **state)
{
	struct rf_audit_fed *f = NULL;
	const struct rf_audit_xfer *x;
	const struct rf_audit_decision *d;
	const struct rf_audit_fed_log *l;
	struct rf_err e = {0};
	size_t n, bad;

	(void)state;
	write_log("agg.jsonl", "agg", agg_events, 6);
	write_log("a.jsonl", "site:site-a", site_events, 6);
	RF_ASSERT_OK(rf_audit_fed_create(&f, &e));
	RF_ASSERT_OK_E(add(f, "agg.jsonl", &e), &e);
	RF_ASSERT_OK_E(add(f, "a.jsonl", &e), &e);
	l = rf_audit_fed_logs(f, &n);
	assert_int_equal(n, 2);
	assert_true(l[0].is_agg);
	assert_false(l[1].is_agg);
	assert_string_equal(l[1].site, "site-a");
	assert_int_equal(l[1].report.events, 3);
	x = rf_audit_fed_xfers(f, &n);
	assert_int_equal(n, 4);
	/* sorted: updates first, the aggregator's side first */
	assert_int_equal(x[0].type, RF_AUDIT_XFER_UPDATE);
	assert_true(x[0].by_agg);
	assert_string_equal(x[0].site, "site-a");
	assert_int_equal(x[0].bytes, 300);
	assert_int_equal(x[0].samples, 7);
	assert_int_equal(x[0].round_no, 2);
	assert_string_equal(x[0].kind, "masked");
	assert_int_equal(x[0].line, 2);
	assert_false(x[1].by_agg);
	assert_int_equal(x[2].type, RF_AUDIT_XFER_MODEL);
	assert_true(x[2].bytes == INT64_MAX);
	d = rf_audit_fed_decisions(f, &n);
	assert_int_equal(n, 1);
	assert_true(d[0].accepted);
	assert_string_equal(d[0].policy_sha256, H1);
	RF_ASSERT_OK(rf_audit_fed_crosscheck(f, NULL, NULL, &bad, &e));
	assert_int_equal(bad, 0);
	x = rf_audit_fed_xfers(f, &n);
	for (size_t i = 0; i < n; i++)
		assert_true(x[i].matched);
	/* the same site twice, a second aggregator */
	RF_ASSERT_RC(add(f, "a.jsonl", &e), RF_EEXIST);
	assert_non_null(strstr(e.msg, "are both logs of site 'site-a'"));
	RF_ASSERT_RC(add(f, "agg.jsonl", &e), RF_EEXIST);
	rf_audit_fed_xfers(f, &n);
	assert_int_equal(n, 4);
	rf_audit_fed_destroy(f);
	rf_audit_fed_destroy(NULL);
}

/* One bad update.sent data object: refused, naming line 2 and the member,
 * and the set is left as it was. */
static void bad_update(const char *data, const char *want)
{
	const char *const ev[] = {
		RF_AUDIT_EV_UPDATE_SENT,
		"{\"round\":\"r0\",\"round_no\":1,\"sha256\":\"" H1 "\","
		"\"bytes\":1,\"samples\":1,\"kind\":\"delta\"}",
		RF_AUDIT_EV_UPDATE_SENT, data};
	struct rf_audit_fed *f = NULL;
	struct rf_err e = {0};
	size_t n;

	write_log("bad.jsonl", "site:b", ev, 4);
	RF_ASSERT_OK(rf_audit_fed_create(&f, &e));
	RF_ASSERT_RC(add(f, "bad.jsonl", &e), RF_EPROTO);
	if (!strstr(e.msg, want) || !strstr(e.msg, "line 2: event "
					    "'update.sent': "))
		fail_msg("got '%s', want '%s'", e.msg, want);
	rf_audit_fed_xfers(f, &n);
	assert_int_equal(n, 0);
	rf_audit_fed_logs(f, &n);
	assert_int_equal(n, 0);
	rf_audit_fed_destroy(f);
}

#define UPD(members) "{\"round\":\"r1\",\"sha256\":\"" H1 "\"," members "}"

static void test_malformed_events(void **state)
{
	(void)state;
	bad_update(UPD("\"round_no\":1,\"samples\":1,\"kind\":\"delta\""),
		   "no member 'bytes'");
	bad_update(UPD("\"round_no\":1,\"bytes\":1e3,\"samples\":1,"
		       "\"kind\":\"delta\""),
		   "not a count in 'bytes'");
	bad_update(UPD("\"round_no\":1,\"bytes\":-1,\"samples\":1,"
		       "\"kind\":\"delta\""),
		   "not a count in 'bytes'");
	bad_update(UPD("\"round_no\":1,\"bytes\":1.5,\"samples\":1,"
		       "\"kind\":\"delta\""),
		   "not a count in 'bytes'");
	bad_update(UPD("\"round_no\":1,\"bytes\":\"12\",\"samples\":1,"
		       "\"kind\":\"delta\""),
		   "not a count in 'bytes'");
	bad_update(UPD("\"round_no\":1,\"bytes\":12345678901234567890,"
		       "\"samples\":1,\"kind\":\"delta\""),
		   "not a count in 'bytes'");
	bad_update(UPD("\"round_no\":1,\"bytes\":1,\"samples\":1,"
		       "\"kind\":\"plain\""),
		   "bad value of 'kind'");
	bad_update(UPD("\"round_no\":1,\"bytes\":1,\"samples\":1"),
		   "no string member 'kind'");
	bad_update("{\"round\":\"r 1\",\"round_no\":1,\"sha256\":\"" H1 "\","
		   "\"bytes\":1,\"samples\":1,\"kind\":\"delta\"}",
		   "bad value of 'round'");
	bad_update("{\"round\":\"r1\",\"round_no\":1,\"sha256\":\"ABCD\","
		   "\"bytes\":1,\"samples\":1,\"kind\":\"delta\"}",
		   "bad value of 'sha256'");
}

static void test_no_aggregator(void **state)
{
	struct rf_audit_fed *f = NULL;
	struct rf_err e = {0};
	size_t bad;

	(void)state;
	write_log("a.jsonl", "site:site-a", site_events, 6);
	RF_ASSERT_OK(rf_audit_fed_create(&f, &e));
	RF_ASSERT_OK_E(add(f, "a.jsonl", &e), &e);
	RF_ASSERT_RC(rf_audit_fed_crosscheck(f, NULL, NULL, &bad, &e),
		     RF_EINVAL);
	rf_audit_fed_destroy(f);
}

static void count_msg(const char *msg, void *ctx)
{
	(void)msg;
	(*(size_t *)ctx)++;
}

static void test_oom(void **state)
{
	struct rf_audit_fed *f = NULL;
	struct rf_err e = {0};
	size_t bad = 0, calls = 0;
	enum rf_rc rc;

	(void)state;
	write_log("agg.jsonl", "agg", agg_events, 4); /* no model.sent */
	write_log("a.jsonl", "site:site-a", site_events, 6);
	RF_TEST_OOM_LOOP(rc,
			 {
				 f = NULL;
				 calls = 0;
				 rc = rf_audit_fed_create(&f, &e);
				 if (!rc)
					 rc = add(f, "agg.jsonl", &e);
				 if (!rc)
					 rc = add(f, "a.jsonl", &e);
				 if (!rc)
					 rc = rf_audit_fed_crosscheck(
						 f, count_msg, &calls, &bad,
						 &e);
				 if (rc)
					 rf_audit_fed_destroy(f);
			 },
			 rf_audit_fed_destroy(f));
	/* the model the site received was never sent */
	assert_int_equal(bad, 1);
	assert_int_equal(calls, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_read_and_pair),
		cmocka_unit_test(test_malformed_events),
		cmocka_unit_test(test_no_aggregator),
		cmocka_unit_test(test_oom),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
