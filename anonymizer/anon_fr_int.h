/*
 * anon_fr_int.h - French word lists shared by the report scrubber and the
 * report generator (private to anonymizer/).
 *
 * The lists are curated by hand in anon_fr_words.c: common given names,
 * particles and titles that are never names on their own, and everyday or
 * clinical words that are also surnames (PETIT, BLANC, FONTAINE). Lookups
 * take a folded word (ASCII lowercase, accents removed) and are pure
 * functions over static const data: thread-safe, no allocation.
 *
 * Must not use: anything but libc.
 */
#ifndef ANON_FR_INT_H
#define ANON_FR_INT_H

#include <stddef.h>

/* 1 if w[0..n) is a common French given name ("jean", "helene"). */
int anon__fr_is_first_name(const char *w, size_t n);

/* 1 if w[0..n) is a particle or a title ("de", "la", "dr"): never a name
 * on its own. */
int anon__fr_is_stop_word(const char *w, size_t n);

/* 1 if w[0..n) is an everyday or clinical word that is also a surname
 * ("petit", "blanc"): a name only when written in capitals. */
int anon__fr_is_common_word(const char *w, size_t n);

/* 1 if w[0..n) is a medical acronym often written in capitals ("irm",
 * "tdm"): never a surname. */
int anon__fr_is_acronym(const char *w, size_t n);

/* The given names with their accents, for the report generator. */
extern const char *const anon__fr_first_names_display[];
extern const size_t anon__fr_first_names_display_count;

#endif
