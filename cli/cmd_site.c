/* cmd_site.c - `radfed site ...`: the hospital data officer's commands. */
#include "cli.h"

#include <getopt.h>

#include "node_site.h"

enum cli_exit cli_cmd_site_init(const struct cli_cmd *cmd, int argc,
				char **argv, struct cli_ctx *ctx)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "name", required_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = NULL, *name = NULL;
	struct rf_err e = { 0 };
	int c;

	cli_getopt_reset();
	while ((c = getopt_long(argc, argv, ":d:n:h", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			dir = optarg;
			break;
		case 'n':
			name = optarg;
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
	if (!dir || !name)
		return cli_usage(ctx, cmd, "%s is required",
				 !dir ? "--dir DIR" : "--name NAME");
	if (node_site_init(dir, name, &e))
		return cli_fail(ctx, &e);
	if (ctx->json) {
		fputs("{\"site\": ", ctx->out);
		cli_json_string(ctx->out, name);
		fputs(", \"dir\": ", ctx->out);
		cli_json_string(ctx->out, dir);
		fputs("}\n", ctx->out);
	} else {
		fprintf(ctx->out,
			"site '%s' created in %s\n"
			"  %s/site.yaml         configuration (docs/site.md)\n"
			"  %s/keys/site.secret  the key of every pseudonym of "
			"this site: back it up, never share it\n"
			"  %s/store/            de-identified data\n",
			name, dir, dir, dir, dir);
	}
	return CLI_EXIT_OK;
}
