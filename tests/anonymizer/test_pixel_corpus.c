/* test_pixel_corpus.c - radfed's pixel decoders against independent ones.
 *
 * 1. Native: every uncompressed image of pydicom's corpus decodes to the
 *    values pydicom gives (tests/anonymizer/ref/pixel_ref.py), exactly.
 * 2. Compressed: every compressed image of the corpus, and files made here
 *    from native ones with dcmtk's encoders (lossless JPEG with every
 *    predictor, JPEG baseline/extended, JPEG-LS lossless and near-lossless,
 *    RLE) and GDCM's (JPEG 2000 lossless and lossy), is decoded by radfed
 *    and by a reference tool: dcmtk's dcmdrle, dcmdjpeg, dcmdjpls, else
 *    GDCM's gdcmconv --raw (the only one for JPEG 2000; it uses OpenJPEG
 *    too, so it checks our use of the library, not the library). The tool
 *    writes an uncompressed file that radfed reads with its native path,
 *    validated by 1. Lossless syntaxes must match exactly,
 *    lossy JPEG within 1 per sample (IJG vs libjpeg-turbo rounding), other
 *    lossy syntaxes exactly (same decoding algorithm). Files made lossless
 *    without point transform must also match their native source.
 * A table (file, syntax, reference, max diff) goes to stdout. Files no
 * reference tool decodes are listed, not counted; files radfed refuses as
 * unsupported are listed too. The test fails when a tool is missing.
 * 3. Corrupt data: the encapsulated frames of the corpus with bytes flipped
 *    or their tail overwritten decode or fail with RF_EPROTO (or
 *    RF_EUNSUPPORTED), and never touch memory outside the output buffer
 *    (the test runs under ASan in the sanitizer build). */
#include "rf_test.h"

#include <sys/stat.h>
#include <sys/wait.h>

#include "anon_pixel.h"

#define MAX_FILE ((size_t)256 << 20)

struct decoded {
	int32_t *v;
	size_t n;
	enum anon_photometric pi;
	enum anon_pixel_ts ts;
};

struct stats {
	size_t native, compressed, generated, listed, unsupported;
	size_t by_ts[ANON_PX_HTJ2K + 1];
	long max_lossy_jpeg;
};

static const char *tmpdir;

