/* cmd_train.c - `radfed train` and `radfed eval`: local training and
 * evaluation on a dataset.h5 (trainers/trn_train.h). */
#include "cli.h"

#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "rf_progress.h"
#include "trn.h"
#include "trn_train.h"

struct train_ui {
	struct cli_ctx *ctx;
	struct rf_progress *bar;
	bool draw;
	unsigned epoch;
	double loss; /* moving average of the batch losses */
};

/* JSON has no NaN: undefined figures are null. */
static void json_num(FILE *f, const char *key, double v, bool comma)
{
	fprintf(f, "%s\"%s\": ", comma ? ", " : "", key);
	if (isfinite(v))
		fprintf(f, "%.6g", v);
	else
		fputs("null", f);
}

static void json_confusion(FILE *f, const uint64_t *c, unsigned k)
{
	fputs(", \"confusion\": [", f);
	for (unsigned i = 0; c && i < k; i++) {
		fputs(i ? ", [" : "[", f);
		for (unsigned j = 0; j < k; j++)
			fprintf(f, "%s%" PRIu64, j ? ", " : "",
				c[(size_t)i * k + j]);
		fputc(']', f);
	}
	fputc(']', f);
}

static void on_step(void *p, unsigned epoch, size_t done, size_t total,
		    float loss)
{
	struct train_ui *ui = p;
	char label[64];

	if (!ui->draw)
		return;
	if (!ui->bar || ui->epoch != epoch) {
		rf_progress_destroy(ui->bar);
		ui->bar = NULL;
		ui->epoch = epoch;
		ui->loss = loss;
		if (rf_progress_create(&ui->bar, "", total, "img", true, NULL,
				       NULL) != RF_OK)
			return;
	}
	/* the label shows a running mean of the batch losses */
	ui->loss = 0.9 * ui->loss + 0.1 * (double)loss;
	snprintf(label, sizeof(label), "epoch %u loss %.4f", epoch, ui->loss);
	if (rf_progress_set_label(ui->bar, label, NULL) != RF_OK)
		return;
	rf_progress_set(ui->bar, done);
}

static void on_epoch(void *p, const struct trn_epoch_report *r)
{
	struct train_ui *ui = p;
	FILE *f = ui->ctx->out;

	if (ui->bar) {
		rf_progress_finish(ui->bar);
		rf_progress_destroy(ui->bar);
		ui->bar = NULL;
	}
	if (ui->ctx->json) {
		fprintf(f, "{\"epoch\": %u", r->epoch);
		json_num(f, "loss", r->loss, true);
		json_num(f, "val_loss", r->val_loss, true);
		json_num(f, "val_acc", r->val_acc, true);
		json_num(f, "val_bal_acc", r->val_bal_acc, true);
		json_num(f, "val_auc", r->val_auc, true);
		fprintf(f, ", \"train_images\": %zu, \"val_images\": %zu",
			r->train_images, r->val_images);
		json_num(f, "seconds", r->seconds, true);
		json_num(f, "images_per_s", r->images_per_s, true);
		json_confusion(f, r->confusion, r->classes);
		fputs("}\n", f);
	} else {
		fprintf(f,
			"epoch %u/%u  loss %.4f  val_loss %.4f  val_acc %.3f"
			"  val_auc %.3f  %.0f img/s\n",
			r->epoch, r->epochs, r->loss, r->val_loss, r->val_acc,
			r->val_auc, r->images_per_s);
	}
	fflush(f);
}

