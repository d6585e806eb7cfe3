/* test_synth.c - `radfed synth`: the same arguments give the same bytes;
 * every file reads back with our reader, pydicom
 * (tests/anonymizer/ref/synth_check.py) and dcmdump, RLE files decode with
 * dcmtk's dcmdrle to the generated pixels; labels are balanced and agree
 * with the reports; every identifier of truth/identifiers.tsv is really in
 * its patient's files, and the reports carry their patient's identifiers.
 * Needs /usr/bin/python3 with pydicom and numpy, and dcmtk. */
#include "rf_test.h"

#include <sys/wait.h>

#include "anon_dicom.h"
#include "anon_synth.h"
#include "rf_buf.h"
#include "rf_crypto.h"

#define MAX_FILE ((size_t)64 << 20)
#define PATIENTS 6
#define TS_RLE "1.2.840.10008.1.2.5"
#define TS_DEFLATED "1.2.840.10008.1.2.1.99"
#define SOP_CT "1.2.840.10008.5.1.4.1.1.2"
#define SOP_CR "1.2.840.10008.5.1.4.1.1.1"
#define SOP_US "1.2.840.10008.5.1.4.1.1.6.1"
#define SOP_SC "1.2.840.10008.5.1.4.1.1.7"
#define ARGS "--patients 6 --seed 42 --size 64 --images-per-study 2"

static char dir_a[512], dir_b[512];

/* ---- small helpers ------------------------------------------------------ */

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *p;
	long n;

	if (!f)
		fail_msg("cannot open '%s'", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	p = malloc((size_t)n + 1);
	assert_non_null(p);
	assert_int_equal(fread(p, 1, (size_t)n, f), (size_t)n);
	p[n] = 0;
	fclose(f);
	if (len)
		*len = (size_t)n;
	return p;
}

static void sha_hex(const void *p, size_t n, char hex[65])
{
	uint8_t md[RF_SHA256_LEN];

	RF_ASSERT_OK(rf_sha256(p, n, md, NULL));
	RF_ASSERT_OK(rf_hex_encode(md, sizeof md, hex, 65, NULL));
}

/* The lines of a text file (split in place; *n lines). */
static char **lines_of(char *text, size_t *n)
{
	size_t cap = 16, k = 0;
	char **v = malloc(cap * sizeof *v);
	char *p = text, *nl;

	assert_non_null(v);
	while (*p) {
		nl = strchr(p, '\n');
		if (nl)
			*nl = 0;
		if (k == cap) {
			cap *= 2;
			v = realloc(v, cap * sizeof *v);
			assert_non_null(v);
		}
		v[k++] = p;
		if (!nl)
			break;
		p = nl + 1;
	}
	*n = k;
	return v;
}

/* Field i (0-based) of a tab- or comma-separated line, copied. */
static void field(const char *line, char sep, int i, char *out, size_t size)
{
	const char *p = line, *q;

	for (; i > 0; i--) {
		p = strchr(p, sep);
		assert_non_null(p);
		p++;
	}
	q = strchr(p, sep);
	if (!q)
		q = p + strlen(p);
	assert_true((size_t)(q - p) < size);
	memcpy(out, p, (size_t)(q - p));
	out[q - p] = 0;
}

static void elem_str(const struct anon_ds *ds, uint32_t tag, char *out,
		     size_t size)
{
	const struct anon_elem *el = anon_ds_find(ds, tag);
	size_t n = 0;

	if (el && el->val) {
		n = el->len < size - 1 ? el->len : size - 1;
		memcpy(out, el->val, n);
		while (n && (out[n - 1] == ' ' || out[n - 1] == 0))
			n--;
	}
	out[n] = 0;
}

static int run_synth(const char *dir, const char *args)
{
	char cmd[1200];

	snprintf(cmd, sizeof cmd, "'%s' synth --out '%s' %s >/dev/null",
		 RF_TEST_RADFED, dir, args);
	return system(cmd);
}