static int sh(const char *cmd)
{
	int st = system(cmd);

	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static const char *base(const char *p)
{
	const char *s = strstr(p, "/data/");

	return s ? s + 6 : p;
}

/* Every frame of path, or an error code (message in e). */
static enum rf_rc decode_all(const char *path, struct decoded *out,
			     struct rf_err *e)
{
	struct anon_dicom *d = NULL;
	struct anon_image im;
	size_t per, f;
	enum rf_rc rc;

	memset(out, 0, sizeof *out);
	rc = anon_dicom_read_file(path, MAX_FILE, NULL, &d, e);
	if (rc)
		return rc;
	rc = anon_image_describe(d, path, &im, e);
	if (rc)
		goto out;
	per = anon_image_frame_values(&im);
	out->n = per * im.frames;
	out->v = calloc(out->n ? out->n : 1, sizeof *out->v);
	assert_non_null(out->v);
	out->pi = anon_pixel_decoded_photometric(&im);
	out->ts = im.ts;
	for (f = 0; f < im.frames && !rc; f++)
		rc = anon_pixel_decode_frame(d, &im, (uint32_t)f,
					     out->v + f * per, e);
out:
	if (rc) {
		free(out->v);
		memset(out, 0, sizeof *out);
	}
	anon_dicom_destroy(d);
	return rc;
}

/* Largest |a - b|, or -1 when the sizes differ. */
static long max_diff(const struct decoded *a, const struct decoded *b)
{
	long m = 0, x;
	size_t i;

	if (a->n != b->n)
		return -1;
	for (i = 0; i < a->n; i++) {
		x = labs((long)a->v[i] - (long)b->v[i]);
		if (x > m)
			m = x;
	}
	return m;
}

static int is_lossy_jpeg(enum anon_pixel_ts ts)
{
	return ts == ANON_PX_JPEG_BASELINE || ts == ANON_PX_JPEG_EXTENDED;
}

/* Decodes path with the reference tools for its syntax; on success *ref
 * holds the values and *tool the tool's name. */
static int reference(const char *path, enum anon_pixel_ts ts,
		     struct decoded *ref, const char **tool)
{
	static const char *const tools[][2] = {
		[ANON_PX_RLE] = {"dcmdrle", "gdcmconv --raw"},
		[ANON_PX_JPEG_BASELINE] = {"dcmdjpeg", "gdcmconv --raw"},
		[ANON_PX_JPEG_EXTENDED] = {"dcmdjpeg", "gdcmconv --raw"},
		[ANON_PX_JPEG_LOSSLESS] = {"dcmdjpeg", "gdcmconv --raw"},
		[ANON_PX_JPEGLS_LOSSLESS] = {"dcmdjpls", "gdcmconv --raw"},
		[ANON_PX_JPEGLS_NEAR] = {"dcmdjpls", "gdcmconv --raw"},
		[ANON_PX_J2K_LOSSLESS] = {"gdcmconv --raw", NULL},
		[ANON_PX_J2K] = {"gdcmconv --raw", NULL},
		[ANON_PX_HTJ2K_LOSSLESS] = {"gdcmconv --raw", NULL},
		[ANON_PX_HTJ2K] = {"gdcmconv --raw", NULL},
	};
	char out[700], cmd[1600];
	struct rf_err err = {0};
	int k;

	for (k = 0; k < 2; k++) {
		const char *t = tools[ts][k];

		if (!t)
			break;
		snprintf(out, sizeof out, "%s/ref.dcm", tmpdir);
		remove(out);
		snprintf(cmd, sizeof cmd, "%s '%s' '%s' >/dev/null 2>&1", t,
			 path, out);
		if (sh(cmd) != 0)
			continue;
		if (decode_all(out, ref, &err) != RF_OK)
			continue;
		if (ref->ts > ANON_PX_NATIVE_BE) {
			free(ref->v);
			continue; /* the tool kept it compressed */
		}
		*tool = t;
		return 1;
	}
	return 0;
}

static void compare_compressed(const char *path, const char *label,
			       const struct decoded *source, struct stats *st)
{
	struct decoded ours, ref;
	struct rf_err err = {0};
	struct anon_dicom *d = NULL;
	struct anon_image im;
	const char *tool = NULL;
	enum rf_rc rc;
	long m, allowed;

	if (anon_dicom_read_file(path, MAX_FILE, NULL, &d, &err) != RF_OK)
		return;
	if (!anon_ds_find(&d->ds, ANON_TAG(0x7fe0, 0x0010))) {
		anon_dicom_destroy(d);
		return; /* not an image */
	}
	rc = anon_image_describe(d, path, &im, &err);
	anon_dicom_destroy(d);
	if (rc == RF_OK && im.ts <= ANON_PX_NATIVE_BE)
		return;
	if (rc != RF_OK) {
		printf("%-44s %-22s %-15s radfed: %s\n", label, "-", "-",
		       err.msg);
		st->listed++;
		return;
	}
	if (!reference(path, im.ts, &ref, &tool)) {
		printf("%-44s %-22s %-15s not decoded by the reference "
		       "tools: listed\n", label, anon_pixel_ts_name(im.ts),
		       "-");
		st->listed++;
		return;
	}
	rc = decode_all(path, &ours, &err);
	if (rc == RF_EUNSUPPORTED) {
		printf("%-44s %-22s %-15s radfed: unsupported: %s\n", label,
		       anon_pixel_ts_name(im.ts), tool, err.msg);
		st->unsupported++;
		free(ref.v);
		return;
	}
	if (rc != RF_OK)
		fail_msg("'%s': %s decodes it, radfed fails: %s", path, tool,
			 err.msg);
	if (ours.pi != ref.pi)
		fail_msg("'%s': radfed gives photometric %d, %s gives %d",
			 path, (int)ours.pi, tool, (int)ref.pi);
	m = max_diff(&ours, &ref);
	allowed = is_lossy_jpeg(im.ts) ? 1 : 0;
	printf("%-44s %-22s %-15s %ld\n", label, anon_pixel_ts_name(im.ts),
	       tool, m);
	if (m < 0 || m > allowed)
		fail_msg("'%s': max difference %ld from %s (allowed %ld)",
			 path, m, tool, allowed);
	if (is_lossy_jpeg(im.ts) && m > st->max_lossy_jpeg)
		st->max_lossy_jpeg = m;
	if (source) {
		long ms = max_diff(&ours, source);

		if (ms != 0)
			fail_msg("'%s': differs from its native source by %ld",
				 path, ms);
	}
	st->by_ts[im.ts]++;
	if (source || label[0] == '+')
		st->generated++;
	else
		st->compressed++;
	free(ours.v);
	free(ref.v);
}

/* Native files wait in a list; pydicom then decodes them all in one run
 * (its start-up costs a second). */
struct natives {
	char (*path)[600];
	size_t n, cap;
};

static void native_add(struct natives *nl, const char *path)
{
	struct decoded ours;
	struct rf_err err = {0};

	if (decode_all(path, &ours, &err) != RF_OK)
		return;
	free(ours.v);
	if (ours.ts > ANON_PX_NATIVE_BE)
		return;
	if (nl->n == nl->cap) {
		nl->cap = nl->cap * 2 + 16;
		nl->path = realloc(nl->path, nl->cap * sizeof *nl->path);
		assert_non_null(nl->path);
	}
	snprintf(nl->path[nl->n++], sizeof nl->path[0], "%s", path);
}

static void check_native(const char *path, const char *raw,
			 struct stats *st)
{
	struct decoded ours;
	struct rf_err err = {0};
	struct stat sb;
	FILE *f;
	int32_t *want;
	size_t i;

	RF_ASSERT_OK_E(decode_all(path, &ours, &err), &err);
	if (stat(raw, &sb) != 0) {
		printf("%-44s %-22s %-15s not decoded by pydicom: listed\n",
		       base(path), anon_pixel_ts_name(ours.ts), "pydicom");
		st->listed++;
		free(ours.v);
		return;
	}
	if ((size_t)sb.st_size != ours.n * 4)
		fail_msg("'%s': pydicom gives %lld values, radfed %zu", path,
			 (long long)sb.st_size / 4, ours.n);
	want = malloc(ours.n * 4 + 4);
	assert_non_null(want);
	f = fopen(raw, "rb");
	assert_non_null(f);
	assert_int_equal(fread(want, 4, ours.n, f), ours.n);
	fclose(f);
	for (i = 0; i < ours.n; i++) {
		/* little-endian int32 on the little-endian hosts we test */
		if (ours.v[i] != want[i])
			fail_msg("'%s': value %zu is %d, pydicom says %d",
				 path, i, ours.v[i], want[i]);
	}
	printf("%-44s %-22s %-15s 0\n", base(path),
	       anon_pixel_ts_name(ours.ts), "pydicom");
	st->native++;
	free(want);
	free(ours.v);
}

static void check_natives(struct natives *nl, struct stats *st)
{
	char list[700], raw[700], cmd[1600];
	FILE *f;
	size_t i;

	snprintf(list, sizeof list, "%s/native.tsv", tmpdir);
	f = fopen(list, "w");
	assert_non_null(f);
	for (i = 0; i < nl->n; i++)
		fprintf(f, "%s\t%s/native%zu.raw\n", nl->path[i], tmpdir, i);
	fclose(f);
	snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s/tests/anonymizer/ref/"
		 "pixel_ref.py' --list '%s' 2>/dev/null", RF_TEST_SRCDIR,
		 list);
	if (sh(cmd) != 0)
		fail_msg("pixel_ref.py failed");
	for (i = 0; i < nl->n; i++) {
		snprintf(raw, sizeof raw, "%s/native%zu.raw", tmpdir, i);
		check_native(nl->path[i], raw, st);
	}
	free(nl->path);
}

