/*
 * agg_round.h - the aggregator's round engine: the state machine of the
 * researchers' training jobs ("rounds") and the handlers of the round
 * methods of proto/radfed.proto (Federation.NextTask, Decide, GetModel,
 * UploadUpdate; Control.StartRound, RoundStatus, WatchRound, ExportModel).
 *
 * A round (a registry row, agg_registry.h) goes
 *   starting -> running (iteration 1 .. N) -> done
 *                      \-> failed (deadline with too few sites, or an
 *                          aggregation that cannot be done)
 * StartRound parses the spec, signs it, writes model 0 from the spec's
 * seed and records the round "running" at iteration 1. Sites fetch OFFER
 * and TRAIN tasks with NextTask (a long poll), Decide, download the
 * iteration's global model with GetModel and upload a delta with
 * UploadUpdate. Iteration r is aggregated (fedavg & co., agg_strategy.h)
 * by the engine's own thread when every accepted site has uploaded and at
 * least min-sites did, or at its deadline when at least min-sites did (the
 * round fails otherwise). docs/federation.md, "Rounds (aggregator)", has
 * the whole protocol; docs/formats.md the files:
 *
 *   D/rounds/<id>/model-<r>.h5      global model r (trn_ckpt.h); 0 is the
 *                                   initial one
 *   D/rounds/<id>/strategy-<r>.h5   the strategy's state after r
 *   D/rounds/<id>/<r>/<site>.delta  a site's delta for iteration r
 *                                   (float32 little-endian, trn_flat order)
 *
 * Crash safety: every file is written atomically before the registry
 * records it, and the registry change of an aggregation is one
 * compare-and-set on the iteration. A process killed at any instant
 * restarts (agg_rounds_create) with each running round at the iteration
 * it was at and its recorded updates: it waits for the missing ones or
 * aggregates again from the same inputs, so nothing is lost and nothing
 * counted twice. A round caught "starting" is marked failed.
 *
 * Memory: payloads stream between sockets and files chunk by chunk;
 * aggregation holds a few float vectors of the model's size (the model,
 * one delta at a time, the mean) and the double accumulator of agg_sum.
 *
 * Thread safety: the handlers run on the RPC workers concurrently; the
 * engine serialises its state on one mutex, and every HDF5 use of the
 * engine (trn_*, rf_tensor, strategy states) on a second one, which other
 * code of the process that uses HDF5 must also take
 * (agg_rounds_hdf5_lock).
 *
 * Must not use: node/ headers, printing (events go to the log callback),
 * signals.
 */
#ifndef AGG_ROUND_H
#define AGG_ROUND_H

#include <stddef.h>
#include <stdint.h>

#include "agg_ctx.h"
#include "rf_err.h"
#include "rf_rpc.h"

/* The method paths. */
#define AGG_NEXT_TASK_PATH    "/radfed.Federation/NextTask"
#define AGG_DECIDE_PATH       "/radfed.Federation/Decide"
#define AGG_GET_MODEL_PATH    "/radfed.Federation/GetModel"
#define AGG_UPLOAD_PATH       "/radfed.Federation/UploadUpdate"
#define AGG_START_ROUND_PATH  "/radfed.Control/StartRound"
#define AGG_ROUND_STATUS_PATH "/radfed.Control/RoundStatus"
#define AGG_WATCH_ROUND_PATH  "/radfed.Control/WatchRound"
#define AGG_EXPORT_PATH       "/radfed.Control/ExportModel"

/* Request limits of the methods (bytes of one request message). */
#define AGG_START_ROUND_MAX   (AGG_SPEC_MAX + 64)
#define AGG_DECIDE_MAX        (64 * 1024)
#define AGG_SMALL_REQUEST_MAX 512 /* NextTask, GetModel, status, export */
/* An UploadUpdate message: a header (metrics included) or a chunk. */
#define AGG_UPLOAD_MSG_MAX ((size_t)RF_RPC_CHUNK + 128 * 1024)

/* The longest hold of a NextTask long poll, and how often a waiting
 * handler looks at its call. */
