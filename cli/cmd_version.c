/* cmd_version.c - `radfed version [--json]` and `radfed --version`: the
 * version of radfed and of every library as linked at run time. */
#include "cli.h"

#include <getopt.h>

#include "agg.h"
#include "anon.h"
#include "rf_version.h"
#include "trn.h"

static const char *grpc_note(void)
{
	return "gRPC core version, numbered apart from gRPC releases";
}

/* One row per library, in the order printed; note (optional) is printed in
 * parentheses after the version and under "notes" in JSON. */
static const struct {
	const char *name;
	const char *(*version)(void);
	const char *note_prefix;
	const char *(*note)(void);
} libs[] = {
	{"grpc", rf_version_grpc, "", grpc_note},
	{"protobuf-c", rf_version_protobuf_c, "", NULL},
	{"openssl", rf_version_openssl, "", rf_version_openssl_text},
	{"hdf5", rf_version_hdf5, "", NULL},
	{"dnnl", trn_version_dnnl, "git hash ", trn_version_dnnl_git},
	{"libyaml", rf_version_yaml, "", NULL},
	{"sqlite", agg_version_sqlite, "", NULL},
	{"zlib", anon_version_zlib, "", NULL},
};

#define NLIBS (sizeof libs / sizeof libs[0])

static void print_text(FILE *f)
{
	const char *note;
	size_t i;

	fputs("radfed " RADFED_VERSION "\n", f);
	for (i = 0; i < NLIBS; i++) {
		note = libs[i].note ? libs[i].note() : "";
		fprintf(f, "%s %s", libs[i].name, libs[i].version());
		if (*note)
			fprintf(f, " (%s%s)", libs[i].note_prefix, note);
		fputc('\n', f);
	}
}

static void print_json(FILE *f)
{
	const char *note;
	const char *sep = "";
	char buf[256];
	size_t i;

	fputs("{\"radfed\": ", f);
	cli_json_string(f, RADFED_VERSION);
	fputs(", \"libraries\": {", f);
	for (i = 0; i < NLIBS; i++) {
		fprintf(f, "%s", i ? ", " : "");
		cli_json_string(f, libs[i].name);
		fputs(": ", f);
		cli_json_string(f, libs[i].version());
	}
	fputs("}, \"notes\": {", f);
	for (i = 0; i < NLIBS; i++) {
		note = libs[i].note ? libs[i].note() : "";
		if (!*note)
			continue;
		snprintf(buf, sizeof buf, "%s%s", libs[i].note_prefix, note);
		fputs(sep, f);
		cli_json_string(f, libs[i].name);
		fputs(": ", f);
		cli_json_string(f, buf);
		sep = ", ";
	}
	fputs("}}\n", f);
}

enum cli_exit cli_cmd_version(const struct cli_cmd *cmd, int argc,
			      char **argv, struct cli_ctx *ctx)
{
	static const struct option longopts[] = {
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int opt;

	cli_getopt_reset();
	while ((opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'h':
			cli_help_command(ctx->out, cmd);
			return CLI_EXIT_OK;
		case 'j':
			ctx->json = 1;
			break;
		default:
			return cli_bad_option(ctx, cmd, opt, argv, longopts);
		}
	}
	if (optind < argc)
		return cli_usage(ctx, cmd, "unexpected argument '%s'",
				 argv[optind]);
	if (ctx->json)
		print_json(ctx->out);
	else
		print_text(ctx->out);
	return CLI_EXIT_OK;
}
