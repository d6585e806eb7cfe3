/*
 * rf_alloc.h - the one allocator of radfed, with a hook tests can replace.
 *
 * All of radfed's own heap memory comes from rf_malloc/rf_calloc/rf_realloc
 * and goes back through rf_free (third-party libraries keep their own).
 * Tests install a hook that fails the Nth allocation to prove that every
 * failure path returns RF_ENOMEM and leaks nothing.
 *
 * The hook is process-global: it is written only by rf_alloc_set_hook(),
 * which must be called before any other thread allocates (tests, main()).
 *
 * Must not use: anything but libc.
 */
#ifndef RF_ALLOC_H
#define RF_ALLOC_H

#include <stddef.h>

struct rf_alloc_hook {
	void *(*malloc_fn)(size_t n, void *ctx);
	void *(*realloc_fn)(void *p, size_t n, void *ctx);
	void (*free_fn)(void *p, void *ctx);
	void *ctx;
};

/* Installs hook (copied), or restores libc's allocator when hook is NULL. */
void rf_alloc_set_hook(const struct rf_alloc_hook *hook);

/* Like malloc, but rf_malloc(0) returns a unique non-NULL pointer. */
void *rf_malloc(size_t n);
/* Zeroed n*size bytes; NULL on overflow of n*size. */
void *rf_calloc(size_t n, size_t size);
/* Like realloc; on failure p is left untouched. */
void *rf_realloc(void *p, size_t n);
/* n*size bytes, NULL on overflow. */
void *rf_mallocarray(size_t n, size_t size);
/* Accepts NULL. */
void rf_free(void *p);
/* Copy of s, or NULL on allocation failure. s must not be NULL. */
char *rf_strdup(const char *s);
/* Copy of the first n bytes of s (stops at NUL), NUL-terminated. */
char *rf_strndup(const char *s, size_t n);

/* Overwrites n bytes at p with zeros in a way the compiler cannot elide. */
void rf_zeroize(void *p, size_t n);
/* rf_zeroize(p, n) then rf_free(p), for keys and patient-derived buffers. */
void rf_free_secret(void *p, size_t n);

#endif
