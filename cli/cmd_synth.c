/* cmd_synth.c - `radfed synth`: a synthetic imaging set with planted
 * identifiers, for demonstrations and tests (anon_synth.h). */
#include "cli.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>

#include "anon_synth.h"
#include "rf_progress.h"

struct progress_ctx {
	struct rf_progress *bar;
	FILE *out;
	bool enabled;
	bool failed; /* the bar could not be created: go on without it */
};

/* The bar is created at the first file, when the total is known. */
static void on_progress(void *ctx, uint64_t done, uint64_t total)
{
	struct progress_ctx *pc = ctx;
	struct rf_progress_opts o = {pc->out, NULL, NULL, 0};

	if (!pc->enabled || pc->failed)
		return;
	if (!pc->bar &&
	    rf_progress_create(&pc->bar, "synth", total, "img", true, &o,
			       NULL) != RF_OK) {
		pc->failed = true;
		return;
	}
	rf_progress_set(pc->bar, done);
}

static void print_json(FILE *f, const char *dir,
		       const struct anon_synth_stats *st)
{
	fputs("{\"out\": ", f);
	cli_json_string(f, dir);
	fprintf(f,
		", \"patients\": %u, \"studies\": %u, \"positives\": %u, "
		"\"files\": %u, \"quarantine\": %u, \"reports\": %u, "
		"\"identifiers\": %u, \"bytes\": %" PRIu64
		", \"transfer_syntaxes\": {",
		st->patients, st->studies, st->positives, st->files,
		st->quarantine, st->reports, st->identifiers, st->bytes);
	for (unsigned i = 0; anon_synth_ts_uid(i); i++) {
		fputs(i ? ", " : "", f);
		cli_json_string(f, anon_synth_ts_uid(i));
		fprintf(f, ": %u", st->per_ts[i]);
	}
	fputs("}}\n", f);
}

enum cli_exit cli_cmd_synth(const struct cli_cmd *cmd, int argc, char **argv,
			    struct cli_ctx *ctx)
{
	enum { OPT_OUT = 256, OPT_PATIENTS, OPT_SEED, OPT_IMAGES, OPT_SIZE,
	       OPT_JSON };
	static const struct option longopts[] = {
		{"out", required_argument, NULL, OPT_OUT},
		{"patients", required_argument, NULL, OPT_PATIENTS},
		{"seed", required_argument, NULL, OPT_SEED},
		{"images-per-study", required_argument, NULL, OPT_IMAGES},
		{"size", required_argument, NULL, OPT_SIZE},
		{"json", no_argument, NULL, OPT_JSON},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct anon_synth_opts o = {0, 0, 0, 0};
	struct anon_synth_stats st;
	struct progress_ctx pc = {NULL, ctx->err, false, false};
	struct rf_err err = {RF_OK, ""};
	const char *out = NULL;
	bool have_patients = false, have_seed = false;
	uint64_t v;
	enum rf_rc rc;
	int opt;

	cli_getopt_reset();
	while ((opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'h':
			cli_help_command(ctx->out, cmd);
			return CLI_EXIT_OK;
		case OPT_OUT:
			out = optarg;
			break;
		case OPT_PATIENTS:
			if (cli_parse_u64(optarg, 1, ANON_SYNTH_PATIENTS_MAX,
					  &v))
				return cli_usage(ctx, cmd,
						 "--patients must be 1..%u, "
						 "not '%s'",
						 ANON_SYNTH_PATIENTS_MAX,
						 optarg);
			o.patients = (unsigned)v;
			have_patients = true;
			break;
		case OPT_SEED:
			if (cli_parse_u64(optarg, 0, UINT64_MAX, &v))
				return cli_usage(ctx, cmd,
						 "--seed must be a whole "
						 "number, not '%s'", optarg);
			o.seed = v;
			have_seed = true;
			break;
		case OPT_IMAGES:
			if (cli_parse_u64(optarg, 1, ANON_SYNTH_IMAGES_MAX, &v))
				return cli_usage(ctx, cmd,
						 "--images-per-study must be "
						 "1..%u, not '%s'",
						 ANON_SYNTH_IMAGES_MAX, optarg);
			o.images_per_study = (unsigned)v;
			break;
		case OPT_SIZE:
			if (cli_parse_u64(optarg, ANON_SYNTH_SIZE_MIN,
				      ANON_SYNTH_SIZE_MAX, &v))
				return cli_usage(ctx, cmd,
						 "--size must be %u..%u, not "
						 "'%s'", ANON_SYNTH_SIZE_MIN,
						 ANON_SYNTH_SIZE_MAX, optarg);
			o.size = (unsigned)v;
			break;
		case OPT_JSON:
			ctx->json = 1;
			break;
		default:
			return cli_bad_option(ctx, cmd, opt, argv, longopts);
		}
	}
	if (optind < argc)
		return cli_usage(ctx, cmd, "unexpected argument '%s'",
				 argv[optind]);
	if (!out || !*out)
		return cli_usage(ctx, cmd, "--out DIR is required");
	if (!have_patients)
		return cli_usage(ctx, cmd, "--patients N is required");
	if (!have_seed)
		return cli_usage(ctx, cmd, "--seed S is required");

	pc.enabled = rf_progress_should_draw(ctx->json);
	rc = anon_synth_run(out, &o, on_progress, &pc, &st, &err);
	if (pc.bar) {
		if (rc == RF_OK)
			rf_progress_finish(pc.bar);
		else
			fputc('\n', ctx->err);
		rf_progress_destroy(pc.bar);
	}
	if (rc)
		return cli_fail(ctx, &err);
	if (ctx->json)
		print_json(ctx->out, out, &st);
	else
		fprintf(ctx->out,
			"wrote %u studies of %u patients to %s: %u DICOM "
			"files (%u to quarantine), %u reports, %u positive "
			"labels\n",
			st.studies, st.patients, out, st.files, st.quarantine,
			st.reports, st.positives);
	return CLI_EXIT_OK;
}
