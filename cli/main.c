/* main.c - `radfed <command> [<subcommand>] [options]`: finds the command
 * in cli_commands[] and runs its handler. The only place radfed exits.
 * The same main() is linked into the light front and into radfed-full
 * (docs/architecture.md, "Two executables"). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

static int is_help(const char *s)
{
	return strcmp(s, "--help") == 0 || strcmp(s, "-h") == 0;
}

/* --json anywhere before "--" asks for JSON errors too, even those found
 * before the command parses its options. */
static int wants_json(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (strcmp(argv[i], "--json") == 0)
			return 1;
	}
	return 0;
}

static enum cli_exit run(const struct cli_cmd *c, int argc, char **argv,
			 struct cli_ctx *ctx)
{
	return c->run(c, argc, argv, ctx);
}

static enum cli_exit dispatch(int argc, char **argv, struct cli_ctx *ctx)
{
	static const struct option top[] = {
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	const struct cli_group *g;
	const struct cli_cmd *c;
	static char help_word[] = "help", version_word[] = "version";

	if (argc < 2) {
		/* documented: the command list, as a usage error */
		cli_help_all(ctx->err);
		return CLI_EXIT_USAGE;
	}
	if (is_help(argv[1])) {
		argv[1] = help_word;
		return run(cli_cmd_find(NULL, "help"), argc - 1, argv + 1, ctx);
	}
	if (strcmp(argv[1], "--version") == 0) {
		argv[1] = version_word;
		return run(cli_cmd_find(NULL, "version"), argc - 1, argv + 1,
			   ctx);
	}
	if (argv[1][0] == '-') {
		/* only --help and --version come before the command; report
		 * the rest as getopt_long would have rejected argv[1] */
		optind = 2;
		optopt = argv[1][1] == '-' ? 0 : argv[1][1];
		return cli_bad_option(ctx, NULL, '?', argv, top);
	}
	g = cli_group_find(argv[1]);
	if (g) {
		if (argc < 3) {
			cli_help_group(ctx->err, g);
			return CLI_EXIT_USAGE;
		}
		if (is_help(argv[2])) {
			cli_help_group(ctx->out, g);
			return CLI_EXIT_OK;
		}
		c = cli_cmd_find(g->name, argv[2]);
		if (!c)
			return cli_unknown_command(ctx, argv + 1, 2);
		return run(c, argc - 2, argv + 2, ctx);
	}
	c = cli_cmd_find(NULL, argv[1]);
	if (!c)
		return cli_unknown_command(ctx, argv + 1, 1);
	return run(c, argc - 1, argv + 1, ctx);
}

int main(int argc, char **argv)
{
	struct cli_ctx ctx = {stdout, stderr, wants_json(argc, argv), argc,
			      argv};
	enum cli_exit rc = dispatch(argc, argv, &ctx);

	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "radfed: cannot write output: %s\n",
			strerror(errno));
		return CLI_EXIT_FAILED;
	}
	return (int)rc;
}
