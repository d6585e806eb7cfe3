/* test_deid.c - the PS3.15 profile engine on datasets built by hand with
 * the data model API: each action and option, combined codes, sequences,
 * referential integrity, private attributes, overlays, the free-text
 * stance, burned-in text, dates, ages, the output markers, and what keeps
 * the output valid (IOD-specific type 2 attributes, explicit UN values).
 *
 * Expected pseudonyms, shifted dates and grouped ages come from
 * anon_pseudo (checked against an independent Python implementation by the
 * test anonymizer_pseudo); expected actions come from PS3.15 Table E.1-1 as
 * quoted in the comments. */
#include "rf_test.h"

#include <pthread.h>

#include "anon_deid.h"

static struct anon_pseudo *keys;

#define VR(s) ANON_VR((s)[0], (s)[1])
#define T(g, e) ANON_TAG(0x##g, 0x##e)

static int setup(void **state)
{
	uint8_t secret[32];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof secret; i++)
		secret[i] = (uint8_t)(0xa0 + i);
	return anon_pseudo_create(secret, sizeof secret, &keys, NULL) ==
			       RF_OK ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	anon_pseudo_destroy(keys);
	return 0;
}

static void set(struct anon_ds *ds, uint32_t tag, const char *vr,
		const char *s)
{
	RF_ASSERT_OK(anon_ds_set_str(ds, tag, VR(vr), s, NULL));
}

/* The value of tag in ds without padding (rotating static buffers), or
 * NULL when absent. */
static const char *val(const struct anon_ds *ds, uint32_t tag)
{
	static char bufs[8][2048];
	static int k;
	const struct anon_elem *el = anon_ds_find(ds, tag);
	char *b = bufs[k++ & 7];
	size_t n;

	if (!el)
		return NULL;
	n = el->len < 2047 ? el->len : 2047;
	if (n)
		memcpy(b, el->val, n);
	while (n > 0 && (b[n - 1] == ' ' || b[n - 1] == 0))
		n--;
	b[n] = 0;
	return b;
}

static struct anon_ds *item(struct anon_ds *ds, uint32_t tag, size_t i)
{
	struct anon_elem *sq = anon_ds_find(ds, tag);

	if (!sq || sq->vr != VR("SQ") || i >= sq->nitems)
		return NULL;
	return &sq->items[i];
}

static struct anon_ds *add_item(struct anon_ds *ds, uint32_t tag)
{
	struct anon_elem *sq;
	struct anon_ds *it;

	RF_ASSERT_OK(anon_ds_add_seq(ds, tag, &sq, NULL));
	RF_ASSERT_OK(anon_elem_insert_item(sq, sq->nitems, ds, &it, NULL));
	return it;
}

static const char *pseudo_id(enum anon_id_kind kind, const char *v)
{
	static char out[4][ANON_ID_SIZE];
	static int k;
	char *o = out[k++ & 3];

	RF_ASSERT_OK(anon_pseudo_id(keys, kind, v, strlen(v), o,
				    ANON_ID_SIZE, NULL));
	return o;
}

static const char *pseudo_uid(const char *v)
{
	static char out[4][ANON_UID_SIZE];
	static int k;
	char *o = out[k++ & 3];

	RF_ASSERT_OK(anon_pseudo_uid(keys, v, strlen(v), o, ANON_UID_SIZE,
				     NULL));
	return o;
}

static int shift_of(const char *pid)
{
	int days;

	RF_ASSERT_OK(anon_pseudo_day_shift(keys, pid, strlen(pid), &days,
					   NULL));
	return days;
}

static const char *da_shift(const char *v, int days)
{
	static char out[4][256];
	static int k;
	char *o = out[k++ & 3];

	RF_ASSERT_OK(anon_da_shift(v, strlen(v), days, o, 256, NULL));
	return o;
}

#define CT_CLASS "1.2.840.10008.5.1.4.1.1.2"
#define US_CLASS "1.2.840.10008.5.1.4.1.1.6.1"
#define SC_CLASS "1.2.840.10008.5.1.4.1.1.7"

/* A CT header with the usual identifying attributes. */
static void build_ct(struct anon_dicom **out)
{
	struct anon_dicom *d;
	struct anon_ds *ds;

	RF_ASSERT_OK(anon_dicom_create(&d, NULL));
	ds = &d->ds;
	set(ds, T(0008, 0016), "UI", CT_CLASS);
	set(ds, T(0008, 0018), "UI", "1.2.826.0.1.3680043.2.1.1.7");
	set(ds, T(0008, 0020), "DA", "20240315");
	set(ds, T(0008, 0021), "DA", "20240315");
	set(ds, T(0008, 0023), "DA", "20240316");
	set(ds, T(0008, 0030), "TM", "101500");
	set(ds, T(0008, 0050), "SH", "ACC123456");
	set(ds, T(0008, 0060), "CS", "CT");
	set(ds, T(0008, 0070), "LO", "GE MEDICAL SYSTEMS");
	set(ds, T(0008, 0080), "LO", "CHU de Nantes");
	set(ds, T(0008, 0090), "PN", "MARTIN^Paul");
	set(ds, T(0008, 1010), "SH", "CTSTATION7");
	set(ds, T(0008, 1030), "LO", "Scanner thoracique DUPONT");
	set(ds, T(0010, 0010), "PN", "DUPONT^Jean");
	set(ds, T(0010, 0020), "LO", "12345678");
	set(ds, T(0010, 0030), "DA", "19280101");
	set(ds, T(0010, 0040), "CS", "M");
	set(ds, T(0010, 1010), "AS", "095Y");
	set(ds, T(0018, 1000), "LO", "SN-998877");
	set(ds, T(0020, 000D), "UI", "1.2.826.0.1.3680043.2.1.1");
	set(ds, T(0020, 000E), "UI", "1.2.826.0.1.3680043.2.1.1.2");
	set(ds, T(0020, 0010), "SH", "STUDY42");
	set(ds, T(0028, 0301), "CS", "NO");
	set(ds, T(0070, 0084), "PN", "LEROY^Anne");
	*out = d;
}

static enum rf_rc run(unsigned options, struct anon_dicom *d,
		      struct anon_deid_result *r)
{
	struct anon_deid_config cfg = {0};
	struct rf_err err = {0};
	enum rf_rc rc;

	cfg.options = options;
	cfg.pseudo = keys;
	cfg.software = "radfed 0.1.0";
	rc = anon_deid_apply(&cfg, d, r, &err);
	if (rc != RF_OK && rc != RF_EINVAL)
		fail_msg("anon_deid_apply: %s", rf_err_msg(&err));
	return rc;
}

/* ---- defaults: Modified Dates, Patient Characteristics, Clean Desc. --- */

