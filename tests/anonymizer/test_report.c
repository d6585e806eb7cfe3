/*
 * test_report.c - the French report scrubber, rule by rule: each category
 * with texts that must be replaced and texts that must be kept, date
 * arithmetic, UTF-8 edge cases, allocation failures and the output cap.
 */
#include "rf_test.h"

#include "anon_report.h"
#include "anon_textgen.h"
#include "rf_buf.h"

static char *scrub_st(const struct anon_report_ctx *c, const char *in,
		      size_t n, struct anon_report_stats *st)
{
	struct rf_buf b;
	struct rf_err e = {0};
	char *s;

	rf_buf_init(&b, 1 << 20);
	RF_ASSERT_OK_E(anon_report_scrub(c, in, n, &b, st, &e), &e);
	s = (char *)rf_buf_detach(&b, NULL);
	assert_non_null(s);
	return s;
}

static void expect_ctx(const struct anon_report_ctx *c, const char *in,
		       const char *want)
{
	char *got = scrub_st(c, in, strlen(in), NULL);

	if (strcmp(got, want) != 0)
		fail_msg("scrub(\"%s\")\n  got  \"%s\"\n  want \"%s\"", in, got,
			 want);
	rf_free(got);
}

/* No seeds, a date shift of `shift` days. */
static void expect_shift(int shift, const char *in, const char *want)
{
	struct anon_report_ctx c;

	anon_report_ctx_init(&c);
	c.date_shift_days = shift;
	expect_ctx(&c, in, want);
}

static void expect(const char *in, const char *want)
{
	expect_shift(0, in, want);
}

static void keep(const char *in)
{
	expect(in, in);
}

static void seeded(struct anon_report_ctx *c)
{
	anon_report_ctx_init(c);
	RF_ASSERT_OK(anon_report_ctx_add_name(c, "DUPONT^Jean-Pierre^^^Dr",
					      NULL));
	RF_ASSERT_OK(anon_report_ctx_add_name(c, "MARTIN-DUBOIS^Élodie",
					      NULL));
	RF_ASSERT_OK(anon_report_ctx_add_name(c, "PETIT^Marie", NULL));
	RF_ASSERT_OK(anon_report_ctx_add_name(c, "LE GALL^Yann", NULL));
	RF_ASSERT_OK(anon_report_ctx_add_id(c, "XK-77B", NULL));
	RF_ASSERT_OK(anon_report_ctx_add_id(c, "A0042", NULL));
	RF_ASSERT_OK(anon_report_ctx_add_id(c, "42", NULL)); /* too short */
}

static void test_seed_names(void **state)
{
	struct anon_report_ctx c;

	(void)state;
	seeded(&c);
	/* each component, case- and accent-insensitive, hyphens joined */
	expect_ctx(&c, "Vu par jean-pierre dupont.", "Vu par [NOM] [NOM].");
	expect_ctx(&c, "elodie MARTIN-DUBOIS", "[NOM]");
	expect_ctx(&c, "ÉLODIE Martin", "[NOM]");
	expect_ctx(&c, "Dubois a appelé", "[NOM] a appelé");
	expect_ctx(&c, "Yann LE GALL", "[NOM] LE [NOM]");
	/* word boundaries, also next to accented letters */
	expect_ctx(&c, "Dupontel, Jeanne, Martinez, éJean, Jeané",
		   "Dupontel, Jeanne, Martinez, éJean, Jeané");
	/* PETIT is an everyday word: a name only in capitals */
	expect_ctx(&c, "Petit nodule, petit kyste.",
		   "Petit nodule, petit kyste.");
	expect_ctx(&c, "PETIT Marie", "[NOM]");
	expect_ctx(&c, "Petit Marie, Marie Petit.", "[NOM], [NOM].");
	expect_ctx(&c, "Petit Dupont", "[NOM]");
	/* "Dr" and "le" in the PN are not seeds */
	expect_ctx(&c, "le Dr. a vu le malade", "le Dr. a vu le malade");
}