static int group_setup(void **state)
{
	(void)state;
	snprintf(dir_a, sizeof dir_a, "%s", rf_test_tmpdir("synth_a"));
	snprintf(dir_b, sizeof dir_b, "%s", rf_test_tmpdir("synth_b"));
	if (run_synth(dir_a, ARGS) != 0 || run_synth(dir_b, ARGS) != 0)
		return -1;
	return 0;
}

/* ---- determinism -------------------------------------------------------- */

/* "relative-path sha256" of every file under dir, sorted. */
static char *manifest(const char *dir)
{
	char cmd[1200], line[1200], hex[65], path[1800];
	struct rf_buf out = RF_BUF_INIT((size_t)1 << 24);
	FILE *f;

	snprintf(cmd, sizeof cmd, "cd '%s' && find . -type f | LC_ALL=C sort",
		 dir);
	f = popen(cmd, "r");
	assert_non_null(f);
	while (fgets(line, sizeof line, f)) {
		size_t len;
		char *data;

		line[strcspn(line, "\n")] = 0;
		snprintf(path, sizeof path, "%s/%s", dir, line);
		data = slurp(path, &len);
		sha_hex(data, len, hex);
		free(data);
		RF_ASSERT_OK(rf_buf_printf(&out, NULL, "%s %s\n", line, hex));
	}
	assert_int_equal(pclose(f), 0);
	return (char *)rf_buf_detach(&out, NULL);
}

static void test_deterministic(void **state)
{
	char *a, *b, *c;
	const char *dir_c = rf_test_tmpdir("synth_c");
	char dc[512];

	(void)state;
	a = manifest(dir_a);
	b = manifest(dir_b);
	assert_true(strlen(a) > 1000);
	assert_string_equal(a, b);
	/* no temporary file left behind */
	assert_null(strstr(a, ".tmp "));
	/* another seed gives another set */
	snprintf(dc, sizeof dc, "%s", dir_c);
	assert_int_equal(run_synth(dc, "--patients 6 --seed 43 --size 64 "
					"--images-per-study 2"), 0);
	c = manifest(dc);
	assert_string_not_equal(a, c);
	rf_free(a);
	rf_free(b);
	rf_free(c);
}

/* ---- every file reads back ----------------------------------------------- */

struct collect {
	struct rf_buf *text;
};

static enum anon_walk collect_text(struct anon_ds *ds, struct anon_elem *el,
				   const struct anon_path *path, void *ctx)
{
	struct collect *c = ctx;
	size_t start;

	(void)path;
	if (el->vr == ANON_VR('S', 'Q') || (el->flags & ANON_ELEM_ENCAP) ||
	    el->tag == ANON_TAG(0x7fe0, 0x0010) ||
	    el->tag == ANON_TAG(0x6000, 0x3000))
		return ANON_WALK_NEXT;
	/* raw bytes decoded in the dataset's character set, whatever the
	 * VR: implicit VR files give private elements as UN */
	start = c->text->len;
	RF_ASSERT_OK(anon_charset_decode((enum anon_charset)ds->charset,
					 el->val, el->len, c->text, NULL));
	/* binary values hold NULs: keep the text searchable as a string */
	for (size_t i = start; i < c->text->len; i++)
		if (c->text->data[i] == 0)
			c->text->data[i] = '\n';
	RF_ASSERT_OK(rf_buf_putc(c->text, '\n', NULL));
	return ANON_WALK_NEXT;
}

struct file_info {
	char series[64];
	char sop[80];
	char ref[80];
};

