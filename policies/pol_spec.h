/*
 * pol_spec.h - round specs: what a researcher asks the federation to train.
 *
 * A round spec is a small YAML file submitted with `radfed round start`.
 * The aggregator parses and validates it here, stores it and signs its
 * canonical form; every site parses the same canonical form and evaluates
 * it against its policy (pol_policy.h). Keys (docs/federation.md, "Round
 * spec", has the full table):
 *
 *   name          free text, 1 to POL_SPEC_NAME_MAX bytes, no control
 *                 characters                                     (required)
 *   model         a registered architecture (trn_model_find)     (required)
 *   input         "CxHxW" ("1x64x64") or {channels, height, width}, each
 *                 1 to POL_SPEC_DIM_MAX, and accepted by the
 *                 architecture's check()                         (required)
 *   labels        the label set: a list of 2 to POL_SPEC_LABELS_MAX
 *                 distinct class names, 1 to POL_SPEC_LABEL_MAX bytes
 *                 each, no control characters; the list order is the
 *                 class index                                    (required)
 *   local         epochs 1..1000 (1), batch 1..4096 (32), lr in (0, 10]
 *                 (0.01), optimizer sgd|adam (sgd), momentum [0, 1) (0),
 *                 weight-decay [0, 1] (0), prox-mu [0, 100] (0)
 *   rounds        1..1000 (10)
 *   min-sites     1..10000 (1)
 *   max-wait      a duration, 1s..7d (1h)
 *   strategy      "fedavg" or {name: fedavg|fedavgm|fedadam|fedyogi|
 *                 fedprox, params: {name: number, ...}} (fedavg); at most
 *                 POL_SPEC_PARAMS_MAX parameters, names of 1 to
 *                 POL_SPEC_PARAM_NAME_MAX characters of a-z, 0-9, '-' and
 *                 '_'; the values are finite numbers, not checked here
 *                 (the aggregation strategy validates them)
 *   val-fraction  [0, 0.5] (0.1)
 *   seed          0..2^53 (0)
 *
 * Unknown keys are refused with a suggestion; every error is
 * "file:line:column: message" (rf_config.h).
 *
 * The canonical form (pol_spec_canonical) is one line of JSON with sorted
 * keys, every default filled in and numbers in their shortest round-trip
 * form: its SHA-256 is the spec's identity, so the same spec written with
 * other spacing, key order, comments or number spelling ("1e-3", "0.001")
 * has the same hash. JSON is YAML, so pol_spec_parse() reads it back.
 *
 * Must not use: node/, aggregator/ or anonymizer/ headers; only common/ and
 * trainers/ (the model registry and optimizer names). No printing, no
 * global state.
 */
#ifndef POL_SPEC_H
#define POL_SPEC_H

#include <stddef.h>
#include <stdint.h>

#include "rf_buf.h"
#include "rf_crypto.h"
#include "rf_err.h"
#include "trn_optim.h"

#define POL_SPEC_NAME_MAX       128  /* bytes of name */
#define POL_SPEC_MODEL_MAX      64   /* bytes of model */
#define POL_SPEC_DIM_MAX        4096 /* channels, height, width */
#define POL_SPEC_LABELS_MAX     1024 /* classes */
#define POL_SPEC_LABEL_MAX      64   /* bytes of one class name */
#define POL_SPEC_PARAMS_MAX     16   /* strategy hyper-parameters */
#define POL_SPEC_PARAM_NAME_MAX 32   /* bytes of one parameter name */
/* The canonical form of the largest valid spec fits in this many bytes. */
#define POL_SPEC_CANONICAL_MAX  ((size_t)256 << 10)

enum pol_strategy {
	POL_STRATEGY_FEDAVG = 1,
	POL_STRATEGY_FEDAVGM,
	POL_STRATEGY_FEDADAM,
	POL_STRATEGY_FEDYOGI,
	POL_STRATEGY_FEDPROX,
};
#define POL_STRATEGY_COUNT 5

/* "fedavg", ...; "?" for anything else. Static storage. */
const char *pol_strategy_name(enum pol_strategy s);

/* The strategy called name, or 0. */
enum pol_strategy pol_strategy_from_name(const char *name);

struct pol_spec_param {
	char name[POL_SPEC_PARAM_NAME_MAX + 1];
	double value;
};

struct pol_spec_local {
	int64_t epochs;
	int64_t batch;
	double lr;
	enum trn_optim_kind optimizer;
	double momentum;
	double weight_decay;
	double prox_mu;
};

/* A validated round spec. Read-only once parsed. */
struct pol_spec {
	char name[POL_SPEC_NAME_MAX + 1];
	char model[POL_SPEC_MODEL_MAX + 1];
	unsigned channels, height, width;
	size_t nlabels;       /* K, 2..POL_SPEC_LABELS_MAX */
	char **labels;        /* labels[0..nlabels), owned */
	struct pol_spec_local local;
	int64_t rounds;
	int64_t min_sites;
	int64_t max_wait_ms;
	enum pol_strategy strategy;
	size_t nparams;                 /* 0..POL_SPEC_PARAMS_MAX */
	struct pol_spec_param *params;  /* sorted by name, owned */
	double val_fraction;
	int64_t seed;
};

/*
 * Parses and validates the round spec in the len bytes at text (need not be
 * NUL-terminated); name is the display name in messages ("<string>" when
 * NULL). On success *out owns a new spec (free with pol_spec_destroy). On
 * failure *out is NULL and nothing leaks: RF_ECONFIG "name:line:col: ..."
 * for any invalid key or value (the first one in file order for unknown
 * keys, then in the order of the table above), RF_ETOOBIG for input beyond
 * rf_config's limits, RF_ENOMEM. Thread-safe.
 */
enum rf_rc pol_spec_parse(struct pol_spec **out, const char *name,
			  const char *text, size_t len, struct rf_err *e)
	RF_WUR;

/* Like pol_spec_parse() on the file at path (messages name the path);
 * RF_ENOTFOUND / RF_EIO when it cannot be read. */
enum rf_rc pol_spec_parse_file(struct pol_spec **out, const char *path,
			       struct rf_err *e) RF_WUR;

/* Frees spec and everything it owns. Accepts NULL. */
void pol_spec_destroy(struct pol_spec *spec);

/*
 * Appends the canonical form of spec (one line of JSON, no trailing
 * newline) to out. On failure (RF_ENOMEM, RF_ETOOBIG when out's cap is
 * smaller than the form) out is restored to its length on entry. Reads
 * spec only: safe from several threads on distinct buffers.
 */
enum rf_rc pol_spec_canonical(const struct pol_spec *spec, struct rf_buf *out,
			      struct rf_err *e) RF_WUR;

/*
 * SHA-256 of the canonical form: the spec's identity. hex (optional, may be
 * NULL) receives the 64 lowercase hex digits and a NUL. RF_ENOMEM or
 * RF_ECRYPTO on failure, digest and hex then unspecified. Thread-safe.
 */
enum rf_rc pol_spec_hash(const struct pol_spec *spec,
			 uint8_t digest[RF_SHA256_LEN],
			 char hex[2 * RF_SHA256_LEN + 1], struct rf_err *e)
	RF_WUR;

#endif
