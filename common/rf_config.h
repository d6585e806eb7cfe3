/*
 * rf_config.h - YAML configuration files as an immutable, bounded tree.
 *
 * A configuration (site file, policy, round spec) is parsed with libyaml's
 * event API into a tree of mapping, sequence and scalar nodes that remember
 * where they came from (line and column, 1-based), so that every error can
 * name the place and the key:
 *
 *     site.yaml:4:10: 'training.epochs' must be an integer in [1, 1000],
 *     got 'ten'
 *
 * The input is untrusted. Loading enforces a maximum input size, nesting
 * depth and node count (struct rf_cfg_limits), refuses anchors and aliases
 * (no "billion laughs"), tags, duplicate keys, non-scalar keys, more than one
 * document and a top level that is not a mapping. Memory use is bounded by
 * a small multiple of the input size.
 *
 *     struct rf_cfg *cfg = NULL;
 *     int64_t epochs = 10;               // default when absent
 *     if (rf_cfg_load_file(&cfg, "site.yaml", NULL, e) ||
 *         rf_cfg_check_keys(rf_cfg_root(cfg), site_keys, e) ||
 *         rf_cfg_get_int(rf_cfg_root(cfg), "training.epochs", 1, 1000,
 *                        RF_CFG_OPTIONAL, &epochs, e))
 *             goto out;
 *     ...
 *     rf_cfg_destroy(cfg);
 *
 * Paths are dotted keys with optional sequence indexes: "round.optimizer.lr",
 * "sites[2].name". Keys containing '.', '[' or ']' are reached with
 * rf_cfg_child() instead.
 *
 * A loaded tree is never modified, so it may be read from several threads
 * at once; loading and destroying are not concurrent with reads.
 *
 * Must not use: anything but libc, libyaml, rf_alloc, rf_buf and rf_err. No
 * printing, no global state.
 */
#ifndef RF_CONFIG_H
#define RF_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rf_err.h"

/* Default limits: 1 MiB of input, 32 levels of nesting (the top-level
 * mapping is level 1), 65536 nodes (keys, values and collections). */
#define RF_CFG_MAX_BYTES ((size_t)1 << 20)
#define RF_CFG_MAX_DEPTH 32u
#define RF_CFG_MAX_NODES 65536u

struct rf_cfg_limits {
	size_t max_bytes;   /* input size; 0 = RF_CFG_MAX_BYTES */
	unsigned max_depth; /* nesting; 0 = RF_CFG_MAX_DEPTH */
	size_t max_nodes;   /* nodes; 0 = RF_CFG_MAX_NODES */
};

enum rf_cfg_kind {
	RF_CFG_SCALAR = 1,
	RF_CFG_MAP,
	RF_CFG_SEQ,
};

/*
 * One node of a loaded configuration. Read-only: every pointer in it stays
 * valid until rf_cfg_destroy() of the configuration that holds it.
 */
struct rf_cfg_node {
	enum rf_cfg_kind kind;
	unsigned line;   /* 1-based position of the node's first character */
	unsigned column; /* 1-based, in characters */
	const char *file; /* display name of the configuration */
	const struct rf_cfg_node *parent; /* NULL for the top level */
	const char *key;  /* in a mapping: this value's key, else NULL */
	size_t index;     /* in a sequence: this item's index */
	/* RF_CFG_SCALAR */
	const char *text; /* NUL-terminated value (may contain NUL bytes) */
	size_t len;       /* bytes in text */
	bool plain;       /* written without quotes or block style */
	/* RF_CFG_MAP: count pairs keys[i] -> values[i] in file order;
	 * RF_CFG_SEQ: count items in values[] */
	size_t count;
	const struct rf_cfg_node *const *keys; /* scalar nodes */
	const struct rf_cfg_node *const *values;
};

/* A loaded configuration (opaque). */
struct rf_cfg;

/* ---- loading ------------------------------------------------------------ */

