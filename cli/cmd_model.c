/* cmd_model.c - `radfed model export`: downloads a global model of a round
 * (Control.ExportModel, chunked) into a model file, atomically, and checks
 * that it reads as a model file. */
#include "cli.h"

#include <getopt.h>
#include <limits.h>
#include <string.h>

#include "node_enroll.h"
#include "radfed.pb-c.h"
#include "rf_chunk.h"
#include "rf_pb.h"
#include "rf_rpc.h"
#include "trn_ckpt.h"

#define EXPORT_PATH "/radfed.Control/ExportModel"
/* Largest model file accepted. */
#define MODEL_MAX ((uint64_t)2 << 30)
/* Deadline of the whole download. */
#define EXPORT_MS 600000

enum cli_exit cli_cmd_model_export(const struct cli_cmd *cmd, int argc,
				   char **argv, struct cli_ctx *ctx)
{
	static const struct option opts[] = {
		{ "id", required_argument, NULL, 'i' },
		{ "aggregator", required_argument, NULL, 'a' },
		{ "round", required_argument, NULL, 'r' },
		{ "iteration", required_argument, NULL, 'n' },
		{ "latest", no_argument, NULL, 'l' },
		{ "out", required_argument, NULL, 'o' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	Radfed__ExportRequest req = RADFED__EXPORT_REQUEST__INIT;
	struct rf_buf msg = RF_BUF_INIT(4096);
	struct rf_chunk_in in;
	struct rf_rpc_client *cl = NULL;
	struct trn_ckpt_meta meta;
	const char *dir = NULL, *agg = NULL, *round = NULL, *out = NULL;
	char hex[2 * RF_SHA256_LEN + 1];
	struct rf_err e = { 0 };
	enum cli_exit x = CLI_EXIT_OK;
	uint64_t iter = 0, bytes = 0, v;
	int c, have_iter = 0, latest = 0;

	memset(&in, 0, sizeof in);
	in.fd = -1;
	cli_getopt_reset();
	while ((c = getopt_long(argc, argv, ":i:a:r:n:lo:h", opts, NULL)) !=
	       -1) {
		switch (c) {
		case 'i':
			dir = optarg;
			break;
		case 'a':
			agg = optarg;
			break;
		case 'r':
			if (cli_parse_u64(optarg, 1, INT64_MAX, &v))
				return cli_usage(ctx, cmd,
						 "--round '%s' is not a round "
						 "id", optarg);
			round = optarg;
			break;
		case 'n':
			if (cli_parse_u64(optarg, 0, 1000000, &iter))
				return cli_usage(ctx, cmd,
						 "--iteration must be a whole "
						 "number (0: the initial "
						 "model)");
			have_iter = 1;
			break;
		case 'l':
			latest = 1;
			break;
		case 'o':
			out = optarg;
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
	if (!dir || !round || !out)
		return cli_usage(ctx, cmd, "%s is required",
				 !dir ? "--id DIR"
				 : !round ? "--round ID" : "--out F.h5");
	if (have_iter == latest)
		return cli_usage(ctx, cmd,
				 "give one of --iteration N and --latest");
	req.round = (char *)round;
	req.round_no = iter;
	req.latest = latest;
	if (rf_pb_pack(&req.base, &msg, &e) ||
	    node_enroll_client_at(dir, agg, &cl, &e) ||
	    rf_chunk_in_file(&in, out, MODEL_MAX, &e) ||
	    rf_chunk_download(cl, EXPORT_PATH, msg.data, msg.len, EXPORT_MS,
			      &in, hex, &bytes, &e))
		goto fail;
	if (trn_ckpt_read_meta(out, &meta, &e)) {
		rf_err_prefix(&e, "exported '%s' is not a model file", out);
		goto fail;
	}
	if (ctx->json) {
		fputs("{\"round\": ", ctx->out);
		cli_json_string(ctx->out, round);
		fprintf(ctx->out, ", \"iteration\": %lld, \"sha256\": \"%s\", "
			"\"bytes\": %llu, \"model\": ",
			(long long)meta.round, hex, (unsigned long long)bytes);
		cli_json_string(ctx->out, meta.model);
		fprintf(ctx->out, ", \"input\": \"%u,%u,%u\", \"classes\": %u, "
			"\"out\": ", meta.channels, meta.height, meta.width,
			meta.classes);
		cli_json_string(ctx->out, out);
		fputs("}\n", ctx->out);
	} else {
		fprintf(ctx->out,
			"round %s, model after iteration %lld: %s "
			"(%ux%ux%u, %u classes)\n"
			"  %s  %llu bytes, sha256 %s\n",
			round, (long long)meta.round, meta.model,
			meta.channels, meta.height, meta.width, meta.classes,
			out, (unsigned long long)bytes, hex);
	}
	goto done;
fail:
	x = cli_fail(ctx, &e);
done:
	rf_chunk_in_release(&in);
	rf_rpc_client_destroy(cl);
	rf_buf_release(&msg);
	return x;
}
