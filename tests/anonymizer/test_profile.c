/*
 * test_profile.c - PS3.15 Table E.1-1 (the Basic Application Level
 * Confidentiality Profile and its options).
 *
 * Expected values are read from the table itself,
 * anonymizer/tables/confidentiality_profile_attributes.json; the JSON row
 * each check stands for is quoted next to it, and the totals come from the
 * one-liners in the comments.
 */
#include "rf_test.h"

#include "anon_dict.h"
#include "anon_dict_int.h"

/* bit indexes of enum anon_option */
enum {
	SAFE_PRIV = 0,  /* rtnSafePrivOpt */
	UIDS = 1,       /* rtnUIDsOpt */
	DEV_ID = 2,     /* rtnDevIdOpt */
	INST_ID = 3,    /* rtnInstIdOpt */
	PAT_CHARS = 4,  /* rtnPatCharsOpt */
	FULL_DATES = 5, /* rtnLongFullDatesOpt */
	MOD_DATES = 6,  /* rtnLongModifDatesOpt */
	CLEAN_DESC = 7, /* cleanDescOpt */
	CLEAN_SC = 8,   /* cleanStructContOpt */
	CLEAN_GR = 9,   /* cleanGraphOpt */
};

/* Checks a row: basic action, stdCompIOD, and the option columns given as
 * (index, action) pairs terminated by -1; every other column is empty. */
static void check_row(const struct anon_profile_row *r, const char *name,
		      int std, enum anon_action basic, ...)
{
	enum anon_action want[ANON_OPT_COUNT_] = {ANON_ACT_NONE};
	va_list ap;
	int idx;

	assert_non_null(r);
	assert_string_equal(r->name, name);
	assert_int_equal(r->std_comp_iod, std);
	assert_int_equal(r->basic, basic);
	va_start(ap, basic);
	while ((idx = va_arg(ap, int)) >= 0) {
		assert_true(idx < ANON_OPT_COUNT_);
		want[idx] = (enum anon_action)va_arg(ap, int);
	}
	va_end(ap);
	for (int i = 0; i < ANON_OPT_COUNT_; i++)
		if (r->opt[i] != want[i])
			fail_msg("%s: option %d is %d, want %d", name, i,
				 r->opt[i], want[i]);
}

static void test_known_rows(void **state)
{
	(void)state;
	/* {"name":"Patient's Name","tag":"(0010,0010)","stdCompIOD":"Y",
	 *  "basicProfile":"Z"} */
	check_row(anon_profile_find(0x00100010), "Patient's Name", 1,
		  ANON_ACT_Z, -1);
	/* {"name":"Accession Number","tag":"(0008,0050)","stdCompIOD":"Y",
	 *  "basicProfile":"Z"} */
	check_row(anon_profile_find(0x00080050), "Accession Number", 1,
		  ANON_ACT_Z, -1);
	/* {"name":"Study Instance UID","tag":"(0020,000D)","stdCompIOD":"Y",
	 *  "basicProfile":"U","rtnUIDsOpt":"K"} */
	check_row(anon_profile_find(0x0020000d), "Study Instance UID", 1,
		  ANON_ACT_U, UIDS, ANON_ACT_K, -1);
	/* {"name":"SOP Instance UID","tag":"(0008,0018)","stdCompIOD":"Y",
	 *  "basicProfile":"U","rtnUIDsOpt":"K"} */
	check_row(anon_profile_find(0x00080018), "SOP Instance UID", 1,
		  ANON_ACT_U, UIDS, ANON_ACT_K, -1);
	/* {"name":"Patient's Birth Date","tag":"(0010,0030)",
	 *  "stdCompIOD":"Y","basicProfile":"Z"} (no option column) */
	check_row(anon_profile_find(0x00100030), "Patient's Birth Date", 1,
		  ANON_ACT_Z, -1);
	/* {"name":"Content Date","tag":"(0008,0023)","stdCompIOD":"Y",
	 *  "basicProfile":"Z/D","rtnLongFullDatesOpt":"K",
	 *  "rtnLongModifDatesOpt":"C"} */
	check_row(anon_profile_find(0x00080023), "Content Date", 1,
		  ANON_ACT_ZD, FULL_DATES, ANON_ACT_K, MOD_DATES, ANON_ACT_C,
		  -1);
	/* {"name":"Institution Name","tag":"(0008,0080)","stdCompIOD":"Y",
	 *  "basicProfile":"X/Z/D","rtnInstIdOpt":"K"} */
	check_row(anon_profile_find(0x00080080), "Institution Name", 1,
		  ANON_ACT_XZD, INST_ID, ANON_ACT_K, -1);
	/* {"name":"Device Serial Number","tag":"(0018,1000)",
	 *  "stdCompIOD":"Y","basicProfile":"X/Z/D","rtnDevIdOpt":"K"} */
	check_row(anon_profile_find(0x00181000), "Device Serial Number", 1,
		  ANON_ACT_XZD, DEV_ID, ANON_ACT_K, -1);
	/* {"name":"Patient's Sex","tag":"(0010,0040)","stdCompIOD":"Y",
	 *  "basicProfile":"Z","rtnPatCharsOpt":"K"} */
	check_row(anon_profile_find(0x00100040), "Patient's Sex", 1,
		  ANON_ACT_Z, PAT_CHARS, ANON_ACT_K, -1);
	/* {"name":"Acquisition Comments","tag":"(0018,4000)",
	 *  "stdCompIOD":"N","basicProfile":"X","cleanDescOpt":"C"} */
	check_row(anon_profile_find(0x00184000), "Acquisition Comments", 0,
		  ANON_ACT_X, CLEAN_DESC, ANON_ACT_C, -1);
	/* {"name":"Acquisition Context Sequence","tag":"(0040,0555)",
	 *  "stdCompIOD":"Y","basicProfile":"X/Z",
	 *  "cleanStructContOpt":"C"} */
	check_row(anon_profile_find(0x00400555),
		  "Acquisition Context Sequence", 1, ANON_ACT_XZ, CLEAN_SC,
		  ANON_ACT_C, -1);
}

