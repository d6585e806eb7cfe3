/* cmd_demo.c - `radfed demo [--dir DIR]`: a whole federation on one
 * machine. An aggregator and three hospital sites run as separate radfed
 * processes talking gRPC over loopback TLS; this process is the operator
 * (agg init, invitations), each site's data officer (synthetic data,
 * ingest, enrollment, policy), the researcher (round start, model export,
 * evaluation on a held-out set) and the auditor (audit verify, crosscheck,
 * report). Every file it makes stays in DIR for inspection.
 *
 * The children are tracked in one table so that every exit path, signals
 * included, stops them; they also get SIGKILL should this process die
 * without cleaning up (PR_SET_PDEATHSIG). */
#define _XOPEN_SOURCE 700 /* nftw */
#include "cli.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "node_enroll.h"
#include "radfed.pb-c.h"
#include "rf_audit_fed.h"
#include "rf_buf.h"
#include "rf_crypto.h"
#include "rf_file.h"
#include "rf_pb.h"
#include "rf_rpc.h"
#include "rf_version.h"
#include "trn.h"
#include "trn_train.h"

#define DEMO_MARK ".radfed-demo"
#define DEMO_SITES 3
#define DEMO_SIZE "64"
#define DEMO_RESEARCHER "demo-researcher"
#define DEMO_AUDITOR "demo-auditor"
/* Longest a whole federated round may take before the demo gives up. */
#define DEMO_ROUND_MS (60 * 60 * 1000)
/* Longest wait for a server to start. */
#define DEMO_START_MS 30000
#define DEMO_CHILDREN 16

static const char *const site_names[DEMO_SITES] = {
	"hopital-nord", "hopital-sud", "hopital-est",
};

/*
 * The children running now, for the signal handler: written only by the
 * main thread (the demo starts no thread of its own), read by the handler.
 */
static volatile pid_t demo_children[DEMO_CHILDREN];
static volatile sig_atomic_t demo_signal;

static void on_signal(int sig)
{
	int i;

	demo_signal = sig;
	for (i = 0; i < DEMO_CHILDREN; i++)
		if (demo_children[i] > 0)
			kill(demo_children[i], SIGTERM);
}

static void track(pid_t pid)
{
	int i;

	for (i = 0; i < DEMO_CHILDREN; i++)
		if (demo_children[i] <= 0) {
			demo_children[i] = pid;
			return;
		}
}

static void untrack(pid_t pid)
{
	int i;

	for (i = 0; i < DEMO_CHILDREN; i++)
		if (demo_children[i] == pid)
			demo_children[i] = 0;
}