/* Native sources encoded with dcmtk, each then decoded both ways. */
static void check_generated(const char *dir, struct stats *st)
{
	static const char *const sources[] = {
		"test_files/CT_small.dcm",
		"test_files/MR_small.dcm",
		"test_files/SC_rgb_small_odd.dcm",
		"test_files/dicomdirtests/77654033/CR1/6154", /* unsigned */
		"test_files/SC_rgb_dcmtk_+eb+cr.dcm", /* decoded first */
	};
	static const struct {
		const char *cmd;
		int lossless; /* must equal the source */
		int rgb8;     /* 8-bit only */
	} encoders[] = {
		{"dcmcjpeg +e1", 1, 0},
		{"dcmcjpeg +el +sv 1", 1, 0},
		{"dcmcjpeg +el +sv 2", 1, 0},
		{"dcmcjpeg +el +sv 3", 1, 0},
		{"dcmcjpeg +el +sv 4", 1, 0},
		{"dcmcjpeg +el +sv 5", 1, 0},
		{"dcmcjpeg +el +sv 6", 1, 0},
		{"dcmcjpeg +el +sv 7", 1, 0},
		{"dcmcjpeg +el +sv 4 +pt 2", 0, 0},
		{"dcmcjpeg +eb", 0, 1},
		{"dcmcjpeg +ee", 0, 1},
		{"dcmcjpls", 1, 0},
		{"dcmcjpls +en", 0, 0},
		{"dcmcjpls +in", 1, 0},
		{"dcmcrle", 1, 0},
		{"gdcmconv --j2k", 1, 0},
		{"gdcmconv --j2k --lossy -q 30", 0, 0},
	};
	char src[700], out[700], cmd[1600], label[200];
	struct decoded native;
	struct rf_err err = {0};
	size_t s, k;

	for (s = 0; s < sizeof sources / sizeof sources[0]; s++) {
		snprintf(src, sizeof src, "%s/%s", dir, sources[s]);
		if (strstr(src, "+eb")) {
			/* a compressed corpus file made native first */
			snprintf(out, sizeof out, "%s/src%zu.dcm", tmpdir, s);
			snprintf(cmd, sizeof cmd, "dcmdjpeg '%s' '%s'", src,
				 out);
			assert_int_equal(sh(cmd), 0);
			snprintf(src, sizeof src, "%s", out);
		}
		RF_ASSERT_OK_E(decode_all(src, &native, &err), &err);
		for (k = 0; k < sizeof encoders / sizeof encoders[0]; k++) {
			struct anon_dicom *d = NULL;
			struct anon_image im;

			RF_ASSERT_OK_E(anon_dicom_read_file(src, MAX_FILE,
							    NULL, &d, &err),
				       &err);
			RF_ASSERT_OK_E(anon_image_describe(d, src, &im, &err),
				       &err);
			anon_dicom_destroy(d);
			if (encoders[k].rgb8 && im.bits_allocated != 8)
				continue;
			snprintf(out, sizeof out, "%s/gen.dcm", tmpdir);
			remove(out);
			snprintf(cmd, sizeof cmd, "%s '%s' '%s' >/dev/null "
				 "2>&1", encoders[k].cmd, src, out);
			snprintf(label, sizeof label, "+ %s %s",
				 encoders[k].cmd,
				 strrchr(sources[s], '/') + 1);
			if (sh(cmd) != 0) {
				/* e.g. dcmcjpls +en refuses signed data */
				printf("%-44s %-22s %-15s the encoder refuses "
				       "it: listed\n", label, "-", "-");
				st->listed++;
				continue;
			}
			compare_compressed(out, label,
					   encoders[k].lossless ? &native
								: NULL,
					   st);
		}
		free(native.v);
	}
}

