/* test_enroll.c - the operator's and the invitee's commands as real
 * processes: radfed agg init, agg invite, agg serve (in the background,
 * stopped with SIGTERM), site enroll, id enroll, agg sites, agg revoke. */
#include "rf_test.h"

#include <signal.h>
#include <time.h>

#include "rf_audit.h"
#include "rf_buf.h"
#include "rf_crypto.h"
#include "rf_file.h"

static char root[600];
static char port[16];

/* The value of "key": "..." in a one-line JSON object file. */
static void json_field(const char *file, const char *key, char *out,
		       size_t n)
{
	struct rf_buf b = RF_BUF_INIT(65536);
	char pat[80];
	const char *p, *q;

	RF_ASSERT_OK(rf_file_read(file, &b, NULL));
	RF_ASSERT_OK(rf_buf_putc(&b, '\0', NULL));
	snprintf(pat, sizeof pat, "\"%s\": \"", key);
	p = strstr((const char *)b.data, pat);
	assert_non_null(p);
	p += strlen(pat);
	q = strchr(p, '"');
	assert_non_null(q);
	assert_true((size_t)(q - p) < n);
	memcpy(out, p, (size_t)(q - p));
	out[q - p] = '\0';
	rf_buf_release(&b);
}

static pid_t serve(void)
{
	char out[700], line[256];
	pid_t pid;
	FILE *f;
	int i;

	snprintf(out, sizeof out, "%s/serve.out", root);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char dir[700];

		snprintf(dir, sizeof dir, "%s/agg", root);
		if (!freopen(out, "w", stdout))
			_exit(127);
		execl(RF_TEST_RADFED, "radfed", "agg", "serve", "--dir", dir,
		      "--listen", "127.0.0.1:0", (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 200; i++) {
		struct timespec ts = { 0, 50 * 1000000L };

		f = fopen(out, "r");
		if (f && fgets(line, sizeof line, f) &&
		    strstr(line, "serving on port ")) {
			snprintf(port, sizeof port, "%s",
				 strstr(line, "port ") + 5);
			port[strcspn(port, "\n")] = '\0';
			fclose(f);
			return pid;
		}
		if (f)
			fclose(f);
		nanosleep(&ts, NULL);
	}
	fail_msg("agg serve did not start");
	return -1;
}

static void verify_log(const char *dir, const char *want)
{
	char p[800];
	struct rf_key *k = NULL;
	const struct rf_key *trusted[1];
	struct rf_audit_report r;
	struct rf_err e = { 0 };

	snprintf(p, sizeof p, "%s/keys/audit.key", dir);
	RF_ASSERT_OK_E(rf_key_load_private_pem(p, &k, &e), &e);
	trusted[0] = k;
	snprintf(p, sizeof p, "%s/logs/audit.jsonl", dir);
	RF_ASSERT_OK_E(rf_audit_verify(p, trusted, 1, &r, &e), &e);
	assert_int_equal(r.unsigned_tail, 0);
	rf_key_destroy(k);
	assert_int_equal(rf_sh("grep -q '\"event\":\"%s\"' %s", want, p), 0);
}

static void test_enroll_commands(void **state)
{
	const char *R = RF_TEST_RADFED;
	char inv[700], tok[80], fp[80], t2[80], sn[80];
	pid_t pid;
	int st;

	(void)state;
	snprintf(root, sizeof root, "%s", rf_test_tmpdir("cli_enroll"));
	assert_int_equal(rf_sh("%s agg init --dir %s/agg --name test "
			       "--json > %s/init.json",
			       R, root, root),
			 0);
	assert_int_equal(rf_sh("test \"$(stat -c %%a %s/agg/ca/ca.key "
			       "%s/agg/tls/server.key %s/agg/keys/audit.key)\""
			       " = \"$(printf '600\\n600\\n600')\"",
			       root, root, root),
			 0);
	/* a second init refuses the folder (exit 1) */
	assert_int_equal(rf_sh("%s agg init --dir %s/agg 2>/dev/null", R,
			       root),
			 1);
	snprintf(inv, sizeof inv, "%s/inv.json", root);
	assert_int_equal(rf_sh("%s agg invite --dir %s/agg --name site-a "
			       "--role site --json > %s",
			       R, root, inv),
			 0);
	json_field(inv, "token", tok, sizeof tok);
	json_field(inv, "ca_fingerprint", fp, sizeof fp);
	json_field(inv, "server_name", sn, sizeof sn);
	assert_string_equal(sn, "localhost");
	assert_int_equal(strlen(tok), 64);
	/* the printed fingerprint is openssl's */
	assert_int_equal(rf_sh("openssl x509 -in %s/agg/ca/ca.pem -noout "
			       "-fingerprint -sha256 | tr -d : | tr A-F a-f "
			       "| grep -q '=%s$'",
			       root, fp),
			 0);
	/* a token that expires */
	assert_int_equal(rf_sh("%s agg invite --dir %s/agg --name site-b "
			       "--role site --ttl 1s --json > %s/inv2.json",
			       R, root, root),
			 0);
	snprintf(inv, sizeof inv, "%s/inv2.json", root);
	json_field(inv, "token", t2, sizeof t2);

	pid = serve();
	assert_int_equal(rf_sh("%s site init --dir %s/site-a --name site-a "
			       ">/dev/null",
			       R, root),
			 0);
	assert_int_equal(rf_sh("%s site enroll --dir %s/site-a --aggregator "
			       "127.0.0.1:%s --server-name localhost --token "
			       "%s --ca-fingerprint %s --json > %s/en.json",
			       R, root, port, tok, fp, root),
			 0);
	assert_int_equal(rf_sh("grep -q '\"role\": \"site\"' %s/en.json",
			       root),
			 0);
	/* used once: a second use is refused (exit 4) */
	assert_int_equal(rf_sh("%s id enroll --dir %s/x --name site-a "
			       "--aggregator 127.0.0.1:%s --server-name "
			       "localhost --token %s --ca-fingerprint %s "
			       "2>/dev/null",
			       R, root, port, tok, fp),
			 4);
	/* expired: refused (exit 4) with the reason */
	sleep(2);
	assert_int_equal(rf_sh("%s site init --dir %s/site-b --name site-b "
			       ">/dev/null",
			       R, root),
			 0);
	assert_int_equal(rf_sh("%s site enroll --dir %s/site-b --aggregator "
			       "127.0.0.1:%s --server-name localhost --token "
			       "%s --ca-fingerprint %s 2> %s/exp.err",
			       R, root, port, t2, fp, root),
			 4);
	assert_int_equal(rf_sh("grep -q 'token expired' %s/exp.err", root),
			 0);
	assert_int_equal(rf_sh("test ! -e %s/site-b/keys/tls.pem", root), 0);
	/* listed, revoked while the server runs, listed as revoked */
	assert_int_equal(rf_sh("%s agg sites --dir %s/agg --json | grep -q "
			       "'\"name\": \"site-a\", \"role\": \"site\".*"
			       "\"revoked\": false'",
			       R, root),
			 0);
	assert_int_equal(rf_sh("%s agg revoke --dir %s/agg site-a >/dev/null",
			       R, root),
			 0);
	assert_int_equal(rf_sh("%s agg sites --dir %s/agg --json | grep -q "
			       "'\"revoked\": true'",
			       R, root),
			 0);
	assert_int_equal(rf_sh("%s agg revoke --dir %s/agg nobody "
			       "2>/dev/null",
			       R, root),
			 1);
	/* SIGTERM stops the server cleanly */
	assert_int_equal(kill(pid, SIGTERM), 0);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);

	{
		char d[700];

		snprintf(d, sizeof d, "%s/agg", root);
		verify_log(d, "revoke");
		snprintf(d, sizeof d, "%s/site-a", root);
		verify_log(d, "enroll");
		snprintf(d, sizeof d, "%s/site-b", root);
		verify_log(d, "enroll.failed");
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_enroll_commands),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
