/*
 * anon_deid.c - PS3.15 Annex E Basic Profile with options, applied to a
 * struct anon_dicom in memory. The rules are in anon_deid.h and in
 * docs/deidentification.md ("The profile engine").
 */
#include "anon_deid.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "anon_dicom_int.h"
#include "rf_alloc.h"

#define VR_AS ANON_VR('A', 'S')
#define VR_CS ANON_VR('C', 'S')
#define VR_DA ANON_VR('D', 'A')
#define VR_DS ANON_VR('D', 'S')
#define VR_DT ANON_VR('D', 'T')
#define VR_IS ANON_VR('I', 'S')
#define VR_LO ANON_VR('L', 'O')
#define VR_LT ANON_VR('L', 'T')
#define VR_PN ANON_VR('P', 'N')
#define VR_SH ANON_VR('S', 'H')
#define VR_SQ ANON_VR('S', 'Q')
#define VR_ST ANON_VR('S', 'T')
#define VR_TM ANON_VR('T', 'M')
#define VR_UC ANON_VR('U', 'C')
#define VR_UI ANON_VR('U', 'I')
#define VR_UN ANON_VR('U', 'N')
#define VR_UR ANON_VR('U', 'R')
#define VR_UT ANON_VR('U', 'T')
#define VR_AE ANON_VR('A', 'E')

#define TAG_PATIENT_NAME 0x00100010u
#define TAG_PATIENT_ID 0x00100020u
#define TAG_OTHER_PATIENT_IDS 0x00101000u
#define TAG_ACCESSION 0x00080050u
#define TAG_STUDY_ID 0x00200010u
#define TAG_SOP_CLASS 0x00080016u
#define TAG_MODALITY 0x00080060u
#define TAG_MANUFACTURER 0x00080070u
#define TAG_MODEL 0x00081090u
#define TAG_BURNED_IN 0x00280301u
#define TAG_LONGITUDINAL 0x00280303u
#define TAG_ENCAP_DOC 0x00420011u
#define TAG_DIR_RECORDS 0x00041220u
#define TAG_PIXEL_DATA 0x7fe00010u
#define TAG_ID_REMOVED 0x00120062u
#define TAG_DEID_METHOD 0x00120063u
#define TAG_DEID_CODES 0x00120064u
#define TAG_CODE_VALUE 0x00080100u
#define TAG_CODING_SCHEME 0x00080102u
#define TAG_CODE_MEANING 0x00080104u
#define TAG_MEDIA_SOP_INSTANCE 0x00020003u

#define DUMMY_TEXT "ANONYMIZED"
#define DUMMY_DA "19000101"
#define DUMMY_DT "19000101000000"
#define DUMMY_TM "000000"
#define DATE_VALUE_MAX 1024

/* How text inside a sequence is treated: as anywhere else, replaced by
 * dummies (a sequence whose action is D), or cleaned whether listed or not
 * (a sequence whose action is C: Clean Structured Content). */
enum text_mode { TEXT_NORMAL = 0, TEXT_DUMMY, TEXT_CLEAN };

/* What happens to dates: shifted (Modified Dates), kept (Full Dates), or
 * the basic column (neither option). */
enum date_mode { DATES_SHIFT, DATES_KEEP, DATES_BASIC };

/* A burned-in text mask planned in the first pass. */
struct mask_plan {
	int active;
	uint32_t rows, cols, spp, bps, planar, frames;
	uint32_t x0, y0, x1, y1; /* clipped, x1/y1 exclusive */
};

struct ctx {
	const struct anon_deid_config *cfg;
	unsigned opt;
	enum date_mode dates;
	struct anon_deid_result *r;
	struct rf_buf text;  /* decoded value */
	struct rf_buf clean; /* scrubbed value */
	struct rf_buf scratch;
	int too_many_seeds;
	int big_endian; /* dataset read as Explicit VR Big Endian */
	struct mask_plan mask;
};

/* ---- attribute types for the combined codes ---------------------------- */

/* Type 2 (required, may be empty) in the modules common to the composite
 * IODs (Patient, General Study, General Series, General Image, General
 * Equipment, SR Document General, Presentation State Identification). */
static const uint32_t type2_tags[] = {
	0x00080020, /* StudyDate */
	0x00080023, /* ContentDate (2C, General Image) */
	0x00080030, /* StudyTime */
	0x00080033, /* ContentTime (2C, General Image) */
	0x00080050, /* AccessionNumber */
	0x00080090, /* ReferringPhysicianName */
	0x00100010, /* PatientName */
	0x00100020, /* PatientID */
	0x00100030, /* PatientBirthDate */
	0x00100040, /* PatientSex */
	0x00200010, /* StudyID */
	0x00700084, /* ContentCreatorName */
	/* type 2 in the modules of particular IODs (type 3 elsewhere, where
	 * an empty value is valid too) */
	0x00081070, /* OperatorsName (RT Series) */
	0x00081111, /* ReferencedPerformedProcedureStepSequence (SR
		     * Document Series, Key Object Document Series) */
	0x00400555, /* AcquisitionContextSequence (Acquisition Context) */
	0x300a0006, /* RTPlanDate (RT General Plan) */
	0x300a0007, /* RTPlanTime (RT General Plan) */
	0x300a00b2, /* TreatmentMachineName (RT Beams, RT Ion Beams) */
	0x300e0008, /* ReviewerName (Approval, 2C) */
};

/* Type 1 (required, not empty) where they appear. */
static const uint32_t type1_tags[] = {
	0x00181000, /* DeviceSerialNumber (Enhanced General Equipment) */
	0x0040a032, /* ObservationDateTime (SR content item, 1C) */
	0x0040a075, /* VerifyingObserverName */
	0x0040a123, /* PersonName (PNAME content item) */
};

static int in_list(const uint32_t *l, size_t n, uint32_t tag)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (l[i] == tag)
			return 1;
	return 0;
}

#define IS_TYPE2(t)                                                           \
	in_list(type2_tags, sizeof type2_tags / sizeof type2_tags[0], (t))
#define IS_TYPE1(t)                                                           \
	in_list(type1_tags, sizeof type1_tags / sizeof type1_tags[0], (t))

/* ---- action resolution -------------------------------------------------- */

enum anon_action anon_deid_action(uint32_t tag, unsigned options)
{
	const struct anon_profile_row *row = anon_profile_find(tag);
	int keep = 0, clean = 0;
	unsigned b;

	if (!row)
		return ANON_ACT_NONE;
	for (b = 0; b < ANON_OPT_COUNT_; b++) {
		if (!(options & (1u << b)))
			continue;
		if (row->opt[b] == ANON_ACT_K)
			keep = 1;
		else if (row->opt[b] == ANON_ACT_C)
			clean = 1;
	}
	if (keep)
		return ANON_ACT_K;
	if (clean)
		return ANON_ACT_C;
	return row->basic;
}

