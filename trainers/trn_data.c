/*
 * trn_data.c - dataset.h5 read in shuffled mini-batches (trn_data.h).
 *
 * Random numbers: every draw comes from xoshiro256** (Blackman and Vigna,
 * 2018) whose 256-bit state is filled by splitmix64 from a domain constant
 * and the inputs it depends on (seed, epoch, record), so the order of an
 * epoch and the augmentation of a record are pure functions of them.
 * Bounded draws reject the low end of the 64-bit range (unbiased), and
 * permutations are Fisher-Yates shuffles.
 *
 * Patient split: HMAC-SHA-256 keyed by the seed as 8 little-endian bytes
 * over the pseudonym's characters (without the padding); the top 53 bits
 * of the MAC's first 8 bytes, read big-endian, divided by 2^53 give the
 * patient's fraction in [0, 1).
 */
#include "trn_data.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "rf_alloc.h"
#include "rf_crypto.h"
#include "rf_tensor.h"

/* Limits on what a file may ask for. */
#define RECORDS_MAX   ((size_t)1 << 24)
#define IMAGE_DIM_MAX 65536u
#define IMAGE_ELEMS_MAX ((size_t)1 << 24)  /* floats per image */
#define CLASSES_MAX   1024
#define ID_WIDTH      64                   /* /meta/patient row */
#define META_ROWS     1024                 /* rows read at a time */
#define BATCH_MAX     65536u
#define SHIFT_MAX     1024u
#define BUDGET_DEFAULT ((size_t)256 << 20)

/* Domains of the random streams. */
#define DOMAIN_ORDER 0x6f72646572ULL   /* "order" */
#define DOMAIN_AUG   0x6175676dULL     /* "augm" */

struct pkey {
	char s[ID_WIDTH];
	size_t k;          /* index among the labelled records */
};

struct trn_data {
	struct rf_h5 *h;
	struct trn_data_info info;
	size_t n;              /* labelled records */
	uint64_t *rows;        /* [n] their rows in the file, ascending */
	int32_t *labels;       /* [n] */
	size_t *patient;       /* [n] index into pkeys */
	char *pkeys;           /* [patients][ID_WIDTH] pseudonyms */
	uint8_t *val;          /* [n] 1 = validation side */
	size_t n_val;
};

struct trn_batcher {
	struct trn_data *d;
	struct trn_batcher_config cfg;
	size_t n;              /* records of the side */
	uint64_t *rows;        /* [n] file rows, ascending */
	int32_t *labels;       /* [n] */
	size_t row_elems;      /* floats per image */
	size_t row_bytes;
	/* cached: every image of the side, in position order */
	float *cache;
	size_t cache_rows;     /* rows allocated */
	/* blocks: positions [bstart[k], bstart[k+1]) span at most brows
	 * consecutive file rows */
	float *blockbuf;
	size_t brows;
	size_t nblocks;
	size_t *bstart;        /* [nblocks + 1] */
	size_t *block_of;      /* [n] */
	size_t *bperm;         /* [nblocks] order of the blocks */
	size_t loaded;         /* block in blockbuf, or SIZE_MAX */
	/* the epoch */
	size_t *order;         /* [n] positions */
	size_t next;           /* index into order */
	uint64_t epoch;
	int started;
	float *bimg;           /* [batch * row_elems] */
	int32_t *blab;         /* [batch] */
};

/* ---- random numbers ------------------------------------------------------ */

struct rng {
	uint64_t s[4];
};

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void rng_seed(struct rng *r, uint64_t domain, uint64_t seed,
		     uint64_t epoch, uint64_t record)
{
	uint64_t x = domain;
	int i;

	x = splitmix64(&x) ^ seed;
	x = splitmix64(&x) ^ epoch;
	x = splitmix64(&x) ^ record;
	for (i = 0; i < 4; i++)
		r->s[i] = splitmix64(&x);
}

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(struct rng *r)
{
	uint64_t *s = r->s;
	uint64_t out = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return out;
}

/* Uniform in [0, n), n >= 1, without modulo bias. */
static uint64_t rng_below(struct rng *r, uint64_t n)
{
	uint64_t lim = (0 - n) % n; /* 2^64 mod n */
	uint64_t x;

	do
		x = rng_next(r);
	while (x < lim);
	return x % n;
}

