/*
 * anon_fr_words.c - curated French word lists for the report scrubber and
 * the report generator.
 *
 * Written by hand from common usage (the most frequent French given names of
 * the last decades, the particles of French surnames, and words of everyday
 * and radiological French that are also surnames). first_names[] holds the
 * entries of first_names_display[] folded to ASCII lowercase, sorted.
 */
#include <string.h>

#include "anon_fr_int.h"

const char *const anon__fr_first_names_display[] = {
	"Jean", "Marie", "Pierre", "Michel", "André", "Philippe",
	"Alain", "Bernard", "Jacques", "Daniel", "Christian",
	"Patrick", "Nicolas", "Christophe", "Stéphane", "Frédéric",
	"Laurent", "Éric", "Olivier", "David", "Julien", "Thomas",
	"Sébastien", "Vincent", "François", "Guillaume", "Antoine",
	"Mathieu", "Romain", "Maxime", "Alexandre", "Hugo", "Lucas",
	"Louis", "Gabriel", "Arthur", "Raphaël", "Jules", "Léo",
	"Adam", "Paul", "Henri", "René", "Gérard", "Roger",
	"Marcel", "Georges", "Robert", "Serge", "Yves", "Didier",
	"Thierry", "Pascal", "Joël", "Loïc", "Yannick", "Hervé",
	"Gilles", "Denis", "Bruno", "Fabrice", "Cédric", "Jérôme",
	"Damien", "Mickaël", "Kévin", "Mohamed", "Ahmed", "Karim",
	"Mehdi", "Youssef", "Nathalie", "Isabelle", "Sylvie",
	"Catherine", "Françoise", "Martine", "Christine", "Monique",
	"Nicole", "Valérie", "Sandrine", "Sophie", "Stéphanie",
	"Céline", "Véronique", "Chantal", "Anne", "Jacqueline",
	"Brigitte", "Hélène", "Dominique", "Annie", "Patricia",
	"Corinne", "Laurence", "Julie", "Aurélie", "Émilie",
	"Caroline", "Camille", "Manon", "Léa", "Chloé", "Emma", "Inès",
	"Jade", "Louise", "Alice", "Lina", "Zoé", "Anaïs", "Noémie",
	"Mathilde", "Pauline", "Charlotte", "Clémence", "Élise",
	"Margaux", "Juliette", "Lucie", "Sarah", "Laura", "Marion",
	"Audrey", "Virginie", "Delphine", "Élodie", "Agnès", "Odile",
	"Thérèse", "Josiane", "Ginette", "Simone", "Yvette",
	"Paulette", "Jeanne", "Madeleine", "Suzanne", "Germaine",
	"Marguerite", "Denise", "Colette", "Fatima", "Aïcha",
	"Yasmine", "Maëlle", "Solène", "Océane", "Gaëlle", "Nadia",
	"Samia", "Sylvain", "Lionel", "Ludovic", "Régis", "Benoît",};
const size_t anon__fr_first_names_display_count =
	sizeof anon__fr_first_names_display /
	sizeof anon__fr_first_names_display[0];

static const char *const first_names[] = {
	"adam", "agnes", "ahmed", "aicha", "alain", "alexandre",
	"alice", "anais", "andre", "anne", "annie", "antoine",
	"arthur", "audrey", "aurelie", "benoit", "bernard", "brigitte",
	"bruno", "camille", "caroline", "catherine", "cedric",
	"celine", "chantal", "charlotte", "chloe", "christian",
	"christine", "christophe", "clemence", "colette",
	"corinne", "damien", "daniel", "david", "delphine", "denis",
	"denise", "didier", "dominique", "elise", "elodie", "emilie",
	"emma", "eric", "fabrice", "fatima", "francois", "francoise",
	"frederic", "gabriel", "gaelle", "georges", "gerard",
	"germaine", "gilles", "ginette", "guillaume", "helene",
	"henri", "herve", "hugo", "ines", "isabelle", "jacqueline",
	"jacques", "jade", "jean", "jeanne", "jerome", "joel",
	"josiane", "jules", "julie", "julien", "juliette", "karim",
	"kevin", "laura", "laurence", "laurent", "lea", "leo", "lina",
	"lionel", "loic", "louis", "louise", "lucas", "lucie",
	"ludovic", "madeleine", "maelle", "manon", "marcel", "margaux",
	"marguerite", "marie", "marion", "martine", "mathieu",
	"mathilde", "maxime", "mehdi", "michel", "mickael", "mohamed",
	"monique", "nadia", "nathalie", "nicolas", "nicole", "noemie",
	"oceane", "odile", "olivier", "pascal", "patricia", "patrick",
	"paul", "paulette", "pauline", "philippe", "pierre", "raphael",
	"regis", "rene", "robert", "roger", "romain", "samia",
	"sandrine", "sarah", "sebastien", "serge", "simone", "solene",
	"sophie", "stephane", "stephanie", "suzanne", "sylvain",
	"sylvie", "therese", "thierry", "thomas", "valerie",
	"veronique", "vincent", "virginie", "yannick", "yasmine",
	"youssef", "yves", "yvette", "zoe",};

