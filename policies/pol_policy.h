/*
 * pol_policy.h - site policies: which rounds a site agrees to train.
 *
 * Each site keeps one policy file (YAML). When the aggregator offers a
 * round, the node evaluates the round spec (pol_spec.h) against it and
 * accepts or declines, logging the decision with the policy's hash (the
 * SHA-256 of the file's bytes, so any edit shows in the log). This is an
 * allow-list; privacy budgets come later. Keys (docs/federation.md, "Site
 * policy"):
 *
 *   accept            true|false: the master switch          (required)
 *   researchers       list of certificate CNs allowed to run rounds here;
 *                     "*" allows any authenticated researcher (required)
 *   models            list of architectures, or "*" (default: ["*"]); each
 *                     must be registered (trn_model_find)
 *   strategies        list of fedavg, fedavgm, fedadam, fedyogi, fedprox
 *                     (default: all)
 *   max-rounds        1..1000 (1000)
 *   max-local-epochs  1..1000 (1000)
 *   min-sites         1..10000 (1): the site declines rounds that ask for
 *                     fewer sites (a small-cohort guard)
 *
 * Lists hold at most POL_POLICY_LIST_MAX entries of 1 to
 * POL_POLICY_CN_MAX bytes without control characters. Errors are
 * "file:line:column: message" as for round specs.
 *
 * Must not use: node/, aggregator/ or anonymizer/ headers; only common/ and
 * trainers/. No printing, no global state.
 */
#ifndef POL_POLICY_H
#define POL_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pol_spec.h"
#include "rf_crypto.h"
#include "rf_err.h"

#define POL_POLICY_LIST_MAX 256 /* entries of researchers, models */
#define POL_POLICY_CN_MAX   64  /* bytes of a CN (X.509 upper bound) */

/* A loaded policy. Read-only once loaded. */
struct pol_policy {
	bool accept;
	size_t nresearchers;
	char **researchers; /* owned; "*" matches any non-empty CN */
	bool any_model;     /* models absent or containing "*" */
	size_t nmodels;
	char **models;      /* owned, the names other than "*" */
	unsigned strategies; /* bit (1 << enum pol_strategy) per allowed one */
	int64_t max_rounds;
	int64_t max_local_epochs;
	int64_t min_sites;
	char hash[2 * RF_SHA256_LEN + 1]; /* of the bytes loaded, hex */
};

/*
 * Reads the policy file at path (at most RF_CFG_MAX_BYTES), hashes its
 * bytes and validates it. On success *out owns a new policy (free with
 * pol_policy_destroy). On failure *out is NULL and nothing leaks:
 * RF_EIO when the file cannot be read, RF_ETOOBIG beyond the size limits,
 * RF_ECONFIG "path:line:col: ..." for an invalid key or value, RF_ENOMEM,
 * RF_ECRYPTO. Thread-safe.
 */
enum rf_rc pol_policy_load(struct pol_policy **out, const char *path,
			   struct rf_err *e) RF_WUR;

/* Like pol_policy_load() on the len bytes at text; name is the display
 * name in messages ("<string>" when NULL). */
enum rf_rc pol_policy_parse(struct pol_policy **out, const char *name,
			    const char *text, size_t len, struct rf_err *e)
	RF_WUR;

/* Frees policy and everything it owns. Accepts NULL. */
void pol_policy_destroy(struct pol_policy *policy);

/* The SHA-256 of the policy's file bytes, 64 lowercase hex digits, owned by
 * the policy. */
const char *pol_policy_hash(const struct pol_policy *policy);

/* One rule per bit; a declined decision sets the bit of each failing one. */
enum pol_rule {
	POL_RULE_ACCEPT = 1u << 0,     /* accept: false */
	POL_RULE_RESEARCHER = 1u << 1, /* CN not in researchers */
	POL_RULE_MODEL = 1u << 2,      /* model not in models */
	POL_RULE_STRATEGY = 1u << 3,   /* strategy not in strategies */
	POL_RULE_ROUNDS = 1u << 4,     /* rounds > max-rounds */
	POL_RULE_EPOCHS = 1u << 5,     /* local.epochs > max-local-epochs */
	POL_RULE_MIN_SITES = 1u << 6,  /* min-sites < the site's floor */
};
#define POL_RULE_COUNT  7
#define POL_REASON_MAX  192

struct pol_decision {
	bool accepted;
	unsigned failed; /* enum pol_rule bits; 0 when accepted */
	size_t nreasons; /* one per failed rule, in the order above */
	char reasons[POL_RULE_COUNT][POL_REASON_MAX];
	char policy_hash[2 * RF_SHA256_LEN + 1];
};

/*
 * Evaluates spec, submitted by the researcher whose certificate CN is
 * researcher_cn, against policy: *out says accepted, or declined with
 * every failing rule and a one-line lowercase reason for each (not only
 * the first), and carries the policy's hash for the log. Deterministic,
 * allocates nothing. Returns RF_OK whatever the verdict; RF_EINVAL for a
 * NULL argument (*out then untouched). Thread-safe.
 */
enum rf_rc pol_policy_evaluate(const struct pol_policy *policy,
			       const struct pol_spec *spec,
			       const char *researcher_cn,
			       struct pol_decision *out, struct rf_err *e)
	RF_WUR;

#endif