/*
 * Reads and parses the YAML file at path (at most lim->max_bytes bytes; lim
 * may be NULL for the defaults). Messages name the file as path was given.
 * On success *out owns the configuration (free with rf_cfg_destroy). On
 * failure *out is NULL and nothing is leaked: RF_ENOTFOUND / RF_EIO when the
 * file cannot be read, RF_ETOOBIG when it or its tree exceeds a limit,
 * RF_ECONFIG for a syntax error or a refused construct ("site.yaml:3:5:
 * ..."), RF_ENOMEM. Thread-safe (no shared state).
 */
enum rf_rc rf_cfg_load_file(struct rf_cfg **out, const char *path,
			    const struct rf_cfg_limits *lim, struct rf_err *e)
	RF_WUR;

/*
 * Like rf_cfg_load_file() on the len bytes at text, which need not be
 * NUL-terminated; name is the display name used in messages ("<string>"
 * when NULL). The configuration keeps copies of what it needs.
 */
enum rf_rc rf_cfg_load_string(struct rf_cfg **out, const char *name,
			      const char *text, size_t len,
			      const struct rf_cfg_limits *lim, struct rf_err *e)
	RF_WUR;

/* Frees everything cfg owns; every node pointer obtained from it becomes
 * invalid. Accepts NULL. */
void rf_cfg_destroy(struct rf_cfg *cfg);

/* The top-level mapping (never NULL for a loaded configuration). */
const struct rf_cfg_node *rf_cfg_root(const struct rf_cfg *cfg);

/* The display name given at load time (the path for files). */
const char *rf_cfg_name(const struct rf_cfg *cfg);

/* ---- navigation --------------------------------------------------------- */

/* The value of key in mapping map, or NULL when map is NULL, is not a
 * mapping or has no such key. Linear in the size of the mapping. */
const struct rf_cfg_node *rf_cfg_child(const struct rf_cfg_node *map,
				       const char *key);

/* The node at the dotted path below base ("" is base itself), or NULL when
 * any step does not exist or a path is malformed. */
const struct rf_cfg_node *rf_cfg_find(const struct rf_cfg_node *base,
				      const char *path);

/* Writes the key path of node from the top level ("training.epochs",
 * "sites[2].name", "" for the top level) into buf (size n > 0), truncated
 * with "..." when it does not fit. Returns buf. */
char *rf_cfg_node_path(const struct rf_cfg_node *node, char *buf, size_t n);

/* True for a plain scalar that YAML reads as null: empty, "~", "null". */
bool rf_cfg_is_null(const struct rf_cfg_node *node);

/* ---- typed getters -------------------------------------------------------
 *
 * Each getter looks up path below base (a mapping node). With
 * RF_CFG_REQUIRED a missing key is RF_ECONFIG "file:line:col: missing
 * required key 'a.b'" (the position of the deepest mapping that exists);
 * with RF_CFG_OPTIONAL it returns RF_OK and leaves *out untouched, so the
 * caller pre-sets the default. A value of the wrong type or out of range is
 * RF_ECONFIG, naming the value's position, its full key path, what was
 * expected and what was found; *out is then untouched. A null value (empty,
 * "~", "null") is present: it is a type error even for an optional key.
 * A path through a scalar ("a.b" where a is a scalar) is a type error too;
 * a malformed path is RF_EINVAL. Thread-safe.
 */
#define RF_CFG_OPTIONAL 0u
#define RF_CFG_REQUIRED 1u

/* A node of the given kind (RF_CFG_MAP, RF_CFG_SEQ, RF_CFG_SCALAR, or 0 for
 * any), e.g. a list to iterate: "must be a sequence, got 'x'" otherwise.
 * *out is borrowed from the configuration. */
enum rf_rc rf_cfg_get_node(const struct rf_cfg_node *base, const char *path,
			   enum rf_cfg_kind kind, unsigned flags,
			   const struct rf_cfg_node **out, struct rf_err *e)
	RF_WUR;

/* Any non-null scalar. *out is borrowed from the configuration. */
enum rf_rc rf_cfg_get_str(const struct rf_cfg_node *base, const char *path,
			  unsigned flags, const char **out, struct rf_err *e)
	RF_WUR;

