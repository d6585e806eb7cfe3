/*
 * anon_synth.c - the synthetic imaging set (see anon_synth.h): patients,
 * studies and labels are planned first, then every image is rendered,
 * encoded and written, then the reports and the truth files.
 *
 * Random streams: every decision draws from an xoshiro256** stream
 * (anon_textgen_next) whose seed is the run's seed mixed through splitmix64
 * with what the stream is for (a patient, a study's nodule, one image's
 * noise...). A patient's identity therefore does not depend on the image
 * size, and one image's pixels do not depend on the images before it.
 * No floating-point function of libm is used: the Gaussian profiles use a
 * fixed polynomial, so pixels are the same wherever the code runs.
 */
#include "anon_synth.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "anon_dicom.h"
#include "anon_pseudo.h"
#include "anon_synth_int.h"
#include "anon_textgen.h"
#include "rf_alloc.h"
#include "rf_file.h"
#include "rf_crypto.h"

#define ORG_ROOT "1.2.826.0.1.3680043.10.543"
#define SOP_CT "1.2.840.10008.5.1.4.1.1.2"
#define SOP_CR "1.2.840.10008.5.1.4.1.1.1"
#define SOP_US "1.2.840.10008.5.1.4.1.1.6.1"
#define SOP_SC "1.2.840.10008.5.1.4.1.1.7"
#define CT_FOV_MM 350.0
#define CR_FOV_MM 430.0

enum { MOD_CT = 1, MOD_CR, MOD_US, MOD_SC };

/* What each random stream is for (mixed into its seed). */
enum { S_PATIENT = 1, S_LABELS, S_NODULE, S_IMAGE, S_REPORT, S_GLOBAL };

/* ---- random numbers and small helpers ------------------------------------ */