/* Combined codes become X, Z, D or U (see the documentation). */
static enum anon_action resolve_combined(uint32_t tag, uint16_t vr,
					 enum anon_action a)
{
	switch (a) {
	case ANON_ACT_XZ:
		return IS_TYPE2(tag) ? ANON_ACT_Z : ANON_ACT_X;
	case ANON_ACT_XD:
		return IS_TYPE1(tag) || IS_TYPE2(tag) ? ANON_ACT_D : ANON_ACT_X;
	case ANON_ACT_ZD:
		return IS_TYPE1(tag) ? ANON_ACT_D : ANON_ACT_Z;
	case ANON_ACT_XZD:
		if (IS_TYPE1(tag))
			return ANON_ACT_D;
		return IS_TYPE2(tag) ? ANON_ACT_Z : ANON_ACT_X;
	case ANON_ACT_XZU:
		if (vr == VR_SQ || vr == VR_UI)
			return ANON_ACT_U;
		return IS_TYPE2(tag) ? ANON_ACT_Z : ANON_ACT_X;
	default:
		return a;
	}
}

/* ---- small helpers ------------------------------------------------------ */

static size_t trim_len(const uint8_t *p, size_t n)
{
	while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\0'))
		n--;
	return n;
}

/* Value of a short CS/LO element of ds, trimmed, uppercased into buf. */
static const char *short_value(const struct anon_ds *ds, uint32_t tag,
			       char *buf, size_t size)
{
	const struct anon_elem *el = anon_ds_find(ds, tag);
	size_t n, i, s = 0;

	buf[0] = 0;
	if (!el || el->vr == VR_SQ || (el->flags & ANON_ELEM_ENCAP))
		return buf;
	n = trim_len(el->val, el->len);
	while (s < n && el->val[s] == ' ')
		s++;
	if (n - s >= size)
		n = s + size - 1;
	for (i = s; i < n; i++) {
		char c = (char)el->val[i];

		buf[i - s] = (c >= 'a' && c <= 'z') ? (char)(c - 32) : c;
	}
	buf[n - s] = 0;
	return buf;
}

static int str_ieq(const char *a, const char *b)
{
	for (; *a && *b; a++, b++) {
		char x = *a, y = *b;

		if (x >= 'a' && x <= 'z')
			x = (char)(x - 32);
		if (y >= 'a' && y <= 'z')
			y = (char)(y - 32);
		if (x != y)
			return 0;
	}
	return *a == *b;
}

/* UIDs that identify nothing: the standard's own (1.2.840.10008 root: SOP
 * classes, transfer syntaxes, the DCM coding scheme...), SOP classes of the
 * dictionary, and the coding schemes of PS3.16 Table 8-1 used in codes. */
static const char *const coding_scheme_uids[] = {
	"2.16.840.1.113883.6.1",   /* LOINC */
	"2.16.840.1.113883.6.3",   /* ICD-10 */
	"2.16.840.1.113883.6.8",   /* UCUM */
	"2.16.840.1.113883.6.96",  /* SNOMED CT */
	"2.16.840.1.113883.6.103", /* ICD-9-CM */
	"2.16.840.1.113883.6.119", /* FMA */
	"2.16.840.1.113883.6.256", /* RadLex */
	"2.16.840.1.113883.6.5",   /* SNOMED (SRT) */
	"2.16.840.1.113883.6.4",   /* ICD-10-PCS */
};

static int uid_well_known(const char *s, size_t n)
{
	size_t i;

	if (n > 14 && memcmp(s, "1.2.840.10008.", 14) == 0)
		return 1;
	if (anon_sop_find_n(s, n))
		return 1;
	for (i = 0; i < sizeof coding_scheme_uids / sizeof(char *); i++)
		if (strlen(coding_scheme_uids[i]) == n &&
		    memcmp(coding_scheme_uids[i], s, n) == 0)
			return 1;
	return 0;
}

static int is_text_vr(uint16_t vr)
{
	return vr == VR_LO || vr == VR_LT || vr == VR_SH || vr == VR_ST ||
	       vr == VR_UT || vr == VR_UC || vr == VR_PN;
}

/* The VR to handle a public element with: its own, or for an explicit UN
 * (a value written by software that did not know the attribute) the one
 * VR of the data dictionary, so that a UN PatientName is treated as a
 * name and a UN SOPClassUID is kept as a UID instead of being dropped as
 * unknown content. Left UN: unknown or private tags, dictionary entries
 * with a choice of VRs ("US or SS", "OB or OW") or SQ (the reader already
 * parses a UN sequence it can), binary values whose length is not a
 * multiple of their unit, and binary values of a big-endian dataset (the
 * reader did not swap them). */
static uint16_t handling_vr(const struct ctx *c, const struct anon_elem *el)
{
	const struct anon_dict_entry *d;
	unsigned unit;

	if (el->vr != VR_UN || (ANON_TAG_GROUP(el->tag) & 1) ||
	    ANON_TAG_ELEM(el->tag) == 0 || el->tag == TAG_PIXEL_DATA ||
	    (el->flags & ANON_ELEM_ENCAP))
		return el->vr;
	d = anon_dict_find(el->tag);
	if (!d || d->vr == ANON_VR_NONE || d->vr_alt != ANON_VR_NONE ||
	    d->vr == VR_SQ || d->vr == VR_UN)
		return el->vr;
	unit = anon__vr_swap_unit(d->vr);
	if (unit > 1 && (c->big_endian || el->len % unit))
		return el->vr;
	if (unit <= 1 && !anon__vr_known(d->vr))
		return el->vr;
	return d->vr;
}

/* Longest value, in bytes, kept after cleaning (0: no limit). */
static size_t text_vr_max(uint16_t vr)
{
	switch (vr) {
	case VR_SH:
		return 16;
	case VR_LO:
		return 64;
	case VR_ST:
		return 1024;
	case VR_LT:
		return 10240;
	default:
		return 0;
	}
}

/* ---- seeds -------------------------------------------------------------- */

static enum rf_rc seed_add(struct ctx *c, char ***arr, size_t *n, size_t max,
			   const char *s, size_t len, struct rf_err *e)
{
	size_t i;
	char *copy;

	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '^'))
		len--;
	while (len > 0 && *s == ' ') {
		s++;
		len--;
	}
	if (len == 0)
		return RF_OK;
	for (i = 0; i < *n; i++)
		if (strlen((*arr)[i]) == len && memcmp((*arr)[i], s, len) == 0)
			return RF_OK;
	if (*n == max) {
		c->too_many_seeds = 1;
		return RF_OK;
	}
	if (!*arr) {
		*arr = rf_calloc(max, sizeof **arr);
		if (!*arr)
			return rf_err_set(e, RF_ENOMEM, "cannot keep seeds: "
					  "out of memory");
	}
	copy = rf_strndup(s, len);
	if (!copy)
		return rf_err_set(e, RF_ENOMEM, "cannot keep seeds: out of "
				  "memory");
	(*arr)[(*n)++] = copy;
	return RF_OK;
}