static void test_read_back(void **state)
{
	char path[1200], rel[256], ts[80], bits[8], want[80], hex[65];
	char v[128], *tsv, **rows, *ids, **idrows;
	struct rf_buf text[PATIENTS + 1], raw[PATIENTS + 1];
	struct file_info *info;
	size_t nrows, nid, i, j, nts[5] = {0}, ncs[2] = {0}, nquar = 0;
	size_t nlatin = 0;
	struct rf_buf l1 = RF_BUF_INIT(4096);

	(void)state;
	for (i = 0; i <= PATIENTS; i++) {
		rf_buf_init(&text[i], (size_t)1 << 26);
		rf_buf_init(&raw[i], (size_t)1 << 26);
	}
	snprintf(path, sizeof path, "%s/truth/pixels.tsv", dir_a);
	tsv = slurp(path, NULL);
	rows = lines_of(tsv, &nrows);
	assert_true(nrows > 10);
	info = calloc(nrows, sizeof *info);
	assert_non_null(info);
	for (i = 1; i < nrows; i++) {
		struct anon_dicom *d = NULL;
		struct rf_err err = {0};
		struct collect c;
		const struct anon_elem *px;
		struct anon_ds *it;
		unsigned pat;

		field(rows[i], '\t', 0, rel, sizeof rel);
		field(rows[i], '\t', 1, ts, sizeof ts);
		field(rows[i], '\t', 2, bits, sizeof bits);
		field(rows[i], '\t', 3, want, sizeof want);
		snprintf(path, sizeof path, "%s/%s", dir_a, rel);
		RF_ASSERT_OK_E(anon_dicom_read_file(path, MAX_FILE, NULL, &d,
						    &err), &err);
		assert_string_equal(d->ts_uid, ts);
		for (j = 0; j < 5; j++)
			if (strcmp(ts, anon_synth_ts_uid((unsigned)j)) == 0)
				nts[j]++;
		ncs[d->ds.charset == ANON_CS_UTF8]++;
		/* native pixels equal the generated ones (our reader swaps
		 * big-endian input to little-endian) */
		px = anon_ds_find(&d->ds, ANON_TAG(0x7fe0, 0x0010));
		assert_non_null(px);
		if (strcmp(ts, TS_RLE) != 0) {
			sha_hex(px->val, px->len, hex);
			if (strcmp(hex, want) != 0)
				fail_msg("'%s': pixel data differs", rel);
		} else {
			assert_true(px->flags & ANON_ELEM_ENCAP);
			assert_int_equal(px->nfrags, 2);
		}
		/* what a de-identifier must quarantine */
		elem_str(&d->ds, ANON_TAG(0x0008, 0x0016), v, sizeof v);
		if (strstr(rel, "/2/01.dcm")) {
			nquar++;
			assert_true(strcmp(v, SOP_US) == 0 ||
				    strcmp(v, SOP_SC) == 0);
			elem_str(&d->ds, ANON_TAG(0x0028, 0x0301), v,
				 sizeof v);
			assert_true(strcmp(v, "") == 0 ||
				    strcmp(v, "YES") == 0);
			assert_string_equal(bits, "8");
		} else {
			assert_true(strcmp(v, SOP_CT) == 0 ||
				    strcmp(v, SOP_CR) == 0);
			assert_non_null(anon_ds_find(
				&d->ds, ANON_TAG(0x6000, 0x3000)));
			assert_non_null(anon_ds_private_creator(
				&d->ds, ANON_TAG(0x0009, 0x1001), &j));
		}
		/* for the referential-integrity check below */
		snprintf(info[i].series, sizeof info[i].series, "%.*s",
			 (int)(strrchr(rel, '/') - rel), rel);
		elem_str(&d->ds, ANON_TAG(0x0008, 0x0018), info[i].sop,
			 sizeof info[i].sop);
		px = anon_ds_find(&d->ds, ANON_TAG(0x0008, 0x1140));
		if (px) {
			assert_int_equal(px->nitems, 1);
			it = &px->items[0];
			elem_str(it, ANON_TAG(0x0008, 0x1155), info[i].ref,
				 sizeof info[i].ref);
		}
		/* all the text of this patient */
		assert_int_equal(sscanf(rel, "dicom/%u/", &pat), 1);
		assert_true(pat >= 1 && pat <= PATIENTS);
		c.text = &text[pat];
		anon_ds_walk(&d->ds, collect_text, &c);
		/* and the raw bytes of the files whose text is not
		 * compressed */
		if (strcmp(ts, TS_DEFLATED) != 0) {
			size_t start = raw[pat].len;

			RF_ASSERT_OK(rf_buf_append(&raw[pat], d->file,
						   d->file_len, NULL));
			for (j = start; j < raw[pat].len; j++)
				if (raw[pat].data[j] == 0)
					raw[pat].data[j] = '\n';
		}
		anon_dicom_destroy(d);
	}
	for (j = 0; j < 5; j++)
		if (nts[j] == 0)
			fail_msg("no file in %s", anon_synth_ts_uid(j));
	assert_true(ncs[0] > 0 && ncs[1] > 0);
	assert_true(nquar > 0);
	/* ReferencedSOPInstanceUID: another instance of the same series */
	for (i = 1; i < nrows; i++) {
		int found = 0;

		if (!info[i].ref[0])
			continue;
		assert_string_not_equal(info[i].ref, info[i].sop);
		for (j = 1; j < nrows; j++)
			if (strcmp(info[j].series, info[i].series) == 0 &&
			    strcmp(info[j].sop, info[i].ref) == 0)
				found = 1;
		if (!found)
			fail_msg("'%s': reference to '%s' dangles",
				 info[i].series, info[i].ref);
	}
	/* every planted identifier is in its patient's files */
	snprintf(path, sizeof path, "%s/truth/identifiers.tsv", dir_a);
	ids = slurp(path, NULL);
	idrows = lines_of(ids, &nid);
	assert_true(nid > PATIENTS * 20);
	for (i = 1; i < nid; i++) {
		char pat[16], kind[64], value[256];
		unsigned p;

		field(idrows[i], '\t', 0, pat, sizeof pat);
		field(idrows[i], '\t', 1, kind, sizeof kind);
		field(idrows[i], '\t', 2, value, sizeof value);
		assert_int_equal(sscanf(pat, "%u", &p), 1);
		assert_true(p >= 1 && p <= PATIENTS);
		assert_true(strlen(value) > 0);
		if (!strstr(rf_buf_str(&text[p]), value))
			fail_msg("patient %u: %s '%s' is in no file", p, kind,
				 value);
		/* a search of the raw bytes finds it too, in UTF-8 or in
		 * Latin-1 (instance UIDs may sit in a deflated file only) */
		if (strstr(kind, "instance_uid") &&
		    strcmp(kind, "study_instance_uid") != 0)
			continue;
		rf_buf_reset(&l1);
		RF_ASSERT_OK(anon_charset_encode(ANON_CS_LATIN1, value,
						 strlen(value), &l1, NULL));
		if (!strstr(rf_buf_str(&raw[p]), value) &&
		    !strstr(rf_buf_str(&raw[p]), rf_buf_str(&l1)))
			fail_msg("patient %u: %s '%s' is in no raw file", p,
				 kind, value);
		nlatin += strcmp(value, rf_buf_str(&l1)) != 0 &&
			  strstr(rf_buf_str(&raw[p]), rf_buf_str(&l1));
	}
	assert_true(nlatin > 0);
	rf_buf_release(&l1);
	for (i = 0; i <= PATIENTS; i++) {
		rf_buf_release(&text[i]);
		rf_buf_release(&raw[i]);
	}
	free(idrows);
	free(ids);
	free(info);
	free(rows);
	free(tsv);
}

