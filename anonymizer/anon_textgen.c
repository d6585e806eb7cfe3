/*
 * anon_textgen.c - synthetic French radiology reports (see anon_textgen.h).
 *
 * Clinical sentences are templates with placeholders expanded here, not
 * printf formats: {N} a size in mm, {D} a decimal size in cm, {S} a liver
 * segment, {H} a density, {B} a BI-RADS class, {K} a grade, {P} a dose,
 * {A} an age under 90, {T} a thoracic level, {V} a lumbar disc level.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "anon_fr_int.h"
#include "anon_pseudo.h"
#include "anon_textgen.h"
#include "rf_alloc.h"

/* ---- random numbers: splitmix64 seeding xoshiro256** --------------------- */

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

void anon_textgen_init(struct anon_textgen *g, uint64_t seed)
{
	uint64_t x = seed;

	for (int i = 0; i < 4; i++)
		g->s[i] = splitmix64(&x);
}

uint64_t anon_textgen_next(struct anon_textgen *g)
{
	uint64_t *s = g->s;
	uint64_t r = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return r;
}

/* ---- generation state with a sticky error -------------------------------- */

struct gen {
	struct anon_textgen *g;
	struct anon_textgen_doc *d;
	struct rf_err *e;
	enum rf_rc rc;
};

static int rnd(struct gen *G, int n)
{
	return (int)(anon_textgen_next(G->g) % (uint64_t)n);
}

static int range(struct gen *G, int lo, int hi)
{
	return lo + rnd(G, hi - lo + 1);
}

static int chance(struct gen *G, int pct)
{
	return rnd(G, 100) < pct;
}

#define PICK(G, arr) ((arr)[rnd(G, (int)(sizeof(arr) / sizeof(arr)[0]))])

static void put(struct gen *G, const char *fmt, ...) RF_PRINTF(2, 3);
static void put(struct gen *G, const char *fmt, ...)
{
	va_list ap;

	if (G->rc)
		return;
	va_start(ap, fmt);
	G->rc = rf_buf_vprintf(&G->d->text, G->e, fmt, ap);
	va_end(ap);
}

static void plant(struct gen *G, enum anon_report_cat cat, const char *fmt,
		  ...) RF_PRINTF(3, 4);
static void plant(struct gen *G, enum anon_report_cat cat, const char *fmt,
		  ...)
{
	struct anon_textgen_doc *d = G->d;
	size_t off = d->text.len;
	va_list ap;

	if (G->rc)
		return;
	va_start(ap, fmt);
	G->rc = rf_buf_vprintf(&d->text, G->e, fmt, ap);
	va_end(ap);
	if (G->rc || d->n_spans == ANON_TEXTGEN_MAX_SPANS)
		return;
	d->spans[d->n_spans].cat = cat;
	d->spans[d->n_spans].off = off;
	d->spans[d->n_spans].len = d->text.len - off;
	d->n_spans++;
}

/* ---- text utilities ------------------------------------------------------ */

/* Copies s into o (cap bytes) in capitals: ASCII and Latin-1 letters. */
static void upper_utf8(const char *s, char *o, size_t cap)
{
	size_t k = 0;
	const unsigned char *p = (const unsigned char *)s;

	for (; *p && k + 2 < cap; p++) {
		unsigned char c = *p;

		if (c >= 'a' && c <= 'z')
			c = (unsigned char)(c - 32);
		else if (p > (const unsigned char *)s && p[-1] == 0xc3 &&
			 c >= 0xa0 && c <= 0xbe && c != 0xb7)
			c = (unsigned char)(c - 32);
		o[k++] = (char)c;
	}
	o[k] = 0;
}

/* Copies s into o folded to ASCII lowercase letters (for e-mail). */
static void fold_ascii(const char *s, char *o, size_t cap)
{
	static const char latin1[] = "aaaaaaaceeeeiiiidnooooo*ouuuuyts"
				     "aaaaaaaceeeeiiiidnooooo*ouuuuyty";
	const unsigned char *p = (const unsigned char *)s;
	size_t k = 0;

	for (; *p && k + 1 < cap; p++) {
		if (*p == 0xc3 && p[1] >= 0x80 && p[1] <= 0xbf) {
			o[k++] = latin1[p[1] - 0x80];
			p++;
		} else if ((*p | 0x20) >= 'a' && (*p | 0x20) <= 'z') {
			o[k++] = (char)(*p | 0x20);
		}
	}
	o[k] = 0;
}