struct demo {
	struct cli_ctx *ctx;
	const char *dir;
	uint64_t patients;
	uint64_t rounds;
	char port[8];
	char target[32];
	char round[32];
	pid_t agg;
	pid_t sites[DEMO_SITES];
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static void path_of(const struct demo *d, char *out, size_t n,
		    const char *rel)
{
	snprintf(out, n, "%s/%s", d->dir, rel);
}

/* Starts radfed with argv (argv[0] "radfed"), stdout to out_path (NULL:
 * inherited) and stderr to err_path (NULL: as stdout). */
static enum rf_rc spawn(char *const *argv, const char *out_path,
			const char *err_path, pid_t *pid, struct rf_err *e)
{
	sigset_t none;
	pid_t p;
	int fd;

	fflush(NULL);
	p = fork();
	if (p < 0)
		return rf_err_set(e, RF_EIO, "cannot start 'radfed %s': %s",
				  argv[1], strerror(errno));
	if (p == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		if (out_path) {
			fd = open(out_path, O_WRONLY | O_CREAT | O_APPEND,
				  0600);
			if (fd < 0 || dup2(fd, 1) < 0)
				_exit(127);
			close(fd);
		}
		if (err_path) {
			fd = open(err_path, O_WRONLY | O_CREAT | O_APPEND,
				  0600);
			if (fd < 0 || dup2(fd, 2) < 0)
				_exit(127);
			close(fd);
		} else if (out_path && dup2(1, 2) < 0) {
			_exit(127);
		}
		execv("/proc/self/exe", argv);
		_exit(127);
	}
	track(p);
	*pid = p;
	return RF_OK;
}

/* Waits for pid; its exit status, or -1 when killed by a signal. */
static int reap(pid_t pid)
{
	int st;

	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	untrack(pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Runs radfed with argv to its end; RF_OK when it exits with 0, or with
 * 3 (partial) when partial_ok. */
static enum rf_rc run_x(char *const *argv, const char *out_path,
			const char *err_path, int partial_ok,
			struct rf_err *e)
{
	pid_t pid;
	int st;
	enum rf_rc rc;

	rc = spawn(argv, out_path, err_path, &pid, e);
	if (rc)
		return rc;
	st = reap(pid);
	if (demo_signal)
		return rf_err_set(e, RF_EIO, "interrupted by signal %d",
				  (int)demo_signal);
	if (st == CLI_EXIT_PARTIAL && partial_ok)
		st = 0;
	if (st != 0)
		return rf_err_set(e, st == CLI_EXIT_INTEGRITY ? RF_EINTEGRITY
							      : RF_EIO,
				  "'radfed %s %s' failed (exit status %d)%s%s",
				  argv[1], argv[2] ? argv[2] : "", st,
				  out_path ? ", see " : "",
				  out_path ? out_path : "");
	return RF_OK;
}

static enum rf_rc run(const struct demo *d, char *const *argv,
		      const char *out_path, const char *err_path,
		      struct rf_err *e)
{
	(void)d;
	return run_x(argv, out_path, err_path, 0, e);
}

/* The string value of "key": "..." in the file at path (a JSON object as
 * radfed --json prints it). */
static enum rf_rc json_str(const char *path, const char *key, char *out,
			   size_t n, struct rf_err *e)
{
	struct rf_buf b = RF_BUF_INIT(1 << 20);
	char pat[80];
	const char *p, *q;
	enum rf_rc rc;

	snprintf(pat, sizeof pat, "\"%s\": \"", key);
	rc = rf_file_read(path, &b, e);
	if (!rc)
		rc = rf_buf_putc(&b, '\0', e);
	if (rc)
		goto out;
	p = strstr((const char *)b.data, pat);
	q = p ? strchr(p + strlen(pat), '"') : NULL;
	if (!q || (size_t)(q - p - strlen(pat)) >= n) {
		rc = rf_err_set(e, RF_EPROTO, "no '%s' in '%s'", key, path);
		goto out;
	}
	p += strlen(pat);
	memcpy(out, p, (size_t)(q - p));
	out[q - p] = '\0';
out:
	rf_buf_release(&b);
	return rc;
}

/* A free TCP port on 127.0.0.1 (bound then released at once). */
static enum rf_rc free_port(char *out, size_t n, struct rf_err *e)
{
	struct sockaddr_in a;
	socklen_t len = sizeof a;
	int s = socket(AF_INET, SOCK_STREAM, 0);

	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) != 0 ||
	    getsockname(s, (struct sockaddr *)&a, &len) != 0) {
		if (s >= 0)
			close(s);
		return rf_err_set(e, RF_EIO, "cannot find a free port: %s",
				  strerror(errno));
	}
	close(s);
	snprintf(out, n, "%u", (unsigned)ntohs(a.sin_port));
	return RF_OK;
}

/* ---- the folder --------------------------------------------------------- */

static int rm_entry(const char *p, const struct stat *st, int flag,
		    struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return flag == FTW_DP ? rmdir(p) : unlink(p);
}

/* Makes dir an empty demo folder: created when missing; a previous demo
 * folder is emptied; anything else non-empty is refused. */
static enum rf_rc prepare_dir(const char *dir, struct rf_err *e)
{
	char mark[PATH_MAX], sub[PATH_MAX];
	struct stat st;
	enum rf_rc rc;
	int empty;