static void test_corpus(void **state)
{
	static const char *const tools[] = {"dcmdrle", "dcmdjpeg", "dcmdjpls",
					    "dcmcjpeg", "dcmcjpls", "dcmcrle",
					    "gdcmconv"};
	char line[4096], dir[4096] = "";
	struct natives nl = {0};
	struct stats st;
	struct stat sb;
	FILE *list;
	size_t len, i;

	(void)state;
	memset(&st, 0, sizeof st);
	for (i = 0; i < sizeof tools / sizeof tools[0]; i++) {
		char cmd[200];

		snprintf(cmd, sizeof cmd, "command -v %s >/dev/null",
			 tools[i]);
		if (sh(cmd) != 0)
			fail_msg("reference tool '%s' is missing (packages "
				 "dcmtk, libgdcm-tools)", tools[i]);
	}
	if (sh("/usr/bin/python3 -c 'import pydicom, numpy'") != 0)
		fail_msg("pydicom and numpy (/usr/bin/python3) are missing");
	tmpdir = rf_test_tmpdir("pixel_corpus");

	printf("%-44s %-22s %-15s %s\n", "file", "syntax", "reference",
	       "max diff");
	list = popen("dpkg -L python3-pydicom | grep /data/ | sort", "r");
	assert_non_null(list);
	while (fgets(line, sizeof line, list)) {
		len = strlen(line);
		while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = 0;
		if (stat(line, &sb) != 0 || !S_ISREG(sb.st_mode))
			continue;
		if (!dir[0] && strstr(line, "/data/")) {
			snprintf(dir, sizeof dir, "%s", line);
			*(strstr(dir, "/data/") + 5) = 0;
		}
		native_add(&nl, line);
		compare_compressed(line, base(line), NULL, &st);
	}
	pclose(list);
	check_natives(&nl, &st);
	assert_true(dir[0]);
	check_generated(dir, &st);

	printf("native files matching pydicom: %zu\n", st.native);
	printf("compressed corpus files matching: %zu, generated: %zu\n",
	       st.compressed, st.generated);
	printf("listed, not counted: %zu; unsupported by radfed: %zu\n",
	       st.listed, st.unsupported);
	printf("lossy JPEG: max difference from dcmtk %ld\n",
	       st.max_lossy_jpeg);
	for (i = ANON_PX_RLE; i <= ANON_PX_HTJ2K; i++)
		printf("  %-22s %zu\n",
		       anon_pixel_ts_name((enum anon_pixel_ts)i), st.by_ts[i]);
	/* the corpus holds every family but HTJ2K; the test would prove
	 * nothing if files stopped being found */
	assert_true(st.native >= 10);
	assert_true(st.by_ts[ANON_PX_RLE] >= 5);
	assert_true(st.by_ts[ANON_PX_JPEG_BASELINE] >= 5);
	assert_true(st.by_ts[ANON_PX_JPEG_LOSSLESS] >= 20);
	assert_true(st.by_ts[ANON_PX_JPEGLS_LOSSLESS] >= 3);
	assert_true(st.by_ts[ANON_PX_J2K_LOSSLESS] +
		    st.by_ts[ANON_PX_J2K] >= 2);
}

