/* cmd_agg.c - `radfed agg ...`: the consortium operator's commands. */
#include "cli.h"

#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agg_ctx.h"
#include "agg_enroll.h"
#include "agg_registry.h"
#include "agg_round.h"
#include "agg_server.h"
#include "rf_alloc.h"
#include "rf_config.h"
#include "rf_log.h"

static void iso_time(int64_t t, char *buf, size_t n)
{
	struct timespec ts = { (time_t)t, 0 };

	rf_log_format_time(&ts, buf, n);
}

enum cli_exit cli_cmd_agg_init(const struct cli_cmd *cmd, int argc,
			       char **argv, struct cli_ctx *ctx)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "name", required_argument, NULL, 'n' },
		{ "listen", required_argument, NULL, 'l' },
		{ "server-name", required_argument, NULL, 's' },
		{ "cert-days", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct agg_init_opts o = { 0 };
	struct agg_ctx *ac = NULL;
	const char *dir = NULL;
	struct rf_err e = { 0 };
	uint64_t v;
	int c;

	cli_getopt_reset();
	while ((c = getopt_long(argc, argv, ":d:n:l:s:c:h", opts, NULL)) !=
	       -1) {
		switch (c) {
		case 'd':
			dir = optarg;
			break;
		case 'n':
			o.name = optarg;
			break;
		case 'l':
			o.listen = optarg;
			break;
		case 's':
			o.server_name = optarg;
			break;
		case 'c':
			if (cli_parse_u64(optarg, 1, AGG_CA_DAYS, &v))
				return cli_usage(ctx, cmd,
						 "--cert-days must be 1..%d",
						 AGG_CA_DAYS);
			o.cert_days = (int)v;
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
	if (optind < argc)
		return cli_usage(ctx, cmd, "unexpected argument '%s'",
				 argv[optind]);
	if (!dir)
		return cli_usage(ctx, cmd, "--dir DIR is required");
	if (agg_ctx_init(dir, &o, &e) || agg_ctx_open(dir, &ac, &e))
		return cli_fail(ctx, &e);
	if (ctx->json) {
		fputs("{\"dir\": ", ctx->out);
		cli_json_string(ctx->out, dir);
		fputs(", \"name\": ", ctx->out);
		cli_json_string(ctx->out, ac->name);
		fprintf(ctx->out, ", \"ca_fingerprint\": \"%s\", ", ac->ca_fp);
		fputs("\"server_name\": ", ctx->out);
		cli_json_string(ctx->out, ac->server_name);
		fputs(", \"listen\": ", ctx->out);
		cli_json_string(ctx->out, ac->listen);
		fputs("}\n", ctx->out);
	} else {
		fprintf(ctx->out,
			"aggregator '%s' created in %s\n"
			"  CA fingerprint  %s\n"
			"  server name     %s (clients check it)\n"
			"  listen          %s\n"
			"  %s/ca/ca.key     the consortium CA's key: keep it "
			"safe, ideally offline\n",
			ac->name, dir, ac->ca_fp, ac->server_name, ac->listen,
			dir);
	}
	agg_ctx_close(ac);
	return CLI_EXIT_OK;
}

enum cli_exit cli_cmd_agg_invite(const struct cli_cmd *cmd, int argc,
				 char **argv, struct cli_ctx *ctx)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "name", required_argument, NULL, 'n' },
		{ "role", required_argument, NULL, 'r' },
		{ "ttl", required_argument, NULL, 't' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = NULL, *name = NULL, *role_s = NULL;
	const char *ttl_s = "24h";
	char token[AGG_TOKEN_SIZE], when[40];
	struct agg_ctx *ac = NULL;
	enum agg_role role;
	struct rf_err e = { 0 };
	int64_t ttl_ms, expires = 0;
	enum cli_exit x = CLI_EXIT_OK;
	int c;

	cli_getopt_reset();
	while ((c = getopt_long(argc, argv, ":d:n:r:t:h", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			dir = optarg;
			break;
		case 'n':
			name = optarg;
			break;
		case 'r':
			role_s = optarg;
			break;
		case 't':
			ttl_s = optarg;
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
	if (optind < argc)
		return cli_usage(ctx, cmd, "unexpected argument '%s'",
				 argv[optind]);
	if (!dir || !name || !role_s)
		return cli_usage(ctx, cmd, "%s is required",
				 !dir	 ? "--dir DIR"
				 : !name ? "--name NAME"
					 : "--role ROLE");
	if (agg_role_parse(role_s, &role, &e) != RF_OK ||
	    role == AGG_ROLE_AGGREGATOR)
		return cli_usage(ctx, cmd,
				 "--role must be site, researcher or auditor");
	if (rf_cfg_parse_duration(ttl_s, &ttl_ms, &e) != RF_OK ||
	    ttl_ms < 1000 * (int64_t)AGG_INVITE_TTL_MIN ||
	    ttl_ms / 1000 > AGG_INVITE_TTL_MAX)
		return cli_usage(ctx, cmd,
				 "--ttl '%s' must be a duration from 1s to "
				 "30d (e.g. 24h)",
				 ttl_s);
	if (agg_ctx_open(dir, &ac, &e) ||
	    agg_invite(ac, name, role, ttl_ms / 1000, token, &expires, &e)) {
		x = cli_fail(ctx, &e);
		goto out;
	}
	iso_time(expires, when, sizeof when);
	if (ctx->json) {
		fprintf(ctx->out, "{\"token\": \"%s\", \"name\": ", token);
		cli_json_string(ctx->out, name);
		fprintf(ctx->out,
			", \"role\": \"%s\", \"expires\": \"%s\", "
			"\"ca_fingerprint\": \"%s\", \"server_name\": ",
			agg_role_name(role), when, ac->ca_fp);
		cli_json_string(ctx->out, ac->server_name);
		fputs("}\n", ctx->out);
	} else {
		fprintf(ctx->out,
			"invitation for '%s' as %s, valid once until %s\n"
			"  token           %s\n"
			"  CA fingerprint  %s\n"
			"  server name     %s\n"
			"hand both over by separate channels; the invitee "
			"runs:\n"
			"  radfed %s enroll --dir DIR%s%s --aggregator "
			"HOST:PORT \\\n"
			"      --token %s --ca-fingerprint %s\n",
			name, agg_role_name(role), when, token, ac->ca_fp,
			ac->server_name, role == AGG_ROLE_SITE ? "site" : "id",
			role == AGG_ROLE_SITE ? "" : " --name ",
			role == AGG_ROLE_SITE ? "" : name, token, ac->ca_fp);
	}
out:
	rf_zeroize(token, sizeof token);
	agg_ctx_close(ac);
	return x;
}

enum cli_exit cli_cmd_agg_revoke(const struct cli_cmd *cmd, int argc,
				 char **argv, struct cli_ctx *ctx)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "reason", required_argument, NULL, 'r' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = NULL, *name, *reason = "revoked by the operator";
	struct agg_ctx *ac = NULL;
	struct rf_err e = { 0 };
	enum cli_exit x = CLI_EXIT_OK;
	int c, n = 0;

	cli_getopt_reset();
	while ((c = getopt_long(argc, argv, ":d:r:h", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			dir = optarg;
			break;
		case 'r':
			reason = optarg;
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
	if (!dir)
		return cli_usage(ctx, cmd, "--dir DIR is required");
	if (argc - optind != 1)
		return cli_usage(ctx, cmd, "give exactly one NAME to revoke");
	name = argv[optind];
	if (agg_ctx_open(dir, &ac, &e) ||
	    agg_revoke(ac, name, reason, &n, &e)) {
		x = cli_fail(ctx, &e);
		goto out;
	}
	if (ctx->json) {
		fputs("{\"name\": ", ctx->out);
		cli_json_string(ctx->out, name);
		fprintf(ctx->out, ", \"revoked\": %d}\n", n);
	} else {
		fprintf(ctx->out,
			"'%s': %d certificate%s revoked; every later call "
			"with %s is refused\n",
			name, n, n == 1 ? "" : "s", n == 1 ? "it" : "them");
	}
out:
	agg_ctx_close(ac);
	return x;
}

struct sites_out {
	struct cli_ctx *ctx;
	int n;
};

static enum rf_rc print_identity(const struct agg_identity *id,
				 const char *cert_pem, void *p,
				 struct rf_err *e)
{
	struct sites_out *so = p;
	FILE *f = so->ctx->out;
	char exp[40], rev[40] = "-";

	(void)cert_pem;
	(void)e;
	iso_time(id->not_after, exp, sizeof exp);
	if (id->revoked_at)
		iso_time(id->revoked_at, rev, sizeof rev);
	if (so->ctx->json) {
		fputs(so->n ? ", {\"name\": " : "{\"name\": ", f);
		cli_json_string(f, id->name);
		fprintf(f,
			", \"role\": \"%s\", \"fingerprint\": \"%s\", "
			"\"not_after\": \"%s\", \"revoked\": %s}",
			agg_role_name(id->role), id->fingerprint, exp,
			id->revoked_at ? "true" : "false");
	} else {
		if (!so->n)
			fprintf(f, "%-24s %-10s %-8s %-24s %s\n", "NAME",
				"ROLE", "REVOKED", "EXPIRES", "FINGERPRINT");
		fprintf(f, "%-24s %-10s %-8s %-24s %s\n", id->name,
			agg_role_name(id->role), id->revoked_at ? "yes" : "no",
			exp, id->fingerprint);
	}
	so->n++;
	return RF_OK;
}

enum cli_exit cli_cmd_agg_sites(const struct cli_cmd *cmd, int argc,
				char **argv, struct cli_ctx *ctx)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = NULL;
	struct agg_ctx *ac = NULL;
	struct sites_out so = { ctx, 0 };
	struct rf_err e = { 0 };
	enum cli_exit x = CLI_EXIT_OK;
	int c;

	cli_getopt_reset();
	while ((c = getopt_long(argc, argv, ":d:h", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			dir = optarg;
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
	if (optind < argc)
		return cli_usage(ctx, cmd, "unexpected argument '%s'",
				 argv[optind]);
	if (!dir)
		return cli_usage(ctx, cmd, "--dir DIR is required");
	if (agg_ctx_open(dir, &ac, &e)) {
		x = cli_fail(ctx, &e);
		goto out;
	}
	if (ctx->json)
		fputs("{\"identities\": [", ctx->out);
	if (agg_registry_identity_list(ac->reg, print_identity, &so, &e)) {
		if (ctx->json)
			fputs("]}\n", ctx->out);
		x = cli_fail(ctx, &e);
		goto out;
	}
	if (ctx->json)
		fputs("]}\n", ctx->out);
	else if (!so.n)
		fputs("no identity enrolled yet (radfed agg invite)\n",
		      ctx->out);
out:
	agg_ctx_close(ac);
	return x;
}

/* The round engine's event lines, one per line on stderr. */
static void serve_log(void *p, const char *line)
{
	struct cli_ctx *ctx = p;

	fprintf(ctx->err, "radfed: %s\n", line);
	fflush(ctx->err);
}

enum cli_exit cli_cmd_agg_serve(const struct cli_cmd *cmd, int argc,
				char **argv, struct cli_ctx *ctx)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "listen", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = NULL, *listen = NULL;
	struct agg_ctx *ac = NULL;
	struct agg_server *srv = NULL;
	struct rf_err e = { 0 };
	enum cli_exit x = CLI_EXIT_OK;
	sigset_t sigs;
	int c, sig = 0;

	cli_getopt_reset();
	while ((c = getopt_long(argc, argv, ":d:l:h", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			dir = optarg;
			break;
		case 'l':
			listen = optarg;
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
	if (!dir)
		return cli_usage(ctx, cmd, "--dir DIR is required");
	/* blocked before any thread starts, so that every gRPC thread
	 * inherits the mask and the signals wait for sigwait below */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	if (agg_ctx_open(dir, &ac, &e) ||
	    agg_server_create(ac, listen, &srv, &e)) {
		x = cli_fail(ctx, &e);
		goto out;
	}
	fprintf(ctx->out, "radfed aggregator '%s' serving on port %d\n",
		ac->name, agg_server_port(srv));
	fflush(ctx->out);
	/* the rounds found running in the registry, then every round event */
	(void)agg_rounds_describe_resumed(agg_server_rounds(srv), serve_log,
					  ctx);
	agg_rounds_set_log(agg_server_rounds(srv), serve_log, ctx);
	while (sigwait(&sigs, &sig) != 0)
		;
	fprintf(ctx->err, "radfed: %s received, stopping\n",
		sig == SIGINT ? "SIGINT" : "SIGTERM");
	if (srv)
		agg_rounds_set_log(agg_server_rounds(srv), NULL, NULL);
out:
	agg_server_destroy(srv);
	agg_ctx_close(ac);
	return x;
}
