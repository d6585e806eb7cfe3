/*
 * test_dict.c - the PS3.6 data dictionary and the SOP class table.
 *
 * Expected values come from an independent transcription of the standard:
 * pydicom's dictionaries, dumped by ref/dict_ref.py and ref/sop_ref.py into
 * data/dict_pydicom.tsv and data/sop_pydicom.tsv. Counts come from the JSON
 * the tables are generated from (one-liners in the comments).
 */
#include "rf_test.h"

#include "anon_dict.h"
#include "anon_dict_int.h"

#define DATA_DIR RF_TEST_SRCDIR "/tests/anonymizer/data/"

/* "US or SS or OW", or "NONE", as pydicom writes VRs */
static void vr_text(const struct anon_dict_entry *d, char *buf, size_t n)
{
	uint16_t vrs[3] = {d->vr, d->vr_alt, d->vr_alt2};
	size_t len = 0;

	if (d->vr == ANON_VR_NONE) {
		snprintf(buf, n, "NONE");
		return;
	}
	buf[0] = '\0';
	for (int i = 0; i < 3 && vrs[i] != ANON_VR_NONE; i++)
		len += (size_t)snprintf(buf + len, n - len, "%s%c%c",
					i ? " or " : "", vrs[i] >> 8,
					vrs[i] & 0xff);
}