#define AGG_POLL_MAX_MS   30000
#define AGG_POLL_SLICE_MS 200

/* A Decision's reasons: at most this many, each this long. */
#define AGG_REASONS_MAX 64
#define AGG_REASON_MAX  1024

struct agg_rounds;

/* Receives one line (no newline) about a round event or a resumed round.
 * Called with the engine's mutex held: it must not call the engine. */
typedef void (*agg_rounds_log_fn)(void *ctx, const char *line);

/*
 * Creates the engine of c (borrowed: it must outlive the engine): loads
 * the running rounds of the registry (resuming them as described above),
 * marks rounds caught "starting" failed, and starts the thread that
 * aggregates and enforces deadlines. On success *out owns the engine
 * (agg_rounds_destroy). A running round that cannot be loaded (its spec
 * or model unreadable) is marked failed ("cannot resume: ...", audited
 * round.failed) rather than stopping the others. Failure: *out NULL; the
 * registry's or the audit log's errors, RF_EIO for the thread, RF_ENOMEM.
 */
enum rf_rc agg_rounds_create(struct agg_ctx *c, struct agg_rounds **out,
			     struct rf_err *e) RF_WUR;

/* Stops the thread (an aggregation in progress finishes first) and frees
 * the engine. No handler may be running (destroy the RPC server first).
 * Accepts NULL. */
void agg_rounds_destroy(struct agg_rounds *r);

/* Sets (fn NULL: clears) the event line callback. Thread-safe. */
void agg_rounds_set_log(struct agg_rounds *r, agg_rounds_log_fn fn, void *ctx);

/* Calls fn once per round resumed by agg_rounds_create that still runs,
 * with a line "resumed round <id> '<name>': iteration <r> of <N>, <k>
 * update(s) recorded". Returns how many. Thread-safe. */
size_t agg_rounds_describe_resumed(struct agg_rounds *r, agg_rounds_log_fn fn,
				   void *ctx);

/* The process-wide HDF5 lock the engine takes around every trn_*,
 * rf_tensor and strategy state call. Other users of HDF5 in the same
 * process take it too. */
void agg_rounds_hdf5_lock(struct agg_rounds *r);
void agg_rounds_hdf5_unlock(struct agg_rounds *r);

/*
 * The handlers, called by agg_server.c once the caller is authorised
 * (role and registry checked): the caller's name is its certificate CN.
 * Each unpacks its request with the method's limit, bounds every field
 * (errors name the field: RF_EINVAL / RF_EPROTO -> INVALID_ARGUMENT),
 * answers FAILED_PRECONDITION (RF_EPOLICY) for a call that does not fit
 * the round's state, NOT_FOUND for an unknown round, and writes the audit
 * events of docs/federation.md. They may block: NextTask (the long poll)
 * and WatchRound until the call dies or the round ends.
 */
enum rf_rc agg_rounds_next_task(struct agg_rounds *r, struct rf_rpc_call *call,
				struct rf_err *e) RF_WUR;
enum rf_rc agg_rounds_decide(struct agg_rounds *r, struct rf_rpc_call *call,
			     struct rf_err *e) RF_WUR;
enum rf_rc agg_rounds_get_model(struct agg_rounds *r, struct rf_rpc_call *call,
				struct rf_err *e) RF_WUR;
enum rf_rc agg_rounds_upload(struct agg_rounds *r, struct rf_rpc_call *call,
			     struct rf_err *e) RF_WUR;
enum rf_rc agg_rounds_start(struct agg_rounds *r, struct rf_rpc_call *call,
			    struct rf_err *e) RF_WUR;
enum rf_rc agg_rounds_status(struct agg_rounds *r, struct rf_rpc_call *call,
			     struct rf_err *e) RF_WUR;
enum rf_rc agg_rounds_watch(struct agg_rounds *r, struct rf_rpc_call *call,
			    struct rf_err *e) RF_WUR;
enum rf_rc agg_rounds_export(struct agg_rounds *r, struct rf_rpc_call *call,
			     struct rf_err *e) RF_WUR;

#endif
