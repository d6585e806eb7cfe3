/*
 * cli.h - the `radfed` command line: the command table, the exit codes, and
 * the helpers every command handler uses to parse options and report.
 *
 * `radfed <command> [<subcommand>] [options]`: a command is either top-level
 * (`radfed version`) or belongs to a group (`radfed site init`). Every
 * command is one row of cli_commands[] in cli_table.c and one handler in
 * cli/cmd_<group>.c (cmd_<name>.c for a top-level command); see the comment
 * above that table for how to add one, and docs/cli.md.
 *
 * Handlers print results on ctx->out (stdout) and report failures only
 * through cli_fail()/cli_usage(), which follow the --json conventions. Only
 * cli/ prints or exits; the libraries below it never do.
 *
 * Must not use: any part's private headers (<module>_int.h); cli/ calls
 * only the public API of the parts and holds no logic of its own beyond
 * parsing, dispatch and output.
 */
#ifndef CLI_H
#define CLI_H

#include <getopt.h>
#include <stdint.h>
#include <stdio.h>

#include "rf_err.h"

/* The exit status of radfed, the same for every command (docs/cli.md). */
enum cli_exit {
	CLI_EXIT_OK = 0,        /* success */
	CLI_EXIT_FAILED = 1,    /* the operation failed */
	CLI_EXIT_USAGE = 2,     /* usage error: unknown command or option... */
	CLI_EXIT_PARTIAL = 3,   /* some inputs failed, the others were done */
	CLI_EXIT_REFUSED = 4,   /* refused by authorisation or policy */
	CLI_EXIT_INTEGRITY = 5, /* verification found a mismatch */
};

/* Who types a command; `radfed help` lists commands under these headings,
 * in this order (the roles of DESIGN.md). */
enum cli_role {
	CLI_ROLE_SITE,       /* hospital data officer */
	CLI_ROLE_OPERATOR,   /* consortium operator */
	CLI_ROLE_RESEARCHER, /* consortium researcher */
	CLI_ROLE_AUDITOR,    /* regulator / auditor */
	CLI_ROLE_ANYONE,
	CLI_ROLE_COUNT_
};

/* The state of one run of radfed, passed to every handler. */
struct cli_ctx {
	FILE *out; /* results (stdout) */
	FILE *err; /* human-readable errors and progress (stderr) */
	int json;  /* --json on the command line: results and errors are JSON
		    * objects on out */
	int argc;    /* the whole command line, as main() received it: */
	char **argv; /* what cli_exec_full() hands over */
};

struct cli_cmd;

/* A command handler. argv[0] is the command's own word ("version", or
 * "init" for `radfed site init`), argv[1..argc-1] its options and
 * operands, argv[argc] NULL. Returns the exit status. */
typedef enum cli_exit cli_handler_fn(const struct cli_cmd *cmd, int argc,
				     char **argv, struct cli_ctx *ctx);

struct cli_cmd {
	const char *group;   /* "site", "agg", ...; NULL for top-level */
	const char *name;    /* the command's word: "init", "version" */
	enum cli_role role;  /* heading in `radfed help` */
	const char *summary; /* one line, lowercase, no final period */
	const char *usage;   /* what follows the name in the synopsis */
	const char *help;    /* description and options for --help */
	cli_handler_fn *run;
};

struct cli_group {
	const char *name;    /* "site" */
	const char *summary; /* one line, lowercase, no final period */
};

/* The command and group tables (cli_table.c), each ending with a row whose
 * name is NULL. */
extern const struct cli_cmd cli_commands[];
extern const struct cli_group cli_groups[];

/* ---- lookup (cli.c) ---------------------------------------------------- */

/* The command `group name` (group NULL: top-level), or NULL. */
const struct cli_cmd *cli_cmd_find(const char *group, const char *name);

/* The group called name if it has at least one command, or NULL. */
const struct cli_group *cli_group_find(const char *name);

/* ---- output (cli.c) ---------------------------------------------------- */

/* Maps an error code to the exit status: RF_OK -> 0, RF_EPOLICY and
 * RF_EAUTH -> 4 (refused), everything else -> 1 (failed). Handlers that
 * find a partial failure or an integrity mismatch return 3 or 5 themselves.
 */
enum cli_exit cli_exit_from_rc(enum rf_rc rc);

/* Reports a failed operation: "radfed: <message>" on err, or with --json
 * {"error": {"code": "<rf_rc_name>", "message": "..."}} on out. Returns
 * cli_exit_from_rc(e->rc). */
enum cli_exit cli_fail(struct cli_ctx *ctx, const struct rf_err *e);

/* Reports a usage error, formatted like printf, then "run 'radfed help' for
 * the list of commands" (or the command's --help when cmd is given) on err;
 * with --json the message goes out as an error object with code "EINVAL".
 * Returns CLI_EXIT_USAGE. */
enum cli_exit cli_usage(struct cli_ctx *ctx, const struct cli_cmd *cmd,
			const char *fmt, ...) RF_PRINTF(3, 4);

/* Writes s as a JSON string literal, quotes included, escaping '"', '\\'
 * and control characters; bytes >= 0x80 pass through unchanged. */