static void test_defaults(void **state)
{
	struct anon_dicom *d;
	struct anon_deid_result r;
	struct anon_ds *ds;
	int days = shift_of("12345678");

	(void)state;
	build_ct(&d);
	ds = &d->ds;
	anon_deid_result_init(&r);
	RF_ASSERT_OK(run(0, d, &r));
	assert_int_equal(r.outcome, ANON_DEID_WRITTEN);
	assert_int_equal(r.options, ANON_DEID_DEFAULT_OPTIONS);

	/* PatientID and AccessionNumber: pseudonyms, not removed */
	assert_string_equal(val(ds, T(0010, 0020)),
			    pseudo_id(ANON_ID_PATIENT, "12345678"));
	assert_string_equal(r.patient, pseudo_id(ANON_ID_PATIENT, "12345678"));
	assert_string_equal(val(ds, T(0008, 0050)),
			    pseudo_id(ANON_ID_ACCESSION, "ACC123456"));
	assert_string_equal(r.accession,
			    pseudo_id(ANON_ID_ACCESSION, "ACC123456"));
	assert_string_equal(val(ds, T(0020, 0010)),
			    pseudo_id(ANON_ID_STUDY, "STUDY42"));
	/* PatientName (Z): the patient pseudonym */
	assert_string_equal(val(ds, T(0010, 0010)), r.patient);

	/* dates: one shift, from the original PatientID */
	assert_int_equal(r.day_shift, days);
	assert_true(days <= -1 && days >= -3650);
	assert_int_equal(r.dates_shifted, 1);
	assert_string_equal(val(ds, T(0008, 0020)), da_shift("20240315", days));
	assert_string_equal(val(ds, T(0008, 0021)), da_shift("20240315", days));
	assert_string_equal(val(ds, T(0008, 0023)), da_shift("20240316", days));
	assert_string_not_equal(val(ds, T(0008, 0020)), "20240315");
	assert_string_equal(val(ds, T(0008, 0030)), "101500"); /* TM kept */
	/* birth date: Z in every column */
	assert_string_equal(val(ds, T(0010, 0030)), "");

	/* Retain Patient Characteristics: sex kept, age grouped */
	assert_string_equal(val(ds, T(0010, 0040)), "M");
	assert_string_equal(val(ds, T(0010, 1010)), "090Y");

	/* UIDs */
	assert_string_equal(val(ds, T(0008, 0016)), CT_CLASS);
	assert_string_equal(val(ds, T(0020, 000D)),
			    pseudo_uid("1.2.826.0.1.3680043.2.1.1"));
	assert_string_equal(val(ds, T(0008, 0018)),
			    pseudo_uid("1.2.826.0.1.3680043.2.1.1.7"));

	/* X/Z/D: InstitutionName and StationName (type 3) removed,
	 * DeviceSerialNumber (type 1 in Enhanced General Equipment) dummy,
	 * ContentCreatorName (Z/D, type 2) empty, ReferringPhysicianName Z */
	assert_null(val(ds, T(0008, 0080)));
	assert_null(val(ds, T(0008, 1010)));
	assert_string_equal(val(ds, T(0018, 1000)), "ANONYMIZED");
	assert_string_equal(val(ds, T(0070, 0084)), "");
	assert_string_equal(val(ds, T(0008, 0090)), "");

	/* Clean Descriptors: the name seeded from PatientName is gone */
	assert_non_null(val(ds, T(0008, 1030)));
	assert_null(strstr(val(ds, T(0008, 1030)), "DUPONT"));
	assert_non_null(strstr(val(ds, T(0008, 1030)), "Scanner thoracique"));
	/* safe list */
	assert_string_equal(val(ds, T(0008, 0070)), "GE MEDICAL SYSTEMS");

	/* markers */
	assert_string_equal(val(ds, T(0012, 0062)), "YES");
	assert_non_null(strstr(val(ds, T(0012, 0063)), "radfed 0.1.0\\"));
	assert_non_null(strstr(val(ds, T(0012, 0063)), anon_dict_edition));
	assert_string_equal(val(ds, T(0028, 0303)), "MODIFIED");
	{
		static const char *const want[] = {"113100", "113105",
						   "113107", "113108"};
		struct anon_elem *sq = anon_ds_find(ds, T(0012, 0064));
		size_t i;

		assert_non_null(sq);
		assert_int_equal(sq->nitems, 4);
		for (i = 0; i < 4; i++) {
			assert_string_equal(val(&sq->items[i], T(0008, 0100)),
					    want[i]);
			assert_string_equal(val(&sq->items[i], T(0008, 0102)),
					    "DCM");
		}
		assert_string_equal(val(&sq->items[2], T(0008, 0104)),
				    "Retain Longitudinal Temporal Information "
				    "Modified Dates Option");
	}

	/* seeds for the report */
	assert_true(r.n_names >= 3);
	assert_true(r.n_ids >= 3);
	assert_true(r.count[ANON_DEID_REMOVED] >= 2);
	assert_true(r.count[ANON_DEID_DATE] >= 3);
	assert_int_equal(r.count[ANON_DEID_UID], 3);
	anon_deid_result_release(&r);
	anon_dicom_destroy(d);
}

/* ---- date options ------------------------------------------------------- */

static void test_full_dates(void **state)
{
	struct anon_dicom *d;
	struct anon_deid_result r;
	struct anon_elem *sq;

	(void)state;
	build_ct(&d);
	anon_deid_result_init(&r);
	RF_ASSERT_OK(run(ANON_OPT_RETAIN_FULL_DATES, d, &r));
	assert_string_equal(val(&d->ds, T(0008, 0020)), "20240315");
	assert_string_equal(val(&d->ds, T(0008, 0023)), "20240316");
	assert_string_equal(val(&d->ds, T(0028, 0303)), "UNMODIFIED");
	assert_int_equal(r.day_shift, 0);
	assert_int_equal(r.dates_shifted, 0);
	/* no Clean Descriptors: StudyDescription (X) removed; no Retain
	 * Patient Characteristics: sex Z, age X */
	assert_null(val(&d->ds, T(0008, 1030)));
	assert_string_equal(val(&d->ds, T(0010, 0040)), "");
	assert_null(val(&d->ds, T(0010, 1010)));
	sq = anon_ds_find(&d->ds, T(0012, 0064));
	assert_int_equal(sq->nitems, 2);
	assert_string_equal(val(&sq->items[1], T(0008, 0100)), "113106");
	anon_deid_result_release(&r);
	anon_dicom_destroy(d);
}

static void test_no_date_option(void **state)
{
	struct anon_dicom *d;
	struct anon_deid_result r;
	struct anon_ds *ds;

	(void)state;
	build_ct(&d);
	ds = &d->ds;
	set(ds, T(0008, 0022), "DA", "20240315"); /* X/Z, type 3 */
	set(ds, T(0014, 1020), "DA", "20250101"); /* not in the table */
	assert_int_equal(anon_deid_action(T(0014, 1020), 0), ANON_ACT_NONE);
	anon_deid_result_init(&r);
	RF_ASSERT_OK(run(ANON_OPT_CLEAN_DESCRIPTORS, d, &r));
	assert_string_equal(val(ds, T(0008, 0020)), "");  /* Z */
	assert_null(val(ds, T(0008, 0021)));               /* X/D: X */
	assert_null(val(ds, T(0008, 0022)));               /* X/Z: X */
	assert_string_equal(val(ds, T(0008, 0023)), "");  /* Z/D: Z */
	assert_string_equal(val(ds, T(0008, 0030)), "");  /* Z */
	assert_null(val(ds, T(0014, 1020)));
	assert_string_equal(val(ds, T(0028, 0303)), "REMOVED");
	anon_deid_result_release(&r);
	anon_dicom_destroy(d);
}