	snprintf(mark, sizeof mark, "%s/" DEMO_MARK, dir);
	if (stat(dir, &st) == 0) {
		if (!S_ISDIR(st.st_mode))
			return rf_err_set(e, RF_EEXIST,
					  "'%s' exists and is not a folder",
					  dir);
		/* rmdir succeeds on an empty folder only */
		empty = rmdir(dir) == 0;
		if (!empty && stat(mark, &st) != 0)
			return rf_err_set(e, RF_EEXIST,
					  "'%s' is not empty and not a "
					  "previous demo folder (no '%s')",
					  dir, DEMO_MARK);
		if (!empty && nftw(dir, rm_entry, 32, FTW_DEPTH | FTW_PHYS))
			return rf_err_set(e, RF_EIO,
					  "cannot empty '%s': %s", dir,
					  strerror(errno));
	}
	rc = rf_mkdirs(dir, 0700, e);
	if (!rc)
		rc = rf_file_write_atomic(mark, "radfed demo\n", 12, 0600, e);
	snprintf(sub, sizeof sub, "%s/logs", dir);
	if (!rc)
		rc = rf_mkdirs(sub, 0700, e);
	snprintf(sub, sizeof sub, "%s/models", dir);
	if (!rc)
		rc = rf_mkdirs(sub, 0700, e);
	return rc;
}

/* ---- steps -------------------------------------------------------------- */

static void step(const struct demo *d, const char *fmt, ...)
	RF_PRINTF(2, 3);
static void step(const struct demo *d, const char *fmt, ...)
{
	va_list ap;

	fputc('\n', d->ctx->out);
	va_start(ap, fmt);
	vfprintf(d->ctx->out, fmt, ap);
	va_end(ap);
	fputc('\n', d->ctx->out);
	fflush(d->ctx->out);
}

/* Waits for "serving on port" in the log of a starting aggregator. */
static enum rf_rc wait_serving(const struct demo *d, const char *log,
			       struct rf_err *e)
{
	struct rf_buf b = RF_BUF_INIT(1 << 20);
	int64_t t0 = now_ms();
	enum rf_rc rc = RF_OK;
	int st;

	for (;;) {
		rf_buf_reset(&b);
		if (rf_file_read(log, &b, NULL) == RF_OK &&
		    rf_buf_putc(&b, '\0', NULL) == RF_OK &&
		    strstr((const char *)b.data, "serving on port"))
			break;
		if (waitpid(d->agg, &st, WNOHANG) == d->agg) {
			untrack(d->agg);
			rc = rf_err_set(e, RF_EIO, "the aggregator stopped, "
					"see '%s'", log);
			break;
		}
		if (now_ms() - t0 > DEMO_START_MS || demo_signal) {
			rc = rf_err_set(e, RF_ETIMEDOUT, "the aggregator did "
					"not start, see '%s'", log);
			break;
		}
		sleep_ms(100);
	}
	rf_buf_release(&b);
	return rc;
}

/* Invites name with role; fills token and fingerprint. */
static enum rf_rc invite(struct demo *d, const char *name, const char *role,
			 char tok[80], char fp[80], struct rf_err *e)
{
	char agg[PATH_MAX], out[PATH_MAX], log[PATH_MAX];
	enum rf_rc rc;

	path_of(d, agg, sizeof agg, "agg");
	snprintf(out, sizeof out, "%s/logs/invite-%s.json", d->dir, name);
	path_of(d, log, sizeof log, "logs/setup.log");
	unlink(out);
	rc = run(d, (char *[]){"radfed", "agg", "invite", "--dir", agg,
			       "--name", (char *)name, "--role", (char *)role,
			       "--ttl", "1h", "--json", NULL},
		 out, log, e);
	if (!rc)
		rc = json_str(out, "token", tok, 80, e);
	if (!rc)
		rc = json_str(out, "ca_fingerprint", fp, 80, e);
	unlink(out); /* the token is spent at enrollment anyway */
	return rc;
}

static enum rf_rc setup_site(struct demo *d, int i, struct rf_err *e)
{
	char synth[PATH_MAX / 2], site[PATH_MAX], log[PATH_MAX], seed[24];
	char pat[24], labels[PATH_MAX], dicom[PATH_MAX], reps[PATH_MAX];
	const char *name = i < DEMO_SITES ? site_names[i] : "heldout";
	enum rf_rc rc;

