/*
 * node_fed.h - a site's side of federated rounds: `radfed site serve`.
 *
 * The node only dials out. It asks the aggregator for work with the
 * Federation.NextTask long poll and answers each task:
 *   OFFER  verify the round's signed spec, evaluate it against the site
 *          policy and the site's dataset, audit and send the decision
 *          (Decide);
 *   TRAIN  for a round this site accepted only: download the global model
 *          (GetModel), train on DIR/store/dataset.h5 from it with the
 *          spec's local settings, write the delta local - global and
 *          upload it (UploadUpdate).
 * Every task's spec must hash to its spec_sha256 and carry the
 * aggregator's Ed25519 signature over
 *   "radfed.round.v1\n" round "\n" spec_sha256 "\n" researcher
 * by the key pinned at enrollment (DIR/keys/aggregator.pub); anything else
 * is refused, audited and never trained on.
 *
 * Nothing leaves the site but the Decide answers and the deltas: no image,
 * pseudonym or report is ever read into a message.
 *
 * State kept per round, so that a restart neither re-decides nor
 * re-trains (round ids are decimal, so they are safe folder names):
 *   DIR/fed/<round>/spec.json          the canonical spec as offered
 *   DIR/fed/<round>/decision.json      {round, spec_sha256, accepted,
 *                                      policy_sha256, reasons}
 *   DIR/fed/<round>/global-<r-1>.h5    the global model of iteration r
 *   DIR/fed/<round>/local-<r>.h5       the model trained from it
 *   DIR/fed/<round>/update-<r>.delta   float32 LE, trn_flat order
 *   DIR/fed/<round>/update-<r>.json    {samples, metrics}: with the delta,
 *                                      what a retried upload needs
 * Audit (DIR/logs/audit.jsonl, actor "site:<name>"): round.offered,
 * round.accepted / round.declined, model.received, trained, update.sent
 * (common/rf_audit_events.h), and NODE_FED_EV_TASK_REFUSED for a task
 * refused before any work.
 *
 * Must not use: aggregator/ (node/ and aggregator/ never see each other);
 * printing (events go to the caller's on_line callback). HDF5 and oneDNN
 * only through trainers/.
 */
#ifndef NODE_FED_H
#define NODE_FED_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pol_policy.h"
#include "pol_spec.h"
#include "rf_audit_events.h"
#include "rf_buf.h"
#include "rf_crypto.h"
#include "rf_err.h"
#include "trn_data.h"

/* Longest hold of a NextTask long poll asked for, and its call deadline. */
#define NODE_FED_WAIT_MS 25000
#define NODE_FED_CALL_MS 35000
/* Reconnection backoff: from 0.5 s, doubling, at most 30 s, +-20 %. */
#define NODE_FED_BACKOFF_MIN_MS 500
#define NODE_FED_BACKOFF_MAX_MS 30000
/* Digits of a round id (a registry id on the wire). */
#define NODE_FED_ROUND_MAX 20
/* Largest global model accepted (bytes). */
#define NODE_FED_MODEL_MAX ((uint64_t)1 << 31)
/* The domain separator of round signatures (no NUL). */
#define NODE_FED_SIG_DOMAIN "radfed.round.v1\n"
/* Audited when a task is refused before any work: {round, reason}. */
#define NODE_FED_EV_TASK_REFUSED RF_AUDIT_EV_TASK_REFUSED

/* 1 when round is 1 to NODE_FED_ROUND_MAX decimal digits, else 0. */
int node_fed_round_valid(const char *round);

/*
 * Appends the bytes the aggregator signs for a round to out:
 * NODE_FED_SIG_DOMAIN round "\n" spec_sha256 "\n" researcher, no NUL and
 * no final newline. On failure (RF_ENOMEM, RF_ETOOBIG past out's cap) out
 * may hold a prefix. Thread-safe.
 */
enum rf_rc node_fed_signed_text(const char *round, const char *spec_sha256,
				const char *researcher, struct rf_buf *out,
				struct rf_err *e) RF_WUR;

/* What a task says about its round. Borrowed strings. */
struct node_fed_spec_claim {
	const char *round;
	const char *spec_json;
	size_t spec_len;
	const char *spec_sha256; /* 64 lowercase hex digits */
	const uint8_t *sig;
	size_t sig_len;          /* RF_ED25519_SIG_LEN */
	const char *researcher;
};

/*
 * Checks a task's spec before anything else looks at it: a valid round id
 * (RF_EINVAL), a researcher name that is 1 to 64 printable characters
 * (RF_EINVAL), SHA-256(spec_json) equal to spec_sha256 (RF_EINTEGRITY)
 * and sig the valid Ed25519 signature of node_fed_signed_text by agg_key
 * (RF_ECRYPTO). RF_OK only when all hold. Thread-safe (agg_key is shared
 * read-only).
 */
