/* node_ingest.c - `radfed site ingest`: store, then dataset.h5. */
#include "node_ingest.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "anon_batch.h"
#include "anon_dicom.h"
#include "anon_pixel.h"
#include "anon_pseudo.h"
#include "rf_alloc.h"
#include "rf_buf.h"
#include "rf_crypto.h"
#include "rf_file.h"
#include "rf_progress.h"
#include "rf_tensor.h"

#define TAG_SOP_UID 0x00080018u
#define TAG_ACCESSION 0x00080050u
#define TAG_PATIENT_ID 0x00100020u
#define TAG_STUDY_UID 0x0020000Du

#define NORMALISATION "min-max per image to [0, 1]"
#define RESAMPLING "area average to shrink, bilinear to enlarge"

/* ---- resampling and normalisation ------------------------------------- */

/* One axis of n source samples (stride ss) into m outputs (stride ds). */
static void axis(const float *s, size_t n, size_t ss, float *d, size_t m,
		 size_t ds)
{
	double scale = (double)n / (double)m;
	size_t j, i;

	if (m <= n) {
		for (j = 0; j < m; j++) {
			double a = (double)j * scale, b = a + scale, acc = 0;

			for (i = (size_t)a; i < n && (double)i < b; i++) {
				double lo = (double)i > a ? (double)i : a;
				double hi = (double)(i + 1) < b ?
						    (double)(i + 1) : b;

				acc += (double)s[i * ss] * (hi - lo);
			}
			d[j * ds] = (float)(acc / scale);
		}
		return;
	}
	for (j = 0; j < m; j++) {
		double x = ((double)j + 0.5) * scale - 0.5, f;
		size_t i0, i1;

		if (x < 0)
			x = 0;
		i0 = (size_t)x;
		if (i0 > n - 1)
			i0 = n - 1;
		i1 = i0 + 1 < n ? i0 + 1 : i0;
		f = x - (double)i0;
		d[j * ds] = (float)((1 - f) * s[i0 * ss] + f * s[i1 * ss]);
	}
}

enum rf_rc node_ingest_resample(const float *src, uint32_t sh, uint32_t sw,
				float *dst, uint32_t dh, uint32_t dw,
				float *tmp, struct rf_err *e)
{
	size_t r, c;

	if (!src || !dst || !tmp || !sh || !sw || !dh || !dw)
		return rf_err_set(e, RF_EINVAL, "cannot resample %ux%u to "
				  "%ux%u", sh, sw, dh, dw);
	for (r = 0; r < sh; r++)
		axis(src + r * sw, sw, 1, tmp + r * dw, dw, 1);
	for (c = 0; c < dw; c++)
		axis(tmp + c, sh, dw, dst + c, dh, dw);
	return RF_OK;
}

void node_ingest_normalise(float *v, size_t n)
{
	float lo = INFINITY, hi = -INFINITY;
	size_t i;

	for (i = 0; i < n; i++) {
		if (!isfinite(v[i])) {
			v[i] = 0;
			continue;
		}
		if (v[i] < lo)
			lo = v[i];
		if (v[i] > hi)
			hi = v[i];
	}
	for (i = 0; i < n; i++) {
		if (!(hi > lo)) {
			v[i] = 0;
			continue;
		}
		v[i] = (float)(((double)v[i] - lo) / ((double)hi - lo));
		if (v[i] > 1)
			v[i] = 1;
	}
}

/* ---- labels ------------------------------------------------------------ */

struct label {
	char key[ANON_UID_SIZE]; /* pseudonym */
	int32_t value;
};

struct labels {
	struct label *acc, *uid; /* sorted by key */
	size_t n_acc, n_uid;
};

static int label_cmp(const void *a, const void *b)
{
	return strcmp(((const struct label *)a)->key,
		      ((const struct label *)b)->key);
}

static void labels_release(struct labels *l)
{
	rf_free(l->acc);
	rf_free(l->uid);
	memset(l, 0, sizeof *l);
}

