/*
 * rf_audit.h - the tamper-evident audit log: hash-chained JSON Lines with
 * periodic Ed25519-signed checkpoints (format: docs/formats.md, "Audit
 * log").
 *
 * Every line is one event:
 *
 *   {"seq":N,"ts":"...","actor":"...","event":"...","data":{...},
 *    "prev":"<sha256 of the previous line>","hash":"<sha256 of this line
 *    up to ,\"hash\">"}
 *
 * so changing, removing, inserting or reordering a line breaks the chain at
 * that line; a "checkpoint" line signed with the log owner's key makes a
 * rewrite of the chain by someone without the key detectable too.
 *
 *     struct rf_audit *a;
 *     if (rf_audit_open("audit.jsonl", "site:chu-lyon", key, NULL, &a, e))
 *             return e->rc;
 *     rc = rf_audit_append(a, "upload", "{\"sha256\":\"...\"}", NULL, e);
 *     ...
 *     rc = rf_audit_close(a, e);
 *
 * Durability: rf_audit_append returns only after the line has been written
 * and fsync'ed, so the caller acts (sends, deletes, accepts) after the event
 * is on disk. One writer per file: the writing handle holds an exclusive
 * flock(2) on it.
 *
 * Caller input never reaches a line unchecked: actor and event names are
 * restricted to [A-Za-z0-9._:@-], and data must be one strict JSON object
 * (bounded size and depth, no control characters, valid UTF-8).
 *
 * Must not use: anything but libc, POSIX (flock, pthreads) and the rf_
 * modules rf_alloc, rf_buf, rf_err, rf_crypto and rf_log. No global state.
 */
#ifndef RF_AUDIT_H
#define RF_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "rf_crypto.h"
#include "rf_err.h"

#define RF_AUDIT_NAME_MAX   128           /* bytes of an actor or event */
#define RF_AUDIT_DATA_MAX   65536         /* bytes of a data object */
#define RF_AUDIT_DATA_DEPTH 16            /* nesting of arrays/objects */
#define RF_AUDIT_LINE_MAX   (RF_AUDIT_DATA_MAX + 1024) /* without '\n' */
#define RF_AUDIT_TS_LEN     24            /* "2026-11-23T13:45:01.123Z" */
#define RF_AUDIT_CHECKPOINT_EVERY 100     /* default events per checkpoint */
#define RF_AUDIT_REASON_MAX 160

/* The domain separator of checkpoint signatures (15 bytes, no NUL). */
#define RF_AUDIT_SIG_DOMAIN "radfed-audit-v1"

/* Options of rf_audit_open; a NULL pointer means all defaults. */
struct rf_audit_opts {
	/* Events between two checkpoints; 0 means RF_AUDIT_CHECKPOINT_EVERY. */
	unsigned checkpoint_every;
	/* Check the whole existing chain on open (seq, prev, hash and
	 * checkpoint signatures, which must be by the handle's key when it
	 * has one), not only its last lines: O(file size). */
	bool verify_all;
	/* Wall clock for timestamps; NULL is clock_gettime(CLOCK_REALTIME).
	 * Tests install a fixed one. Called under the handle's lock. */
	void (*clock)(struct timespec *now, void *ctx);
	void *clock_ctx;
};

/* A writing handle on one log file. Heap object, see rf_audit_open. */
struct rf_audit;

/*
 * Opens the log at path for appending, creating it (mode 0600) when it does
 * not exist, and takes an exclusive flock on it: a second opener, in this
 * process or another, gets RF_EIO "audit log '...' is in use".
 *
 * An existing log is checked before anything is appended: its last line
 * must be well formed with a correct hash, and chain onto the line before
 * it (the whole file with opts->verify_all). A final line without a newline
 * is the trace of a crash during a write that was never acknowledged: it is
 * cut off (ftruncate + fsync) and the cut recorded as an
 * "audit.torn_tail" event whose data gives the offset, the length and the
 * SHA-256 of the discarded bytes.
 *
 * actor (the log owner's name, RF_AUDIT_NAME_MAX bytes of [A-Za-z0-9._:@-])
 * is copied. key, an Ed25519 private key, signs the checkpoints; it is
 * borrowed and must stay valid until rf_audit_close. With a NULL key the
 * chain is kept but nothing is signed (rf_audit_verify then reports the
 * whole log as an unsigned tail): for tools and tests, not for nodes.
 *
 * Success: *out is the handle. Failure: *out is NULL, nothing is appended
 * (a torn tail may have been cut already), and the code is RF_EINVAL (bad
 * actor, key or options), RF_EIO (file, lock), RF_EINTEGRITY (the existing
 * log does not verify; the message names the line and the reason),
 * RF_ENOMEM or RF_ECRYPTO.
 */