static void shuffle(struct rng *r, size_t *a, size_t n)
{
	size_t i, j, t;

	for (i = n; i > 1; i--) {
		j = (size_t)rng_below(r, i);
		t = a[i - 1];
		a[i - 1] = a[j];
		a[j] = t;
	}
}

/* ---- opening ------------------------------------------------------------- */

static int pkey_cmp(const void *a, const void *b)
{
	const struct pkey *x = a, *y = b;
	int c = memcmp(x->s, y->s, ID_WIDTH);

	if (c)
		return c;
	return x->k < y->k ? -1 : x->k > y->k;
}

static enum rf_rc check_shape(struct trn_data *d, const char *path,
			      struct rf_err *e)
{
	struct rf_tensor_info ti;
	enum rf_rc rc;
	unsigned i;

	if ((rc = rf_h5_info(d->h, "/images", &ti, e)))
		return rc;
	if (ti.dtype != RF_DTYPE_F32)
		return rf_err_set(e, RF_EPROTO, "dataset '/images' in '%s' is "
				  "%s, not float32", path,
				  rf_dtype_name(ti.dtype));
	if (ti.rank != 4)
		return rf_err_set(e, RF_EPROTO, "dataset '/images' in '%s' has "
				  "rank %u, not 4 [N,C,H,W]", path, ti.rank);
	for (i = 1; i < 4; i++)
		if (ti.shape[i] < 1 || ti.shape[i] > IMAGE_DIM_MAX)
			return rf_err_set(e, RF_EPROTO, "dataset '/images' in "
					  "'%s' has dimension %u of %llu", path,
					  i, (unsigned long long)ti.shape[i]);
	if (ti.shape[1] * ti.shape[2] * ti.shape[3] > IMAGE_ELEMS_MAX)
		return rf_err_set(e, RF_ETOOBIG, "images of '%s' are over %zu "
				  "values", path, IMAGE_ELEMS_MAX);
	if (ti.shape[0] > RECORDS_MAX)
		return rf_err_set(e, RF_ETOOBIG, "dataset '/images' in '%s' "
				  "has %llu records, over %zu", path,
				  (unsigned long long)ti.shape[0], RECORDS_MAX);
	d->info.channels = (unsigned)ti.shape[1];
	d->info.height = (unsigned)ti.shape[2];
	d->info.width = (unsigned)ti.shape[3];
	d->info.records = (size_t)ti.shape[0];

	if ((rc = rf_h5_info(d->h, "/labels", &ti, e)))
		return rc;
	if (ti.dtype != RF_DTYPE_I32 || ti.rank != 1)
		return rf_err_set(e, RF_EPROTO, "dataset '/labels' in '%s' is "
				  "%s of rank %u, not int32 [N]", path,
				  rf_dtype_name(ti.dtype), ti.rank);
	if (ti.shape[0] != d->info.records)
		return rf_err_set(e, RF_EPROTO, "dataset '/labels' in '%s' has "
				  "%llu rows, '/images' %zu", path,
				  (unsigned long long)ti.shape[0],
				  d->info.records);

	if ((rc = rf_h5_info(d->h, "/meta/patient", &ti, e)))
		return rc;
	if (ti.dtype != RF_DTYPE_I32 || ti.rank != 2 ||
	    ti.shape[1] != ID_WIDTH)
		return rf_err_set(e, RF_EPROTO, "dataset '/meta/patient' in "
				  "'%s' is not int32 [N,%d]", path, ID_WIDTH);
	if (ti.shape[0] != d->info.records)
		return rf_err_set(e, RF_EPROTO, "dataset '/meta/patient' in "
				  "'%s' has %llu rows, '/images' %zu", path,
				  (unsigned long long)ti.shape[0],
				  d->info.records);
	return RF_OK;
}

/* Reads /labels and keeps the labelled records. */
static enum rf_rc read_labels(struct trn_data *d, const char *path,
			      struct rf_err *e)
{
	int32_t *all = NULL;
	size_t i, k, n = d->info.records;
	int32_t top = 1;
	enum rf_rc rc;