/* Reads the labels file path into b and sizes l's tables for one label
 * per line. On failure l is empty. */
static enum rf_rc labels_read(const char *path, struct rf_buf *b,
			      struct labels *l, struct rf_err *e)
{
	size_t rows = 1, i;
	enum rf_rc rc;

	memset(l, 0, sizeof *l);
	rc = rf_file_read(path, b, e);
	if (rc == RF_ETOOBIG)
		return rf_err_set(e, RF_ETOOBIG, "labels '%s' are larger than "
				  "%zu bytes", path, NODE_INGEST_LABELS_MAX);
	if (rc)
		return rc;
	for (i = 0; i < b->len; i++)
		rows += b->data[i] == '\n';
	l->acc = rf_calloc(rows, sizeof *l->acc);
	l->uid = rf_calloc(rows, sizeof *l->uid);
	if (!l->acc || !l->uid) {
		labels_release(l);
		return rf_err_set(e, RF_ENOMEM, "out of memory for %zu labels",
				  rows);
	}
	return RF_OK;
}

/* Field [p, q) with spaces, tabs and a CR trimmed. */
static void trim(const char **p, const char **q)
{
	while (*p < *q && (**p == ' ' || **p == '\t'))
		(*p)++;
	while (*q > *p && ((*q)[-1] == ' ' || (*q)[-1] == '\t' ||
			   (*q)[-1] == '\r'))
		(*q)--;
}

/* Parses one data line of the CSV into the tables. */
static enum rf_rc label_line(const char *p, const char *end,
			     const struct anon_pseudo *ps, struct labels *l,
			     const char *path, size_t line, struct rf_err *e)
{
	const char *f[3], *fe[3];
	char num[16];
	enum rf_rc rc;
	size_t k = 0, len;
	long v;
	char *stop;

	f[0] = p;
	for (; p < end; p++) {
		if (*p != ',')
			continue;
		if (k == 2)
			return rf_err_set(e, RF_EINVAL, "'%s':%zu: more than "
					  "3 fields", path, line);
		fe[k++] = p;
		f[k] = p + 1;
	}
	if (k != 2)
		return rf_err_set(e, RF_EINVAL, "'%s':%zu: %zu fields, "
				  "expected 3", path, line, k + 1);
	fe[2] = end;
	for (k = 0; k < 3; k++)
		trim(&f[k], &fe[k]);
	len = (size_t)(fe[2] - f[2]);
	if (len == 0 || len >= sizeof num)
		return rf_err_set(e, RF_EINVAL, "'%s':%zu: the label is not "
				  "an integer", path, line);
	memcpy(num, f[2], len);
	num[len] = '\0';
	errno = 0;
	v = strtol(num, &stop, 10);
	if (errno || *stop || v < 0 || v > INT32_MAX)
		return rf_err_set(e, RF_EINVAL, "'%s':%zu: the label is not "
				  "an integer from 0 to %d", path, line,
				  INT32_MAX);
	if (fe[0] > f[0]) {
		struct label *t = &l->acc[l->n_acc];

		rc = anon_pseudo_id(ps, ANON_ID_ACCESSION, f[0],
				    (size_t)(fe[0] - f[0]), t->key,
				    sizeof t->key, e);
		if (rc)
			return rc;
		t->value = (int32_t)v;
		l->n_acc++;
	}
	if (fe[1] > f[1]) {
		struct label *t = &l->uid[l->n_uid];

		rc = anon_pseudo_uid(ps, f[1], (size_t)(fe[1] - f[1]), t->key,
				     sizeof t->key, e);
		if (rc)
			return rc;
		t->value = (int32_t)v;
		l->n_uid++;
	}
	return RF_OK;
}

/*
 * Reads the CSV "accession_number,study_instance_uid,label" (header line
 * first) and keeps, for each row, the pseudonyms of its accession number
 * and of its study UID with the label. The original identifiers are not
 * kept.
 */