static int is_id_tag(uint32_t tag)
{
	switch (tag) {
	case TAG_PATIENT_ID:
	case TAG_OTHER_PATIENT_IDS:
	case TAG_ACCESSION:
	case TAG_STUDY_ID:
	case 0x00101090: /* MedicalRecordLocator */
	case 0x00380010: /* AdmissionID */
	case 0x00400009: /* ScheduledProcedureStepID */
	case 0x00400253: /* PerformedProcedureStepID */
	case 0x00401001: /* RequestedProcedureID */
	case 0x00402016: /* PlacerOrderNumberImagingServiceRequest */
	case 0x00402017: /* FillerOrderNumberImagingServiceRequest */
		return 1;
	default:
		return 0;
	}
}

/* Names of places and devices that identify the site as much as an ID
 * identifies the patient: they seed the text scrubber (as identifiers,
 * removed wherever they appear whole) unless the options retain them. */
static int is_place_tag(uint32_t tag, unsigned opt)
{
	switch (tag) {
	case 0x00080080: /* InstitutionName */
	case 0x00081040: /* InstitutionalDepartmentName */
		return !(opt & ANON_OPT_RETAIN_INSTITUTION_ID);
	case 0x00081010: /* StationName */
	case 0x00181000: /* DeviceSerialNumber */
		return !(opt & ANON_OPT_RETAIN_DEVICE_ID);
	default:
		return 0;
	}
}

/* First pass: every PN value (each value and each component group), every
 * identifier and every identifying place or device name, decoded to UTF-8.
 * Changes nothing in ds. */
static enum rf_rc collect(struct ctx *c, const struct anon_ds *ds,
			  unsigned depth, struct rf_err *e)
{
	struct anon_deid_result *r = c->r;
	struct rf_err le = {0};
	size_t i, j;
	enum rf_rc rc;

	for (i = 0; i < ds->n; i++) {
		/* a copy: the first pass leaves the dataset as it is */
		struct anon_elem el_vr = ds->elems[i];
		const struct anon_elem *el = &el_vr;
		int pn, id;
		const char *s, *p, *end;

		el_vr.vr = handling_vr(c, el);
		pn = el->vr == VR_PN;
		id = is_id_tag(el->tag) || is_place_tag(el->tag, c->opt);
		if (el->vr == VR_SQ) {
			if (depth >= ANON_PATH_MAX)
				continue;
			for (j = 0; j < el->nitems; j++) {
				rc = collect(c, &el->items[j], depth + 1, e);
				if (rc)
					return rc;
			}
			continue;
		}
		if ((!pn && !id) || (el->flags & ANON_ELEM_ENCAP) ||
		    el->len == 0)
			continue;
		rf_buf_reset(&c->text);
		rc = anon_ds_text(ds, el, &c->text, &le);
		if (rc == RF_ETOOBIG)
			continue; /* such a value is removed, never cleaned */
		if (rc)
			return rf_err_set(e, rc, "%s", le.msg);
		s = rf_buf_str(&c->text);
		end = s + c->text.len;
		/* values split on backslashes, PN groups on '=' */
		for (p = s; p <= end; p++) {
			size_t len;
			const char *q = p;

			while (q < end && *q != '\\' && !(pn && *q == '='))
				q++;
			len = (size_t)(q - p);
			if (pn)
				rc = seed_add(c, &r->names, &r->n_names,
					      ANON_DEID_MAX_NAMES, p, len, e);
			else if (len <= ANON_REPORT_ID_MAX)
				rc = seed_add(c, &r->ids, &r->n_ids,
					      ANON_DEID_MAX_IDS, p, len, e);
			if (rc)
				return rc;
			p = q;
		}
	}
	return RF_OK;
}

/* ---- quarantine rules (first pass) ------------------------------------- */

/* Modalities whose images often carry burned-in text. */
static const char *const risky_modalities[] = {
	"US", "XC", "OT", "ES", "GM", "SM", "SC", "DOC",
};

/* IOD names (anon_sop_find) prone to burned-in text. */
static const char *const risky_iods[] = {
	"Secondary Capture", "Ultrasound", "Video", "VL ",
};

/* Why the image may carry burned-in text, or NULL. */
static const char *burned_in_risk(const struct anon_ds *ds, char *why,
				  size_t size)
{
	char bia[20], mod[20];
	const struct anon_sop_class *sc;
	size_t i;

	if (!anon_ds_find(ds, TAG_PIXEL_DATA))
		return NULL;
	short_value(ds, TAG_BURNED_IN, bia, sizeof bia);
	if (strcmp(bia, "YES") == 0) {
		snprintf(why, size, "BurnedInAnnotation is YES");
		return why;
	}
	if (strcmp(bia, "NO") == 0)
		return NULL;
	short_value(ds, TAG_MODALITY, mod, sizeof mod);
	for (i = 0; i < sizeof risky_modalities / sizeof(char *); i++)
		if (strcmp(mod, risky_modalities[i]) == 0) {
			snprintf(why, size, "modality '%s' without "
				 "BurnedInAnnotation NO", mod);
			return why;
		}
	{
		const struct anon_elem *el = anon_ds_find(ds, TAG_SOP_CLASS);

		if (!el || el->vr == VR_SQ || (el->flags & ANON_ELEM_ENCAP))
			return NULL;
		sc = anon_sop_find_n((const char *)el->val, el->len);
	}
	if (!sc)
		return NULL;
	for (i = 0; i < sizeof risky_iods / sizeof(char *); i++)
		if (strstr(sc->iod, risky_iods[i])) {
			snprintf(why, size, "'%.40s' image without "
				 "BurnedInAnnotation NO", sc->iod);
			return why;
		}
	return NULL;
}

static const struct anon_deid_mask *mask_find(const struct ctx *c,
					      const struct anon_ds *ds)
{
	char mod[20], man[72], model[72];
	size_t i;

	short_value(ds, TAG_MODALITY, mod, sizeof mod);
	short_value(ds, TAG_MANUFACTURER, man, sizeof man);
	short_value(ds, TAG_MODEL, model, sizeof model);
	for (i = 0; i < c->cfg->n_masks; i++) {
		const struct anon_deid_mask *m = &c->cfg->masks[i];

		if (!m->modality || !str_ieq(m->modality, mod))
			continue;
		if (m->manufacturer && !str_ieq(m->manufacturer, man))
			continue;
		if (m->model && !str_ieq(m->model, model))
			continue;
		return m;
	}
	return NULL;
}

static int get_us(const struct anon_ds *ds, uint32_t tag, uint32_t *v)
{
	const struct anon_elem *el = anon_ds_find(ds, tag);

	if (!el || el->vr == VR_SQ || (el->flags & ANON_ELEM_ENCAP) ||
	    el->len < 2)
		return -1;
	*v = (uint32_t)el->val[0] | ((uint32_t)el->val[1] << 8);
	return 0;
}

/* Plans the mask m on the native pixel data of ds; on failure writes the
 * quarantine reason to why and returns -1. */