	if (n == 0)
		return rf_err_set(e, RF_EINVAL, "no labelled record in '%s'",
				  path);
	if ((rc = rf_h5_read_alloc(d->h, "/labels", RF_DTYPE_I32, n,
				   (void **)&all, NULL, e)))
		return rc;
	for (i = 0; i < n; i++) {
		if (all[i] < 0)
			continue;
		if (all[i] >= CLASSES_MAX) {
			rc = rf_err_set(e, RF_EPROTO, "dataset '/labels' in "
					"'%s': record %zu has label %d, over "
					"%d", path, i, (int)all[i],
					CLASSES_MAX - 1);
			goto out;
		}
		if (all[i] > top)
			top = all[i];
		d->n++;
	}
	if (d->n == 0) {
		rc = rf_err_set(e, RF_EINVAL, "no labelled record in '%s'",
				path);
		goto out;
	}
	d->info.labelled = d->n;
	d->info.classes = (unsigned)top + 1;
	d->rows = rf_mallocarray(d->n, sizeof *d->rows);
	d->labels = rf_mallocarray(d->n, sizeof *d->labels);
	if (!d->rows || !d->labels) {
		rc = rf_err_set(e, RF_ENOMEM, "out of memory reading '%s'",
				path);
		goto out;
	}
	for (i = k = 0; i < n; i++)
		if (all[i] >= 0) {
			d->rows[k] = i;
			d->labels[k++] = all[i];
		}
	rc = RF_OK;
out:
	rf_free(all);
	return rc;
}

/* Reads the pseudonyms of the labelled records and numbers the patients. */
static enum rf_rc read_patients(struct trn_data *d, const char *path,
				struct rf_err *e)
{
	struct pkey *keys = NULL;
	int32_t *buf = NULL;
	size_t i, j, k = 0, start, cnt, np;
	enum rf_rc rc;

	keys = rf_mallocarray(d->n, sizeof *keys);
	buf = rf_mallocarray((size_t)META_ROWS * ID_WIDTH, sizeof *buf);
	d->patient = rf_mallocarray(d->n, sizeof *d->patient);
	d->val = rf_calloc(d->n, 1);
	if (!keys || !buf || !d->patient || !d->val) {
		rc = rf_err_set(e, RF_ENOMEM, "out of memory reading '%s'",
				path);
		goto out;
	}
	for (start = 0; start < d->info.records && k < d->n;
	     start += META_ROWS) {
		cnt = d->info.records - start;
		if (cnt > META_ROWS)
			cnt = META_ROWS;
		if ((rc = rf_h5_read_rows(d->h, "/meta/patient", RF_DTYPE_I32,
					  start, cnt, buf,
					  (size_t)META_ROWS * ID_WIDTH, e)))
			goto out;
		for (; k < d->n && d->rows[k] < start + cnt; k++) {
			const int32_t *r = buf + (d->rows[k] - start) *
						 ID_WIDTH;

			for (j = 0; j < ID_WIDTH; j++) {
				if (r[j] < 0 || r[j] > 127) {
					rc = rf_err_set(e, RF_EPROTO,
						"dataset '/meta/patient' in "
						"'%s': record %llu has "
						"character code %d",
						path,
						(unsigned long long)d->rows[k],
						(int)r[j]);
					goto out;
				}
				keys[k].s[j] = (char)r[j];
			}
			keys[k].k = k;
		}
	}
	qsort(keys, d->n, sizeof *keys, pkey_cmp);
	for (i = 0, np = 0; i < d->n; i++)
		if (i == 0 || memcmp(keys[i].s, keys[i - 1].s, ID_WIDTH))
			np++;
	d->pkeys = rf_mallocarray(np, ID_WIDTH);
	if (!d->pkeys) {
		rc = rf_err_set(e, RF_ENOMEM, "out of memory reading '%s'",
				path);
		goto out;
	}
	for (i = 0, np = 0; i < d->n; i++) {
		if (i == 0 || memcmp(keys[i].s, keys[i - 1].s, ID_WIDTH))
			memcpy(d->pkeys + ID_WIDTH * np++, keys[i].s,
			       ID_WIDTH);
		d->patient[keys[i].k] = np - 1;
	}
	d->info.patients = np;
	rc = RF_OK;
out:
	if (keys)
		rf_free_secret(keys, d->n * sizeof *keys);
	if (buf)
		rf_free_secret(buf, (size_t)META_ROWS * ID_WIDTH *
				    sizeof *buf);
	return rc;
}

