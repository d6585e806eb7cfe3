/* cmd_site.c - `radfed site ...`: the hospital data officer's commands. */
#include "cli.h"

#include <getopt.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "node_fed.h"
#include "node_ingest.h"
#include "node_site.h"
#include "rf_progress.h"

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

static void print_ingest(struct cli_ctx *ctx, const struct node_ingest_stats *s,
			 const char *dir)
{
	char path[4096];

	if (ctx->json) {
		fprintf(ctx->out,
			"{\"inputs\": %zu, \"written\": %zu, "
			"\"quarantined\": %zu, \"skipped\": %zu, "
			"\"failed\": %zu, \"images\": %zu, "
			"\"undecodable\": %zu, \"records\": %zu, "
			"\"labelled\": %zu, \"positives\": %zu, \"dataset\": ",
			s->inputs, s->written, s->quarantined, s->skipped,
			s->failed, s->images, s->undecodable, s->records,
			s->labelled, s->positives);
		snprintf(path, sizeof path, "%s/store/dataset.h5", dir);
		cli_json_string(ctx->out, path);
		fputs("}\n", ctx->out);
		return;
	}
	fprintf(ctx->out,
		"%zu inputs: %zu written, %zu quarantined, %zu skipped, "
		"%zu failed\n"
		"%s/store/dataset.h5: %zu records (%zu labelled, %zu "
		"positive) from %zu images, %zu not decodable\n"
		"one line per input in %s/logs/ingest.jsonl\n",
		s->inputs, s->written, s->quarantined, s->skipped, s->failed,
		dir, s->records, s->labelled, s->positives, s->images,
		s->undecodable, dir);
}

enum cli_exit cli_cmd_site_ingest(const struct cli_cmd *cmd, int argc,
				  char **argv, struct cli_ctx *ctx)
{
	static const struct option opts[] = {
		{ "site", required_argument, NULL, 's' },
		{ "dir", required_argument, NULL, 's' },
		{ "labels", required_argument, NULL, 'l' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct node_ingest_config cfg = { NULL, "radfed " RADFED_VERSION,
					  false };
	struct node_ingest_stats st;
	struct node_site *site = NULL;
	const char *dir = NULL;
	struct rf_err e = { 0 };
	enum cli_exit ex;
	int c;

	cli_getopt_reset();
	while ((c = getopt_long(argc, argv, ":s:l:h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			dir = optarg;
			break;
		case 'l':
			cfg.labels = optarg;
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
	if (!dir)
		return cli_usage(ctx, cmd, "--site DIR is required");
	if (optind >= argc)
		return cli_usage(ctx, cmd, "no INPUT given");
	cfg.progress = rf_progress_should_draw(ctx->json);
	if (node_site_open(dir, &site, &e) ||
	    node_ingest_run(site, argv + optind, (size_t)(argc - optind), &cfg,
			    &st, &e)) {
		ex = cli_fail(ctx, &e);
		goto out;
	}
	print_ingest(ctx, &st, dir);
	ex = st.quarantined || st.failed || st.undecodable ? CLI_EXIT_PARTIAL :
							     CLI_EXIT_OK;
out:
	node_site_close(site);
	return ex;
}

/* Set by SIGINT/SIGTERM: the serve loop stops at its next check. While
 * the loop only waits (serve_idle, see node_fed_opts.idle) the process
 * ends at once; a second signal ends it whatever it does (the handler
 * restores the default). */
static volatile sig_atomic_t serve_stop, serve_idle, serve_json;

static void serve_on_signal(int sig)
{
	static const char msg[] = "stopped\n";
	static const char json[] = "{\"event\": \"stopped\"}\n";

	serve_stop = 1;
	if (serve_idle) {
		if (serve_json)
			(void)!write(STDOUT_FILENO, json, sizeof json - 1);
		else
			(void)!write(STDOUT_FILENO, msg, sizeof msg - 1);
		_exit(CLI_EXIT_OK);
	}
	signal(sig, SIG_DFL);
}

static void serve_line(void *ctx_, const char *line)
{
	struct cli_ctx *ctx = ctx_;

	if (ctx->json) {
		fputs("{\"event\": ", ctx->out);
		cli_json_string(ctx->out, line);
		fputs("}\n", ctx->out);
	} else {
		fprintf(ctx->out, "%s\n", line);
	}
	fflush(ctx->out);
}

enum cli_exit cli_cmd_site_serve(const struct cli_cmd *cmd, int argc,
				 char **argv, struct cli_ctx *ctx)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "site", required_argument, NULL, 'd' },
		{ "policy", required_argument, NULL, 'p' },
		{ "once", no_argument, NULL, 'o' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct node_fed_opts o;
	struct sigaction sa, old_int, old_term;
	const char *dir = NULL;
	struct rf_err e = { 0 };
	enum rf_rc rc;
	int c;

	memset(&o, 0, sizeof o);
	cli_getopt_reset();
	while ((c = getopt_long(argc, argv, ":d:p:h", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			dir = optarg;
			break;
		case 'p':
			o.policy = optarg;
			break;
		case 'o':
			o.until_idle = true;
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
	serve_stop = 0;
	serve_idle = 0;
	serve_json = ctx->json;
	o.stop = &serve_stop;
	o.idle = &serve_idle;
	o.on_line = serve_line;
	o.ctx = ctx;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = serve_on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	rc = node_fed_serve(dir, &o, &e);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	if (rc)
		return cli_fail(ctx, &e);
	if (serve_stop)
		serve_line(ctx, "stopped");
	return CLI_EXIT_OK;
}