/* A decimal (optionally signed) or 0x-hexadecimal integer in [min, max]. */
enum rf_rc rf_cfg_get_int(const struct rf_cfg_node *base, const char *path,
			  int64_t min, int64_t max, unsigned flags,
			  int64_t *out, struct rf_err *e) RF_WUR;

/* A finite decimal number ("0.001", "1e-3", "-2") in [min, max]. */
enum rf_rc rf_cfg_get_double(const struct rf_cfg_node *base, const char *path,
			     double min, double max, unsigned flags,
			     double *out, struct rf_err *e) RF_WUR;

/* true/false/yes/no, in any letter case. */
enum rf_rc rf_cfg_get_bool(const struct rf_cfg_node *base, const char *path,
			   unsigned flags, bool *out, struct rf_err *e) RF_WUR;

/* One of the strings of the NULL-terminated list allowed (exact match);
 * *out receives its index. The message lists the allowed values. */
enum rf_rc rf_cfg_get_enum(const struct rf_cfg_node *base, const char *path,
			   const char *const *allowed, unsigned flags,
			   int *out, struct rf_err *e) RF_WUR;

/* A duration (see rf_cfg_parse_duration) in [min_ms, max_ms]; *out_ms in
 * milliseconds. */
enum rf_rc rf_cfg_get_duration(const struct rf_cfg_node *base,
			       const char *path, int64_t min_ms,
			       int64_t max_ms, unsigned flags, int64_t *out_ms,
			       struct rf_err *e) RF_WUR;

/* A size (see rf_cfg_parse_size) in [min, max] bytes. */
enum rf_rc rf_cfg_get_size(const struct rf_cfg_node *base, const char *path,
			   uint64_t min, uint64_t max, unsigned flags,
			   uint64_t *out, struct rf_err *e) RF_WUR;

/* ---- value syntax (also for command-line flags) ------------------------- */

/*
 * A duration: a non-negative integer followed by a unit, ms, s, m, h or d,
 * with no space ("500ms", "30s", "24h", "7d"); a bare "0" is zero. Stores
 * milliseconds in *out_ms. RF_EINVAL (message "invalid duration 'x'") for
 * anything else, RF_ETOOBIG when it overflows int64. *out_ms untouched on
 * failure.
 */
enum rf_rc rf_cfg_parse_duration(const char *s, int64_t *out_ms,
				 struct rf_err *e) RF_WUR;

/*
 * A size: a non-negative integer, optionally followed by a unit: B; k, K, kB,
 * KB (1000); M, MB; G, GB; T, TB (powers of 1000); Ki, KiB (1024); Mi, MiB;
 * Gi, GiB; Ti, TiB (powers of 1024). "512k" = 512000, "1MiB" = 1048576.
 * RF_EINVAL / RF_ETOOBIG as for durations.
 */
enum rf_rc rf_cfg_parse_size(const char *s, uint64_t *out, struct rf_err *e)
	RF_WUR;

/* ---- schema ------------------------------------------------------------- */

/* One allowed key of a mapping. A table is an array ended by {NULL}. */
struct rf_cfg_key {
	const char *name;
	unsigned flags; /* RF_CFG_REQUIRED or RF_CFG_OPTIONAL */
	/* When not NULL, the value must be a mapping (or a sequence of
	 * mappings) whose keys are checked against this table. */
	const struct rf_cfg_key *sub;
};

/*
 * Checks that map (and, through sub-tables, every nested mapping) has only
 * the keys its table allows and every required one. The first problem in
 * file order is RF_ECONFIG, e.g. "site.yaml:7:3: unknown key
 * 'training.epcohs' (did you mean 'epochs'?); expected: epochs, lr". Nested
 * mappings without a sub-table are not checked. Thread-safe.
 */
enum rf_rc rf_cfg_check_keys(const struct rf_cfg_node *map,
			     const struct rf_cfg_key *table, struct rf_err *e)
	RF_WUR;

#endif
