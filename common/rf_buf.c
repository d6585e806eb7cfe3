/* rf_buf.c - capped growable byte buffer. */
#include "rf_buf.h"

#include <stdio.h>
#include <string.h>

#include "rf_alloc.h"

void rf_buf_init(struct rf_buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
}

void rf_buf_release(struct rf_buf *b)
{
	rf_free(b->data);
	rf_buf_init(b, b->max);
}

void rf_buf_release_secret(struct rf_buf *b)
{
	if (b->data)
		rf_zeroize(b->data, b->cap + 1);
	rf_buf_release(b);
}

void rf_buf_reset(struct rf_buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = 0;
}

enum rf_rc rf_buf_reserve(struct rf_buf *b, size_t extra, struct rf_err *e)
{
	size_t want, ncap;
	uint8_t *p;

	if (extra > b->max || b->len > b->max - extra)
		return rf_err_set(e, RF_ETOOBIG,
				  "buffer would exceed its limit of %zu bytes",
				  b->max);
	want = b->len + extra;
	if (want <= b->cap && b->data)
		return RF_OK;
	ncap = b->cap ? b->cap : 64;
	while (ncap < want)
		ncap = ncap > b->max / 2 ? b->max : ncap * 2;
	if (ncap > b->max)
		ncap = b->max;
	if (ncap < want)
		ncap = want;
	p = rf_realloc(b->data, ncap + 1);
	if (!p)
		return rf_err_set(e, RF_ENOMEM,
				  "cannot grow buffer to %zu bytes", ncap);
	if (!b->data)
		p[0] = 0;
	b->data = p;
	b->cap = ncap;
	return RF_OK;
}

enum rf_rc rf_buf_append(struct rf_buf *b, const void *p, size_t n,
			 struct rf_err *e)
{
	enum rf_rc rc = rf_buf_reserve(b, n, e);

	if (rc)
		return rc;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = 0;
	return RF_OK;
}

enum rf_rc rf_buf_puts(struct rf_buf *b, const char *s, struct rf_err *e)
{
	return rf_buf_append(b, s, strlen(s), e);
}

enum rf_rc rf_buf_putc(struct rf_buf *b, int c, struct rf_err *e)
{
	unsigned char ch = (unsigned char)c;

	return rf_buf_append(b, &ch, 1, e);
}

enum rf_rc rf_buf_vprintf(struct rf_buf *b, struct rf_err *e, const char *fmt,
			  va_list ap)
{
	va_list cp;
	enum rf_rc rc;
	int n;

	va_copy(cp, ap);
	n = vsnprintf(NULL, 0, fmt, cp);
	va_end(cp);
	if (n < 0)
		return rf_err_set(e, RF_EINVAL, "bad format string");
	rc = rf_buf_reserve(b, (size_t)n, e);
	if (rc)
		return rc;
	vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return RF_OK;
}

enum rf_rc rf_buf_printf(struct rf_buf *b, struct rf_err *e, const char *fmt,
			 ...)
{
	va_list ap;
	enum rf_rc rc;

	va_start(ap, fmt);
	rc = rf_buf_vprintf(b, e, fmt, ap);
	va_end(ap);
	return rc;
}

void rf_buf_truncate(struct rf_buf *b, size_t n)
{
	if (n >= b->len)
		return;
	b->len = n;
	b->data[n] = 0;
}

uint8_t *rf_buf_detach(struct rf_buf *b, size_t *len_out)
{
	uint8_t *p = b->data;

	if (!p)
		p = rf_calloc(1, 1);
	if (len_out)
		*len_out = p ? b->len : 0;
	rf_buf_init(b, b->max);
	return p;
}

const char *rf_buf_str(const struct rf_buf *b)
{
	return b->data ? (const char *)b->data : "";
}