static uint32_t xorshift(uint32_t *st)
{
	uint32_t x = *st;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return *st = x;
}

/* Mutates the fragments of frame 0 of path in place, many times, and
 * decodes it each time. Returns 1 when the file was used. */
static int corrupt_file(const char *path, uint32_t *rng)
{
	struct anon_dicom *d = NULL;
	struct anon_image im;
	struct rf_err err = {0};
	uint8_t *buf, *orig;
	int32_t *out;
	size_t len, i, k, total = 0;
	long got;
	FILE *f;
	int it;

	f = fopen(path, "rb");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	got = ftell(f);
	assert_true(got > 0);
	len = (size_t)got;
	rewind(f);
	buf = malloc(len);
	orig = malloc(len);
	assert_non_null(buf);
	assert_non_null(orig);
	assert_int_equal(fread(buf, 1, len, f), len);
	fclose(f);
	memcpy(orig, buf, len);
	if (anon_dicom_read(buf, len, path, NULL, &d, &err) != RF_OK ||
	    anon_image_describe(d, path, &im, &err) != RF_OK ||
	    im.ts <= ANON_PX_NATIVE_BE) {
		anon_dicom_destroy(d);
		free(buf);
		free(orig);
		return 0;
	}
	for (i = 1; i < im.pixel->nfrags; i++) {
		const uint8_t *v = im.pixel->frags[i].val;

		if (v < buf || v + im.pixel->frags[i].len > buf + len)
			break; /* not in our buffer (a converted copy) */
		total += im.pixel->frags[i].len;
	}
	out = malloc(anon_image_frame_values(&im) * sizeof *out);
	assert_non_null(out);
	for (it = 0; it < 60 && i == im.pixel->nfrags && total; it++) {
		size_t fi = 1 + xorshift(rng) % (im.pixel->nfrags - 1);
		const struct anon_frag *fr = &im.pixel->frags[fi];
		size_t off = (size_t)(fr->val - buf), n = fr->len, at;
		enum rf_rc rc;

		if (!n)
			continue;
		at = xorshift(rng) % n;
		switch (it % 3) {
		case 0: /* a few bit flips */
			for (k = 0; k < 1 + (size_t)it % 4; k++)
				buf[off + xorshift(rng) % n] ^=
					(uint8_t)(1u << (xorshift(rng) % 8));
			break;
		case 1: /* a lost tail */
			memset(buf + off + at, 0, n - at);
			break;
		default: /* a tail of 0xFF (markers everywhere) */
			memset(buf + off + at, 0xff, n - at);
			break;
		}
		rc = anon_pixel_decode_frame(d, &im, 0, out, &err);
		if (rc != RF_OK && rc != RF_EPROTO && rc != RF_EUNSUPPORTED)
			fail_msg("'%s' corrupted (%d): %s: %s", path, it,
				 rf_rc_name(rc), err.msg);
		if (rc != RF_OK && !strstr(err.msg, "frame 0"))
			fail_msg("message does not name the frame: %s",
				 err.msg);
		memcpy(buf + off, orig + off, n);
	}
	free(out);
	anon_dicom_destroy(d);
	free(buf);
	free(orig);
	return 1;
}

