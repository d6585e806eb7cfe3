/* cmd_demo.c - `radfed demo [--dir DIR]`: what radfed does today, end to
 * end on one machine, leaving every file it made in DIR for inspection. */
#include "cli.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "anon_batch.h"
#include "anon_dicom.h"
#include "anon_report.h"
#include "anon_synth.h"
#include "anon_textgen.h"
#include "node_ingest.h"
#include "node_site.h"
#include "rf_alloc.h"
#include "rf_crypto.h"
#include "rf_file.h"
#include "rf_version.h"
#include "trn.h"

#define DEMO_REPORTS 200
#define DEMO_PATIENTS 12
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

/* Prints a few identifying attributes of d, one per line. */
static void print_header(FILE *f, const struct anon_dicom *d)
{
	static const struct {
		uint32_t tag;
		const char *name;
	} rows[] = {
		{ANON_TAG(0x0010, 0x0010), "PatientName"},
		{ANON_TAG(0x0010, 0x0020), "PatientID"},
		{ANON_TAG(0x0010, 0x0030), "PatientBirthDate"},
		{ANON_TAG(0x0008, 0x0050), "AccessionNumber"},
		{ANON_TAG(0x0008, 0x0020), "StudyDate"},
		{ANON_TAG(0x0008, 0x0080), "InstitutionName"},
		{ANON_TAG(0x0008, 0x0090), "ReferringPhysicianName"},
		{ANON_TAG(0x0020, 0x000d), "StudyInstanceUID"},
	};
	struct rf_buf b = RF_BUF_INIT(1024);
	const struct anon_elem *el;
	size_t i;

	for (i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		el = anon_ds_find(&d->ds, rows[i].tag);
		rf_buf_reset(&b);
		if (el && anon_ds_text(&d->ds, el, &b, NULL) != RF_OK)
			rf_buf_reset(&b);
		fprintf(f, "    | %-22s %s\n", rows[i].name,
			el ? rf_buf_str(&b) : "(removed)");
	}
	rf_buf_release_secret(&b);
}

/* Makes a synthetic imaging set and a site, shows one header before and
 * after de-identification with the site's keys, then ingests the whole set
 * into the site (radfed site ingest): store and dataset.h5. */
static enum rf_rc demo_images(struct cli_ctx *ctx, const char *dir,
			      struct rf_err *e)
{
	struct anon_synth_opts so = {DEMO_PATIENTS, 2026, 0, 128};
	struct node_ingest_config ic = {NULL, "radfed " RADFED_VERSION, false};
	struct anon_synth_stats ss;
	struct node_ingest_stats is;
	struct node_site_deid sd;
	struct anon_deid_result r;
	struct node_site *site = NULL;
	struct anon_dicom *d = NULL;
	char synth[4096], sdir[4096], path[4200], labels[4200];
	char dicom[4200], reports[4200], yaml[4200];
	char *inputs[2] = {dicom, reports};
	struct stat st;
	enum rf_rc rc;

	anon_deid_result_init(&r);
	memset(&sd, 0, sizeof sd);
	snprintf(synth, sizeof synth, "%s/synth", dir);
	snprintf(sdir, sizeof sdir, "%s/site-a", dir);
	snprintf(path, sizeof path, "%s/dicom/00001/1/1/01.dcm", synth);
	snprintf(dicom, sizeof dicom, "%s/dicom", synth);
	snprintf(reports, sizeof reports, "%s/reports", synth);
	snprintf(labels, sizeof labels, "%s/labels.csv", synth);
	if (stat(labels, &st) != 0) {
		rc = anon_synth_run(synth, &so, NULL, NULL, &ss, e);
		if (rc)
			goto out;
		fprintf(ctx->out, "  radfed synth: %u patients, %u studies, "
			"%u DICOM files (%u with burned-in text), %u reports, "
			"%u planted identifiers in %s\n",
			ss.patients, ss.studies, ss.files, ss.quarantine,
			ss.reports, ss.identifiers, synth);
	}
	snprintf(yaml, sizeof yaml, "%s/site.yaml", sdir);
	if (stat(yaml, &st) != 0) {
		rc = node_site_init(sdir, "demo-site-a", e);
		if (rc)
			goto out;
		fprintf(ctx->out, "  radfed site init: site 'demo-site-a' in "
			"%s\n", sdir);
	}
	rc = node_site_open(sdir, &site, e);
	if (!rc)
		rc = node_site_deid_open(site, ic.version, &sd, e);
	if (!rc)
		rc = anon_dicom_read_file(path, (size_t)64 << 20, NULL, &d, e);
	if (rc)
		goto out;
	fputs("  one image header as the hospital's PACS holds it:\n",
	      ctx->out);
	print_header(ctx->out, d);
	rc = anon_deid_apply(&sd.cfg, d, &r, e);
	if (rc)
		goto out;
	fputs("  the same header after radfed (keyed pseudonyms, dates "
	      "shifted per patient):\n", ctx->out);
	print_header(ctx->out, d);

	ic.labels = labels;
	rc = node_ingest_run(site, inputs, 2, &ic, &is, e);
	if (rc)
		goto out;
	fprintf(ctx->out, "  radfed site ingest: %zu inputs: %zu written, "
		"%zu quarantined (burned-in text), %zu failed;\n"
		"    %s/store/dataset.h5: %zu images of %dx%d, %zu labelled "
		"(%zu positive)\n",
		is.inputs, is.written, is.quarantined, is.failed, sdir,
		is.records, site->image_size, site->image_size, is.labelled,
		is.positives);
out:
	anon_dicom_destroy(d);
	anon_deid_result_release(&r);
	node_site_deid_close(&sd);
	node_site_close(site);
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
	if (!ctx->json)
		fputs("\n2. de-identification of a synthetic imaging set\n",
		      ctx->out);
	if (demo_images(ctx, dir, &e))
		return cli_fail(ctx, &e);
	return CLI_EXIT_OK;
}