static const char *const stop_words[] = {
	"a", "au", "aux", "d", "da", "dans", "de", "del", "den", "der",
	"des", "di", "docteur", "dos", "dr", "drs", "du", "el", "elle", "en",
	"est", "et", "il", "jr", "l", "la", "le", "les", "m", "madame",
	"mademoiselle", "me", "mlle", "mme", "monsieur", "mr", "ne", "on",
	"ou", "par", "pas", "plus", "pour", "pr", "professeur", "sa", "sans",
	"se", "ses", "son", "sous", "sr", "st", "ste", "sur", "un", "une",
	"van", "von", "y",
};

static const char *const common_words[] = {
	"aspect", "avril", "bas", "beau", "belle", "berger", "bien", "blanc",
	"blanche", "bois", "bon", "bonne", "boucher", "bras", "brun",
	"claire", "col", "coeur", "cou", "coupe", "court", "dos", "doux",
	"droit", "droite", "examen", "face", "fontaine", "foie", "fort",
	"franc", "france", "garde", "gauche", "genou", "grand", "grande",
	"gros", "hanche", "haut", "image", "jambe", "jeune", "juin", "kyste",
	"leger", "lion", "lobe", "long", "loup", "lyon", "mai", "main", "mal",
	"marchand", "mars", "masse", "meunier", "moyen", "moyenne", "mur",
	"net", "nette", "neuf", "nice", "nodule", "noir", "normal", "normale",
	"os", "paris", "petit", "petite", "pied", "plan", "point", "pont",
	"profil", "rate", "rein", "roi", "rose", "rouge", "roux", "sec",
	"sein", "signe", "simple", "temps", "tete", "trait", "vert", "vieux",
};

static const char *const acronyms[] = {
	"abdominal", "ait", "ap", "asp", "avc", "avec", "bi", "bpco",
	"cerebral", "ch", "chu", "compte", "conclusion", "crp", "ct", "ecg",
	"echographie", "hopital", "hospitalier", "hta", "im", "imagerie",
	"indication", "injection", "irm", "iv", "medicale", "nb", "ok", "oms",
	"orl", "pelvien", "radiographie", "radiologie", "rads", "rendu",
	"resultats", "rx", "scanner", "service", "tdm", "technique", "tep",
	"thoracique",
};

static int in_list(const char *const *list, size_t count, const char *w,
		   size_t n)
{
	if (n == 0)
		return 0;
	for (size_t i = 0; i < count; i++)
		if (list[i][0] == w[0] && strncmp(list[i], w, n) == 0 &&
		    list[i][n] == 0)
			return 1;
	return 0;
}

#define IN(list, w, n) in_list(list, sizeof list / sizeof list[0], w, n)

int anon__fr_is_first_name(const char *w, size_t n)
{
	return IN(first_names, w, n);
}

int anon__fr_is_stop_word(const char *w, size_t n)
{
	return IN(stop_words, w, n);
}

int anon__fr_is_common_word(const char *w, size_t n)
{
	return IN(common_words, w, n);
}

int anon__fr_is_acronym(const char *w, size_t n)
{
	return IN(acronyms, w, n);
}