/* ---- identities ---------------------------------------------------------- */

static const char *const surnames[] = {
	"Dupont", "Bernard", "Dubois", "Durand", "Leroy", "Moreau",
	"Lefebvre", "Garcia", "Bertrand", "Roux", "Fournier", "Morel",
	"Girard", "Mercier", "Lambert", "Bonnet", "Legrand", "Garnier",
	"Faure", "Rousseau", "Blanc", "Guérin", "Muller", "Perrin", "Morin",
	"Gauthier", "Dumont", "Lopez", "Fontaine", "Chevalier", "Robin",
	"Lévêque", "Béranger", "Châtelain", "Ménard", "Petit", "Lemaire",
	"Caron", "Barbier", "Brunet", "Renaud", "Giraud", "Arnaud", "Roussel",
	"Boyer", "Colin", "Vidal", "Aubert", "Le Gall", "Kerbrat", "Prévost",
	"Benali", "Nguyen", "Diallo", "Hoarau", "Lacroix", "Jacquemin",
	"Schmitt", "Bouvier", "Cordier", "Carré", "Hébert", "Rémy",
};

struct person {
	char given[32];
	char family[40];    /* as usually written: "Dupont" */
	char family_up[40]; /* "DUPONT" */
	char pn[80];        /* "DUPONT^Jean" */
};

static void person_make(struct gen *G, struct person *p)
{
	const char *a = PICK(G, surnames), *b;

	if (chance(G, 12)) {
		do
			b = PICK(G, surnames);
		while (b == a || strchr(b, ' '));
		snprintf(p->family, sizeof p->family, "%s-%s", a, b);
	} else {
		snprintf(p->family, sizeof p->family, "%s", a);
	}
	upper_utf8(p->family, p->family_up, sizeof p->family_up);
	a = anon__fr_first_names_display[rnd(
		G, (int)anon__fr_first_names_display_count)];
	if (chance(G, 10)) {
		b = chance(G, 50) ? "Jean" : "Marie";
		snprintf(p->given, sizeof p->given, "%s-%s", b, a);
		if (strcmp(a, b) == 0)
			snprintf(p->given, sizeof p->given, "%s", a);
	} else {
		snprintf(p->given, sizeof p->given, "%s", a);
	}
	snprintf(p->pn, sizeof p->pn, "%s^%s", p->family_up, p->given);
}

/* Plants a name as its separate words: each component is one span. */
static void plant_name_words(struct gen *G, const char *s)
{
	char w[64], f[64];
	size_t k = 0;

	for (;; s++) {
		if (*s == ' ' || *s == 0) {
			w[k] = 0;
			fold_ascii(w, f, sizeof f);
			if (k && anon__fr_is_stop_word(f, strlen(f)))
				put(G, "%s", w);
			else if (k)
				plant(G, ANON_REPORT_NAME, "%s", w);
			k = 0;
			if (!*s)
				return;
			put(G, " ");
		} else if (k + 1 < sizeof w) {
			w[k++] = *s;
		}
	}
}

/* "DUPONT Jean", "Jean DUPONT", "Jean Dupont", "DUPONT", "Dupont Jean" */
static void plant_person(struct gen *G, const struct person *p, int form)
{
	switch (form) {
	case 0:
		plant_name_words(G, p->family_up);
		put(G, " ");
		plant_name_words(G, p->given);
		break;
	case 1:
		plant_name_words(G, p->given);
		put(G, " ");
		plant_name_words(G, p->family_up);
		break;
	case 2:
		plant_name_words(G, p->given);
		put(G, " ");
		plant_name_words(G, p->family);
		break;
	case 3:
		plant_name_words(G, p->family_up);
		break;
	default:
		plant_name_words(G, p->family);
		put(G, " ");
		plant_name_words(G, p->given);
		break;
	}
}

/* ---- dates --------------------------------------------------------------- */

static const char *const months[12] = {
	"janvier", "février", "mars",	   "avril",   "mai",	  "juin",
	"juillet", "août",    "septembre", "octobre", "novembre", "décembre",
};

/* Plants the date `day` (days since 1970) in a random format; month_year
 * allows "mars 2024". */