/* ---- independent readers ------------------------------------------------- */

static void test_pydicom(void **state)
{
	char cmd[1400];

	(void)state;
	snprintf(cmd, sizeof cmd,
		 "/usr/bin/python3 '%s/tests/anonymizer/ref/synth_check.py' "
		 "'%s'", RF_TEST_SRCDIR, dir_a);
	assert_int_equal(system(cmd), 0);
}

static void test_dcmtk(void **state)
{
	char path[1200], out[1200], cmd[3000], rel[256], ts[80], want[80];
	char hex[65], *tsv, **rows;
	const char *tmp = rf_test_tmpdir("synth_drle");
	size_t nrows, i, nrle = 0;

	(void)state;
	snprintf(path, sizeof path, "%s/truth/pixels.tsv", dir_a);
	tsv = slurp(path, NULL);
	rows = lines_of(tsv, &nrows);
	for (i = 1; i < nrows; i++) {
		struct anon_dicom *d = NULL;
		struct rf_err err = {0};
		const struct anon_elem *px;

		field(rows[i], '\t', 0, rel, sizeof rel);
		field(rows[i], '\t', 1, ts, sizeof ts);
		field(rows[i], '\t', 3, want, sizeof want);
		snprintf(path, sizeof path, "%s/%s", dir_a, rel);
		snprintf(cmd, sizeof cmd, "dcmdump -q -E '%s' >/dev/null",
			 path);
		if (system(cmd) != 0)
			fail_msg("dcmdump rejects '%s'", rel);
		if (strcmp(ts, TS_RLE) != 0)
			continue;
		nrle++;
		snprintf(out, sizeof out, "%s/%zu.dcm", tmp, i);
		snprintf(cmd, sizeof cmd, "dcmdrle '%s' '%s'", path, out);
		if (system(cmd) != 0)
			fail_msg("dcmdrle cannot decode '%s'", rel);
		RF_ASSERT_OK_E(anon_dicom_read_file(out, MAX_FILE, NULL, &d,
						    &err), &err);
		px = anon_ds_find(&d->ds, ANON_TAG(0x7fe0, 0x0010));
		assert_non_null(px);
		assert_false(px->flags & ANON_ELEM_ENCAP);
		sha_hex(px->val, px->len, hex);
		if (strcmp(hex, want) != 0)
			fail_msg("'%s': dcmdrle gives other pixels", rel);
		anon_dicom_destroy(d);
	}
	assert_true(nrle > 0);
	free(rows);
	free(tsv);
}