static enum rf_rc labels_load(const char *path, const struct anon_pseudo *ps,
			      struct labels *l, struct rf_err *e)
{
	static const char header[] = "accession_number,study_instance_uid,"
				     "label";
	struct rf_buf b = RF_BUF_INIT(NODE_INGEST_LABELS_MAX);
	const char *p, *end, *nl;
	size_t line = 0;
	enum rf_rc rc;

	rc = labels_read(path, &b, l, e);
	if (rc)
		goto out;
	p = (const char *)b.data;
	end = p + b.len;
	if (end - p >= 3 && !memcmp(p, "\xef\xbb\xbf", 3))
		p += 3; /* a UTF-8 byte order mark, as spreadsheets write */
	for (; p < end; p = nl + 1) {
		const char *q;

		nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			nl = end;
		line++;
		q = nl;
		trim(&p, &q);
		if (line == 1) {
			if ((size_t)(q - p) != sizeof header - 1 ||
			    memcmp(p, header, sizeof header - 1)) {
				rc = rf_err_set(e, RF_EINVAL, "'%s':1: the "
						"header is not '%s'", path,
						header);
				goto out;
			}
			continue;
		}
		if (q == p)
			continue;
		rc = label_line(p, q, ps, l, path, line, e);
		if (rc)
			goto out;
	}
	if (line == 0) {
		rc = rf_err_set(e, RF_EINVAL, "'%s' is empty", path);
		goto out;
	}
	qsort(l->acc, l->n_acc, sizeof *l->acc, label_cmp);
	qsort(l->uid, l->n_uid, sizeof *l->uid, label_cmp);
out:
	if (rc)
		labels_release(l);
	rf_buf_release(&b);
	return rc;
}

/*
 * The labels of the last --labels, kept in the store by pseudonym only
 * (store/labels.tsv: "a" or "u", pseudonymous accession or study UID,
 * label), so that a later ingest without --labels keeps them.
 */
static enum rf_rc labels_save(const char *path, const struct labels *l,
			      struct rf_err *e)
{
	struct rf_buf b = RF_BUF_INIT(NODE_INGEST_LABELS_MAX);
	enum rf_rc rc = RF_OK;
	size_t i;

	for (i = 0; !rc && i < l->n_acc; i++)
		rc = rf_buf_printf(&b, e, "a\t%s\t%d\n", l->acc[i].key,
				   (int)l->acc[i].value);
	for (i = 0; !rc && i < l->n_uid; i++)
		rc = rf_buf_printf(&b, e, "u\t%s\t%d\n", l->uid[i].key,
				   (int)l->uid[i].value);
	if (!rc)
		rc = rf_file_write_atomic(path, b.data ? (void *)b.data : "",
					  b.len, 0600, e);
	rf_buf_release(&b);
	return rc;
}

static enum rf_rc labels_restore(const char *path, struct labels *l,
				 struct rf_err *e)
{
	struct rf_buf b = RF_BUF_INIT(NODE_INGEST_LABELS_MAX);
	const char *p, *end, *nl, *t1, *t2;
	size_t line = 0, klen;
	enum rf_rc rc;
	char *stop;
	long v;

