/*
 * agg_round_int.h - what agg_round.c (state, aggregation thread, files)
 * and agg_round_rpc.c (the handlers) share. Not for other files.
 *
 * Locking: struct agg_rounds.mu guards the list of live rounds and
 * everything in them, the generation counter and the log callback; h5
 * guards every HDF5 use. mu is never taken while h5 is held.
 *
 * Must not use: node/ headers, printing.
 */
#ifndef AGG_ROUND_INT_H
#define AGG_ROUND_INT_H

#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <time.h>

#include "agg_round.h"
#include "pol_spec.h"
#include "rf_buf.h"
#include "trn_ckpt.h"

/* A site's part in a running round, as the engine keeps it. */
struct agg__site {
	char name[AGG_NAME_MAX + 1];
	enum agg_part_state st;       /* offered, accepted or declined */
	char policy[AGG_HEX256_SIZE]; /* "" until decided */
	int uploaded;                 /* for the current iteration */
	int uploading;                /* an upload is being received */
	char sha[AGG_HEX256_SIZE];    /* of the current iteration's upload */
	uint64_t samples, bytes;
};

/* A running round: the registry's row and the per-iteration facts. */
struct agg__live {
	struct agg__live *next;
	int64_t id;
	char idstr[24];
	struct pol_spec *spec;
	char *spec_json;
	char spec_sha[AGG_HEX256_SIZE];
	uint8_t sig[AGG_SIG_LEN];
	char researcher[AGG_NAME_MAX + 1];
	int64_t round_no; /* the iteration in progress, 1..rounds */
	int64_t deadline; /* when it times out (agg_ctx_now seconds) */
	char model_sha[AGG_HEX256_SIZE]; /* global model round_no - 1 */
	uint64_t model_bytes;
	size_t nfloat; /* parameters of the model */
	struct agg__site *sites;
	size_t nsites, cap;
	int busy;    /* being aggregated: no upload is taken */
	int resumed; /* loaded by agg_rounds_create */
};

struct agg_rounds {
	struct agg_ctx *c;
	pthread_mutex_t mu;
	pthread_cond_t cv; /* CLOCK_MONOTONIC; broadcast on every change */
	pthread_mutex_t h5;
	struct agg__live *live; /* running rounds, by id */
	uint64_t gen;           /* bumped on every change */
	int stop;
	pthread_t thread;
	int thread_started;
	agg_rounds_log_fn log;
	void *log_ctx;
};

/* ts = monotonic now + ms. */
void agg__abstime(struct timespec *ts, int64_t ms);
/* A line to the log callback (mutex held). */
void agg__log(struct agg_rounds *r, const char *fmt, ...) RF_PRINTF(2, 3);
/* Bumps gen and wakes every waiter (mutex held). */
void agg__changed(struct agg_rounds *r);

/* D/rounds/<id>[/leaf], D/rounds/<id>/model-<r>.h5,
 * D/rounds/<id>/<r>/<site>.delta; RF_ETOOBIG when out is too small. */
enum rf_rc agg__round_path(const struct agg_rounds *r, int64_t id,
			   const char *leaf, char *out, size_t size,
			   struct rf_err *e) RF_WUR;
enum rf_rc agg__model_path(const struct agg_rounds *r, int64_t id,
			   int64_t round_no, char *out, size_t size,
			   struct rf_err *e) RF_WUR;
enum rf_rc agg__delta_path(const struct agg_rounds *r, int64_t id,
			   int64_t round_no, const char *site, char *out,
			   size_t size, struct rf_err *e) RF_WUR;

/* ,"key":"val" / ,"key":raw / ,"key":v appended to a JSON object being
 * built in b (no comma right after its '{'). */
enum rf_rc agg__json_str(struct rf_buf *b, const char *key, const char *val,
			 struct rf_err *e) RF_WUR;
enum rf_rc agg__json_raw(struct rf_buf *b, const char *key, const char *raw,
			 struct rf_err *e) RF_WUR;
enum rf_rc agg__json_int(struct rf_buf *b, const char *key, int64_t v,
			 struct rf_err *e) RF_WUR;

/* Live rounds (mutex held). */
struct agg__live *agg__live_find(struct agg_rounds *r, int64_t id);
struct agg__site *agg__site_find(struct agg__live *l, const char *name);
/* NULL when out of memory. */
struct agg__site *agg__site_add(struct agg__live *l, const char *name,
				enum agg_part_state st);
/* Uploads of the current iteration; *accepted (optional): accepted
 * sites. */
size_t agg__uploads(const struct agg__live *l, size_t *accepted);
/* Inserts a loaded round and signals the change. */
void agg__live_add(struct agg_rounds *r, struct agg__live *l);
/* Records l failed with reason, audits round.failed, frees l. */
void agg__fail(struct agg_rounds *r, struct agg__live *l, const char *reason);

/* Loads running round id from the registry (engine mutex not needed). */
enum rf_rc agg__live_load(struct agg_rounds *r, int64_t id,
			  struct agg__live **out, struct rf_err *e) RF_WUR;

/* Builds spec's net (HDF5 lock held) and fills meta (round 0). */
enum rf_rc agg__net_build(const struct pol_spec *spec, struct trn_net **net,
			  struct trn_ckpt_meta *meta, struct rf_err *e) RF_WUR;

/* The spec's max-wait in whole seconds, rounded up. */
int64_t agg__max_wait_s(const struct pol_spec *spec);

#endif