static void plant_date(struct gen *G, int64_t day, int month_year)
{
	int y, m, d;

	anon_civil_from_days(day, &y, &m, &d);
	switch (rnd(G, month_year ? 7 : 6)) {
	case 0:
		plant(G, ANON_REPORT_DATE, "%02d/%02d/%04d", d, m, y);
		break;
	case 1:
		plant(G, ANON_REPORT_DATE, "%02d-%02d-%02d", d, m, y % 100);
		break;
	case 2:
		plant(G, ANON_REPORT_DATE, "%02d.%02d.%04d", d, m, y);
		break;
	case 3:
		plant(G, ANON_REPORT_DATE, "%04d-%02d-%02d", y, m, d);
		break;
	case 4:
		if (d == 1)
			plant(G, ANON_REPORT_DATE, "1er %s %04d", months[m - 1],
			      y);
		else
			plant(G, ANON_REPORT_DATE, "%d %s %04d", d,
			      months[m - 1], y);
		break;
	case 5:
		plant(G, ANON_REPORT_DATE, "%d/%d/%04d", d, m, y);
		break;
	default:
		plant(G, ANON_REPORT_DATE, "%s %04d", months[m - 1], y);
		break;
	}
}

/* ---- identifiers --------------------------------------------------------- */

static void digits(struct gen *G, char *o, int n)
{
	o[0] = (char)('1' + rnd(G, 9));
	for (int i = 1; i < n; i++)
		o[i] = (char)('0' + rnd(G, 10));
	o[n] = 0;
}

static void plant_nir(struct gen *G, int female, int birth_year,
		      int birth_month)
{
	char dep[3], com[4], ord[4];
	int corsica = chance(G, 10), key;
	uint64_t v;

	if (corsica)
		snprintf(dep, sizeof dep, "2%c", chance(G, 50) ? 'A' : 'B');
	else
		snprintf(dep, sizeof dep, "%02d", range(G, 1, 95));
	snprintf(com, sizeof com, "%03d", range(G, 1, 999));
	snprintf(ord, sizeof ord, "%03d", range(G, 1, 999));
	v = (uint64_t)(female ? 2 : 1) * 1000000000000ULL +
	    (uint64_t)(birth_year % 100) * 10000000000ULL +
	    (uint64_t)birth_month * 100000000ULL;
	if (corsica)
		v += (dep[1] == 'A' ? 19ULL : 18ULL) * 1000000ULL;
	else
		v += (uint64_t)((dep[0] - '0') * 10 + dep[1] - '0') *
		     1000000ULL;
	v += (uint64_t)((com[0] - '0') * 100 + (com[1] - '0') * 10 +
			com[2] - '0') * 1000ULL;
	v += (uint64_t)((ord[0] - '0') * 100 + (ord[1] - '0') * 10 +
			ord[2] - '0');
	key = (int)(97 - v % 97);
	if (chance(G, 60))
		plant(G, ANON_REPORT_NIR, "%d %02d %02d %s %s %s %02d",
		      female ? 2 : 1, birth_year % 100, birth_month, dep, com,
		      ord, key);
	else
		plant(G, ANON_REPORT_NIR, "%d%02d%02d%s%s%s%02d",
		      female ? 2 : 1, birth_year % 100, birth_month, dep, com,
		      ord, key);
}

static void plant_phone(struct gen *G)
{
	char d[12];
	static const char seps[] = " .-";
	char sep = seps[rnd(G, 3)];

	for (int i = 0; i < 8; i++)
		d[i] = (char)('0' + rnd(G, 10));
	d[8] = 0;
	switch (rnd(G, 8)) {
	case 0:
	case 1:
	case 2:
		plant(G, ANON_REPORT_PHONE, "0%d%c%.2s%c%.2s%c%.2s%c%.2s",
		      range(G, 1, 9), sep, d, sep, d + 2, sep, d + 4, sep,
		      d + 6);
		break;
	case 3:
		plant(G, ANON_REPORT_PHONE, "0%d%s", range(G, 1, 9), d);
		break;
	case 4:
		plant(G, ANON_REPORT_PHONE, "+33 %d %.2s %.2s %.2s %.2s",
		      range(G, 1, 9), d, d + 2, d + 4, d + 6);
		break;
	case 5:
		plant(G, ANON_REPORT_PHONE, "+33 (0)%d %.2s %.2s %.2s %.2s",
		      range(G, 1, 9), d, d + 2, d + 4, d + 6);
		break;
	case 6:
		plant(G, ANON_REPORT_PHONE, "0033 %d %.2s %.2s %.2s %.2s",
		      range(G, 1, 9), d, d + 2, d + 4, d + 6);
		break;
	default:
		plant(G, ANON_REPORT_PHONE, "+41 %.2s %.3s %.2s %.1s",
		      d, d + 2, d + 5, d + 7);
		break;
	}
}

