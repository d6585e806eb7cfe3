/* agg_refuse.c - token buckets per key for the rpc.refused audit lines. */
#include "agg_refuse.h"

#include <pthread.h>
#include <string.h>
#include <time.h>

#include "rf_alloc.h"

/* Hash buckets: a power of two, twice the keys. */
#define BUCKETS (2 * AGG_REFUSE_KEYS)

/* One key: its bucket, its pending count and the last refusal not written
 * (last.cert_sha256 is the key itself, always set). */
struct key {
	struct agg_refuse_line last;
	uint64_t pending;  /* refusals not written since the key's last line */
	int64_t refill_ms; /* when tokens was last brought up to date */
	unsigned tokens;
	int hnext;        /* next key in the same bucket, -1 */
	int newer, older; /* the idle order, by last refusal; -1 at ends */
};

struct agg_refuse {
	pthread_mutex_t lock;
	agg_refuse_clock_fn clock;
	void *clock_ctx;
	unsigned n; /* keys[0 .. n) are in use */
	int newest; /* head of the idle order, -1 when empty */
	int oldest; /* its tail: the key evicted next */
	int bucket[BUCKETS];
	struct key keys[AGG_REFUSE_KEYS];
};

static int64_t monotonic_ms(void *ctx)
{
	struct timespec ts;

	(void)ctx;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Copies src (NULL: "") into dst of size bytes, cut if need be at a UTF-8
 * character boundary so that the audit line stays valid UTF-8. */
static void copy_cut(char *dst, size_t size, const char *src)
{
	size_t n = src ? strnlen(src, size) : 0;

	if (n == size) {
		n = size - 1;
		while (n > 0 && ((unsigned char)src[n] & 0xc0) == 0x80)
			n--;
	}
	if (n)
		memcpy(dst, src, n);
	dst[n] = '\0';
}

static void line_set(struct agg_refuse_line *l, const char *method,
		     const char *site, const char *cert_sha256,
		     const char *reason)
{
	copy_cut(l->method, sizeof l->method, method);
	copy_cut(l->site, sizeof l->site, site);
	copy_cut(l->cert_sha256, sizeof l->cert_sha256, cert_sha256);
	copy_cut(l->reason, sizeof l->reason, reason);
	l->suppressed = 0;
}

/* FNV-1a. */
static unsigned hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h & (BUCKETS - 1);
}

static int key_find(const struct agg_refuse *r, const char *fp)
{
	for (int i = r->bucket[hash(fp)]; i >= 0; i = r->keys[i].hnext)
		if (strcmp(r->keys[i].last.cert_sha256, fp) == 0)
			return i;
	return -1;
}

static void hash_unlink(struct agg_refuse *r, int i)
{
	int *p = &r->bucket[hash(r->keys[i].last.cert_sha256)];

	while (*p != i)
		p = &r->keys[*p].hnext;
	*p = r->keys[i].hnext;
}

static void idle_unlink(struct agg_refuse *r, int i)
{
	struct key *k = &r->keys[i];

	if (k->newer >= 0)
		r->keys[k->newer].older = k->older;
	else
		r->newest = k->older;
	if (k->older >= 0)
		r->keys[k->older].newer = k->newer;
	else
		r->oldest = k->newer;
}

static void idle_push(struct agg_refuse *r, int i)
{
	struct key *k = &r->keys[i];

	k->newer = -1;
	k->older = r->newest;
	if (r->newest >= 0)
		r->keys[r->newest].newer = i;
	else
		r->oldest = i;
	r->newest = i;
}

/* The line standing for the pending refusals of k: the last of them, with
 * the others as suppressed, so that it counts 1 + suppressed = pending. */
static void pending_line(struct key *k, struct agg_refuse_line *out)
{
	*out = k->last;
	out->suppressed = k->pending - 1;
	k->pending = 0;
}

/* A new key fp with a full bucket, taking the place of the key idle
 * longest when all are in use; that key's pending line, if any, goes to
 * out[*n]. Returns its index, not yet in the idle order. */
static int key_add(struct agg_refuse *r, const char *fp, int64_t now,
		   struct agg_refuse_line *out, int *n)
{
	struct key *k;
	unsigned h;
	int i;