	snprintf(synth, sizeof synth, "%s/data/%s", d->dir, name);
	snprintf(site, sizeof site, "%s/%s", d->dir, name);
	snprintf(labels, sizeof labels, "%s/labels.csv", synth);
	snprintf(dicom, sizeof dicom, "%s/dicom", synth);
	snprintf(reps, sizeof reps, "%s/reports", synth);
	path_of(d, log, sizeof log, "logs/setup.log");
	snprintf(seed, sizeof seed, "%d", 1000 + 17 * i);
	snprintf(pat, sizeof pat, "%llu", (unsigned long long)d->patients);
	rc = run(d, (char *[]){"radfed", "synth", "--out", synth,
			       "--patients", pat, "--seed", seed, "--size",
			       DEMO_SIZE, NULL},
		 log, NULL, e);
	if (!rc)
		rc = run(d, (char *[]){"radfed", "site", "init", "--dir", site,
				       "--name", (char *)name, NULL},
			 log, NULL, e);
	/* exit 3: some inputs quarantined (synth plants burned-in text) */
	if (!rc)
		rc = run_x((char *[]){"radfed", "site", "ingest", "--site",
				      site, "--labels", labels, dicom, reps,
				      NULL},
			   log, NULL, 1, e);
	if (!rc)
		fprintf(d->ctx->out, "  %-14s %s patients of synthetic chest "
			"CT/CR (seed %s), de-identified into %s/store\n",
			name, pat, seed, site);
	return rc;
}

static enum rf_rc write_policy(struct demo *d, int i, struct rf_err *e)
{
	static const char policy[] =
		"# written by radfed demo: this site trains cnn-small rounds\n"
		"# of the demo researcher, with at least 3 sites\n"
		"accept: true\n"
		"researchers: [" DEMO_RESEARCHER "]\n"
		"models: [cnn-small]\n"
		"strategies: [fedavg, fedprox]\n"
		"max-rounds: 50\n"
		"max-local-epochs: 5\n"
		"min-sites: 3\n";
	char p[PATH_MAX];

	snprintf(p, sizeof p, "%s/%s/policy.yaml", d->dir, site_names[i]);
	return rf_file_write_atomic(p, policy, sizeof policy - 1, 0600, e);
}

static enum rf_rc write_spec(struct demo *d, char *path, size_t n,
			     struct rf_err *e)
{
	char text[1024];
	int len;