/* ---- labels and reports -------------------------------------------------- */

static void test_labels_reports(void **state)
{
	char path[1200], acc[64], uid[80], lab[8], *csv, **rows, *ids;
	char **idrows;
	size_t nrows, nid, i, j, pos = 0;

	(void)state;
	snprintf(path, sizeof path, "%s/labels.csv", dir_a);
	csv = slurp(path, NULL);
	rows = lines_of(csv, &nrows);
	assert_string_equal(rows[0],
			    "accession_number,study_instance_uid,label");
	assert_true(nrows >= PATIENTS + 1);
	snprintf(path, sizeof path, "%s/truth/identifiers.tsv", dir_a);
	ids = slurp(path, NULL);
	idrows = lines_of(ids, &nid);
	for (i = 1; i < nrows; i++) {
		char *rep, *concl, pat[16] = "";

		field(rows[i], ',', 0, acc, sizeof acc);
		field(rows[i], ',', 1, uid, sizeof uid);
		field(rows[i], ',', 2, lab, sizeof lab);
		assert_true(strcmp(lab, "0") == 0 || strcmp(lab, "1") == 0);
		pos += lab[0] == '1';
		snprintf(path, sizeof path, "%s/reports/%s.txt", dir_a, acc);
		rep = slurp(path, NULL);
		concl = strstr(rep, "\nCONCLUSION :\n");
		assert_non_null(concl);
		if (lab[0] == '1') {
			assert_non_null(strstr(concl, "Nodule de "));
			assert_non_null(strstr(concl, " mm du lobe "));
		} else {
			assert_non_null(strstr(concl, "pas de nodule"));
			assert_null(strstr(concl, "Nodule de "));
		}
		/* the patient of this accession number... */
		for (j = 1; j < nid; j++) {
			char kind[64], value[256];

			field(idrows[j], '\t', 1, kind, sizeof kind);
			field(idrows[j], '\t', 2, value, sizeof value);
			if (strcmp(kind, "accession_number") == 0 &&
			    strcmp(value, acc) == 0)
				field(idrows[j], '\t', 0, pat, sizeof pat);
		}
		assert_true(pat[0] != 0);
		/* ... has their identifiers in the report */
		for (j = 1; j < nid; j++) {
			char p[16], kind[64], value[256];

			field(idrows[j], '\t', 0, p, sizeof p);
			field(idrows[j], '\t', 1, kind, sizeof kind);
			field(idrows[j], '\t', 2, value, sizeof value);
			if (strcmp(p, pat) != 0)
				continue;
			if (strcmp(kind, "family_name") == 0 ||
			    strcmp(kind, "given_name") == 0 ||
			    strcmp(kind, "patient_id") == 0 ||
			    strcmp(kind, "nir") == 0 ||
			    strcmp(kind, "address") == 0 ||
			    strcmp(kind, "phone") == 0)
				if (!strstr(rep, value))
					fail_msg("report %s lacks %s '%s'",
						 acc, kind, value);
		}
		assert_non_null(strstr(rep, acc));
		free(rep);
	}
	/* balanced: 40-60 % positives */
	assert_true(pos * 10 >= (nrows - 1) * 4);
	assert_true(pos * 10 <= (nrows - 1) * 6);
	free(idrows);
	free(ids);
	free(rows);
	free(csv);
}

