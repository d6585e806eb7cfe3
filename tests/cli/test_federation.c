/* test_federation.c - a whole federation as real processes on loopback:
 * radfed agg serve and three radfed site serve, a researcher's round of
 * cnn-small driven with round start / watch / status and model export, and
 * the auditor's audit verify and crosscheck. Then the same with the
 * aggregator SIGKILLed in the middle of an iteration and restarted on its
 * folder: the round completes and every update is counted once.
 *
 * Expected values come from outside the code under test: the held-out AUC
 * of the exported models is computed here (trn_eval_run on a set no site
 * trained on), the status JSON is read with Python's json module, model
 * hashes with sha256sum. */
#include "rf_test.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>

#include "rf_buf.h"
#include "rf_crypto.h"
#include "rf_file.h"
#include "trn_train.h"

#define R RF_TEST_RADFED
#define PY "/usr/bin/python3"
#define NSITES 3

static const char *const sites[NSITES] = { "site-a", "site-b", "site-c" };

/* The federation of one test. */
static char root[512];
static char port[16];
static pid_t agg_pid;
static pid_t site_pid[NSITES];

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A port nothing listens on now (bound to 0, read, released). */
static void pick_port(void)
{
	struct sockaddr_in a;
	socklen_t len = sizeof a;
	int s = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(s >= 0);
	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof a), 0);
	assert_int_equal(getsockname(s, (struct sockaddr *)&a, &len), 0);
	snprintf(port, sizeof port, "%u", (unsigned)ntohs(a.sin_port));
	close(s);
}

/* Starts `radfed argv...` with stdout and stderr appended to log. */
static pid_t start(const char *log, char *const *argv)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
			_exit(127);
		execv(R, argv);
		_exit(127);
	}
	return pid;
}

/* Stops pid with sig and reaps it; returns its wait status. */
static int stop(pid_t *pid, int sig)
{
	int st = 0;

	if (*pid <= 0)
		return 0;
	kill(*pid, sig);
	while (waitpid(*pid, &st, 0) < 0 && errno == EINTR)
		;
	*pid = 0;
	return st;
}

static void stop_all(void)
{
	int i;

	for (i = 0; i < NSITES; i++)
		stop(&site_pid[i], SIGTERM);
	stop(&agg_pid, SIGTERM);
}

/* The whole text of a file, NUL-terminated (caller releases). */
static void slurp(const char *path, struct rf_buf *b)
{
	rf_buf_init(b, 64 << 20);
	RF_ASSERT_OK(rf_file_read(path, b, NULL));
	RF_ASSERT_OK(rf_buf_putc(b, '\0', NULL));
}

/* How many times the log at path says "serving on port". */
static int serving_lines(const char *path)
{
	struct rf_buf b = RF_BUF_INIT(1 << 20);
	const char *p;
	int n = 0;

	if (rf_file_read(path, &b, NULL) == RF_OK &&
	    rf_buf_putc(&b, '\0', NULL) == RF_OK)
		for (p = (const char *)b.data;
		     (p = strstr(p, "serving on port")) != NULL; p++)
			n++;
	rf_buf_release(&b);
	return n;
}

/* Starts agg serve on the test's folder and port (appending to
 * ROOT/agg.log), and waits until it serves. */
static void start_agg(void)
{
	char dir[600], log[600], lis[40];
	int64_t t0 = now_ms();
	int before, st;

	snprintf(dir, sizeof dir, "%s/agg", root);
	snprintf(log, sizeof log, "%s/agg.log", root);
	snprintf(lis, sizeof lis, "127.0.0.1:%s", port);
	before = serving_lines(log);
	agg_pid = start(log, (char *[]){"radfed", "agg", "serve", "--dir",
					dir, "--listen", lis, NULL});
	while (serving_lines(log) <= before) {
		assert_int_equal(waitpid(agg_pid, &st, WNOHANG), 0);
		assert_true(now_ms() - t0 < 30000);
		sleep_ms(100);
	}
}