static int mask_plan(struct ctx *c, const struct anon_dicom *d,
		     const struct anon_deid_mask *m, char *why, size_t size)
{
	const struct anon_ds *ds = &d->ds;
	const struct anon_elem *px = anon_ds_find(ds, TAG_PIXEL_DATA);
	struct mask_plan *p = &c->mask;
	uint32_t bits;
	char buf[24], photo[24];
	unsigned long long frame, total;

	if (!px || (px->flags & ANON_ELEM_ENCAP) || d->encapsulated) {
		snprintf(why, size, "masking needs native pixels");
		return -1;
	}
	p->spp = 1;
	p->planar = 0;
	if (get_us(ds, 0x00280010, &p->rows) || get_us(ds, 0x00280011,
						       &p->cols) ||
	    get_us(ds, 0x00280100, &bits)) {
		snprintf(why, size, "masking needs Rows, Columns and "
			 "BitsAllocated");
		return -1;
	}
	(void)get_us(ds, 0x00280002, &p->spp);
	(void)get_us(ds, 0x00280006, &p->planar);
	short_value(ds, 0x00280004, photo, sizeof photo);
	if (strncmp(photo, "YBR_", 4) == 0 && strcmp(photo, "YBR_FULL") != 0) {
		snprintf(why, size, "masking does not support '%s' pixels",
			 photo);
		return -1;
	}
	if (bits != 8 && bits != 16 && bits != 32) {
		snprintf(why, size, "masking needs 8, 16 or 32 bits "
			 "allocated, not %u", (unsigned)bits);
		return -1;
	}
	p->bps = bits / 8;
	p->frames = 1;
	short_value(ds, 0x00280008, buf, sizeof buf);
	if (buf[0]) {
		char *endp;
		long f;

		errno = 0;
		f = strtol(buf, &endp, 10);
		if (errno || *endp || f < 1 || f > 1000000) {
			snprintf(why, size, "masking needs a valid "
				 "NumberOfFrames");
			return -1;
		}
		p->frames = (uint32_t)f;
	}
	if (p->spp < 1 || p->spp > 4 || p->rows == 0 || p->cols == 0) {
		snprintf(why, size, "masking needs a valid image geometry");
		return -1;
	}
	frame = (unsigned long long)p->rows * p->cols * p->spp * p->bps;
	total = frame * p->frames;
	if (total > px->len) {
		snprintf(why, size, "pixel data shorter than its geometry");
		return -1;
	}
	p->x0 = m->x < p->cols ? m->x : p->cols;
	p->y0 = m->y < p->rows ? m->y : p->rows;
	p->x1 = (m->w > p->cols - p->x0) ? p->cols : p->x0 + m->w;
	p->y1 = (m->h > p->rows - p->y0) ? p->rows : p->y0 + m->h;
	p->active = 1;
	return 0;
}

/* Zeroes the planned region in every frame (a private copy of the pixel
 * data replaces the borrowed one). */
static enum rf_rc mask_apply(struct ctx *c, struct anon_ds *ds,
			     struct rf_err *e)
{
	const struct mask_plan *p = &c->mask;
	struct anon_elem *px = anon_ds_find(ds, TAG_PIXEL_DATA);
	size_t frame, plane, row_bytes, f, s, y;
	uint8_t *buf;
	enum rf_rc rc;

	if (!px)
		return RF_OK;
	if (!(px->flags & ANON_ELEM_OWNED)) {
		rc = anon_ds_set_bytes(ds, TAG_PIXEL_DATA, px->vr, px->val,
				       px->len, e);
		if (rc)
			return rc;
		px = anon_ds_find(ds, TAG_PIXEL_DATA);
	}
	buf = px->owned;
	plane = (size_t)p->rows * p->cols * p->bps;
	frame = plane * p->spp;
	for (f = 0; f < p->frames; f++) {
		uint8_t *fr = buf + f * frame;

		if (p->planar && p->spp > 1) {
			row_bytes = (size_t)p->cols * p->bps;
			for (s = 0; s < p->spp; s++)
				for (y = p->y0; y < p->y1; y++)
					memset(fr + s * plane + y * row_bytes +
						       (size_t)p->x0 * p->bps,
					       0,
					       (size_t)(p->x1 - p->x0) *
						       p->bps);
		} else {
			size_t px_bytes = (size_t)p->spp * p->bps;

			row_bytes = (size_t)p->cols * px_bytes;
			for (y = p->y0; y < p->y1; y++)
				memset(fr + y * row_bytes +
					       (size_t)p->x0 * px_bytes,
				       0, (size_t)(p->x1 - p->x0) * px_bytes);
		}
	}
	c->r->masked = 1;
	return RF_OK;
}

/* ---- value actions ------------------------------------------------------ */

static enum rf_rc set_empty(struct anon_ds *ds, size_t i, struct rf_err *e)
{
	struct anon_elem *el = &ds->elems[i];

	if (el->vr == VR_SQ) {
		while (el->nitems)
			anon_elem_remove_item(el, el->nitems - 1);
		return RF_OK;
	}
	return anon_ds_set_bytes(ds, el->tag, el->vr == VR_UN ? VR_UN :
				 el->vr, "", 0, e);
}

static enum rf_rc map_uids(struct ctx *c, struct anon_ds *ds, size_t i,
			   struct rf_err *e);

static enum rf_rc set_dummy(struct ctx *c, struct anon_ds *ds, size_t i,
			    struct rf_err *e)
{
	struct anon_elem *el = &ds->elems[i];
	uint32_t tag = el->tag;
	const char *s = NULL;
	uint8_t *zeros;
	enum rf_rc rc;

	switch (el->vr) {
	case VR_SQ:
		return set_empty(ds, i, e);
	case VR_UI:
		return map_uids(c, ds, i, e);
	case VR_DA:
		s = DUMMY_DA;
		break;
	case VR_DT:
		s = DUMMY_DT;
		break;
	case VR_TM:
		s = DUMMY_TM;
		break;
	case VR_AS:
		s = "000Y";
		break;
	case VR_IS:
	case VR_DS:
		s = "0";
		break;
	case VR_UR:
		s = "";
		break;
	case VR_CS:
	case VR_AE:
	case VR_LO:
	case VR_LT:
	case VR_SH:
	case VR_ST:
	case VR_UT:
	case VR_UC:
	case VR_PN:
		s = DUMMY_TEXT;
		break;
	default:
		break;
	}
	if (s)
		return anon_ds_set_str(ds, tag, el->vr, s, e);
	/* binary: zeros of the same length */
	if (el->flags & ANON_ELEM_ENCAP)
		return set_empty(ds, i, e);
	zeros = rf_calloc(el->len ? el->len : 1, 1);
	if (!zeros)
		return rf_err_set(e, RF_ENOMEM, "cannot make a dummy value: "
				  "out of memory");
	rc = anon_ds_set_bytes(ds, tag, el->vr, zeros, el->len, e);
	rf_free(zeros);
	return rc;
}

static enum rf_rc map_uids(struct ctx *c, struct anon_ds *ds, size_t i,
			   struct rf_err *e)
{
	struct anon_elem *el = &ds->elems[i];
	const char *v = (const char *)el->val;
	size_t n = trim_len(el->val, el->len), p = 0, changed = 0;
	char out[ANON_UID_SIZE];
	enum rf_rc rc;

