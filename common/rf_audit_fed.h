/*
 * rf_audit_fed.h - what the federation's audit logs say moved where: reads
 * verified aggregator and site logs (rf_audit.h), collects every transfer
 * (update.sent/received, model.sent/received) and every policy decision
 * (round.accepted/declined), and crosschecks the two sides of every
 * transfer. The vocabulary is rf_audit_events.h (docs/federation.md,
 * "Audit events").
 *
 *     struct rf_audit_fed *f;
 *     if (rf_audit_fed_create(&f, e)) return e->rc;
 *     rc = rf_audit_fed_add_log(f, "agg.jsonl", NULL, 0, &rep, e);
 *     ... one call per log ...
 *     rc = rf_audit_fed_crosscheck(f, on_mismatch, ctx, &nbad, e);
 *     rf_audit_fed_destroy(f);
 *
 * Must not use: anything but libc and the rf_ modules rf_alloc, rf_err,
 * rf_crypto and rf_audit. No global state.
 */
#ifndef RF_AUDIT_FED_H
#define RF_AUDIT_FED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rf_audit.h"
#include "rf_err.h"

#define RF_AUDIT_FED_ID_MAX 128   /* bytes of a round id */
#define RF_AUDIT_FED_LOGS_MAX 4096 /* logs in one set */
#define RF_AUDIT_FED_RECORDS_MAX (1u << 24) /* transfers + decisions */

enum rf_audit_xfer_type {
	RF_AUDIT_XFER_UPDATE, /* an update, site -> aggregator */
	RF_AUDIT_XFER_MODEL,  /* global weights, aggregator -> site */
};

/* One side's record of one transfer. */
struct rf_audit_xfer {
	enum rf_audit_xfer_type type;
	bool by_agg;    /* recorded by the aggregator (else by the site) */
	char site[RF_AUDIT_NAME_MAX + 1];
	char round[RF_AUDIT_FED_ID_MAX + 1];
	uint64_t round_no;
	char sha256[65]; /* lowercase hex */
	uint64_t bytes;
	uint64_t samples; /* updates only */
	char kind[8];     /* updates: "delta" or "masked"; models: "" */
	size_t log;       /* index of the log, in the order of adding */
	uint64_t line;    /* 1-based line in that log */
	bool matched;     /* the other side recorded it (after crosscheck) */
};

/* A site's decision on an offered round (site logs only). */
struct rf_audit_decision {
	char site[RF_AUDIT_NAME_MAX + 1];
	char round[RF_AUDIT_FED_ID_MAX + 1];
	bool accepted;
	char policy_sha256[65];
	size_t log;
	uint64_t line;
};

/* One log of the set. */
struct rf_audit_fed_log {
	const char *path;  /* a copy owned by the set */
	char actor[RF_AUDIT_NAME_MAX + 1];
	bool is_agg;       /* actor "agg" or "agg:..." */
	char site[RF_AUDIT_NAME_MAX + 1]; /* site logs: the site's name */
	struct rf_audit_report report;
};

/* A set of logs. Heap object; not thread-safe, one owner at a time. */
struct rf_audit_fed;

/* An empty set in *out (NULL on failure: RF_ENOMEM). */
enum rf_rc rf_audit_fed_create(struct rf_audit_fed **out,
			       struct rf_err *e) RF_WUR;

/* Frees f and everything it returned. Accepts NULL. */
void rf_audit_fed_destroy(struct rf_audit_fed *f);

/*
 * Verifies the log at path like rf_audit_verify (trusted, ntrusted as
 * there) and adds its federation events to f. The log's role comes from
 * the actor of its first line: "agg" or "agg:<name>" is the aggregator,
 * "site:<name>" the site <name>, any other actor the site of that name.
 * Lines of other actors, and events outside the transfer and decision
 * events, are ignored. An empty log adds nothing and has no role.
 *
 * r (optional) receives the verification report. Failure leaves f as it
 * was: RF_EINTEGRITY when the log does not verify (r->bad_line and
 * r->reason say where and why, as does e); RF_EPROTO when a transfer or
 * decision event lacks a member or holds a bad value (e names the line
 * and the member); RF_EEXIST when a log of the same site, or a second
 * aggregator log, is already in f; RF_ETOOBIG past RF_AUDIT_FED_LOGS_MAX
 * logs or RF_AUDIT_FED_RECORDS_MAX records; RF_EIO, RF_ENOMEM,
 * RF_ECRYPTO, RF_EINVAL as rf_audit_verify.
 */
enum rf_rc rf_audit_fed_add_log(struct rf_audit_fed *f, const char *path,
				const struct rf_key *const *trusted,
				size_t ntrusted, struct rf_audit_report *r,
				struct rf_err *e) RF_WUR;

/* Called once per disagreement with a one-line lowercase message, e.g.
 * "aggregator recorded an update from site-a round r1/3 sha256
 * ab12cd34ef567890.. that site-a never sent". */
typedef void rf_audit_fed_mismatch_fn(const char *msg, void *ctx);

/*
 * Pairs every transfer the aggregator recorded with exactly one record of
 * the same transfer in the site's log, on (site, round, round_no, sha256,
 * bytes), and the other way round; a pair whose kind or samples differ
 * is a disagreement too. Records left over are explained as precisely as
 * possible: the same transfer with other byte counts, the same round and
 * site with another hash, a site whose log is not in the set, or a
 * transfer only one side recorded. Sets `matched` on every paired record.
 *
 * RF_OK with *nmismatch the number of disagreements (fn, optional, called
 * for each, in the order of the records); RF_EINVAL when f holds no
 * aggregator log; RF_ENOMEM. May be called again (the result is the same).
 */
enum rf_rc rf_audit_fed_crosscheck(struct rf_audit_fed *f,
				   rf_audit_fed_mismatch_fn *fn, void *ctx,
				   size_t *nmismatch, struct rf_err *e) RF_WUR;

/* The logs, transfers and decisions of f, valid until the next change to
 * f. Transfers are sorted by round, round_no, site, type (updates first),
 * then the aggregator's side first; decisions by round, then site. */
const struct rf_audit_fed_log *rf_audit_fed_logs(const struct rf_audit_fed *f,
						 size_t *n);
const struct rf_audit_xfer *rf_audit_fed_xfers(const struct rf_audit_fed *f,
					       size_t *n);
const struct rf_audit_decision *
rf_audit_fed_decisions(const struct rf_audit_fed *f, size_t *n);

#endif
