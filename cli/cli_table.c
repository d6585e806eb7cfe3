/* cli_table.c - every command and group of radfed, in one place. */
#include "cli.h"

#include <stddef.h>

/*
 * The groups. A group is listed, and `radfed GROUP --help` works, as soon
 * as cli_commands[] has a row in it.
 */
const struct cli_group cli_groups[] = {
	{"site", "the hospital node: set up, enrol, ingest, serve"},
	{"agg", "the consortium aggregator: CA, invitations, sites, serving"},
	{"round", "federated training rounds"},
	{"model", "the models a federation trained"},
	{"audit", "the tamper-evident audit logs"},
	{"policy", "site policy files"},
	{NULL, NULL},
};

/*
 * The commands.
 *
 * To add a command, e.g. `radfed site status`:
 *   1. add one row below: {"site", "status", CLI_ROLE_SITE, summary,
 *      usage, help, cli_cmd_site_status}. The summary is one lowercase
 *      line without a final period; usage is what follows `radfed site
 *      status` in the synopsis; help describes it and lists every option,
 *      including -h, --help (and --json when it takes it);
 *   2. declare `cli_handler_fn cli_cmd_site_status;` at the end of cli.h;
 *   3. write the handler in cli/cmd_site.c (cmd_<name>.c for a top-level
 *      command): parse with cli_getopt_reset() + getopt_long() using an
 *      optstring that starts with ':', answer -h/--help with
 *      cli_help_command(), hand anything else getopt rejects to
 *      cli_bad_option(), report failures with cli_fail(), and return an
 *      enum cli_exit;
 *   4. document it in docs/cli.md and test it in tests/cli/.
 * Help, suggestions, grouping and dispatch follow from the row.
 */
const struct cli_cmd cli_commands[] = {
	{NULL, "help", CLI_ROLE_ANYONE,
	 "show the commands, or the help of one command",
	 "[COMMAND [SUBCOMMAND]]",
	 "Without arguments, lists every command grouped by role. With a\n"
	 "command (`radfed help version`, `radfed help site init`) or a\n"
	 "group (`radfed help site`), shows its help, like --help.\n"
	 "\n"
	 "options:\n"
	 "  -h, --help  show this help\n",
	 cli_cmd_help},
	{NULL, "version", CLI_ROLE_ANYONE,
	 "print the versions of radfed and of its libraries",
	 "[--json]",
	 "Prints `radfed <version>`, then one line per library with the\n"
	 "version linked at run time: grpc (gRPC core's own numbering, not\n"
	 "the gRPC release: 29.0.0 for gRPC 1.51), protobuf-c, openssl,\n"
	 "hdf5, dnnl (oneDNN, with its git hash), libyaml, sqlite, zlib.\n"
	 "`radfed --version` is the same command.\n"
	 "\n"
	 "options:\n"
	 "  --json      one JSON object: {\"radfed\": ..., \"libraries\":\n"
	 "              {\"grpc\": ..., ...}, \"notes\": {...}}\n"
	 "  -h, --help  show this help\n",
	 cli_cmd_version},
	{NULL, "demo", CLI_ROLE_ANYONE,
	 "show what radfed does, on synthetic data, in one run",
	 "[--dir DIR] [--json]",
	 "Runs what radfed can do today on synthetic data and leaves every\n"
	 "file it made in DIR (default: demo-out) for inspection:\n"
	 "  1. generates 200 French radiology reports with planted\n"
	 "     identifiers (names, NIR, IPP, phones, e-mails, addresses,\n"
	 "     dates, ages), de-identifies them, prints one before and after\n"
	 "     and the replacements per category.\n"
	 "Later versions run a whole federation here: a CA, an aggregator,\n"
	 "three sites and a researcher's training rounds.\n"
	 "\n"
	 "options:\n"
	 "  --dir DIR   where to write (created if missing; files replaced)\n"
	 "  --json      one JSON object per step on stdout\n"
	 "  -h, --help  show this help\n",
	 cli_cmd_demo},
	{NULL, NULL, CLI_ROLE_ANYONE, NULL, NULL, NULL, NULL},
};
