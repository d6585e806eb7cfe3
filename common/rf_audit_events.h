/*
 * rf_audit_events.h - the names of the federation's audit events and of
 * their data members, shared by the code that writes them (node/,
 * aggregator/) and the code that checks them (rf_audit_fed.h, `radfed
 * audit`). The vocabulary, with the type of every member, is documented in
 * docs/federation.md, "Audit events"; a name changes there and here at once.
 *
 * Conventions of every event's data object: `round` is the round's id (a
 * JSON string), `round_no` the iteration inside it (a JSON integer from 1),
 * `sha256` the 64 lowercase hex digits of the bytes transferred, `bytes`
 * their count and `samples` a count of training samples (JSON integers),
 * `site` a site's name (JSON string, the site log's actor without
 * RF_AUDIT_ACTOR_SITE_PREFIX).
 *
 * Must not use: anything; string constants only.
 */
#ifndef RF_AUDIT_EVENTS_H
#define RF_AUDIT_EVENTS_H

/* ---- actors ------------------------------------------------------------- */

/* The aggregator's log actor: exactly "agg", or "agg:<name>". */
#define RF_AUDIT_ACTOR_AGG "agg"
/* A site's log actor is this prefix and the site's name: "site:chu-lyon". */
#define RF_AUDIT_ACTOR_SITE_PREFIX "site:"

/* ---- events written by a node ------------------------------------------- */

/* A round was offered: {round, spec_sha256}. */
#define RF_AUDIT_EV_ROUND_OFFERED "round.offered"
/* The site's policy accepted the round: {round, policy_sha256, reasons}
 * (reasons: an array of strings, empty when accepted). */
#define RF_AUDIT_EV_ROUND_ACCEPTED "round.accepted"
/* The site's policy declined the round: {round, policy_sha256, reasons}. */
#define RF_AUDIT_EV_ROUND_DECLINED "round.declined"
/* Global weights arrived: {round, round_no, sha256, bytes}. */
#define RF_AUDIT_EV_MODEL_RECEIVED "model.received"
/* An update left the site: {round, round_no, sha256, bytes, samples,
 * kind}; kind is RF_AUDIT_KIND_DELTA or RF_AUDIT_KIND_MASKED. */
#define RF_AUDIT_EV_UPDATE_SENT "update.sent"

/* Local training of an iteration ended: {round, round_no, samples,
 * metrics (the local validation figures, a JSON object)}. */
#define RF_AUDIT_EV_TRAINED "trained"

/* A task was refused before anything was done with it (bad signature,
 * spec hash or round id, a round the site never accepted): {round,
 * reason}. */
#define RF_AUDIT_EV_TASK_REFUSED "task.refused"
/* Global weights arrived but were not used (hash or file check failed):
 * {round, round_no, sha256, model_sha256, reason}. */
#define RF_AUDIT_EV_MODEL_REJECTED "model.rejected"

/* ---- events written by the aggregator ----------------------------------- */

/* A round was recorded and signed: {round, spec_sha256, researcher}. */
#define RF_AUDIT_EV_ROUND_STARTED "round.started"
/* Global weights went to a site: {round, round_no, site, sha256, bytes}. */
#define RF_AUDIT_EV_MODEL_SENT "model.sent"
/* An update arrived from a site: {round, round_no, site, sha256, bytes,
 * samples, kind}. */
#define RF_AUDIT_EV_UPDATE_RECEIVED "update.received"
/* The round's next weights were written: {round, round_no, sites (array of
 * site names), model_sha256}. */
#define RF_AUDIT_EV_AGGREGATED "aggregated"
/* A round was offered to a site (NextTask handed it out): {round, site,
 * spec_sha256}. */
#define RF_AUDIT_EV_ROUND_OFFER "round.offer"
/* A site's answer arrived: {round, site, accepted (JSON boolean),
 * policy_sha256, reasons}. */
#define RF_AUDIT_EV_ROUND_DECISION "round.decision"
/* An upload was refused after its handler ran (wrong iteration, bad hash,
 * wrong size, ...): {round, round_no, site, reason}. */
#define RF_AUDIT_EV_UPDATE_REJECTED "update.rejected"
/* Every iteration done: {round, round_no, model_sha256}. */
#define RF_AUDIT_EV_ROUND_DONE "round.done"
/* The round stopped without finishing: {round, round_no, reason}. */
#define RF_AUDIT_EV_ROUND_FAILED "round.failed"
/* A call was refused before its handler ran: {method, site (the caller's
 * certificate CN, "" without one), cert_sha256 ("" without one), reason,
 * suppressed (a JSON integer: the refusals of the same cert_sha256 left
 * out of the log since its previous rpc.refused line, by the rate limit of
 * aggregator/agg_refuse.h)}. */
#define RF_AUDIT_EV_RPC_REFUSED "rpc.refused"
/* A model was handed to a researcher: {round, round_no, researcher,
 * sha256}. */
#define RF_AUDIT_EV_EXPORT "export"

/* ---- events written by both --------------------------------------------- */

/* A certificate was issued: {site, role, cert_sha256}; the aggregator adds
 * not_after, the node ca_sha256 (the pinned CA) and aggregator. */
#define RF_AUDIT_EV_ENROLL "enroll"
/* A certificate was revoked: {site, cert_sha256, reason}. */
#define RF_AUDIT_EV_REVOKE "revoke"
/* An invitation was issued (aggregator, adding expires) or used (node):
 * {site, role, token_sha256}. */
#define RF_AUDIT_EV_INVITE "invite"

/* ---- data members ------------------------------------------------------- */

#define RF_AUDIT_KEY_ROUND "round"
#define RF_AUDIT_KEY_ROUND_NO "round_no"
#define RF_AUDIT_KEY_SITE "site"
#define RF_AUDIT_KEY_SHA256 "sha256"
#define RF_AUDIT_KEY_BYTES "bytes"
#define RF_AUDIT_KEY_SAMPLES "samples"
#define RF_AUDIT_KEY_KIND "kind"
#define RF_AUDIT_KEY_SITES "sites"
#define RF_AUDIT_KEY_SPEC_SHA256 "spec_sha256"
#define RF_AUDIT_KEY_POLICY_SHA256 "policy_sha256"
#define RF_AUDIT_KEY_MODEL_SHA256 "model_sha256"
#define RF_AUDIT_KEY_REASONS "reasons"
#define RF_AUDIT_KEY_RESEARCHER "researcher"
#define RF_AUDIT_KEY_CERT_SHA256 "cert_sha256"
#define RF_AUDIT_KEY_CA_SHA256 "ca_sha256"
#define RF_AUDIT_KEY_TOKEN_SHA256 "token_sha256"
#define RF_AUDIT_KEY_ROLE "role"
#define RF_AUDIT_KEY_REASON "reason"
#define RF_AUDIT_KEY_ACCEPTED "accepted"
#define RF_AUDIT_KEY_METHOD "method"
#define RF_AUDIT_KEY_METRICS "metrics"
#define RF_AUDIT_KEY_SUPPRESSED "suppressed"

/* The values of kind. */
#define RF_AUDIT_KIND_DELTA "delta"   /* a plain weight delta */
#define RF_AUDIT_KIND_MASKED "masked" /* a secure-aggregation masked delta */

#endif
