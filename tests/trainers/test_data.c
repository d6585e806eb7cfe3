/*
 * test_data.c - trn_data: dataset.h5 opened, split by patient and walked
 * in shuffled, padded, optionally augmented batches.
 *
 * The datasets are written here with rf_tensor in the layout node_ingest
 * writes (growable, chunked, byte-shuffled, deflated). Record r's image is
 * known from r alone: pixel 0 holds r and pixel p > 0 holds r * 1000 + p,
 * so every batch can be checked image by image.
 */
#include <math.h>

#include "rf_tensor.h"
#include "rf_test.h"
#include "trn_data.h"

#define NREC 300
#define SIDE 8
#define PIX (SIDE * SIDE)
#define IDW 64

/* ---- the records ------------------------------------------------------- */

static int32_t label_of(int r)
{
	if (r % 13 == 5)
		return -1;
	return (r * 5) % 7 < 3 ? 1 : 0;
}

static int patient_of(int r)
{
	/* 75 patients of 4 records each, spread over the file */
	return (r * 7) % 75;
}

static void image_of(int r, float *img)
{
	int p;

	img[0] = (float)r;
	for (p = 1; p < PIX; p++)
		img[p] = (float)(r * 1000 + p);
}

static void pseudonym_of(int r, int32_t *row)
{
	char s[IDW + 1];
	int i, n;

	memset(row, 0, IDW * sizeof *row);
	n = snprintf(s, sizeof s, "1.2.826.0.1.3680043.10.543.%d",
		     patient_of(r));
	for (i = 0; i < n; i++)
		row[i] = (unsigned char)s[i];
}

enum flaw {
	FLAW_NONE,
	FLAW_NO_LABELS,
	FLAW_FLOAT_LABELS,
	FLAW_META_ROWS,
	FLAW_IMAGES_RANK,
	FLAW_NO_LABELLED,
};

/* Writes `n` records to path, file row i holding record order[i] (order
 * NULL: record i). Rows are appended a group at a time, as a long ingest
 * run would leave them (node_ingest appends one by one: same layout). */
static void write_dataset(const char *path, const int *order, int n,
			  enum flaw flaw)
{
	struct rf_tensor_info im = {RF_DTYPE_F32, 4, {0, 1, SIDE, SIDE}};
	struct rf_tensor_info im3 = {RF_DTYPE_F32, 3, {0, SIDE, SIDE}};
	struct rf_tensor_info lb = {RF_DTYPE_I32, 1, {0}};
	struct rf_tensor_info lbf = {RF_DTYPE_F32, 1, {0}};
	struct rf_tensor_info id = {RF_DTYPE_I32, 2, {0, IDW}};
	struct rf_h5_wopts o = {{0}, 4, 1};
	struct rf_h5 *h = NULL;
	struct rf_err e = {0};
	static float img[NREC * PIX], fl[NREC];
	static int32_t row[NREC * IDW], lab[NREC];
	int i, r, a, m, meta;

	assert_true(n <= NREC);
	for (i = 0; i < n; i++) {
		r = order ? order[i] : i;
		image_of(r, img + i * PIX);
		lab[i] = flaw == FLAW_NO_LABELLED ? -1 : label_of(r);
		fl[i] = (float)lab[i];
		pseudonym_of(r, row + i * IDW);
	}
	RF_ASSERT_OK_E(rf_h5_create(path, &h, &e), &e);
	RF_ASSERT_OK_E(rf_h5_create_rows(h, "/images",
					 flaw == FLAW_IMAGES_RANK ? &im3 : &im,
					 &o, &e), &e);
	if (flaw == FLAW_FLOAT_LABELS)
		RF_ASSERT_OK_E(rf_h5_create_rows(h, "/labels", &lbf, &o, &e),
			       &e);
	else if (flaw != FLAW_NO_LABELS)
		RF_ASSERT_OK_E(rf_h5_create_rows(h, "/labels", &lb, &o, &e),
			       &e);
	RF_ASSERT_OK_E(rf_h5_create_rows(h, "/meta/patient", &id, &o, &e),
		       &e);
	for (a = 0; a < n; a += m) {
		m = n - a < 64 ? n - a : 64;
		meta = flaw == FLAW_META_ROWS && a + m == n ? m - 1 : m;
		RF_ASSERT_OK_E(rf_h5_append_rows(h, "/images", RF_DTYPE_F32,
						 m, img + a * PIX,
						 (size_t)m * PIX, &e), &e);
		if (flaw == FLAW_FLOAT_LABELS)
			RF_ASSERT_OK_E(rf_h5_append_rows(h, "/labels",
							 RF_DTYPE_F32, m,
							 fl + a, m, &e), &e);
		else if (flaw != FLAW_NO_LABELS)
			RF_ASSERT_OK_E(rf_h5_append_rows(h, "/labels",
							 RF_DTYPE_I32, m,
							 lab + a, m, &e), &e);
		if (meta)
			RF_ASSERT_OK_E(rf_h5_append_rows(h, "/meta/patient",
							 RF_DTYPE_I32, meta,
							 row + a * IDW,
							 (size_t)meta * IDW,
							 &e), &e);
	}
	RF_ASSERT_OK_E(rf_h5_commit(h, &e), &e);
	rf_h5_close(h);
}

