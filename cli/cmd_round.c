/* cmd_round.c - `radfed round start|status|watch`: the researcher's view of
 * the federation's training rounds, over the Control service with the
 * identity folder's certificate (radfed id enroll). */
#include "cli.h"

#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "node_enroll.h"
#include "pol_spec.h"
#include "radfed.pb-c.h"
#include "rf_alloc.h"
#include "rf_config.h"
#include "rf_file.h"
#include "rf_log.h"
#include "rf_pb.h"
#include "rf_rpc.h"

#define START_PATH "/radfed.Control/StartRound"
#define STATUS_PATH "/radfed.Control/RoundStatus"
#define WATCH_PATH "/radfed.Control/WatchRound"
/* Deadline of the unary Control calls. */
#define CALL_MS 30000
/* Largest status reply read (many rounds of many sites). */
#define REPLY_MAX RF_RPC_MSG_MAX
/* Largest PEM file read from an identity folder. */
/* How long `round watch` keeps reconnecting to an unreachable aggregator. */
#define WATCH_RETRY_MS 120000

int cli_metric(const char *json, const char *key, double *out)
{
	char pat[64];
	const char *p;
	char *end;
	double v;

	if (!json || snprintf(pat, sizeof pat, "\"%s\"", key) >=
			     (int)sizeof pat)
		return -1;
	p = strstr(json, pat);
	if (!p)
		return -1;
	p += strlen(pat);
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p++ != ':')
		return -1;
	while (*p == ' ' || *p == '\t')
		p++;
	if ((*p < '0' || *p > '9') && *p != '-')
		return -1; /* null, or not a number */
	v = strtod(p, &end);
	if (end == p)
		return -1;
	*out = v;
	return 0;
}

/* ---- output ------------------------------------------------------------- */

static void iso_time(int64_t t, char *buf, size_t n)
{
	struct timespec ts = { (time_t)t, 0 };

	if (t <= 0) {
		snprintf(buf, n, "-");
		return;
	}
	rf_log_format_time(&ts, buf, n);
}

static void json_metric(FILE *f, const char *name, const char *json)
{
	double v;

	fprintf(f, ", \"%s\": ", name);
	if (cli_metric(json, name, &v) == 0)
		fprintf(f, "%.17g", v);
	else
		fputs("null", f);
}

static void json_round(FILE *f, const Radfed__RoundInfo *r)
{
	size_t i, j;

	fputs("{\"round\": ", f);
	cli_json_string(f, r->round);
	fputs(", \"name\": ", f);
	cli_json_string(f, r->name);
	fputs(", \"state\": ", f);
	cli_json_string(f, r->state);
	fprintf(f, ", \"round_no\": %llu, \"rounds\": %llu, "
		"\"min_sites\": %llu, \"spec_sha256\": ",
		(unsigned long long)r->round_no,
		(unsigned long long)r->rounds,
		(unsigned long long)r->min_sites);
	cli_json_string(f, r->spec_sha256);
	fputs(", \"researcher\": ", f);
	cli_json_string(f, r->researcher);
	fprintf(f, ", \"created_at\": %lld, \"updated_at\": %lld, "
		"\"deadline\": %lld, \"model_sha256\": ",
		(long long)r->created_at, (long long)r->updated_at,
		(long long)r->deadline);
	cli_json_string(f, r->model_sha256);
	fputs(", \"error\": ", f);
	cli_json_string(f, r->error);
	fputs(", \"sites\": [", f);
	for (i = 0; i < r->n_sites; i++) {
		fputs(i ? ", {\"site\": " : "{\"site\": ", f);
		cli_json_string(f, r->sites[i]->site);
		fputs(", \"state\": ", f);
		cli_json_string(f, r->sites[i]->state);
		fputs(", \"policy_sha256\": ", f);
		cli_json_string(f, r->sites[i]->policy_sha256);
		fputc('}', f);
	}
	fputs("], \"iterations\": [", f);
	for (i = 0; i < r->n_iterations; i++) {
		const Radfed__Iteration *it = r->iterations[i];

		fprintf(f, "%s{\"round_no\": %llu, \"model_sha256\": ",
			i ? ", " : "", (unsigned long long)it->round_no);
		cli_json_string(f, it->model_sha256);
		fprintf(f, ", \"aggregated_at\": %lld, \"updates\": [",
			(long long)it->aggregated_at);
		for (j = 0; j < it->n_updates; j++) {
			const Radfed__SiteUpdate *u = it->updates[j];

			fputs(j ? ", {\"site\": " : "{\"site\": ", f);
			cli_json_string(f, u->site);
			fprintf(f, ", \"samples\": %llu, \"bytes\": %llu, "
				"\"sha256\": ",
				(unsigned long long)u->samples,
				(unsigned long long)u->bytes);
			cli_json_string(f, u->sha256);
			json_metric(f, "val_auc", u->metrics_json);
			json_metric(f, "val_loss", u->metrics_json);
			fputs(", \"metrics_json\": ", f);
			cli_json_string(f, u->metrics_json);
			fputc('}', f);
		}
		fputs("]}", f);
	}
	fputs("]}", f);
}