static void test_contradictory_options(void **state)
{
	struct anon_dicom *d;
	struct anon_deid_result r;

	(void)state;
	build_ct(&d);
	anon_deid_result_init(&r);
	assert_int_equal(run(ANON_OPT_RETAIN_FULL_DATES |
				     ANON_OPT_RETAIN_MODIFIED_DATES,
			     d, &r),
			 RF_EINVAL);
	assert_int_equal(run(1u << 12, d, &r), RF_EINVAL);
	/* nothing changed */
	assert_string_equal(val(&d->ds, T(0010, 0010)), "DUPONT^Jean");
	anon_deid_result_release(&r);
	anon_dicom_destroy(d);
}

/* ---- precedence and combined codes ------------------------------------- */

static void test_precedence(void **state)
{
	(void)state;
	/* Study Date: Z; Full Dates K; Modified Dates C */
	assert_int_equal(anon_deid_action(T(0008, 0020), 0), ANON_ACT_Z);
	assert_int_equal(anon_deid_action(T(0008, 0020),
					  ANON_OPT_RETAIN_FULL_DATES),
			 ANON_ACT_K);
	assert_int_equal(anon_deid_action(T(0008, 0020),
					  ANON_OPT_RETAIN_MODIFIED_DATES),
			 ANON_ACT_C);
	/* Network ID: X; Retain Device Identity C */
	assert_int_equal(anon_deid_action(T(0008, 1000),
					  ANON_OPT_RETAIN_DEVICE_ID),
			 ANON_ACT_C);
	/* Station Name X/Z/D; Retain Device Identity K */
	assert_int_equal(anon_deid_action(T(0008, 1010), 0), ANON_ACT_XZD);
	assert_int_equal(anon_deid_action(T(0008, 1010),
					  ANON_OPT_RETAIN_DEVICE_ID |
						  ANON_OPT_CLEAN_DESCRIPTORS),
			 ANON_ACT_K);
	/* Study Description X; Clean Descriptors C */
	assert_int_equal(anon_deid_action(T(0008, 1030), 0), ANON_ACT_X);
	assert_int_equal(anon_deid_action(T(0008, 1030),
					  ANON_OPT_CLEAN_DESCRIPTORS),
			 ANON_ACT_C);
	/* Referenced Image Sequence X/Z/U*; Retain UIDs K */
	assert_int_equal(anon_deid_action(T(0008, 1140), 0), ANON_ACT_XZU);
	assert_int_equal(anon_deid_action(T(0008, 1140),
					  ANON_OPT_RETAIN_UIDS),
			 ANON_ACT_K);
	/* private attributes X; Retain Safe Private C */
	assert_int_equal(anon_deid_action(T(0009, 1001), 0), ANON_ACT_X);
	assert_int_equal(anon_deid_action(T(0009, 1001),
					  ANON_OPT_RETAIN_SAFE_PRIVATE),
			 ANON_ACT_C);
	assert_int_equal(anon_deid_action(T(0014, 1020), 0xffff),
			 ANON_ACT_NONE);
}

/* ---- keeping the output valid: IOD-specific type 2, explicit UN ---- */

static void set_un(struct anon_ds *ds, uint32_t tag, const void *p, size_t n)
{
	RF_ASSERT_OK(anon_ds_set_bytes(ds, tag, VR("UN"), p, n, NULL));
}

static uint16_t vr_of(const struct anon_ds *ds, uint32_t tag)
{
	const struct anon_elem *el = anon_ds_find(ds, tag);

	assert_non_null(el);
	return el->vr;
}

static void test_iod_validity(void **state)
{
	static const uint8_t fip[4] = {0x18, 0x00, 0x50, 0x00};
	struct anon_deid_result r;
	struct anon_dicom *d;
	struct anon_ds *ds, *it;
	const struct anon_elem *el;

	(void)state;
	build_ct(&d);
	ds = &d->ds;
	/* X/Z/D, type 2 in RT Series: emptied, not removed */
	set(ds, T(0008, 1070), "PN", "DURAND^Luc");
	/* X/Z, type 2 in RT Beams */
	set(ds, T(300A, 00B2), "SH", "LINAC NANTES 2");
	/* X/Z/D, type 2 in SR Document Series: an empty sequence */
	it = add_item(ds, T(0008, 1111));
	set(it, T(0008, 1155), "UI", "1.2.826.0.1.3680043.2.1.9");
	/* X/Z, type 2 in Acquisition Context */
	it = add_item(ds, T(0040, 0555));
	set(it, T(0040, A160), "UT", "DUPONT at rest");
	/* values written as UN by software that did not know them: handled
	 * as the dictionary's VR */
	set_un(ds, T(0008, 0016), CT_CLASS, strlen(CT_CLASS));
	set_un(ds, T(0008, 1030), "Scanner DUPONT", 14);
	set_un(ds, T(0010, 0010), "DUPONT^Jean", 11);
	set_un(ds, T(0020, 0052), "1.2.826.0.1.3680043.2.1.5", 25);
	set_un(ds, T(0028, 0009), fip, sizeof fip);
	set_un(ds, T(0018, 0050), "1.5", 3);
	/* left UN, and removed as unlisted unknown content: a binary value
	 * whose length does not fit its VR, an attribute with a choice of
	 * VRs (US or SS), an attribute the dictionary does not know */
	set_un(ds, T(0028, 0011), "\x01\x00\x02", 3);
	set_un(ds, T(0028, 0106), "\x01\x00", 2);
	set_un(ds, T(0028, 9999), "x", 1);
	anon_deid_result_init(&r);
	RF_ASSERT_OK(run(0, d, &r));
	assert_int_equal(r.outcome, ANON_DEID_WRITTEN);

	assert_string_equal(val(ds, T(0008, 1070)), "");
	assert_string_equal(val(ds, T(300A, 00B2)), "");
	el = anon_ds_find(ds, T(0008, 1111));
	assert_non_null(el);
	assert_int_equal(el->nitems, 0);
	el = anon_ds_find(ds, T(0040, 0555));
	assert_non_null(el);
	assert_int_equal(el->nitems, 0);

	assert_int_equal(vr_of(ds, T(0008, 0016)), VR("UI"));
	assert_string_equal(val(ds, T(0008, 0016)), CT_CLASS);
	assert_int_equal(vr_of(ds, T(0010, 0010)), VR("PN"));
	assert_string_equal(val(ds, T(0010, 0010)),
			    pseudo_id(ANON_ID_PATIENT, "12345678"));
	assert_int_equal(vr_of(ds, T(0008, 1030)), VR("LO"));
	assert_null(strstr(val(ds, T(0008, 1030)), "DUPONT"));
	assert_int_equal(vr_of(ds, T(0020, 0052)), VR("UI"));
	assert_string_equal(val(ds, T(0020, 0052)),
			    pseudo_uid("1.2.826.0.1.3680043.2.1.5"));
	assert_int_equal(vr_of(ds, T(0028, 0009)), VR("AT"));
	el = anon_ds_find(ds, T(0028, 0009));
	assert_int_equal(el->len, 4);
	assert_memory_equal(el->val, fip, 4);
	/* SliceThickness is DS: a string VR, converted whatever its length */
	assert_int_equal(vr_of(ds, T(0018, 0050)), VR("DS"));
	assert_string_equal(val(ds, T(0018, 0050)), "1.5");
	assert_null(anon_ds_find(ds, T(0028, 0011)));
	assert_null(anon_ds_find(ds, T(0028, 0106)));
	assert_null(anon_ds_find(ds, T(0028, 9999)));
	anon_deid_result_release(&r);
	anon_dicom_destroy(d);
}