	if ((c->opt & ANON_OPT_RETAIN_UIDS) || (el->flags & ANON_ELEM_ENCAP))
		return RF_OK;
	rf_buf_reset(&c->scratch);
	while (p <= n) {
		size_t q = p, s, t;

		while (q < n && v[q] != '\\')
			q++;
		s = p;
		t = q;
		while (s < t && v[s] == ' ')
			s++;
		while (t > s && (v[t - 1] == ' ' || v[t - 1] == '\0'))
			t--;
		rc = p > 0 ? rf_buf_putc(&c->scratch, '\\', NULL) : RF_OK;
		if (rc == RF_OK && t > s && !uid_well_known(v + s, t - s)) {
			rc = anon_pseudo_uid(c->cfg->pseudo, v + s, t - s,
					     out, sizeof out, e);
			if (rc)
				return rc;
			rc = rf_buf_puts(&c->scratch, out, NULL);
			changed++;
		} else if (rc == RF_OK) {
			rc = rf_buf_append(&c->scratch, v + s, t - s, NULL);
		}
		if (rc == RF_ETOOBIG) {
			/* more UIDs than the scratch cap: the value goes */
			c->r->count[ANON_DEID_EMPTIED]++;
			return anon_ds_set_bytes(ds, el->tag, VR_UI, "", 0, e);
		}
		if (rc)
			return rf_err_set(e, rc, "cannot replace UIDs: %s",
					  rf_strerror(rc));
		p = q + 1;
	}
	if (!changed)
		return RF_OK;
	c->r->count[ANON_DEID_UID] += changed;
	return anon_ds_set_bytes(ds, el->tag, VR_UI, c->scratch.data,
				 c->scratch.len, e);
}

static enum rf_rc set_id(struct ctx *c, struct anon_ds *ds, size_t i,
			 enum anon_id_kind kind, unsigned depth,
			 struct rf_err *e)
{
	struct anon_elem *el = &ds->elems[i];
	char out[ANON_ID_SIZE];
	enum rf_rc rc;

	if (el->vr == VR_SQ || (el->flags & ANON_ELEM_ENCAP))
		return set_empty(ds, i, e);
	rc = anon_pseudo_id(c->cfg->pseudo, kind, (const char *)el->val,
			    el->len, out, sizeof out, e);
	if (rc)
		return rc;
	if (depth == 0 && kind == ANON_ID_PATIENT)
		memcpy(c->r->patient, out, sizeof out);
	if (depth == 0 && kind == ANON_ID_ACCESSION)
		memcpy(c->r->accession, out, sizeof out);
	c->r->count[ANON_DEID_ID]++;
	return anon_ds_set_str(ds, el->tag, el->vr, out, e);
}

/* DA/DT/TM values: returns 1 when the element must be removed. */
static enum rf_rc do_date(struct ctx *c, struct anon_ds *ds, size_t i,
			  enum anon_action act, int *remove, struct rf_err *e)
{
	struct anon_elem *el = &ds->elems[i];
	char out[DATE_VALUE_MAX + 1];
	struct rf_err ign = {0};
	enum rf_rc rc;

	if (c->dates == DATES_KEEP)
		return RF_OK;
	if (c->dates == DATES_BASIC) {
		/* listed dates got their basic action already; K comes from
		 * another option; an unlisted date is removed */
		if (act == ANON_ACT_NONE)
			*remove = 1;
		return RF_OK;
	}
	if (el->len == 0)
		return RF_OK;
	if (el->vr == VR_TM) {
		if (el->len > DATE_VALUE_MAX ||
		    anon_tm_check((const char *)el->val, el->len, &ign))
			return anon_ds_set_str(ds, el->tag, VR_TM, DUMMY_TM, e);
		return RF_OK;
	}
	if (el->len > DATE_VALUE_MAX)
		rc = RF_EINVAL;
	else if (el->vr == VR_DA)
		rc = anon_da_shift((const char *)el->val, el->len,
				   c->r->day_shift, out, sizeof out, &ign);
	else
		rc = anon_dt_shift((const char *)el->val, el->len,
				   c->r->day_shift, out, sizeof out, &ign);
	if (rc == RF_EINVAL)
		return anon_ds_set_str(ds, el->tag, el->vr, el->vr == VR_DA ?
				       DUMMY_DA : DUMMY_DT, e);
	if (rc)
		return rf_err_set(e, rc, "%s", rf_err_msg(&ign));
	c->r->count[ANON_DEID_DATE]++;
	return anon_ds_set_str(ds, el->tag, el->vr, out, e);
}

/* Cuts s[0..*n) to at most max bytes at a UTF-8 character boundary. */
static void utf8_cut(const char *s, size_t *n, size_t max)
{
	size_t k;

	if (max == 0 || *n <= max)
		return;
	k = max;
	while (k > 0 && ((unsigned char)s[k] & 0xc0) == 0x80)
		k--;
	*n = k;
}

/* Scrubs a text value; *remove when it cannot be cleaned. */
static enum rf_rc do_clean(struct ctx *c, struct anon_ds *ds, size_t i,
			   int *remove, struct rf_err *e)
{
	struct anon_elem *el = &ds->elems[i];
	uint32_t tag = el->tag;
	uint16_t vr = el->vr;
	struct rf_err le = {0};
	size_t n;
	char *s;
	enum rf_rc rc;

	if (el->len == 0)
		return RF_OK;
	rf_buf_reset(&c->text);
	rf_buf_reset(&c->clean);
	rc = anon_ds_text(ds, el, &c->text, &le);
	if (rc == RF_OK)
		rc = anon_deid_scrub_text(c->r, (const char *)c->text.data,
					  c->text.len, &c->clean, NULL, &le);
	if (rc == RF_ETOOBIG) {
		*remove = 1; /* too long to clean */
		return RF_OK;
	}
	if (rc)
		return rf_err_set(e, rc, "%s", le.msg);
	c->r->count[ANON_DEID_CLEANED]++;
	if (c->clean.len == c->text.len &&
	    memcmp(c->clean.data, c->text.data, c->text.len) == 0)
		return RF_OK;
	n = c->clean.len;
	utf8_cut((const char *)c->clean.data, &n, text_vr_max(vr));
	rf_buf_truncate(&c->clean, n);
	s = (char *)c->clean.data;
	return anon_ds_set_text(ds, tag, vr, s ? s : "", e);
}

static enum rf_rc process(struct ctx *c, struct anon_ds *ds, unsigned depth,
			  enum text_mode mode, struct rf_err *e);

/* The value of a kept, cleaned, U or unlisted element; *remove when it
 * must go after all. */
static enum rf_rc do_value(struct ctx *c, struct anon_ds *ds, size_t i,
			   enum anon_action act, unsigned depth,
			   enum text_mode mode, int *remove, struct rf_err *e)
{
	struct anon_elem *el = &ds->elems[i];
	uint16_t vr = el->vr;
	char out[8];
	struct rf_err ign = {0};
	size_t j;
	enum rf_rc rc;