static void test_titles(void **state)
{
	(void)state;
	expect("Dr Martin et Dr Durand ont vu.",
	       "Dr [NOM] et Dr [NOM] ont vu.");
	expect("Drs Martin et Durand.", "Drs [NOM] et [NOM].");
	expect("Pr. LEFEBVRE, Pr Gilles Moreau", "Pr. [NOM], Pr [NOM]");
	expect("Madame Le Gall et Monsieur J. DURAND",
	       "Madame [NOM] et Monsieur [NOM]");
	expect("M. SIMON, Mme Petit, Mlle Roux, Docteur Lévêque",
	       "M. [NOM], Mme [NOM], Mlle [NOM], Docteur [NOM]");
	expect("Dr\xc2\xa0Martin", "Dr\xc2\xa0[NOM]");
	expect("Patient : DUPONT Jean\nRadiologue : Sophie GIRARD\n",
	       "Patient : [NOM]\nRadiologue : [NOM]\n");
	expect("Copie à : Paul MERCIER", "Copie à : [NOM]");
	/* a known given name next to capitals, with no title */
	expect("vu avec Hélène FAURE ce jour", "vu avec [NOM] ce jour");
	expect("MOREL Anaïs", "[NOM]");
	/* not names */
	keep("le dr a vu. PR évolutive. Dr. IRM normale. M. le");
	keep("Patient : homme de 45 ans. IRM Jean-Louis.");
	keep("CONCLUSION : Absence d'anomalie.");
}

/*
 * NIR keys, key = 97 - (N mod 97), checked by hand and with python3:
 *   1 84 12 75 123 456: N = 1841275123456, N mod 97 = 57, key 40
 *   2 90 05 2A 004 012: 2A reads 19, N = 2900519004012, mod 31, key 66
 *   1 55 03 2B 045 321: 2B reads 18, N = 1550318045321, mod 4, key 93
 *   2 69 03 99 350 042: N = 2690399350042, mod 61, key 36
 */
static void test_nir(void **state)
{
	struct anon_report_ctx c;
	struct anon_report_stats st;
	char *s;

	(void)state;
	expect("NIR : 1 84 12 75 123 456 40.", "NIR : [NIR].");
	expect("n° SS 184127512345640", "n° SS [NIR]");
	expect("2 90 05 2A 004 012 66", "[NIR]");
	expect("290052A00401266", "[NIR]");
	expect("1 55 03 2B 045 321 93 et 2 69 03 99 350 042 36",
	       "[NIR] et [NIR]");
	/* a wrong key still hides the number, as an identifier */
	expect("1 84 12 75 123 456 41", "[ID]");
	expect("184127512345699", "[ID]");
	/* the same digits in 2B: N = 2900518004012, mod 4, key 93 */
	expect("2 90 05 2B 004 012 66", "[ID]");
	expect("2 90 05 2B 004 012 93", "[NIR]");
	/* not a NIR: month 13, sex 5 */
	anon_report_ctx_init(&c);
	s = scrub_st(&c, "1 84 13 75 123 456 40", 21, &st);
	assert_int_equal(st.count[ANON_REPORT_NIR], 0);
	rf_free(s);
	s = scrub_st(&c, "5 84 12 75 123 456 40", 21, &st);
	assert_int_equal(st.count[ANON_REPORT_NIR], 0);
	rf_free(s);
}

static void test_identifiers(void **state)
{
	struct anon_report_ctx c;

	(void)state;
	expect("IPP : 12345678", "IPP : [ID]");
	expect("NDA: AB12C", "NDA: [ID]");
	expect("N° de dossier : D-4821", "N° de dossier : [ID]");
	expect("n° patient 778899 ; ID 5521", "n° patient [ID] ; ID [ID]");
	expect("réf RX-2024-001234 et ACC2024001234", "réf [ID] et [ID]");
	seeded(&c);
	expect_ctx(&c, "voir xk-77b et A0042.", "voir [ID] et [ID].");
	/* whole tokens only; identifiers under 3 bytes are ignored */
	expect_ctx(&c, "A00421 et 42", "A00421 et 42");
	keep("C5-C6, T2, L5-S1, BI-RADS 4, segment VI, 12 mm, 3,5 cm");
	keep("1 200 mL, 450 mGy.cm, 120 kV, 1,25 mm, ID à revoir");
}