static void test_retain_options(void **state)
{
	struct anon_dicom *d;
	struct anon_deid_result r;
	struct anon_ds *ds;
	struct anon_elem *sq;

	(void)state;
	build_ct(&d);
	ds = &d->ds;
	anon_deid_result_init(&r);
	RF_ASSERT_OK(run(ANON_DEID_DEFAULT_OPTIONS |
				 ANON_OPT_RETAIN_DEVICE_ID |
				 ANON_OPT_RETAIN_INSTITUTION_ID |
				 ANON_OPT_RETAIN_UIDS,
			 d, &r));
	assert_string_equal(val(ds, T(0008, 1010)), "CTSTATION7");
	assert_string_equal(val(ds, T(0018, 1000)), "SN-998877");
	assert_string_equal(val(ds, T(0008, 0080)), "CHU de Nantes");
	assert_string_equal(val(ds, T(0020, 000D)),
			    "1.2.826.0.1.3680043.2.1.1");
	assert_int_equal(r.count[ANON_DEID_UID], 0);
	sq = anon_ds_find(ds, T(0012, 0064));
	assert_int_equal(sq->nitems, 7);
	anon_deid_result_release(&r);
	anon_dicom_destroy(d);
}

/* ---- sequences and referential integrity ------------------------------ */

static void test_nested(void **state)
{
	struct anon_dicom *d;
	struct anon_deid_result r;
	struct anon_ds *ds, *s1, *s2, *s3;
	int days = shift_of("12345678");

	(void)state;
	build_ct(&d);
	ds = &d->ds;
	/* ReferencedSeriesSequence (not listed) > ReferencedInstanceSequence
	 * (not listed) > ReferencedSOPSequence (not listed) */
	s1 = add_item(ds, T(0008, 1115));
	set(s1, T(0020, 000E), "UI", "1.2.826.0.1.3680043.2.1.1.2");
	s2 = add_item(s1, T(0008, 114A));
	set(s2, T(0008, 1150), "UI", CT_CLASS);
	set(s2, T(0008, 1155), "UI", "1.2.826.0.1.3680043.2.1.1.7");
	s3 = add_item(s2, T(0008, 1199));
	set(s3, T(0010, 0020), "LO", "12345678");
	set(s3, T(0008, 0050), "SH", "ACC123456");
	set(s3, T(0008, 1155), "UI", "1.2.826.0.1.3680043.2.1.1.9\\"
				      "1.2.840.10008.1.2.1");
	set(s3, T(0014, 1020), "DA", "20240101");
	set(s3, T(0014, 2006), "PN", "DURAND^Marc"); /* unlisted PN */
	set(s3, T(0040, A160), "UT", "vu par DUPONT");
	/* a listed sequence with X: Other Patient IDs Sequence */
	s1 = add_item(ds, T(0010, 1002));
	set(s1, T(0010, 0020), "LO", "OLD-ID-77");
	/* Referenced Image Sequence: X/Z/U* kept for its UIDs */
	s1 = add_item(ds, T(0008, 1140));
	set(s1, T(0008, 1150), "UI", CT_CLASS);
	set(s1, T(0008, 1155), "UI", "1.2.826.0.1.3680043.2.1.1.8");

	anon_deid_result_init(&r);
	RF_ASSERT_OK(run(0, d, &r));
	s1 = item(ds, T(0008, 1115), 0);
	assert_non_null(s1);
	assert_string_equal(val(s1, T(0020, 000E)), val(ds, T(0020, 000E)));
	s2 = item(s1, T(0008, 114A), 0);
	assert_string_equal(val(s2, T(0008, 1150)), CT_CLASS);
	assert_string_equal(val(s2, T(0008, 1155)), val(ds, T(0008, 0018)));
	s3 = item(s2, T(0008, 1199), 0);
	assert_non_null(s3);
	assert_string_equal(val(s3, T(0010, 0020)), r.patient);
	assert_string_equal(val(s3, T(0008, 0050)), r.accession);
	{
		char want[200];

		snprintf(want, sizeof want, "%s\\1.2.840.10008.1.2.1",
			 pseudo_uid("1.2.826.0.1.3680043.2.1.1.9"));
		assert_string_equal(val(s3, T(0008, 1155)), want);
	}
	assert_string_equal(val(s3, T(0014, 1020)), da_shift("20240101", days));
	assert_null(val(s3, T(0014, 2006)));
	assert_null(strstr(val(s3, T(0040, A160)), "DUPONT"));
	assert_null(anon_ds_find(ds, T(0010, 1002)));
	s1 = item(ds, T(0008, 1140), 0);
	assert_non_null(s1);
	assert_string_equal(val(s1, T(0008, 1155)),
			    pseudo_uid("1.2.826.0.1.3680043.2.1.1.8"));
	/* the seed from deep inside was collected */
	{
		size_t i;
		int found = 0;

		for (i = 0; i < r.n_names; i++)
			found |= strcmp(r.names[i], "DURAND^Marc") == 0;
		assert_true(found);
	}
	anon_deid_result_release(&r);
	anon_dicom_destroy(d);
}

static void test_referential_integrity(void **state)
{
	struct anon_dicom *a, *b;
	struct anon_deid_result ra, rb;
	struct anon_ds *it;

	(void)state;
	build_ct(&a);
	build_ct(&b);
	set(&b->ds, T(0008, 0018), "UI", "1.2.826.0.1.3680043.2.1.1.99");
	set(&b->ds, T(0008, 0050), "SH", "ACC999");
	it = add_item(&b->ds, T(0008, 2112)); /* Source Image Sequence */
	set(it, T(0008, 1150), "UI", CT_CLASS);
	set(it, T(0008, 1155), "UI", "1.2.826.0.1.3680043.2.1.1.7");
	anon_deid_result_init(&ra);
	anon_deid_result_init(&rb);
	RF_ASSERT_OK(run(0, a, &ra));
	RF_ASSERT_OK(run(0, b, &rb));
	it = item(&b->ds, T(0008, 2112), 0);
	assert_non_null(it);
	assert_string_equal(val(it, T(0008, 1155)), val(&a->ds, T(0008, 0018)));
	assert_string_not_equal(val(&a->ds, T(0008, 0018)),
				val(&b->ds, T(0008, 0018)));
	assert_string_equal(val(&a->ds, T(0020, 000D)),
			    val(&b->ds, T(0020, 000D)));
	assert_string_equal(ra.patient, rb.patient);
	assert_int_equal(ra.day_shift, rb.day_shift);
	assert_string_not_equal(ra.accession, rb.accession);
	anon_deid_result_release(&ra);
	anon_deid_result_release(&rb);
	anon_dicom_destroy(a);
	anon_dicom_destroy(b);
}