	len = snprintf(text, sizeof text,
		       "# written by radfed demo\n"
		       "name: \"radfed demo: nodule or not, synthetic CT/CR\"\n"
		       "model: cnn-small\n"
		       "input: 1x64x64\n"
		       "labels: [normal, nodule]\n"
		       "local:\n"
		       "  epochs: 2\n"
		       "  batch: 16\n"
		       "  lr: 1e-3\n"
		       "  optimizer: adam\n"
		       "  weight-decay: 1e-4\n"
		       "rounds: %llu\n"
		       "min-sites: 3\n"
		       "max-wait: 30m\n"
		       "strategy: fedavg\n"
		       "val-fraction: 0.2\n"
		       "seed: 7\n",
		       (unsigned long long)d->rounds);
	snprintf(path, n, "%s/round.yaml", d->dir);
	return rf_file_write_atomic(path, text, (size_t)len, 0600, e);
}

/* The round's status, from the aggregator (the demo is the researcher). */
static enum rf_rc round_status(struct demo *d, struct rf_rpc_client *cl,
			       ProtobufCMessage **out, struct rf_err *e)
{
	Radfed__RoundStatusRequest req = RADFED__ROUND_STATUS_REQUEST__INIT;
	struct rf_buf msg = RF_BUF_INIT(1024);
	struct rf_buf resp = RF_BUF_INIT(RF_RPC_MSG_MAX);
	enum rf_rc rc;

	*out = NULL;
	req.round = d->round;
	rc = rf_pb_pack(&req.base, &msg, e);
	if (!rc)
		rc = rf_rpc_client_unary(cl, "/radfed.Control/RoundStatus",
					 msg.data, msg.len, 30000, &resp, e);
	if (!rc)
		rc = rf_pb_unpack(&radfed__round_status_reply__descriptor,
				  resp.data, resp.len, RF_RPC_MSG_MAX, out, e);
	if (!rc && ((Radfed__RoundStatusReply *)*out)->n_rounds != 1) {
		rf_pb_free(*out);
		*out = NULL;
		rc = rf_err_set(e, RF_EPROTO, "no round '%s' in the status",
				d->round);
	}
	rf_buf_release(&msg);
	rf_buf_release(&resp);
	return rc;
}

/* Exports the model after iteration k and evaluates it on the held-out
 * set; prints one row of the table. */
static enum rf_rc eval_row(struct demo *d, uint64_t k,
			   const Radfed__Iteration *it, struct rf_err *e)
{
	char model[PATH_MAX], iter[24], ident[PATH_MAX], log[PATH_MAX];
	char data[PATH_MAX];
	struct trn_eval_result r;
	double auc_sum = 0, v;
	uint64_t samples = 0;
	size_t i, nauc = 0;
	enum rf_rc rc;

	snprintf(model, sizeof model, "%s/models/iteration-%llu.h5", d->dir,
		 (unsigned long long)k);
	snprintf(iter, sizeof iter, "%llu", (unsigned long long)k);
	path_of(d, ident, sizeof ident, DEMO_RESEARCHER);
	path_of(d, log, sizeof log, "logs/export.log");
	path_of(d, data, sizeof data, "heldout/store/dataset.h5");
	rc = run(d, (char *[]){"radfed", "model", "export", "--id", ident,
			       "--round", d->round, "--iteration", iter,
			       "--out", model, NULL},
		 log, NULL, e);
	if (!rc)
		rc = trn_eval_run(data, model, 64, &r, e);
	if (rc)
		return rc;
	for (i = 0; it && i < it->n_updates; i++) {
		samples += it->updates[i]->samples;
		if (cli_metric(it->updates[i]->metrics_json, "val_auc", &v) ==
		    0) {
			auc_sum += v;
			nauc++;
		}
	}
	fprintf(d->ctx->out, "  %9llu  %5zu  %7llu  ", (unsigned long long)k,
		it ? it->n_updates : 0, (unsigned long long)samples);
	if (nauc)
		fprintf(d->ctx->out, "%13.3f", auc_sum / (double)nauc);
	else
		fprintf(d->ctx->out, "%13s", "-");
	fprintf(d->ctx->out, "  %12.3f  %12.3f  %.12s\n", r.auc, r.loss,
		it ? it->model_sha256 : "(initial)");
	fflush(d->ctx->out);
	return RF_OK;
}

/* Follows the round: after each aggregated iteration, its model's AUC on
 * the held-out set. */
static enum rf_rc follow_round(struct demo *d, struct rf_err *e)
{
	struct rf_rpc_client *cl = NULL;
	ProtobufCMessage *m = NULL;
	const Radfed__RoundInfo *ri;
	const Radfed__Iteration *it;
	char ident[PATH_MAX];
	uint64_t shown = 0, k;
	int64_t t0 = now_ms();
	size_t i;
	enum rf_rc rc;
	int st, s;