static uint64_t sm64(uint64_t x)
{
	uint64_t z = x + 0x9e3779b97f4a7c15ULL;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void stream(struct anon_textgen *g, uint64_t seed, unsigned kind,
		   unsigned a, unsigned b)
{
	uint64_t k = ((uint64_t)kind << 56) ^ ((uint64_t)a << 24) ^ b;

	anon_textgen_init(g, sm64(seed ^ sm64(k)));
}

static unsigned rnd(struct anon_textgen *g, unsigned n)
{
	return n ? (unsigned)(anon_textgen_next(g) % n) : 0;
}

static int range(struct anon_textgen *g, int lo, int hi)
{
	return lo + (int)rnd(g, (unsigned)(hi - lo + 1));
}

static double unif(struct anon_textgen *g)
{
	return (double)(anon_textgen_next(g) >> 11) * 0x1.0p-53;
}

/* A standard normal deviate, approximately: the sum of four uniforms
 * (Irwin-Hall), centred and scaled to unit variance. */
static double gauss(struct anon_textgen *g)
{
	uint64_t r = anon_textgen_next(g);
	double s = (double)(r & 0xffff) + (double)((r >> 16) & 0xffff) +
		   (double)((r >> 32) & 0xffff) + (double)(r >> 48);

	return (s - 2.0 * 65535.0) / 65535.0 * 1.7320508075688772;
}

/* exp(-x) for x >= 0, from a Taylor polynomial of exp(-x/256) squared
 * eight times: about 1e-9 relative error, no libm. */
static double exp_neg(double x)
{
	double y, t;

	if (x > 40)
		return 0;
	y = x / 256.0;
	t = 1 - y * (1 - y / 2 * (1 - y / 3 * (1 - y / 4 * (1 - y / 5))));
	for (int i = 0; i < 8; i++)
		t *= t;
	return t;
}

static double sq(double x)
{
	return x * x;
}

#define PICK(g, arr) ((arr)[rnd((g), sizeof(arr) / sizeof((arr)[0]))])

/* "YYYYMMDD" (fr 0) or "DD/MM/YYYY" (fr 1) into buf[16]. */
static char *fmt_date(int days, int fr, char *buf)
{
	int y, m, d;

	anon_civil_from_days(days, &y, &m, &d);
	if (fr)
		snprintf(buf, 16, "%02d/%02d/%04d", d, m, y);
	else
		snprintf(buf, 16, "%04d%02d%02d", y, m, d);
	return buf;
}

/* ---- invented identities --------------------------------------------------
 * Common French surnames and given names, with their accents; a share of
 * the surnames get a particle or a second, hyphenated name. */

static const char *const families[] = {
	"MARTIN", "BERNARD", "DUBOIS", "THOMAS", "ROBERT", "RICHARD",
	"PETIT", "DURAND", "LEROY", "MOREAU", "SIMON", "LAURENT",
	"LEFÈVRE", "MICHEL", "GARCIA", "BERTRAND", "ROUX", "VINCENT",
	"FOURNIER", "MOREL", "GIRARD", "ANDRÉ", "MERCIER", "DUPONT",
	"LAMBERT", "BONNET", "FRANÇOIS", "LEGRAND", "GARNIER", "FAURE",
	"ROUSSEAU", "GUÉRIN", "MULLER", "HENRY", "PERRIN", "MORIN",
	"CLÉMENT", "GAUTHIER", "FONTAINE", "CHEVALIER", "MASSON", "GÉRARD",
	"NGUYEN", "BOYER", "LEMAIRE", "DUVAL", "NOËL", "MEUNIER", "PÉREZ",
	"MARCHAND", "DUFOUR", "BLANCHARD", "BARBIER", "BRUNET", "LEROUX",
	"CARON", "AUBERT", "GIRAUD", "LECLERC", "RIVIÈRE", "LE GALL",
	"BENOÎT", "MÉNARD", "DESCHAMPS", "BÉRANGER", "LEVÊQUE", "DUPRÉ",
	"CHÂTELAIN", "HÉBERT", "BRETON", "LE GOFF", "KERGUÉLEN", "MOÏSE",
	"ÉTIENNE", "DUCHÊNE", "LAGRANGE", "BOUCHÉ", "AÏT-SAÏD", "TRAORÉ",
};

static const char *const particles[] = {"DE ", "DE LA ", "DU ", "LE ",
					"DES "};

static const char *const given_f[] = {
	"Hélène", "Élodie", "Françoise", "Chloé", "Zoé", "Anaïs", "Noémie",
	"Maëlle", "Léa", "Inès", "Céline", "Agnès", "Thérèse", "Bérénice",
	"Clémence", "Gaëlle", "Mélanie", "Marie-Hélène", "Anne-Sophie",
	"Marie-Thérèse", "Josée", "Margaux", "Camille", "Sophie",
	"Isabelle", "Nathalie", "Monique", "Sylvie", "Geneviève", "Aurélie",
	"Émilie", "Solène", "Renée", "Josiane", "Andrée", "Cécile",
};

static const char *const given_m[] = {
	"François", "Jérôme", "Stéphane", "Frédéric", "Éric", "Loïc",
	"Joël", "Hervé", "Cédric", "Sébastien", "Raphaël", "Noël", "André",
	"René", "Gérard", "Jean-François", "Jean-Benoît", "Pierre-Étienne",
	"Léo", "Mathéo", "Benoît", "Thierry", "Olivier", "Mickaël",
	"Jean-Noël", "Grégoire", "Aurélien", "Jérémy", "Timothée", "Gaëtan",
	"Maël", "Anaël", "Jean", "Paul", "Michel", "Jacques",
};

static const struct {
	const char *name;
	const char *zip;
} cities[] = {
	{"Besançon", "25000"},         {"Saint-Étienne", "42000"},
	{"Orléans", "45000"},          {"Nîmes", "30000"},
	{"Périgueux", "24000"},        {"Clermont-Ferrand", "63000"},
	{"Angoulême", "16000"},        {"Évreux", "27000"},
	{"Châlons-en-Champagne", "51000"}, {"Aix-en-Provence", "13100"},
	{"Béziers", "34500"},          {"Montbéliard", "25200"},
	{"Rennes", "35000"},           {"Lyon", "69003"},
	{"Sète", "34200"},             {"Mâcon", "71000"},
};

static const char *const streets[] = {
	"rue des Écoles", "avenue Jean-Jaurès", "boulevard Gambetta",
	"impasse des Mûriers", "chemin de la Forêt", "place de l'Église",
	"allée des Châtaigniers", "rue du Général-Leclerc", "quai Voltaire",
	"rue de la Paix", "route de Besançon", "rue Émile-Zola",
	"avenue de la Libération", "rue des Prés-Hauts", "cours Lafayette",
};

static const struct {
	const char *name;
	const char *address;
	const char *dept;
	const char *issuer;
} institutions[] = {
	{"Centre hospitalier de Périgueux-Sud",
	 "80 avenue Georges-Pompidou 24000 Périgueux",
	 "Service d'imagerie médicale", "CHPS"},
	{"Clinique Sainte-Thérèse", "3 rue de l'Hôpital 25000 Besançon",
	 "Radiologie - pôle thorax", "CSTB"},
	{"Hôpital privé des Châtaigniers",
	 "12 allée des Châtaigniers 63000 Clermont-Ferrand",
	 "Imagerie thoracique", "HPCF"},
	{"CHU de Saint-Étienne - Hôpital Nord",
	 "avenue Albert-Raimond 42270 Saint-Priest-en-Jarez",
	 "Radiologie centrale", "CHUSE"},
	{"Centre d'imagerie médicale du Val-d'Allier",
	 "5 quai de l'Allier 03000 Moulins", "Scanographie", "CIMVA"},
};

struct person {
	char family[64]; /* "LEFÈVRE", UTF-8 */
	char given[48];  /* "Hélène" */
	char pn[128];    /* "LEFÈVRE^Hélène" */
};

struct study {
	unsigned index;  /* 1-based within the patient */
	unsigned global; /* 0-based over the set */
	int date;        /* days since 1970-01-01 */
	unsigned time;   /* seconds since midnight */
	int modality;    /* MOD_CT, MOD_CR */
	int extra;       /* 0, MOD_US or MOD_SC: one image to quarantine */
	int burned_yes;  /* extra: BurnedInAnnotation YES (else absent) */
	int mono1;       /* CR: MONOCHROME1 */
	int label;
	double nu, nv;   /* nodule centre, -1..1 of the half width */
	double nsig;     /* nodule sigma, pixels */
	double namp;     /* nodule amplitude (HU or CR units) */
	int nod_mm, nod_upper, nod_right;
	unsigned inst;   /* institution */
	double body_w;   /* the patient's, for the nodule's place */
	char accession[20], study_id[12], rp_id[20], sps_id[20], pps_id[20];
	char uid[65], for_uid[65];
	char series_uid[2][65], sop_root[2][65];
	char station[24], serial[24];
	struct person ref, perf, read, oper, req;
};

struct patient {
	struct person name;
	int female;
	int birth;
	char pid[16], nir[20], addr[128], phone[24];
	int utf8;
	unsigned nstudies;
	struct study st[2];
	double body_w, body_h, noise; /* anatomy and scanner noise */
};

static void person_make(struct anon_textgen *g, int female,
			struct person *p)
{
	const char *f = PICK(g, families);
	char fam[64];

	if (rnd(g, 100) < 12) {
		snprintf(fam, sizeof fam, "%s-%s", f, PICK(g, families));
	} else if (rnd(g, 100) < 10) {
		const char *pt = PICK(g, particles);

		if (strchr("AEIOU", f[0]) && rnd(g, 2))
			pt = "D'";
		snprintf(fam, sizeof fam, "%s%s", pt, f);
	} else {
		snprintf(fam, sizeof fam, "%s", f);
	}
	snprintf(p->family, sizeof p->family, "%s", fam);
	snprintf(p->given, sizeof p->given, "%s",
		 female ? PICK(g, given_f) : PICK(g, given_m));
	snprintf(p->pn, sizeof p->pn, "%s^%s", p->family, p->given);
}

/* A 2.25 UID: a 39-digit decimal below 3e38, so below 2^128. */
static void uid_225(struct anon_textgen *g, char *out)
{
	char *p = out + snprintf(out, 65, "2.25.%u", 1 + rnd(g, 2));

	for (int i = 0; i < 38; i++)
		*p++ = (char)('0' + rnd(g, 10));
	*p = 0;
}

static void uid_org(struct anon_textgen *g, unsigned kind, int date,
		    char *out)
{
	char d[16];

	snprintf(out, 65, "%s.%u.%s%06u.%u%06u", ORG_ROOT, kind,
		 fmt_date(date, 0, d), rnd(g, 1000000), 1 + rnd(g, 9),
		 rnd(g, 1000000));
}

/* The NIR of a person: sex, year and month of birth, department,
 * commune, order, and the key 97 - (number mod 97). */
static void nir_make(struct anon_textgen *g, int female, int birth,
		     const char *zip, char *out)
{
	int y, m, d;
	unsigned long long n;

	anon_civil_from_days(birth, &y, &m, &d);
	n = (unsigned long long)(female ? 2 : 1) * 1000000000000ULL +
	    (unsigned long long)(y % 100) * 10000000000ULL +
	    (unsigned long long)m * 100000000ULL +
	    (unsigned long long)((zip[0] - '0') * 10 + (zip[1] - '0')) *
		    1000000ULL +
	    (unsigned long long)(1 + rnd(g, 999)) * 1000ULL +
	    (unsigned long long)(1 + rnd(g, 999));
	snprintf(out, 20, "%013llu%02llu", n, 97 - n % 97);
}

static void plan_patient(struct patient *p, unsigned idx, uint64_t seed,
			 unsigned *global)
{
	struct anon_textgen g;
	unsigned c, s;
	int age, first, yy, mm, dd;

	stream(&g, seed, S_PATIENT, idx, 0);
	p->female = (int)rnd(&g, 2);
	person_make(&g, p->female, &p->name);
	first = anon_days_from_civil(2016, 1, 1) + (int)rnd(&g, 3400);
	/* one patient in ten is over 89 at the first study */
	age = rnd(&g, 10) == 0 ? range(&g, 90, 101) : range(&g, 19, 88);
	p->birth = first - age * 365 - (int)rnd(&g, 365);
	snprintf(p->pid, sizeof p->pid, "%u%08u", 80 + rnd(&g, 20),
		 rnd(&g, 100000000));
	c = rnd(&g, sizeof cities / sizeof cities[0]);
	nir_make(&g, p->female, p->birth, cities[c].zip, p->nir);
	snprintf(p->addr, sizeof p->addr, "%u%s %s %s %s", 1 + rnd(&g, 120),
		 rnd(&g, 6) ? "" : " bis", PICK(&g, streets), cities[c].zip,
		 cities[c].name);
	snprintf(p->phone, sizeof p->phone, "0%u %02u %02u %02u %02u",
		 rnd(&g, 3) ? 1 + rnd(&g, 5) : 6 + rnd(&g, 2), rnd(&g, 100),
		 rnd(&g, 100), rnd(&g, 100), rnd(&g, 100));
	p->body_w = 0.78 + 0.1 * unif(&g);
	p->body_h = 0.55 + 0.12 * unif(&g);
	p->noise = 12 + 18 * unif(&g);
	p->nstudies = rnd(&g, 3) ? 1 : 2;
	for (s = 0; s < p->nstudies; s++) {
		struct study *t = &p->st[s];

		t->index = s + 1;
		t->global = (*global)++;
		t->body_w = p->body_w;
		t->date = s ? p->st[0].date + range(&g, 30, 900) : first;
		t->time = (unsigned)range(&g, 7 * 3600, 19 * 3600);
		t->modality = rnd(&g, 5) < 3 ? MOD_CT : MOD_CR;
		t->mono1 = t->modality == MOD_CR && rnd(&g, 5) < 2;
		t->inst = rnd(&g, sizeof institutions /
				      sizeof institutions[0]);
		anon_civil_from_days(t->date, &yy, &mm, &dd);
		snprintf(t->accession, sizeof t->accession, "%s%02d%07u",
			 t->modality == MOD_CT ? "TDM" : "RX", yy % 100,
			 rnd(&g, 10000000));
		snprintf(t->study_id, sizeof t->study_id, "%u",
			 1000 + rnd(&g, 9000));
		snprintf(t->rp_id, sizeof t->rp_id, "RP%08u",
			 rnd(&g, 100000000));
		snprintf(t->sps_id, sizeof t->sps_id, "SPS%07u",
			 rnd(&g, 10000000));
		snprintf(t->pps_id, sizeof t->pps_id, "PPS%07u",
			 rnd(&g, 10000000));
		if (rnd(&g, 2))
			uid_225(&g, t->uid);
		else
			uid_org(&g, 1, t->date, t->uid);
		uid_225(&g, t->for_uid);
		for (c = 0; c < 2; c++) {
			uid_org(&g, 2, t->date, t->series_uid[c]);
			uid_org(&g, 3, t->date, t->sop_root[c]);
		}
		person_make(&g, (int)rnd(&g, 2), &t->ref);
		person_make(&g, (int)rnd(&g, 2), &t->perf);
		person_make(&g, (int)rnd(&g, 2), &t->read);
		person_make(&g, (int)rnd(&g, 2), &t->oper);
		if (rnd(&g, 2))
			t->req = t->ref;
		else
			person_make(&g, (int)rnd(&g, 2), &t->req);
		snprintf(t->station, sizeof t->station, "%s-%s-%02u",
			 t->modality == MOD_CT ? "TDM" : "RX",
			 institutions[t->inst].issuer, 1 + t->inst);
		snprintf(t->serial, sizeof t->serial, "SN%07u",
			 (unsigned)(sm64(seed ^ (t->inst * 31u +
						 (unsigned)t->modality)) %
				    10000000u));
	}
}

/* ---- pixels -------------------------------------------------------------- */

struct img {
	unsigned size;
	double *f;      /* size*size working values */
	uint8_t *px;    /* native little-endian pixel bytes */
	size_t px_len;
	unsigned bits;  /* 8 or 16 */
};

static void add_blob(struct img *im, double cx, double cy, double sig,
		     double amp)
{
	int n = (int)im->size, x0, x1, y0, y1;
	double r = 3.5 * sig;

	x0 = (int)(cx - r);
	x1 = (int)(cx + r) + 1;
	y0 = (int)(cy - r);
	y1 = (int)(cy + r) + 1;
	x0 = x0 < 0 ? 0 : x0;
	y0 = y0 < 0 ? 0 : y0;
	x1 = x1 > n ? n : x1;
	y1 = y1 > n ? n : y1;
	for (int y = y0; y < y1; y++)
		for (int x = x0; x < x1; x++)
			im->f[(size_t)y * n + x] +=
				amp * exp_neg((sq(x + 0.5 - cx) +
					       sq(y + 0.5 - cy)) /
					      (2 * sig * sig));
}

/* Where the lungs are, in units of the half width. */
static int in_lung(const struct patient *p, double u, double v, double lf)
{
	double au = u < 0 ? -u : u;

	return sq((au - 0.42 * p->body_w) / (0.28 * lf)) +
		       sq((v + 0.04) / (0.40 * lf)) <=
	       1;
}

/* Image n (0-based) of k of the main series of study s, into im (values
 * in HU for CT, in CR units before photometric inversion). */
static void render_main(const struct patient *p, const struct study *s,
			unsigned n, unsigned k, uint64_t seed, struct img *im)
{
	struct anon_textgen g;
	unsigned size = im->size, x, y;
	double half = size / 2.0, z, lf, bw = p->body_w, bh = p->body_h;
	int ct = s->modality == MOD_CT;

	stream(&g, seed, S_IMAGE, s->global, n);
	z = k > 1 ? 2.0 * n / (k - 1) - 1 : 0;
	lf = ct ? 1 - 0.15 * z * z : 1;
	for (y = 0; y < size; y++) {
		double v = (y + 0.5 - half) / half;

		for (x = 0; x < size; x++) {
			double u = (x + 0.5 - half) / half, val;

			if (ct) {
				if (sq(u / bw) + sq((v - 0.02) / bh) > 1)
					val = -1000;
				else if (sq(u / (bw - 0.05)) +
						 sq((v - 0.02) / (bh - 0.05)) >
					 1)
					val = -90; /* subcutaneous fat */
				else
					val = 40;
				if (val == 40 && in_lung(p, u, v, lf))
					val = -850;
				if (sq((u - 0.08) / 0.2) +
					    sq((v - 0.08) / 0.17) <=
				    1)
					val = 45; /* heart */
				if (sq(u / 0.09) +
					    sq((v - 0.72 * bh) / 0.09) <=
				    1)
					val = 700; /* vertebra */
				if (sq((u + 0.1) / 0.055) +
					    sq((v - 0.38 * bh) / 0.055) <=
				    1)
					val = 50; /* aorta */
			} else {
				if (sq(u / 0.86) + sq((v - 0.1) / 0.95) > 1)
					val = 150; /* direct exposure */
				else
					val = 1900 + 250 * v;
				if (val > 150 &&
				    sq(((u < 0 ? -u : u) - 0.38) / 0.27) +
						    sq((v + 0.05) / 0.55) <=
					    1)
					val = 1000 + 150 * v;
				if (val > 150 && (u < 0 ? -u : u) < 0.1)
					val = 2500; /* mediastinum, spine */
				if (sq((u - 0.12) / 0.25) +
					    sq((v - 0.3) / 0.22) <=
				    1)
					val = 2300; /* heart */
			}
			im->f[(size_t)y * size + x] = val;
		}
	}
	/* vessels seen end-on: distractors on every image */
	for (int i = 0, nv = range(&g, 1, 4); i < nv; i++) {
		double u = (unif(&g) - 0.5) * 1.2, v = (unif(&g) - 0.5) * 0.8;

		add_blob(im, half + u * half, half + v * half,
			 size * (0.004 + 0.006 * unif(&g)),
			 ct ? 150 + 300 * unif(&g) : 120 + 200 * unif(&g));
	}
	if (s->label)
		add_blob(im, half + s->nu * half + (unif(&g) - 0.5),
			 half + s->nv * half + (unif(&g) - 0.5), s->nsig,
			 s->namp * (1 - 0.35 * z * z));
	for (size_t i = 0; i < (size_t)size * size; i++) {
		double val = im->f[i] + gauss(&g) * (ct ? p->noise
							: 2 * p->noise);
		long q;

		if (ct) {
			q = (long)(val + 1024 + 32768.5) - 32768;
			q = q < -32768 ? -32768 : q > 32767 ? 32767 : q;
		} else {
			q = (long)(val + 0.5);
			q = q < 0 ? 0 : q > 4095 ? 4095 : q;
			if (s->mono1)
				q = 4095 - q;
		}
		im->px[2 * i] = (uint8_t)((unsigned long)q & 0xff);
		im->px[2 * i + 1] = (uint8_t)(((unsigned long)q >> 8) & 0xff);
	}
	im->bits = 16;
	im->px_len = (size_t)size * size * 2;
}

/* An 8-bit screen capture (SC) of the study's first image, or an
 * ultrasound-like sector (US), with a banner of burned-in text. */
static void render_extra(const struct patient *p, const struct study *s,
			 unsigned k, uint64_t seed, struct img *im)
{
	struct anon_textgen g;
	unsigned size = im->size, x, y, npx = size * size;
	double half = size / 2.0;

	stream(&g, seed, S_IMAGE, s->global, 1000);
	if (s->extra == MOD_SC) {
		render_main(p, s, 0, k, seed, im);
		for (size_t i = 0; i < npx; i++) {
			long q = (long)im->px[2 * i] |
				 (long)im->px[2 * i + 1] << 8;
			double w;

			if (s->modality == MOD_CT) /* window -1000..400 HU */
				w = ((double)(q >= 32768 ? q - 65536 : q) -
				     1024 + 1000) / 1400;
			else
				w = (s->mono1 ? 4095 - q : q) / 4095.0;
			w = w < 0 ? 0 : w > 1 ? 1 : w;
			im->px[i] = (uint8_t)(w * 255 + 0.5);
		}
	} else {
		for (y = 0; y < size; y++)
			for (x = 0; x < size; x++) {
				double u = (x + 0.5 - half) / half;
				double v = (y + 0.5) / size;
				double au = u < 0 ? -u : u;
				uint8_t val = 0;

				if (v > 0.1 && v < 0.95 && au < v * 0.75) {
					double sp = unif(&g);

					val = (uint8_t)(30 + 90 * sp * sp +
							(sq(u) + sq(v - 0.55) <
								 0.03 ?
								 0 :
								 40 * v));
				}
				im->px[(size_t)y * size + x] = val;
			}
	}
	/* the banner: glyph-like blocks of text burned into the pixels */
	for (y = 1; y < size / 10 + 1 && y < size; y++)
		for (x = 2; x + 2 < size; x++)
			im->px[(size_t)y * size + x] = 0;
	for (x = 2; x + 6 < size; x += 4) {
		unsigned bits = rnd(&g, 1u << 15);

		for (unsigned b = 0; b < 15; b++) {
			unsigned gx = x + b % 3, gy = 2 + b / 3;

			if ((bits >> b & 1) && gy < size)
				im->px[(size_t)gy * size + gx] = 255;
		}
	}
	im->bits = 8;
	im->px_len = npx;
}

/* ---- datasets ------------------------------------------------------------ */

/* A dataset under construction, with a sticky error. */
struct bld {
	struct anon_ds *ds;
	struct rf_err *e;
	enum rf_rc rc;
};

static void put_s(struct bld *b, uint32_t tag, uint16_t vr, const char *fmt,
		  ...) RF_PRINTF(4, 5);

static void put_s(struct bld *b, uint32_t tag, uint16_t vr, const char *fmt,
		  ...)
{
	char v[1024];
	va_list ap;

	if (b->rc)
		return;
	va_start(ap, fmt);
	vsnprintf(v, sizeof v, fmt, ap);
	va_end(ap);
	b->rc = anon_vr_is_text(vr) ? anon_ds_set_text(b->ds, tag, vr, v, b->e)
				    : anon_ds_set_str(b->ds, tag, vr, v, b->e);
}

static void put_u16(struct bld *b, uint32_t tag, uint16_t v)
{
	if (!b->rc)
		b->rc = anon_ds_set_u16(b->ds, tag, v, b->e);
}

static void put_bin(struct bld *b, uint32_t tag, uint16_t vr, const void *p,
		    size_t n)
{
	if (!b->rc)
		b->rc = anon_ds_set_bytes(b->ds, tag, vr, p, n, b->e);
}

/* Appends an item to the sequence tag of b (created if needed) and points
 * sub at it; the caller copies sub.rc back into b when done. */
static void item(struct bld *b, uint32_t tag, struct bld *sub)
{
	struct anon_elem *sq = NULL;
	struct anon_ds *it = NULL;

	sub->e = b->e;
	sub->ds = NULL;
	if (!b->rc)
		b->rc = anon_ds_add_seq(b->ds, tag, &sq, b->e);
	if (!b->rc)
		b->rc = anon_elem_insert_item(sq, sq->nitems, b->ds, &it,
					      b->e);
	sub->rc = b->rc;
	sub->ds = it;
}

#define T(g, e) ANON_TAG(0x##g, 0x##e)
#define V(s) ANON_VR((s)[0], (s)[1])

static void put_pn(struct bld *b, uint32_t tag, const struct person *p)
{
	put_s(b, tag, V("PN"), "%s", p->pn);
}

static void put_time(struct bld *b, uint32_t tag, unsigned sec)
{
	put_s(b, tag, V("TM"), "%02u%02u%02u", sec / 3600 % 24,
	      sec / 60 % 60, sec % 60);
}

struct file_ref {
	const struct patient *p;
	const struct study *s;
	unsigned series; /* 0: main, 1: extra */
	unsigned n, k;   /* image n (0-based) of k */
	unsigned idx;    /* patient index, 1-based */
};

static const char *sop_class_of(int mod)
{
	return mod == MOD_CT ? SOP_CT : mod == MOD_CR ? SOP_CR :
	       mod == MOD_US ? SOP_US : SOP_SC;
}

static void build(struct bld *b, const struct file_ref *f,
		  const struct img *im)
{
	const struct patient *p = f->p;
	const struct study *s = f->s;
	int mod = f->series ? s->extra : s->modality;
	int ct = mod == MOD_CT, main = !f->series;
	unsigned sec = s->time + 60 * f->series + 7 * f->n, size = im->size;
	char d[16], dob[16], y[16];
	struct bld sub;
	double spacing = (ct ? CT_FOV_MM : CR_FOV_MM) / size;
	int age = (s->date - p->birth) * 4 / 1461;

	fmt_date(s->date, 0, d);
	fmt_date(p->birth, 0, dob);
	put_s(b, T(0008, 0005), V("CS"), "%s",
	      p->utf8 ? "ISO_IR 192" : "ISO_IR 100");
	put_s(b, T(0008, 0008), V("CS"), "%s",
	      ct ? "ORIGINAL\\PRIMARY\\AXIAL" : main ? "ORIGINAL\\PRIMARY" :
	      "DERIVED\\SECONDARY");
	put_s(b, T(0008, 0012), V("DA"), "%s", d);
	put_time(b, T(0008, 0013), sec + 30);
	put_s(b, T(0008, 0016), V("UI"), "%s", sop_class_of(mod));
	put_s(b, T(0008, 0018), V("UI"), "%s.%u", s->sop_root[f->series],
	      f->n + 1);
	put_s(b, T(0008, 0020), V("DA"), "%s", d);
	put_s(b, T(0008, 0021), V("DA"), "%s", d);
	put_s(b, T(0008, 0022), V("DA"), "%s", d);
	put_s(b, T(0008, 0023), V("DA"), "%s", d);
	put_s(b, T(0008, 002a), V("DT"), "%s%02u%02u%02u.%06u", d,
	      sec / 3600 % 24, sec / 60 % 60, sec % 60,
	      125000 * f->n % 1000000);
	put_time(b, T(0008, 0030), s->time);
	put_time(b, T(0008, 0031), s->time + 60 * f->series);
	put_time(b, T(0008, 0032), sec);
	put_time(b, T(0008, 0033), sec + 2);
	put_s(b, T(0008, 0050), V("SH"), "%s", s->accession);
	put_s(b, T(0008, 0060), V("CS"), "%s", ct ? "CT" : mod == MOD_CR ?
	      "CR" : mod == MOD_US ? "US" : "OT");
	if (mod == MOD_SC)
		put_s(b, T(0008, 0064), V("CS"), "WSD");
	put_s(b, T(0008, 0070), V("LO"), "%s",
	      mod == MOD_CR ? "Radiografix" : mod == MOD_US ? "Sonaris" :
	      "ACME Medical Systems");
	put_s(b, T(0008, 0080), V("LO"), "%s", institutions[s->inst].name);
	put_s(b, T(0008, 0081), V("ST"), "%s", institutions[s->inst].address);
	put_pn(b, T(0008, 0090), &s->ref);
	put_s(b, T(0008, 1010), V("SH"), "%s", s->station);
	put_s(b, T(0008, 1030), V("LO"), "%s",
	      s->modality == MOD_CT ? "TDM THORAX SANS INJECTION" :
	      "RADIOGRAPHIE THORAX FACE");
	item(b, T(0008, 1032), &sub);
	put_s(&sub, T(0008, 0100), V("SH"), "%s",
	      s->modality == MOD_CT ? "ZBQK001" : "ZBQK002");
	put_s(&sub, T(0008, 0102), V("SH"), "CCAM");
	put_s(&sub, T(0008, 0104), V("LO"), "%s",
	      s->modality == MOD_CT ? "Scanographie du thorax" :
	      "Radiographie du thorax");
	b->rc = sub.rc;
	if (main && s->global % 3 == 0)
		put_s(b, T(0008, 103e), V("LO"), "%s %s thorax", s->ref.family,
		      p->name.family);
	else if (main && s->global % 3 == 1)
		put_s(b, T(0008, 103e), V("LO"), "%s %s %s", ct ?
		      "Thorax 1.25 mm" : "Thorax face", p->name.given,
		      p->name.family);
	else
		put_s(b, T(0008, 103e), V("LO"), "%s", main ? "Thorax" :
		      mod == MOD_US ? "Echographie" : "Capture ecran");
	put_s(b, T(0008, 1040), V("LO"), "%s", institutions[s->inst].dept);
	put_pn(b, T(0008, 1050), &s->perf);
	put_pn(b, T(0008, 1060), &s->read);
	put_pn(b, T(0008, 1070), &s->oper);
	put_s(b, T(0008, 1090), V("LO"), "%s",
	      ct ? "Helix CT 64" : mod == MOD_CR ? "DR-4000 Duo" :
	      mod == MOD_US ? "EchoView 7" : "Viewer Capture");
	if (main && f->k > 1) {
		item(b, T(0008, 1140), &sub);
		put_s(&sub, T(0008, 1150), V("UI"), "%s", sop_class_of(mod));
		put_s(&sub, T(0008, 1155), V("UI"), "%s.%u",
		      s->sop_root[0], (f->n + 1) % f->k + 1);
		b->rc = sub.rc;
	}
	put_s(b, T(0009, 0010), V("LO"), "RADFED SYNTH 1.0");
	put_s(b, T(0009, 1001), V("LO"), "%s", p->name.pn);
	put_s(b, T(0009, 1002), V("LO"), "%s", p->pid);
	put_pn(b, T(0010, 0010), &p->name);
	put_s(b, T(0010, 0020), V("LO"), "%s", p->pid);
	put_s(b, T(0010, 0021), V("LO"), "IPP %s",
	      institutions[s->inst].issuer);
	put_s(b, T(0010, 0030), V("DA"), "%s", dob);
	put_s(b, T(0010, 0040), V("CS"), "%s", p->female ? "F" : "M");
	put_s(b, T(0010, 1000), V("LO"), "%s", p->nir);
	item(b, T(0010, 1002), &sub);
	put_s(&sub, T(0010, 0020), V("LO"), "%s", p->nir);
	put_s(&sub, T(0010, 0021), V("LO"), "INSEE NIR");
	put_s(&sub, T(0010, 0022), V("CS"), "TEXT");
	b->rc = sub.rc;
	put_s(b, T(0010, 1010), V("AS"), "%03dY", age);
	put_s(b, T(0010, 1020), V("DS"), "1.%02u",
	      50 + (unsigned)p->birth % 40);
	put_s(b, T(0010, 1030), V("DS"), "%u", 45 + (unsigned)p->birth % 50);
	put_s(b, T(0010, 1040), V("LO"), "%s", p->addr);
	put_s(b, T(0010, 2154), V("SH"), "%s", p->phone);
	put_s(b, T(0010, 21b0), V("LT"),
	      "Tabagisme sevré. Adressé(e) par le Dr %s %s pour bilan.",
	      s->ref.given, s->ref.family);
	put_s(b, T(0010, 4000), V("LT"),
	      "%s %s, né(e) le %s. Joindre au %s. NIR %s.", p->name.given,
	      p->name.family, fmt_date(p->birth, 1, y), p->phone, p->nir);
	put_s(b, T(0018, 0015), V("CS"), "CHEST");
	if (ct) {
		put_s(b, T(0018, 0050), V("DS"), "1.25");
		put_s(b, T(0018, 0060), V("DS"), "120");
	} else if (mod == MOD_CR) {
		put_s(b, T(0018, 0060), V("DS"), "110");
	}
	put_s(b, T(0018, 1000), V("LO"), "%s", s->serial);
	put_s(b, T(0018, 1020), V("LO"), "SYN 4.2.1");
	put_s(b, T(0018, 1030), V("LO"), "%s", ct ? "THORAX STANDARD" :
	      "THORAX PA");
	if (mod == MOD_CR) {
		put_s(b, T(0018, 1164), V("DS"), "%.4f\\%.4f", spacing,
		      spacing);
		put_s(b, T(0018, 5101), V("CS"), "PA");
	}
	put_s(b, T(0019, 0010), V("LO"), "ACME CT 2.1");
	put_s(b, T(0019, 1010), V("LO"), "%s %s", p->name.given,
	      p->name.family);
	put_s(b, T(0019, 1011), V("LO"), "%s", p->pid);
	put_s(b, T(0020, 000d), V("UI"), "%s", s->uid);
	put_s(b, T(0020, 000e), V("UI"), "%s", s->series_uid[f->series]);
	put_s(b, T(0020, 0010), V("SH"), "%s", s->study_id);
	put_s(b, T(0020, 0011), V("IS"), "%u", f->series + 1);
	put_s(b, T(0020, 0013), V("IS"), "%u", f->n + 1);
	if (ct) {
		double zpos = -150.0 + 1.25 * f->n;

		put_s(b, T(0020, 0032), V("DS"), "%.3f\\%.3f\\%.3f",
		      -CT_FOV_MM / 2, -CT_FOV_MM / 2, zpos);
		put_s(b, T(0020, 0037), V("DS"), "1\\0\\0\\0\\1\\0");
		put_s(b, T(0020, 0052), V("UI"), "%s", s->for_uid);
		put_s(b, T(0020, 1041), V("DS"), "%.3f", zpos);
	} else if (mod == MOD_CR) {
		put_s(b, T(0020, 0020), V("CS"), "L\\F");
	}
	if (f->n == 0 || !main)
		put_s(b, T(0020, 4000), V("LT"), "Examen de %s %s, IPP %s",
		      p->name.given, p->name.family, p->pid);
	put_u16(b, T(0028, 0002), 1);
	put_s(b, T(0028, 0004), V("CS"), "%s",
	      s->mono1 && mod == MOD_CR ? "MONOCHROME1" : "MONOCHROME2");
	put_u16(b, T(0028, 0010), (uint16_t)size);
	put_u16(b, T(0028, 0011), (uint16_t)size);
	if (ct)
		put_s(b, T(0028, 0030), V("DS"), "%.4f\\%.4f", spacing,
		      spacing);
	put_u16(b, T(0028, 0100), (uint16_t)im->bits);
	put_u16(b, T(0028, 0101), (uint16_t)(im->bits == 8 ? 8 : ct ? 16 : 12));
	put_u16(b, T(0028, 0102), (uint16_t)(im->bits == 8 ? 7 : ct ? 15 : 11));
	put_u16(b, T(0028, 0103), ct ? 1 : 0);
	if (main)
		put_s(b, T(0028, 0301), V("CS"), "NO");
	else if (s->burned_yes)
		put_s(b, T(0028, 0301), V("CS"), "YES");
	if (ct) {
		put_s(b, T(0028, 1050), V("DS"), "-600");
		put_s(b, T(0028, 1051), V("DS"), "1500");
		put_s(b, T(0028, 1052), V("DS"), "-1024");
		put_s(b, T(0028, 1053), V("DS"), "1");
		put_s(b, T(0028, 1054), V("LO"), "HU");
	}
	put_pn(b, T(0032, 1032), &s->req);
	put_s(b, T(0032, 1060), V("LO"), "%s",
	      s->modality == MOD_CT ? "Scanner thoracique" :
	      "Radiographie pulmonaire");
	put_s(b, T(0040, 0244), V("DA"), "%s", d);
	put_time(b, T(0040, 0245), s->time);
	put_s(b, T(0040, 0253), V("SH"), "%s", s->pps_id);
	item(b, T(0040, 0275), &sub);
	put_pn(&sub, T(0040, 0006), &s->perf);
	put_s(&sub, T(0040, 0007), V("LO"), "Thorax - demande du Dr %s",
	      s->req.family);
	put_s(&sub, T(0040, 0009), V("SH"), "%s", s->sps_id);
	put_s(&sub, T(0040, 1001), V("SH"), "%s", s->rp_id);
	b->rc = sub.rc;
	if (main) {
		/* an overlay plane: a box around the lung fields */
		size_t nb = ((size_t)size * size + 15) / 16 * 2;
		uint8_t *ov = rf_calloc(1, nb);
		uint8_t org[4] = {1, 0, 1, 0};

		if (!ov && !b->rc)
			b->rc = rf_err_set(b->e, RF_ENOMEM, "out of memory");
		for (unsigned yy = size / 5; ov && yy < size * 4 / 5; yy++)
			for (unsigned xx = size / 8; xx < size * 7 / 8; xx++)
				if (yy == size / 5 || yy + 1 == size * 4 / 5 ||
				    xx == size / 8 || xx + 1 == size * 7 / 8) {
					size_t bit = (size_t)yy * size + xx;

					ov[bit / 8] |= (uint8_t)(1u << bit % 8);
				}
		put_u16(b, T(6000, 0010), (uint16_t)size);
		put_u16(b, T(6000, 0011), (uint16_t)size);
		put_s(b, T(6000, 0022), V("LO"), "Champs pulmonaires");
		put_s(b, T(6000, 0040), V("CS"), "G");
		put_bin(b, T(6000, 0050), V("SS"), org, sizeof org);
		put_u16(b, T(6000, 0100), 1);
		put_u16(b, T(6000, 0102), 0);
		if (ov)
			put_bin(b, T(6000, 3000), V("OW"), ov, nb);
		rf_free(ov);
	}
	put_bin(b, T(7fe0, 0010), im->bits == 8 ? V("OB") : V("OW"), im->px,
		im->px_len);
}

/* ---- files --------------------------------------------------------------- */

/* Writes n bytes to path through path.tmp and a rename: readers never see
 * a partial file, and a failure leaves no temporary file. */
static enum rf_rc write_atomic(const char *path, const void *p, size_t n,
			       struct rf_err *e)
{
	char tmp[4200];
	const uint8_t *b = p;
	int fd;

	if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp)
		return rf_err_set(e, RF_EINVAL, "path too long: '%s'", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return rf_err_set(e, RF_EIO, "cannot create '%s': %s", tmp,
				  strerror(errno));
	while (n) {
		ssize_t w = write(fd, b, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			rf_err_set(e, RF_EIO, "cannot write '%s': %s", tmp,
				   w < 0 ? strerror(errno) : "short write");
			close(fd);
			unlink(tmp);
			return RF_EIO;
		}
		b += w;
		n -= (size_t)w;
	}
	if (close(fd) != 0 || rename(tmp, path) != 0) {
		rf_err_set(e, RF_EIO, "cannot write '%s': %s", path,
			   strerror(errno));
		unlink(tmp);
		return RF_EIO;
	}
	return RF_OK;
}

static enum rf_rc mkdir_one(const char *path, struct rf_err *e)
{
	if (mkdir(path, 0755) != 0 && errno != EEXIST)
		return rf_err_set(e, RF_EIO, "cannot create '%s': %s", path,
				  strerror(errno));
	return RF_OK;
}

/* The run: options, the plan, and the output under construction. */
struct run {
	const char *dir;
	struct anon_synth_opts o;
	struct patient *pats;
	struct anon_synth_stats st;
	unsigned ts_off;
	uint64_t done, total;
	anon_synth_progress_fn *progress;
	void *ctx;
	struct img im;
	struct rf_buf file;   /* one encoded file */
	struct rf_buf ids;    /* truth/identifiers.tsv */
	struct rf_buf pixels; /* truth/pixels.tsv */
	struct rf_buf labels; /* labels.csv */
	struct rf_err *e;
};

static enum rf_rc id_row(struct run *r, unsigned idx, const char *kind,
			 const char *value)
{
	r->st.identifiers++;
	return rf_buf_printf(&r->ids, r->e, "%u\t%s\t%s\n", idx, kind, value);
}

static enum rf_rc write_image(struct run *r, const struct file_ref *f)
{
	struct anon_dicom *d = NULL;
	struct bld b = {NULL, r->e, RF_OK};
	char path[4200], rel[64], hex[2 * RF_SHA256_LEN + 1], sop[80];
	uint8_t md[RF_SHA256_LEN];
	unsigned ts = (unsigned)((r->st.files + r->ts_off) %
				 ANON__SYNTH_TS_COUNT);
	enum rf_rc rc;

	if (f->series)
		render_extra(f->p, f->s, f->k, r->o.seed, &r->im);
	else
		render_main(f->p, f->s, f->n, f->k, r->o.seed, &r->im);
	rc = anon_dicom_create(&d, r->e);
	if (rc)
		return rc;
	b.ds = &d->ds;
	build(&b, f, &r->im);
	rc = b.rc;
	if (rc)
		goto out;
	snprintf(sop, sizeof sop, "%s.%u", f->s->sop_root[f->series],
		 f->n + 1);
	rf_buf_reset(&r->file);
	if (ts == ANON__SYNTH_EXPLICIT_LE)
		rc = anon_dicom_write_buf(d, &r->file, r->e);
	else
		rc = anon__synth_encode(&d->ds, (enum anon__synth_ts)ts,
					&r->file, r->e);
	if (rc)
		goto out;
	snprintf(rel, sizeof rel, "dicom/%05u/%u/%u/%02u.dcm", f->idx,
		 f->s->index, f->series + 1, f->n + 1);
	snprintf(path, sizeof path, "%s/%s", r->dir, rel);
	rc = write_atomic(path, r->file.data, r->file.len, r->e);
	if (!rc)
		rc = rf_sha256(r->im.px, r->im.px_len, md, r->e);
	if (!rc)
		rc = rf_hex_encode(md, sizeof md, hex, sizeof hex, r->e);
	if (!rc)
		rc = rf_buf_printf(&r->pixels, r->e, "%s\t%s\t%u\t%s\n", rel,
				   anon_synth_ts_uid(ts), r->im.bits, hex);
	if (!rc)
		rc = id_row(r, f->idx, "sop_instance_uid", sop);
	if (rc)
		goto out;
	r->st.files++;
	r->st.per_ts[ts]++;
	r->st.bytes += r->file.len;
	if (f->series)
		r->st.quarantine++;
	r->done++;
	if (r->progress)
		r->progress(r->ctx, r->done, r->total);
out:
	anon_dicom_destroy(d);
	return rc;
}

static const char *lobe_of(const struct study *s)
{
	return s->nod_upper ? "supérieur" : "inférieur";
}

static const char *const indications[] = {
	"Toux persistante depuis trois semaines.",
	"Dyspnée d'effort d'aggravation récente.",
	"Bilan d'une altération de l'état général.",
	"Tabagisme actif à 30 paquets-années, dépistage.",
	"Contrôle à distance d'une pneumopathie.",
	"Douleur thoracique atypique.",
	"Fièvre au long cours, recherche d'un foyer.",
	"Bilan préopératoire.",
};

/* The report of study s: our header with this patient's identifiers, an
 * indication with their age (and the date of their earlier study), the
 * technique of a generated report of the same modality, then findings and
 * a conclusion that state the label. */
static enum rf_rc write_report(struct run *r, const struct patient *p,
			       const struct study *s)
{
	struct anon_textgen g, ig;
	struct anon_textgen_doc doc;
	struct rf_buf t = RF_BUF_INIT(1 << 20);
	const char *want = s->modality == MOD_CT ? "CT" : "CR";
	const char *body = NULL, *end = NULL;
	const char *side = s->nod_right ? "droit" : "gauche";
	char path[4200], d1[16], d2[16];
	struct rf_err *e = r->e;
	enum rf_rc rc = RF_OK;

	stream(&ig, r->o.seed, S_REPORT, s->global, 1);
	anon_textgen_doc_init(&doc, 1 << 16);
	anon_textgen_init(&g, sm64(r->o.seed ^ sm64((uint64_t)S_REPORT << 56 ^
						    s->global)));
	for (int tries = 0; tries < 32 && !rc; tries++) {
		rc = anon_textgen_report(&g, &doc, e);
		if (!rc && strcmp(doc.modality, want) == 0)
			break;
	}
	if (rc)
		goto out;
	body = strstr(rf_buf_str(&doc.text), "\nTECHNIQUE :");
	end = body ? strstr(body, "\nRÉSULTATS :") : NULL;
	rc = rf_buf_printf(&t, e,
			   "%s\n%s\n%s\n\n"
			   "COMPTE RENDU D'EXAMEN D'IMAGERIE\n\n"
			   "Patient(e) : %s %s\n"
			   "Date de naissance : %s\n"
			   "IPP : %s\n"
			   "NIR : %s\n"
			   "Adresse : %s\n"
			   "Téléphone : %s\n"
			   "N° d'examen : %s\n"
			   "Date de l'examen : %s\n"
			   "Médecin demandeur : Dr %s %s\n\n"
			   "EXAMEN : %s\n",
			   institutions[s->inst].name,
			   institutions[s->inst].address,
			   institutions[s->inst].dept, p->name.given,
			   p->name.family, fmt_date(p->birth, 1, d1), p->pid,
			   p->nir, p->addr, p->phone, s->accession,
			   fmt_date(s->date, 1, d2), s->req.given,
			   s->req.family,
			   s->modality == MOD_CT ?
				   "scanner thoracique sans injection" :
				   "radiographie du thorax de face");
	if (!rc)
		rc = rf_buf_printf(&t, e, "\nINDICATION :\n%s de %d ans. %s",
				   p->female ? "Patiente" : "Patient",
				   (s->date - p->birth) * 4 / 1461,
				   PICK(&ig, indications));
	if (!rc && s->index > 1)
		rc = rf_buf_printf(&t, e,
				   " Comparaison avec l'examen du %s.",
				   fmt_date(p->st[0].date, 1, d1));
	if (!rc)
		rc = rf_buf_putc(&t, '\n', e);
	if (!rc && body && end)
		rc = rf_buf_append(&t, body, (size_t)(end - body), e);
	if (!rc && s->label)
		rc = rf_buf_printf(&t, e,
				   "\n\nRÉSULTATS :\nOpacité nodulaire "
				   "arrondie du lobe %s %s, de contours "
				   "réguliers, mesurant %d mm.\n"
				   "Pas d'épanchement pleural.\n\n"
				   "CONCLUSION :\nNodule de %d mm du lobe %s "
				   "%s, à contrôler.\n",
				   lobe_of(s), side, s->nod_mm, s->nod_mm,
				   lobe_of(s), side);
	else if (!rc)
		rc = rf_buf_printf(&t, e,
				   "\n\nRÉSULTATS :\nParenchyme pulmonaire "
				   "sans anomalie focale.\n"
				   "Pas d'épanchement pleural.\n\n"
				   "CONCLUSION :\nExamen normal : pas de "
				   "nodule.\n");
	if (!rc)
		rc = rf_buf_printf(&t, e,
				   "\nCompte rendu validé par le Dr %s %s, "
				   "radiologue.\nManipulateur : %s %s\n",
				   s->read.given, s->read.family,
				   s->oper.given, s->oper.family);
	if (rc)
		goto out;
	snprintf(path, sizeof path, "%s/reports/%s.txt", r->dir,
		 s->accession);
	rc = write_atomic(path, t.data, t.len, e);
	if (!rc) {
		r->st.reports++;
		r->st.bytes += t.len;
	}
out:
	anon_textgen_doc_release(&doc);
	rf_buf_release_secret(&t);
	return rc;
}

static enum rf_rc truth_rows(struct run *r, unsigned idx,
			     const struct patient *p)
{
	char d[16];
	enum rf_rc rc;

	rc = id_row(r, idx, "patient_name", p->name.pn);
	if (!rc)
		rc = id_row(r, idx, "family_name", p->name.family);
	if (!rc)
		rc = id_row(r, idx, "given_name", p->name.given);
	if (!rc)
		rc = id_row(r, idx, "patient_id", p->pid);
	if (!rc)
		rc = id_row(r, idx, "birth_date", fmt_date(p->birth, 0, d));
	if (!rc)
		rc = id_row(r, idx, "nir", p->nir);
	if (!rc)
		rc = id_row(r, idx, "address", p->addr);
	if (!rc)
		rc = id_row(r, idx, "phone", p->phone);
	for (unsigned i = 0; i < p->nstudies && !rc; i++) {
		const struct study *s = &p->st[i];
		const struct {
			const char *kind;
			const char *value;
		} rows[] = {
			{"accession_number", s->accession},
			{"study_id", s->study_id},
			{"requested_procedure_id", s->rp_id},
			{"scheduled_step_id", s->sps_id},
			{"performed_step_id", s->pps_id},
			{"study_instance_uid", s->uid},
			{"series_instance_uid", s->series_uid[0]},
			{"study_date", fmt_date(s->date, 0, d)},
			{"referring_physician", s->ref.pn},
			{"performing_physician", s->perf.pn},
			{"reading_physician", s->read.pn},
			{"operator", s->oper.pn},
			{"requesting_physician", s->req.pn},
			{"institution", institutions[s->inst].name},
			{"institution_address",
			 institutions[s->inst].address},
			{"station_name", s->station},
			{"device_serial", s->serial},
		};

		for (size_t k = 0; k < sizeof rows / sizeof rows[0] && !rc;
		     k++)
			rc = id_row(r, idx, rows[k].kind, rows[k].value);
		if (!rc && s->modality == MOD_CT)
			rc = id_row(r, idx, "frame_of_reference_uid",
				    s->for_uid);
		if (!rc && s->extra)
			rc = id_row(r, idx, "series_instance_uid",
				    s->series_uid[1]);
	}
	return rc;
}

static const char readme[] =
	"This directory was made by `radfed synth`: invented patients, for\n"
	"demonstrations and for testing de-identification and learning.\n"
	"Any resemblance to a real person is chance.\n"
	"\n"
	"identifiers.tsv  every identifier planted in the DICOM files and the\n"
	"                 reports: patient (the dicom/ folder number), kind,\n"
	"                 value in UTF-8. In the files, text is in Latin-1\n"
	"                 (ISO_IR 100) or UTF-8 (ISO_IR 192) as (0008,0005)\n"
	"                 says; names also appear as \"Given FAMILY\" in free\n"
	"                 text, private elements and the reports, and dates\n"
	"                 as DD/MM/YYYY in the reports.\n"
	"pixels.tsv       per DICOM file: path, transfer syntax, bits\n"
	"                 allocated, SHA-256 of the native pixel data\n"
	"                 (little-endian, as a decoder returns it).\n"
	"\n"
	"Files under dicom/<patient>/<study>/2/ are ultrasound or secondary\n"
	"capture images with text burned into the pixels (BurnedInAnnotation\n"
	"YES or absent): a de-identifier must quarantine them.\n"
	"../labels.csv gives label 1 to the studies whose CT or CR images\n"
	"show a nodule, 0 otherwise; each report's conclusion says the same.\n";

static enum rf_rc check_fresh(const char *dir, struct rf_err *e)
{
	static const char *const names[] = {"dicom", "reports", "truth",
					    "labels.csv"};
	char path[4200];
	struct stat sb;

	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		snprintf(path, sizeof path, "%s/%s", dir, names[i]);
		if (lstat(path, &sb) == 0)
			return rf_err_set(e, RF_EEXIST,
					  "'%s' already exists", path);
	}
	return RF_OK;
}