enum rf_rc trn_data_open(const char *path, struct trn_data **out,
			 struct rf_err *e)
{
	struct trn_data *d = NULL;
	enum rf_rc rc;

	if (!out)
		return rf_err_set(e, RF_EINVAL, "no output for trn_data_open");
	*out = NULL;
	if (!path)
		return rf_err_set(e, RF_EINVAL, "no dataset path");
	d = rf_calloc(1, sizeof *d);
	if (!d)
		return rf_err_set(e, RF_ENOMEM, "out of memory opening '%s'",
				  path);
	if ((rc = rf_h5_open(path, RF_H5_RDONLY, &d->h, e)) ||
	    (rc = check_shape(d, path, e)) ||
	    (rc = read_labels(d, path, e)) ||
	    (rc = read_patients(d, path, e))) {
		trn_data_close(d);
		return rc;
	}
	*out = d;
	return RF_OK;
}

void trn_data_info(const struct trn_data *d, struct trn_data_info *out)
{
	*out = d->info;
}

/* ---- split --------------------------------------------------------------- */

enum rf_rc trn_data_split(struct trn_data *d, double val_fraction,
			  uint64_t seed, struct rf_err *e)
{
	uint8_t key[8], mac[RF_HMAC_SHA256_LEN];
	uint8_t *pv = NULL;
	size_t i, p, nv = 0, pmin = 0, pmax = 0, used = 0;
	double u, umin = 2.0, umax = -1.0;
	uint64_t v;
	enum rf_rc rc;

	if (!(val_fraction >= 0.0 && val_fraction < 1.0))
		return rf_err_set(e, RF_EINVAL, "validation fraction %g is "
				  "not in [0, 1)", val_fraction);
	pv = rf_calloc(d->info.patients, 1);
	if (!pv)
		return rf_err_set(e, RF_ENOMEM, "out of memory splitting "
				  "'%s'", rf_h5_path(d->h));
	for (i = 0; i < 8; i++)
		key[i] = (uint8_t)(seed >> (8 * i));
	/* bit 1: the patient has labelled records */
	for (i = 0; i < d->n; i++)
		pv[d->patient[i]] = 2;
	for (p = 0; p < d->info.patients; p++)
		used += pv[p] != 0;
	for (p = 0; p < d->info.patients && val_fraction > 0.0; p++) {
		const char *s = d->pkeys + ID_WIDTH * p;

		if ((rc = rf_hmac_sha256(key, sizeof key, s,
					 strnlen(s, ID_WIDTH), mac, e)))
			goto out;
		for (i = 0, v = 0; i < 8; i++)
			v = v << 8 | mac[i];
		u = (double)(v >> 11) * 0x1p-53;
		pv[p] |= u < val_fraction;
		if (!(pv[p] & 2))
			continue;
		if (u < umin) {
			umin = u;
			pmin = p;
		}
		if (u > umax) {
			umax = u;
			pmax = p;
		}
	}
	for (p = 0; p < d->info.patients; p++)
		pv[p] &= 1;
	for (i = 0; i < d->n; i++)
		nv += pv[d->patient[i]];
	/* Few patients and a small fraction can leave a side empty by
	 * chance: with two patients or more, the one with the lowest hash
	 * goes to validation, the one with the highest to training, which
	 * keeps the split a function of (seed, pseudonyms). */
	if (val_fraction > 0.0 && used >= 2 && nv == 0)
		pv[pmin] = 1;
	else if (val_fraction > 0.0 && used >= 2 && nv == d->n)
		pv[pmax] = 0;
	for (i = 0, nv = 0; i < d->n; i++)
		nv += pv[d->patient[i]];
	if (nv == d->n || (val_fraction > 0.0 && nv == 0)) {
		rc = rf_err_set(e, RF_EINVAL, "splitting '%s' with validation "
				"fraction %g leaves the %s side empty",
				rf_h5_path(d->h), val_fraction,
				nv ? "training" : "validation");
		goto out;
	}
	for (i = 0; i < d->n; i++)
		d->val[i] = pv[d->patient[i]];
	d->n_val = nv;
	rc = RF_OK;
out:
	rf_zeroize(mac, sizeof mac);
	rf_free(pv);
	return rc;
}

