/*
 * agg_registry.h - the aggregator's registry: one SQLite file (registry.db
 * in the aggregator folder) holding the enrolled identities and their
 * certificates, the one-time enrollment invitations, the rounds, their
 * participants, the accepted model updates and the aggregated models. The
 * schema is documented in docs/formats.md ("Aggregator registry").
 *
 * The registry stores; it does not decide. The round state machine, the
 * enrollment service and the RPC layer's role check sit on top of it and
 * give states and times (`now`, seconds since 1970 UTC) explicitly.
 *
 * Durability: the database runs in WAL mode with synchronous=FULL and every
 * change is one transaction, so when a function returns RF_OK its change is
 * on disk and survives SIGKILL or power loss; when it fails, nothing of it
 * was written. An update is counted at most once: (round, round_no, site)
 * is UNIQUE.
 *
 * Thread safety: one struct agg_registry may be shared by any number of
 * threads. It owns one SQLite connection (opened SQLITE_OPEN_NOMUTEX) and
 * serialises every call on its own mutex. Callbacks run with that mutex
 * held: they must not call back into the same registry. Several registries
 * (threads or processes) may open the same file: writes are serialised by
 * SQLite's lock (BEGIN IMMEDIATE, busy timeout AGG_REGISTRY_BUSY_MS), so a
 * token is redeemed once even across processes.
 *
 * Memory: radfed's own memory comes from rf_alloc; SQLite keeps its own
 * allocator (sqlite3_malloc), which rf_alloc's test hook does not cover. A
 * failing SQLite allocation is reported as RF_ENOMEM all the same.
 *
 * All SQL uses bound parameters: names, specs and metrics are stored
 * verbatim whatever characters they hold.
 *
 * Must not use: node/ headers, the sqlite3 command, any SQL built by
 * string formatting from input.
 */
#ifndef AGG_REGISTRY_H
#define AGG_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#include "rf_buf.h"
#include "rf_crypto.h"
#include "rf_err.h"

/* The schema version this code writes and understands. */
#define AGG_REGISTRY_SCHEMA 2
/* How long a call waits for another connection's write lock. */
#define AGG_REGISTRY_BUSY_MS 10000

/* A name (site, user) is 1..AGG_NAME_MAX bytes without control bytes
 * (0x00-0x1f, 0x7f); any other byte, quotes included, is stored verbatim. */
#define AGG_NAME_MAX 128
/* A state text is 1..AGG_STATE_MAX bytes of [a-z0-9_-]. */
#define AGG_STATE_MAX 32
/* 64 lowercase hex digits and a NUL (SHA-256, fingerprints). */
#define AGG_HEX256_SIZE 65
/* An invitation token: 32 random bytes as 64 lowercase hex digits, NUL. */
#define AGG_TOKEN_SIZE 65
/* Limits on stored texts (RF_ETOOBIG beyond). */
#define AGG_CERT_PEM_MAX (64 * 1024)
#define AGG_SPEC_MAX     (1024 * 1024)
#define AGG_METRICS_MAX  (64 * 1024)
#define AGG_PATH_MAX     4096
#define AGG_ERROR_MAX    1024       /* a failed round's reason */
#define AGG_SITES_JSON_MAX (1024 * 1024) /* a model's list of sites */
/* An Ed25519 signature (a round's). */
#define AGG_SIG_LEN 64

struct agg_registry;

/* ---- opening ------------------------------------------------------------ */

/* Opens the registry at path, creating it (mode 0600, and so its -wal and
 * -shm files) when it does not exist. Sets WAL mode, synchronous=FULL,
 * foreign keys and the busy timeout, runs PRAGMA quick_check, and applies
 * the forward-only schema migrations up to AGG_REGISTRY_SCHEMA, each in
 * one transaction.
 * Failure: RF_EPROTO when path is not an SQLite database or fails the
 * check, RF_EUNSUPPORTED when its schema is newer than this code,
 * RF_EIO when it cannot be opened, RF_ENOMEM; the message names path. *out
 * is NULL on failure; a file this call created is removed again, an
 * existing one keeps its contents. On success the caller owns *out
 * (agg_registry_close). */
enum rf_rc agg_registry_open(const char *path, struct agg_registry **out,
			     struct rf_err *e) RF_WUR;

/* Finalises the statements and closes the connection. Accepts NULL. No
 * other thread may use r any more. */
void agg_registry_close(struct agg_registry *r);

/* The schema version recorded in the file. */
enum rf_rc agg_registry_schema_version(struct agg_registry *r, int *out,
				       struct rf_err *e) RF_WUR;

/* Runs PRAGMA quick_check: RF_OK when SQLite answers "ok", else
 * RF_EPROTO with its first complaint. */