static enum rf_rc plan(struct run *r)
{
	struct anon_textgen g;
	unsigned nst = 0, i, j, *order = NULL;
	struct study **all = NULL;
	enum rf_rc rc = RF_OK;

	r->pats = rf_calloc(r->o.patients, sizeof *r->pats);
	if (!r->pats)
		return rf_err_set(r->e, RF_ENOMEM, "out of memory");
	stream(&g, r->o.seed, S_GLOBAL, 0, 0);
	r->ts_off = rnd(&g, ANON__SYNTH_TS_COUNT);
	i = rnd(&g, 4);
	for (unsigned p = 0; p < r->o.patients; p++) {
		plan_patient(&r->pats[p], p + 1, r->o.seed, &nst);
		r->pats[p].utf8 = (p + i) % 4 == 0;
	}
	all = rf_calloc(nst, sizeof *all);
	order = rf_calloc(nst, sizeof *order);
	if (!all || !order) {
		rc = rf_err_set(r->e, RF_ENOMEM, "out of memory");
		goto out;
	}
	for (unsigned p = 0; p < r->o.patients; p++)
		for (j = 0; j < r->pats[p].nstudies; j++)
			all[r->pats[p].st[j].global] = &r->pats[p].st[j];
	/* labels: a shuffle of floor(n/2) positives among n studies */
	stream(&g, r->o.seed, S_LABELS, 0, 0);
	for (i = 0; i < nst; i++)
		order[i] = i;
	for (i = nst; i > 1; i--) {
		unsigned k = rnd(&g, i), t = order[i - 1];

		order[i - 1] = order[k];
		order[k] = t;
	}
	for (i = 0; i < nst; i++) {
		struct study *s = all[order[i]];
		unsigned size = r->o.size;
		double spacing;
		int side;

		s->label = i < nst / 2;
		/* one study in four has an image to quarantine */
		s->extra = (s->global + r->ts_off) % 4 == 0 ?
				   ((s->global / 4) % 2 ? MOD_US : MOD_SC) :
				   0;
		s->burned_yes = (s->global / 4 + r->ts_off) % 3 != 0;
		if (!s->label)
			continue;
		stream(&g, r->o.seed, S_NODULE, s->global, 0);
		side = rnd(&g, 2) ? 1 : -1;
		s->nu = side * 0.40 * s->body_w + (unif(&g) - 0.5) * 0.2;
		s->nv = -0.04 + (unif(&g) - 0.5) * 0.45;
		s->nsig = size * (0.030 + 0.020 * unif(&g));
		s->namp = s->modality == MOD_CT ? 700 + 400 * unif(&g)
						: 600 + 300 * unif(&g);
		spacing = (s->modality == MOD_CT ? CT_FOV_MM : CR_FOV_MM) /
			  size;
		s->nod_mm = (int)(2.355 * s->nsig * spacing + 0.5);
		s->nod_upper = s->nv < -0.04;
		s->nod_right = side < 0; /* image left is the patient's right */
	}
	r->st.studies = nst;
	r->st.positives = nst / 2;
out:
	rf_free(all);
	rf_free(order);
	return rc;
}

