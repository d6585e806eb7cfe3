/* cmd_audit.c - `radfed audit ...`: the regulator's and auditor's commands
 * on the hash-chained audit logs (docs/cli.md, docs/federation.md "Audit
 * events"). */
#include "cli.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "rf_alloc.h"
#include "rf_audit.h"
#include "rf_audit_events.h"
#include "rf_audit_fed.h"
#include "rf_crypto.h"

#define KEYS_MAX 64  /* --key options */
#define EVENTS_MAX 64 /* event names counted apart by audit verify */
#define SHOW_HEX 16

/* ---- options shared by the three commands ------------------------------ */

struct keys {
	struct rf_key *k[KEYS_MAX];
	size_t n;
};

static void keys_release(struct keys *ks)
{
	for (size_t i = 0; i < ks->n; i++)
		rf_key_destroy(ks->k[i]);
	ks->n = 0;
}

/* Loads the Ed25519 public key in the PEM file path into ks. */
static enum rf_rc keys_add(struct keys *ks, const char *path,
			   struct rf_err *e)
{
	struct rf_key *k = NULL;
	enum rf_rc rc;

	if (ks->n >= KEYS_MAX)
		return rf_err_set(e, RF_ETOOBIG, "more than %d --key options",
				  KEYS_MAX);
	rc = rf_key_load_public_pem(path, &k, e);
	if (rc)
		return rf_err_prefix(e, "cannot load the key '%s'", path);
	if (rf_key_type(k) != RF_KEY_ED25519) {
		rf_key_destroy(k);
		return rf_err_set(e, RF_EINVAL,
				  "'%s' is not an ed25519 public key", path);
	}
	ks->k[ks->n++] = k;
	return RF_OK;
}

/* Parses [--key PUB.pem]... [--json] [-h]. Returns -1 to go on, or the exit
 * status (help shown, usage error, key not loaded). */