	path_of(d, ident, sizeof ident, DEMO_RESEARCHER);
	rc = node_enroll_client_at(ident, NULL, &cl, e);
	if (rc)
		return rc;
	fprintf(d->ctx->out, "  %9s  %5s  %7s  %13s  %12s  %12s  %s\n",
		"ITERATION", "SITES", "SAMPLES", "LOCAL VAL AUC",
		"HELD-OUT AUC",
		"HELD-OUT LOSS", "MODEL");
	rc = eval_row(d, 0, NULL, e);
	while (!rc) {
		if (demo_signal) {
			rc = rf_err_set(e, RF_EIO, "interrupted by signal %d",
					(int)demo_signal);
			break;
		}
		for (s = 0; s < DEMO_SITES; s++)
			if (waitpid(d->sites[s], &st, WNOHANG) ==
			    d->sites[s]) {
				untrack(d->sites[s]);
				d->sites[s] = 0;
				rc = rf_err_set(e, RF_EIO, "site '%s' stopped, "
						"see %s/logs/%s.log",
						site_names[s], d->dir,
						site_names[s]);
			}
		if (!rc && waitpid(d->agg, &st, WNOHANG) == d->agg) {
			untrack(d->agg);
			d->agg = 0;
			rc = rf_err_set(e, RF_EIO, "the aggregator stopped, "
					"see %s/logs/agg.log", d->dir);
		}
		if (!rc)
			rc = round_status(d, cl, &m, e);
		if (rc)
			break;
		ri = ((Radfed__RoundStatusReply *)m)->rounds[0];
		for (k = shown + 1; !rc && k <= ri->rounds; k++) {
			it = NULL;
			for (i = 0; i < ri->n_iterations; i++)
				if (ri->iterations[i]->round_no == k)
					it = ri->iterations[i];
			if (!it || !*it->model_sha256)
				break;
			rc = eval_row(d, k, it, e);
			shown = k;
		}
		if (!rc && strcmp(ri->state, "failed") == 0)
			rc = rf_err_set(e, RF_EIO, "round %s failed: %s",
					d->round, ri->error);
		if (!rc && strcmp(ri->state, "done") == 0 &&
		    shown >= ri->rounds) {
			rf_pb_free(m);
			m = NULL;
			break;
		}
		rf_pb_free(m);
		m = NULL;
		if (!rc && now_ms() - t0 > DEMO_ROUND_MS)
			rc = rf_err_set(e, RF_ETIMEDOUT, "round %s did not end "
					"within an hour", d->round);
		if (!rc)
			sleep_ms(1000);
	}
	rf_pb_free(m);
	rf_rpc_client_destroy(cl);
	return rc;
}

/* Stops a server child: SIGTERM, then SIGKILL after 10 s. */
static void stop_child(pid_t *pid)
{
	int64_t t0;
	int st;

	if (*pid <= 0)
		return;
	kill(*pid, SIGTERM);
	t0 = now_ms();
	while (waitpid(*pid, &st, WNOHANG) == 0) {
		if (now_ms() - t0 > 10000) {
			kill(*pid, SIGKILL);
			waitpid(*pid, &st, 0);
			break;
		}
		sleep_ms(50);
	}
	untrack(*pid);
	*pid = 0;
}

static void stop_all(struct demo *d)
{
	int i;

	for (i = 0; i < DEMO_SITES; i++)
		stop_child(&d->sites[i]);
	stop_child(&d->agg);
}

/* Copies the public half of the Ed25519 key at key_path to pub_path. */
static enum rf_rc public_key(const char *key_path, const char *pub_path,
			     struct rf_err *e)
{
	struct rf_key *k = NULL;
	enum rf_rc rc;

	rc = rf_key_load_private_pem(key_path, &k, e);
	if (!rc)
		rc = rf_key_save_public_pem(k, pub_path, e);
	rf_key_destroy(k);
	return rc;
}

/* Links every audit log into DIR/audit, verifies each against its owner's
 * key, crosschecks them and prints the report. */
static enum rf_rc audit(struct demo *d, struct rf_err *e)
{
	char logs[DEMO_SITES + 1][PATH_MAX], keys[DEMO_SITES + 1][PATH_MAX];
	char src[PATH_MAX], owner[PATH_MAX], out[PATH_MAX];
	char *argv[4 + 3 * (DEMO_SITES + 1)];
	int i, n;
	enum rf_rc rc;

	path_of(d, src, sizeof src, "audit");
	path_of(d, out, sizeof out, "audit/verify.txt");
	rc = rf_mkdirs(src, 0700, e);
	for (i = 0; !rc && i <= DEMO_SITES; i++) {
		const char *name = i ? site_names[i - 1] : "agg";

		snprintf(logs[i], sizeof logs[i], "%s/audit/%s.jsonl", d->dir,
			 name);
		snprintf(keys[i], sizeof keys[i], "%s/audit/%s.pub", d->dir,
			 name);
		snprintf(src, sizeof src, "../%s/logs/audit.jsonl", name);
		snprintf(owner, sizeof owner, "%s/%s/keys/audit.key", d->dir,
			 name);
		if (symlink(src, logs[i]) != 0 && errno != EEXIST)
			rc = rf_err_set(e, RF_EIO, "cannot link '%s': %s",
					logs[i], strerror(errno));
		if (!rc)
			rc = public_key(owner, keys[i], e);
		if (!rc)
			rc = run(d, (char *[]){"radfed", "audit", "verify",
					       logs[i], "--key", keys[i], NULL},
				 out, NULL, e);
		if (!rc)
			fprintf(d->ctx->out, "  %-24s verified: hash chain, "
				"checkpoints, signed by %s's key\n",
				strrchr(logs[i], '/') + 1, name);
	}
	if (rc)
		return rc;
	/* crosscheck: the aggregator's log first, then the sites' */
	n = 0;
	argv[n++] = "radfed";
	argv[n++] = "audit";
	argv[n++] = "crosscheck";
	for (i = 0; i <= DEMO_SITES; i++)
		argv[n++] = logs[i];
	for (i = 0; i <= DEMO_SITES; i++) {
		argv[n++] = "--key";
		argv[n++] = keys[i];
	}
	argv[n] = NULL;
	path_of(d, out, sizeof out, "audit/crosscheck.txt");
	rc = run(d, argv, out, NULL, e);
	if (rc)
		return rc;
	fprintf(d->ctx->out, "  crosscheck: every update.sent matches one "
		"update.received, every model.sent one model.received "
		"(table in %s)\n\n", out);
	fflush(d->ctx->out);
	argv[2] = "report";
	return run(d, argv, NULL, NULL, e);
}

static enum rf_rc demo_run(struct demo *d, struct rf_err *e)
{
	char agg[PATH_MAX], log[PATH_MAX], listen[40], tok[80], fp[80];
	char site[PATH_MAX], ident[PATH_MAX], spec[PATH_MAX], out[PATH_MAX];
	int i;
	enum rf_rc rc;