	rc = labels_read(path, &b, l, e);
	if (rc)
		goto out;
	p = (const char *)b.data;
	end = p + b.len;
	for (; p < end; p = nl + 1) {
		struct label *t;

		nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			nl = end;
		line++;
		t1 = memchr(p, '\t', (size_t)(nl - p));
		t2 = t1 ? memchr(t1 + 1, '\t', (size_t)(nl - t1 - 1)) : NULL;
		klen = t2 ? (size_t)(t2 - t1 - 1) : 0;
		if (!t2 || t1 != p + 1 || (*p != 'a' && *p != 'u') ||
		    klen == 0 || klen >= sizeof t->key) {
			rc = rf_err_set(e, RF_EPROTO, "'%s':%zu: malformed",
					path, line);
			goto out;
		}
		errno = 0;
		v = strtol(t2 + 1, &stop, 10);
		if (errno || stop != nl || v < 0 || v > INT32_MAX) {
			rc = rf_err_set(e, RF_EPROTO, "'%s':%zu: malformed",
					path, line);
			goto out;
		}
		t = *p == 'a' ? &l->acc[l->n_acc++] : &l->uid[l->n_uid++];
		memcpy(t->key, t1 + 1, klen);
		t->key[klen] = '\0';
		t->value = (int32_t)v;
	}
	qsort(l->acc, l->n_acc, sizeof *l->acc, label_cmp);
	qsort(l->uid, l->n_uid, sizeof *l->uid, label_cmp);
out:
	if (rc)
		labels_release(l);
	rf_buf_release(&b);
	return rc;
}

/* The label of a study: by accession pseudonym first, then by UID. */
static int32_t label_find(const struct labels *l, const char *acc,
			  const char *uid)
{
	struct label k, *hit = NULL;

	if (acc[0] && l->n_acc) {
		snprintf(k.key, sizeof k.key, "%s", acc);
		hit = bsearch(&k, l->acc, l->n_acc, sizeof k, label_cmp);
	}
	if (!hit && uid[0] && l->n_uid) {
		snprintf(k.key, sizeof k.key, "%s", uid);
		hit = bsearch(&k, l->uid, l->n_uid, sizeof k, label_cmp);
	}
	return hit ? hit->value : NODE_INGEST_NO_LABEL;
}

/* ---- the log ----------------------------------------------------------- */

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

/* One line about a store file left out of dataset.h5. rel is its path in
 * the store (pseudonyms only). */
static void log_undecodable(FILE *log, const char *rel, const char *reason)
{
	if (!log)
		return;
	fputs("{\"step\": \"dataset\", \"output\": ", log);
	json_str(log, rel);
	fputs(", \"outcome\": \"undecodable\", \"reason\": ", log);
	json_str(log, reason);
	fputs("}\n", log);
}

/* ---- dataset.h5 -------------------------------------------------------- */

/* Rows are appended to dataset.h5 in blocks of up to this many bytes of
 * images: every append reopens the datasets and recompresses their last,
 * partial chunk, so appending one row at a time costs a chunk's deflate
 * per image (about 50 ms for 64 x 64 images). */
#define BUILDER_BLOCK_BYTES ((size_t)8 << 20)

struct builder {
	struct rf_h5 *h;
	uint32_t size;
	float *grey, *tmp, *img; /* frame, sh x size, size x size */
	size_t grey_cap, tmp_cap;
	/* rows waiting to be appended: rows of pixels, labels, ids */
	float *rows;
	int32_t *labels, *ids;
	size_t pending, block; /* rows held, rows per block */
};

static const char *const meta_names[3] = { "/meta/patient", "/meta/study",
					   "/meta/sop" };

/* Text of one element of the file (empty when absent), at most cap - 1
 * bytes (longer values are refused). */
static enum rf_rc elem_text(const struct anon_dicom *d, uint32_t tag,
			    char *out, size_t cap, const char *rel,
			    struct rf_err *e)
{
	struct rf_buf b = RF_BUF_INIT(NODE_INGEST_ID_WIDTH * 4);
	const struct anon_elem *el = anon_ds_find(&d->ds, tag);
	enum rf_rc rc = RF_OK;
	char t[12];

	out[0] = '\0';
	if (!el)
		return RF_OK;
	rc = anon_ds_text(&d->ds, el, &b, e);
	if (rc == RF_OK && b.len >= cap)
		rc = rf_err_set(e, RF_EPROTO, "'%s': %s is longer than %zu "
				"characters", rel, anon_tag_str(tag, t),
				cap - 1);
	if (rc == RF_OK && b.len) {
		memcpy(out, b.data, b.len);
		out[b.len] = '\0';
	}
	rf_buf_release(&b);
	return rc;
}