enum rf_rc node_fed_verify_claim(const struct rf_key *agg_key,
				 const struct node_fed_spec_claim *c,
				 struct rf_err *e) RF_WUR;

/* A site's answer to an offer: the policy's verdict and what the dataset
 * can serve. */
#define NODE_FED_REASONS_MAX (POL_RULE_COUNT + 2)
struct node_fed_decision {
	bool accepted;
	size_t nreasons;
	char reasons[NODE_FED_REASONS_MAX][POL_REASON_MAX];
	char policy_sha256[2 * RF_SHA256_LEN + 1];
};

/*
 * Evaluates spec, started by researcher, against policy
 * (pol_policy_evaluate) and against the dataset described by data (NULL:
 * no dataset): declined also when there is no dataset, when the spec's
 * input (channels, height, width) differs from the dataset's images, or
 * when its label count differs from the dataset's classes, one reason
 * each after the policy's. Allocates nothing; RF_OK whatever the verdict,
 * RF_EINVAL for a NULL argument. Thread-safe.
 */
enum rf_rc node_fed_evaluate(const struct pol_policy *policy,
			     const struct pol_spec *spec,
			     const char *researcher,
			     const struct trn_data_info *data,
			     struct node_fed_decision *out,
			     struct rf_err *e) RF_WUR;

/*
 * Writes the update payload of a round: the model files global and local
 * (same architecture, input and classes, checked by trn_ckpt_load with
 * each file's stored hash) give local - global in trn_flat order as
 * float32 little-endian, written atomically to out (mode 0600). *bytes
 * (optional) receives its size, trn_flat_count() * 4. Failures leave out
 * as it was: the errors of trn_ckpt_read_meta / trn_ckpt_load
 * (RF_EINTEGRITY for files that do not match), RF_EIO, RF_ENOMEM. Not
 * thread-safe (HDF5).
 */
enum rf_rc node_fed_delta_file(const char *global, const char *local,
			       const char *out, uint64_t *bytes,
			       struct rf_err *e) RF_WUR;

struct node_fed_opts {
	const char *policy;   /* policy file; NULL: DIR/policy.yaml */
	unsigned max_tasks;   /* return after this many tasks (OFFER or
			       * TRAIN); 0: no limit */
	bool until_idle;      /* return at the first NONE */
	uint32_t wait_ms;     /* long poll; 0: NODE_FED_WAIT_MS */
	/* Nonzero asks the loop to stop: checked between calls, while
	 * waiting to reconnect, and once local training ends (training
	 * itself runs to its end; the update is then kept for the next
	 * start and not uploaded). Set from a signal handler. */
	const volatile sig_atomic_t *stop;
	/* Optional: set to 1 while the loop only waits (the long poll, a
	 * backoff pause) and to 0 while it works. While it is 1 nothing is
	 * in flight and every event is on disk, so a signal handler may end
	 * the process at once (_exit) instead of waiting for the long poll
	 * to return: the log then ends without its closing checkpoint, as
	 * after a crash, and verifies with an unsigned tail. */
	volatile sig_atomic_t *idle;
	/* One line per event (no newline): offers, decisions, training
	 * progress, uploads, connection changes. Optional. */
	void (*on_line)(void *ctx, const char *line);
	void *ctx;
};

/*
 * Serves rounds for the enrolled site folder dir until o->stop is set,
 * o->max_tasks tasks were handled or, with o->until_idle, the aggregator
 * has nothing to do. At start it opens the site, the policy (RF_ECONFIG
 * "file:line:col: ..." for a bad one), the dataset DIR/store/dataset.h5
 * (RF_ENOTFOUND naming it when missing), the client (node_enroll_client),
 * the pinned key DIR/keys/aggregator.pub and the site's audit log; any
 * failure there is returned before a call is made.
 *
 * Afterwards nothing is fatal but a failing audit log (an event that
 * cannot be written means the action is not taken, and the loop returns
 * that error): a transport failure reconnects with exponential backoff, a
 * bad task is refused and audited, a failed download, training or upload
 * is reported on on_line and retried when the aggregator hands the task
 * out again. RF_OK when stopped as asked. Not thread-safe (one serve per
 * site folder and per process: HDF5, the audit log's lock).
 */
enum rf_rc node_fed_serve(const char *dir, const struct node_fed_opts *o,
			  struct rf_err *e) RF_WUR;

#endif