	if (el->flags & ANON_ELEM_ENCAP)
		return RF_OK;
	switch (vr) {
	case VR_SQ:
		if (depth + 1 >= ANON_PATH_MAX) {
			*remove = 1;
			return RF_OK;
		}
		for (j = 0; j < ds->elems[i].nitems; j++) {
			rc = process(c, &ds->elems[i].items[j], depth + 1,
				     mode, e);
			if (rc)
				return rc;
		}
		return RF_OK;
	case VR_UI:
		return map_uids(c, ds, i, e);
	case VR_DA:
	case VR_DT:
	case VR_TM:
		return do_date(c, ds, i, act, remove, e);
	case VR_AS:
		if (el->len == 0)
			return RF_OK;
		if (anon_as_group((const char *)el->val, el->len, out,
				  sizeof out, &ign)) {
			*remove = 1;
			return RF_OK;
		}
		if (strlen(out) == trim_len(el->val, el->len) &&
		    memcmp(out, el->val, strlen(out)) == 0)
			return RF_OK;
		c->r->count[ANON_DEID_AGE]++;
		return anon_ds_set_str(ds, el->tag, VR_AS, out, e);
	case VR_UR:
		if (act == ANON_ACT_NONE)
			*remove = 1;
		return RF_OK;
	case VR_UN:
		if (act != ANON_ACT_K)
			*remove = 1;
		return RF_OK;
	default:
		break;
	}
	if (!is_text_vr(vr))
		return RF_OK;
	if (act == ANON_ACT_K || (act == ANON_ACT_NONE &&
				  anon_deid_safe_text(el->tag)))
		return RF_OK;
	if (mode == TEXT_DUMMY) {
		if (el->len == 0)
			return RF_OK;
		c->r->count[ANON_DEID_DUMMY]++;
		return set_dummy(c, ds, i, e);
	}
	if (act == ANON_ACT_C)
		return do_clean(c, ds, i, remove, e);
	/* unlisted free text: cleaned under Clean Descriptors, else removed;
	 * an unlisted name is always removed */
	if (vr != VR_PN && (mode == TEXT_CLEAN ||
			    (c->opt & ANON_OPT_CLEAN_DESCRIPTORS)))
		return do_clean(c, ds, i, remove, e);
	*remove = 1;
	return RF_OK;
}

/* ---- private attributes ------------------------------------------------- */

static int safe_private(const struct ctx *c, const struct anon_ds *ds,
			uint32_t tag)
{
	const char *cr;
	size_t n, i, k;

	if (!(c->opt & ANON_OPT_RETAIN_SAFE_PRIVATE))
		return 0;
	cr = anon_ds_private_creator(ds, tag, &n);
	if (!cr)
		return 0;
	for (i = 0; i < c->cfg->n_safe_private; i++) {
		const struct anon_safe_private *s = &c->cfg->safe_private[i];

		if (!s->creator || (s->group && s->group !=
					ANON_TAG_GROUP(tag)) ||
		    s->elem != (ANON_TAG_ELEM(tag) & 0xff))
			continue;
		k = strlen(s->creator);
		while (k > 0 && s->creator[k - 1] == ' ')
			k--;
		if (k == n && memcmp(s->creator, cr, n) == 0)
			return 1;
	}
	return 0;
}

static enum rf_rc do_private(struct ctx *c, struct anon_ds *ds,
			     unsigned depth, enum text_mode mode,
			     struct rf_err *e)
{
	size_t i, j;
	enum rf_rc rc;

	/* data elements first: their creators are still there */
	for (i = 0; i < ds->n;) {
		struct anon_elem *el = &ds->elems[i];
		uint16_t g = ANON_TAG_GROUP(el->tag);
		uint16_t x = ANON_TAG_ELEM(el->tag);
		int remove = 0;

		if (!(g & 1) || (x >> 8) < 0x10) {
			i++;
			continue;
		}
		if (!safe_private(c, ds, el->tag)) {
			c->r->count[ANON_DEID_PRIVATE_REMOVED] +=
				anon_ds_remove(ds, el->tag);
			continue;
		}
		rc = do_value(c, ds, i, ANON_ACT_K, depth, mode,
			      &remove, e);
		if (rc)
			return rc;
		if (remove) {
			c->r->count[ANON_DEID_PRIVATE_REMOVED] +=
				anon_ds_remove(ds, ds->elems[i].tag);
			continue;
		}
		c->r->count[ANON_DEID_PRIVATE_KEPT]++;
		i++;
	}
	/* then creators of no kept block, and everything else odd */
	for (i = 0; i < ds->n;) {
		uint32_t tag = ds->elems[i].tag;
		uint16_t g = ANON_TAG_GROUP(tag), x = ANON_TAG_ELEM(tag);
		int used = 0;

		if (!(g & 1) || (x >> 8) >= 0x10) {
			i++;
			continue;
		}
		if (x >= 0x10 && x <= 0xff)
			for (j = 0; j < ds->n && !used; j++)
				used = ANON_TAG_GROUP(ds->elems[j].tag) == g &&
				       (ANON_TAG_ELEM(ds->elems[j].tag) >> 8) ==
					       x;
		if (used) {
			i++;
			continue;
		}
		c->r->count[ANON_DEID_PRIVATE_REMOVED] +=
			anon_ds_remove(ds, tag);
	}
	return RF_OK;
}

/* ---- the second pass ---------------------------------------------------- */

static enum rf_rc process(struct ctx *c, struct anon_ds *ds, unsigned depth,
			  enum text_mode mode, struct rf_err *e)
{
	size_t i;
	enum rf_rc rc;

