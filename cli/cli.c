/* cli.c - lookup, help, error reporting and option helpers shared by every
 * command handler. No global state. */
#include "cli.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static const char *const role_titles[CLI_ROLE_COUNT_] = {
	[CLI_ROLE_SITE] = "hospital data officer",
	[CLI_ROLE_OPERATOR] = "consortium operator",
	[CLI_ROLE_RESEARCHER] = "consortium researcher",
	[CLI_ROLE_AUDITOR] = "regulator / auditor",
	[CLI_ROLE_ANYONE] = "anyone",
};

/* Width of the command column in listings. */
#define NAME_COL 16

/* Longest word cli_distance() compares; also bounds suggestions. */
#define DIST_MAX 64

const struct cli_cmd *cli_cmd_find(const char *group, const char *name)
{
	const struct cli_cmd *c;

	for (c = cli_commands; c->name; c++) {
		if (strcmp(c->name, name) != 0)
			continue;
		if (!group && !c->group)
			return c;
		if (group && c->group && strcmp(group, c->group) == 0)
			return c;
	}
	return NULL;
}

const struct cli_group *cli_group_find(const char *name)
{
	const struct cli_group *g;
	const struct cli_cmd *c;

	for (g = cli_groups; g->name; g++) {
		if (strcmp(g->name, name) != 0)
			continue;
		for (c = cli_commands; c->name; c++)
			if (c->group && strcmp(c->group, g->name) == 0)
				return g;
		return NULL;
	}
	return NULL;
}

enum cli_exit cli_exit_from_rc(enum rf_rc rc)
{
	switch (rc) {
	case RF_OK:
		return CLI_EXIT_OK;
	case RF_EPOLICY:
	case RF_EAUTH:
		return CLI_EXIT_REFUSED;
	case RF_EINTEGRITY:
		return CLI_EXIT_INTEGRITY;
	default:
		return CLI_EXIT_FAILED;
	}
}

void cli_json_string(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	fputc('"', f);
	for (; *p; p++) {
		switch (*p) {
		case '"':
			fputs("\\\"", f);
			break;
		case '\\':
			fputs("\\\\", f);
			break;
		case '\n':
			fputs("\\n", f);
			break;
		case '\t':
			fputs("\\t", f);
			break;
		case '\r':
			fputs("\\r", f);
			break;
		default:
			if (*p < 0x20 || *p == 0x7f)
				fprintf(f, "\\u%04x", *p);
			else
				fputc(*p, f);
		}
	}
	fputc('"', f);
}

static void json_error(FILE *f, const char *code, const char *msg)
{
	fputs("{\"error\": {\"code\": ", f);
	cli_json_string(f, code);
	fputs(", \"message\": ", f);
	cli_json_string(f, msg);
	fputs("}}\n", f);
}

enum cli_exit cli_fail(struct cli_ctx *ctx, const struct rf_err *e)
{
	if (ctx->json)
		json_error(ctx->out, rf_rc_name(e->rc), rf_err_msg(e));
	else
		fprintf(ctx->err, "radfed: %s\n", rf_err_msg(e));
	return cli_exit_from_rc(e->rc);
}

enum cli_exit cli_usage(struct cli_ctx *ctx, const struct cli_cmd *cmd,
			const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (ctx->json) {
		json_error(ctx->out, rf_rc_name(RF_EINVAL), msg);
		return CLI_EXIT_USAGE;
	}
	fprintf(ctx->err, "radfed: %s\n", msg);
	if (cmd)
		fprintf(ctx->err, "run 'radfed %s%s%s --help' for its usage\n",
			cmd->group ? cmd->group : "", cmd->group ? " " : "",
			cmd->name);
	else
		fputs("run 'radfed help' for the list of commands\n",
		      ctx->err);
	return CLI_EXIT_USAGE;
}

/* "site init" or "version" into buf. */
static const char *full_name(const struct cli_cmd *c, char *buf, size_t n)
{
	snprintf(buf, n, "%s%s%s", c->group ? c->group : "",
		 c->group ? " " : "", c->name);
	return buf;
}

void cli_help_all(FILE *f)
{
	const struct cli_cmd *c;
	char name[64];
	int r, any;

	fputs("usage: radfed <command> [<subcommand>] [options]\n", f);
	for (r = 0; r < CLI_ROLE_COUNT_; r++) {
		any = 0;
		for (c = cli_commands; c->name; c++) {
			if (c->role != (enum cli_role)r)
				continue;
			if (!any)
				fprintf(f, "\n%s:\n", role_titles[r]);
			any = 1;
			fprintf(f, "  %-*s  %s\n", NAME_COL,
				full_name(c, name, sizeof name), c->summary);
		}
	}
	fputs("\nrun 'radfed help <command>' or 'radfed <command> --help' "
	      "for details\n",
	      f);
}

void cli_help_command(FILE *f, const struct cli_cmd *cmd)
{
	char name[64];

	fprintf(f, "usage: radfed %s%s%s\n\n%s\n\n%s",
		full_name(cmd, name, sizeof name), *cmd->usage ? " " : "",
		cmd->usage, cmd->summary, cmd->help);
}