static void text_metric(FILE *f, const char *name, const char *json)
{
	double v;

	if (cli_metric(json, name, &v) == 0)
		fprintf(f, " %8.4f", v);
	else
		fprintf(f, " %8s", "-");
}

static void text_round(FILE *f, const Radfed__RoundInfo *r)
{
	char t[40];
	size_t i, j;

	fprintf(f, "round %s  '%s'  %s  iteration %llu/%llu\n", r->round,
		r->name, r->state, (unsigned long long)r->round_no,
		(unsigned long long)r->rounds);
	fprintf(f, "  researcher %s, min-sites %llu, spec %s\n",
		r->researcher, (unsigned long long)r->min_sites,
		r->spec_sha256);
	iso_time(r->created_at, t, sizeof t);
	fprintf(f, "  created %s", t);
	iso_time(r->updated_at, t, sizeof t);
	fprintf(f, ", updated %s", t);
	if (r->deadline > 0 && strcmp(r->state, "running") == 0) {
		iso_time(r->deadline, t, sizeof t);
		fprintf(f, ", iteration deadline %s", t);
	}
	fputc('\n', f);
	if (*r->model_sha256)
		fprintf(f, "  latest model %s\n", r->model_sha256);
	if (*r->error)
		fprintf(f, "  error: %s\n", r->error);
	if (r->n_sites)
		fprintf(f, "  %-24s %-10s %s\n", "SITE", "STATE",
			"POLICY SHA-256");
	for (i = 0; i < r->n_sites; i++)
		fprintf(f, "  %-24s %-10s %s\n", r->sites[i]->site,
			r->sites[i]->state,
			*r->sites[i]->policy_sha256 ? r->sites[i]->policy_sha256
						    : "-");
	for (i = 0; i < r->n_iterations; i++) {
		const Radfed__Iteration *it = r->iterations[i];

		fprintf(f, "  iteration %llu: %zu update%s, model %s\n",
			(unsigned long long)it->round_no, it->n_updates,
			it->n_updates == 1 ? "" : "s",
			*it->model_sha256 ? it->model_sha256
					  : "(not aggregated yet)");
		if (it->n_updates)
			fprintf(f, "    %-24s %8s %8s %8s %10s\n", "SITE",
				"SAMPLES", "VAL_AUC", "VAL_LOSS", "BYTES");
		for (j = 0; j < it->n_updates; j++) {
			const Radfed__SiteUpdate *u = it->updates[j];

			fprintf(f, "    %-24s %8llu", u->site,
				(unsigned long long)u->samples);
			text_metric(f, "val_auc", u->metrics_json);
			text_metric(f, "val_loss", u->metrics_json);
			fprintf(f, " %10llu\n", (unsigned long long)u->bytes);
		}
	}
}

/* ---- option parsing shared by the three commands ------------------------ */

