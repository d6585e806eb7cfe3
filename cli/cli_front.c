/* cli_front.c - the light `radfed` front: the handlers of the commands that
 * need gRPC, HDF5, oneDNN or SQLite, each replaced by an exec of the full
 * binary, `radfed-full`. Linked into the front only, which therefore loads
 * none of those libraries at start-up (docs/architecture.md, "Two
 * executables"). */
#include "cli.h"

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

#include "rf_err.h"

/* The full binary's file name, and its place relative to the front's
 * folder once installed (`make install`: bin/radfed and
 * libexec/radfed/radfed-full). */
#define FULL_NAME "radfed-full"
#define FULL_LIBEXEC "../libexec/radfed/" FULL_NAME

/* Writes "<folder of /proc/self/exe>/<rel>" into buf. */
static enum rf_rc full_path(const char *rel, char *buf, size_t size,
			    struct rf_err *e)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	char *slash;
	int len;

	if (n < 0)
		return rf_err_set(e, RF_EIO, "cannot read '/proc/self/exe': %s",
				  strerror(errno));
	if ((size_t)n >= sizeof self - 1)
		return rf_err_set(e, RF_EIO, "path of '/proc/self/exe' is too "
				  "long");
	self[n] = '\0';
	slash = strrchr(self, '/');
	if (!slash)
		return rf_err_set(e, RF_EIO, "'/proc/self/exe' names no folder "
				  "('%s')", self);
	*slash = '\0';
	len = snprintf(buf, size, "%s/%s", self, rel);
	if (len < 0 || (size_t)len >= size)
		return rf_err_set(e, RF_EIO, "path of '%s' is too long",
				  FULL_NAME);
	return RF_OK;
}

enum cli_exit cli_exec_full(struct cli_ctx *ctx)
{
	static const char *const rels[] = {FULL_NAME, FULL_LIBEXEC};
	char path[PATH_MAX], first[PATH_MAX];
	struct rf_err e = {0};
	int saved = 0;
	size_t i;

	first[0] = '\0';
	/* nothing is buffered yet, but the exec must not lose anything */
	fflush(ctx->out);
	fflush(ctx->err);
	for (i = 0; i < sizeof rels / sizeof rels[0]; i++) {
		if (full_path(rels[i], path, sizeof path, &e))
			return cli_fail(ctx, &e);
		if (i == 0)
			memcpy(first, path, sizeof first);
		execv(path, ctx->argv);
		/* only a missing file moves on to the next place */
		saved = errno;
		if (saved != ENOENT)
			break;
	}
	rf_err_set(&e, RF_EIO, "cannot run '%s' for this command: %s",
		   saved == ENOENT ? first : path, strerror(saved));
	return cli_fail(ctx, &e);
}

/* A handler that hands the whole command line over to the full binary. */
#define CLI_FORWARD(fn)                                                    \
	enum cli_exit fn(const struct cli_cmd *cmd, int argc, char **argv, \
			 struct cli_ctx *ctx)                              \
	{                                                                  \
		(void)cmd;                                                 \
		(void)argc;                                                \
		(void)argv;                                                \
		return cli_exec_full(ctx);                                 \
	}

CLI_FORWARD(cli_cmd_version)
CLI_FORWARD(cli_cmd_demo)
CLI_FORWARD(cli_cmd_site_init)
CLI_FORWARD(cli_cmd_site_ingest)
CLI_FORWARD(cli_cmd_train)
CLI_FORWARD(cli_cmd_eval)
CLI_FORWARD(cli_cmd_agg_init)
CLI_FORWARD(cli_cmd_agg_invite)
CLI_FORWARD(cli_cmd_agg_revoke)
CLI_FORWARD(cli_cmd_agg_sites)
CLI_FORWARD(cli_cmd_agg_serve)
CLI_FORWARD(cli_cmd_site_enroll)
CLI_FORWARD(cli_cmd_id_enroll)
CLI_FORWARD(cli_cmd_site_serve)
CLI_FORWARD(cli_cmd_round_start)
CLI_FORWARD(cli_cmd_round_status)
CLI_FORWARD(cli_cmd_round_watch)
CLI_FORWARD(cli_cmd_model_export)