static char good_path[600];

static int setup(void **state)
{
	const char *dir = rf_test_tmpdir("trainers_data");

	(void)state;
	snprintf(good_path, sizeof good_path, "%s/dataset.h5", dir);
	write_dataset(good_path, NULL, NREC, FLAW_NONE);
	return 0;
}

/* ---- helpers ----------------------------------------------------------- */

/* The record an image shows, checking the whole image. */
static int record_in(const float *img)
{
	float want[PIX];
	int r = (int)img[0];

	assert_true(img[0] == (float)r && r >= 0 && r < NREC);
	image_of(r, want);
	assert_memory_equal(img, want, sizeof want);
	return r;
}

/* Walks one epoch; seq[] receives the records in order (returns their
 * count). Checks labels, padding and indices. */
static int walk(struct trn_batcher *b, uint64_t epoch, unsigned batch,
		int *seq)
{
	struct trn_batch bt;
	struct rf_err e = {0};
	size_t i, nb = 0;
	int n = 0;
	enum rf_rc rc;

	RF_ASSERT_OK_E(trn_batcher_start(b, epoch, &e), &e);
	while ((rc = trn_batcher_next(b, &bt, &e)) == RF_OK) {
		assert_int_equal(bt.index, (size_t)n);
		assert_true(bt.count >= 1 && bt.count <= batch);
		for (i = 0; i < bt.count; i++) {
			int r = record_in(bt.images + i * PIX);

			assert_int_equal(bt.labels[i], label_of(r));
			assert_true(label_of(r) >= 0);
			seq[n++] = r;
		}
		for (; i < batch; i++) {
			size_t p;

			assert_int_equal(bt.labels[i], -1);
			for (p = 0; p < PIX; p++)
				assert_true(bt.images[i * PIX + p] == 0.0f);
		}
		nb++;
		assert_true(n <= NREC);
	}
	assert_int_equal(rc, RF_ENOTFOUND);
	assert_int_equal(e.rc, RF_OK);
	assert_int_equal(nb, trn_batcher_batches(b));
	return n;
}

/* The side (0 training, 1 validation, -1 neither) of every record; with
 * `ordered`, file rows hold records in their order. */
static void sides(struct trn_data *d, int *side, int ordered)
{
	struct trn_batcher_config c = {false, 10, false, false, 0, 0, 0};
	struct trn_batcher *b = NULL;
	int seq[NREC], i, n, v;

	for (i = 0; i < NREC; i++)
		side[i] = -1;
	for (v = 0; v < 2; v++) {
		if (!trn_data_count(d, v))
			continue;
		c.validation = v;
		RF_ASSERT_OK(trn_batcher_create(d, &c, &b, NULL));
		n = walk(b, 0, c.batch, seq);
		assert_int_equal(n, trn_data_count(d, v));
		for (i = 0; i < n; i++) {
			assert_int_equal(side[seq[i]], -1);
			side[seq[i]] = v;
			/* record order without shuffle */
			if (i && ordered)
				assert_true(seq[i] > seq[i - 1]);
		}
		trn_batcher_destroy(b);
	}
}

/* ---- tests ------------------------------------------------------------- */