size_t trn_data_count(const struct trn_data *d, bool validation)
{
	return validation ? d->n_val : d->n - d->n_val;
}

void trn_data_class_counts(const struct trn_data *d, bool validation,
			   size_t *counts, unsigned classes)
{
	memset(counts, 0, classes * sizeof(*counts));
	for (size_t i = 0; i < d->n; i++)
		if ((d->val[i] != 0) == validation &&
		    (unsigned)d->labels[i] < classes)
			counts[d->labels[i]]++;
}

void trn_data_close(struct trn_data *d)
{
	if (!d)
		return;
	rf_h5_close(d->h);
	rf_free(d->rows);
	rf_free(d->labels);
	rf_free(d->patient);
	rf_free(d->val);
	if (d->pkeys)
		rf_free_secret(d->pkeys, d->info.patients * ID_WIDTH);
	rf_free(d);
}

/* ---- augmentation -------------------------------------------------------- */

void trn_data_augment(const float *src, unsigned channels, unsigned height,
		      unsigned width, bool flip, int dx, int dy, float *dst)
{
	long h = height, w = width, c, y, x, sy, sx;

	for (c = 0; c < (long)channels; c++) {
		const float *s = src + (size_t)c * height * width;
		float *o = dst + (size_t)c * height * width;

		for (y = 0; y < h; y++)
			for (x = 0; x < w; x++) {
				sy = y - dy;
				sx = x - dx;
				if (sy < 0 || sy >= h || sx < 0 || sx >= w) {
					o[y * w + x] = 0.0f;
					continue;
				}
				if (flip)
					sx = w - 1 - sx;
				o[y * w + x] = s[sy * w + sx];
			}
	}
}

/* ---- batcher ------------------------------------------------------------- */

/* Reads positions [p0, p1) of the side, whose file rows span at most
 * cap_rows rows, into dst (room for cap_rows rows) with one contiguous
 * read, then moves the wanted rows to the front in position order. */
static enum rf_rc load_span(struct trn_batcher *b, size_t p0, size_t p1,
			    float *dst, size_t cap_rows, struct rf_err *e)
{
	uint64_t first = b->rows[p0];
	uint64_t span = b->rows[p1 - 1] - first + 1;
	size_t p;
	enum rf_rc rc;

	if ((rc = rf_h5_read_rows(b->d->h, "/images", RF_DTYPE_F32, first,
				  span, dst, cap_rows * b->row_elems, e)))
		return rc;
	for (p = p0; p < p1; p++) {
		size_t from = (size_t)(b->rows[p] - first);

		if (from != p - p0)
			memmove(dst + (p - p0) * b->row_elems,
				dst + from * b->row_elems, b->row_bytes);
	}
	return RF_OK;
}

/* The last position q > p such that rows[p..q) span at most cap rows. */
static size_t span_end(const struct trn_batcher *b, size_t p, size_t cap)
{
	size_t q = p + 1;

	while (q < b->n && b->rows[q] - b->rows[p] < cap)
		q++;
	return q;
}

static enum rf_rc fill_cache(struct trn_batcher *b, struct rf_err *e)
{
	size_t p = 0, q;
	enum rf_rc rc;

	while (p < b->n) {
		q = span_end(b, p, b->cache_rows - p);
		if ((rc = load_span(b, p, q, b->cache + p * b->row_elems,
				    b->cache_rows - p, e)))
			return rc;
		p = q;
	}
	return RF_OK;
}

static enum rf_rc plan_blocks(struct trn_batcher *b, struct rf_err *e)
{
	size_t p, q, k;