/* ---- the library API ----------------------------------------------------- */

static void test_options(void **state)
{
	struct anon_synth_opts o = {0, 1, 0, 0};
	struct rf_err err = {0};

	(void)state;
	RF_ASSERT_RC(anon_synth_run(dir_a, &o, NULL, NULL, NULL, &err),
		     RF_EINVAL);
	o.patients = 1;
	o.size = 16;
	RF_ASSERT_RC(anon_synth_run(dir_a, &o, NULL, NULL, NULL, &err),
		     RF_EINVAL);
	o.size = 32;
	o.images_per_study = 65;
	RF_ASSERT_RC(anon_synth_run(dir_a, &o, NULL, NULL, NULL, &err),
		     RF_EINVAL);
	o.images_per_study = 1;
	/* never over an earlier set */
	RF_ASSERT_RC(anon_synth_run(dir_a, &o, NULL, NULL, NULL, &err),
		     RF_EEXIST);
	assert_non_null(strstr(err.msg, "already exists"));
	/* the command refuses bad arguments with the usage status */
	assert_int_equal(WEXITSTATUS(run_synth(dir_a, "--patients 0 "
						      "--seed 1")), 2);
	assert_int_equal(WEXITSTATUS(run_synth(dir_a, "--patients 2")), 2);
}

static void test_json(void **state)
{
	char cmd[1200], out[2048];
	const char *dir = rf_test_tmpdir("synth_json");
	FILE *f;
	size_t n;

	(void)state;
	snprintf(cmd, sizeof cmd,
		 "'%s' synth --json --out '%s/set' --patients 3 --seed 9 "
		 "--size 32 --images-per-study 5",
		 RF_TEST_RADFED, dir);
	f = popen(cmd, "r");
	assert_non_null(f);
	n = fread(out, 1, sizeof out - 1, f);
	out[n] = 0;
	assert_int_equal(pclose(f), 0);
	assert_non_null(strstr(out, "{\"out\": \""));
	assert_non_null(strstr(out, "\"patients\": 3, "));
	assert_non_null(strstr(out, "\"transfer_syntaxes\": {"
				    "\"1.2.840.10008.1.2.1\": "));
	assert_int_equal(out[n - 2], '}');
	assert_int_equal(out[n - 1], '\n');
	/* a second run over the same directory is refused */
	f = popen(cmd, "r");
	assert_non_null(f);
	n = fread(out, 1, sizeof out - 1, f);
	out[n] = 0;
	assert_int_equal(WEXITSTATUS(pclose(f)), 1);
	assert_non_null(strstr(out, "\"code\": \"EEXIST\""));
}