enum rf_rc agg_registry_check(struct agg_registry *r, struct rf_err *e) RF_WUR;

/* ---- roles -------------------------------------------------------------- */

enum agg_role {
	AGG_ROLE_SITE = 1,
	AGG_ROLE_RESEARCHER,
	AGG_ROLE_AUDITOR,
	AGG_ROLE_AGGREGATOR
};

/* "site", "researcher", "auditor", "aggregator"; "?" for another value. */
const char *agg_role_name(enum agg_role role);

/* The role named s; RF_EINVAL for any other text. */
enum rf_rc agg_role_parse(const char *s, enum agg_role *out,
			  struct rf_err *e) RF_WUR;

/* ---- identities --------------------------------------------------------- */

/* One enrolled certificate. A name may hold several (re-enrollment). */
struct agg_identity {
	int64_t id; /* row id, increasing with enrollment */
	char name[AGG_NAME_MAX + 1];
	enum agg_role role;
	char fingerprint[AGG_HEX256_SIZE]; /* SHA-256 of the DER, lowercase */
	int64_t not_after;                 /* certificate expiry */
	int64_t enrolled_at;
	int64_t revoked_at; /* 0 while not revoked */
};

/* Records a certificate (PEM, as issued) for name with role, enrolled at
 * now. The fingerprint and not_after are read from the certificate itself;
 * the caller has checked that it is the one it issued for name. *id_out
 * (optional) receives the row id.
 * Failure: RF_EINVAL for a bad name or role, RF_ECRYPTO for a PEM that
 * holds no certificate, RF_ETOOBIG, RF_EEXIST when that certificate is
 * already recorded; nothing is written. */
enum rf_rc agg_registry_identity_add(struct agg_registry *r, const char *name,
				     enum agg_role role, const char *cert_pem,
				     int64_t now, int64_t *id_out,
				     struct rf_err *e) RF_WUR;

/* The identity whose certificate has fingerprint fp (64 hex digits, either
 * case), revoked or not: the caller checks revoked_at and not_after. This is
 * the per-call hook of the RPC layer: an indexed lookup through a prepared
 * statement kept for the registry's life; it allocates nothing of radfed's.
 * Failure: RF_ENOTFOUND, RF_EINVAL for a malformed fp; *out zeroed. */
enum rf_rc agg_registry_identity_find_by_fingerprint(struct agg_registry *r,
						     const char *fp,
						     struct agg_identity *out,
						     struct rf_err *e) RF_WUR;

/* The latest enrolled certificate of name that is not revoked, or, when all
 * are revoked, the latest one. RF_ENOTFOUND when name has none; *out zeroed
 * on failure. */
enum rf_rc agg_registry_identity_find_by_name(struct agg_registry *r,
					      const char *name,
					      struct agg_identity *out,
					      struct rf_err *e) RF_WUR;

/* Appends the PEM certificate of the identity with fingerprint fp to out.
 * RF_ENOTFOUND when unknown; out unchanged on failure. */
enum rf_rc agg_registry_identity_cert(struct agg_registry *r, const char *fp,
				      struct rf_buf *out,
				      struct rf_err *e) RF_WUR;

/* Marks every not yet revoked certificate of name revoked at now, in one
 * transaction. Certificates already revoked keep their first revoked_at.
 * *count_out (optional) receives how many were newly revoked.
 * RF_ENOTFOUND when name has no certificate at all. */
enum rf_rc agg_registry_revoke(struct agg_registry *r, const char *name,
			       int64_t now, int *count_out,
			       struct rf_err *e) RF_WUR;

/* Called once per identity; cert_pem is borrowed for the call. A return
 * other than RF_OK stops the walk and is returned by the walker (set e). */
typedef enum rf_rc (*agg_identity_fn)(const struct agg_identity *id,
				      const char *cert_pem, void *ctx,
				      struct rf_err *e);

/* Calls fn for every identity in (name, id) order, revoked ones included. */
enum rf_rc agg_registry_identity_list(struct agg_registry *r,
				      agg_identity_fn fn, void *ctx,
				      struct rf_err *e) RF_WUR;

/* ---- invitations -------------------------------------------------------- */

/* Creates a one-time invitation for name with role, valid for ttl_seconds
 * (1 .. 10 years) from now. token_out receives the token: 32 bytes from the
 * CSPRNG as 64 lowercase hex digits. It is returned only here: the
 * registry stores only its SHA-256. The caller zeroizes token_out when it
 * has handed it over. Failure: RF_EINVAL, RF_ECRYPTO, RF_EIO; token_out is
 * zeroed and nothing is stored. */
