/* test_dicom_write.c - the DICOM writer: the new file meta group byte by
 * byte (PS3.10 7.1), even padding by VR, round trips that are stable,
 * big-endian and encapsulated input, over-long values, atomic file output,
 * failing allocations, and a dataset built from scratch read back by
 * pydicom (tests/anonymizer/ref/dump.py) and dcmdump. */
#include "rf_test.h"

#include <dirent.h>

#include "anon_dicom.h"
#include "dicom_build.h"

#define T(g, e) ANON_TAG(g, e)
#define VR(s) ANON_VR((s)[0], (s)[1])
#define CT_CLASS "1.2.840.10008.5.1.4.1.1.2"

static uint32_t rd32le(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static size_t must_len(const struct anon_dicom *d, uint32_t tag)
{
	const struct anon_elem *el = anon_ds_find(&d->ds, tag);

	assert_non_null(el);
	return el->len;
}

static struct anon_dicom *parse(const uint8_t *p, size_t n)
{
	struct anon_dicom *d = NULL;
	struct rf_err e = {0};

	RF_ASSERT_OK_E(anon_dicom_read(p, n, "mem.dcm", NULL, &d, &e), &e);
	return d;
}

static void write_mem(const struct anon_dicom *d, struct rf_buf *out)
{
	struct rf_err e = {0};

	rf_buf_init(out, (size_t)1 << 30);
	RF_ASSERT_OK_E(anon_dicom_write_buf(d, out, &e), &e);
}

static void build_input(struct db *b)
{
	struct db item = {0};

	db_ex(&item, 0x0008, 0x1150, "UI", "3.4\0", 4);
	db_part10(b, ANON_TS_IMPLICIT_LE);
	db_im(b, 0x0008, 0x0016, CT_CLASS "\0", 26);
	db_im(b, 0x0008, 0x0018, "1.2.3.4.5", 9); /* odd, unpadded */
	db_im(b, 0x0008, 0x0060, "CT", 2);
	db_im_hdr(b, 0x0008, 0x1115, ANON_UNDEF_LEN);
	db_item(b, ANON_UNDEF_LEN);
	db_im(b, 0x0008, 0x1150, "1.2\0", 4);
	db_item_end(b);
	db_item(b, 12);
	db_im(b, 0x0008, 0x1150, "3.4\0", 4);
	db_seq_end(b);
	db_im(b, 0x0010, 0x0000, "\x10\0\0\0", 4); /* a group length */
	db_im(b, 0x0010, 0x0010, "Doe^Jo", 6);
	db_im(b, 0x0029, 0x0010, "ACME", 4);
	db_im(b, 0x0029, 0x1001, "\1\2\3", 3);
	db_free(&item);
}

/* Walks explicit VR LE elements of group 0002 from p; checks each. */
static void check_meta(const uint8_t *p, size_t n, const char *sop_class,
		       const char *sop_inst, const char *ts)
{
	size_t pos = 132, start, glen = 0, seen = 0;
	char want[80];

	assert_true(n > 132);
	for (size_t i = 0; i < 128; i++)
		assert_int_equal(p[i], 0);
	assert_memory_equal(p + 128, "DICM", 4);
	while (pos + 8 <= n && p[pos] == 2 && p[pos + 1] == 0) {
		uint16_t el = (uint16_t)(p[pos + 2] | p[pos + 3] << 8);
		int lng = db_vr_long((const char[]){(char)p[pos + 4],
						    (char)p[pos + 5], 0});
		size_t len = lng ? (size_t)p[pos + 8] | (size_t)p[pos + 9] << 8
			       : (size_t)p[pos + 6] | (size_t)p[pos + 7] << 8;
		const uint8_t *v = p + pos + (lng ? 12 : 8);

		assert_int_equal(len % 2, 0);
		switch (el) {
		case 0x0000:
			assert_memory_equal(p + pos + 4, "UL", 2);
			glen = v[0] | v[1] << 8 | v[2] << 16;
			start = pos + 12;
			(void)start;
			break;
		case 0x0001:
			assert_memory_equal(p + pos + 4, "OB", 2);
			assert_int_equal(len, 2);
			assert_memory_equal(v, "\0\1", 2);
			break;
		case 0x0002:
			assert_int_equal(len, strlen(sop_class) + 1);
			assert_memory_equal(v, sop_class, strlen(sop_class));
			assert_int_equal(v[len - 1], 0);
			break;
		case 0x0003:
			snprintf(want, sizeof want, "%s", sop_inst);
			assert_int_equal(len, strlen(want) + 1);
			assert_memory_equal(v, want, strlen(want) + 1);
			break;
		case 0x0010:
			assert_int_equal(len, strlen(ts) + (strlen(ts) & 1));
			assert_memory_equal(v, ts, strlen(ts));
			break;
		case 0x0012:
			assert_int_equal(len, strlen(ANON_IMPL_CLASS_UID));
			assert_memory_equal(v, ANON_IMPL_CLASS_UID, len);
			break;
		case 0x0013:
			assert_memory_equal(p + pos + 4, "SH", 2);
			assert_int_equal(len, 10);
			assert_memory_equal(v, "RADFED_010", 10);
			break;
		default:
			fail_msg("unexpected meta element (0002,%04x)", el);
		}
		seen |= (size_t)1 << (el & 0x1f);
		pos += (lng ? 12 : 8) + len;
	}
	/* every element, and a group length that ends exactly there */
	assert_int_equal(seen, 0xd000f);
	assert_int_equal(glen, pos - 144);
}

static void test_meta_and_padding(void **state)
{
	struct db b = {0};
	struct anon_dicom *d, *d2;
	struct rf_buf out;
	const struct anon_elem *el;

	(void)state;
	build_input(&b);
	d = parse(b.p, b.len);
	write_mem(d, &out);
	check_meta(out.data, out.len, CT_CLASS, "1.2.3.4.5",
		   ANON_TS_EXPLICIT_LE);
	d2 = parse(out.data, out.len);
	assert_string_equal(d2->ts_uid, ANON_TS_EXPLICIT_LE);
	/* UI padded with NUL, PN with space, UN with NUL */
	assert_int_equal(must_len(d2, T(8, 0x18)), 10);
	el = anon_ds_find(&d2->ds, T(8, 0x18));
	assert_memory_equal(el->val, "1.2.3.4.5\0", 10);
	el = anon_ds_find(&d2->ds, T(0x10, 0x10));
	assert_int_equal(el->vr, VR("PN"));
	assert_memory_equal(el->val, "Doe^Jo", 6);
	el = anon_ds_find(&d2->ds, T(0x29, 0x1001));
	assert_int_equal(el->vr, VR("UN"));
	assert_int_equal(el->len, 4);
	assert_memory_equal(el->val, "\1\2\3\0", 4);
	/* group lengths are not written */
	assert_null(anon_ds_find(&d2->ds, T(0x10, 0)));
	/* same tags and sequence structure */
	assert_int_equal(anon_ds_count_all(&d2->ds),
			 anon_ds_count_all(&d->ds) - 1);
	el = anon_ds_find(&d2->ds, T(8, 0x1115));
	assert_int_equal(el->nitems, 2);
	anon_dicom_destroy(d2);
	anon_dicom_destroy(d);
	rf_buf_release(&out);
	db_free(&b);
}

static void test_set_values_padded(void **state)
{
	struct anon_dicom *d, *d2;
	struct rf_buf out;
	struct rf_err e = {0};
	const struct anon_elem *el;
	uint8_t *big = calloc(70001, 1);

	(void)state;
	RF_ASSERT_OK(anon_dicom_create(&d, &e));
	RF_ASSERT_OK(anon_ds_set_str(&d->ds, T(8, 0x16), VR("UI"), CT_CLASS,
				     &e));
	RF_ASSERT_OK(anon_ds_set_str(&d->ds, T(0x10, 0x10), VR("PN"), "Doe",
				     &e));
	RF_ASSERT_OK(anon_ds_set_bytes(&d->ds, T(0x29, 0x1001), VR("OB"),
				       "\1\2\3", 3, &e));
	assert_non_null(big);
	memset(big, 'x', 70001);
	RF_ASSERT_OK(anon_ds_set_bytes(&d->ds, T(0x10, 0x4000), VR("LT"), big,
				       70001, &e));
	write_mem(d, &out);
	d2 = parse(out.data, out.len);
	el = anon_ds_find(&d2->ds, T(8, 0x16));
	assert_int_equal(el->len, 26);
	assert_int_equal(el->val[25], 0);
	el = anon_ds_find(&d2->ds, T(0x10, 0x10));
	assert_int_equal(el->len, 4);
	assert_memory_equal(el->val, "Doe ", 4);
	el = anon_ds_find(&d2->ds, T(0x29, 0x1001));
	assert_memory_equal(el->val, "\1\2\3\0", 4);
	/* too long for LT's 16-bit length: written as UN */
	el = anon_ds_find(&d2->ds, T(0x10, 0x4000));
	assert_int_equal(el->vr, VR("UN"));
	assert_int_equal(el->len, 70002);
	assert_int_equal(el->val[70001], ' '); /* LT's pad */
	/* no SOP Instance UID anywhere: (0002,0003) is left out */
	assert_null(anon_ds_find(&d2->meta, T(2, 3)));
	assert_non_null(anon_ds_find(&d2->meta, T(2, 2)));
	anon_dicom_destroy(d2);
	anon_dicom_destroy(d);
	rf_buf_release(&out);
	free(big);
}

static void test_roundtrip_stable(void **state)
{
	struct db b = {0};
	struct anon_dicom *d, *d2;
	struct rf_buf o1, o2;

	(void)state;
	build_input(&b);
	d = parse(b.p, b.len);
	write_mem(d, &o1);
	d2 = parse(o1.data, o1.len);
	write_mem(d2, &o2);
	assert_int_equal(o1.len, o2.len);
	assert_memory_equal(o1.data, o2.data, o1.len);
	anon_dicom_destroy(d);
	anon_dicom_destroy(d2);
	rf_buf_release(&o1);
	rf_buf_release(&o2);
	db_free(&b);
}

static void test_big_endian_to_le(void **state)
{
	struct db b = {0};
	struct anon_dicom *d, *d2;
	struct rf_buf out;
	const struct anon_elem *el;

	(void)state;
	db_part10(&b, ANON_TS_EXPLICIT_BE);
	b.be = 1;
	db_ex_hdr(&b, 0x0008, 0x0018, "UI", 4);
	db_bytes(&b, "1.2\0", 4);
	db_ex_hdr(&b, 0x0028, 0x0010, "US", 2);
	db_u16(&b, 512);
	db_ex_hdr(&b, 0x7fe0, 0x0010, "OW", 4);
	db_u16(&b, 0x0102);
	db_u16(&b, 0x0304);
	d = parse(b.p, b.len);
	write_mem(d, &out);
	/* no (0008,0016): the old meta group's class is kept */
	check_meta(out.data, out.len, "1.2.3", "1.2", ANON_TS_EXPLICIT_LE);
	d2 = parse(out.data, out.len);
	el = anon_ds_find(&d2->ds, T(0x28, 0x10));
	assert_memory_equal(el->val, "\0\2", 2);
	el = anon_ds_find(&d2->ds, T(0x7fe0, 0x10));
	assert_memory_equal(el->val, "\2\1\4\3", 4);
	anon_dicom_destroy(d);
	anon_dicom_destroy(d2);
	rf_buf_release(&out);
	db_free(&b);
}

static void test_encapsulated_kept(void **state)
{
	struct db b = {0};
	struct anon_dicom *d, *d2;
	struct rf_buf out;
	const struct anon_elem *el;
	static const uint8_t tail[] = {
		0xfe, 0xff, 0x00, 0xe0, 4, 0, 0, 0, 0xff, 0xd9, 0, 0,
		0xfe, 0xff, 0xdd, 0xe0, 0, 0, 0, 0};

	(void)state;
	db_part10(&b, "1.2.840.10008.1.2.4.50");
	db_ex(&b, 0x0008, 0x0018, "UI", "1.2\0", 4);
	db_ex_hdr(&b, 0x7fe0, 0x0010, "OB", ANON_UNDEF_LEN);
	db_item(&b, 0);
	db_item(&b, 4);
	db_bytes(&b, "\xff\xd8\xff\xe0", 4);
	db_item(&b, 3);
	db_bytes(&b, "\xff\xd9\0", 3); /* odd: padded to 4 */
	db_seq_end(&b);
	d = parse(b.p, b.len);
	write_mem(d, &out);
	check_meta(out.data, out.len, "1.2.3", "1.2",
		   "1.2.840.10008.1.2.4.50");
	/* last fragment and the delimiter, byte-exact */
	assert_memory_equal(out.data + out.len - sizeof tail, tail,
			    sizeof tail);
	d2 = parse(out.data, out.len);
	el = anon_ds_find(&d2->ds, T(0x7fe0, 0x10));
	assert_int_equal(el->nfrags, 3);
	assert_int_equal(el->frags[0].len, 0);
	assert_memory_equal(el->frags[1].val, "\xff\xd8\xff\xe0", 4);
	anon_dicom_destroy(d);
	anon_dicom_destroy(d2);
	rf_buf_release(&out);
	db_free(&b);
}

static size_t count_entries(const char *dir)
{
	DIR *dp = opendir(dir);
	struct dirent *de;
	size_t n = 0;

	assert_non_null(dp);
	while ((de = readdir(dp)))
		if (de->d_name[0] != '.')
			n++;
	closedir(dp);
	return n;
}

static void test_atomic_file(void **state)
{
	const char *dir = rf_test_tmpdir("dicom_write_atomic");
	char path[600];
	struct db b = {0};
	struct anon_dicom *d, *d2 = NULL;
	struct rf_err e = {0};
	struct stat st;

	(void)state;
	build_input(&b);
	d = parse(b.p, b.len);
	snprintf(path, sizeof path, "%s/out.dcm", dir);
	RF_ASSERT_OK_E(anon_dicom_write_file(d, path, &e), &e);
	assert_int_equal(count_entries(dir), 1);
	/* replacing an existing file */
	RF_ASSERT_OK_E(anon_dicom_write_file(d, path, &e), &e);
	assert_int_equal(count_entries(dir), 1);
	assert_int_equal(stat(path, &st), 0);
	RF_ASSERT_OK_E(anon_dicom_read_file(path, 1 << 20, NULL, &d2, &e), &e);
	assert_int_equal(anon_ds_count(&d2->ds), anon_ds_count(&d->ds) - 1);
	anon_dicom_destroy(d2);
	/* a file too big for the caller's limit */
	assert_int_equal(anon_dicom_read_file(path, 100, NULL, &d2, &e),
			 RF_ETOOBIG);
	/* a missing directory: RF_EIO, nothing left behind */
	snprintf(path, sizeof path, "%s/missing/out.dcm", dir);
	assert_int_equal(anon_dicom_write_file(d, path, &e), RF_EIO);
	assert_non_null(strstr(e.msg, "missing/out.dcm"));
	/* the target is a directory: rename fails, the temp file goes */
	snprintf(path, sizeof path, "%s/adir", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(anon_dicom_write_file(d, path, &e), RF_EIO);
	assert_int_equal(count_entries(dir), 2);
	anon_dicom_destroy(d);
	db_free(&b);
}

static void test_write_oom(void **state)
{
	struct db b = {0};
	struct anon_dicom *d;
	struct rf_buf out = RF_BUF_INIT(1 << 20);
	struct rf_err e;
	enum rf_rc rc;

	(void)state;
	/* a DICOMDIR-like record sequence makes the writer allocate too */
	db_part10(&b, ANON_TS_EXPLICIT_LE);
	db_ex(&b, 0x0004, 0x1200, "UL", "\0\0\0\0", 4);
	db_ex_hdr(&b, 0x0004, 0x1220, "SQ", ANON_UNDEF_LEN);
	db_item(&b, ANON_UNDEF_LEN);
	db_ex(&b, 0x0004, 0x1400, "UL", "\0\0\0\0", 4);
	db_item_end(&b);
	db_seq_end(&b);
	d = parse(b.p, b.len);
	RF_TEST_OOM_LOOP(rc, rc = anon_dicom_write_buf(d, &out, &e),
			 rf_buf_release(&out));
	anon_dicom_destroy(d);
	db_free(&b);
}

static void test_dicomdir_offsets(void **state)
{
	struct db b = {0};
	struct anon_dicom *d, *d2;
	struct rf_buf out;
	const struct anon_elem *first, *sq, *next;
	size_t item1;

	(void)state;
	db_part10(&b, ANON_TS_IMPLICIT_LE);
	db_im(&b, 0x0004, 0x1200, "\0\0\0\0", 4); /* patched below */
	db_im_hdr(&b, 0x0004, 0x1220, ANON_UNDEF_LEN);
	item1 = b.len;
	db_item(&b, ANON_UNDEF_LEN);
	db_im(&b, 0x0004, 0x1400, "\0\0\0\0", 4); /* patched below */
	db_item_end(&b);
	db_item(&b, ANON_UNDEF_LEN);
	db_im(&b, 0x0004, 0x1400, "\0\0\0\0", 4);
	db_item_end(&b);
	db_seq_end(&b);
	/* (0004,1200) -> item 1; item 1's next -> item 2 */
	b.p[item1 - 8 - 12 + 8] = (uint8_t)item1;
	b.p[item1 - 8 - 12 + 9] = (uint8_t)(item1 >> 8);
	b.p[item1 + 16] = (uint8_t)(item1 + 28);
	b.p[item1 + 17] = (uint8_t)((item1 + 28) >> 8);
	d = parse(b.p, b.len);
	sq = anon_ds_find(&d->ds, T(4, 0x1220));
	assert_int_equal(sq->nitems, 2);
	assert_int_equal(sq->items[0].offset, item1);
	assert_int_equal(sq->items[1].offset, item1 + 28);
	write_mem(d, &out);
	d2 = parse(out.data, out.len);
	first = anon_ds_find(&d2->ds, T(4, 0x1200));
	sq = anon_ds_find(&d2->ds, T(4, 0x1220));
	next = anon_ds_find(&sq->items[0], T(4, 0x1400));
	assert_int_equal(rd32le(first->val), sq->items[0].offset);
	assert_int_equal(rd32le(next->val), sq->items[1].offset);
	assert_int_equal(rd32le(anon_ds_find(&sq->items[1],
						      T(4, 0x1400))->val),
			 0);
	anon_dicom_destroy(d);
	anon_dicom_destroy(d2);
	rf_buf_release(&out);
	db_free(&b);
}

static void test_pydicom_reads_built(void **state)
{
	const char *dir = rf_test_tmpdir("dicom_write_built");
	char path[600], cmd[1400], got[4096];
	struct anon_dicom *d;
	struct anon_elem *sq;
	struct anon_ds *it;
	struct rf_err e = {0};
	FILE *f;
	size_t n;
	static const char want[] =
		"(0008,0005) CS 'ISO_IR 100'\n"
		"(0008,0016) UI '" CT_CLASS "'\n"
		"(0008,0018) UI '1.2.3'\n"
		"(0008,1115) SQ 2 items\n"
		"  item\n"
		"    (0008,1150) UI '1.2.840.1'\n"
		"  item\n"
		"(0010,0010) PN 'Buc^J\xc3\xa9r\xc3\xb4me'\n"
		"(0028,0010) US 512\n"
		"(0028,0011) US 3\n"

		"(7FE0,0010) OB b'\\x01\\x02\\x03\\x00'\n"
		"ts 1.2.840.10008.1.2.1\n";

	(void)state;
	RF_ASSERT_OK(anon_dicom_create(&d, &e));
	RF_ASSERT_OK(anon_ds_set_str(&d->ds, T(8, 5), VR("CS"), "ISO_IR 100",
				     &e));
	RF_ASSERT_OK(anon_ds_set_str(&d->ds, T(8, 0x16), VR("UI"), CT_CLASS,
				     &e));
	RF_ASSERT_OK(anon_ds_set_str(&d->ds, T(8, 0x18), VR("UI"), "1.2.3",
				     &e));
	RF_ASSERT_OK(anon_ds_set_text(&d->ds, T(0x10, 0x10), VR("PN"),
				      "Buc^J\xc3\xa9r\xc3\xb4me", &e));
	assert_int_equal(anon_ds_find(&d->ds, T(0x10, 0x10))->len, 10);
	RF_ASSERT_OK(anon_ds_set_u16(&d->ds, T(0x28, 0x10), 512, &e));
	RF_ASSERT_OK(anon_ds_set_u16(&d->ds, T(0x28, 0x11), 3, &e));
	RF_ASSERT_OK(anon_ds_set_bytes(&d->ds, T(0x7fe0, 0x10), VR("OB"),
				       "\1\2\3", 3, &e));
	RF_ASSERT_OK(anon_ds_add_seq(&d->ds, T(8, 0x1115), &sq, &e));
	RF_ASSERT_OK(anon_elem_insert_item(sq, 0, &d->ds, &it, &e));
	RF_ASSERT_OK(anon_elem_insert_item(sq, 0, &d->ds, &it, &e));
	RF_ASSERT_OK(anon_ds_set_str(it, T(8, 0x1150), VR("UI"), "1.2.840.1",
				     &e));
	snprintf(path, sizeof path, "%s/built.dcm", dir);
	RF_ASSERT_OK_E(anon_dicom_write_file(d, path, &e), &e);
	anon_dicom_destroy(d);

	snprintf(cmd, sizeof cmd, "dcmdump -q '%s' >/dev/null", path);
	assert_int_equal(system(cmd), 0);
	snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s/tests/anonymizer/ref/"
		 "dump.py' '%s'", RF_TEST_SRCDIR, path);
	f = popen(cmd, "r");
	assert_non_null(f);
	n = fread(got, 1, sizeof got - 1, f);
	got[n] = 0;
	assert_int_equal(pclose(f), 0);
	assert_string_equal(got, want);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_meta_and_padding),
		cmocka_unit_test(test_set_values_padded),
		cmocka_unit_test(test_roundtrip_stable),
		cmocka_unit_test(test_big_endian_to_le),
		cmocka_unit_test(test_encapsulated_kept),
		cmocka_unit_test(test_atomic_file),
		cmocka_unit_test(test_write_oom),
		cmocka_unit_test(test_dicomdir_offsets),
		cmocka_unit_test(test_pydicom_reads_built),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