static void test_info(void **state)
{
	struct trn_data *d = NULL;
	struct trn_data_info info;
	struct rf_err e = {0};
	int seen[75] = {0}, r, labelled = 0, patients = 0;

	(void)state;
	for (r = 0; r < NREC; r++)
		if (label_of(r) >= 0) {
			labelled++;
			if (!seen[patient_of(r)]++)
				patients++;
		}
	RF_ASSERT_OK_E(trn_data_open(good_path, &d, &e), &e);
	trn_data_info(d, &info);
	assert_int_equal(info.channels, 1);
	assert_int_equal(info.height, SIDE);
	assert_int_equal(info.width, SIDE);
	assert_int_equal(info.records, NREC);
	assert_int_equal(info.labelled, labelled);
	assert_true(labelled < NREC);
	assert_int_equal(info.classes, 2);
	assert_int_equal(info.patients, patients);
	assert_int_equal(trn_data_count(d, false), labelled);
	assert_int_equal(trn_data_count(d, true), 0);
	trn_data_close(d);
}

/* The split formula of docs/training.md, computed by Python's hmac. */
static void check_split_python(const char *dir, const int *pside)
{
	char path[600], line[64];
	int want[75], p, v;
	FILE *f;

	snprintf(path, sizeof path, "%s/split.txt", dir);
	if (rf_sh("/usr/bin/python3 -c '"
		  "import hmac, hashlib, struct\n"
		  "for p in range(75):\n"
		  "    pid = \"1.2.826.0.1.3680043.10.543.%%d\" %% p\n"
		  "    m = hmac.new(struct.pack(\"<Q\", 42), pid.encode(),\n"
		  "                 hashlib.sha256).digest()\n"
		  "    u = int.from_bytes(m[:8], \"big\") >> 11\n"
		  "    print(p, int(u / 2**53 < 0.25))\n"
		  "' > '%s'", path) != 0)
		fail_msg("/usr/bin/python3 failed");
	f = fopen(path, "r");
	assert_non_null(f);
	for (p = 0; p < 75; p++) {
		int q;

		assert_non_null(fgets(line, sizeof line, f));
		assert_int_equal(sscanf(line, "%d %d", &q, &v), 2);
		assert_int_equal(q, p);
		want[p] = v;
	}
	fclose(f);
	for (p = 0; p < 75; p++)
		if (pside[p] >= 0 && pside[p] != want[p])
			fail_msg("patient %d: side %d, python says %d", p,
				 pside[p], want[p]);
}

static void test_split(void **state)
{
	const char *dir = rf_test_tmpdir("trainers_data_split");
	char path[600];
	int order[NREC], side[NREC], side2[NREC], pside[75];
	struct trn_data *d = NULL, *d2 = NULL;
	int i, j, t, nvp = 0;
	unsigned s = 12345;

	(void)state;
	/* the same records in another order */
	for (i = 0; i < NREC; i++)
		order[i] = i;
	for (i = NREC - 1; i > 0; i--) {
		s = s * 1103515245u + 12345u;
		j = (int)((s >> 8) % (unsigned)(i + 1));
		t = order[i];
		order[i] = order[j];
		order[j] = t;
	}
	snprintf(path, sizeof path, "%s/shuffled.h5", dir);
	write_dataset(path, order, NREC, FLAW_NONE);

	RF_ASSERT_OK(trn_data_open(good_path, &d, NULL));
	RF_ASSERT_OK(trn_data_open(path, &d2, NULL));
	RF_ASSERT_OK(trn_data_split(d, 0.25, 42, NULL));
	RF_ASSERT_OK(trn_data_split(d2, 0.25, 42, NULL));
	assert_int_equal(trn_data_count(d, false) + trn_data_count(d, true),
			 trn_data_count(d2, false) + trn_data_count(d2, true));
	sides(d, side, 1);
	sides(d2, side2, 0);
	for (i = 0; i < 75; i++)
		pside[i] = -1;
	for (i = 0; i < NREC; i++) {
		/* independent of record order */
		assert_int_equal(side[i], side2[i]);
		assert_int_equal(side[i] < 0, label_of(i) < 0);
		if (side[i] < 0)
			continue;
		/* no patient on both sides */
		if (pside[patient_of(i)] < 0) {
			pside[patient_of(i)] = side[i];
			nvp += side[i];
		}
		assert_int_equal(pside[patient_of(i)], side[i]);
	}
	/* 75 patients at 1/4: 18.75 expected, sd 3.75 */
	assert_true(nvp >= 8 && nvp <= 30);
	check_split_python(dir, pside);

	/* another seed gives another split; fraction 0: nobody in
	 * validation; a larger fraction, more patients */
	RF_ASSERT_OK(trn_data_split(d2, 0.25, 43, NULL));
	sides(d2, side2, 0);
	assert_true(memcmp(side, side2, sizeof side) != 0);
	RF_ASSERT_OK(trn_data_split(d2, 0.0, 42, NULL));
	assert_int_equal(trn_data_count(d2, true), 0);
	RF_ASSERT_OK(trn_data_split(d2, 0.75, 42, NULL));
	sides(d2, side2, 0);
	for (i = 0, t = 0; i < NREC; i++) {
		/* the hash is monotone in the fraction */
		if (side[i] == 1)
			assert_int_equal(side2[i], 1);
		t += side2[i] == 1;
	}
	assert_true(t > (int)trn_data_count(d, true));
	assert_true(trn_data_count(d2, true) > 150);
	trn_data_close(d);
	trn_data_close(d2);
}