static const char *const streets[] = {
	"rue des Lilas", "avenue Victor Hugo", "boulevard Haussmann",
	"chemin des Vignes", "allée des Tilleuls", "place de la République",
	"impasse du Moulin", "route de Lyon", "quai de la Loire",
	"cours Mirabeau", "rue Jean Jaurès", "rue du Général Leclerc",
	"avenue de la Libération", "boulevard Pasteur", "rue Émile Zola",
	"chemin de la Croix", "allée Jean Moulin", "rue de l'Église",
	"bd Gambetta", "av. Foch", "rue des Écoles", "résidence Les Pins",
	"lotissement Le Clos Fleuri", "square Montholon",
};

static const char *const cities[] = {
	"75013 Paris", "13005 Marseille", "69003 Lyon", "31000 Toulouse",
	"06000 Nice", "44000 Nantes", "67000 Strasbourg", "34000 Montpellier",
	"33000 Bordeaux", "59000 Lille", "35000 Rennes", "51100 Reims",
	"42000 Saint-Étienne", "83000 Toulon", "38000 Grenoble",
	"21000 Dijon", "49000 Angers", "30000 Nîmes", "69100 Villeurbanne",
	"93200 Saint-Denis", "94270 Le Kremlin-Bicêtre", "20000 Ajaccio",
	"92100 Boulogne-Billancourt", "20200 Bastia", "97400 Saint-Denis",
	"13100 Aix-en-Provence", "76600 Le Havre", "29200 Brest",
	"87000 Limoges", "72000 Le Mans", "13005 MARSEILLE",
	"69437 LYON CEDEX 03", "75013 PARIS", "62300 Lens",
};

static void plant_address(struct gen *G)
{
	int n = range(G, 1, 180);
	const char *sfx = "";

	if (chance(G, 15))
		sfx = chance(G, 60) ? " bis" : " ter";
	if (chance(G, 20))
		plant(G, ANON_REPORT_ADDRESS, "%d%s, %s", n, sfx,
		      PICK(G, streets));
	else
		plant(G, ANON_REPORT_ADDRESS, "%d%s %s", n, sfx,
		      PICK(G, streets));
	put(G, chance(G, 70) ? ", " : "\n");
	plant(G, ANON_REPORT_CITY, "%s", PICK(G, cities));
}

static void plant_email(struct gen *G, const struct person *p)
{
	static const char *const domains[] = {
		"exemple.fr", "orange.fr", "laposte.net", "free.fr",
		"chu-exemple.fr", "gmail.com", "sante-exemple.org",
	};
	char g[32], f[40];

	fold_ascii(p->given, g, sizeof g);
	fold_ascii(p->family, f, sizeof f);
	switch (rnd(G, 3)) {
	case 0:
		plant(G, ANON_REPORT_EMAIL, "%s.%s@%s", g, f,
		      PICK(G, domains));
		break;
	case 1:
		plant(G, ANON_REPORT_EMAIL, "%c%s%d@%s", g[0], f,
		      range(G, 1, 99), PICK(G, domains));
		break;
	default:
		plant(G, ANON_REPORT_EMAIL, "%s_%s@%s", f, g,
		      PICK(G, domains));
		break;
	}
}

/* ---- clinical sentences -------------------------------------------------- */

static const char *const indications[] = {
	"Bilan d'extension d'un adénocarcinome pulmonaire.",
	"Douleur abdominale fébrile depuis {K} jours.",
	"Suspicion d'embolie pulmonaire.",
	"Céphalées inhabituelles, recherche de processus expansif.",
	"Traumatisme du genou droit, recherche de fracture.",
	"Surveillance d'un nodule pulmonaire connu.",
	"Patient de {A} ans, tabagique, toux chronique.",
	"Patiente de {A} ans, dépistage organisé.",
	"Lombalgies chroniques avec radiculalgie L5 gauche.",
	"Dyspnée d'aggravation récente.",
	"Syndrome inflammatoire biologique inexpliqué.",
	"Hématurie macroscopique.",
};