static enum rf_rc write_text(struct run *r, const char *name,
			     const void *p, size_t n)
{
	char path[4200];

	snprintf(path, sizeof path, "%s/%s", r->dir, name);
	r->st.bytes += n;
	return write_atomic(path, p, n, r->e);
}

static enum rf_rc mkdir_sub(struct run *r, const char *fmt, ...)
	RF_PRINTF(2, 3);

static enum rf_rc mkdir_sub(struct run *r, const char *fmt, ...)
{
	char path[4200];
	size_t n = (size_t)snprintf(path, sizeof path, "%s/", r->dir);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(path + n, sizeof path - n, fmt, ap);
	va_end(ap);
	return mkdir_one(path, r->e);
}

static enum rf_rc generate(struct run *r)
{
	unsigned k = r->o.images_per_study;
	enum rf_rc rc;

	/* the output folder and any missing parents, as the help says */
	rc = rf_mkdirs(r->dir, 0755, r->e);
	if (!rc)
		rc = check_fresh(r->dir, r->e);
	if (!rc)
		rc = plan(r);
	for (unsigned p = 0; p < r->o.patients && !rc; p++)
		for (unsigned i = 0; i < r->pats[p].nstudies; i++)
			r->total += k + (r->pats[p].st[i].extra ? 1 : 0);
	if (!rc)
		rc = mkdir_sub(r, "dicom");
	if (!rc)
		rc = mkdir_sub(r, "reports");
	if (!rc)
		rc = mkdir_sub(r, "truth");
	if (!rc)
		rc = rf_buf_puts(&r->labels,
				 "accession_number,study_instance_uid,label\n",
				 r->e);
	if (!rc)
		rc = rf_buf_puts(&r->ids, "patient\tkind\tvalue\n", r->e);
	if (!rc)
		rc = rf_buf_puts(&r->pixels,
				 "file\ttransfer_syntax\tbits\tsha256\n",
				 r->e);
	for (unsigned p = 0; p < r->o.patients && !rc; p++) {
		const struct patient *pt = &r->pats[p];

		rc = mkdir_sub(r, "dicom/%05u", p + 1);
		if (!rc)
			rc = truth_rows(r, p + 1, pt);
		for (unsigned i = 0; i < pt->nstudies && !rc; i++) {
			const struct study *s = &pt->st[i];
			struct file_ref f = {pt, s, 0, 0, k, p + 1};

			rc = mkdir_sub(r, "dicom/%05u/%u", p + 1, s->index);
			if (!rc)
				rc = mkdir_sub(r, "dicom/%05u/%u/1", p + 1,
					       s->index);
			for (f.n = 0; f.n < k && !rc; f.n++)
				rc = write_image(r, &f);
			if (!rc && s->extra) {
				f.series = 1;
				f.n = 0;
				rc = mkdir_sub(r, "dicom/%05u/%u/2", p + 1,
					       s->index);
				if (!rc)
					rc = write_image(r, &f);
			}
			if (!rc)
				rc = write_report(r, pt, s);
			if (!rc)
				rc = rf_buf_printf(&r->labels, r->e,
						   "%s,%s,%d\n", s->accession,
						   s->uid, s->label);
		}
	}
	if (!rc)
		rc = write_text(r, "truth/identifiers.tsv", r->ids.data,
				r->ids.len);
	if (!rc)
		rc = write_text(r, "truth/pixels.tsv", r->pixels.data,
				r->pixels.len);
	if (!rc)
		rc = write_text(r, "truth/README", readme, sizeof readme - 1);
	if (!rc)
		rc = write_text(r, "labels.csv", r->labels.data,
				r->labels.len);
	return rc;
}