static enum rf_rc grow(float **p, size_t *cap, size_t n, struct rf_err *e)
{
	float *q;

	if (n <= *cap)
		return RF_OK;
	q = rf_mallocarray(n, sizeof *q);
	if (!q)
		return rf_err_set(e, RF_ENOMEM, "out of memory for %zu pixels",
				  n);
	rf_free(*p);
	*p = q;
	*cap = n;
	return RF_OK;
}

/*
 * Decodes one store file into b->img. Failures that concern the image
 * itself (not decodable) are returned as RF_EUNSUPPORTED/RF_EPROTO with
 * the reason in e; the caller decides to skip.
 */
static enum rf_rc image_load(struct builder *b, const struct anon_dicom *d,
			     const char *rel, struct rf_err *e)
{
	struct anon_image im;
	size_t n;
	enum rf_rc rc;

	rc = anon_image_describe(d, rel, &im, e);
	if (rc)
		return rc;
	n = (size_t)im.rows * im.cols;
	if ((rc = grow(&b->grey, &b->grey_cap, n, e)) ||
	    (rc = grow(&b->tmp, &b->tmp_cap, (size_t)im.rows * b->size, e)))
		return rc;
	/* frame 0 only: the first frame of a multi-frame image */
	rc = anon_pixel_frame_grey(d, &im, 0, b->grey, e);
	if (rc)
		return rc;
	rc = node_ingest_resample(b->grey, im.rows, im.cols, b->img, b->size,
				  b->size, b->tmp, e);
	if (rc)
		return rc;
	node_ingest_normalise(b->img, (size_t)b->size * b->size);
	return RF_OK;
}

static void id_row(int32_t *row, const char *s)
{
	size_t i;

	for (i = 0; i < NODE_INGEST_ID_WIDTH; i++)
		row[i] = *s ? (int32_t)(unsigned char)*s++ : 0;
}

/* Appends the pending rows to the five datasets. */
static enum rf_rc builder_flush(struct builder *b, struct rf_err *e)
{
	size_t px = (size_t)b->size * b->size, n = b->pending;
	enum rf_rc rc;
	int k;

	if (!n)
		return RF_OK;
	b->pending = 0;
	if ((rc = rf_h5_append_rows(b->h, "/images", RF_DTYPE_F32, n, b->rows,
				    n * px, e)) ||
	    (rc = rf_h5_append_rows(b->h, "/labels", RF_DTYPE_I32, n,
				    b->labels, n, e)))
		return rc;
	for (k = 0; k < 3; k++) {
		int32_t *col = b->ids + 3 * NODE_INGEST_ID_WIDTH * b->block;

		/* gather column k of the id rows */
		for (size_t r = 0; r < n; r++)
			memcpy(col + r * NODE_INGEST_ID_WIDTH,
			       b->ids + (r * 3 + (size_t)k) *
						NODE_INGEST_ID_WIDTH,
			       NODE_INGEST_ID_WIDTH * sizeof *col);
		rc = rf_h5_append_rows(b->h, meta_names[k], RF_DTYPE_I32, n,
				       col, n * NODE_INGEST_ID_WIDTH, e);
		if (rc)
			return rc;
	}
	return RF_OK;
}

/* One store file: a record (pending until the block is full), or a line
 * in the log. */
static enum rf_rc add_file(struct builder *b, const char *path,
			   const char *rel, const struct labels *l, FILE *log,
			   struct node_ingest_stats *st, struct rf_err *e)
{
	char pid[NODE_INGEST_ID_WIDTH + 1], study[NODE_INGEST_ID_WIDTH + 1];
	char sop[NODE_INGEST_ID_WIDTH + 1], acc[NODE_INGEST_ID_WIDTH + 1];
	struct anon_dicom *d = NULL;
	struct rf_err ie = { 0 };
	size_t px = (size_t)b->size * b->size;
	enum rf_rc rc;
	int32_t label;