static void test_wildcard_rows(void **state)
{
	const struct anon_profile_row *r;

	(void)state;
	/* {"name":"Overlay Data","tag":"(60XX,3000)","stdCompIOD":"Y",
	 *  "basicProfile":"X","cleanGraphOpt":"C"} */
	r = anon_profile_find(0x60103000);
	check_row(r, "Overlay Data", 1, ANON_ACT_X, CLEAN_GR, ANON_ACT_C,
		  -1);
	assert_int_equal(r->tag, 0x60003000);
	assert_int_equal(r->mask, 0xff00ffff);
	assert_ptr_equal(anon_profile_find(0x60003000), r);
	/* {"name":"Overlay Comments","tag":"(60XX,4000)","stdCompIOD":"N",
	 *  "basicProfile":"X","cleanGraphOpt":"C"} */
	check_row(anon_profile_find(0x601e4000), "Overlay Comments", 0,
		  ANON_ACT_X, CLEAN_GR, ANON_ACT_C, -1);
	/* {"name":"Curve Data","tag":"(50XX,XXXX)","stdCompIOD":"N",
	 *  "basicProfile":"X","cleanGraphOpt":"C"} */
	r = anon_profile_find(0x50121234);
	check_row(r, "Curve Data", 0, ANON_ACT_X, CLEAN_GR, ANON_ACT_C, -1);
	assert_int_equal(r->mask, 0xff000000);
	assert_ptr_equal(anon_profile_find(0x50000000), r);
	assert_ptr_equal(anon_profile_find(0x50fefffe), r);
	/* overlay elements outside 3000/4000 are not listed */
	assert_null(anon_profile_find(0x60000010));
}

static void test_private_row(void **state)
{
	static const uint32_t odd[] = {
		0x00090010, 0x00091010, 0x00290000, 0x7fe10010, 0x00011000,
		0xffffffff, 0x50110010, 0x60013000, 0x0019ffff,
	};
	const struct anon_profile_row *r;

	(void)state;
	/* {"name":"Private Attributes",
	 *  "tag":"(GGGG,EEEE) WHERE GGGG IS ODD","stdCompIOD":"N",
	 *  "basicProfile":"X","rtnSafePrivOpt":"C"} */
	r = anon_profile_find(0x00091010);
	check_row(r, "Private Attributes", 0, ANON_ACT_X, SAFE_PRIV,
		  ANON_ACT_C, -1);
	assert_int_equal(r->tag, 0x00010000);
	assert_int_equal(r->mask, 0x00010000);
	/* any odd group, including those inside the 50xx/60xx ranges */
	for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++)
		assert_ptr_equal(anon_profile_find(odd[i]), r);
}

static void test_unlisted(void **state)
{
	(void)state;
	assert_null(anon_profile_find(0x00280010)); /* Rows */
	assert_null(anon_profile_find(0x7fe00010)); /* Pixel Data */
	assert_null(anon_profile_find(0x00080060)); /* Modality */
	assert_null(anon_profile_find(0x00000000));
	assert_null(anon_profile_find(0xfffee000));
}