	/* overlays (60xx) and curves (50xx): a whole group goes, since an
	 * overlay or curve without its data is invalid */
	for (i = 0; i < ds->n;) {
		uint16_t g = ANON_TAG_GROUP(ds->elems[i].tag);

		if (!(g & 1) && ((g & 0xff00) == 0x6000 ||
				 (g & 0xff00) == 0x5000)) {
			anon_ds_remove_group(ds, g, 0xffff);
			c->r->count[ANON_DEID_GROUP_REMOVED]++;
			continue;
		}
		i++;
	}
	for (i = 0; i < ds->n;) {
		struct anon_elem *el = &ds->elems[i];
		uint32_t tag = el->tag;
		uint16_t g = ANON_TAG_GROUP(tag);
		enum anon_action act;
		int remove = 0;

		if (g & 1) {
			i++;
			continue;
		}
		el->vr = handling_vr(c, el);
		act = resolve_combined(tag, el->vr,
				       anon_deid_action(tag, c->opt));
		if (tag == TAG_PATIENT_ID)
			rc = set_id(c, ds, i, ANON_ID_PATIENT, depth, e);
		else if (tag == TAG_ACCESSION)
			rc = set_id(c, ds, i, ANON_ID_ACCESSION, depth, e);
		else if (tag == TAG_STUDY_ID)
			rc = set_id(c, ds, i, ANON_ID_STUDY, depth, e);
		else if (tag == TAG_PATIENT_NAME && depth == 0 &&
			 el->vr != VR_SQ)
			rc = anon_ds_set_str(ds, tag, el->vr, c->r->patient,
					     e);
		else if (act == ANON_ACT_X) {
			remove = 1;
			rc = RF_OK;
		} else if (act == ANON_ACT_Z) {
			rc = RF_OK;
			if (el->len || el->nitems) {
				c->r->count[ANON_DEID_EMPTIED]++;
				rc = set_empty(ds, i, e);
			}
		} else if (act == ANON_ACT_D && el->vr == VR_SQ) {
			/* dummy content: the structure stays, every text in
			 * it becomes a dummy (see the documentation) */
			rc = do_value(c, ds, i, act, depth, TEXT_DUMMY,
				      &remove, e);
		} else if (act == ANON_ACT_C && el->vr == VR_SQ) {
			rc = do_value(c, ds, i, act, depth,
				      mode == TEXT_DUMMY ? TEXT_DUMMY :
				      TEXT_CLEAN, &remove, e);
		} else if (act == ANON_ACT_D) {
			c->r->count[ANON_DEID_DUMMY]++;
			rc = set_dummy(c, ds, i, e);
		} else {
			rc = do_value(c, ds, i, act, depth, mode,
				      &remove, e);
		}
		if (rc)
			return rc;
		if (remove) {
			c->r->count[ANON_DEID_REMOVED] +=
				anon_ds_remove(ds, ds->elems[i].tag);
			continue;
		}
		i++;
	}
	return do_private(c, ds, depth, mode, e);
}

/* ---- markers ------------------------------------------------------------ */

struct method_code {
	unsigned opt; /* 0: always */
	const char *value;
	const char *meaning;
};

static const struct method_code method_codes[] = {
	{0, "113100", "Basic Application Confidentiality Profile"},
	{ANON_OPT_CLEAN_GRAPHICS, "113103", "Clean Graphics Option"},
	{ANON_OPT_CLEAN_STRUCTURED, "113104",
	 "Clean Structured Content Option"},
	{ANON_OPT_CLEAN_DESCRIPTORS, "113105", "Clean Descriptors Option"},
	{ANON_OPT_RETAIN_FULL_DATES, "113106",
	 "Retain Longitudinal Temporal Information Full Dates Option"},
	{ANON_OPT_RETAIN_MODIFIED_DATES, "113107",
	 "Retain Longitudinal Temporal Information Modified Dates Option"},
	{ANON_OPT_RETAIN_PATIENT_CHARS, "113108",
	 "Retain Patient Characteristics Option"},
	{ANON_OPT_RETAIN_DEVICE_ID, "113109", "Retain Device Identity Option"},
	{ANON_OPT_RETAIN_UIDS, "113110", "Retain UIDs Option"},
	{ANON_OPT_RETAIN_SAFE_PRIVATE, "113111", "Retain Safe Private Option"},
	{ANON_OPT_RETAIN_INSTITUTION_ID, "113112",
	 "Retain Institution Identity Option"},
};

static enum rf_rc add_code(struct anon_ds *ds, struct anon_elem *sq,
			   const char *value, const char *meaning,
			   struct rf_err *e)
{
	struct anon_ds *it;
	enum rf_rc rc;

	rc = anon_elem_insert_item(sq, sq->nitems, ds, &it, e);
	if (rc == RF_OK)
		rc = anon_ds_set_str(it, TAG_CODE_VALUE, VR_SH, value, e);
	if (rc == RF_OK)
		rc = anon_ds_set_str(it, TAG_CODING_SCHEME, VR_SH, "DCM", e);
	if (rc == RF_OK)
		rc = anon_ds_set_str(it, TAG_CODE_MEANING, VR_LO, meaning, e);
	return rc;
}

static enum rf_rc add_markers(struct ctx *c, struct anon_ds *ds,
			      struct rf_err *e)
{
	char method[160];
	struct anon_elem *sq;
	const char *lti;
	size_t i;
	enum rf_rc rc;

	rc = anon_ds_set_str(ds, TAG_ID_REMOVED, VR_CS, "YES", e);
	if (rc)
		return rc;
	snprintf(method, sizeof method, "%.64s\\DICOM PS3.15 %s Basic "
		 "Application Confidentiality Profile",
		 c->cfg->software ? c->cfg->software : "radfed",
		 anon_dict_edition);
	rc = anon_ds_set_str(ds, TAG_DEID_METHOD, VR_LO, method, e);
	if (rc)
		return rc;
	anon_ds_remove(ds, TAG_DEID_CODES);
	rc = anon_ds_add_seq(ds, TAG_DEID_CODES, &sq, e);
	for (i = 0; rc == RF_OK && i < sizeof method_codes /
			sizeof method_codes[0]; i++) {
		const struct method_code *m = &method_codes[i];

		if (m->opt && !(c->opt & m->opt))
			continue;
		rc = add_code(ds, sq, m->value, m->meaning, e);
		if (rc == RF_OK && i == 0 && c->r->masked)
			rc = add_code(ds, sq, "113101",
				      "Clean Pixel Data Option", e);
	}
	if (rc)
		return rc;
	lti = c->dates == DATES_SHIFT ? "MODIFIED" :
	      c->dates == DATES_KEEP ? "UNMODIFIED" : "REMOVED";
	return anon_ds_set_str(ds, TAG_LONGITUDINAL, VR_CS, lti, e);
}

/* ---- the engine --------------------------------------------------------- */

void anon_deid_result_init(struct anon_deid_result *r)
{
	memset(r, 0, sizeof *r);
	r->outcome = ANON_DEID_WRITTEN;
}

static void free_seeds(char **arr, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		rf_free_secret(arr[i], strlen(arr[i]));
	rf_free(arr);
}

void anon_deid_result_release(struct anon_deid_result *r)
{
	if (!r)
		return;
	free_seeds(r->names, r->n_names);
	free_seeds(r->ids, r->n_ids);
	rf_zeroize(r, sizeof *r);
	anon_deid_result_init(r);
}

static void quarantine(struct anon_deid_result *r, const char *why)
{
	r->outcome = ANON_DEID_QUARANTINED;
	snprintf(r->reason, sizeof r->reason, "%s", why);
}

enum rf_rc anon_deid_apply(const struct anon_deid_config *cfg,
			   struct anon_dicom *d, struct anon_deid_result *r,
			   struct rf_err *e)
{
	struct ctx c;
	const struct anon_elem *pid;
	const struct anon_deid_mask *m;
	char why[96];
	unsigned opt;
	enum rf_rc rc;