	rc = anon_dicom_read_file(path, ANON_BATCH_DEFAULT_MAX_FILE, NULL, &d,
				  &ie);
	if (rc == RF_OK)
		rc = image_load(b, d, rel, &ie);
	if (rc == RF_OK &&
	    !(rc = elem_text(d, TAG_PATIENT_ID, pid, sizeof pid, rel, &ie)) &&
	    !(rc = elem_text(d, TAG_STUDY_UID, study, sizeof study, rel,
			     &ie)) &&
	    !(rc = elem_text(d, TAG_SOP_UID, sop, sizeof sop, rel, &ie)))
		rc = elem_text(d, TAG_ACCESSION, acc, sizeof acc, rel, &ie);
	if (rc == RF_ENOMEM || rc == RF_EIO) {
		*e = ie;
		goto out;
	}
	if (rc) {
		st->undecodable++;
		log_undecodable(log, rel, rf_err_msg(&ie));
		rc = RF_OK;
		goto out;
	}
	label = label_find(l, acc, study);
	{
		size_t r = b->pending;
		int32_t *ids = b->ids + r * 3 * NODE_INGEST_ID_WIDTH;

		memcpy(b->rows + r * px, b->img, px * sizeof *b->img);
		b->labels[r] = label;
		id_row(ids, pid);
		id_row(ids + NODE_INGEST_ID_WIDTH, study);
		id_row(ids + 2 * NODE_INGEST_ID_WIDTH, sop);
		b->pending++;
	}
	if (b->pending == b->block && (rc = builder_flush(b, e)))
		goto out;
	st->records++;
	if (label != NODE_INGEST_NO_LABEL) {
		st->labelled++;
		if (label >= 1)
			st->positives++;
	}
out:
	anon_dicom_destroy(d);
	return rc;
}

static int is_dcm(const char *p)
{
	size_t n = strlen(p);

	return n > 4 && !strcmp(p + n - 4, ".dcm");
}

static enum rf_rc create_datasets(struct rf_h5 *h, uint32_t size,
				  struct rf_err *e)
{
	struct rf_tensor_info im = { RF_DTYPE_F32, 4, { 0, 1, size, size } };
	struct rf_tensor_info lb = { RF_DTYPE_I32, 1, { 0 } };
	struct rf_tensor_info id = { RF_DTYPE_I32, 2,
				     { 0, NODE_INGEST_ID_WIDTH } };
	struct rf_h5_wopts o = { { 0 }, 4, 1 };
	enum rf_rc rc;
	int k;

	if ((rc = rf_h5_create_rows(h, "/images", &im, &o, e)) ||
	    (rc = rf_h5_create_rows(h, "/labels", &lb, &o, e)))
		return rc;
	for (k = 0; k < 3; k++)
		if ((rc = rf_h5_create_rows(h, meta_names[k], &id, &o, e)))
			return rc;
	return RF_OK;
}

static enum rf_rc set_attrs(struct rf_h5 *h, uint32_t size,
			    const char *version,
			    const struct node_ingest_stats *st,
			    struct rf_err *e)
{
	enum rf_rc rc;

