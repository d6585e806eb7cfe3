/* cmd_id.c - `radfed id enroll` and `radfed site enroll`: joining the
 * consortium with an invitation. Both commands live here because they are
 * one operation on two kinds of folder, with one option parser. */
#include "cli.h"

#include <getopt.h>

#include "node_enroll.h"

static enum cli_exit enroll(const struct cli_cmd *cmd, int argc, char **argv,
			    struct cli_ctx *ctx, enum node_enroll_kind kind)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "name", required_argument, NULL, 'n' },
		{ "aggregator", required_argument, NULL, 'a' },
		{ "server-name", required_argument, NULL, 's' },
		{ "token", required_argument, NULL, 't' },
		{ "ca-fingerprint", required_argument, NULL, 'f' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct node_enroll_opts o = { 0 };
	struct node_enroll_result r;
	struct rf_err e = { 0 };
	int c;

	o.kind = kind;
	cli_getopt_reset();
	while ((c = getopt_long(argc, argv, ":d:n:a:s:t:f:h", opts, NULL)) !=
	       -1) {
		switch (c) {
		case 'd':
			o.dir = optarg;
			break;
		case 'n':
			o.name = optarg;
			break;
		case 'a':
			o.aggregator = optarg;
			break;
		case 's':
			o.server_name = optarg;
			break;
		case 't':
			o.token = optarg;
			break;
		case 'f':
			o.ca_fingerprint = optarg;
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
	if (!o.dir || !o.aggregator || !o.token || !o.ca_fingerprint ||
	    (kind == NODE_ENROLL_IDENTITY && !o.name))
		return cli_usage(ctx, cmd, "%s is required",
				 !o.dir		  ? "--dir DIR"
				 : !o.aggregator  ? "--aggregator HOST:PORT"
				 : !o.token	  ? "--token TOKEN"
				 : !o.ca_fingerprint ? "--ca-fingerprint FP"
						     : "--name NAME");
	if (node_enroll(&o, &r, &e))
		return cli_fail(ctx, &e);
	if (ctx->json) {
		fputs("{\"name\": ", ctx->out);
		cli_json_string(ctx->out, r.name);
		fprintf(ctx->out,
			", \"role\": \"%s\", \"fingerprint\": \"%s\", "
			"\"ca_fingerprint\": \"%s\", \"dir\": ",
			r.role, r.fingerprint, r.ca_fingerprint);
		cli_json_string(ctx->out, o.dir);
		fputs("}\n", ctx->out);
	} else {
		fprintf(ctx->out,
			"'%s' enrolled as %s with the consortium at %s\n"
			"  certificate  %s/keys/tls.pem (fingerprint %s)\n"
			"  key          %s/keys/tls.key (never leaves this "
			"machine)\n",
			r.name, r.role, o.aggregator, o.dir, r.fingerprint,
			o.dir);
	}
	return CLI_EXIT_OK;
}

enum cli_exit cli_cmd_site_enroll(const struct cli_cmd *cmd, int argc,
				  char **argv, struct cli_ctx *ctx)
{
	return enroll(cmd, argc, argv, ctx, NODE_ENROLL_SITE);
}

enum cli_exit cli_cmd_id_enroll(const struct cli_cmd *cmd, int argc,
				char **argv, struct cli_ctx *ctx)
{
	return enroll(cmd, argc, argv, ctx, NODE_ENROLL_IDENTITY);
}