	b->bstart = rf_mallocarray(b->n + 1, sizeof *b->bstart);
	b->block_of = rf_mallocarray(b->n, sizeof *b->block_of);
	b->blockbuf = rf_mallocarray(b->brows, b->row_bytes);
	b->bperm = rf_mallocarray(b->n, sizeof *b->bperm);
	if (!b->bstart || !b->block_of || !b->blockbuf || !b->bperm)
		return rf_err_set(e, RF_ENOMEM, "out of memory for the "
				  "batcher of '%s'", rf_h5_path(b->d->h));
	for (p = 0, k = 0; p < b->n; p = q, k++) {
		q = span_end(b, p, b->brows);
		b->bstart[k] = p;
		while (p < q)
			b->block_of[p++] = k;
	}
	b->bstart[k] = b->n;
	b->nblocks = k;
	b->loaded = SIZE_MAX;
	return RF_OK;
}

enum rf_rc trn_batcher_create(struct trn_data *d,
			      const struct trn_batcher_config *cfg,
			      struct trn_batcher **out, struct rf_err *e)
{
	struct trn_batcher *b = NULL;
	size_t i, k, budget, fit;
	enum rf_rc rc;

	if (!out)
		return rf_err_set(e, RF_EINVAL, "no output for "
				  "trn_batcher_create");
	*out = NULL;
	if (!d || !cfg)
		return rf_err_set(e, RF_EINVAL, "no dataset or configuration "
				  "for the batcher");
	if (cfg->batch < 1 || cfg->batch > BATCH_MAX)
		return rf_err_set(e, RF_EINVAL, "batch size %u is not in "
				  "1..%u", cfg->batch, BATCH_MAX);
	if (cfg->augment && cfg->shift > SHIFT_MAX)
		return rf_err_set(e, RF_EINVAL, "shift %u is over %u",
				  cfg->shift, SHIFT_MAX);
	if (trn_data_count(d, cfg->validation) == 0)
		return rf_err_set(e, RF_EINVAL, "the %s side of '%s' is empty",
				  cfg->validation ? "validation" : "training",
				  rf_h5_path(d->h));
	b = rf_calloc(1, sizeof *b);
	if (!b)
		goto nomem;
	b->d = d;
	b->cfg = *cfg;
	b->n = trn_data_count(d, cfg->validation);
	b->row_elems = (size_t)d->info.channels * d->info.height *
		       d->info.width;
	b->row_bytes = b->row_elems * sizeof(float);
	b->rows = rf_mallocarray(b->n, sizeof *b->rows);
	b->labels = rf_mallocarray(b->n, sizeof *b->labels);
	b->order = rf_mallocarray(b->n, sizeof *b->order);
	b->bimg = rf_mallocarray((size_t)cfg->batch, b->row_bytes);
	b->blab = rf_mallocarray(cfg->batch, sizeof *b->blab);
	if (!b->rows || !b->labels || !b->order || !b->bimg || !b->blab)
		goto nomem;
	for (i = k = 0; i < d->n; i++)
		if (d->val[i] == cfg->validation) {
			b->rows[k] = d->rows[i];
			b->labels[k++] = d->labels[i];
		}

	budget = cfg->mem_budget ? cfg->mem_budget : BUDGET_DEFAULT;
	fit = budget / b->row_bytes;
	if (b->n <= fit) {
		/* room for the whole file span when it fits the budget: one
		 * read; otherwise pieces of it, compacted as they come */
		b->cache_rows = (size_t)(b->rows[b->n - 1] - b->rows[0] + 1);
		if (b->cache_rows > fit)
			b->cache_rows = fit;
		b->cache = rf_mallocarray(b->cache_rows, b->row_bytes);
		if (!b->cache)
			goto nomem;
		if ((rc = fill_cache(b, e)))
			goto fail;
	} else {
		b->brows = fit ? fit : 1;
		if ((rc = plan_blocks(b, e)))
			goto fail;
	}
	*out = b;
	return RF_OK;
nomem:
	rc = rf_err_set(e, RF_ENOMEM, "out of memory for the batcher of '%s'",
			rf_h5_path(d->h));
fail:
	trn_batcher_destroy(b);
	return rc;
}

enum rf_rc trn_batcher_start(struct trn_batcher *b, uint64_t epoch,
			     struct rf_err *e)
{
	struct rng r;
	size_t i, k, j, m;