static void test_rle_vectors(void **state)
{
	/* PackBits (PS3.5 G.3.1) worked by hand: 5 5 5 -> FE 05 (replicate
	 * 3), 1 -> 00 01 (literal 1), 2 2 at the row's end -> FF 02 */
	static const uint8_t row8[6] = {5, 5, 5, 1, 2, 2};
	static const uint8_t seg8[6] = {0xfe, 5, 0x00, 1, 0xff, 2};
	/* 16-bit: 0x0102 0x0102 0x0304 -> high bytes 01 01 03 -> literal
	 * 02 01 01 03 (a pair inside a row is not worth a run); low bytes
	 * 02 02 04 -> 02 02 02 04; both segments padded to even length */
	static const uint8_t px16[6] = {2, 1, 2, 1, 4, 3};
	static const uint8_t seg16a[4] = {0x02, 1, 1, 3};
	static const uint8_t seg16b[4] = {0x02, 2, 2, 4};
	struct rf_buf b = RF_BUF_INIT(1 << 16);
	enum rf_rc rc;

	(void)state;
	RF_ASSERT_OK(anon_synth_rle_encode(row8, 1, 6, 8, &b, NULL));
	assert_int_equal(b.len, 64 + 6);
	assert_int_equal(b.data[0], 1);    /* one segment */
	assert_int_equal(b.data[4], 64);   /* at offset 64 */
	assert_int_equal(b.data[8], 0);
	assert_memory_equal(b.data + 64, seg8, 6);
	rf_buf_release(&b);

	RF_ASSERT_OK(anon_synth_rle_encode(px16, 1, 3, 16, &b, NULL));
	assert_int_equal(b.len, 64 + 4 + 4);
	assert_int_equal(b.data[0], 2);
	assert_int_equal(b.data[4], 64);
	assert_int_equal(b.data[8], 68);
	assert_memory_equal(b.data + 64, seg16a, 4);
	assert_memory_equal(b.data + 68, seg16b, 4);
	rf_buf_release(&b);

	RF_ASSERT_RC(anon_synth_rle_encode(row8, 1, 6, 12, &b, NULL),
		     RF_EINVAL);
	assert_int_equal(b.len, 0);
	RF_TEST_OOM_LOOP(rc, rc = anon_synth_rle_encode(row8, 1, 6, 8, &b,
							 NULL),
			 rf_buf_release(&b));
}

/* Every allocation failure gives RF_ENOMEM and leaks nothing: a fresh
 * directory per attempt, one patient of 32 x 32 images. */
static void test_oom(void **state)
{
	struct anon_synth_opts o = {1, 5, 1, 32};
	struct anon_synth_stats st;
	char base[512], dir[600];
	enum rf_rc rc;

	(void)state;
	snprintf(base, sizeof base, "%s", rf_test_tmpdir("synth_oom"));
	RF_TEST_OOM_LOOP(rc,
			 {
				 snprintf(dir, sizeof dir, "%s/%ld", base,
					  rf_t_n_);
				 rc = anon_synth_run(dir, &o, NULL, NULL, &st,
						     NULL);
			 },
			 (void)0);
	assert_int_equal(st.patients, 1);
	assert_true(st.files >= 1);
	snprintf(dir, sizeof dir, "rm -rf '%s'", base);
	assert_int_equal(system(dir), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rle_vectors),
		cmocka_unit_test(test_deterministic),
		cmocka_unit_test(test_read_back),
		cmocka_unit_test(test_pydicom),
		cmocka_unit_test(test_dcmtk),
		cmocka_unit_test(test_labels_reports),
		cmocka_unit_test(test_options),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_oom),
	};

	return cmocka_run_group_tests(tests, group_setup, NULL);
}