static void test_split_errors(void **state)
{
	const char *dir = rf_test_tmpdir("trainers_data_split_err");
	char path[600];
	int one[4] = {0, 75, 150, 225}; /* records of patient 0 */
	struct trn_data *d = NULL;
	struct rf_err e = {0};

	(void)state;
	snprintf(path, sizeof path, "%s/one.h5", dir);
	write_dataset(path, one, 4, FLAW_NONE);
	RF_ASSERT_OK(trn_data_open(path, &d, NULL));
	RF_ASSERT_RC(trn_data_split(d, 0.5, 1, &e), RF_EINVAL);
	assert_non_null(strstr(e.msg, "side empty"));
	/* unchanged: everything in training */
	assert_int_equal(trn_data_count(d, false), 4);
	RF_ASSERT_RC(trn_data_split(d, 1.0, 1, &e), RF_EINVAL);
	RF_ASSERT_RC(trn_data_split(d, -0.1, 1, &e), RF_EINVAL);
	RF_ASSERT_RC(trn_data_split(d, NAN, 1, &e), RF_EINVAL);
	trn_data_close(d);
}

/* Two patients and a fraction that would leave a side empty: one patient
 * goes to each side instead, the same one for the same seed. */
static void test_split_small(void **state)
{
	const char *dir = rf_test_tmpdir("trainers_data_split_small");
	char path[600];
	int two[4] = {0, 1, 75, 76}; /* patients 0 and 1, two records each */
	struct trn_data *d = NULL;

	(void)state;
	snprintf(path, sizeof path, "%s/two.h5", dir);
	write_dataset(path, two, 4, FLAW_NONE);
	RF_ASSERT_OK(trn_data_open(path, &d, NULL));
	/* two records on each side: one whole patient each */
	RF_ASSERT_OK(trn_data_split(d, 1e-12, 3, NULL));
	assert_int_equal(trn_data_count(d, true), 2);
	assert_int_equal(trn_data_count(d, false), 2);
	RF_ASSERT_OK(trn_data_split(d, 1.0 - 1e-12, 3, NULL));
	assert_int_equal(trn_data_count(d, true), 2);
	assert_int_equal(trn_data_count(d, false), 2);
	trn_data_close(d);
}