/* ---- private attributes ------------------------------------------------- */

static void build_private(struct anon_ds *ds)
{
	set(ds, T(0009, 0010), "LO", "ACME 1.0");
	set(ds, T(0009, 0011), "LO", "ACME NAMES");
	set(ds, T(0009, 1001), "LO", "DUPONT^Jean");
	set(ds, T(0009, 1002), "DS", "1.5");
	set(ds, T(0009, 1003), "UI", "1.2.826.0.1.3680043.2.1.1.7");
	set(ds, T(0009, 1101), "PN", "DUPONT^Jean");
	set(ds, T(0011, 0010), "LO", "OTHER");
	set(ds, T(0011, 1002), "DS", "2.5");
}

static void test_private(void **state)
{
	static const struct anon_safe_private safe[] = {
		{"ACME 1.0", 0x0009, 0x02},
		{"ACME 1.0", 0, 0x03},
		{"OTHER", 0x0013, 0x02}, /* wrong group */
	};
	struct anon_deid_config cfg = {0};
	struct anon_dicom *d;
	struct anon_deid_result r;
	struct anon_ds *ds;
	size_t i;

	(void)state;
	/* without the option: every odd group goes */
	build_ct(&d);
	build_private(&d->ds);
	anon_deid_result_init(&r);
	RF_ASSERT_OK(run(0, d, &r));
	for (i = 0; i < d->ds.n; i++)
		assert_false(ANON_TAG_GROUP(d->ds.elems[i].tag) & 1);
	assert_int_equal(r.count[ANON_DEID_PRIVATE_REMOVED], 8);
	anon_dicom_destroy(d);

	/* with it and a list: matched elements and their creator stay */
	build_ct(&d);
	ds = &d->ds;
	build_private(ds);
	cfg.options = ANON_DEID_DEFAULT_OPTIONS |
		      ANON_OPT_RETAIN_SAFE_PRIVATE;
	cfg.pseudo = keys;
	cfg.safe_private = safe;
	cfg.n_safe_private = 3;
	RF_ASSERT_OK(anon_deid_apply(&cfg, d, &r, NULL));
	assert_string_equal(val(ds, T(0009, 0010)), "ACME 1.0");
	assert_string_equal(val(ds, T(0009, 1002)), "1.5");
	assert_string_equal(val(ds, T(0009, 1003)),
			    pseudo_uid("1.2.826.0.1.3680043.2.1.1.7"));
	assert_null(val(ds, T(0009, 1001)));
	assert_null(val(ds, T(0009, 0011)));
	assert_null(val(ds, T(0009, 1101)));
	assert_null(val(ds, T(0011, 0010)));
	assert_null(val(ds, T(0011, 1002)));
	assert_int_equal(r.count[ANON_DEID_PRIVATE_KEPT], 2);
	assert_int_equal(r.count[ANON_DEID_PRIVATE_REMOVED], 5);
	anon_deid_result_release(&r);
	anon_dicom_destroy(d);
}

/* ---- overlays and curves ------------------------------------------------ */

static void test_overlays(void **state)
{
	struct anon_dicom *d;
	struct anon_deid_result r;
	struct anon_ds *ds;
	uint8_t bits[8] = {0xff, 0, 0, 0, 0, 0, 0, 0};
	size_t i;

	(void)state;
	build_ct(&d);
	ds = &d->ds;
	RF_ASSERT_OK(anon_ds_set_u16(ds, T(6000, 0010), 8, NULL));
	RF_ASSERT_OK(anon_ds_set_u16(ds, T(6000, 0011), 8, NULL));
	set(ds, T(6000, 0022), "LO", "DUPONT");
	RF_ASSERT_OK(anon_ds_set_bytes(ds, T(6000, 3000), VR("OW"), bits, 8,
				       NULL));
	set(ds, T(6002, 0040), "CS", "G");
	set(ds, T(5000, 0005), "US", "");
	RF_ASSERT_OK(anon_ds_set_u16(ds, T(0028, 0010), 8, NULL));
	anon_deid_result_init(&r);
	RF_ASSERT_OK(run(ANON_DEID_DEFAULT_OPTIONS | ANON_OPT_CLEAN_GRAPHICS,
			 d, &r));
	for (i = 0; i < ds->n; i++) {
		uint16_t g = ANON_TAG_GROUP(ds->elems[i].tag);

		assert_false((g & 0xff00) == 0x6000 || (g & 0xff00) == 0x5000);
	}
	assert_int_equal(r.count[ANON_DEID_GROUP_REMOVED], 3);
	assert_non_null(val(ds, T(0028, 0010)));
	anon_deid_result_release(&r);
	anon_dicom_destroy(d);
}

/* ---- the free-text stance ---------------------------------------------- */

static void test_free_text(void **state)
{
	struct anon_dicom *d;
	struct anon_deid_result r;
	struct anon_ds *ds;
	const char *v;

	(void)state;
	assert_int_equal(anon_deid_action(T(0008, 0222), 0xffff),
			 ANON_ACT_NONE);
	assert_int_equal(anon_deid_action(T(0040, A160), 0xffff),
			 ANON_ACT_NONE);
	assert_true(anon_deid_safe_text(T(0008, 0070)));
	assert_false(anon_deid_safe_text(T(0008, 0222)));

	build_ct(&d);
	ds = &d->ds;
	set(ds, T(0008, 0222), "LO", "groupe DUPONT 12345678");
	set(ds, T(0040, A160), "UT", "Patient Jean DUPONT, IPP 12345678, "
				     "tel 06 12 34 56 78.");
	set(ds, T(0014, 2006), "PN", "DURAND^Marc");
	set(ds, T(0018, 0015), "CS", "CHEST"); /* CS is not free text */
	anon_deid_result_init(&r);
	RF_ASSERT_OK(run(0, d, &r));
	v = val(ds, T(0008, 0222));
	assert_non_null(v);
	assert_null(strstr(v, "DUPONT"));
	assert_null(strstr(v, "12345678"));
	v = val(ds, T(0040, A160));
	assert_non_null(v);
	assert_null(strstr(v, "DUPONT"));
	assert_null(strstr(v, "12345678"));
	assert_null(strstr(v, "06 12 34"));
	assert_null(val(ds, T(0014, 2006)));
	assert_string_equal(val(ds, T(0018, 0015)), "CHEST");
	anon_dicom_destroy(d);

	/* without Clean Descriptors: removed, never passed through */
	build_ct(&d);
	ds = &d->ds;
	set(ds, T(0008, 0222), "LO", "groupe DUPONT");
	set(ds, T(0040, A160), "UT", "Patient Jean DUPONT");
	RF_ASSERT_OK(run(ANON_OPT_RETAIN_MODIFIED_DATES, d, &r));
	assert_null(val(ds, T(0008, 0222)));
	assert_null(val(ds, T(0040, A160)));
	assert_string_equal(val(ds, T(0008, 0070)), "GE MEDICAL SYSTEMS");
	anon_deid_result_release(&r);
	anon_dicom_destroy(d);
}