enum rf_rc rf_audit_open(const char *path, const char *actor,
			 const struct rf_key *key,
			 const struct rf_audit_opts *opts,
			 struct rf_audit **out, struct rf_err *e) RF_WUR;

/*
 * Appends one event and returns after it is written and fsync'ed.
 *
 * event: RF_AUDIT_NAME_MAX bytes of [A-Za-z0-9._:@-]; "checkpoint" and
 * names starting with "audit." are reserved (RF_EINVAL). data_json: one
 * JSON object (RFC 8259) of at most RF_AUDIT_DATA_MAX bytes and
 * RF_AUDIT_DATA_DEPTH levels, in valid UTF-8, with no control characters
 * and only spaces as whitespace; it is written verbatim. NULL means "{}".
 * Anything else is RF_EINVAL (RF_ETOOBIG when too large) and nothing is
 * written.
 *
 * out_hash (optional) receives the line's "hash" (SHA-256), e.g. to cite it
 * in a message. When the event completes a batch of checkpoint_every events
 * and the handle has a key, a checkpoint line follows; if that checkpoint
 * cannot be built the event still succeeds and the checkpoint is retried
 * after the next event.
 *
 * Failure: RF_EINVAL, RF_ENOMEM, RF_ECRYPTO leave the log and the handle as
 * they were. RF_EIO (write or fsync failed) leaves the handle failed: every
 * later append fails with RF_EIO, and reopening the log recovers it.
 *
 * Thread-safe: appends from several threads are serialised by the handle's
 * mutex, each event gets its own seq.
 */
enum rf_rc rf_audit_append(struct rf_audit *a, const char *event,
			   const char *data_json,
			   uint8_t out_hash[RF_SHA256_LEN],
			   struct rf_err *e) RF_WUR;

/* The seq the next line will get (the number of lines in the log) and the
 * "hash" of the last line (32 zero bytes for an empty log). hash may be
 * NULL. Thread-safe. */
void rf_audit_head(struct rf_audit *a, uint64_t *next_seq,
		   uint8_t hash[RF_SHA256_LEN]);

/*
 * Writes a closing checkpoint when the handle has a key and events follow
 * the last checkpoint, then releases the lock, closes the file and frees a.
 * a is freed in every case; a failure (RF_EIO, RF_ENOMEM, RF_ECRYPTO) means
 * only that the closing checkpoint is missing. Accepts NULL (RF_OK). No
 * other thread may use a during or after the call.
 */
enum rf_rc rf_audit_close(struct rf_audit *a, struct rf_err *e) RF_WUR;

/* ---- reading and verifying ---------------------------------------------- */

/* What rf_audit_verify found. */
struct rf_audit_report {
	uint64_t lines;         /* lines that verified */
	uint64_t events;        /* of which events (not checkpoints) */
	uint64_t checkpoints;   /* of which checkpoints */
	uint64_t unsigned_tail; /* lines after the last checkpoint */
	uint8_t head[RF_SHA256_LEN]; /* "hash" of the last good line */
	bool has_key;           /* a checkpoint was verified with key */
	uint8_t key[RF_ED25519_LEN]; /* raw public key of the checkpoints */
	uint64_t bad_line;      /* 1-based line of the first failure, or 0 */
	char reason[RF_AUDIT_REASON_MAX]; /* why bad_line failed, or "" */
};

/* One line of a log, as given to an iteration callback. The pointers are
 * valid during the call only. */