	if (!cfg || !d || !r || !cfg->pseudo)
		return rf_err_set(e, RF_EINVAL, "de-identification needs a "
				  "configuration with site keys");
	anon_deid_result_release(r);
	opt = cfg->options ? cfg->options : ANON_DEID_DEFAULT_OPTIONS;
	if (opt >> ANON_OPT_COUNT_)
		return rf_err_set(e, RF_EINVAL, "unknown option bits 0x%x",
				  opt >> ANON_OPT_COUNT_ << ANON_OPT_COUNT_);
	if ((opt & ANON_OPT_RETAIN_FULL_DATES) &&
	    (opt & ANON_OPT_RETAIN_MODIFIED_DATES))
		return rf_err_set(e, RF_EINVAL, "options 'retain full dates' "
				  "and 'retain modified dates' exclude each "
				  "other");
	memset(&c, 0, sizeof c);
	c.cfg = cfg;
	c.opt = opt;
	c.r = r;
	c.big_endian = strcmp(d->ts_uid, "1.2.840.10008.1.2.2") == 0;
	c.dates = (opt & ANON_OPT_RETAIN_MODIFIED_DATES) ? DATES_SHIFT :
		  (opt & ANON_OPT_RETAIN_FULL_DATES) ? DATES_KEEP : DATES_BASIC;
	rf_buf_init(&c.text, ANON_DEID_TEXT_MAX);
	rf_buf_init(&c.clean, 2 * ANON_DEID_TEXT_MAX);
	rf_buf_init(&c.scratch, 1 << 20);
	r->options = opt;

	/* first pass: read only */
	rc = collect(&c, &d->ds, 0, e);
	if (rc)
		goto out;
	if (anon_ds_find(&d->ds, TAG_DIR_RECORDS)) {
		quarantine(r, "a DICOMDIR names files by paths that may "
			   "identify: de-identify the files it references");
		goto out;
	}
	if (anon_ds_find(&d->ds, TAG_ENCAP_DOC)) {
		quarantine(r, "an encapsulated document cannot be cleaned");
		goto out;
	}
	if (c.too_many_seeds) {
		quarantine(r, "too many names or identifiers to scrub");
		goto out;
	}
	if (burned_in_risk(&d->ds, why, sizeof why)) {
		char reason[ANON_DEID_REASON_MAX];

		m = mask_find(&c, &d->ds);
		if (!m) {
			snprintf(reason, sizeof reason, "burned-in text: %s, "
				 "and no masking region for it", why);
			quarantine(r, reason);
			goto out;
		}
		if (mask_plan(&c, d, m, reason, sizeof reason)) {
			quarantine(r, reason);
			goto out;
		}
	}
	pid = anon_ds_find(&d->ds, TAG_PATIENT_ID);
	if (c.dates == DATES_SHIFT) {
		const char *v = "";
		size_t n = 0;

		if (pid && pid->vr != VR_SQ &&
		    !(pid->flags & ANON_ELEM_ENCAP)) {
			v = (const char *)pid->val;
			n = pid->len;
		}
		rc = anon_pseudo_day_shift(cfg->pseudo, v, n, &r->day_shift,
					   e);
		if (rc)
			goto out;
		r->dates_shifted = 1;
	}
	if (pid && pid->vr != VR_SQ && !(pid->flags & ANON_ELEM_ENCAP)) {
		rc = anon_pseudo_id(cfg->pseudo, ANON_ID_PATIENT,
				    (const char *)pid->val, pid->len,
				    r->patient, sizeof r->patient, e);
		if (rc)
			goto out;
	}

	/* second pass: change */
	{
		struct anon_elem *mu = anon_ds_find(&d->meta,
						    TAG_MEDIA_SOP_INSTANCE);

		if (mu && mu->vr != VR_SQ) {
			size_t i = (size_t)(mu - d->meta.elems);

			rc = map_uids(&c, &d->meta, i, e);
			if (rc)
				goto out;
		}
	}
	rc = process(&c, &d->ds, 0, TEXT_NORMAL, e);
	if (rc == RF_OK && c.mask.active)
		rc = mask_apply(&c, &d->ds, e);
	if (rc == RF_OK)
		rc = add_markers(&c, &d->ds, e);
out:
	rf_buf_release_secret(&c.text);
	rf_buf_release_secret(&c.clean);
	rf_buf_release_secret(&c.scratch);
	return rc;
}

/* ---- scrubbing with every seed ------------------------------------------ */

enum rf_rc anon_deid_scrub_text(const struct anon_deid_result *r,
				const char *text, size_t n, struct rf_buf *out,
				struct anon_report_stats *st,
				struct rf_err *e)
{
	struct rf_buf tmp[2];
	struct anon_report_stats s1;
	size_t passes, pn, pi, p, k, start;
	const char *cur = text;
	size_t curn = n;
	enum rf_rc rc = RF_OK;

	if (!r || !out || (n && !text))
		return rf_err_set(e, RF_EINVAL, "cannot scrub: invalid "
				  "arguments");
	start = out->len;
	pn = (r->n_names + ANON_REPORT_MAX_NAMES - 1) / ANON_REPORT_MAX_NAMES;
	pi = (r->n_ids + ANON_REPORT_MAX_IDS - 1) / ANON_REPORT_MAX_IDS;
	passes = pn > pi ? pn : pi;
	if (passes == 0)
		passes = 1;
	rf_buf_init(&tmp[0], out->max);
	rf_buf_init(&tmp[1], out->max);
	if (st)
		memset(st, 0, sizeof *st);
	for (p = 0; p < passes; p++) {
		struct anon_report_ctx c;
		struct rf_buf *dst = p + 1 == passes ? out : &tmp[p & 1];

		anon_report_ctx_init(&c);
		c.date_shift_days = (p == 0 && r->dates_shifted) ?
					    r->day_shift : 0;
		for (k = p * ANON_REPORT_MAX_NAMES;
		     k < r->n_names && c.n_names < ANON_REPORT_MAX_NAMES; k++)
			c.names[c.n_names++] = r->names[k];
		for (k = p * ANON_REPORT_MAX_IDS;
		     k < r->n_ids && c.n_ids < ANON_REPORT_MAX_IDS; k++)
			c.ids[c.n_ids++] = r->ids[k];
		if (dst != out)
			rf_buf_reset(dst);
		rc = anon_report_scrub(&c, cur ? cur : "", curn, dst, &s1, e);
		if (rc)
			break;
		if (st) {
			for (k = 0; k < ANON_REPORT_CAT_COUNT; k++)
				st->count[k] += s1.count[k];
			st->dates_invalid += s1.dates_invalid;
			st->bad_bytes += s1.bad_bytes;
		}
		cur = (const char *)dst->data;
		curn = dst->len;
	}
	if (rc && out->len > start) {
		rf_zeroize(out->data + start, out->len - start);
		rf_buf_truncate(out, start);
	}
	rf_buf_release_secret(&tmp[0]);
	rf_buf_release_secret(&tmp[1]);
	return rc;
}

static const char *const count_names[ANON_DEID_COUNT_] = {
	"removed", "emptied", "dummy", "uid", "id", "date", "age", "cleaned",
	"private kept", "private removed", "group removed",
};

const char *anon_deid_count_name(enum anon_deid_count c)
{
	if ((unsigned)c >= ANON_DEID_COUNT_)
		return "unknown";
	return count_names[c];
}