static const char *const techniques_ct[] = {
	("Acquisition hélicoïdale thoraco-abdomino-pelvienne après injection "
	 "de {N}0 mL de produit de contraste iodé."),
	"Reconstructions en coupes de 1,25 mm dans les trois plans.",
	"PDL : {P} mGy.cm.",
	("Acquisition sans injection en fenêtres parenchymateuse et "
	 "médiastinale."),
};
static const char *const techniques_mr[] = {
	("Séquences T1, T2, FLAIR et diffusion, puis T1 après injection de "
	 "gadolinium."),
	"Examen réalisé sur une machine 1,5 T.",
	"Séquences sagittales T1 et T2, axiales T2 et STIR.",
};
static const char *const techniques_cr[] = {
	"Clichés de face et de profil.",
	"Incidence de face en charge.",
	"Cliché thoracique de face en position debout.",
};

static const char *const findings[] = {
	"Nodule pulmonaire du lobe supérieur droit mesurant {N} mm.",
	("Petit nodule sous-pleural du lobe inférieur gauche de {N} mm, non "
	 "suspect."),
	"Pas d'épanchement pleural ni péricardique.",
	"Absence d'adénomégalie médiastinale ou hilaire.",
	"Lésion hépatique hypodense du segment {S} mesurant {D} cm.",
	"Kyste biliaire simple du segment {S} de {N} mm.",
	"Foie de taille normale, de contours réguliers.",
	"Stéatose hépatique diffuse.",
	"Densité spontanée de {H} unités Hounsfield.",
	"Discopathie dégénérative C5-C6 avec débord disco-ostéophytique.",
	"Hernie discale {V} postéro-latérale gauche.",
	"Hypersignal T2 de la substance blanche périventriculaire.",
	"Pas de prise de contraste pathologique.",
	"Absence de saignement intracrânien.",
	"Ligne médiane en place.",
	("Masse du quadrant supéro-externe du sein gauche, classée BI-RADS "
	 "{B}."),
	"Calcifications athéromateuses de l'aorte abdominale.",
	"Rate et pancréas sans particularité.",
	("Reins de taille normale sans dilatation des cavités "
	 "pyélocalicielles."),
	"Vessie en réplétion, à paroi fine.",
	"Pas de pneumothorax.",
	"Fracture non déplacée du plateau tibial latéral.",
	"Tassement du corps vertébral de {T} de {K}0 %.",
	"Épaississement pariétal du côlon sigmoïde sur {N} cm.",
	"Infiltration de la graisse péri-colique.",
	"Embolie pulmonaire segmentaire du lobe inférieur droit.",
	"Rapport VD/VG inférieur à 1.",
	"Arthrose fémoro-tibiale médiale stade {K} de Kellgren et Lawrence.",
	"Aspect stable par rapport à l'examen précédent.",
	"Silhouette cardiaque de taille normale.",
	"Pas de foyer de condensation parenchymateuse.",
	"Émoussement du cul-de-sac pleural droit.",
	"Ventricules de taille normale.",
	"Sinus de la face bien aérés.",
	("Lésion ostéocondensante de {N} mm de l'aile iliaque gauche, "
	 "d'allure bénigne."),
	"Adénopathie sus-claviculaire gauche de {N} mm de petit axe.",
	"Plage de verre dépoli du lobe moyen de {D} cm.",
	"Lithiase vésiculaire de {N} mm sans signe de cholécystite.",
	"Signe de Murphy radiologique négatif.",
	"Kyste rénal gauche classé Bosniak II.",
	"Kyste de Baker de {N} mm.",
	"Aspect évocateur d'une maladie de Crohn iléale.",
	"Masse de {N} x {N} mm (contre {N} x {N} mm auparavant).",
	"Injection à un débit de 4 mL/s.",
	"Cholécystectomie en 2015.",
	"Pas de lésion de l'étage sus-mésocolique.",
	"Fracture de Pouteau-Colles du radius droit.",
	"Contrôle dans 3 mois.",
};

static const char *const conclusions[] = {
	"Absence d'anomalie significative.",
	"Nodule pulmonaire de {N} mm à contrôler dans 6 mois.",
	("Embolie pulmonaire segmentaire droite, sans signe de retentissement "
	 "cardiaque droit."),
	"Pas de lésion traumatique osseuse décelable.",
	"Aspect compatible avec une sigmoïdite non compliquée.",
	"Lésion hépatique d'allure bénigne, kyste biliaire probable.",
	"Leucopathie vasculaire modérée, Fazekas {K}.",
	"Examen stable.",
	"Lésion classée BI-RADS {B}, biopsie recommandée.",
};