	if (r->n < AGG_REFUSE_KEYS) {
		i = (int)r->n++;
	} else {
		i = r->oldest;
		idle_unlink(r, i);
		hash_unlink(r, i);
		if (r->keys[i].pending)
			pending_line(&r->keys[i], &out[(*n)++]);
	}
	k = &r->keys[i];
	memset(k, 0, sizeof *k);
	copy_cut(k->last.cert_sha256, sizeof k->last.cert_sha256, fp);
	k->tokens = AGG_REFUSE_BURST;
	k->refill_ms = now;
	h = hash(k->last.cert_sha256);
	k->hnext = r->bucket[h];
	r->bucket[h] = i;
	return i;
}

/* Brings k's tokens up to now: one per AGG_REFUSE_EVERY_MS since
 * refill_ms, never more than the burst (a full bucket earns nothing). */
static void refill(struct key *k, int64_t now)
{
	int64_t earned;

	if (k->tokens >= AGG_REFUSE_BURST) {
		k->refill_ms = now;
		return;
	}
	if (now <= k->refill_ms)
		return;
	earned = (now - k->refill_ms) / AGG_REFUSE_EVERY_MS;
	if (earned >= AGG_REFUSE_BURST - k->tokens) {
		k->tokens = AGG_REFUSE_BURST;
		k->refill_ms = now;
	} else {
		k->tokens += (unsigned)earned;
		k->refill_ms += earned * AGG_REFUSE_EVERY_MS;
	}
}

enum rf_rc agg_refuse_create(agg_refuse_clock_fn clock, void *clock_ctx,
			     struct agg_refuse **out, struct rf_err *e)
{
	struct agg_refuse *r;

	*out = NULL;
	r = rf_calloc(1, sizeof *r);
	if (!r)
		return rf_err_set(e, RF_ENOMEM,
				  "out of memory for the refusal limiter");
	if (pthread_mutex_init(&r->lock, NULL) != 0) {
		rf_free(r);
		return rf_err_set(e, RF_ENOMEM,
				  "cannot create the refusal limiter's mutex");
	}
	r->clock = clock ? clock : monotonic_ms;
	r->clock_ctx = clock_ctx;
	r->newest = -1;
	r->oldest = -1;
	for (size_t i = 0; i < BUCKETS; i++)
		r->bucket[i] = -1;
	*out = r;
	return RF_OK;
}

void agg_refuse_destroy(struct agg_refuse *r)
{
	if (!r)
		return;
	pthread_mutex_destroy(&r->lock);
	rf_free(r);
}

int agg_refuse_note(struct agg_refuse *r, const char *method, const char *site,
		    const char *cert_sha256, const char *reason,
		    struct agg_refuse_line out[2])
{
	char fp[RF_X509_FP_SIZE];
	struct key *k;
	int64_t now;
	int i, n = 0;

	copy_cut(fp, sizeof fp, cert_sha256);
	pthread_mutex_lock(&r->lock);
	now = r->clock(r->clock_ctx);
	i = key_find(r, fp);
	if (i < 0)
		i = key_add(r, fp, now, out, &n);
	else
		idle_unlink(r, i);
	idle_push(r, i);
	k = &r->keys[i];
	refill(k, now);
	if (k->tokens) {
		k->tokens--;
		line_set(&out[n], method, site, fp, reason);
		out[n++].suppressed = k->pending;
		k->pending = 0;
	} else {
		k->pending++;
		line_set(&k->last, method, site, fp, reason);
	}
	pthread_mutex_unlock(&r->lock);
	return n;
}

int agg_refuse_take(struct agg_refuse *r, struct agg_refuse_line *out)
{
	int found = 0;

	pthread_mutex_lock(&r->lock);
	for (unsigned i = 0; i < r->n; i++) {
		if (r->keys[i].pending) {
			pending_line(&r->keys[i], out);
			found = 1;
			break;
		}
	}
	pthread_mutex_unlock(&r->lock);
	return found;
}

unsigned agg_refuse_keys(struct agg_refuse *r)
{
	unsigned n;

	pthread_mutex_lock(&r->lock);
	n = r->n;
	pthread_mutex_unlock(&r->lock);
	return n;
}