enum rf_rc anon_synth_run(const char *dir, const struct anon_synth_opts *opts,
			  anon_synth_progress_fn *progress, void *ctx,
			  struct anon_synth_stats *st, struct rf_err *e)
{
	struct run r;
	size_t npx;
	enum rf_rc rc;

	if (!dir || !*dir || !opts)
		return rf_err_set(e, RF_EINVAL, "no output directory");
	if (strlen(dir) > 4000)
		return rf_err_set(e, RF_EINVAL, "output directory name too "
				  "long");
	memset(&r, 0, sizeof r);
	r.o = *opts;
	if (!r.o.images_per_study)
		r.o.images_per_study = ANON_SYNTH_DEFAULT_IMAGES;
	if (!r.o.size)
		r.o.size = ANON_SYNTH_DEFAULT_SIZE;
	if (r.o.patients < 1 || r.o.patients > ANON_SYNTH_PATIENTS_MAX)
		return rf_err_set(e, RF_EINVAL,
				  "patients must be 1..%u, not %u",
				  ANON_SYNTH_PATIENTS_MAX, r.o.patients);
	if (r.o.images_per_study > ANON_SYNTH_IMAGES_MAX)
		return rf_err_set(e, RF_EINVAL,
				  "images per study must be 1..%u, not %u",
				  ANON_SYNTH_IMAGES_MAX,
				  r.o.images_per_study);
	if (r.o.size < ANON_SYNTH_SIZE_MIN || r.o.size > ANON_SYNTH_SIZE_MAX)
		return rf_err_set(e, RF_EINVAL, "size must be %u..%u, not %u",
				  ANON_SYNTH_SIZE_MIN, ANON_SYNTH_SIZE_MAX,
				  r.o.size);
	r.dir = dir;
	r.progress = progress;
	r.ctx = ctx;
	r.e = e;
	r.st.patients = r.o.patients;
	r.im.size = r.o.size;
	npx = (size_t)r.o.size * r.o.size;
	rf_buf_init(&r.file, (size_t)1 << 30);
	rf_buf_init(&r.ids, (size_t)1 << 30);
	rf_buf_init(&r.pixels, (size_t)1 << 30);
	rf_buf_init(&r.labels, (size_t)1 << 30);
	r.im.f = rf_mallocarray(npx, sizeof *r.im.f);
	r.im.px = rf_malloc(2 * npx);
	if (!r.im.f || !r.im.px)
		rc = rf_err_set(e, RF_ENOMEM, "out of memory");
	else
		rc = generate(&r);
	if (!rc && st)
		*st = r.st;
	rf_free(r.im.f);
	rf_free(r.im.px);
	rf_buf_release_secret(&r.file);
	rf_buf_release_secret(&r.ids);
	rf_buf_release(&r.pixels);
	rf_buf_release(&r.labels);
	if (r.pats)
		rf_free_secret(r.pats, (size_t)r.o.patients * sizeof *r.pats);
	return rc;
}