enum rf_rc agg_registry_invite(struct agg_registry *r, const char *name,
			       enum agg_role role, int64_t ttl_seconds,
			       int64_t now, char token_out[AGG_TOKEN_SIZE],
			       struct rf_err *e) RF_WUR;

/* Redeems token at now: on success name_out and role_out receive the
 * invitation's name and role, and the invitation is marked used in the
 * same transaction, so of any number of concurrent redeemers (threads or
 * processes) exactly one succeeds. The token is looked up by its SHA-256
 * and the stored hash compared in constant time.
 * Failure (nothing changed, name_out empty): RF_EAUTH "unknown invitation
 * token" (also for a malformed token), "token expired" (now >= expiry),
 * "token already used". */
enum rf_rc agg_registry_redeem(struct agg_registry *r, const char *token,
			       int64_t now, char name_out[AGG_NAME_MAX + 1],
			       enum agg_role *role_out,
			       struct rf_err *e) RF_WUR;

/* ---- rounds ------------------------------------------------------------- */

/* A round as stored. In results from the registry the strings are borrowed
 * (valid during a callback) or owned (agg_registry_round_get: release with
 * agg_round_release). */
struct agg_round {
	int64_t id;
	char state[AGG_STATE_MAX + 1];
	int64_t round_no;
	int64_t created_at, updated_at;
	/* of spec_json when set (agg_registry_round_begin), else of the spec
	 * text's bytes (agg_registry_round_create) */
	char spec_sha256[AGG_HEX256_SIZE];
	char model_sha256[AGG_HEX256_SIZE]; /* "" until a model is set */
	char *spec_yaml;                    /* the round spec, verbatim */
	char *model_path;                   /* NULL until a model is set */
	/* schema 2 */
	char researcher[AGG_NAME_MAX + 1]; /* "" for rounds of schema 1 */
	char *spec_json;    /* canonical spec (pol_spec_canonical), or NULL */
	uint8_t signature[AGG_SIG_LEN]; /* valid when has_signature */
	int has_signature;
	int64_t deadline;   /* end of the iteration in progress, 0: none */
	char *error;        /* why the round failed, or NULL */
};

/* What agg_registry_round_begin records. */
struct agg_round_new {
	const char *spec_yaml;  /* as submitted, <= AGG_SPEC_MAX bytes */
	const char *spec_json;  /* its canonical form, <= AGG_SPEC_MAX */
	const char *researcher; /* who started it (a valid name) */
	const char *state;      /* the first state */
};

/* Records a new round (schema 2): spec_sha256 is the SHA-256 of spec_json
 * (the spec's identity), round_no 0, created and updated at now. *id_out
 * receives its id. RF_EINVAL for a bad state or researcher, RF_ETOOBIG for
 * a long spec; nothing is written on failure. */
enum rf_rc agg_registry_round_begin(struct agg_registry *r,
				    const struct agg_round_new *n,
				    int64_t now, int64_t *id_out,
				    struct rf_err *e) RF_WUR;

/* Records a new round with its spec (YAML text, stored verbatim, at most
 * AGG_SPEC_MAX bytes) in state, round_no 0, at now. *id_out receives its
 * id. RF_EINVAL for a bad state, RF_ETOOBIG for a long spec. */
enum rf_rc agg_registry_round_create(struct agg_registry *r,
				     const char *spec_yaml, const char *state,
				     int64_t now, int64_t *id_out,
				     struct rf_err *e) RF_WUR;

/* Fills *out with round id (owned strings; agg_round_release). RF_ENOTFOUND
 * when unknown; *out is then zeroed. */
enum rf_rc agg_registry_round_get(struct agg_registry *r, int64_t id,
				  struct agg_round *out,
				  struct rf_err *e) RF_WUR;

/* Frees the strings of a round filled by agg_registry_round_get and zeroes
 * it. Accepts NULL. */
void agg_round_release(struct agg_round *rd);

/* One aggregated (or initial) model of a round. Strings are borrowed. */
struct agg_model {
	int64_t round_id;
	int64_t round_no;             /* 0: the initial model */
	char sha256[AGG_HEX256_SIZE]; /* of the model file's bytes */
	const char *path;             /* the model file */
	const char *sites_json;       /* JSON array of the sites summed;
				       * NULL stores "[]" */
	int64_t created_at;
};

/* What a state change writes besides the state. Fields after model_path
 * came with schema 2; zero keeps what is stored. */