void cli_help_group(FILE *f, const struct cli_group *g)
{
	const struct cli_cmd *c;

	fprintf(f, "usage: radfed %s <subcommand> [options]\n\n%s\n\n"
		"subcommands:\n",
		g->name, g->summary);
	for (c = cli_commands; c->name; c++)
		if (c->group && strcmp(c->group, g->name) == 0)
			fprintf(f, "  %-*s  %s\n", NAME_COL, c->name,
				c->summary);
	fprintf(f, "\nrun 'radfed %s <subcommand> --help' for details\n",
		g->name);
}

void cli_getopt_reset(void)
{
	optind = 0;
	opterr = 0;
	optopt = 0;
}

int cli_parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!s || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

int cli_parse_double(const char *s, double lo, double hi, double *out)
{
	char *end;
	double v;

	if (!s || !*s)
		return -1;
	errno = 0;
	v = strtod(s, &end);
	if (errno || *end || !isfinite(v) || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

int cli_distance(const char *a, const char *b)
{
	int row[3][DIST_MAX + 1];
	size_t la = strlen(a), lb = strlen(b), i, j;
	int *prev2, *prev, *cur, *tmp;

	if (la > DIST_MAX || lb > DIST_MAX)
		return INT_MAX / 2;
	prev2 = row[0];
	prev = row[1];
	cur = row[2];
	for (j = 0; j <= lb; j++)
		prev[j] = (int)j;
	for (i = 1; i <= la; i++) {
		cur[0] = (int)i;
		for (j = 1; j <= lb; j++) {
			int cost = a[i - 1] != b[j - 1];
			int d = prev[j] + 1;

			if (cur[j - 1] + 1 < d)
				d = cur[j - 1] + 1;
			if (prev[j - 1] + cost < d)
				d = prev[j - 1] + cost;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] &&
			    a[i - 2] == b[j - 1] && prev2[j - 2] + 1 < d)
				d = prev2[j - 2] + 1;
			cur[j] = d;
		}
		tmp = prev2;
		prev2 = prev;
		prev = cur;
		cur = tmp;
	}
	return prev[lb];
}

/* Whether a distance d to a word of length len is close enough to suggest:
 * at most 2 edits, or a third of the word. */
static int close_enough(int d, size_t len)
{
	return d <= 2 || (size_t)d * 3 <= len;
}

enum cli_exit cli_unknown_command(struct cli_ctx *ctx, char **words, int n)
{
	char typed[DIST_MAX + 1], name[64], best[64] = "";
	const struct cli_cmd *c;
	const struct cli_group *g;
	int d, best_d = INT_MAX;

	snprintf(typed, sizeof typed, "%s%s%s", words[0], n > 1 ? " " : "",
		 n > 1 ? words[1] : "");
	for (c = cli_commands; c->name; c++) {
		d = cli_distance(typed, full_name(c, name, sizeof name));
		if (d < best_d) {
			best_d = d;
			snprintf(best, sizeof best, "%s", name);
		}
	}
	/* a mistyped group: `radfed stie init` */
	for (g = cli_groups; n == 1 && g->name; g++) {
		if (!cli_group_find(g->name))
			continue;
		d = cli_distance(typed, g->name);
		if (d < best_d) {
			best_d = d;
			snprintf(best, sizeof best, "%s", g->name);
		}
	}
	if (*best && close_enough(best_d, strlen(typed)))
		return cli_usage(ctx, NULL,
				 "unknown command '%s'; did you mean '%s'?",
				 typed, best);
	return cli_usage(ctx, NULL, "unknown command '%s'", typed);
}

enum cli_exit cli_bad_option(struct cli_ctx *ctx, const struct cli_cmd *cmd,
			     int c, char **argv,
			     const struct option *longopts)
{
	char typed[DIST_MAX + 1];
	const char *arg = optind > 0 ? argv[optind - 1] : "";
	const struct option *o, *best = NULL;
	int d, best_d = INT_MAX;
	size_t len;

	/* getopt sets optopt for short options, and for a long option to
	 * its val: tell them apart by the word itself */
	if (strncmp(arg, "--", 2) != 0) {
		if (c == ':')
			return cli_usage(ctx, cmd,
					 "option '-%c' needs a value", optopt);
		return cli_usage(ctx, cmd, "unknown option '-%c'", optopt);
	}
	if (c == ':')
		return cli_usage(ctx, cmd, "option '%s' needs a value", arg);
	/* a long option: argv[optind - 1] is "--name" or "--name=value" */
	len = strcspn(arg, "=");
	if (len > DIST_MAX)
		len = DIST_MAX;
	memcpy(typed, arg, len);
	typed[len] = '\0';
	for (o = longopts; o && o->name; o++) {
		d = cli_distance(typed + 2, o->name);
		if (d < best_d) {
			best_d = d;
			best = o;
		}
	}
	if (arg[len] == '=' && best && best_d == 0)
		return cli_usage(ctx, cmd, "option '%s' takes no value",
				 typed);
	if (best && close_enough(best_d, strlen(best->name)))
		return cli_usage(ctx, cmd,
				 "unknown option '%s'; did you mean '--%s'?",
				 typed, best->name);
	return cli_usage(ctx, cmd, "unknown option '%s'", typed);
}
