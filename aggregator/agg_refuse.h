/*
 * agg_refuse.h - the limit on the aggregator's rpc.refused audit lines.
 *
 * Every call refused before its handler is audited as rpc.refused, and
 * every line is fsynced: unlimited, a caller refused in a loop fills the
 * disk and slows every call that logs. The limiter decides which refusals
 * get a line. Per key, a token bucket of AGG_REFUSE_BURST lines, refilled
 * at one line per AGG_REFUSE_EVERY_MS. The key is the SHA-256 fingerprint
 * of the certificate the caller presented, "" for calls without one (all
 * anonymous callers share one key: the peer has no address).
 *
 * A refusal that finds a token gets a line; one that finds none gets no
 * line but is counted for its key. Every line carries `suppressed`: the
 * refusals of its key not written since that key's previous line (0
 * usually). The limiter keeps at most AGG_REFUSE_KEYS keys; a new key when
 * it is full evicts the key idle longest (the one whose last refusal is the
 * oldest). A key evicted with refusals pending, and at the end
 * (agg_refuse_take) every key with refusals pending, gets one more line:
 * the last of those refusals (its method, site and reason) carrying the
 * others as suppressed. So, provided the caller writes every line it is
 * handed, the sum over the lines of (1 + suppressed) equals the number of
 * refusals noted, always.
 *
 * The limiter only decides: it hands lines back and the caller writes them
 * (outside the limiter's lock, so that one fsync never holds up the
 * refusals of other keys; two lines of one key decided at once on two
 * threads may then reach the log in either order, which changes no sum).
 * The refusal itself never depends on it. Memory: one allocation of about
 * 570 KB, whatever the traffic.
 *
 * Thread safety: agg_refuse_note may be called from any number of threads
 * at once (one mutex); agg_refuse_take and agg_refuse_destroy from one
 * thread, once no agg_refuse_note runs.
 *
 * Must not use: gRPC, rf_rpc, the audit log; only common/ (rf_err,
 * rf_alloc, the sizes of rf_x509.h), libc and pthreads.
 */
#ifndef AGG_REFUSE_H
#define AGG_REFUSE_H

#include <stdint.h>

#include "rf_err.h"
#include "rf_x509.h"

/* Lines a key may write at once. */
#define AGG_REFUSE_BURST 20
/* Milliseconds for a key to earn one more line (up to the burst). */
#define AGG_REFUSE_EVERY_MS 10000
/* Keys held at most. */
#define AGG_REFUSE_KEYS 1024
/* Bytes kept of a method path and of a reason (longer ones are cut). */
#define AGG_REFUSE_METHOD_MAX 128
#define AGG_REFUSE_REASON_MAX 255

/* Milliseconds of a clock that never goes back (CLOCK_MONOTONIC); tests
 * pass their own. Called with the limiter's mutex held. */
typedef int64_t (*agg_refuse_clock_fn)(void *ctx);

/* One rpc.refused line to write: {method, site, cert_sha256, reason,
 * suppressed}. */
struct agg_refuse_line {
	char method[AGG_REFUSE_METHOD_MAX + 1];
	char site[RF_X509_NAME_MAX + 1];
	char cert_sha256[RF_X509_FP_SIZE]; /* the key */
	char reason[AGG_REFUSE_REASON_MAX + 1];
	uint64_t suppressed;
};

struct agg_refuse;

/* A limiter with no key yet, on clock (NULL: CLOCK_MONOTONIC, clock_ctx
 * ignored). Failure: *out NULL, RF_ENOMEM. Free with agg_refuse_destroy. */
enum rf_rc agg_refuse_create(agg_refuse_clock_fn clock, void *clock_ctx,
			     struct agg_refuse **out, struct rf_err *e) RF_WUR;

/* Frees r, pending counts and all (take them first). Accepts NULL. */
void agg_refuse_destroy(struct agg_refuse *r);

/*
 * Notes one refused call: method called, site (the certificate's CN, ""
 * without one), cert_sha256 (the key: the certificate's fingerprint, ""
 * without one; at most RF_X509_FP_SIZE - 1 bytes are kept), reason (the
 * refusal's text). The strings are copied (cut at the sizes of struct
 * agg_refuse_line); NULL reads as "".
 *
 * Returns how many lines the caller must now write, in order, from out[0]:
 * 0 (no token: counted for the key), 1 (this refusal, with the key's
 * suppressed count, which then starts again from 0) or 2 (the key this new
 * key evicted, with its pending refusals, then this refusal). Never fails.
 * Thread-safe.
 */
int agg_refuse_note(struct agg_refuse *r, const char *method, const char *site,
		    const char *cert_sha256, const char *reason,
		    struct agg_refuse_line out[2]);

/*
 * At the end: the line of one key with refusals pending (the last of them,
 * with the others as suppressed), whose count is then cleared. Returns 1
 * with *out filled, 0 when no key has anything pending. Call it until it
 * returns 0 and write every line to keep the sum exact. Not concurrently
 * with agg_refuse_note.
 */
int agg_refuse_take(struct agg_refuse *r, struct agg_refuse_line *out);

/* The number of keys held (at most AGG_REFUSE_KEYS). Thread-safe. */
unsigned agg_refuse_keys(struct agg_refuse *r);

#endif