/* Writes a template with its placeholders expanded and records it as a
 * clinical sentence. */
static void sentence(struct gen *G, const char *tpl)
{
	static const char *const segs[] = {"I", "II", "III", "IV", "V",
					   "VI", "VII", "VIII"};
	static const char *const discs[] = {"L3-L4", "L4-L5", "L5-S1"};
	struct anon_textgen_doc *d = G->d;
	size_t off = d->text.len;
	const char *p = tpl;

	while (*p && !G->rc) {
		if (p[0] == '{' && p[1] && p[2] == '}') {
			switch (p[1]) {
			case 'N':
				put(G, "%d", range(G, 3, 45));
				break;
			case 'D':
				put(G, "%d,%d", range(G, 1, 9), range(G, 0, 9));
				break;
			case 'S':
				put(G, "%s", PICK(G, segs));
				break;
			case 'H':
				put(G, "%d", range(G, -40, 80));
				break;
			case 'B':
				put(G, "%d", range(G, 2, 5));
				break;
			case 'K':
				put(G, "%d", range(G, 1, 4));
				break;
			case 'P':
				put(G, "%d", range(G, 120, 1400));
				break;
			case 'A':
				put(G, "%d", range(G, 18, 89));
				break;
			case 'T':
				put(G, "T%d", range(G, 6, 12));
				break;
			default:
				put(G, "%s", PICK(G, discs));
				break;
			}
			p += 3;
			continue;
		}
		put(G, "%c", *p++);
	}
	if (!G->rc && d->n_sentences < ANON_TEXTGEN_MAX_SENTENCES) {
		d->sentences[d->n_sentences].off = off;
		d->sentences[d->n_sentences].len = d->text.len - off;
		d->n_sentences++;
	}
}

/* ---- the report ---------------------------------------------------------- */

static void doc_reset(struct anon_textgen_doc *d)
{
	if (d->text.data)
		rf_zeroize(d->text.data, d->text.len);
	rf_buf_reset(&d->text);
	d->n_spans = 0;
	d->n_sentences = 0;
	d->patient_pn[0] = d->referring_pn[0] = d->reading_pn[0] = 0;
	d->operator_pn[0] = d->patient_id[0] = d->accession[0] = 0;
	d->date_shift_days = 0;
	d->modality = "CT";
}

static void header(struct gen *G, const struct person *pt, int female,
		   int64_t dob, const struct person *ref)
{
	struct anon_textgen_doc *d = G->d;
	static const char *const sites[] = {
		"CENTRE HOSPITALIER - SERVICE D'IMAGERIE MÉDICALE",
		"Service de Radiologie et d'Imagerie Médicale",
		"CABINET D'IMAGERIE MÉDICALE",
		"Pôle Imagerie - Hôpital de jour",
	};
	static const char *const pt_labels[] = {"Patient", "Nom",
						"Nom du patient"};
	static const char *const dob_labels[] = {
		"Né(e) le", "Date de naissance", "DDN"};
	static const char *const ipp_labels[] = {"IPP", "N° patient",
						 "Identifiant patient", "ID"};
	static const char *const nir_labels[] = {
		"NIR", "N° de sécurité sociale", "N° SS"};
	static const char *const acc_labels[] = {"N° d'examen", "Accession",
						 "N° accession"};
	static const char *const tel_labels[] = {"Tél", "Téléphone",
						 "Portable", "Tél."};
	static const char *const mail_labels[] = {"Courriel", "E-mail",
						  "Mail"};
	char ipp[16], acc[24];
	int y, m, dd;

	put(G, "%s\n\n", PICK(G, sites));
	put(G, "%s : ", female && chance(G, 50) ? "Patiente" :
						   PICK(G, pt_labels));
	if (chance(G, 30)) {
		put(G, "%s ", female ? "Mme" : "M.");
		plant_person(G, pt, chance(G, 50) ? 0 : 3);
	} else {
		plant_person(G, pt, rnd(G, 3));
	}
	put(G, "\n%s : ", PICK(G, dob_labels));
	plant_date(G, dob, 0);
	digits(G, ipp, range(G, 7, 10));
	snprintf(d->patient_id, sizeof d->patient_id, "%s", ipp);
	put(G, "\n%s : ", PICK(G, ipp_labels));
	plant(G, ANON_REPORT_ID, "%s", ipp);
	anon_civil_from_days(dob, &y, &m, &dd);
	put(G, "\n%s : ", PICK(G, nir_labels));
	plant_nir(G, female, y, m);
	switch (rnd(G, 3)) {
	case 0:
		digits(G, acc, 9);
		snprintf(d->accession, sizeof d->accession, "A%s", acc);
		break;
	case 1:
		digits(G, acc, 6);
		snprintf(d->accession, sizeof d->accession, "RX-%d-%s",
			 range(G, 2019, 2025), acc);
		break;
	default:
		digits(G, acc, 11);
		snprintf(d->accession, sizeof d->accession, "%s", acc);
		break;
	}
	put(G, "\n%s : ", PICK(G, acc_labels));
	plant(G, ANON_REPORT_ID, "%s", d->accession);
	if (chance(G, 40)) {
		put(G, "\nNDA : ");
		digits(G, acc, 9);
		plant(G, ANON_REPORT_ID, "%s", acc);
	}
	if (chance(G, 30)) {
		put(G, "\nN° de dossier : ");
		plant(G, ANON_REPORT_ID, "D-%d", range(G, 1000, 9999));
	}
	put(G, "\nAdresse : ");
	plant_address(G);
	put(G, "\n%s : ", PICK(G, tel_labels));
	plant_phone(G);
	if (chance(G, 70)) {
		put(G, "\n%s : ", PICK(G, mail_labels));
		plant_email(G, pt);
	}
	switch (rnd(G, 3)) {
	case 0:
		put(G, "\nMédecin prescripteur : Dr ");
		break;
	case 1:
		put(G, "\nAdressé par le Docteur ");
		break;
	default:
		put(G, "\nMédecin demandeur : ");
		break;
	}
	plant_person(G, ref, rnd(G, 4));
	put(G, "\n");
}

