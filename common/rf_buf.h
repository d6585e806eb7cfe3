/*
 * rf_buf.h - the one growable byte buffer, with a hard cap.
 *
 * Every wire and model payload is accumulated in a struct rf_buf whose
 * maximum size is fixed at init: input that would grow it past the cap fails
 * with RF_ETOOBIG and leaves the buffer as it was, so a hostile length can
 * never make radfed allocate more than the caller allowed.
 *
 *     struct rf_buf b;
 *     rf_buf_init(&b, 1 << 20);
 *     if (rf_buf_append(&b, p, n, err)) goto out;
 *     ...
 *     rf_buf_release(&b);
 *
 * The data is always followed by one NUL byte (not counted in len), so text
 * can be used as a C string. Not thread-safe; one owner at a time.
 *
 * Must not use: anything but libc and rf_alloc.
 */
#ifndef RF_BUF_H
#define RF_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "rf_err.h"

struct rf_buf {
	uint8_t *data; /* NULL until the first growth */
	size_t len;    /* bytes in use */
	size_t cap;    /* bytes allocated, excluding the NUL */
	size_t max;    /* hard cap on len */
};

#define RF_BUF_INIT(maxbytes) {NULL, 0, 0, (maxbytes)}

/* An empty buffer that will never hold more than max bytes. Allocates
 * nothing. */
void rf_buf_init(struct rf_buf *b, size_t max);

/* Frees the memory and returns b to the empty state (max kept). */
void rf_buf_release(struct rf_buf *b);

/* Like rf_buf_release, zeroizing the bytes first (keys, patient data). */
void rf_buf_release_secret(struct rf_buf *b);

/* Sets len to 0 and keeps the memory. */
void rf_buf_reset(struct rf_buf *b);

/* Makes room for `extra` more bytes. RF_ETOOBIG if len + extra > max,
 * RF_ENOMEM if allocation fails; on failure b is unchanged. */
enum rf_rc rf_buf_reserve(struct rf_buf *b, size_t extra, struct rf_err *e)
	RF_WUR;

/* Appends n bytes. On failure b is unchanged. */
enum rf_rc rf_buf_append(struct rf_buf *b, const void *p, size_t n,
			 struct rf_err *e) RF_WUR;

/* Appends a C string (without its NUL). */
enum rf_rc rf_buf_puts(struct rf_buf *b, const char *s, struct rf_err *e)
	RF_WUR;

/* Appends one byte. */
enum rf_rc rf_buf_putc(struct rf_buf *b, int c, struct rf_err *e) RF_WUR;

/* Appends formatted text. On failure b is unchanged. */
enum rf_rc rf_buf_printf(struct rf_buf *b, struct rf_err *e, const char *fmt,
			 ...) RF_WUR RF_PRINTF(3, 4);
enum rf_rc rf_buf_vprintf(struct rf_buf *b, struct rf_err *e, const char *fmt,
			  va_list ap) RF_WUR RF_PRINTF(3, 0);

/* Shortens the buffer to n bytes (n <= len). */
void rf_buf_truncate(struct rf_buf *b, size_t n);

/* Hands the data over to the caller (free with rf_free) and leaves b empty.
 * Returns a NUL-terminated allocation even when len is 0, or NULL when that
 * allocation fails. *len_out (optional) receives the length. */
uint8_t *rf_buf_detach(struct rf_buf *b, size_t *len_out);

/* The contents as a C string (valid until the next change to b). */
const char *rf_buf_str(const struct rf_buf *b);

#endif