static void test_phones(void **state)
{
	(void)state;
	expect("Tél : 01 23 45 67 89.", "Tél : [TEL].");
	expect("06.12.34.56.78 / 06-12-34-56-78 / 0612345678",
	       "[TEL] / [TEL] / [TEL]");
	expect("+33 1 23 45 67 89, +33 (0)6 12 34 56 78",
	       "[TEL], [TEL]");
	expect("0033 6 12 34 56 78 ou +41 22 345 67 89", "[TEL] ou [TEL]");
	keep("10 12 14 16 18, 01 23 45, 06.12-34.56.78x, 2+3");
}

static void test_email(void **state)
{
	(void)state;
	expect("jean.dupont@chu-lyon.fr.", "[EMAIL].");
	expect("<j_dupont+rx@mail.example.org>", "<[EMAIL]>");
	keep("a@b, T2@, @home, x@y.z");
}

static void test_addresses(void **state)
{
	(void)state;
	expect("12 rue des Lilas", "[ADRESSE]");
	expect("3 bis, avenue Victor Hugo, 75016 Paris",
	       "[ADRESSE], [CP VILLE]");
	expect("12 ter bd Gambetta 13005 MARSEILLE", "[ADRESSE] [CP VILLE]");
	expect("habite place de la République.", "habite [ADRESSE].");
	expect("69437 LYON CEDEX 03\n94270 Le Kremlin-Bicêtre",
	       "[CP VILLE]\n[CP VILLE]");
	expect("20000 Ajaccio, 13100 Aix-en-Provence",
	       "[CP VILLE], [CP VILLE]");
	keep("mise en place du drain, au cours de l'IRM, 2 places, en route");
	keep("25000 UI d'héparine, 12000 habitants, 50000 Unités");
}

/*
 * Expected dates from python3:
 *   from datetime import date, timedelta as t
 *   date(2024, 2, 28) + t(days=1)   -> 2024-02-29
 *   date(2023, 2, 28) + t(days=1)   -> 2023-03-01
 *   date(2023, 12, 31) + t(days=1)  -> 2024-01-01
 *   date(2024, 1, 1) + t(days=-1)   -> 2023-12-31
 *   date(2024, 3, 12) + t(days=366) -> 2025-03-13
 *   date(2024, 3, 12) + t(days=-30) -> 2024-02-11
 *   date(2024, 3, 12) + t(days=10)  -> 2024-03-22
 *   date(2023, 1, 1) + t(days=-1)   -> 2022-12-31
 *   date(2024, 3, 12) + t(days=20)  -> 2024-04-01
 *   date(2024, 3, 15) + t(days=31)  -> 2024-04-15 (month-year: the 15th)
 *   date(2024, 2, 15) + t(days=31)  -> 2024-03-17
 *   date(2000, 2, 15) + t(days=-20) -> 2000-01-26
 *   date(2000, 2, 29) + t(days=1)   -> 2000-03-01
 *   date(1945, 3, 12) + t(days=-45000) -> 1821-12-27
 *   date(2023, 3, 12) + t(days=20)  -> 2023-04-01 (no year: 2023)
 *   date(2023, 3, 1) + t(days=-1)   -> 2023-02-28
 *   date(2024, 2, 29) + t(days=1)   -> 2024-03-01 (29 February: 2024)
 */
static void test_dates(void **state)
{
	(void)state;
	expect_shift(1, "le 28/02/2024.", "le 29/02/2024.");
	expect_shift(1, "28/02/2023", "01/03/2023");
	expect_shift(1, "31/12/2023", "01/01/2024");
	expect_shift(-1, "1/1/2024", "31/12/2023");
	expect_shift(366, "2024-03-12", "2025-03-13");
	expect_shift(-30, "12.03.2024", "11.02.2024");
	expect_shift(10, "12-03-24", "22-03-24");
	expect_shift(-1, "1er janvier 2023", "31 décembre 2022");
	expect_shift(20, "12 mars 2024", "1er avril 2024");
	expect_shift(31, "en mars 2024", "en avril 2024");
	expect_shift(31, "FÉVRIER 2024", "MARS 2024");
	expect_shift(-20, "Fevrier 2000", "Janvier 2000");
	expect_shift(1, "29/02/2000", "01/03/2000");
	expect_shift(-45000, "12/03/1945", "27/12/1821");
	/* impossible dates never pass unshifted */
	expect_shift(5, "31/02/2024, 29/02/2023, 29/02/1900, 12/13/2024",
		     "[DATE], [DATE], [DATE], [DATE]");
	expect_shift(365, "31/12/9999", "[DATE]");
	expect_shift(5, "31 juin 2024", "[DATE]");
	/* day and month without a year: shifted in a common year */
	expect_shift(20, "le 12 mars,", "le 1er avril,");
	expect_shift(-1, "1er mars", "28 février");
	expect_shift(1, "29 février", "1er mars");
	/* not dates */
	expect_shift(5, "1.5 mm, 3/4, C5-C6, 2024, 1.2.3, 12/03",
		     "1.5 mm, 3/4, C5-C6, 2024, 1.2.3, 12/03");
}