/* Content Sequence: D without Clean Structured Content (text becomes a
 * dummy), C with it (text scrubbed); Graphic Annotation Sequence the same
 * way with Clean Graphics. */
static void test_structured(void **state)
{
	struct anon_dicom *d;
	struct anon_deid_result r;
	struct anon_ds *it;
	int i;

	(void)state;
	build_ct(&d);
	it = add_item(&d->ds, T(0040, A730));
	set(it, T(0040, A040), "CS", "TEXT");
	set(it, T(0040, A160), "UT", "Compte rendu de DUPONT Jean");
	anon_deid_result_init(&r);
	RF_ASSERT_OK(run(0, d, &r));
	it = item(&d->ds, T(0040, A730), 0);
	assert_non_null(it);
	assert_string_equal(val(it, T(0040, A160)), "ANONYMIZED");
	assert_string_equal(val(it, T(0040, A040)), "TEXT");
	anon_dicom_destroy(d);

	build_ct(&d);
	it = add_item(&d->ds, T(0040, A730));
	set(it, T(0040, A160), "UT", "Compte rendu de DUPONT Jean");
	RF_ASSERT_OK(run(ANON_OPT_RETAIN_MODIFIED_DATES |
				 ANON_OPT_CLEAN_STRUCTURED,
			 d, &r));
	it = item(&d->ds, T(0040, A730), 0);
	assert_non_null(it);
	assert_non_null(strstr(val(it, T(0040, A160)), "Compte rendu de"));
	assert_null(strstr(val(it, T(0040, A160)), "DUPONT"));
	anon_dicom_destroy(d);

	/* Graphic Annotation Sequence: D, or C under Clean Graphics */
	for (i = 0; i < 2; i++) {
		struct anon_ds *txt;

		build_ct(&d);
		it = add_item(&d->ds, T(0070, 0001));
		set(it, T(0070, 0002), "CS", "LAYER1");
		txt = add_item(it, T(0070, 0008));
		set(txt, T(0070, 0006), "ST", "Fleche: nodule, vu par DUPONT");
		RF_ASSERT_OK(run(i ? ANON_DEID_DEFAULT_OPTIONS |
					     ANON_OPT_CLEAN_GRAPHICS : 0,
				 d, &r));
		it = item(&d->ds, T(0070, 0001), 0);
		assert_non_null(it);
		assert_string_equal(val(it, T(0070, 0002)), "LAYER1");
		txt = item(it, T(0070, 0008), 0);
		assert_non_null(txt);
		if (i == 0) {
			assert_string_equal(val(txt, T(0070, 0006)),
					    "ANONYMIZED");
		} else {
			assert_non_null(strstr(val(txt, T(0070, 0006)),
					       "Fleche: nodule"));
			assert_null(strstr(val(txt, T(0070, 0006)), "DUPONT"));
		}
		anon_dicom_destroy(d);
	}
	anon_deid_result_release(&r);
}

/* ---- burned-in text ----------------------------------------------------- */

static void add_pixels(struct anon_ds *ds, uint16_t rows, uint16_t cols,
		       uint16_t bits)
{
	size_t n = (size_t)rows * cols * (bits / 8), i;
	uint8_t *px = malloc(n);

	assert_non_null(px);
	for (i = 0; i < n; i++)
		px[i] = (uint8_t)(i % 251 + 1);
	RF_ASSERT_OK(anon_ds_set_u16(ds, T(0028, 0002), 1, NULL));
	RF_ASSERT_OK(anon_ds_set_u16(ds, T(0028, 0010), rows, NULL));
	RF_ASSERT_OK(anon_ds_set_u16(ds, T(0028, 0011), cols, NULL));
	RF_ASSERT_OK(anon_ds_set_u16(ds, T(0028, 0100), bits, NULL));
	set(ds, T(0028, 0004), "CS", "MONOCHROME2");
	RF_ASSERT_OK(anon_ds_set_bytes(ds, T(7FE0, 0010),
				       bits > 8 ? VR("OW") : VR("OB"), px, n,
				       NULL));
	free(px);
}