/* "60xx3000" -> tag 0x60003000, mask 0xff00ffff */
static int parse_tag_text(const char *s, uint32_t *tag, uint32_t *mask)
{
	*tag = *mask = 0;
	for (int i = 0; i < 8; i++) {
		char c = s[i];
		uint32_t v;

		*tag <<= 4;
		*mask <<= 4;
		if (c == 'x')
			continue;
		if (c >= '0' && c <= '9')
			v = (uint32_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v = (uint32_t)(c - 'a' + 10);
		else
			return -1;
		*tag |= v;
		*mask |= 0xf;
	}
	return s[8] == '\0' ? 0 : -1;
}

/* Splits a TSV line in place into at most n fields; returns the count. */
static int split_tabs(char *line, char **f, int n)
{
	int k = 0;

	line[strcspn(line, "\r\n")] = '\0';
	f[k++] = line;
	for (char *p = line; *p && k < n; p++) {
		if (*p == '\t') {
			*p = '\0';
			f[k++] = p + 1;
		}
	}
	return k;
}

/* A repeating-group entry d is what anon_dict_find(tag) returns for a tag
 * it matches, unless an exact entry or the group length claims that tag
 * first: (0028,0400) is Transform Label, not (0028,04x0). */
static void assert_masked_found(const struct anon_dict_entry *d,
				uint32_t tag)
{
	const struct anon_dict_entry *got = anon_dict_find(tag);

	assert_non_null(got);
	if (got == d)
		return;
	if (ANON_TAG_ELEM(tag) == 0)
		assert_int_equal(got->vr, ANON_VR('U', 'L'));
	else
		assert_int_equal(got->mask, 0xffffffff);
	assert_int_equal(got->tag & got->mask, tag & got->mask);
}

/* python3 -c 'import json; print(len(json.load(open(
 *     "anonymizer/tables/attributes.json"))))'  -> 5129 */
static void test_count_and_edition(void **state)
{
	(void)state;
	assert_int_equal(anon_dict_count(), 5129);
	assert_string_equal(anon_dict_edition, "2024b");
}

/*
 * Known differences between DICOM 2024b and pydicom 2.3.1's dictionary,
 * each checked to be still present (a stale entry fails the test).
 */
static struct {
	const char *keyword;
	const char *field;
	const char *reason;
	int seen;
} dict_allow[] = {
	{"FrameType", "vm",
	 "PS3.6 2024b widened VM 4 to 4-5 after pydicom 2.3.1's edition", 0},
	{"GrayLookupTableData", "vm",
	 "PS3.6 gives VM \"1-n or 1\"; pydicom keeps only \"1-n\"", 0},
	{"LUTData", "vm",
	 "PS3.6 gives VM \"1-n or 1\"; pydicom keeps only \"1-n\"", 0},
};

static int dict_allowed(const char *keyword, const char *field)
{
	for (size_t i = 0; i < sizeof dict_allow / sizeof dict_allow[0]; i++) {
		if (!strcmp(dict_allow[i].keyword, keyword) &&
		    !strcmp(dict_allow[i].field, field)) {
			dict_allow[i].seen = 1;
			return 1;
		}
	}
	return 0;
}

static void test_against_pydicom(void **state)
{
	FILE *f = fopen(DATA_DIR "dict_pydicom.tsv", "r");
	char line[512];
	int shared = 0, command = 0, disagree = 0, lines = 0;

	(void)state;
	assert_non_null(f);
	while (fgets(line, sizeof line, f)) {
		char *fld[4], vr[32];
		uint32_t tag, mask;
		const struct anon_dict_entry *d;

		if (line[0] == '#')
			continue;
		lines++;
		assert_int_equal(split_tabs(line, fld, 4), 4);
		assert_int_equal(parse_tag_text(fld[0], &tag, &mask), 0);
		d = anon_dict_find_keyword(fld[3]);
		if (!d) {
			/* the command group (0000,eeee) is PS3.7, not PS3.6 */
			if (ANON_TAG_GROUP(tag) != 0)
				fail_msg("pydicom keyword '%s' unknown",
					 fld[3]);
			command++;
			continue;
		}
		shared++;
		vr_text(d, vr, sizeof vr);
		if (d->tag != tag || d->mask != mask) {
			print_message("%s: tag %08x/%08x, pydicom %s\n", fld[3],
				      d->tag, d->mask, fld[0]);
			disagree += !dict_allowed(fld[3], "tag");
		}
		if (strcmp(vr, fld[1])) {
			print_message("%s: VR %s, pydicom %s\n", fld[3], vr,
				      fld[1]);
			disagree += !dict_allowed(fld[3], "vr");
		}
		if (strcmp(d->vm, fld[2])) {
			print_message("%s: VM %s, pydicom %s\n", fld[3], d->vm,
				      fld[2]);
			disagree += !dict_allowed(fld[3], "vm");
		}
		/* and the tag finds the same entry (x digits as 0) */
		if (mask == 0xffffffff)
			assert_ptr_equal(anon_dict_find(tag), d);
		else
			assert_masked_found(d, tag);
	}
	fclose(f);
	print_message("pydicom: %d entries, %d shared, %d command group, "
		      "%d unexplained disagreements\n", lines, shared, command,
		      disagree);
	/* grep -c -v '^#' dict_pydicom.tsv -> 4986; 46 in group 0000 */
	assert_int_equal(lines, 4986);
	assert_int_equal(command, 46);
	assert_int_equal(shared, 4940);
	assert_int_equal(disagree, 0);
	for (size_t i = 0; i < sizeof dict_allow / sizeof dict_allow[0]; i++)
		if (!dict_allow[i].seen)
			fail_msg("allow-list entry %s/%s no longer needed",
				 dict_allow[i].keyword, dict_allow[i].field);
}

static void test_known_entries(void **state)
{
	const struct anon_dict_entry *d;

	(void)state;
	d = anon_dict_find(ANON_TAG(0x0010, 0x0010));
	assert_non_null(d);
	assert_string_equal(d->keyword, "PatientName");
	assert_string_equal(d->name, "Patient's Name");
	assert_int_equal(d->vr, ANON_VR('P', 'N'));
	assert_int_equal(d->vr_alt, ANON_VR_NONE);
	assert_int_equal(d->mask, 0xffffffff);
	assert_int_equal(d->retired, 0);

	/* three VRs, VM with "or" */
	d = anon_dict_find(ANON_TAG(0x0028, 0x1200));
	assert_non_null(d);
	assert_string_equal(d->keyword, "GrayLookupTableData");
	assert_int_equal(d->vr, ANON_VR('U', 'S'));
	assert_int_equal(d->vr_alt, ANON_VR('S', 'S'));
	assert_int_equal(d->vr_alt2, ANON_VR('O', 'W'));
	assert_string_equal(d->vm, "1-n or 1");
	assert_int_equal(d->retired, 1);

	/* items and delimiters have no VR */
	d = anon_dict_find(ANON_TAG(0xfffe, 0xe000));
	assert_non_null(d);
	assert_string_equal(d->keyword, "Item");
	assert_int_equal(d->vr, ANON_VR_NONE);
	d = anon_dict_find(ANON_TAG(0xfffe, 0xe0dd));
	assert_non_null(d);
	assert_string_equal(d->keyword, "SequenceDelimitationItem");

	/* a retired entry without keyword or name */
	d = anon_dict_find(ANON_TAG(0x0008, 0x0202));
	assert_non_null(d);
	assert_string_equal(d->keyword, "");
	assert_int_equal(d->retired, 1);

	/* UTF-8 name: "Exposure in \u00b5As" */
	d = anon_dict_find(ANON_TAG(0x0018, 0x1153));
	assert_non_null(d);
	assert_string_equal(d->name, "Exposure in \xc2\xb5" "As");
}

static void test_repeating_groups(void **state)
{
	const struct anon_dict_entry *d;

	(void)state;
	d = anon_dict_find(0x60023000);
	assert_non_null(d);
	assert_string_equal(d->keyword, "OverlayData");
	assert_int_equal(d->tag, 0x60003000);
	assert_int_equal(d->mask, 0xff00ffff);
	assert_int_equal(d->vr, ANON_VR('O', 'B'));
	assert_int_equal(d->vr_alt, ANON_VR('O', 'W'));
	assert_ptr_equal(anon_dict_find(0x601e3000), d);

	d = anon_dict_find(0x50100010);
	assert_non_null(d);
	assert_string_equal(d->keyword, "NumberOfPoints");
	assert_int_equal(d->vr, ANON_VR('U', 'S'));
	assert_int_equal(d->retired, 1);
	d = anon_dict_find(0x50163000);
	assert_non_null(d);
	assert_string_equal(d->keyword, "CurveData");

	/* (7Fxx,0010), but (7FE0,0010) is exact */
	d = anon_dict_find(0x7f100010);
	assert_non_null(d);
	assert_string_equal(d->keyword, "VariablePixelData");
	d = anon_dict_find(0x7fe00010);
	assert_non_null(d);
	assert_string_equal(d->keyword, "PixelData");

	/* x digits in the element: (0028,04x0) and (1000,xxx5) */
	d = anon_dict_find(0x00280410);
	assert_non_null(d);
	assert_string_equal(d->keyword, "RowsForNthOrderCoefficients");
	assert_int_equal(d->mask, 0xffffff0f);
	d = anon_dict_find(0x00280400); /* the exact entry wins */
	assert_non_null(d);
	assert_string_equal(d->keyword, "TransformLabel");
	d = anon_dict_find(0x10001235);
	assert_non_null(d);
	assert_string_equal(d->keyword, "ShiftTableTriplet");
	d = anon_dict_find(0x10100002);
	assert_non_null(d);
	assert_string_equal(d->keyword, "ZonalMap");
	d = anon_dict_find(0x002031ab);
	assert_non_null(d);
	assert_string_equal(d->keyword, "SourceImageIDs");
}

static void test_group_length_and_private(void **state)
{
	const struct anon_dict_entry *d;

	(void)state;
	d = anon_dict_find(0x00100000);
	assert_non_null(d);
	assert_int_equal(d->vr, ANON_VR('U', 'L'));
	assert_string_equal(d->vm, "1");
	assert_ptr_equal(anon_dict_find(0x7fe00000), d);
	assert_ptr_equal(anon_dict_find(0x10100000), d);
	assert_null(anon_dict_find_keyword(d->keyword));
	/* (0002,0000) is in the dictionary itself */
	d = anon_dict_find(0x00020000);
	assert_non_null(d);
	assert_string_equal(d->keyword, "FileMetaInformationGroupLength");

	/* private: odd groups, even their group length */
	assert_null(anon_dict_find(0x00091010));
	assert_null(anon_dict_find(0x00090000));
	assert_null(anon_dict_find(0x00290010));
	assert_null(anon_dict_find(0x60013000));
	assert_null(anon_dict_find(0xffffffff));
	/* unknown even tags */
	assert_null(anon_dict_find(0x00100001));
	assert_null(anon_dict_find(0x00080003));
}

static void test_keywords(void **state)
{
	const struct anon_dict_entry *d;

	(void)state;
	d = anon_dict_find_keyword("PatientName");
	assert_non_null(d);
	assert_int_equal(d->tag, 0x00100010);
	d = anon_dict_find_keyword("OverlayData");
	assert_non_null(d);
	assert_int_equal(d->tag, 0x60003000);
	assert_null(anon_dict_find_keyword("patientname"));
	assert_null(anon_dict_find_keyword("PatientNam"));
	assert_null(anon_dict_find_keyword("PatientNameX"));
	assert_null(anon_dict_find_keyword(""));
	assert_null(anon_dict_find_keyword(NULL));
}

/* Every entry is found by its tag and by its keyword; the generated order
 * is what the lookups assume. */
static void test_round_trip(void **state)
{
	unsigned n = anon_dict_count(), nkw = 0;

	(void)state;
	assert_true(anon__dict_nexact <= n);
	for (unsigned i = 0; i < n; i++) {
		const struct anon_dict_entry *d = &anon__dict_entries[i];

		if (i < anon__dict_nexact) {
			assert_int_equal(d->mask, 0xffffffff);
			if (i > 0)
				assert_true(anon__dict_entries[i - 1].tag <
					    d->tag);
			assert_ptr_equal(anon_dict_find(d->tag), d);
		} else {
			assert_int_not_equal(d->mask, 0xffffffff);
			assert_int_equal(d->tag & ~d->mask, 0);
			assert_masked_found(d, d->tag);
			/* x digits 2: 60xx -> 6022, still even */
			assert_masked_found(d, d->tag |
						       (~d->mask & 0x22222222));
		}
		if (d->keyword[0]) {
			nkw++;
			assert_ptr_equal(anon_dict_find_keyword(d->keyword), d);
		}
	}
	/* python3 -c 'import json; print(sum(1 for a in json.load(open(
	 *     "anonymizer/tables/attributes.json")) if a["keyword"]))'
	 * -> 5123 */
	assert_int_equal(nkw, 5123);
	assert_int_equal(anon__dict_nkeywords, nkw);
}

/* Known differences between the 2024b SOP class names and pydicom's. */
static struct {
	const char *uid;
	const char *reason;
	int seen;
} sop_allow[] = {
	{"1.2.840.10008.5.1.4.1.1.79.1",
	 "PS3.4 2024b names it \"Macular Grid Thickness and Volume Report\" "
	 "without pydicom's \"Storage\" suffix", 0},
};

static void test_sop_against_pydicom(void **state)
{
	FILE *f = fopen(DATA_DIR "sop_pydicom.tsv", "r");
	char line[512];
	int shared = 0, disagree = 0;

	(void)state;
	assert_non_null(f);
	while (fgets(line, sizeof line, f)) {
		char *fld[2] = {NULL, NULL};
		const struct anon_sop_class *s;
		int allowed = 0;

		if (line[0] == '#')
			continue;
		assert_int_equal(split_tabs(line, fld, 2), 2);
		s = anon_sop_find(fld[0]);
		if (!s) /* not a storage SOP class, or retired before 2024b */
			continue;
		shared++;
		assert_string_equal(s->uid, fld[0]);
		if (!strcmp(s->name, fld[1]))
			continue;
		for (size_t i = 0; i < sizeof sop_allow / sizeof sop_allow[0];
		     i++) {
			if (!strcmp(sop_allow[i].uid, s->uid)) {
				sop_allow[i].seen = 1;
				allowed = 1;
			}
		}
		print_message("%s: '%s', pydicom '%s'\n", s->uid, s->name,
			      fld[1]);
		disagree += !allowed;
	}
	fclose(f);
	/* 175 in sops.json, 9 of them newer than pydicom 2.3.1 */
	assert_int_equal(shared, 166);
	assert_int_equal(disagree, 0);
	for (size_t i = 0; i < sizeof sop_allow / sizeof sop_allow[0]; i++)
		assert_true(sop_allow[i].seen);
}

static void test_sop_lookup(void **state)
{
	const struct anon_sop_class *s;
	static const char padded[] = "1.2.840.10008.5.1.4.1.1.4\0";
	char big[80];

	(void)state;
	/* python3 -c 'import json; print(len(json.load(open(
	 *     "anonymizer/tables/sops.json"))))' -> 175 */
	assert_int_equal(anon_sop_count(), 175);
	s = anon_sop_find("1.2.840.10008.5.1.4.1.1.2");
	assert_non_null(s);
	assert_string_equal(s->name, "CT Image Storage");
	assert_string_equal(s->iod, "CT Image");

	/* a UI value as read from a file, NUL-padded to even length */
	s = anon_sop_find_n(padded, sizeof padded - 1);
	assert_non_null(s);
	assert_string_equal(s->name, "MR Image Storage");
	s = anon_sop_find_n("1.2.840.10008.5.1.4.1.1.7 ", 26);
	assert_non_null(s);
	assert_string_equal(s->name, "Secondary Capture Image Storage");
	/* only len bytes count */
	s = anon_sop_find_n("1.2.840.10008.5.1.4.1.1.2xyz", 25);
	assert_non_null(s);
	assert_string_equal(s->name, "CT Image Storage");
	/* a prefix of a known UID, and a UID extending a known one */
	assert_null(anon_sop_find_n("1.2.840.10008.5.1.4.1.1.2", 24));
	assert_null(anon_sop_find("1.2.840.10008.5.1.4.1.1.2.9"));
	assert_null(anon_sop_find("1.2.840.10008.5.1.4.1.1"));
	assert_null(anon_sop_find(""));
	assert_null(anon_sop_find(NULL));
	assert_null(anon_sop_find_n(NULL, 4));
	assert_null(anon_sop_find_n("\0\0", 2));
	/* longer than a UID can be */
	memset(big, '1', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	assert_null(anon_sop_find(big));
	assert_null(anon_sop_find_n(big, sizeof big - 1));
	/* the table is sorted, and every entry finds itself */
	for (unsigned i = 0; i < anon_sop_count(); i++) {
		s = &anon__sop_classes[i];
		if (i > 0)
			assert_true(strcmp(anon__sop_classes[i - 1].uid,
					   s->uid) < 0);
		assert_ptr_equal(anon_sop_find(s->uid), s);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_count_and_edition),
		cmocka_unit_test(test_against_pydicom),
		cmocka_unit_test(test_known_entries),
		cmocka_unit_test(test_repeating_groups),
		cmocka_unit_test(test_group_length_and_private),
		cmocka_unit_test(test_keywords),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_sop_against_pydicom),
		cmocka_unit_test(test_sop_lookup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