static void check_epochs(size_t budget, unsigned batch)
{
	struct trn_batcher_config c = {false, batch, true, false, 0, 99,
				       budget};
	struct trn_batcher *b = NULL, *b2 = NULL;
	struct trn_data *d = NULL;
	int side[NREC], seq0[NREC], seq1[NREC], again[NREC], seen[NREC];
	int n, i, v, expect;

	RF_ASSERT_OK(trn_data_open(good_path, &d, NULL));
	RF_ASSERT_OK(trn_data_split(d, 0.3, 7, NULL));
	sides(d, side, 1);
	for (v = 0; v < 2; v++) {
		size_t counts[3], want[3] = {0, 0, 0};

		/* per-label counts of the side, from the records' labels;
		 * a class beyond the dataset's counts nothing */
		for (i = 0; i < NREC; i++)
			if (side[i] == v)
				want[label_of(i)]++;
		trn_data_class_counts(d, v, counts, 3);
		assert_memory_equal(counts, want, sizeof want);
		assert_int_equal(counts[0] + counts[1], trn_data_count(d, v));
		c.validation = v;
		RF_ASSERT_OK(trn_batcher_create(d, &c, &b, NULL));
		RF_ASSERT_OK(trn_batcher_create(d, &c, &b2, NULL));
		expect = (int)trn_data_count(d, v);
		assert_int_equal(trn_batcher_batches(b),
				 (expect + batch - 1) / batch);
		n = walk(b, 0, batch, seq0);
		assert_int_equal(n, expect);
		/* every record of the side exactly once */
		memset(seen, 0, sizeof seen);
		for (i = 0; i < n; i++) {
			assert_int_equal(side[seq0[i]], v);
			assert_int_equal(seen[seq0[i]]++, 0);
		}
		assert_int_equal(walk(b, 1, batch, seq1), n);
		assert_true(memcmp(seq0, seq1, n * sizeof *seq0) != 0);
		memset(seen, 0, sizeof seen);
		for (i = 0; i < n; i++)
			assert_int_equal(seen[seq1[i]]++, 0);
		for (i = 0; i < n; i++)
			assert_int_equal(side[seq1[i]], v);
		/* the same (seed, epoch): the same order, from this batcher
		 * and from another */
		assert_int_equal(walk(b, 0, batch, again), n);
		assert_memory_equal(seq0, again, n * sizeof *seq0);
		assert_int_equal(walk(b2, 0, batch, again), n);
		assert_memory_equal(seq0, again, n * sizeof *seq0);
		/* not record order */
		for (i = 1; i < n && seq0[i] > seq0[i - 1]; i++)
			;
		assert_true(i < n);
		trn_batcher_destroy(b);
		trn_batcher_destroy(b2);
	}
	trn_data_close(d);
}

static void test_epochs_cached(void **state)
{
	(void)state;
	check_epochs(0, 16);  /* 256 MiB: read once */
	check_epochs(0, 7);
	check_epochs(0, 1);
}

static void test_epochs_blocks(void **state)
{
	(void)state;
	/* room for 5 images, then 1: shuffled blocks */
	check_epochs(5 * PIX * sizeof(float), 16);
	/* just too small for a side of ~200 records */
	check_epochs(150 * PIX * sizeof(float), 32);
}

static void test_budget_below_one_image(void **state)
{
	/* one image at a time, each read on its own: one epoch of the
	 * validation side (every read decompresses a whole chunk) */
	struct trn_batcher_config c = {true, 7, true, false, 0, 99,
				       PIX * sizeof(float) - 1};
	struct trn_batcher *b = NULL;
	struct trn_data *d = NULL;
	int side[NREC], seq[NREC], seen[NREC] = {0}, n, i;

	(void)state;
	RF_ASSERT_OK(trn_data_open(good_path, &d, NULL));
	RF_ASSERT_OK(trn_data_split(d, 0.2, 7, NULL));
	sides(d, side, 1);
	RF_ASSERT_OK(trn_batcher_create(d, &c, &b, NULL));
	n = walk(b, 2, c.batch, seq);
	assert_int_equal(n, trn_data_count(d, true));
	for (i = 0; i < n; i++) {
		assert_int_equal(side[seq[i]], 1);
		assert_int_equal(seen[seq[i]]++, 0);
	}
	trn_batcher_destroy(b);
	trn_data_close(d);
}

/* Scatter formulation of the documented augmentation (trn_data.h). */
static void naive_augment(const float *src, int ch, int h, int w, int flip,
			  int dx, int dy, float *dst)
{
	int c, y, x, ty, tx, fx;

	memset(dst, 0, (size_t)ch * h * w * sizeof *dst);
	for (c = 0; c < ch; c++)
		for (y = 0; y < h; y++)
			for (x = 0; x < w; x++) {
				fx = flip ? w - 1 - x : x;
				ty = y + dy;
				tx = fx + dx;
				if (ty >= 0 && ty < h && tx >= 0 && tx < w)
					dst[(c * h + ty) * w + tx] =
						src[(c * h + y) * w + x];
			}
}

static void test_augment_reference(void **state)
{
	enum { C = 2, H = 5, W = 7 };
	float src[C * H * W], got[C * H * W], want[C * H * W];
	int i, flip, dx, dy;

	(void)state;
	for (i = 0; i < C * H * W; i++)
		src[i] = (float)(i + 1);
	for (flip = 0; flip < 2; flip++)
		for (dx = -8; dx <= 8; dx++)
			for (dy = -6; dy <= 6; dy++) {
				naive_augment(src, C, H, W, flip, dx, dy,
					      want);
				memset(got, 0xff, sizeof got);
				trn_data_augment(src, C, H, W, flip, dx, dy,
						 got);
				assert_memory_equal(got, want, sizeof want);
			}
	/* by hand: flip then one right, one up, on channel 0 row 0 */
	trn_data_augment(src, C, H, W, true, 1, -1, got);
	assert_true(got[0] == 0.0f);             /* moved in from the left */
	assert_true(got[1] == src[W + W - 1]);   /* row 1, last column */
	assert_true(got[(H - 1) * W + 3] == 0.0f); /* last row: from below */
}