static void test_burned_in(void **state)
{
	static const struct anon_deid_mask mask = {"US", "ACME", NULL, 2, 1,
						   3, 2};
	struct anon_deid_config cfg = {0};
	struct anon_dicom *d;
	struct anon_deid_result r;
	const struct anon_elem *px;
	size_t x, y;

	(void)state;
	anon_deid_result_init(&r);

	/* CT with BurnedInAnnotation YES */
	build_ct(&d);
	set(&d->ds, T(0028, 0301), "CS", "YES");
	add_pixels(&d->ds, 4, 4, 8);
	{
		size_t before = anon_ds_count_all(&d->ds);

		RF_ASSERT_OK(run(0, d, &r));
		assert_int_equal(anon_ds_count_all(&d->ds), before);
	}
	assert_int_equal(r.outcome, ANON_DEID_QUARANTINED);
	assert_non_null(strstr(r.reason, "BurnedInAnnotation is YES"));
	assert_string_equal(val(&d->ds, T(0010, 0010)), "DUPONT^Jean");
	assert_string_equal(val(&d->ds, T(0010, 0020)), "12345678");
	assert_string_equal(val(&d->ds, T(0008, 0020)), "20240315");
	anon_dicom_destroy(d);

	/* US without BurnedInAnnotation: quarantined; with NO: written */
	build_ct(&d);
	anon_ds_remove(&d->ds, T(0028, 0301));
	set(&d->ds, T(0008, 0060), "CS", "US");
	set(&d->ds, T(0008, 0016), "UI", US_CLASS);
	add_pixels(&d->ds, 4, 4, 8);
	RF_ASSERT_OK(run(0, d, &r));
	assert_int_equal(r.outcome, ANON_DEID_QUARANTINED);
	assert_non_null(strstr(r.reason, "'US'"));
	set(&d->ds, T(0028, 0301), "CS", "NO");
	RF_ASSERT_OK(run(0, d, &r));
	assert_int_equal(r.outcome, ANON_DEID_WRITTEN);
	anon_dicom_destroy(d);

	/* secondary capture by SOP class, whatever the modality */
	build_ct(&d);
	anon_ds_remove(&d->ds, T(0028, 0301));
	set(&d->ds, T(0008, 0016), "UI", SC_CLASS);
	add_pixels(&d->ds, 4, 4, 8);
	RF_ASSERT_OK(run(0, d, &r));
	assert_int_equal(r.outcome, ANON_DEID_QUARANTINED);
	assert_non_null(strstr(r.reason, "Secondary Capture"));
	anon_dicom_destroy(d);

	/* a CT without pixel data and without the attribute is fine */
	build_ct(&d);
	anon_ds_remove(&d->ds, T(0028, 0301));
	RF_ASSERT_OK(run(0, d, &r));
	assert_int_equal(r.outcome, ANON_DEID_WRITTEN);
	anon_dicom_destroy(d);

	/* a US of a configured device: the region is zeroed */
	cfg.options = 0;
	cfg.pseudo = keys;
	cfg.masks = &mask;
	cfg.n_masks = 1;
	build_ct(&d);
	anon_ds_remove(&d->ds, T(0028, 0301));
	set(&d->ds, T(0008, 0060), "CS", "US");
	set(&d->ds, T(0008, 0070), "LO", "acme ");
	add_pixels(&d->ds, 4, 6, 16);
	RF_ASSERT_OK(anon_deid_apply(&cfg, d, &r, NULL));
	assert_int_equal(r.outcome, ANON_DEID_WRITTEN);
	assert_int_equal(r.masked, 1);
	px = anon_ds_find(&d->ds, T(7FE0, 0010));
	for (y = 0; y < 4; y++)
		for (x = 0; x < 6; x++) {
			size_t o = (y * 6 + x) * 2;
			int in = x >= 2 && x < 5 && y >= 1 && y < 3;

			if (in) {
				assert_int_equal(px->val[o], 0);
				assert_int_equal(px->val[o + 1], 0);
			} else {
				assert_int_equal(px->val[o], o % 251 + 1);
			}
		}
	{
		struct anon_elem *sq = anon_ds_find(&d->ds, T(0012, 0064));

		assert_string_equal(val(&sq->items[1], T(0008, 0100)),
				    "113101");
	}
	anon_dicom_destroy(d);

	/* the same with encapsulated pixel data: quarantined */
	build_ct(&d);
	anon_ds_remove(&d->ds, T(0028, 0301));
	set(&d->ds, T(0008, 0060), "CS", "US");
	set(&d->ds, T(0008, 0070), "LO", "ACME");
	add_pixels(&d->ds, 4, 6, 8);
	d->encapsulated = 1;
	RF_ASSERT_OK(anon_deid_apply(&cfg, d, &r, NULL));
	assert_int_equal(r.outcome, ANON_DEID_QUARANTINED);
	assert_string_equal(r.reason, "masking needs native pixels");
	anon_dicom_destroy(d);

	/* another manufacturer: no mask applies */
	build_ct(&d);
	anon_ds_remove(&d->ds, T(0028, 0301));
	set(&d->ds, T(0008, 0060), "CS", "US");
	add_pixels(&d->ds, 4, 6, 8);
	RF_ASSERT_OK(anon_deid_apply(&cfg, d, &r, NULL));
	assert_int_equal(r.outcome, ANON_DEID_QUARANTINED);
	anon_dicom_destroy(d);

	/* a DICOMDIR: its file paths may hold identifiers */
	build_ct(&d);
	add_item(&d->ds, T(0004, 1220));
	RF_ASSERT_OK(run(0, d, &r));
	assert_int_equal(r.outcome, ANON_DEID_QUARANTINED);
	assert_non_null(strstr(r.reason, "DICOMDIR"));
	anon_dicom_destroy(d);

	/* an encapsulated document */
	build_ct(&d);
	RF_ASSERT_OK(anon_ds_set_bytes(&d->ds, T(0042, 0011), VR("OB"),
				       "%PDF", 4, NULL));
	RF_ASSERT_OK(run(0, d, &r));
	assert_int_equal(r.outcome, ANON_DEID_QUARANTINED);
	anon_deid_result_release(&r);
	anon_dicom_destroy(d);
}

/* ---- dates and ages ----------------------------------------------------- */

static void test_dates(void **state)
{
	struct anon_dicom *d;
	struct anon_deid_result r;
	struct anon_ds *ds;
	int days = shift_of("12345678");
	char want[128], dt[64];
	int y, m, dd;

	(void)state;
	build_ct(&d);
	ds = &d->ds;
	set(ds, T(0008, 0020), "DA", "20240315\\20240229 ");
	set(ds, T(0008, 0021), "DA", "2024.03.15");
	set(ds, T(0008, 0022), "DA", "2024XX15");
	set(ds, T(0008, 002A), "DT", "20240315101500.123+0100");
	set(ds, T(0008, 0031), "TM", "25");
	set(ds, T(0008, 0032), "TM", "10:15:00");
	anon_deid_result_init(&r);
	RF_ASSERT_OK(run(0, d, &r));
	snprintf(want, sizeof want, "%s\\%s", da_shift("20240315", days),
		 da_shift("20240229", days));
	assert_string_equal(val(ds, T(0008, 0020)), want);
	assert_string_equal(val(ds, T(0008, 0021)), da_shift("20240315", days));
	assert_string_equal(val(ds, T(0008, 0022)), "19000101");
	RF_ASSERT_OK(anon_date_add_days(2024, 3, 15, days, &y, &m, &dd, NULL));
	snprintf(dt, sizeof dt, "%04d%02d%02d101500.123+0100", y, m, dd);
	assert_string_equal(val(ds, T(0008, 002A)), dt);
	assert_string_equal(val(ds, T(0008, 0031)), "000000");
	assert_string_equal(val(ds, T(0008, 0032)), "10:15:00");
	anon_deid_result_release(&r);
	anon_dicom_destroy(d);
}

static void test_ages(void **state)
{
	static const char *const cases[][2] = {
		{"095Y", "090Y"}, {"089Y", "089Y"}, {"100Y", "090Y"},
		{"006M", "006M"}, {"090Y", "090Y"}, {"95Y", NULL},
	};
	struct anon_dicom *d;
	struct anon_deid_result r;
	size_t i;

	(void)state;
	anon_deid_result_init(&r);
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		build_ct(&d);
		set(&d->ds, T(0010, 1010), "AS", cases[i][0]);
		RF_ASSERT_OK(run(0, d, &r));
		if (cases[i][1])
			assert_string_equal(val(&d->ds, T(0010, 1010)),
					    cases[i][1]);
		else
			assert_null(val(&d->ds, T(0010, 1010)));
		anon_dicom_destroy(d);
	}
	anon_deid_result_release(&r);
}

/* ---- report scrubbing with many seeds ---------------------------------- */

static void test_scrub_many_names(void **state)
{
	struct anon_dicom *d;
	struct anon_deid_result r;
	struct rf_buf out = RF_BUF_INIT(1 << 16);
	char name[32];
	int i;

	(void)state;
	build_ct(&d);
	for (i = 0; i < 40; i++) {
		struct anon_ds *it = add_item(&d->ds, T(0008, 1052));

		snprintf(name, sizeof name, "ZORGLUB%c%c^Jean", 'A' + i / 26,
			 'A' + i % 26);
		set(it, T(0008, 1050), "PN", name);
	}
	anon_deid_result_init(&r);
	RF_ASSERT_OK(run(0, d, &r));
	assert_true(r.n_names > 40);
	RF_ASSERT_OK(anon_deid_scrub_text(&r, "vu par ZORGLUBBN et ZORGLUBAA "
					  "pour DUPONT", 40, &out, NULL,
					  NULL));
	assert_null(strstr(rf_buf_str(&out), "ZORGLUB"));
	assert_null(strstr(rf_buf_str(&out), "DUPONT"));
	/* the study's report: identifiers of the header, the same shift */
	{
		const char *rep = "Examen du 15/03/2024, dossier ACC123456.";
		int y, m, dd;

		rf_buf_reset(&out);
		RF_ASSERT_OK(anon_deid_scrub_text(&r, rep, strlen(rep), &out,
						  NULL, NULL));
		RF_ASSERT_OK(anon_date_add_days(2024, 3, 15, r.day_shift, &y,
						&m, &dd, NULL));
		snprintf(name, sizeof name, "%02d/%02d/%04d", dd, m, y);
		assert_non_null(strstr(rf_buf_str(&out), name));
		assert_null(strstr(rf_buf_str(&out), "ACC123456"));
		assert_null(strstr(rf_buf_str(&out), "15/03/2024"));
	}
	rf_buf_release(&out);
	anon_deid_result_release(&r);
	anon_dicom_destroy(d);
}

