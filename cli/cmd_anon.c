/* cmd_anon.c - `radfed anon --key FILE --out DIR [--option NAME]...
 * [--jobs N] INPUT...`: stand-alone de-identification of DICOM files and
 * French reports. */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "anon_batch.h"
#include "rf_alloc.h"
#include "rf_crypto.h"
#include "rf_file.h"
#include "rf_progress.h"

/* Reads the site secret: 32 to 1024 bytes. */
static enum rf_rc read_secret(const char *path, struct rf_buf *b,
			      struct rf_err *e)
{
	enum rf_rc rc = rf_file_read(path, b, e);

	if (rc == RF_ETOOBIG)
		return rf_err_set(e, RF_EINVAL,
				  "key file '%s' is larger than %d bytes", path,
				  ANON_PSEUDO_SECRET_MAX);
	if (rc)
		return rc;
	if (b->len < ANON_PSEUDO_SECRET_MIN)
		return rf_err_set(e, RF_EINVAL,
				  "key file '%s' holds %zu bytes; the site "
				  "secret needs at least %d random bytes",
				  path, b->len, ANON_PSEUDO_SECRET_MIN);
	return RF_OK;
}

static enum cli_exit bad_option_name(struct cli_ctx *ctx,
				     const struct cli_cmd *cmd,
				     const char *name)
{
	char list[512];
	size_t i, off = 0;
	const char *n;

	list[0] = '\0';
	for (i = 0; (n = anon_option_at(i, NULL)) && off < sizeof list; i++)
		off += (size_t)snprintf(list + off, sizeof list - off, "%s%s",
					i ? ", " : "", n);
	return cli_usage(ctx, cmd, "unknown option name '%s' (one of: %s)",
			 name, list);
}

static void print_summary(struct cli_ctx *ctx, const struct anon_batch_stats *s,
			  const char *out, const char *log)
{
	if (ctx->json) {
		fprintf(ctx->out,
			"{\"inputs\": %zu, \"written\": %zu, \"reports\": %zu, "
			"\"quarantined\": %zu, \"skipped\": %zu, "
			"\"failed\": %zu, \"bytes_in\": %llu, \"log\": ",
			s->inputs, s->written, s->reports_written,
			s->quarantined, s->skipped, s->failed,
			(unsigned long long)s->bytes_in);
		cli_json_string(ctx->out, log);
		fputs("}\n", ctx->out);
		return;
	}
	fprintf(ctx->out,
		"%zu inputs: %zu written (%zu reports), %zu quarantined, "
		"%zu skipped, %zu failed\noutput in %s, one line per input "
		"in %s\n",
		s->inputs, s->written, s->reports_written, s->quarantined,
		s->skipped, s->failed, out, log);
}

enum cli_exit cli_cmd_anon(const struct cli_cmd *cmd, int argc, char **argv,
			   struct cli_ctx *ctx)
{
	static const struct option opts[] = {
		{ "key", required_argument, NULL, 'k' },
		{ "out", required_argument, NULL, 'o' },
		{ "option", required_argument, NULL, 'O' },
		{ "no-default-options", no_argument, NULL, 'N' },
		{ "jobs", required_argument, NULL, 'j' },
		{ "log", required_argument, NULL, 'l' },
		{ "json", no_argument, NULL, 'J' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *key = NULL, *out = NULL, *log_path = NULL;
	unsigned options = ANON_DEID_DEFAULT_OPTIONS, added = 0, bit;
	struct rf_buf secret = RF_BUF_INIT(ANON_PSEUDO_SECRET_MAX);
	struct anon_batch_config bc;
	struct anon_deid_config dc;
	struct anon_batch_stats st;
	struct anon_pseudo *pseudo = NULL;
	struct rf_progress *bar = NULL;
	char **paths = NULL, logbuf[4096];
	size_t n_paths = 0;
	struct rf_err e = { 0 };
	enum cli_exit ex = CLI_EXIT_FAILED;
	FILE *log = NULL;
	long jobs = 1;
	uint64_t jobs_v;
	int c;

	cli_getopt_reset();
	while ((c = getopt_long(argc, argv, ":k:o:O:Nj:l:h", opts, NULL)) !=
	       -1) {
		switch (c) {
		case 'k':
			key = optarg;
			break;
		case 'o':
			out = optarg;
			break;
		case 'O':
			bit = anon_option_from_name(optarg);
			if (!bit)
				return bad_option_name(ctx, cmd, optarg);
			added |= bit;
			break;
		case 'N':
			options = 0;
			break;
		case 'j':
			if (cli_parse_u64(optarg, 1, ANON_BATCH_MAX_JOBS,
					  &jobs_v))
				return cli_usage(ctx, cmd,
						 "--jobs wants a number from 1 "
						 "to %d, got '%s'",
						 ANON_BATCH_MAX_JOBS, optarg);
			jobs = (long)jobs_v;
			break;
		case 'l':
			log_path = optarg;
			break;
		case 'J':
			break; /* ctx->json is already set */
		case 'h':
			cli_help_command(ctx->out, cmd);
			return CLI_EXIT_OK;
		default:
			return cli_bad_option(ctx, cmd, c, argv, opts);
		}
	}
	if (!key || !out)
		return cli_usage(ctx, cmd, "%s is required",
				 !key ? "--key FILE" : "--out DIR");
	if (optind >= argc)
		return cli_usage(ctx, cmd, "no INPUT given");
	/* full dates replace the default of modified dates */
	if (added & ANON_OPT_RETAIN_FULL_DATES)
		options &= ~(unsigned)ANON_OPT_RETAIN_MODIFIED_DATES;
	options |= added;

	if (read_secret(key, &secret, &e) ||
	    anon_pseudo_create(secret.data, secret.len, &pseudo, &e))
		goto fail;
	memset(&bc, 0, sizeof bc);
	if (anon_batch_log_key(secret.data, secret.len, bc.log_key, &e))
		goto fail;
	memset(&dc, 0, sizeof dc);
	dc.options = options;
	dc.pseudo = pseudo;
	dc.software = "radfed " RADFED_VERSION;
	if (anon_batch_collect(argv + optind, (size_t)(argc - optind), &paths,
			       &n_paths, &e) ||
	    rf_mkdirs(out, 0700, &e))
		goto fail;
	if (!log_path) {
		snprintf(logbuf, sizeof logbuf, "%s/anon-log.jsonl", out);
		log_path = logbuf;
	}
	log = fopen(log_path, "a");
	if (!log) {
		rf_err_set(&e, RF_EIO, "cannot open log '%s': %s", log_path,
			   strerror(errno));
		goto fail;
	}
	if (rf_progress_create(&bar, "anon", n_paths, "files",
			       rf_progress_should_draw(ctx->json), NULL, &e))
		goto fail;
	bc.deid = &dc;
	bc.out_dir = out;
	bc.jobs = (unsigned)jobs;
	bc.log = log;
	bc.progress = bar;
	if (anon_batch_run(&bc, paths, n_paths, &st, &e))
		goto fail;
	rf_progress_finish(bar);
	print_summary(ctx, &st, out, log_path);
	ex = st.failed || st.quarantined ? CLI_EXIT_PARTIAL : CLI_EXIT_OK;
	goto out;
fail:
	ex = cli_fail(ctx, &e);
out:
	rf_progress_destroy(bar);
	if (log)
		fclose(log);
	anon_batch_paths_free(paths, n_paths);
	anon_pseudo_destroy(pseudo);
	rf_zeroize(&bc, sizeof bc);
	rf_buf_release_secret(&secret);
	return ex;
}