	step(d, "1. the data: three hospitals and a held-out test set, "
	     "synthetic");
	for (i = 0; i <= DEMO_SITES; i++) {
		rc = setup_site(d, i, e);
		if (rc)
			return rc;
	}

	step(d, "2. the consortium: an aggregator (CA, registry, audit log) "
	     "on 127.0.0.1");
	path_of(d, agg, sizeof agg, "agg");
	path_of(d, log, sizeof log, "logs/setup.log");
	rc = free_port(d->port, sizeof d->port, e);
	if (rc)
		return rc;
	snprintf(listen, sizeof listen, "127.0.0.1:%s", d->port);
	snprintf(d->target, sizeof d->target, "127.0.0.1:%s", d->port);
	rc = run(d, (char *[]){"radfed", "agg", "init", "--dir", agg,
			       "--name", "demo", "--listen", listen, NULL},
		 log, NULL, e);
	path_of(d, log, sizeof log, "logs/agg.log");
	if (!rc)
		rc = spawn((char *[]){"radfed", "agg", "serve", "--dir", agg,
				      NULL},
			   log, NULL, &d->agg, e);
	if (!rc)
		rc = wait_serving(d, log, e);
	if (rc)
		return rc;
	fprintf(d->ctx->out, "  radfed agg serve: pid %d, port %s, log %s\n",
		(int)d->agg, d->port, log);

	step(d, "3. enrollment: invitations, keys made where they live, "
	     "certificates");
	path_of(d, log, sizeof log, "logs/setup.log");
	for (i = 0; i < DEMO_SITES; i++) {
		snprintf(site, sizeof site, "%s/%s", d->dir, site_names[i]);
		rc = invite(d, site_names[i], "site", tok, fp, e);
		if (!rc)
			rc = run(d, (char *[]){"radfed", "site", "enroll",
					       "--dir", site, "--aggregator",
					       d->target, "--token", tok,
					       "--ca-fingerprint", fp, NULL},
				 log, NULL, e);
		if (!rc)
			rc = write_policy(d, i, e);
		if (rc)
			return rc;
		fprintf(d->ctx->out, "  site %-14s enrolled; policy "
			"%s/policy.yaml accepts cnn-small rounds of %s\n",
			site_names[i], site, DEMO_RESEARCHER);
	}
	for (i = 0; i < 2; i++) {
		const char *name = i ? DEMO_AUDITOR : DEMO_RESEARCHER;

		path_of(d, ident, sizeof ident, name);
		rc = invite(d, name, i ? "auditor" : "researcher", tok, fp, e);
		if (!rc)
			rc = run(d, (char *[]){"radfed", "id", "enroll",
					       "--dir", ident, "--name",
					       (char *)name, "--aggregator",
					       d->target, "--token", tok,
					       "--ca-fingerprint", fp, NULL},
				 log, NULL, e);
		if (rc)
			return rc;
		fprintf(d->ctx->out, "  %s %s enrolled in %s\n",
			i ? "auditor   " : "researcher", name, ident);
	}
	memset(tok, 0, sizeof tok);