/* Is img one of the augmentations of record r with shifts up to s? */
static int augmentation_of(const float *img, int r, int s, int *flip_out,
			   int *dx_out)
{
	float orig[PIX], cand[PIX];
	int flip, dx, dy;

	image_of(r, orig);
	for (flip = 0; flip < 2; flip++)
		for (dx = -s; dx <= s; dx++)
			for (dy = -s; dy <= s; dy++) {
				naive_augment(orig, 1, SIDE, SIDE, flip, dx,
					      dy, cand);
				if (!memcmp(cand, img, sizeof cand)) {
					*flip_out = flip;
					*dx_out = dx;
					return 1;
				}
			}
	return 0;
}

static void check_augment(size_t budget)
{
	struct trn_batcher_config plain = {false, 8, true, false, 0, 5,
					   budget};
	struct trn_batcher_config aug = {false, 8, true, true, 2, 5, budget};
	struct trn_batcher *bp = NULL, *ba = NULL;
	struct trn_data *d = NULL;
	struct trn_batch bt;
	int seq[NREC], flips[2] = {0}, shifts[5] = {0};
	float *first = NULL;
	int n, k, pass, flip = 0, dx = 0;
	size_t i;

	RF_ASSERT_OK(trn_data_open(good_path, &d, NULL));
	RF_ASSERT_OK(trn_batcher_create(d, &plain, &bp, NULL));
	RF_ASSERT_OK(trn_batcher_create(d, &aug, &ba, NULL));
	n = walk(bp, 3, plain.batch, seq);
	first = calloc((size_t)n, PIX * sizeof(float));
	assert_non_null(first);
	for (pass = 0; pass < 2; pass++) {
		RF_ASSERT_OK(trn_batcher_start(ba, 3, NULL));
		k = 0;
		while (trn_batcher_next(ba, &bt, NULL) == RF_OK) {
			for (i = 0; i < bt.count; i++, k++) {
				const float *img = bt.images + i * PIX;

				/* same order as without augmentation */
				assert_int_equal(bt.labels[i],
						 label_of(seq[k]));
				assert_true(augmentation_of(img, seq[k], 2,
							    &flip, &dx));
				flips[flip]++;
				shifts[dx + 2]++;
				if (pass == 0)
					memcpy(first + (size_t)k * PIX, img,
					       PIX * sizeof(float));
				else	/* the cache was not changed */
					assert_memory_equal(
						first + (size_t)k * PIX, img,
						PIX * sizeof(float));
			}
		}
		assert_int_equal(k, n);
	}
	for (k = 0; k < 2; k++)
		assert_true(flips[k] > n / 4);
	for (k = 0; k < 5; k++)
		assert_true(shifts[k] > n / 20);
	/* and the plain batcher still reads the original images */
	assert_int_equal(walk(bp, 3, plain.batch, seq), n);
	free(first);
	trn_batcher_destroy(bp);
	trn_batcher_destroy(ba);
	trn_data_close(d);
}

static void test_augment_batches(void **state)
{
	(void)state;
	check_augment(0);
	check_augment(10 * PIX * sizeof(float));
}

static void check_bad(const char *dir, const char *name, enum flaw flaw,
		      enum rf_rc want, const char *needle)
{
	char path[600];
	struct trn_data *d = (struct trn_data *)1;
	struct rf_err e = {0};

	snprintf(path, sizeof path, "%s/%s.h5", dir, name);
	write_dataset(path, NULL, 40, flaw);
	RF_ASSERT_RC(trn_data_open(path, &d, &e), want);
	assert_null(d);
	if (!strstr(e.msg, needle))
		fail_msg("%s: '%s' does not name '%s'", name, e.msg, needle);
}