/* The value of "key": "..." in a JSON file written by radfed --json. */
static void json_field(const char *file, const char *key, char *out,
		       size_t n)
{
	struct rf_buf b;
	char pat[80];
	const char *p, *q;

	slurp(file, &b);
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

static void invite_enroll(const char *name, const char *role,
			  const char *dir, int site)
{
	char inv[700], tok[80], fp[80];

	snprintf(inv, sizeof inv, "%s/inv-%s.json", root, name);
	assert_int_equal(rf_sh("%s agg invite --dir %s/agg --name %s --role %s"
			       " --json > %s",
			       R, root, name, role, inv),
			 0);
	json_field(inv, "token", tok, sizeof tok);
	json_field(inv, "ca_fingerprint", fp, sizeof fp);
	if (site)
		assert_int_equal(rf_sh("%s site enroll --dir %s --aggregator "
				       "127.0.0.1:%s --token %s "
				       "--ca-fingerprint %s >> %s/setup.log",
				       R, dir, port, tok, fp, root),
				 0);
	else
		assert_int_equal(rf_sh("%s id enroll --dir %s --name %s "
				       "--aggregator 127.0.0.1:%s --token %s "
				       "--ca-fingerprint %s >> %s/setup.log",
				       R, dir, name, port, tok, fp, root),
				 0);
}

/* Synthetic set of n patients (seed) ingested into a new site folder. */
static void make_site(const char *name, int patients, int seed)
{
	int st;

	assert_int_equal(rf_sh("%s synth --out %s/data/%s --patients %d "
			       "--seed %d --size 64 >> %s/setup.log && "
			       "%s site init --dir %s/%s --name %s "
			       ">> %s/setup.log",
			       R, root, name, patients, seed, root, R, root,
			       name, name, root),
			 0);
	/* 3: the images with burned-in text synth plants are quarantined */
	st = rf_sh("%s site ingest --site %s/%s --labels "
		   "%s/data/%s/labels.csv %s/data/%s/dicom "
		   "%s/data/%s/reports >> %s/setup.log",
		   R, root, name, root, name, root, name, root, name, root);
	assert_true(st == 0 || st == 3);
}

/* agg init, three sites with their data, enrolled, with a policy, and a
 * researcher; agg serve and three site serve running. */
static void federation(const char *tag, int patients)
{
	char dir[700], log[700];
	int i;

	snprintf(root, sizeof root, "%s", rf_test_tmpdir(tag));
	pick_port();
	assert_int_equal(rf_sh("%s agg init --dir %s/agg --name test "
			       "--listen 127.0.0.1:%s > %s/setup.log",
			       R, root, port, root),
			 0);
	start_agg();
	for (i = 0; i < NSITES; i++) {
		make_site(sites[i], patients, 100 + i);
		snprintf(dir, sizeof dir, "%s/%s", root, sites[i]);
		invite_enroll(sites[i], "site", dir, 1);
		assert_int_equal(rf_sh("printf 'accept: true\\n"
				       "researchers: [dr-test]\\n"
				       "models: [cnn-small]\\n' "
				       "> %s/policy.yaml",
				       dir),
				 0);
	}
	snprintf(dir, sizeof dir, "%s/researcher", root);
	invite_enroll("dr-test", "researcher", dir, 0);
	for (i = 0; i < NSITES; i++) {
		snprintf(dir, sizeof dir, "%s/%s", root, sites[i]);
		snprintf(log, sizeof log, "%s/%s.log", root, sites[i]);
		site_pid[i] = start(log, (char *[]){"radfed", "site", "serve",
						   "--dir", dir, NULL});
	}
}

/* Writes the round spec and starts it; round id into id. */
static void start_round(int rounds, int epochs, char *id, size_t n)
{
	char spec[700], out[700];

	snprintf(spec, sizeof spec, "%s/round.yaml", root);
	snprintf(out, sizeof out, "%s/start.json", root);
	assert_int_equal(rf_sh("printf 'name: test\\nmodel: cnn-small\\n"
			       "input: 1x64x64\\nlabels: [normal, nodule]\\n"
			       "local: {epochs: %d, batch: 16, lr: 1e-3, "
			       "optimizer: adam}\\nrounds: %d\\n"
			       "min-sites: 3\\nmax-wait: 10m\\nseed: 3\\n' "
			       "> %s",
			       epochs, rounds, spec),
			 0);
	assert_int_equal(rf_sh("%s round start --id %s/researcher %s --json "
			       "> %s",
			       R, root, spec, out),
			 0);
	json_field(out, "round", id, n);
	json_field(out, "spec_sha256", spec, sizeof spec);
	assert_int_equal(strlen(spec), 64);
}

/* Verifies the audit log of folder name with the public half of its
 * key, with radfed audit verify. */
static void verify_log(const char *name)
{
	char key[700], pub[700];
	struct rf_key *k = NULL;

	snprintf(key, sizeof key, "%s/%s/keys/audit.key", root, name);
	snprintf(pub, sizeof pub, "%s/%s.pub", root, name);
	RF_ASSERT_OK(rf_key_load_private_pem(key, &k, NULL));
	RF_ASSERT_OK(rf_key_save_public_pem(k, pub, NULL));
	rf_key_destroy(k);
	assert_int_equal(rf_sh("%s audit verify %s/%s/logs/audit.jsonl "
			       "--key %s >> %s/audit.txt",
			       R, root, name, pub, root),
			 0);
}

/* Every log verified, then the crosscheck agrees (exit 0). */
static void audit_all(void)
{
	int i;

	verify_log("agg");
	for (i = 0; i < NSITES; i++)
		verify_log(sites[i]);
	assert_int_equal(rf_sh("%s audit crosscheck %s/agg/logs/audit.jsonl "
			       "%s/site-a/logs/audit.jsonl "
			       "%s/site-b/logs/audit.jsonl "
			       "%s/site-c/logs/audit.jsonl "
			       "--key %s/agg.pub --key %s/site-a.pub "
			       "--key %s/site-b.pub --key %s/site-c.pub "
			       "> %s/crosscheck.txt",
			       R, root, root, root, root, root, root, root,
			       root, root),
			 0);
}

/* round status --json: the round is done after `rounds` iterations, each
 * with exactly one update from every site and a model. */
static void check_status(const char *id, int rounds)
{
	assert_int_equal(rf_sh("%s round status --id %s/researcher %s --json "
			       "> %s/status.json",
			       R, root, id, root),
			 0);
	assert_int_equal(rf_sh(PY " -c \"import json; "
			       "r = json.load(open('%s/status.json'))"
			       "['rounds'][0]; "
			       "assert r['state'] == 'done', r['state']; "
			       "assert r['round_no'] == %d; "
			       "its = r['iterations']; "
			       "assert [i['round_no'] for i in its] == "
			       "list(range(1, %d)), its; "
			       "assert all(sorted(u['site'] for u in "
			       "i['updates']) == ['site-a', 'site-b', "
			       "'site-c'] for i in its), its; "
			       "assert all(len(i['model_sha256']) == 64 "
			       "for i in its); "
			       "assert all(u['samples'] > 0 and u['bytes'] > 0"
			       " for i in its for u in i['updates']); "
			       "assert r['model_sha256'] == "
			       "its[-1]['model_sha256']\"",
			       root, rounds, rounds + 1),
			 0);
	/* and the text form lists the sites' updates */
	assert_int_equal(rf_sh("%s round status --id %s/researcher %s "
			       "> %s/status.txt && grep -q 'iteration %d: 3 "
			       "updates' %s/status.txt",
			       R, root, id, root, rounds, root),
			 0);
}

static double heldout_auc(const char *model)
{
	char data[700];
	struct trn_eval_result r;
	struct rf_err e = { 0 };

	snprintf(data, sizeof data, "%s/heldout/store/dataset.h5", root);
	RF_ASSERT_OK_E(trn_eval_run(data, model, 64, &r, &e), &e);
	assert_true(r.images > 0);
	return r.auc;
}

static void test_full_flow(void **state)
{
	char id[64], m0[700], m3[700];
	double auc0, auc3;

	(void)state;
	federation("fed_full", 60);
	make_site("heldout", 60, 999);
	start_round(3, 3, id, sizeof id);
	/* watch follows it to the end: exit 0 when done */
	assert_int_equal(rf_sh("timeout 600 %s round watch --id %s/researcher "
			       "%s > %s/watch.txt",
			       R, root, id, root),
			 0);
	assert_int_equal(rf_sh("grep -q 'iteration 3 aggregated from 3 sites'"
			       " %s/watch.txt",
			       root),
			 0);
	check_status(id, 3);
	/* the models: initial and latest, hashes as the status says */
	snprintf(m0, sizeof m0, "%s/model-0.h5", root);
	snprintf(m3, sizeof m3, "%s/model-3.h5", root);
	assert_int_equal(rf_sh("%s model export --id %s/researcher --round %s"
			       " --iteration 0 --out %s > /dev/null",
			       R, root, id, m0),
			 0);
	assert_int_equal(rf_sh("%s model export --id %s/researcher --round %s"
			       " --latest --out %s --json > %s/export.json",
			       R, root, id, m3, root),
			 0);
	assert_int_equal(rf_sh(PY " -c \"import json, hashlib; "
			       "s = json.load(open('%s/status.json'))"
			       "['rounds'][0]; "
			       "x = json.load(open('%s/export.json')); "
			       "h = hashlib.sha256(open('%s', 'rb').read())"
			       ".hexdigest(); "
			       "assert h == x['sha256'] == s['model_sha256'], "
			       "(h, x, s['model_sha256']); "
			       "assert x['iteration'] == 3\"",
			       root, root, m3),
			 0);
	/* neither option, or both: usage */
	assert_int_equal(rf_sh("%s model export --id %s/researcher --round %s"
			       " --out %s/x.h5 2>/dev/null",
			       R, root, id, root),
			 2);
	/* a round that does not exist */
	assert_int_equal(rf_sh("%s model export --id %s/researcher --round "
			       "999 --latest --out %s/x.h5 2>/dev/null",
			       R, root, root),
			 1);
	assert_int_equal(rf_sh("test ! -e %s/x.h5", root), 0);
	auc0 = heldout_auc(m0);
	auc3 = heldout_auc(m3);
	print_message("held-out AUC: initial %.4f, after 3 iterations "
		      "%.4f\n", auc0, auc3);
	assert_true(auc3 > auc0);
	stop_all();
	audit_all();
}

/* The highest round_no of an event in the aggregator's log whose
 * iteration has no "aggregated" event yet, or 0. */
static int iteration_in_progress(void)
{
	char log[700];
	struct rf_buf b;
	int got[64] = { 0 }, done[64] = { 0 }, k, best = 0;
	const char *p, *q, *nl;

	snprintf(log, sizeof log, "%s/agg/logs/audit.jsonl", root);
	slurp(log, &b);
	for (p = (const char *)b.data; *p; p = *nl ? nl + 1 : nl) {
		int *into = NULL;

		nl = strchr(p, '\n');
		if (!nl)
			nl = p + strlen(p);
		if ((q = strstr(p, "\"event\":\"update.received\"")) && q < nl)
			into = got;
		else if ((q = strstr(p, "\"event\":\"aggregated\"")) && q < nl)
			into = done;
		if (!into)
			continue;
		q = strstr(p, "\"round_no\"");
		if (!q || q > nl)
			continue;
		q += strlen("\"round_no\"");
		while (*q == ' ' || *q == ':')
			q++;
		k = (int)strtol(q, NULL, 10);
		if (k > 0 && k < 64)
			into[k] = 1;
	}
	rf_buf_release(&b);
	for (k = 1; k < 64; k++)
		if (got[k] && !done[k])
			best = k;
	return best;
}

static void test_agg_killed(void **state)
{
	char id[64];
	int64_t t0;
	int k = 0, st;

	(void)state;
	federation("fed_kill", 40);
	start_round(4, 1, id, sizeof id);
	/* wait for an iteration after the first with an update in and no
	 * aggregate yet, then SIGKILL the aggregator */
	t0 = now_ms();
	while ((k = iteration_in_progress()) < 2) {
		assert_true(now_ms() - t0 < 600000);
		assert_int_equal(waitpid(agg_pid, &st, WNOHANG), 0);
		sleep_ms(20);
	}
	st = stop(&agg_pid, SIGKILL);
	assert_true(WIFSIGNALED(st));
	print_message("aggregator killed during iteration %d\n", k);
	/* restarted on its folder, same address: the sites reconnect */
	start_agg();
	assert_int_equal(rf_sh("timeout 600 %s round watch --id %s/researcher "
			       "%s > %s/watch.txt",
			       R, root, id, root),
			 0);
	check_status(id, 4);
	stop_all();
	audit_all();
}

static int teardown(void **state)
{
	(void)state;
	stop_all();
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_full_flow, teardown),
		cmocka_unit_test_teardown(test_agg_killed, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