	if (!b)
		return rf_err_set(e, RF_EINVAL, "no batcher");
	for (i = 0; i < b->n; i++)
		b->order[i] = i;
	if (!b->cfg.shuffle)
		goto done;
	rng_seed(&r, DOMAIN_ORDER, b->cfg.seed, epoch, 0);
	if (b->cache) {
		shuffle(&r, b->order, b->n);
		goto done;
	}
	/* blocks in a random order, then the records of each block */
	for (k = 0; k < b->nblocks; k++)
		b->bperm[k] = k;
	shuffle(&r, b->bperm, b->nblocks);
	for (k = 0, m = 0; k < b->nblocks; k++) {
		size_t bi = b->bperm[k], m0 = m;

		for (j = b->bstart[bi]; j < b->bstart[bi + 1]; j++)
			b->order[m++] = j;
		shuffle(&r, b->order + m0, m - m0);
	}
done:
	b->epoch = epoch;
	b->next = 0;
	b->started = 1;
	return RF_OK;
}

enum rf_rc trn_batcher_next(struct trn_batcher *b, struct trn_batch *out,
			    struct rf_err *e)
{
	size_t i, cnt, p;
	const float *src;
	float *dst;
	enum rf_rc rc;
	struct rng r;

	if (!b->started)
		return rf_err_set(e, RF_EINVAL, "batcher of '%s' used before "
				  "trn_batcher_start", rf_h5_path(b->d->h));
	if (b->next >= b->n)
		return RF_ENOTFOUND;
	cnt = b->n - b->next;
	if (cnt > b->cfg.batch)
		cnt = b->cfg.batch;
	for (i = 0; i < cnt; i++) {
		p = b->order[b->next + i];
		if (b->cache) {
			src = b->cache + p * b->row_elems;
		} else {
			size_t k = b->block_of[p];

			if (b->loaded != k) {
				b->loaded = SIZE_MAX;
				if ((rc = load_span(b, b->bstart[k],
						    b->bstart[k + 1],
						    b->blockbuf, b->brows, e)))
					return rc;
				b->loaded = k;
			}
			src = b->blockbuf + (p - b->bstart[k]) * b->row_elems;
		}
		dst = b->bimg + i * b->row_elems;
		if (b->cfg.augment) {
			int span = 2 * (int)b->cfg.shift + 1;
			bool flip;
			int dx, dy;

			rng_seed(&r, DOMAIN_AUG, b->cfg.seed, b->epoch,
				 b->rows[p]);
			flip = rng_next(&r) >> 63;
			dx = (int)rng_below(&r, (uint64_t)span) -
			     (int)b->cfg.shift;
			dy = (int)rng_below(&r, (uint64_t)span) -
			     (int)b->cfg.shift;
			trn_data_augment(src, b->d->info.channels,
					 b->d->info.height, b->d->info.width,
					 flip, dx, dy, dst);
		} else {
			memcpy(dst, src, b->row_bytes);
		}
		b->blab[i] = b->labels[p];
	}
	if (cnt < b->cfg.batch) {
		memset(b->bimg + cnt * b->row_elems, 0,
		       (b->cfg.batch - cnt) * b->row_bytes);
		for (i = cnt; i < b->cfg.batch; i++)
			b->blab[i] = -1;
	}
	out->images = b->bimg;
	out->labels = b->blab;
	out->count = cnt;
	out->index = b->next;
	b->next += cnt;
	return RF_OK;
}

size_t trn_batcher_batches(const struct trn_batcher *b)
{
	return (b->n + b->cfg.batch - 1) / b->cfg.batch;
}

void trn_batcher_destroy(struct trn_batcher *b)
{
	if (!b)
		return;
	if (b->cache)
		rf_free_secret(b->cache, b->cache_rows * b->row_bytes);
	if (b->blockbuf)
		rf_free_secret(b->blockbuf, b->brows * b->row_bytes);
	if (b->bimg)
		rf_free_secret(b->bimg, (size_t)b->cfg.batch * b->row_bytes);
	rf_free(b->rows);
	rf_free(b->labels);
	rf_free(b->order);
	rf_free(b->bstart);
	rf_free(b->block_of);
	rf_free(b->bperm);
	rf_free(b->blab);
	rf_free(b);
}