static void test_ages(void **state)
{
	(void)state;
	expect("Patiente de 92 ans", "Patiente de 90 ans ou plus");
	expect("âgé de 95 ans, 104ans",
	       "âgé de 90 ans ou plus, 90 ans ou plus");
	keep("patient de 89 ans, 45 ans, 92 ansa, 92 mm");
}

static void test_clinical_kept(void **state)
{
	struct anon_report_ctx c;

	(void)state;
	seeded(&c);
	c.date_shift_days = 100;
	expect_ctx(&c,
		   "Nodule de 12 mm du lobe supérieur droit. Pas "
		   "d'épanchement, absence d'adénopathie. Lésion du segment "
		   "VI de 3,5 cm, 25 UH (Hounsfield). Hypersignal T2. "
		   "Discopathie C5-C6. BI-RADS 4. Petit kyste. Stade 2 de "
		   "Kellgren et Lawrence.",
		   "Nodule de 12 mm du lobe supérieur droit. Pas "
		   "d'épanchement, absence d'adénopathie. Lésion du segment "
		   "VI de 3,5 cm, 25 UH (Hounsfield). Hypersignal T2. "
		   "Discopathie C5-C6. BI-RADS 4. Petit kyste. Stade 2 de "
		   "Kellgren et Lawrence.");
}

/* 1 if s[0..n) is valid UTF-8 without NUL. */
static int valid_utf8(const unsigned char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		unsigned char b = s[i];
		size_t len;
		unsigned cp;

		if (b == 0)
			return 0;
		if (b < 0x80) {
			i++;
			continue;
		}
		if (b >= 0xc2 && b < 0xe0)
			len = 2, cp = b & 0x1f;
		else if (b >= 0xe0 && b < 0xf0)
			len = 3, cp = b & 0x0f;
		else if (b >= 0xf0 && b < 0xf5)
			len = 4, cp = b & 0x07;
		else
			return 0;
		if (i + len > n)
			return 0;
		for (size_t k = 1; k < len; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += len;
	}
	return 1;
}

static void test_utf8(void **state)
{
	static const char in[] = "a\xff" "b\xc3" "\xc0\xaf" "c\xed\xa0\x80"
				 "d\0e\xe2\x82" "f\xf4\x90\x80\x80";
	struct anon_report_ctx c;
	struct anon_report_stats st;
	char *s;

	(void)state;
	anon_report_ctx_init(&c);
	s = scrub_st(&c, in, sizeof in - 1, &st);
	assert_string_equal(s, "a\xef\xbf\xbd" "b\xef\xbf\xbd"
			       "\xef\xbf\xbd\xef\xbf\xbd"
			       "c\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
			       "d\xef\xbf\xbd" "e\xef\xbf\xbd\xef\xbf\xbd"
			       "f\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
			       "\xef\xbf\xbd");
	assert_int_equal(st.bad_bytes, 14);
	assert_true(valid_utf8((const unsigned char *)s, strlen(s)));
	rf_free(s);
	/* valid multi-byte text, 4-byte characters and separators pass */
	keep("Hôpital « Cœur » ’ \xf0\x9f\x98\x80 \xe2\x80\xaf Ærø");
	/* a name cut by an invalid byte is still found */
	expect("Dr Martin\xff", "Dr [NOM]\xef\xbf\xbd");
	/* an identifier at the very end, a truncated one */
	expect("IPP 1234567", "IPP [ID]");
	expect("0612345", "[ID]");
	expect("06123", "06123");
}