/* The whole table: totals per action and column equal the JSON's. */
static void test_totals(void **state)
{
	unsigned basic[ANON_ACT_XZU + 1] = {0};
	unsigned opt[ANON_OPT_COUNT_][ANON_ACT_XZU + 1] = {{0}};
	unsigned std = 0, n = anon_profile_count();

	(void)state;
	/* python3 -c 'import json; print(len(json.load(open("anonymizer/
	 *     tables/confidentiality_profile_attributes.json"))))' -> 621 */
	assert_int_equal(n, 621);
	for (unsigned i = 0; i < n; i++) {
		const struct anon_profile_row *r = &anon__profile_rows[i];

		assert_true(r->basic > ANON_ACT_NONE &&
			    r->basic <= ANON_ACT_XZU);
		basic[r->basic]++;
		std += r->std_comp_iod;
		for (int k = 0; k < ANON_OPT_COUNT_; k++) {
			assert_true(r->opt[k] <= ANON_ACT_XZU);
			opt[k][r->opt[k]]++;
		}
		/* exact rows come first, sorted */
		if (i < anon__profile_nexact) {
			assert_int_equal(r->mask, 0xffffffff);
			if (i > 0)
				assert_true(anon__profile_rows[i - 1].tag <
					    r->tag);
		}
		/* every row is found by its own tag (x digits as 0) */
		assert_ptr_equal(anon_profile_find(r->tag), r);
	}
	/* python3 -c 'import json, collections; print(collections.Counter(
	 *     r["basicProfile"] for r in json.load(open("anonymizer/tables/
	 *     confidentiality_profile_attributes.json"))))' */
	assert_int_equal(basic[ANON_ACT_X], 384);
	assert_int_equal(basic[ANON_ACT_D], 92);
	assert_int_equal(basic[ANON_ACT_U], 54);
	assert_int_equal(basic[ANON_ACT_Z], 42);
	assert_int_equal(basic[ANON_ACT_XD], 22);
	assert_int_equal(basic[ANON_ACT_XZ], 11);
	assert_int_equal(basic[ANON_ACT_XZD], 8);
	assert_int_equal(basic[ANON_ACT_ZD], 6);
	assert_int_equal(basic[ANON_ACT_XZU], 2);
	assert_int_equal(basic[ANON_ACT_K] + basic[ANON_ACT_C], 0);
	/* ... r["stdCompIOD"] == "Y" -> 438 */
	assert_int_equal(std, 438);
	/* ... Counter(r[c] for r in rows if c in r) for each option column */
	assert_int_equal(opt[SAFE_PRIV][ANON_ACT_C], 1);
	assert_int_equal(opt[UIDS][ANON_ACT_K], 59);
	assert_int_equal(opt[DEV_ID][ANON_ACT_K], 46);
	assert_int_equal(opt[DEV_ID][ANON_ACT_C], 11);
	assert_int_equal(opt[INST_ID][ANON_ACT_K], 10);
	assert_int_equal(opt[PAT_CHARS][ANON_ACT_K], 9);
	assert_int_equal(opt[PAT_CHARS][ANON_ACT_C], 4);
	assert_int_equal(opt[FULL_DATES][ANON_ACT_K], 165);
	assert_int_equal(opt[MOD_DATES][ANON_ACT_C], 165);
	assert_int_equal(opt[CLEAN_DESC][ANON_ACT_C], 125);
	assert_int_equal(opt[CLEAN_SC][ANON_ACT_C], 3);
	assert_int_equal(opt[CLEAN_GR][ANON_ACT_C], 4);
	/* and nothing else in any column: 621 = listed + empty */
	assert_int_equal(opt[SAFE_PRIV][ANON_ACT_NONE], 620);
	assert_int_equal(opt[UIDS][ANON_ACT_NONE], 562);
	assert_int_equal(opt[DEV_ID][ANON_ACT_NONE], 564);
	assert_int_equal(opt[INST_ID][ANON_ACT_NONE], 611);
	assert_int_equal(opt[PAT_CHARS][ANON_ACT_NONE], 608);
	assert_int_equal(opt[FULL_DATES][ANON_ACT_NONE], 456);
	assert_int_equal(opt[MOD_DATES][ANON_ACT_NONE], 456);
	assert_int_equal(opt[CLEAN_DESC][ANON_ACT_NONE], 496);
	assert_int_equal(opt[CLEAN_SC][ANON_ACT_NONE], 618);
	assert_int_equal(opt[CLEAN_GR][ANON_ACT_NONE], 617);
}

/* The option enum's bits are the column indexes used above. */
static void test_option_bits(void **state)
{
	(void)state;
	assert_int_equal(ANON_OPT_RETAIN_SAFE_PRIVATE, 1u << SAFE_PRIV);
	assert_int_equal(ANON_OPT_RETAIN_UIDS, 1u << UIDS);
	assert_int_equal(ANON_OPT_RETAIN_DEVICE_ID, 1u << DEV_ID);
	assert_int_equal(ANON_OPT_RETAIN_INSTITUTION_ID, 1u << INST_ID);
	assert_int_equal(ANON_OPT_RETAIN_PATIENT_CHARS, 1u << PAT_CHARS);
	assert_int_equal(ANON_OPT_RETAIN_FULL_DATES, 1u << FULL_DATES);
	assert_int_equal(ANON_OPT_RETAIN_MODIFIED_DATES, 1u << MOD_DATES);
	assert_int_equal(ANON_OPT_CLEAN_DESCRIPTORS, 1u << CLEAN_DESC);
	assert_int_equal(ANON_OPT_CLEAN_STRUCTURED, 1u << CLEAN_SC);
	assert_int_equal(ANON_OPT_CLEAN_GRAPHICS, 1u << CLEAN_GR);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_known_rows),
		cmocka_unit_test(test_wildcard_rows),
		cmocka_unit_test(test_private_row),
		cmocka_unit_test(test_unlisted),
		cmocka_unit_test(test_totals),
		cmocka_unit_test(test_option_bits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