	if ((rc = rf_h5_attr_set_str(h, "/", "format", "radfed dataset 1",
				     e)) ||
	    (rc = rf_h5_attr_set_str(h, "/", "radfed_version", version, e)) ||
	    (rc = rf_h5_attr_set_i64(h, "/", "image_size", size, e)) ||
	    (rc = rf_h5_attr_set_i64(h, "/", "count",
				     (int64_t)st->records, e)) ||
	    (rc = rf_h5_attr_set_i64(h, "/", "labelled",
				     (int64_t)st->labelled, e)) ||
	    (rc = rf_h5_attr_set_i64(h, "/", "positives",
				     (int64_t)st->positives, e)) ||
	    (rc = rf_h5_attr_set_str(h, "/", "normalisation", NORMALISATION,
				     e)) ||
	    (rc = rf_h5_attr_set_str(h, "/", "resampling", RESAMPLING, e)) ||
	    (rc = rf_h5_attr_set_str(h, "/", "frames", "first frame only",
				     e)) ||
	    (rc = rf_h5_attr_set_str(h, "/", "labels_missing", "-1", e)))
		return rc;
	return rf_h5_attr_set_str(h, "/meta/sop", "encoding",
				  "one character code per int32, NUL-padded",
				  e);
}

static enum rf_rc build_dataset(const char *store, const char *path,
				uint32_t size, const char *version,
				const struct labels *l, FILE *log, bool draw,
				struct node_ingest_stats *st, struct rf_err *e)
{
	struct builder b;
	struct rf_progress *bar = NULL;
	char **files = NULL, *in[1];
	size_t n_files = 0, i, skip = strlen(store) + 1;
	enum rf_rc rc;

	memset(&b, 0, sizeof b);
	b.size = size;
	in[0] = (char *)store;
	if ((rc = anon_batch_collect(in, 1, &files, &n_files, e)))
		goto out;
	for (i = 0; i < n_files; i++)
		st->images += is_dcm(files[i]);
	b.block = BUILDER_BLOCK_BYTES / ((size_t)size * size * sizeof(float));
	if (b.block < 1)
		b.block = 1;
	b.img = rf_mallocarray((size_t)size * size, sizeof *b.img);
	b.rows = rf_mallocarray(b.block, (size_t)size * size * sizeof *b.rows);
	b.labels = rf_mallocarray(b.block, sizeof *b.labels);
	/* 3 id rows per record, plus one column of block rows to gather */
	b.ids = rf_mallocarray(b.block * 4,
			       NODE_INGEST_ID_WIDTH * sizeof *b.ids);
	if (!b.img || !b.rows || !b.labels || !b.ids) {
		rc = rf_err_set(e, RF_ENOMEM, "out of memory for an image");
		goto out;
	}
	if ((rc = rf_progress_create(&bar, "dataset", st->images, "img",
				     draw, NULL, e)) ||
	    (rc = rf_h5_create(path, &b.h, e)) ||
	    (rc = create_datasets(b.h, size, e)))
		goto out;
	for (i = 0; i < n_files; i++) {
		if (!is_dcm(files[i]))
			continue;
		rc = add_file(&b, files[i], files[i] + skip, l, log, st, e);
		if (rc)
			goto out;
		rf_progress_add(bar, 1);
	}
	if ((rc = builder_flush(&b, e)) ||
	    (rc = set_attrs(b.h, size, version, st, e)) ||
	    (rc = rf_h5_commit(b.h, e)))
		goto out;
	rf_progress_finish(bar);
out:
	rf_progress_destroy(bar);
	rf_h5_close(b.h);
	anon_batch_paths_free(files, n_files);
	if (b.grey)
		rf_free_secret(b.grey, b.grey_cap * sizeof *b.grey);
	if (b.tmp)
		rf_free_secret(b.tmp, b.tmp_cap * sizeof *b.tmp);
	if (b.img)
		rf_free_secret(b.img, (size_t)size * size * sizeof *b.img);
	if (b.rows)
		rf_free_secret(b.rows,
			       b.block * (size_t)size * size * sizeof *b.rows);
	rf_free(b.labels);
	rf_free(b.ids);
	return rc;
}

/* ---- the run ----------------------------------------------------------- */