enum rf_rc anon_textgen_report(struct anon_textgen *g,
			       struct anon_textgen_doc *d, struct rf_err *e)
{
	struct gen G = {g, d, e, RF_OK};
	struct person pt, ref, rad, op, other, copy;
	static const char *const exams_ct[] = {
		"SCANNER THORACO-ABDOMINO-PELVIEN", "TDM THORACIQUE",
		"SCANNER CÉRÉBRAL SANS INJECTION", "ANGIOSCANNER THORACIQUE",
	};
	static const char *const exams_mr[] = {
		"IRM CÉRÉBRALE", "IRM DU RACHIS LOMBAIRE", "IRM DU GENOU DROIT",
		"IRM HÉPATIQUE",
	};
	static const char *const exams_cr[] = {
		"RADIOGRAPHIE DU THORAX", "RADIOGRAPHIE DU GENOU GAUCHE",
		"RADIOGRAPHIE DU BASSIN",
	};
	int female, mod, shift, i, count;
	int64_t exam, dob, comp;

	doc_reset(d);
	mod = rnd(&G, 3);
	d->modality = mod == 0 ? "CT" : mod == 1 ? "MR" : "CR";
	female = chance(&G, 50);
	person_make(&G, &pt);
	person_make(&G, &ref);
	person_make(&G, &rad);
	person_make(&G, &op);
	person_make(&G, &other);
	person_make(&G, &copy);
	shift = range(&G, 40, 300) * (chance(&G, 50) ? 1 : -1);
	d->date_shift_days = shift;
	exam = anon_days_from_civil(range(&G, 2019, 2025), range(&G, 1, 12),
			       range(&G, 1, 28));
	dob = anon_days_from_civil(range(&G, 1925, 1995), range(&G, 1, 12),
			      range(&G, 1, 28));
	comp = exam - range(&G, 420, 1100);