static void test_style_and_stats(void **state)
{
	struct anon_report_ctx c;
	struct anon_report_stats st;
	static const char in[] = "Dr Martin, 01 23 45 67 89, 95 ans, "
				 "12/03/2024, 31/02/2024, x@y.fr";
	char *s;

	(void)state;
	anon_report_ctx_init(&c);
	c.style = ANON_REPORT_STYLE_GENERIC;
	c.date_shift_days = 1;
	s = scrub_st(&c, in, sizeof in - 1, &st);
	assert_string_equal(s, "Dr [***], [***], 90 ans ou plus, 13/03/2024, "
			       "[***], [***]");
	assert_int_equal(st.count[ANON_REPORT_NAME], 1);
	assert_int_equal(st.count[ANON_REPORT_PHONE], 1);
	assert_int_equal(st.count[ANON_REPORT_AGE], 1);
	assert_int_equal(st.count[ANON_REPORT_DATE], 2);
	assert_int_equal(st.dates_invalid, 1);
	assert_int_equal(st.count[ANON_REPORT_EMAIL], 1);
	rf_free(s);
	assert_string_equal(anon_report_cat_name(ANON_REPORT_CITY), "city");
	assert_string_equal(anon_report_cat_tag(ANON_REPORT_CITY),
			    "[CP VILLE]");
	assert_string_equal(anon_report_cat_name(ANON_REPORT_CAT_COUNT),
			    "unknown");
}

static void test_ctx_limits(void **state)
{
	struct anon_report_ctx c;
	struct rf_err e = {0};
	char longid[ANON_REPORT_ID_MAX + 2];

	(void)state;
	anon_report_ctx_init(&c);
	for (int i = 0; i < ANON_REPORT_MAX_NAMES; i++)
		RF_ASSERT_OK(anon_report_ctx_add_name(&c, "A^B", NULL));
	RF_ASSERT_RC(anon_report_ctx_add_name(&c, "A^B", &e), RF_ETOOBIG);
	assert_int_equal(c.n_names, ANON_REPORT_MAX_NAMES);
	RF_ASSERT_RC(anon_report_ctx_add_name(&c, NULL, &e), RF_EINVAL);
	memset(longid, 'x', sizeof longid - 1);
	longid[sizeof longid - 1] = 0;
	RF_ASSERT_RC(anon_report_ctx_add_id(&c, longid, &e), RF_ETOOBIG);
	assert_int_equal(c.n_ids, 0);
	RF_ASSERT_RC(anon_report_scrub(NULL, "x", 1, NULL, NULL, &e),
		     RF_EINVAL);
}

static void test_oom(void **state)
{
	struct anon_report_ctx c;
	struct rf_buf b;
	struct anon_report_stats st;
	enum rf_rc rc;
	static const char in[] =
		"Patient : DUPONT Jean-Pierre, né le 12/03/1945, IPP 1234567,"
		" 1 84 12 75 123 456 40, 12 rue des Lilas 75013 Paris, "
		"01 23 45 67 89, jp.dupont@exemple.fr. Nodule de 12 mm.";

	(void)state;
	seeded(&c);
	c.date_shift_days = 7;
	RF_TEST_OOM_LOOP(rc,
			 {
				 rf_buf_init(&b, 1 << 16);
				 rc = anon_report_scrub(&c, in, sizeof in - 1,
							&b, &st, NULL);
				 if (rc)
					 rf_buf_release(&b);
			 },
			 {
				 assert_non_null(strstr(rf_buf_str(&b),
							"[NIR]"));
				 rf_buf_release(&b);
			 });
}

static void test_too_big(void **state)
{
	struct anon_report_ctx c;
	struct rf_buf b;
	struct rf_err e = {0};
	size_t n = 4u << 20;
	char *in = rf_malloc(n);
	enum rf_rc rc;

	(void)state;
	assert_non_null(in);
	for (size_t i = 0; i < n; i++)
		in[i] = "Nodule de 12 mm, Dr Martin. "[i % 28];
	anon_report_ctx_init(&c);
	rf_buf_init(&b, 1 << 20);
	RF_ASSERT_OK(rf_buf_puts(&b, "head:", NULL));
	rc = anon_report_scrub(&c, in, n, &b, NULL, &e);
	assert_int_equal(rc, RF_ETOOBIG);
	assert_int_equal(b.len, 5);
	assert_string_equal(rf_buf_str(&b), "head:");
	assert_non_null(strstr(e.msg, "cannot scrub report"));
	/* the same text fits a larger cap */
	b.max = 8u << 20;
	RF_ASSERT_OK(anon_report_scrub(&c, in, n, &b, NULL, &e));
	assert_true(b.len > n / 2);
	assert_non_null(strstr(rf_buf_str(&b), "Dr [NOM]. Nodule de 12 mm"));
	rf_buf_release(&b);
	rf_free(in);
	/* empty text */
	rf_buf_init(&b, 16);
	RF_ASSERT_OK(anon_report_scrub(&c, "", 0, &b, NULL, NULL));
	assert_int_equal(b.len, 0);
	rf_buf_release(&b);
}