enum rf_rc node_ingest_run(const struct node_site *s, char *const *inputs,
			   size_t n, const struct node_ingest_config *cfg,
			   struct node_ingest_stats *st, struct rf_err *e)
{
	struct node_site_deid sd;
	char store[PATH_MAX], deid[PATH_MAX], logs[PATH_MAX];
	char logp[PATH_MAX], h5[PATH_MAX], kept[PATH_MAX];
	const char *version = cfg && cfg->version ? cfg->version : "radfed";
	bool draw = cfg && cfg->progress;
	struct anon_batch_config bc;
	struct anon_batch_stats bs;
	struct rf_progress *bar = NULL;
	struct labels l;
	char **paths = NULL;
	size_t n_paths = 0;
	FILE *log = NULL;
	enum rf_rc rc;

	memset(st, 0, sizeof *st);
	memset(&l, 0, sizeof l);
	memset(&bc, 0, sizeof bc);
	memset(&sd, 0, sizeof sd);
	if (!n)
		return rf_err_set(e, RF_EINVAL, "no input to ingest");
	if (s->image_size < 1 || s->image_size > 65535)
		return rf_err_set(e, RF_EINVAL, "image size %d out of range",
				  s->image_size);
	if ((rc = rf_path_join(store, sizeof store, s->dir, "store", e)) ||
	    (rc = rf_path_join(deid, sizeof deid, store, "deidentified", e)) ||
	    (rc = rf_path_join(h5, sizeof h5, store, "dataset.h5", e)) ||
	    (rc = rf_path_join(logs, sizeof logs, s->dir, "logs", e)) ||
	    (rc = rf_path_join(logp, sizeof logp, logs, "ingest.jsonl", e)))
		return rc;
	if ((rc = node_site_deid_open(s, version, &sd, e)))
		goto out;
	memcpy(bc.log_key, sd.log_key, sizeof bc.log_key);
	if ((rc = rf_path_join(kept, sizeof kept, store, "labels.tsv", e)))
		goto out;
	if (cfg && cfg->labels) {
		if ((rc = labels_load(cfg->labels, sd.pseudo, &l, e)) ||
		    (rc = rf_mkdirs(store, 0700, e)) ||
		    (rc = labels_save(kept, &l, e)))
			goto out;
	} else if (access(kept, F_OK) == 0 &&
		   (rc = labels_restore(kept, &l, e))) {
		goto out;
	}
	if ((rc = anon_batch_collect(inputs, n, &paths, &n_paths, e)) ||
	    (rc = rf_mkdirs(deid, 0700, e)) || (rc = rf_mkdirs(logs, 0700, e)))
		goto out;
	log = fopen(logp, "a");
	if (!log) {
		rc = rf_err_set(e, RF_EIO, "cannot open log '%s': %s", logp,
				strerror(errno));
		goto out;
	}
	if ((rc = rf_progress_create(&bar, "ingest", n_paths, "files", draw,
				     NULL, e)))
		goto out;
	bc.deid = &sd.cfg;
	bc.out_dir = deid;
	bc.jobs = s->jobs > 0 ? (unsigned)s->jobs : 1;
	bc.log = log;
	bc.progress = bar;
	if ((rc = anon_batch_run(&bc, paths, n_paths, &bs, e)))
		goto out;
	rf_progress_finish(bar);
	st->inputs = bs.inputs;
	st->written = bs.written;
	st->quarantined = bs.quarantined;
	st->skipped = bs.skipped;
	st->failed = bs.failed;
	rc = build_dataset(deid, h5, (uint32_t)s->image_size, version, &l, log,
			   draw, st, e);
	if (rc == RF_OK && fflush(log) != 0)
		rc = rf_err_set(e, RF_EIO, "cannot write log '%s': %s", logp,
				strerror(errno));
out:
	if (log && fclose(log) != 0 && rc == RF_OK)
		rc = rf_err_set(e, RF_EIO, "cannot write log '%s'", logp);
	rf_progress_destroy(bar);
	anon_batch_paths_free(paths, n_paths);
	labels_release(&l);
	node_site_deid_close(&sd);
	rf_zeroize(&bc, sizeof bc);
	return rc;
}