	header(&G, &pt, female, dob, &ref);
	put(&G, "Date de l'examen : ");
	plant_date(&G, exam, 0);
	put(&G, "\n\nEXAMEN : %s\n\nINDICATION :\n",
	    mod == 0 ? PICK(&G, exams_ct) :
	    mod == 1 ? PICK(&G, exams_mr) : PICK(&G, exams_cr));
	if (chance(&G, 35)) {
		static const char *const who[] = {"Patiente de ", "Patient de ",
						  "Patiente âgée de ",
						  "Patient âgé de "};
		put(&G, "%s", PICK(&G, who));
		plant(&G, ANON_REPORT_AGE, "%d ans", range(&G, 90, 104));
		put(&G, ". ");
	}
	sentence(&G, PICK(&G, indications));
	if (chance(&G, 40)) {
		put(&G, " Comparaison avec l'examen du ");
		plant_date(&G, comp, 0);
		put(&G, ".");
	} else if (chance(&G, 50)) {
		put(&G, " Comparaison avec le scanner de ");
		plant_date(&G, comp, 1);
		put(&G, ".");
	}
	put(&G, "\n\nTECHNIQUE :\n");
	count = range(&G, 1, 2);
	for (i = 0; i < count; i++) {
		sentence(&G, mod == 0 ? PICK(&G, techniques_ct) :
			     mod == 1 ? PICK(&G, techniques_mr) :
					PICK(&G, techniques_cr));
		put(&G, " ");
	}
	put(&G, "\n\nRÉSULTATS :\n");
	count = range(&G, 4, 8);
	for (i = 0; i < count; i++) {
		sentence(&G, PICK(&G, findings));
		put(&G, "\n");
	}
	switch (rnd(&G, 6)) {
	case 0:
		put(&G, "Patient%s joignable au ", female ? "e" : "");
		plant_phone(&G);
		put(&G, " (IPP ");
		plant(&G, ANON_REPORT_ID, "%s", d->patient_id);
		put(&G, ").\n");
		break;
	case 1:
		put(&G, "Examen expliqué à ");
		plant_name_words(&G, pt.given);
		put(&G, " et à sa fille, Mme ");
		plant_name_words(&G, ref.family);
		put(&G, ".\n");
		break;
	case 2:
		put(&G, "Le patient réside ");
		plant_address(&G);
		put(&G, " depuis le ");
		plant_date(&G, comp + 30, 0);
		put(&G, ".\n");
		break;
	default:
		break;
	}
	if (chance(&G, 30)) {
		put(&G, "Avis du Pr ");
		plant_person(&G, &other, rnd(&G, 4));
		put(&G, " sollicité.\n");
	}
	put(&G, "\nCONCLUSION :\n");
	count = range(&G, 1, 3);
	for (i = 0; i < count; i++) {
		sentence(&G, PICK(&G, conclusions));
		put(&G, "\n");
	}
	if (chance(&G, 40)) {
		put(&G, "Résultats transmis au Dr ");
		plant_person(&G, &ref, 3);
		put(&G, " au ");
		plant_phone(&G);
		put(&G, ".\n");
	}
	put(&G, "\nCompte rendu validé le ");
	plant_date(&G, exam + rnd(&G, 2), 0);
	put(&G, " par le Dr ");
	plant_person(&G, &rad, rnd(&G, 3));
	put(&G, ", radiologue.\nManipulateur : ");
	plant_person(&G, &op, 1);
	if (chance(&G, 30)) {
		put(&G, "\nCopie à : ");
		plant_person(&G, &copy, 1);
	}
	put(&G, "\n");
	if (chance(&G, 50)) {
		/* a running footer, as printed on every page */
		put(&G, "\n");
		plant_person(&G, &pt, 4);
		put(&G, " - page 1/1\n");
	}

	snprintf(d->patient_pn, sizeof d->patient_pn, "%s", pt.pn);
	snprintf(d->referring_pn, sizeof d->referring_pn, "%s^^^Dr", ref.pn);
	snprintf(d->reading_pn, sizeof d->reading_pn, "%s", rad.pn);
	snprintf(d->operator_pn, sizeof d->operator_pn, "%s", op.pn);
	if (G.rc) {
		doc_reset(d);
		return G.rc;
	}
	return RF_OK;
}

void anon_textgen_doc_init(struct anon_textgen_doc *d, size_t max)
{
	memset(d, 0, sizeof *d);
	rf_buf_init(&d->text, max);
	d->modality = "CT";
}

void anon_textgen_doc_release(struct anon_textgen_doc *d)
{
	if (!d)
		return;
	rf_buf_release_secret(&d->text);
	doc_reset(d);
}

void anon_textgen_ctx(const struct anon_textgen_doc *d,
		      struct anon_report_ctx *c)
{
	anon_report_ctx_init(c);
	c->names[c->n_names++] = d->patient_pn;
	c->names[c->n_names++] = d->referring_pn;
	c->names[c->n_names++] = d->reading_pn;
	c->names[c->n_names++] = d->operator_pn;
	c->ids[c->n_ids++] = d->patient_id;
	c->ids[c->n_ids++] = d->accession;
	c->date_shift_days = d->date_shift_days;
}