/* ---- character sets and long values ------------------------------------ */

static void test_charset_and_long_text(void **state)
{
	struct anon_dicom *d;
	struct anon_deid_result r;
	struct anon_ds *ds;
	const char *v;
	char *big;
	size_t i, n = ANON_DEID_TEXT_MAX + 16;
	int found = 0;

	(void)state;
	build_ct(&d);
	ds = &d->ds;
	set(ds, T(0008, 0005), "CS", "ISO_IR 100");
	set(ds, T(0010, 0010), "PN", "DUPONT^H\xe9l\xe8ne");
	set(ds, T(0008, 1030), "LO", "Examen de H\xe9l\xe8ne DUPONT");
	big = malloc(n + 1);
	assert_non_null(big);
	memset(big, 'a', n);
	big[n] = 0;
	set(ds, T(0040, A160), "UT", big);
	free(big);
	anon_deid_result_init(&r);
	RF_ASSERT_OK(run(0, d, &r));
	for (i = 0; i < r.n_names; i++)
		found |= strcmp(r.names[i], "DUPONT^H\xc3\xa9l\xc3\xa8ne") == 0;
	assert_true(found);
	v = val(ds, T(0008, 1030));
	assert_non_null(v);
	assert_non_null(strstr(v, "Examen de"));
	assert_null(strstr(v, "DUPONT"));
	assert_null(strstr(v, "H\xe9l\xe8ne"));
	/* too long to clean: removed */
	assert_null(val(ds, T(0040, A160)));
	anon_deid_result_release(&r);
	anon_dicom_destroy(d);
}

/* ---- threads: one configuration, distinct files ------------------------ */

struct thread_arg {
	int failures;
	char uid[ANON_UID_SIZE];
};

static void *thread_main(void *p)
{
	struct thread_arg *a = p;
	struct anon_deid_config cfg = {0};
	int k;

	cfg.pseudo = keys;
	for (k = 0; k < 50; k++) {
		struct anon_dicom *d = NULL;
		struct anon_deid_result r;
		const struct anon_elem *el;

		anon_deid_result_init(&r);
		if (anon_dicom_create(&d, NULL) ||
		    anon_ds_set_str(&d->ds, T(0020, 000D), VR("UI"), "1.2.3.4",
				    NULL) ||
		    anon_ds_set_str(&d->ds, T(0010, 0010), VR("PN"),
				    "DUPONT^Jean", NULL) ||
		    anon_deid_apply(&cfg, d, &r, NULL)) {
			a->failures++;
		} else {
			el = anon_ds_find(&d->ds, T(0020, 000D));
			if (!el || el->len != strlen(a->uid) ||
			    memcmp(el->val, a->uid, el->len) != 0)
				a->failures++;
		}
		anon_deid_result_release(&r);
		anon_dicom_destroy(d);
	}
	return NULL;
}

static void test_threads(void **state)
{
	pthread_t th[4];
	struct thread_arg args[4];
	int i;

	(void)state;
	for (i = 0; i < 4; i++) {
		memset(&args[i], 0, sizeof args[i]);
		snprintf(args[i].uid, sizeof args[i].uid, "%s",
			 pseudo_uid("1.2.3.4"));
		assert_int_equal(pthread_create(&th[i], NULL, thread_main,
						&args[i]), 0);
	}
	for (i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(args[i].failures, 0);
	}
}

/* ---- failing allocations ----------------------------------------------- */

static void test_oom(void **state)
{
	struct anon_dicom *d = NULL;
	struct anon_deid_result r;
	struct anon_deid_config cfg = {0};
	struct anon_elem *sq;
	struct anon_ds *it;
	enum rf_rc rc;

	(void)state;
	cfg.pseudo = keys;
	RF_TEST_OOM_LOOP(
		rc,
		{
			anon_deid_result_init(&r);
			rc = anon_dicom_create(&d, NULL);
			if (rc == RF_OK)
				rc = anon_ds_set_str(&d->ds, T(0010, 0010),
						     VR("PN"), "DUPONT^Jean",
						     NULL);
			if (rc == RF_OK)
				rc = anon_ds_set_str(&d->ds, T(0010, 0020),
						     VR("LO"), "123", NULL);
			if (rc == RF_OK)
				rc = anon_ds_set_str(&d->ds, T(0008, 1030),
						     VR("LO"), "de DUPONT",
						     NULL);
			if (rc == RF_OK)
				rc = anon_ds_set_str(&d->ds, T(0020, 000D),
						     VR("UI"), "1.2.3", NULL);
			if (rc == RF_OK)
				rc = anon_ds_set_str(&d->ds, T(0009, 0010),
						     VR("LO"), "ACME", NULL);
			if (rc == RF_OK)
				rc = anon_ds_set_str(&d->ds, T(0009, 1001),
						     VR("LO"), "x", NULL);
			if (rc == RF_OK)
				rc = anon_ds_add_seq(&d->ds, T(0008, 1115),
						     &sq, NULL);
			if (rc == RF_OK)
				rc = anon_elem_insert_item(sq, 0, &d->ds, &it,
							   NULL);
			if (rc == RF_OK)
				rc = anon_ds_set_str(it, T(0020, 000E),
						     VR("UI"),
						     "1.2.3.5\\1.2.3.6", NULL);
			if (rc == RF_OK)
				rc = anon_ds_set_str(it, T(0040, A160),
						     VR("UT"), "DUPONT", NULL);
			if (rc == RF_OK)
				rc = anon_deid_apply(&cfg, d, &r, NULL);
			if (rc != RF_OK) {
				anon_deid_result_release(&r);
				anon_dicom_destroy(d);
				d = NULL;
			}
		},
		{
			anon_deid_result_release(&r);
			anon_dicom_destroy(d);
		});
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_full_dates),
		cmocka_unit_test(test_no_date_option),
		cmocka_unit_test(test_contradictory_options),
		cmocka_unit_test(test_precedence),
		cmocka_unit_test(test_retain_options),
		cmocka_unit_test(test_iod_validity),
		cmocka_unit_test(test_nested),
		cmocka_unit_test(test_referential_integrity),
		cmocka_unit_test(test_private),
		cmocka_unit_test(test_overlays),
		cmocka_unit_test(test_free_text),
		cmocka_unit_test(test_structured),
		cmocka_unit_test(test_burned_in),
		cmocka_unit_test(test_dates),
		cmocka_unit_test(test_ages),
		cmocka_unit_test(test_scrub_many_names),
		cmocka_unit_test(test_charset_and_long_text),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_oom),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