struct agg_round_change {
	const char *state;        /* the new state, required */
	int64_t round_no;         /* the new round number; < 0 keeps it */
	const char *model_sha256; /* 64 hex digits; NULL keeps it */
	const char *model_path;   /* NULL keeps it */
	int64_t expected_round_no; /* > 0: the change also requires the
				    * round at this round_no; 0: any */
	int64_t deadline;         /* > 0 sets it; 0 keeps it */
	const char *error;        /* <= AGG_ERROR_MAX bytes; NULL keeps */
	const uint8_t *signature; /* AGG_SIG_LEN bytes; NULL keeps */
	const struct agg_model *model; /* recorded in the same transaction
					* (RF_EEXIST if that round_no has
					* one); NULL: none */
};

/* Compare-and-set, in one transaction: when round id is in state
 * `expected` (and at c->expected_round_no when given), writes c and
 * updated_at = now. RF_EPOLICY (message naming both states, or both
 * iterations) when the round is elsewhere, RF_ENOTFOUND when unknown,
 * RF_EINVAL for bad values, RF_EEXIST when c->model's round_no is already
 * recorded; nothing is written on failure. */
enum rf_rc agg_registry_round_set_state(struct agg_registry *r, int64_t id,
					const char *expected,
					const struct agg_round_change *c,
					int64_t now, struct rf_err *e) RF_WUR;

/* Called once per round with borrowed strings. */
typedef enum rf_rc (*agg_round_fn)(const struct agg_round *rd, void *ctx,
				   struct rf_err *e);

/* Calls fn for every round in id order. */
enum rf_rc agg_registry_round_list(struct agg_registry *r, agg_round_fn fn,
				   void *ctx, struct rf_err *e) RF_WUR;

typedef enum rf_rc (*agg_model_fn)(const struct agg_model *m, void *ctx,
				   struct rf_err *e);

/* Calls fn for every model of round_id in round_no order (borrowed
 * strings). A round without models calls nothing. */
enum rf_rc agg_registry_models(struct agg_registry *r, int64_t round_id,
			       agg_model_fn fn, void *ctx,
			       struct rf_err *e) RF_WUR;

/* ---- participants ------------------------------------------------------- */

enum agg_part_state {
	AGG_PART_OFFERED = 1,
	AGG_PART_ACCEPTED,
	AGG_PART_DECLINED,
	AGG_PART_UPLOADED,
	AGG_PART_DROPPED
};

/* "offered", "accepted", "declined", "uploaded", "dropped"; "?" else. */
const char *agg_part_state_name(enum agg_part_state s);

struct agg_participant {
	int64_t round_id;
	const char *site; /* borrowed */
	enum agg_part_state state;
	char policy_sha256[AGG_HEX256_SIZE]; /* "" when not given */
	int64_t updated_at;
};

/* Inserts or replaces the participation of site in round round_id, in one
 * transaction. policy_sha256 may be NULL (keeps the one stored, if any).
 * RF_ENOTFOUND for an unknown round, RF_EINVAL for bad values. */
enum rf_rc agg_registry_participant_set(struct agg_registry *r,
					int64_t round_id, const char *site,
					enum agg_part_state state,
					const char *policy_sha256, int64_t now,
					struct rf_err *e) RF_WUR;

typedef enum rf_rc (*agg_participant_fn)(const struct agg_participant *p,
					 void *ctx, struct rf_err *e);

/* Calls fn for every participant of round_id in site order (bytewise). */
enum rf_rc agg_registry_participants(struct agg_registry *r, int64_t round_id,
				     agg_participant_fn fn, void *ctx,
				     struct rf_err *e) RF_WUR;

/* ---- updates ------------------------------------------------------------ */

struct agg_update {
	int64_t round_id;
	int64_t round_no;
	const char *site;
	char sha256[AGG_HEX256_SIZE]; /* of the uploaded bytes */
	int64_t bytes;                /* >= 0 */
	int64_t samples;              /* >= 0 */
	const char *metrics_json;     /* a JSON text; NULL stores "{}" */
	int64_t received_at;
};

/* Records an accepted update, in one transaction. RF_EEXIST when an update
 * of (round_id, round_no, site) is already recorded: the first one stays.
 * RF_ENOTFOUND for an unknown round, RF_EINVAL for bad values or metrics
 * that are not JSON. */
enum rf_rc agg_registry_update_add(struct agg_registry *r,
				   const struct agg_update *u,
				   struct rf_err *e) RF_WUR;

typedef enum rf_rc (*agg_update_fn)(const struct agg_update *u, void *ctx,
				    struct rf_err *e);

/* Calls fn for every update of (round_id, round_no) in site order; strings
 * are borrowed for the call. */
enum rf_rc agg_registry_updates(struct agg_registry *r, int64_t round_id,
				int64_t round_no, agg_update_fn fn, void *ctx,
				struct rf_err *e) RF_WUR;

#endif