static void test_bad_files(void **state)
{
	const char *dir = rf_test_tmpdir("trainers_data_bad");
	char path[600];
	struct trn_data *d = NULL;
	struct rf_err e = {0};
	struct stat st;

	(void)state;
	check_bad(dir, "nolabels", FLAW_NO_LABELS, RF_ENOTFOUND, "/labels");
	check_bad(dir, "floatlabels", FLAW_FLOAT_LABELS, RF_EPROTO,
		  "'/labels'");
	check_bad(dir, "metarows", FLAW_META_ROWS, RF_EPROTO,
		  "'/meta/patient'");
	check_bad(dir, "rank3", FLAW_IMAGES_RANK, RF_EPROTO, "'/images'");
	check_bad(dir, "unlabelled", FLAW_NO_LABELLED, RF_EINVAL,
		  "no labelled record");

	snprintf(path, sizeof path, "%s/missing.h5", dir);
	RF_ASSERT_RC(trn_data_open(path, &d, &e), RF_ENOTFOUND);
	assert_null(d);

	/* the good file cut in the middle */
	assert_int_equal(stat(good_path, &st), 0);
	snprintf(path, sizeof path, "%s/truncated.h5", dir);
	assert_int_equal(rf_sh("head -c %lld '%s' > '%s'",
			       (long long)st.st_size / 2, good_path, path), 0);
	RF_ASSERT_RC(trn_data_open(path, &d, &e), RF_EPROTO);
	assert_null(d);
	assert_non_null(strstr(e.msg, "truncated.h5"));
}

static void test_batcher_errors(void **state)
{
	struct trn_batcher_config c = {false, 0, true, false, 0, 1, 0};
	struct trn_batcher *b = NULL;
	struct trn_data *d = NULL;
	struct trn_batch bt;
	struct rf_err e = {0};

	(void)state;
	RF_ASSERT_OK(trn_data_open(good_path, &d, NULL));
	RF_ASSERT_RC(trn_batcher_create(d, &c, &b, &e), RF_EINVAL);
	assert_null(b);
	c.batch = 4;
	c.validation = true; /* no split yet: empty */
	RF_ASSERT_RC(trn_batcher_create(d, &c, &b, &e), RF_EINVAL);
	assert_non_null(strstr(e.msg, "validation side"));
	c.validation = false;
	RF_ASSERT_OK(trn_batcher_create(d, &c, &b, NULL));
	RF_ASSERT_RC(trn_batcher_next(b, &bt, &e), RF_EINVAL);
	trn_batcher_destroy(b);
	trn_batcher_destroy(NULL);
	trn_data_close(d);
	trn_data_close(NULL);
}

static void test_oom(void **state)
{
	struct trn_batcher_config c = {false, 32, true, true, 1, 3, 0};
	struct trn_batcher *b = NULL;
	struct trn_data *d = NULL;
	struct trn_batch bt;
	size_t budgets[2] = {0, 20 * PIX * sizeof(float)};
	size_t seen;
	enum rf_rc rc;
	int k;

	(void)state;
	for (k = 0; k < 2; k++) {
		c.mem_budget = budgets[k];
		RF_TEST_OOM_LOOP(rc, {
			d = NULL;
			b = NULL;
			seen = 0;
			rc = trn_data_open(good_path, &d, NULL);
			if (!rc)
				rc = trn_data_split(d, 0.2, 11, NULL);
			if (!rc)
				rc = trn_batcher_create(d, &c, &b, NULL);
			if (!rc)
				rc = trn_batcher_start(b, 0, NULL);
			while (!rc && (rc = trn_batcher_next(b, &bt, NULL))
				      == RF_OK)
				seen += bt.count;
			if (rc == RF_ENOTFOUND)
				rc = RF_OK;
			if (rc) {
				trn_batcher_destroy(b);
				trn_data_close(d);
			}
		}, {
			assert_int_equal(seen, trn_data_count(d, false));
			trn_batcher_destroy(b);
			trn_data_close(d);
		});
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_info),
		cmocka_unit_test(test_split),
		cmocka_unit_test(test_split_errors),
		cmocka_unit_test(test_split_small),
		cmocka_unit_test(test_epochs_cached),
		cmocka_unit_test(test_epochs_blocks),
		cmocka_unit_test(test_budget_below_one_image),
		cmocka_unit_test(test_augment_reference),
		cmocka_unit_test(test_augment_batches),
		cmocka_unit_test(test_bad_files),
		cmocka_unit_test(test_batcher_errors),
		cmocka_unit_test(test_oom),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