static void test_corrupt(void **state)
{
	char line[4096], dir[4096] = "";
	uint32_t rng = 0x9e3779b9u;
	size_t used = 0, len;
	FILE *list;

	(void)state;
	list = popen("dpkg -L python3-pydicom | grep /data/ | sort", "r");
	assert_non_null(list);
	while (fgets(line, sizeof line, list)) {
		struct stat sb;

		len = strlen(line);
		while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = 0;
		if (stat(line, &sb) != 0 || !S_ISREG(sb.st_mode))
			continue;
		if (!dir[0] && strstr(line, "/test_files/")) {
			snprintf(dir, sizeof dir, "%s", line);
			/* cut after ".../test_files" */
			*(strstr(dir, "/test_files/") + 11) = 0;
		}
		used += (size_t)corrupt_file(line, &rng);
	}
	pclose(list);

	/* the lossless JPEG decoder is radfed's own: more streams for it */
	{
		static const char *const gen[][2] = {
			{"dcmcjpeg +el +sv 7", "MR_small.dcm"},
			{"dcmcjpeg +el +sv 4 +pt 1", "CT_small.dcm"},
			{"dcmcjpeg +el +sv 5", "SC_rgb_small_odd.dcm"},
			{"dcmcjpls +in", "SC_rgb_small_odd.dcm"},
			{"dcmcrle", "MR_small.dcm"},
		};
		char out[700], cmd[8192];
		size_t i;

		assert_true(dir[0]);
		tmpdir = rf_test_tmpdir("pixel_corrupt");
		snprintf(out, sizeof out, "%s/gen.dcm", tmpdir);
		for (i = 0; i < sizeof gen / sizeof gen[0]; i++) {
			snprintf(cmd, sizeof cmd, "%s '%s/%s' '%s' >/dev/null",
				 gen[i][0], dir, gen[i][1], out);
			assert_int_equal(sh(cmd), 0);
			used += (size_t)corrupt_file(out, &rng);
		}
	}
	printf("corrupted %zu encapsulated files 60 times each\n", used);
	assert_true(used >= 35);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_corpus),
		cmocka_unit_test(test_corrupt),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
