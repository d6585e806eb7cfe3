/* cmd_demo.c - `radfed demo [--dir DIR]`: what radfed does today, end to
 * end on one machine, leaving every file it made in DIR for inspection. */
#include "cli.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "anon_report.h"
#include "anon_textgen.h"
#include "rf_file.h"
#include "rf_version.h"
#include "trn.h"

#define DEMO_REPORTS 200
#define DEMO_SEED    2026
#define REPORT_MAX   (64u << 10)

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Prints the first `lines` lines of text, indented. */
static void print_head(FILE *f, const char *text, int lines)
{
	const char *p = text, *nl;

	while (lines-- > 0 && *p) {
		nl = strchr(p, '\n');
		if (!nl)
			nl = p + strlen(p);
		fprintf(f, "    | %.*s\n", (int)(nl - p), p);
		p = *nl ? nl + 1 : nl;
	}
}

static enum rf_rc write_text(const char *dir, const char *sub, size_t i,
			     const struct rf_buf *b, struct rf_err *e)
{
	char path[4096];

	snprintf(path, sizeof path, "%s/%s/report-%04zu.txt", dir, sub, i + 1);
	return rf_file_write_atomic(path, b->data, b->len, 0600, e);
}

/* Generates reports with planted identifiers, de-identifies them, writes
 * both versions under DIR/reports, and prints one of them before and
 * after with the totals per category. */
static enum rf_rc demo_reports(struct cli_ctx *ctx, const char *dir,
			       struct rf_err *e)
{
	struct anon_report_stats st, total;
	struct anon_textgen_doc doc;
	struct anon_report_ctx rc_ctx;
	struct rf_buf out = RF_BUF_INIT(2 * REPORT_MAX);
	struct anon_textgen g;
	char path[4096];
	double t0, scrub_s = 0;
	size_t bytes = 0, planted = 0, i, c;
	enum rf_rc rc;

	memset(&total, 0, sizeof total);
	anon_textgen_init(&g, DEMO_SEED);
	anon_textgen_doc_init(&doc, REPORT_MAX);
	snprintf(path, sizeof path, "%s/reports/original", dir);
	rc = rf_mkdirs(path, 0700, e);
	snprintf(path, sizeof path, "%s/reports/deidentified", dir);
	if (!rc)
		rc = rf_mkdirs(path, 0700, e);
	for (i = 0; !rc && i < DEMO_REPORTS; i++) {
		rc = anon_textgen_report(&g, &doc, e);
		if (rc)
			break;
		anon_textgen_ctx(&doc, &rc_ctx);
		rf_buf_reset(&out);
		t0 = now_s();
		rc = anon_report_scrub(&rc_ctx, (const char *)doc.text.data,
				       doc.text.len, &out, &st, e);
		scrub_s += now_s() - t0;
		if (rc)
			break;
		bytes += doc.text.len;
		planted += doc.n_spans;
		for (c = 0; c < ANON_REPORT_CAT_COUNT; c++)
			total.count[c] += st.count[c];
		rc = write_text(dir, "reports/original", i, &doc.text, e);
		if (!rc)
			rc =
			    write_text(dir, "reports/deidentified", i, &out, e);
		if (!rc && i == 0 && !ctx->json) {
			fputs("  a synthetic report, as the hospital's RIS "
			      "exports it:\n",
			      ctx->out);
			print_head(ctx->out, (const char *)doc.text.data, 14);
			fputs("  the same report after radfed:\n", ctx->out);
			print_head(ctx->out, rf_buf_str(&out), 14);
		}
	}
	if (!rc) {
		if (ctx->json) {
			fprintf(ctx->out,
				"{\"step\": \"reports\", "
				"\"reports\": %d, \"planted\": %zu, "
				"\"replaced\": {",
				DEMO_REPORTS, planted);
			for (c = 0; c < ANON_REPORT_CAT_COUNT; c++)
				fprintf(ctx->out, "%s\"%s\": %zu",
					c ? ", " : "", anon_report_cat_name(c),
					total.count[c]);
			fprintf(ctx->out, "}, \"mb_per_s\": %.1f}\n",
				scrub_s > 0 ? bytes / scrub_s / 1e6 : 0.0);
		} else {
			fprintf(ctx->out,
				"  %d reports, %zu identifiers "
				"planted; replaced:",
				DEMO_REPORTS, planted);
			for (c = 0; c < ANON_REPORT_CAT_COUNT; c++)
				fprintf(ctx->out, " %s %zu",
					anon_report_cat_name(c),
					total.count[c]);
			fprintf(ctx->out,
				"\n  scrubbed %.1f MB at %.0f MB/s; "
				"files in %s/reports/{original,deidentified}\n",
				bytes / 1e6,
				scrub_s > 0 ? bytes / scrub_s / 1e6 : 0.0, dir);
		}
	}
	rf_buf_release_secret(&out);
	anon_textgen_doc_release(&doc);
	return rc;
}

enum cli_exit cli_cmd_demo(const struct cli_cmd *cmd, int argc, char **argv,
			   struct cli_ctx *ctx)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = "demo-out";
	struct rf_err e = { 0 };
	int c;

	cli_getopt_reset();
	while ((c = getopt_long(argc, argv, ":d:h", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			dir = optarg;
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
	if (optind < argc)
		return cli_usage(ctx, cmd, "unexpected argument '%s'",
				 argv[optind]);
	if (rf_mkdirs(dir, 0700, &e))
		return cli_fail(ctx, &e);
	if (!ctx->json)
		fprintf(ctx->out,
			"radfed " RADFED_VERSION " demo, in '%s'\n"
			"  on grpc %s, openssl %s, hdf5 %s, dnnl %s\n\n"
			"1. de-identification of French radiology reports\n",
			dir, rf_version_grpc(), rf_version_openssl(),
			rf_version_hdf5(), trn_version_dnnl());
	if (demo_reports(ctx, dir, &e))
		return cli_fail(ctx, &e);
	return CLI_EXIT_OK;
}