struct round_opts {
	const char *dir;
	const char *aggregator;
};

/* Parses --id, --aggregator, --json, --help; leaves optind on the
 * operands. Returns -1 to go on, else the exit status. */
static int parse_common(const struct cli_cmd *cmd, int argc, char **argv,
			struct cli_ctx *ctx, struct round_opts *o)
{
	static const struct option opts[] = {
		{ "id", required_argument, NULL, 'i' },
		{ "aggregator", required_argument, NULL, 'a' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	memset(o, 0, sizeof *o);
	cli_getopt_reset();
	while ((c = getopt_long(argc, argv, ":i:a:h", opts, NULL)) != -1) {
		switch (c) {
		case 'i':
			o->dir = optarg;
			break;
		case 'a':
			o->aggregator = optarg;
			break;
		case 'j':
			break;
		case 'h':
			cli_help_command(ctx->out, cmd);
			return CLI_EXIT_OK;
		default:
			return cli_bad_option(ctx, cmd, c, argv, opts);
		}
	}
	if (!o->dir)
		return cli_usage(ctx, cmd, "--id DIR is required");
	return -1;
}

/* A round id on the command line: the registry's decimal id. */
static int round_id_ok(const char *s)
{
	uint64_t v;

	return cli_parse_u64(s, 1, INT64_MAX, &v) == 0;
}

/* ---- round start -------------------------------------------------------- */

enum cli_exit cli_cmd_round_start(const struct cli_cmd *cmd, int argc,
				  char **argv, struct cli_ctx *ctx)
{
	Radfed__StartRoundRequest req = RADFED__START_ROUND_REQUEST__INIT;
	struct rf_buf text = RF_BUF_INIT(RF_CFG_MAX_BYTES);
	struct rf_buf msg = RF_BUF_INIT(RF_RPC_MSG_MAX);
	struct rf_buf resp = RF_BUF_INIT(REPLY_MAX);
	struct rf_buf canon = RF_BUF_INIT(RF_CFG_MAX_BYTES);
	struct rf_rpc_client *cl = NULL;
	struct pol_spec *spec = NULL;
	ProtobufCMessage *m = NULL;
	const Radfed__RoundInfo *ri;
	struct round_opts o;
	uint8_t digest[RF_SHA256_LEN];
	char hex[2 * RF_SHA256_LEN + 1];
	struct rf_err e = { 0 };
	enum cli_exit x = CLI_EXIT_OK;
	int r;

	r = parse_common(cmd, argc, argv, ctx, &o);
	if (r >= 0)
		return (enum cli_exit)r;
	if (argc - optind != 1)
		return cli_usage(ctx, cmd, "give exactly one SPEC.yaml");
	/* checked here first, for the error messages with line and column;
	 * the aggregator checks it again */
	if (rf_file_read(argv[optind], &text, &e) ||
	    pol_spec_parse(&spec, argv[optind], (const char *)text.data,
			   text.len, &e) ||
	    pol_spec_canonical(spec, &canon, &e) ||
	    pol_spec_hash(spec, digest, hex, &e) ||
	    rf_buf_putc(&text, '\0', &e))
		goto fail;
	req.spec_yaml = (char *)text.data;
	if (rf_pb_pack(&req.base, &msg, &e) ||
	    node_enroll_client_at(o.dir, o.aggregator, &cl, &e) ||
	    rf_rpc_client_unary(cl, START_PATH, msg.data, msg.len, CALL_MS,
				&resp, &e) ||
	    rf_pb_unpack(&radfed__round_info__descriptor, resp.data, resp.len,
			 REPLY_MAX, &m, &e))
		goto fail;
	ri = (const Radfed__RoundInfo *)m;
	if (strcmp(ri->spec_sha256, hex) != 0) {
		rf_err_set(&e, RF_EINTEGRITY,
			   "the aggregator recorded spec '%s', not '%s'",
			   ri->spec_sha256, hex);
		goto fail;
	}
	if (ctx->json) {
		fputs("{\"round\": ", ctx->out);
		cli_json_string(ctx->out, ri->round);
		fprintf(ctx->out, ", \"spec_sha256\": \"%s\", \"spec\": %s, "
			"\"info\": ", hex, rf_buf_str(&canon));
		json_round(ctx->out, ri);
		fputs("}\n", ctx->out);
	} else {
		fprintf(ctx->out,
			"round %s started: '%s', %llu iteration%s of %s, "
			"at least %llu site%s\n"
			"  spec sha256 %s\n  accepted as %s\n",
			ri->round, ri->name, (unsigned long long)ri->rounds,
			ri->rounds == 1 ? "" : "s", spec->model,
			(unsigned long long)ri->min_sites,
			ri->min_sites == 1 ? "" : "s", hex,
			rf_buf_str(&canon));
		fprintf(ctx->out, "follow it with: radfed round watch --id "
			"%s %s\n", o.dir, ri->round);
	}
	goto out;
fail:
	x = cli_fail(ctx, &e);
out:
	rf_pb_free(m);
	rf_rpc_client_destroy(cl);
	pol_spec_destroy(spec);
	rf_buf_release(&text);
	rf_buf_release(&msg);
	rf_buf_release(&resp);
	rf_buf_release(&canon);
	return x;
}

/* ---- round status ------------------------------------------------------- */

enum cli_exit cli_cmd_round_status(const struct cli_cmd *cmd, int argc,
				   char **argv, struct cli_ctx *ctx)
{
	Radfed__RoundStatusRequest req = RADFED__ROUND_STATUS_REQUEST__INIT;
	struct rf_buf msg = RF_BUF_INIT(RF_RPC_MSG_MAX);
	struct rf_buf resp = RF_BUF_INIT(REPLY_MAX);
	struct rf_rpc_client *cl = NULL;
	ProtobufCMessage *m = NULL;
	const Radfed__RoundStatusReply *rep;
	struct round_opts o;
	struct rf_err e = { 0 };
	enum cli_exit x = CLI_EXIT_OK;
	size_t i;
	int r;

	r = parse_common(cmd, argc, argv, ctx, &o);
	if (r >= 0)
		return (enum cli_exit)r;
	if (argc - optind > 1)
		return cli_usage(ctx, cmd, "unexpected argument '%s'",
				 argv[optind + 1]);
	req.round = (char *)"";
	if (optind < argc) {
		if (!round_id_ok(argv[optind]))
			return cli_usage(ctx, cmd,
					 "'%s' is not a round id (a number "
					 "from round start)",
					 argv[optind]);
		req.round = argv[optind];
	}
	if (rf_pb_pack(&req.base, &msg, &e) ||
	    node_enroll_client_at(o.dir, o.aggregator, &cl, &e) ||
	    rf_rpc_client_unary(cl, STATUS_PATH, msg.data, msg.len, CALL_MS,
				&resp, &e) ||
	    rf_pb_unpack(&radfed__round_status_reply__descriptor, resp.data,
			 resp.len, REPLY_MAX, &m, &e)) {
		x = cli_fail(ctx, &e);
		goto out;
	}
	rep = (const Radfed__RoundStatusReply *)m;
	if (ctx->json) {
		fputs("{\"rounds\": [", ctx->out);
		for (i = 0; i < rep->n_rounds; i++) {
			if (i)
				fputs(", ", ctx->out);
			json_round(ctx->out, rep->rounds[i]);
		}
		fputs("]}\n", ctx->out);
	} else if (!rep->n_rounds) {
		fputs("no round yet (radfed round start)\n", ctx->out);
	} else {
		for (i = 0; i < rep->n_rounds; i++) {
			if (i)
				fputc('\n', ctx->out);
			text_round(ctx->out, rep->rounds[i]);
		}
	}
out:
	rf_pb_free(m);
	rf_rpc_client_destroy(cl);
	rf_buf_release(&msg);
	rf_buf_release(&resp);
	return x;
}

/* ---- round watch -------------------------------------------------------- */

struct watch {
	struct cli_ctx *ctx;
	const char *id;
	ProtobufCMessage *prev; /* the last reply, for the differences */
	int ended;              /* 1 done, 2 failed */
	int64_t got_ms;         /* when the last reply came */
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const Radfed__RoundInfo *find_round(const ProtobufCMessage *m,
					   const char *id)
{
	const Radfed__RoundStatusReply *r =
		(const Radfed__RoundStatusReply *)m;
	size_t i;

	for (i = 0; m && i < r->n_rounds; i++)
		if (strcmp(r->rounds[i]->round, id) == 0)
			return r->rounds[i];
	return NULL;
}

static const Radfed__SiteState *find_site(const Radfed__RoundInfo *r,
					  const char *site)
{
	size_t i;

	for (i = 0; r && i < r->n_sites; i++)
		if (strcmp(r->sites[i]->site, site) == 0)
			return r->sites[i];
	return NULL;
}

static const Radfed__Iteration *find_iter(const Radfed__RoundInfo *r,
					  uint64_t no)
{
	size_t i;

	for (i = 0; r && i < r->n_iterations; i++)
		if (r->iterations[i]->round_no == no)
			return r->iterations[i];
	return NULL;
}

static int has_update(const Radfed__Iteration *it, const char *site)
{
	size_t i;

	for (i = 0; it && i < it->n_updates; i++)
		if (strcmp(it->updates[i]->site, site) == 0)
			return 1;
	return 0;
}

static void stamp(FILE *f)
{
	struct timespec ts;
	char t[40];

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec = 0;
	rf_log_format_time(&ts, t, sizeof t);
	fprintf(f, "%s ", t);
}

/* Prints one line per difference between the previous reply and cur. */
static void watch_diff(struct watch *w, const Radfed__RoundInfo *old,
		       const Radfed__RoundInfo *cur)
{
	FILE *f = w->ctx->out;
	const Radfed__SiteState *ps;
	const Radfed__Iteration *it, *pit;
	size_t i, j;
	double auc, loss;

	if (!old || strcmp(old->state, cur->state) != 0 ||
	    old->round_no != cur->round_no) {
		stamp(f);
		fprintf(f, "round %s %s, iteration %llu/%llu\n", cur->round,
			cur->state, (unsigned long long)cur->round_no,
			(unsigned long long)cur->rounds);
	}
	for (i = 0; i < cur->n_sites; i++) {
		ps = find_site(old, cur->sites[i]->site);
		if (ps && strcmp(ps->state, cur->sites[i]->state) == 0)
			continue;
		stamp(f);
		fprintf(f, "  site %s %s\n", cur->sites[i]->site,
			cur->sites[i]->state);
	}
	for (i = 0; i < cur->n_iterations; i++) {
		it = cur->iterations[i];
		pit = find_iter(old, it->round_no);
		for (j = 0; j < it->n_updates; j++) {
			const Radfed__SiteUpdate *u = it->updates[j];

			if (has_update(pit, u->site))
				continue;
			stamp(f);
			fprintf(f, "  iteration %llu: update from %s, %llu "
				"samples",
				(unsigned long long)it->round_no, u->site,
				(unsigned long long)u->samples);
			if (cli_metric(u->metrics_json, "val_auc", &auc) == 0)
				fprintf(f, ", val auc %.4f", auc);
			if (cli_metric(u->metrics_json, "val_loss", &loss) ==
			    0)
				fprintf(f, ", val loss %.4f", loss);
			fputc('\n', f);
		}
		if (*it->model_sha256 && (!pit || !*pit->model_sha256)) {
			stamp(f);
			fprintf(f, "  iteration %llu aggregated from %zu "
				"site%s: model %s\n",
				(unsigned long long)it->round_no, it->n_updates,
				it->n_updates == 1 ? "" : "s",
				it->model_sha256);
		}
	}
	if (*cur->error && (!old || strcmp(old->error, cur->error) != 0)) {
		stamp(f);
		fprintf(f, "  error: %s\n", cur->error);
	}
	fflush(f);
}

static enum rf_rc on_watch(const uint8_t *p, size_t n, void *ctx,
			   struct rf_err *e)
{
	struct watch *w = ctx;
	ProtobufCMessage *m = NULL;
	const Radfed__RoundInfo *cur;
	enum rf_rc rc;

	rc = rf_pb_unpack(&radfed__round_status_reply__descriptor, p, n,
			  REPLY_MAX, &m, e);
	if (rc)
		return rc;
	w->got_ms = now_ms();
	cur = find_round(m, w->id);
	if (!cur) {
		rf_pb_free(m);
		return rf_err_set(e, RF_ENOTFOUND, "no round '%s'", w->id);
	}
	if (w->ctx->json) {
		json_round(w->ctx->out, cur);
		fputc('\n', w->ctx->out);
		fflush(w->ctx->out);
	} else {
		watch_diff(w, find_round(w->prev, w->id), cur);
	}
	if (strcmp(cur->state, "done") == 0)
		w->ended = 1;
	else if (strcmp(cur->state, "failed") == 0)
		w->ended = 2;
	rf_pb_free(w->prev);
	w->prev = m;
	return RF_OK;
}

enum cli_exit cli_cmd_round_watch(const struct cli_cmd *cmd, int argc,
				  char **argv, struct cli_ctx *ctx)
{
	Radfed__RoundStatusRequest req = RADFED__ROUND_STATUS_REQUEST__INIT;
	struct rf_buf msg = RF_BUF_INIT(RF_RPC_MSG_MAX);
	struct rf_rpc_client *cl = NULL;
	struct watch w;
	struct round_opts o;
	struct rf_err e = { 0 };
	enum cli_exit x = CLI_EXIT_OK;
	enum rf_rc rc;
	int64_t last_ok;
	int r;

	r = parse_common(cmd, argc, argv, ctx, &o);
	if (r >= 0)
		return (enum cli_exit)r;
	if (argc - optind != 1)
		return cli_usage(ctx, cmd, "give exactly one ROUND id");
	if (!round_id_ok(argv[optind]))
		return cli_usage(ctx, cmd,
				 "'%s' is not a round id (a number from "
				 "round start)",
				 argv[optind]);
	memset(&w, 0, sizeof w);
	w.ctx = ctx;
	w.id = argv[optind];
	req.round = argv[optind];
	if (rf_pb_pack(&req.base, &msg, &e) ||
	    node_enroll_client_at(o.dir, o.aggregator, &cl, &e)) {
		x = cli_fail(ctx, &e);
		goto out;
	}
	/* the stream ends with the round; an aggregator that restarts ends
	 * it early: reconnect until the round ends or the aggregator stays
	 * away WATCH_RETRY_MS */
	last_ok = now_ms();
	for (;;) {
		struct timespec ts = { 1, 0 };

		rc = rf_rpc_client_server_stream(cl, WATCH_PATH, msg.data,
						 msg.len, 0, on_watch, &w, &e);
		if (w.ended)
			break;
		if (rc != RF_OK && rc != RF_EIO && rc != RF_ETIMEDOUT) {
			x = cli_fail(ctx, &e);
			goto out;
		}
		if (w.got_ms > last_ok)
			last_ok = w.got_ms;
		if (now_ms() - last_ok > WATCH_RETRY_MS) {
			if (!rc)
				rf_err_set(&e, RF_EIO, "the aggregator ended "
					   "the watch of round '%s' before "
					   "the round ended", w.id);
			x = cli_fail(ctx, &e);
			goto out;
		}
		nanosleep(&ts, NULL);
	}
	x = w.ended == 1 ? CLI_EXIT_OK : CLI_EXIT_FAILED;
out:
	rf_pb_free(w.prev);
	rf_rpc_client_destroy(cl);
	rf_buf_release(&msg);
	return x;
}