	step(d, "4. the sites serve: each dials out to the aggregator "
	     "(radfed site serve)");
	for (i = 0; i < DEMO_SITES; i++) {
		snprintf(site, sizeof site, "%s/%s", d->dir, site_names[i]);
		snprintf(log, sizeof log, "%s/logs/%s.log", d->dir,
			 site_names[i]);
		rc = spawn((char *[]){"radfed", "site", "serve", "--dir", site,
				      NULL},
			   log, NULL, &d->sites[i], e);
		if (rc)
			return rc;
		fprintf(d->ctx->out, "  %-14s pid %d, log %s\n", site_names[i],
			(int)d->sites[i], log);
	}

	step(d, "5. the researcher starts a round: cnn-small, FedAvg, "
	     "%llu iterations of two local epochs",
	     (unsigned long long)d->rounds);
	rc = write_spec(d, spec, sizeof spec, e);
	path_of(d, ident, sizeof ident, DEMO_RESEARCHER);
	path_of(d, out, sizeof out, "logs/round-start.json");
	if (!rc)
		rc = run(d, (char *[]){"radfed", "round", "start", "--id",
				       ident, spec, "--json", NULL},
			 out, NULL, e);
	if (!rc)
		rc = json_str(out, "round", d->round, sizeof d->round, e);
	if (rc)
		return rc;
	fprintf(d->ctx->out, "  round %s (spec %s); the global model after "
		"each iteration, on the held-out set:\n", d->round, spec);
	rc = follow_round(d, e);
	if (rc)
		return rc;
	fputc('\n', d->ctx->out);
	rc = run(d, (char *[]){"radfed", "round", "status", "--id", ident,
			       d->round, NULL},
		 NULL, NULL, e);
	if (rc)
		return rc;

	step(d, "6. the auditor: every log verified with its owner's key, "
	     "then crosschecked");
	stop_all(d);
	return audit(d, e);
}

enum cli_exit cli_cmd_demo(const struct cli_cmd *cmd, int argc, char **argv,
			   struct cli_ctx *ctx)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "patients", required_argument, NULL, 'p' },
		{ "rounds", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct sigaction sa, old_int, old_term, old_hup;
	struct demo d;
	struct rf_err e = { 0 };
	enum rf_rc rc;
	int c;

	memset(&d, 0, sizeof d);
	d.ctx = ctx;
	d.dir = "radfed-demo";
	d.patients = 200;
	d.rounds = 5;
	cli_getopt_reset();
	while ((c = getopt_long(argc, argv, ":d:h", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			d.dir = optarg;
			break;
		case 'p':
			if (cli_parse_u64(optarg, 30, 5000, &d.patients))
				return cli_usage(ctx, cmd,
						 "--patients must be 30..5000");
			break;
		case 'r':
			if (cli_parse_u64(optarg, 1, 50, &d.rounds))
				return cli_usage(ctx, cmd,
						 "--rounds must be 1..50");
			break;
		case 'h':
			cli_help_command(ctx->out, cmd);
			return CLI_EXIT_OK;
		default:
			return cli_bad_option(ctx, cmd, c, argv, opts);
		}
	}
	if (optind < argc)
		return cli_usage(ctx, cmd, "unexpected argument '%s'",
				 argv[optind]);
	if (ctx->json)
		return cli_usage(ctx, cmd, "demo has no --json output");
	if (strlen(d.dir) > PATH_MAX / 4)
		return cli_usage(ctx, cmd, "--dir is too long");
	if (prepare_dir(d.dir, &e))
		return cli_fail(ctx, &e);
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	sigaction(SIGHUP, &sa, &old_hup);
	fprintf(ctx->out,
		"radfed " RADFED_VERSION " demo: a federation on this machine, "
		"in '%s'\n  on grpc %s, openssl %s, hdf5 %s, dnnl %s\n",
		d.dir, rf_version_grpc(), rf_version_openssl(),
		rf_version_hdf5(), trn_version_dnnl());
	rc = demo_run(&d, &e);
	stop_all(&d);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	sigaction(SIGHUP, &old_hup, NULL);
	if (rc) {
		fprintf(ctx->err, "radfed: demo failed; every file is in '%s' "
			"(logs/ has each process's output)\n", d.dir);
		return cli_fail(ctx, &e);
	}
	fprintf(ctx->out, "\ndemo complete: every file is in '%s'\n", d.dir);
	return CLI_EXIT_OK;
}