struct rf_audit_entry {
	uint64_t line;                  /* 1-based line number (seq + 1) */
	uint64_t seq;
	char ts[RF_AUDIT_TS_LEN + 1];
	char actor[RF_AUDIT_NAME_MAX + 1];
	char event[RF_AUDIT_NAME_MAX + 1];
	const char *data;               /* the data object, not NUL-ended */
	size_t data_len;
	uint8_t prev[RF_SHA256_LEN];
	uint8_t hash[RF_SHA256_LEN];
};

/* Called for every line once it has been checked; a code other than RF_OK
 * stops the iteration and is returned as is (set e with it). */
typedef enum rf_rc (*rf_audit_entry_fn)(const struct rf_audit_entry *ent,
					void *ctx, struct rf_err *e);

/*
 * Verifies the whole log at path, streaming it with memory bounded by
 * RF_AUDIT_LINE_MAX: every line must be exactly in the documented format,
 * seq must count from 0, prev must be the SHA-256 of the previous line and
 * hash the SHA-256 of the line's hashed part. Every checkpoint must count
 * the lines before it, name the hash of the line before it and carry a
 * valid signature by its key; that key must be one of the ntrusted keys in
 * trusted (Ed25519, public or private) or, with ntrusted 0, the same in
 * every checkpoint of the log.
 *
 * RF_OK: the log verified; r tells how many events and checkpoints it holds
 * and how many lines follow the last checkpoint (unsigned_tail: not an
 * error, but nothing vouches for those lines but the chain). RF_EINTEGRITY:
 * r->bad_line and r->reason name the first failure (also in e); the counts
 * cover the lines before it. An empty file verifies. Other failures:
 * RF_EIO (cannot read path), RF_ENOMEM, RF_ECRYPTO, RF_EINVAL (bad
 * arguments). Thread-safe; reads without a lock, so a log being written may
 * show a last line in progress as "incomplete last line".
 */
enum rf_rc rf_audit_verify(const char *path,
			   const struct rf_key *const *trusted,
			   size_t ntrusted, struct rf_audit_report *r,
			   struct rf_err *e) RF_WUR;

/* rf_audit_verify, calling fn(entry, ctx, e) for every line right after it
 * verified (in order, so a callback never sees a line that fails, but lines
 * of the unsigned tail are seen before the end is known). fn may be NULL. */
enum rf_rc rf_audit_iterate(const char *path,
			    const struct rf_key *const *trusted,
			    size_t ntrusted, rf_audit_entry_fn fn, void *ctx,
			    struct rf_audit_report *r,
			    struct rf_err *e) RF_WUR;

/* rf_audit_iterate calling fn only for the lines whose event is event
 * (NULL: any) and whose data has a top-level member key (a JSON string
 * after unescaping) equal to value; key NULL matches every data. For
 * crosschecks: "the upload with this sha256". */
enum rf_rc rf_audit_find(const char *path,
			 const struct rf_key *const *trusted, size_t ntrusted,
			 const char *event, const char *key,
			 const char *value, rf_audit_entry_fn fn, void *ctx,
			 struct rf_audit_report *r, struct rf_err *e) RF_WUR;

/* ---- the data object ---------------------------------------------------- */

/* RF_OK when the len bytes at json are a data object rf_audit_append
 * accepts; RF_EINVAL with the reason and byte offset otherwise. */
enum rf_rc rf_audit_data_check(const char *json, size_t len,
			       struct rf_err *e) RF_WUR;

/* Copies the unescaped value of the top-level string member key of the
 * data object json (which must pass rf_audit_data_check) into out, with a
 * NUL. RF_ENOTFOUND when there is no such member or it is not a string,
 * RF_ETOOBIG when the value and its NUL do not fit in out_size (out is then
 * ""), RF_EINVAL when json is not a valid data object. A value holding
 * U+0000 reads as a C string cut there. key is compared with the unescaped
 * member names; names over 255 bytes never match. */
enum rf_rc rf_audit_data_str(const char *json, size_t len, const char *key,
			     char *out, size_t out_size,
			     struct rf_err *e) RF_WUR;

#endif
