/* rf_alloc.c - allocator hook. The only global here is `hook`, written by
 * rf_alloc_set_hook() before threads start (see rf_alloc.h). */
#include "rf_alloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static struct rf_alloc_hook hook;

void rf_alloc_set_hook(const struct rf_alloc_hook *h)
{
	if (h)
		hook = *h;
	else
		memset(&hook, 0, sizeof hook);
}

void *rf_malloc(size_t n)
{
	if (n == 0)
		n = 1;
	if (hook.malloc_fn)
		return hook.malloc_fn(n, hook.ctx);
	return malloc(n);
}

void *rf_realloc(void *p, size_t n)
{
	if (n == 0)
		n = 1;
	if (hook.realloc_fn)
		return hook.realloc_fn(p, n, hook.ctx);
	return realloc(p, n);
}

void *rf_mallocarray(size_t n, size_t size)
{
	if (size && n > SIZE_MAX / size)
		return NULL;
	return rf_malloc(n * size);
}

void *rf_calloc(size_t n, size_t size)
{
	void *p = rf_mallocarray(n, size);

	if (p)
		memset(p, 0, n * size);
	return p;
}

void rf_free(void *p)
{
	if (!p)
		return;
	if (hook.free_fn)
		hook.free_fn(p, hook.ctx);
	else
		free(p);
}

char *rf_strndup(const char *s, size_t n)
{
	size_t len = strnlen(s, n);
	char *d = rf_malloc(len + 1);

	if (!d)
		return NULL;
	memcpy(d, s, len);
	d[len] = '\0';
	return d;
}

char *rf_strdup(const char *s)
{
	return rf_strndup(s, SIZE_MAX);
}

void rf_zeroize(void *p, size_t n)
{
	if (!p)
		return;
	memset(p, 0, n);
	/* the compiler must assume the zeros are read: memset stays */
	__asm__ __volatile__("" : : "r"(p) : "memory");
}

void rf_free_secret(void *p, size_t n)
{
	rf_zeroize(p, n);
	rf_free(p);
}