static int parse(const struct cli_cmd *cmd, int argc, char **argv,
		 struct cli_ctx *ctx, struct keys *ks, bool many_keys)
{
	static const struct option opts[] = {
		{ "key", required_argument, NULL, 'k' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct rf_err e = { 0 };
	int c;

	cli_getopt_reset();
	while ((c = getopt_long(argc, argv, ":k:h", opts, NULL)) != -1) {
		switch (c) {
		case 'k':
			if (!many_keys && ks->n)
				return cli_usage(ctx, cmd,
						 "--key is given twice");
			if (keys_add(ks, optarg, &e))
				return cli_fail(ctx, &e);
			break;
		case 'j':
			break; /* ctx->json is already set */
		case 'h':
			cli_help_command(ctx->out, cmd);
			return CLI_EXIT_OK;
		default:
			return cli_bad_option(ctx, cmd, c, argv, opts);
		}
	}
	return -1;
}

static void hex_of(const uint8_t *p, size_t n, char *out, size_t size)
{
	struct rf_err e = { 0 };

	if (rf_hex_encode(p, n, out, size, &e))
		out[0] = '\0';
}

/* "the checkpoints' key" phrase of the text output, and its JSON value. */
static void key_text(FILE *f, const struct rf_audit_report *r, bool trusted)
{
	char hex[2 * RF_ED25519_LEN + 1];

	if (!r->has_key) {
		fputs("none: no checkpoint, nothing signed; the chain alone "
		      "vouches for the log",
		      f);
		return;
	}
	hex_of(r->key, sizeof r->key, hex, sizeof hex);
	fprintf(f, "%s (%s)", hex,
		trusted ? "one of the --key keys: authentic"
			: "embedded in the checkpoints only: integrity, "
			  "not authenticity");
}

static void key_json(FILE *f, const struct rf_audit_report *r)
{
	char hex[2 * RF_ED25519_LEN + 1];

	if (!r->has_key) {
		fputs("null", f);
		return;
	}
	hex_of(r->key, sizeof r->key, hex, sizeof hex);
	cli_json_string(f, hex);
}

/* A log that does not verify: the first bad line and why, exit 5. */
static enum cli_exit integrity_fail(struct cli_ctx *ctx, const char *path,
				    const struct rf_audit_report *r,
				    const struct rf_err *e)
{
	if (!ctx->json)
		return cli_fail(ctx, e);
	fputs("{\"ok\": false, \"log\": ", ctx->out);
	cli_json_string(ctx->out, path);
	fprintf(ctx->out, ", \"bad_line\": %" PRIu64 ", \"reason\": ",
		r->bad_line);
	cli_json_string(ctx->out, r->reason);
	fputs(", \"error\": {\"code\": ", ctx->out);
	cli_json_string(ctx->out, rf_rc_name(e->rc));
	fputs(", \"message\": ", ctx->out);
	cli_json_string(ctx->out, rf_err_msg(e));
	fputs("}}\n", ctx->out);
	return CLI_EXIT_INTEGRITY;
}

/* ---- audit verify -------------------------------------------------------- */

struct ev_count {
	char name[EVENTS_MAX][RF_AUDIT_NAME_MAX + 1];
	uint64_t n[EVENTS_MAX];
	size_t used;
	uint64_t other; /* events past EVENTS_MAX distinct names */
	char actor[RF_AUDIT_NAME_MAX + 1];
};

static enum rf_rc count_event(const struct rf_audit_entry *ent, void *ctx,
			      struct rf_err *e)
{
	struct ev_count *c = ctx;
	size_t i;

	(void)e;
	if (!c->actor[0])
		memcpy(c->actor, ent->actor, sizeof c->actor);
	if (!strcmp(ent->event, "checkpoint"))
		return RF_OK;
	for (i = 0; i < c->used; i++)
		if (!strcmp(c->name[i], ent->event))
			break;
	if (i == c->used) {
		if (c->used == EVENTS_MAX) {
			c->other++;
			return RF_OK;
		}
		memcpy(c->name[c->used++], ent->event, sizeof c->name[0]);
	}
	c->n[i]++;
	return RF_OK;
}

enum cli_exit cli_cmd_audit_verify(const struct cli_cmd *cmd, int argc,
				   char **argv, struct cli_ctx *ctx)
{
	struct keys ks = { { NULL }, 0 };
	struct rf_audit_report r;
	struct ev_count *cnt = NULL;
	struct rf_err e = { 0 };
	const char *path;
	enum cli_exit ex;
	enum rf_rc rc;
	int p;

	p = parse(cmd, argc, argv, ctx, &ks, false);
	if (p >= 0) {
		ex = (enum cli_exit)p;
		goto out;
	}
	if (argc - optind != 1) {
		ex = cli_usage(ctx, cmd, argc - optind ? "expected one LOG"
							: "no LOG given");
		goto out;
	}
	path = argv[optind];
	cnt = rf_calloc(1, sizeof *cnt);
	if (!cnt) {
		rf_err_set(&e, RF_ENOMEM, "out of memory");
		ex = cli_fail(ctx, &e);
		goto out;
	}
	rc = rf_audit_iterate(path, (const struct rf_key *const *)ks.k, ks.n,
			      count_event, cnt, &r, &e);
	if (rc == RF_EINTEGRITY) {
		ex = integrity_fail(ctx, path, &r, &e);
		goto out;
	}
	if (rc) {
		ex = cli_fail(ctx, &e);
		goto out;
	}
	if (ctx->json) {
		fputs("{\"ok\": true, \"log\": ", ctx->out);
		cli_json_string(ctx->out, path);
		fputs(", \"actor\": ", ctx->out);
		cli_json_string(ctx->out, cnt->actor);
		fprintf(ctx->out,
			", \"lines\": %" PRIu64 ", \"events\": %" PRIu64
			", \"checkpoints\": %" PRIu64
			", \"unsigned_tail\": %" PRIu64 ", \"key\": ",
			r.lines, r.events, r.checkpoints, r.unsigned_tail);
		key_json(ctx->out, &r);
		fprintf(ctx->out, ", \"authentic\": %s, \"by_event\": {",
			r.has_key && ks.n ? "true" : "false");
		for (size_t i = 0; i < cnt->used; i++) {
			fputs(i ? ", " : "", ctx->out);
			cli_json_string(ctx->out, cnt->name[i]);
			fprintf(ctx->out, ": %" PRIu64, cnt->n[i]);
		}
		fputs("}}\n", ctx->out);
	} else {
		fprintf(ctx->out, "audit log '%s'\n", path);
		fprintf(ctx->out, "  actor          %s\n",
			cnt->actor[0] ? cnt->actor : "-");
		fprintf(ctx->out, "  events         %" PRIu64 "\n", r.events);
		for (size_t i = 0; i < cnt->used; i++)
			fprintf(ctx->out, "    %-24s %" PRIu64 "\n",
				cnt->name[i], cnt->n[i]);
		if (cnt->other)
			fprintf(ctx->out, "    %-24s %" PRIu64 "\n",
				"(other names)", cnt->other);
		fprintf(ctx->out, "  checkpoints    %" PRIu64 "\n",
			r.checkpoints);
		fprintf(ctx->out,
			"  unsigned tail  %" PRIu64 " line%s%s\n",
			r.unsigned_tail, r.unsigned_tail == 1 ? "" : "s",
			r.unsigned_tail && r.checkpoints
				? " after the last checkpoint: chained, "
				  "not yet signed"
				: "");
		fputs("  key            ", ctx->out);
		key_text(ctx->out, &r, ks.n > 0);
		fputs("\nOK\n", ctx->out);
	}
	ex = CLI_EXIT_OK;
out:
	rf_free(cnt);
	keys_release(&ks);
	return ex;
}

/* ---- loading a set of logs (crosscheck, report) -------------------------- */

static void log_json(FILE *f, const struct rf_audit_fed_log *l)
{
	fputs("{\"path\": ", f);
	cli_json_string(f, l->path);
	fputs(", \"actor\": ", f);
	cli_json_string(f, l->actor);
	fputs(", \"role\": ", f);
	cli_json_string(f, !l->actor[0] ? "none"
			   : l->is_agg ? "aggregator"
				       : "site");
	fprintf(f,
		", \"events\": %" PRIu64 ", \"checkpoints\": %" PRIu64
		", \"unsigned_tail\": %" PRIu64 ", \"key\": ",
		l->report.events, l->report.checkpoints,
		l->report.unsigned_tail);
	key_json(f, &l->report);
	fputs("}", f);
}

static void logs_text(FILE *f, const struct rf_audit_fed *fed, bool trusted)
{
	const struct rf_audit_fed_log *l;
	size_t n;

	l = rf_audit_fed_logs(fed, &n);
	fputs("logs (all verified):\n", f);
	for (size_t i = 0; i < n; i++) {
		fprintf(f,
			"  %s: %s, %" PRIu64 " events, %" PRIu64
			" checkpoints, %" PRIu64 " unsigned\n    key ",
			l[i].path, l[i].actor[0] ? l[i].actor : "(empty)",
			l[i].report.events, l[i].report.checkpoints,
			l[i].report.unsigned_tail);
		key_text(f, &l[i].report, trusted);
		fputc('\n', f);
	}
}

/* Verifies and reads every log of argv[first..argc). Returns -1 when all
 * were added, or the exit status after reporting the failure. */
static int load_logs(struct rf_audit_fed *fed, int first, int argc,
		     char **argv, const struct keys *ks, struct cli_ctx *ctx)
{
	struct rf_audit_report r;
	struct rf_err e = { 0 };
	enum rf_rc rc;

	for (int i = first; i < argc; i++) {
		rc = rf_audit_fed_add_log(fed, argv[i],
					  (const struct rf_key *const *)ks->k,
					  ks->n, &r, &e);
		if (rc == RF_EINTEGRITY)
			return integrity_fail(ctx, argv[i], &r, &e);
		if (rc)
			return cli_fail(ctx, &e);
	}
	return -1;
}

/* ---- audit crosscheck ---------------------------------------------------- */

struct mm_out {
	struct cli_ctx *ctx;
	size_t n;
};

static void on_mismatch(const char *msg, void *arg)
{
	struct mm_out *o = arg;

	if (o->ctx->json) {
		fputs(o->n ? ", " : "", o->ctx->out);
		cli_json_string(o->ctx->out, msg);
	} else {
		fprintf(o->ctx->out, "  %s\n", msg);
	}
	o->n++;
}

static const char *type_name(const struct rf_audit_xfer *x)
{
	return x->type == RF_AUDIT_XFER_UPDATE ? "update" : "model";
}

static void xfer_json(FILE *f, const struct rf_audit_xfer *x,
		      const struct rf_audit_fed_log *logs)
{
	fputs("{\"round\": ", f);
	cli_json_string(f, x->round);
	fprintf(f, ", \"round_no\": %" PRIu64 ", \"site\": ", x->round_no);
	cli_json_string(f, x->site);
	fprintf(f, ", \"type\": \"%s\", \"recorded_by\": \"%s\", \"log\": ",
		type_name(x), x->by_agg ? "aggregator" : "site");
	cli_json_string(f, logs[x->log].path);
	fprintf(f, ", \"line\": %" PRIu64 ", \"sha256\": \"%s\""
		", \"bytes\": %" PRIu64,
		x->line, x->sha256, x->bytes);
	if (x->type == RF_AUDIT_XFER_UPDATE)
		fprintf(f, ", \"samples\": %" PRIu64 ", \"kind\": \"%s\"",
			x->samples, x->kind);
	fprintf(f, ", \"matched\": %s}", x->matched ? "true" : "false");
}

static void xfers_text(FILE *f, const struct rf_audit_xfer *x, size_t n)
{
	const struct rf_audit_xfer *prev = NULL;

	for (size_t i = 0; i < n; i++) {
		/* a matched pair is shown once, by the aggregator's record */
		if (x[i].matched && !x[i].by_agg)
			continue;
		if (!prev || strcmp(prev->round, x[i].round) ||
		    prev->round_no != x[i].round_no) {
			fprintf(f,
				"\nround %s/%" PRIu64 "\n"
				"  %-20s %-8s %-6s %12s  %-*s  %s\n",
				x[i].round, x[i].round_no, "site",
				"transfer", "kind", "bytes", SHOW_HEX + 2,
				"sha256", "status");
		}
		prev = &x[i];
		fprintf(f, "  %-20s %-8s %-6s %12" PRIu64 "  %.*s..  %s\n",
			x[i].site, type_name(&x[i]),
			x[i].kind[0] ? x[i].kind : "-", x[i].bytes, SHOW_HEX,
			x[i].sha256,
			x[i].matched ? "matched"
			: x[i].by_agg ? "MISMATCH (aggregator's record)"
				      : "MISMATCH (site's record)");
	}
}

enum cli_exit cli_cmd_audit_crosscheck(const struct cli_cmd *cmd, int argc,
				       char **argv, struct cli_ctx *ctx)
{
	struct keys ks = { { NULL }, 0 };
	struct rf_audit_fed *fed = NULL;
	const struct rf_audit_fed_log *logs;
	const struct rf_audit_xfer *x;
	struct mm_out mo = { ctx, 0 };
	struct rf_err e = { 0 };
	size_t nlogs, nx, nbad;
	enum cli_exit ex;
	int p;

	p = parse(cmd, argc, argv, ctx, &ks, true);
	if (p >= 0) {
		ex = (enum cli_exit)p;
		goto out;
	}
	if (argc - optind < 2) {
		ex = cli_usage(ctx, cmd, "expected AGG_LOG and at least one "
					 "SITE_LOG");
		goto out;
	}
	if (rf_audit_fed_create(&fed, &e)) {
		ex = cli_fail(ctx, &e);
		goto out;
	}
	p = load_logs(fed, optind, argc, argv, &ks, ctx);
	if (p >= 0) {
		ex = (enum cli_exit)p;
		goto out;
	}
	logs = rf_audit_fed_logs(fed, &nlogs);
	for (size_t i = 0; i < nlogs; i++) {
		if ((i == 0) != logs[i].is_agg || !logs[i].actor[0]) {
			rf_err_set(&e, RF_EINVAL,
				   "'%s' (actor '%s') is not %s log",
				   logs[i].path, logs[i].actor,
				   i == 0 ? "an aggregator" : "a site");
			ex = cli_fail(ctx, &e);
			goto out;
		}
	}
	/* first pass: the pairing, for the table */
	if (rf_audit_fed_crosscheck(fed, NULL, NULL, &nbad, &e)) {
		ex = cli_fail(ctx, &e);
		goto out;
	}
	x = rf_audit_fed_xfers(fed, &nx);
	if (ctx->json) {
		fputs("{\"logs\": [", ctx->out);
		for (size_t i = 0; i < nlogs; i++) {
			fputs(i ? ", " : "", ctx->out);
			log_json(ctx->out, &logs[i]);
		}
		fputs("], \"transfers\": [", ctx->out);
		for (size_t i = 0; i < nx; i++) {
			fputs(i ? ", " : "", ctx->out);
			xfer_json(ctx->out, &x[i], logs);
		}
		fputs("], \"mismatches\": [", ctx->out);
	} else {
		logs_text(ctx->out, fed, ks.n > 0);
		xfers_text(ctx->out, x, nx);
		if (nbad)
			fprintf(ctx->out, "\n%zu mismatch%s:\n", nbad,
				nbad == 1 ? "" : "es");
	}
	/* second pass: the same result, each disagreement named */
	if (rf_audit_fed_crosscheck(fed, on_mismatch, &mo, &nbad, &e)) {
		ex = cli_fail(ctx, &e);
		goto out;
	}
	if (ctx->json)
		fprintf(ctx->out, "], \"ok\": %s}\n", nbad ? "false" : "true");
	else if (!nbad)
		fprintf(ctx->out, "\nOK: the %zu transfer record%s of %zu "
			"logs agree\n", nx, nx == 1 ? "" : "s", nlogs);
	ex = nbad ? CLI_EXIT_INTEGRITY : CLI_EXIT_OK;
out:
	rf_audit_fed_destroy(fed);
	keys_release(&ks);
	return ex;
}

/* ---- audit report -------------------------------------------------------- */

/* What one site did in one round, gathered from every log of the set. */
struct part {
	const char *round;
	const char *site;
	const struct rf_audit_decision *dec; /* the last decision, or NULL */
	uint64_t updates, delta, masked, models, model_bytes;
	bool from_site; /* counted from the site's own log */
};

struct item {
	const char *round, *site;
	const struct rf_audit_xfer *x;
	const struct rf_audit_decision *d;
};

static int item_cmp(const void *pa, const void *pb)
{
	const struct item *a = pa, *b = pb;
	int c = strcmp(a->round, b->round);

	return c ? c : strcmp(a->site, b->site);
}

static bool site_has_log(const struct rf_audit_fed_log *logs, size_t n,
			 const char *site)
{
	for (size_t i = 0; i < n; i++)
		if (logs[i].actor[0] && !logs[i].is_agg &&
		    !strcmp(logs[i].site, site))
			return true;
	return false;
}

/* Adds one item to its part: a site's own records when its log is in the
 * set, else the aggregator's. */
static void part_add(struct part *pt, const struct item *it, bool own)
{
	const struct rf_audit_xfer *x = it->x;

	if (it->d) {
		pt->dec = it->d;
		return;
	}
	if (x->by_agg == own)
		return;
	if (x->type == RF_AUDIT_XFER_MODEL) {
		pt->models++;
		pt->model_bytes += x->bytes;
		return;
	}
	pt->updates++;
	if (!strcmp(x->kind, RF_AUDIT_KIND_MASKED))
		pt->masked += x->bytes;
	else
		pt->delta += x->bytes;
}

static void part_print(struct cli_ctx *ctx, const struct part *pt,
		       bool first_of_round, bool first)
{
	FILE *f = ctx->out;
	char pol[SHOW_HEX + 3];
	const char *dec = !pt->dec ? "-"
			  : pt->dec->accepted ? "accepted"
					      : "declined";

	if (ctx->json) {
		if (first_of_round) {
			fputs(first ? "" : "]}, ", f);
			fputs("{\"round\": ", f);
			cli_json_string(f, pt->round);
			fputs(", \"sites\": [", f);
		} else {
			fputs(", ", f);
		}
		fputs("{\"site\": ", f);
		cli_json_string(f, pt->site);
		fprintf(f, ", \"decision\": %s%s%s, \"policy_sha256\": ",
			pt->dec ? "\"" : "", pt->dec ? dec : "null",
			pt->dec ? "\"" : "");
		if (pt->dec)
			cli_json_string(f, pt->dec->policy_sha256);
		else
			fputs("null", f);
		fprintf(f,
			", \"updates\": %" PRIu64 ", \"bytes\": {\"delta\": "
			"%" PRIu64 ", \"masked\": %" PRIu64 "}, \"models\": "
			"%" PRIu64 ", \"model_bytes\": %" PRIu64
			", \"source\": \"%s\"}",
			pt->updates, pt->delta, pt->masked, pt->models,
			pt->model_bytes, pt->from_site ? "site" : "aggregator");
		return;
	}
	if (first_of_round)
		fprintf(f,
			"\nround %s\n  %-20s %-8s  %-18s  %7s  %12s  %12s  "
			"%s\n",
			pt->round, "site", "decision", "policy", "updates",
			"delta bytes", "masked bytes", "source");
	if (pt->dec)
		snprintf(pol, sizeof pol, "%.*s..", SHOW_HEX,
			 pt->dec->policy_sha256);
	else
		snprintf(pol, sizeof pol, "-");
	fprintf(f,
		"  %-20s %-8s  %-18s  %7" PRIu64 "  %12" PRIu64 "  %12" PRIu64
		"  %s\n",
		pt->site, dec, pol, pt->updates, pt->delta, pt->masked,
		pt->from_site ? "site log" : "aggregator log");
}

enum cli_exit cli_cmd_audit_report(const struct cli_cmd *cmd, int argc,
				   char **argv, struct cli_ctx *ctx)
{
	struct keys ks = { { NULL }, 0 };
	struct rf_audit_fed *fed = NULL;
	const struct rf_audit_fed_log *logs;
	const struct rf_audit_xfer *x;
	const struct rf_audit_decision *d;
	struct item *items = NULL;
	struct rf_err e = { 0 };
	size_t nlogs, nx, nd, ni = 0, i, j;
	const char *prev_round = NULL;
	enum cli_exit ex;
	int p;

	p = parse(cmd, argc, argv, ctx, &ks, true);
	if (p >= 0) {
		ex = (enum cli_exit)p;
		goto out;
	}
	if (argc - optind < 1) {
		ex = cli_usage(ctx, cmd, "no LOG given");
		goto out;
	}
	if (rf_audit_fed_create(&fed, &e)) {
		ex = cli_fail(ctx, &e);
		goto out;
	}
	p = load_logs(fed, optind, argc, argv, &ks, ctx);
	if (p >= 0) {
		ex = (enum cli_exit)p;
		goto out;
	}
	logs = rf_audit_fed_logs(fed, &nlogs);
	x = rf_audit_fed_xfers(fed, &nx);
	d = rf_audit_fed_decisions(fed, &nd);
	items = rf_calloc(nx + nd + 1, sizeof *items);
	if (!items) {
		rf_err_set(&e, RF_ENOMEM, "out of memory");
		ex = cli_fail(ctx, &e);
		goto out;
	}
	for (i = 0; i < nx; i++)
		items[ni++] = (struct item){ x[i].round, x[i].site, &x[i],
					     NULL };
	for (i = 0; i < nd; i++)
		items[ni++] = (struct item){ d[i].round, d[i].site, NULL,
					     &d[i] };
	/* qsort is not stable: the latest decision is found by line below */
	if (ni > 1)
		qsort(items, ni, sizeof *items, item_cmp);
	if (ctx->json) {
		fputs("{\"logs\": [", ctx->out);
		for (i = 0; i < nlogs; i++) {
			fputs(i ? ", " : "", ctx->out);
			log_json(ctx->out, &logs[i]);
		}
		fputs("], \"rounds\": [", ctx->out);
	} else {
		logs_text(ctx->out, fed, ks.n > 0);
	}
	for (i = 0; i < ni; i = j) {
		struct part pt;
		bool own = site_has_log(logs, nlogs, items[i].site);

		memset(&pt, 0, sizeof pt);
		pt.round = items[i].round;
		pt.site = items[i].site;
		pt.from_site = own;
		for (j = i; j < ni && !item_cmp(&items[i], &items[j]); j++) {
			if (items[j].d && pt.dec &&
			    items[j].d->line < pt.dec->line)
				continue;
			part_add(&pt, &items[j], own);
		}
		part_print(ctx, &pt,
			   !prev_round || strcmp(prev_round, pt.round),
			   !prev_round);
		prev_round = pt.round;
	}
	if (ctx->json)
		fputs(prev_round ? "]}]}\n" : "]}\n", ctx->out);
	else if (!prev_round)
		fputs("\nno round in these logs\n", ctx->out);
	ex = CLI_EXIT_OK;
out:
	rf_free(items);
	rf_audit_fed_destroy(fed);
	keys_release(&ks);
	return ex;
}