/* Long runs that every rule looks into: they must complete (the scan is
 * linear) and leave the input untouched. */
static void test_pathological(void **state)
{
	static const char *const units[] = {
		"a-", " ", "1", "Dr ", "1-", "é", "\xff", "12/", "a.", "Jean ",
		"rue ", "0", "+3", "@", "A", "IPP ", "x@y.", "75013 ",
	};
	size_t n = 1u << 20;
	char *in = rf_malloc(n), *copy = rf_malloc(n);
	struct anon_report_ctx c;
	struct rf_buf b;

	(void)state;
	assert_non_null(in);
	assert_non_null(copy);
	seeded(&c);
	for (size_t u = 0; u < sizeof units / sizeof units[0]; u++) {
		size_t ul = strlen(units[u]);

		for (size_t i = 0; i < n; i++)
			in[i] = units[u][i % ul];
		memcpy(copy, in, n);
		rf_buf_init(&b, 8 * n);
		RF_ASSERT_OK(anon_report_scrub(&c, in, n, &b, NULL, NULL));
		assert_memory_equal(in, copy, n);
		rf_buf_release(&b);
	}
	rf_free(in);
	rf_free(copy);
}

static void test_textgen_deterministic(void **state)
{
	struct anon_textgen g1, g2;
	struct anon_textgen_doc d1, d2;
	struct rf_err e = {0};

	(void)state;
	anon_textgen_init(&g1, 42);
	anon_textgen_init(&g2, 42);
	anon_textgen_doc_init(&d1, 1 << 16);
	anon_textgen_doc_init(&d2, 1 << 16);
	for (int r = 0; r < 20; r++) {
		RF_ASSERT_OK_E(anon_textgen_report(&g1, &d1, &e), &e);
		RF_ASSERT_OK_E(anon_textgen_report(&g2, &d2, &e), &e);
		assert_int_equal(d1.text.len, d2.text.len);
		assert_memory_equal(d1.text.data, d2.text.data, d1.text.len);
		assert_int_equal(d1.n_spans, d2.n_spans);
		assert_true(d1.n_spans >= 10);
		assert_true(d1.n_sentences >= 6);
		for (size_t i = 0; i < d1.n_spans; i++)
			assert_true(d1.spans[i].off + d1.spans[i].len <=
				    d1.text.len);
		assert_true(valid_utf8(d1.text.data, d1.text.len));
	}
	anon_textgen_init(&g2, 43);
	RF_ASSERT_OK(anon_textgen_report(&g2, &d2, &e));
	assert_false(d1.text.len == d2.text.len &&
		     memcmp(d1.text.data, d2.text.data, d1.text.len) == 0);
	/* the text cap is honoured */
	anon_textgen_doc_release(&d2);
	anon_textgen_doc_init(&d2, 100);
	RF_ASSERT_RC(anon_textgen_report(&g2, &d2, &e), RF_ETOOBIG);
	assert_int_equal(d2.text.len, 0);
	anon_textgen_doc_release(&d1);
	anon_textgen_doc_release(&d2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seed_names),
		cmocka_unit_test(test_titles),
		cmocka_unit_test(test_nir),
		cmocka_unit_test(test_identifiers),
		cmocka_unit_test(test_phones),
		cmocka_unit_test(test_email),
		cmocka_unit_test(test_addresses),
		cmocka_unit_test(test_dates),
		cmocka_unit_test(test_ages),
		cmocka_unit_test(test_clinical_kept),
		cmocka_unit_test(test_utf8),
		cmocka_unit_test(test_style_and_stats),
		cmocka_unit_test(test_ctx_limits),
		cmocka_unit_test(test_oom),
		cmocka_unit_test(test_too_big),
		cmocka_unit_test(test_pathological),
		cmocka_unit_test(test_textgen_deterministic),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