enum cli_exit cli_cmd_train(const struct cli_cmd *cmd, int argc, char **argv,
			    struct cli_ctx *ctx)
{
	enum { OPT_DATA = 256, OPT_MODEL, OPT_EPOCHS, OPT_BATCH, OPT_LR,
	       OPT_OPTIM, OPT_SEED, OPT_OUT, OPT_JSON, OPT_INIT, OPT_VAL,
	       OPT_MOMENTUM, OPT_WD, OPT_PROX, OPT_AUGMENT, OPT_DROPOUT,
	       OPT_BALANCE };
	static const struct option longopts[] = {
		{"data", required_argument, NULL, OPT_DATA},
		{"model", required_argument, NULL, OPT_MODEL},
		{"epochs", required_argument, NULL, OPT_EPOCHS},
		{"batch", required_argument, NULL, OPT_BATCH},
		{"lr", required_argument, NULL, OPT_LR},
		{"optimizer", required_argument, NULL, OPT_OPTIM},
		{"seed", required_argument, NULL, OPT_SEED},
		{"out", required_argument, NULL, OPT_OUT},
		{"init", required_argument, NULL, OPT_INIT},
		{"val-fraction", required_argument, NULL, OPT_VAL},
		{"momentum", required_argument, NULL, OPT_MOMENTUM},
		{"weight-decay", required_argument, NULL, OPT_WD},
		{"prox-mu", required_argument, NULL, OPT_PROX},
		{"augment", no_argument, NULL, OPT_AUGMENT},
		{"dropout", required_argument, NULL, OPT_DROPOUT},
		{"balance", no_argument, NULL, OPT_BALANCE},
		{"json", no_argument, NULL, OPT_JSON},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct trn_train_config c;
	struct trn_train_result res;
	struct train_ui ui = {ctx, NULL, false, 0, 0};
	struct rf_err err = {RF_OK, ""};
	bool momentum_set = false;
	uint64_t v;
	double d;
	enum rf_rc rc;
	int opt;

	trn_train_config_init(&c);
	cli_getopt_reset();
	while ((opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'h':
			cli_help_command(ctx->out, cmd);
			return CLI_EXIT_OK;
		case OPT_DATA:
			c.data = optarg;
			break;
		case OPT_MODEL:
			c.model = optarg;
			break;
		case OPT_OUT:
			c.out = optarg;
			break;
		case OPT_INIT:
			c.init = optarg;
			break;
		case OPT_EPOCHS:
			if (cli_parse_u64(optarg, 1, TRN_TRAIN_EPOCHS_MAX, &v))
				return cli_usage(ctx, cmd,
						 "--epochs must be 1..%u, "
						 "not '%s'",
						 TRN_TRAIN_EPOCHS_MAX, optarg);
			c.epochs = (unsigned)v;
			break;
		case OPT_BATCH:
			if (cli_parse_u64(optarg, 1, TRN_TRAIN_BATCH_MAX, &v))
				return cli_usage(ctx, cmd,
						 "--batch must be 1..%u, "
						 "not '%s'",
						 TRN_TRAIN_BATCH_MAX, optarg);
			c.batch = (unsigned)v;
			break;
		case OPT_SEED:
			if (cli_parse_u64(optarg, 0, UINT64_MAX, &v))
				return cli_usage(ctx, cmd,
						 "--seed must be a whole "
						 "number, not '%s'", optarg);
			c.seed = v;
			break;
		case OPT_LR:
			if (cli_parse_double(optarg, 1e-12, 10, &d))
				return cli_usage(ctx, cmd,
						 "--lr must be a number in "
						 "(0, 10], not '%s'", optarg);
			c.optim.lr = (float)d;
			break;
		case OPT_MOMENTUM:
			if (cli_parse_double(optarg, 0, 0.999999, &d))
				return cli_usage(ctx, cmd,
						 "--momentum must be in "
						 "[0, 1), not '%s'", optarg);
			c.optim.momentum = (float)d;
			momentum_set = true;
			break;
		case OPT_WD:
			if (cli_parse_double(optarg, 0, 1, &d))
				return cli_usage(ctx, cmd,
						 "--weight-decay must be in "
						 "[0, 1], not '%s'", optarg);
			c.optim.weight_decay = (float)d;
			break;
		case OPT_PROX:
			if (cli_parse_double(optarg, 0, 1000, &d))
				return cli_usage(ctx, cmd,
						 "--prox-mu must be in "
						 "[0, 1000], not '%s'",
						 optarg);
			c.optim.prox_mu = (float)d;
			break;
		case OPT_VAL:
			if (cli_parse_double(optarg, 0, 0.95, &d))
				return cli_usage(ctx, cmd,
						 "--val-fraction must be in "
						 "[0, 0.95], not '%s'",
						 optarg);
			c.val_fraction = d;
			break;
		case OPT_DROPOUT:
			if (cli_parse_double(optarg, 0, 0.95, &d))
				return cli_usage(ctx, cmd,
						 "--dropout must be in "
						 "[0, 0.95], not '%s'",
						 optarg);
			c.dropout = (float)d;
			break;
		case OPT_OPTIM:
			c.optim.kind = trn_optim_kind_from_name(optarg);
			if (!c.optim.kind)
				return cli_usage(ctx, cmd,
						 "--optimizer must be sgd or "
						 "adam, not '%s'", optarg);
			break;
		case OPT_AUGMENT:
			c.augment = true;
			break;
		case OPT_BALANCE:
			c.balance = true;
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
	if (!c.data || !c.model || !c.out)
		return cli_usage(ctx, cmd, "--data, --model and --out are "
				 "required");
	/* momentum is SGD's: 0.9 unless given */
	if (c.optim.kind == TRN_OPTIM_SGD && !momentum_set)
		c.optim.momentum = 0.9f;
	if (c.optim.kind == TRN_OPTIM_ADAM)
		c.optim.momentum = 0;
	ui.draw = rf_progress_should_draw(ctx->json);
	c.on_step = on_step;
	c.on_epoch = on_epoch;
	c.ctx = &ui;
	rc = trn_train_run(&c, &res, &err);
	rf_progress_destroy(ui.bar);
	if (rc)
		return cli_fail(ctx, &err);
	if (!ctx->json)
		fprintf(ctx->out,
			"wrote %s: %s, %zu parameters, sha256 %s, "
			"%.1f GFLOP/s\n",
			c.out, c.model, res.params, res.sha256, res.gflops);
	return CLI_EXIT_OK;
}

enum cli_exit cli_cmd_eval(const struct cli_cmd *cmd, int argc, char **argv,
			   struct cli_ctx *ctx)
{
	enum { OPT_DATA = 256, OPT_MODEL, OPT_BATCH, OPT_JSON };
	static const struct option longopts[] = {
		{"data", required_argument, NULL, OPT_DATA},
		{"model", required_argument, NULL, OPT_MODEL},
		{"batch", required_argument, NULL, OPT_BATCH},
		{"json", no_argument, NULL, OPT_JSON},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct trn_eval_result r;
	struct rf_err err = {RF_OK, ""};
	const char *data = NULL, *model = NULL;
	unsigned batch = TRN_TRAIN_BATCH;
	uint64_t v;
	FILE *f = ctx->out;
	int opt;

	cli_getopt_reset();
	while ((opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'h':
			cli_help_command(ctx->out, cmd);
			return CLI_EXIT_OK;
		case OPT_DATA:
			data = optarg;
			break;
		case OPT_MODEL:
			model = optarg;
			break;
		case OPT_BATCH:
			if (cli_parse_u64(optarg, 1, TRN_TRAIN_BATCH_MAX, &v))
				return cli_usage(ctx, cmd,
						 "--batch must be 1..%u, "
						 "not '%s'",
						 TRN_TRAIN_BATCH_MAX, optarg);
			batch = (unsigned)v;
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
	if (!data || !model)
		return cli_usage(ctx, cmd, "--data and --model are required");
	if (trn_eval_run(data, model, batch, &r, &err))
		return cli_fail(ctx, &err);
	if (ctx->json) {
		fputs("{\"model\": ", f);
		cli_json_string(f, r.model);
		fprintf(f, ", \"arch_version\": %" PRId64 ", \"round\": %"
			PRId64 ", \"images\": %zu", r.arch_version, r.round,
			r.images);
		json_num(f, "loss", r.loss, true);
		json_num(f, "acc", r.accuracy, true);
		json_num(f, "bal_acc", r.balanced_accuracy, true);
		json_num(f, "auc", r.auc, true);
		json_confusion(f, r.confusion, r.classes);
		fputs("}\n", f);
		return CLI_EXIT_OK;
	}
	fprintf(f, "%s (version %" PRId64 ", round %" PRId64 ") on %zu "
		"images: loss %.4f  acc %.3f  balanced acc %.3f  auc %.3f\n",
		r.model, r.arch_version, r.round, r.images, r.loss,
		r.accuracy, r.balanced_accuracy, r.auc);
	fputs("confusion (rows: true class, columns: predicted):\n", f);
	for (unsigned i = 0; i < r.classes; i++) {
		for (unsigned j = 0; j < r.classes; j++)
			fprintf(f, " %8" PRIu64,
				r.confusion[(size_t)i * r.classes + j]);
		fputc('\n', f);
	}
	return CLI_EXIT_OK;
}
