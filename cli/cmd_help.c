/* cmd_help.c - `radfed help [COMMAND [SUBCOMMAND]]`. */
#include "cli.h"

#include <getopt.h>

enum cli_exit cli_cmd_help(const struct cli_cmd *cmd, int argc, char **argv,
			   struct cli_ctx *ctx)
{
	static const struct option longopts[] = {
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const struct cli_group *g;
	const struct cli_cmd *c;
	int opt, n;

	cli_getopt_reset();
	while ((opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		if (opt == 'h') {
			cli_help_command(ctx->out, cmd);
			return CLI_EXIT_OK;
		}
		return cli_bad_option(ctx, cmd, opt, argv, longopts);
	}
	argv += optind;
	n = argc - optind;
	if (n == 0) {
		cli_help_all(ctx->out);
		return CLI_EXIT_OK;
	}
	if (n > 2)
		return cli_usage(ctx, cmd, "too many arguments");
	g = cli_group_find(argv[0]);
	if (g && n == 1) {
		cli_help_group(ctx->out, g);
		return CLI_EXIT_OK;
	}
	c = cli_cmd_find(g ? g->name : NULL, argv[g ? 1 : 0]);
	if (!c || (!g && n > 1))
		return cli_unknown_command(ctx, argv, n);
	cli_help_command(ctx->out, c);
	return CLI_EXIT_OK;
}