void cli_json_string(FILE *f, const char *s);

/* ---- help (cli.c) ------------------------------------------------------ */

/* `radfed help`: the synopsis and every command, grouped by role. */
void cli_help_all(FILE *f);

/* `radfed CMD --help`: the command's synopsis, summary and help text. */
void cli_help_command(FILE *f, const struct cli_cmd *cmd);

/* `radfed GROUP --help`: the group's subcommands. */
void cli_help_group(FILE *f, const struct cli_group *g);

/* ---- options (cli.c) --------------------------------------------------- */

/* Resets getopt's state before a handler parses its argv (glibc needs
 * optind = 0 to forget a previous scan) and silences getopt's own
 * messages: handlers report through cli_bad_option(). */
void cli_getopt_reset(void);

/* Reports what getopt_long just rejected (c is '?' or ':', with an
 * optstring starting with ':'): the unknown option, with the closest of
 * longopts as a suggestion, or the option missing its argument. Returns
 * CLI_EXIT_USAGE. */
enum cli_exit cli_bad_option(struct cli_ctx *ctx, const struct cli_cmd *cmd,
			     int c, char **argv,
			     const struct option *longopts);

/* Reports an unknown command word (words[0..n-1], e.g. {"site",
 * "inti"}), suggesting the closest existing command or group. Returns
 * CLI_EXIT_USAGE. */
enum cli_exit cli_unknown_command(struct cli_ctx *ctx, char **words, int n);

/* Reads s as a whole decimal number in lo..hi into *out: digits only (no
 * sign, space or suffix), no overflow. Returns 0, or -1 with *out
 * untouched. */
int cli_parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out);

/* Reads s as a finite number (strtod's syntax, nothing after it) in
 * [lo, hi] into *out. Returns 0, or -1 with *out untouched. */
int cli_parse_double(const char *s, double lo, double hi, double *out);

/* Edit distance (Levenshtein, with adjacent transpositions counting as
 * one) between a and b; a large value when either is longer than 64. */
int cli_distance(const char *a, const char *b);

/* ---- the two executables (cli_front.c) --------------------------------- */

/* In the light `radfed` front only: replaces the process with the full
 * binary, `radfed-full` next to the front's own file (found through
 * /proc/self/exe), else ../libexec/radfed/radfed-full from there, running
 * ctx->argv (main()'s argv, a leading --help or --version already replaced
 * by its command word); the full binary dispatches the command again and
 * gives it its output and exit status. Returns only when no full binary
 * could be run: reports why through cli_fail() and returns
 * CLI_EXIT_FAILED. Not thread-safe (exec); call only from a handler. */
enum cli_exit cli_exec_full(struct cli_ctx *ctx);

/* ---- handlers ---------------------------------------------------------- */
/* The front links the handlers of cli_front_cmds (CMakeLists.txt) and
 * defines every other one as a call of cli_exec_full() (cli_front.c). */
cli_handler_fn cli_cmd_help;    /* cmd_help.c */
cli_handler_fn cli_cmd_version; /* cmd_version.c */
cli_handler_fn cli_cmd_demo;    /* cmd_demo.c */
cli_handler_fn cli_cmd_anon;    /* cmd_anon.c */
cli_handler_fn cli_cmd_site_init; /* cmd_site.c */
cli_handler_fn cli_cmd_site_ingest; /* cmd_site.c */
cli_handler_fn cli_cmd_site_serve; /* cmd_site.c */
cli_handler_fn cli_cmd_synth;   /* cmd_synth.c */
cli_handler_fn cli_cmd_train;   /* cmd_train.c */
cli_handler_fn cli_cmd_eval;    /* cmd_train.c */
cli_handler_fn cli_cmd_agg_init;    /* cmd_agg.c */
cli_handler_fn cli_cmd_agg_invite;  /* cmd_agg.c */
cli_handler_fn cli_cmd_agg_revoke;  /* cmd_agg.c */
cli_handler_fn cli_cmd_agg_sites;   /* cmd_agg.c */
cli_handler_fn cli_cmd_agg_serve;   /* cmd_agg.c */
cli_handler_fn cli_cmd_site_enroll; /* cmd_id.c */
cli_handler_fn cli_cmd_id_enroll;   /* cmd_id.c */
cli_handler_fn cli_cmd_audit_verify;     /* cmd_audit.c */
cli_handler_fn cli_cmd_audit_crosscheck; /* cmd_audit.c */
cli_handler_fn cli_cmd_audit_report;     /* cmd_audit.c */
cli_handler_fn cli_cmd_round_start;      /* cmd_round.c */
cli_handler_fn cli_cmd_round_status;     /* cmd_round.c */
cli_handler_fn cli_cmd_round_watch;      /* cmd_round.c */
cli_handler_fn cli_cmd_model_export;     /* cmd_model.c */

/* The number under "key" in a flat JSON object (a site's metrics_json):
 * 0 and *out set, or -1 when the key is missing, null or not a number.
 * cmd_round.c. */
int cli_metric(const char *json, const char *key, double *out);

#endif
