/*
 * agg_strategy.h - aggregation strategies: how the aggregator turns the sum
 * of the sites' deltas into the next global weights w_{r+1}.
 *
 * One round gives the aggregator what secure aggregation can give it: the
 * weighted SUM of the deltas, sum_k n_k * delta_k, the total sample count
 * N = sum_k n_k and the number of sites. struct agg_sum accumulates that
 * sum (site by site from plain deltas today; from the unmasked fixed-point
 * sum later) and agg_sum_mean() turns it into avg_delta = sum / N. A
 * strategy then updates the global weights from avg_delta and its own
 * state vectors (momentum, first and second moments).
 *
 * A strategy never sees one site's delta. Strategies that need per-site
 * deltas (Krum, coordinate-wise median, trimmed mean, ...) are out of reach
 * under secure aggregation and cannot be expressed with this interface:
 * every strategy must declare AGG_STRATEGY_CAP_SUM_ONLY, and registration
 * refuses one that does not.
 *
 * Strategies are plugins (STYLE.md 12-14): a const vtable registered by
 * name. Built-ins (docs/federation.md, "Strategies", has the formulas):
 *   fedavg   w += eta * d                           (McMahan et al. 2017)
 *   fedavgm  v = momentum * v + d; w += eta * v     (Hsu et al. 2019)
 *   fedadam  m = b1 m + (1-b1) d; v = b2 v + (1-b2) d^2;
 *            w += eta * m / (sqrt(v) + tau)         (Reddi et al. 2021)
 *   fedyogi  as fedadam with v = v - (1-b2) d^2 sign(v - d^2)
 *   fedprox  the server side of fedavg; carries mu for the sites' local
 *            optimizer (trainers/trn_optim.h prox_mu)     (Li et al. 2020)
 * where d is avg_delta. State vectors are float32 (the precision they are
 * saved with); every element is updated in double and rounded once when
 * stored.
 *
 * Thread safety: the registry is written only by agg_strategy_register(),
 * before threads start. One struct agg_strategy or agg_sum must not be used
 * by two threads at once; distinct ones are independent. State files go
 * through common/rf_tensor.h, whose callers serialise all HDF5 use.
 *
 * Must not use: node/ headers; only common/ (rf_err, rf_alloc, rf_tensor)
 * and libc/libm.
 */
#ifndef AGG_STRATEGY_H
#define AGG_STRATEGY_H

#include <stddef.h>
#include <stdint.h>

#include "rf_err.h"

/* The vtable ABI this build knows; vtables of other versions are refused.
 * Version 1: abi_version, name, summary, caps, params, nparams,
 * state_names, nstate, instance_size, init, apply, destroy. */
#define AGG_STRATEGY_ABI_VERSION 1

/* Limits of a strategy's description. */
#define AGG_STRATEGY_NAME_MAX 32   /* bytes of a name, NUL excluded */
#define AGG_STRATEGY_PARAMS_MAX 8  /* hyper-parameters per strategy */
#define AGG_STRATEGY_STATE_MAX 4   /* state vectors per strategy */
/* Longest model (elements of w) a strategy or a sum accepts. */
#define AGG_LEN_MAX ((size_t)1 << 30)
/* Largest total sample count: every N up to it is exact in a double. */
#define AGG_SAMPLES_MAX ((uint64_t)1 << 48)

/* Capabilities (caps). */
/* Needs nothing but the weighted sum of the deltas: mandatory. */
#define AGG_STRATEGY_CAP_SUM_ONLY 0x1u
/* Has a parameter "mu" the sites' local optimizer needs (FedProx). */
#define AGG_STRATEGY_CAP_SITE_MU 0x2u

/* One hyper-parameter a strategy takes: its value must lie in [min, max],
 * ends excluded when min_open / max_open are set. */
struct agg_param_def {
	const char *name;
	double def;
	double min, max;
	unsigned char min_open, max_open;
	const char *help;
};

/* A hyper-parameter given by name, as a round spec gives it. */
struct agg_param {
	const char *name;
	double value;
};

struct agg_strategy_vtable;

/*
 * An instance: a strategy, its hyper-parameters and its state for a model
 * of `len` elements. Plugins may embed it as the first member of a larger
 * struct (instance_size) and reach their own fields with a cast; everything
 * here is read-only to them except the contents of state[].
 */
struct agg_strategy {
	const struct agg_strategy_vtable *vt;
	size_t len;                             /* elements of w */
	uint64_t round;                         /* last round applied, 0 */
	double hp[AGG_STRATEGY_PARAMS_MAX];     /* in the order of vt->params */
	float *state[AGG_STRATEGY_STATE_MAX];   /* vt->nstate vectors [len] */
};

struct agg_strategy_vtable {
	unsigned abi_version;            /* AGG_STRATEGY_ABI_VERSION */
	const char *name;                /* "fedadam" */
	const char *summary;             /* one line for listings */
	unsigned caps;                   /* AGG_STRATEGY_CAP_*, SUM_ONLY set */
	const struct agg_param_def *params;
	size_t nparams;                  /* <= AGG_STRATEGY_PARAMS_MAX */
	/* names of the state vectors ("m", "v"), the datasets they are
	 * saved as; nstate <= AGG_STRATEGY_STATE_MAX */
	const char *const *state_names;
	size_t nstate;
	/* bytes of the instance, >= sizeof(struct agg_strategy); 0 means
	 * sizeof(struct agg_strategy) */
	size_t instance_size;
	/* Optional: called once the state vectors exist (zeroed) and hp is
	 * resolved; sets initial values (fedadam: v = tau^2) and anything
	 * of a larger instance. On failure it releases what it took. */
	enum rf_rc (*init)(struct agg_strategy *s, struct rf_err *e);
	/* Required: one server step, w (float32 [len], in/out) from d =
	 * avg_delta (float32 [len]) for round `round`. Inputs are finite
	 * (checked by the caller). */
	enum rf_rc (*apply)(struct agg_strategy *s, float *w,
			    const float *avg_delta, uint64_t round,
			    struct rf_err *e);
	/* Optional: releases what init added (not the state vectors). */
	void (*destroy)(struct agg_strategy *s);
};

/* ---- registry ----------------------------------------------------------- */

/* Adds vt to the registry (not copied: it must stay valid). RF_EEXIST for
 * a name already registered, RF_EUNSUPPORTED for another abi_version or a
 * strategy without AGG_STRATEGY_CAP_SUM_ONLY, RF_EINVAL for a missing or
 * over-long name, a missing apply, too many parameters or state vectors,
 * a default outside its range, or an instance_size below the base struct,
 * RF_ETOOBIG when the registry is full. Not thread-safe: register before
 * starting threads. The registry is the one global of this module
 * (agg_strategy.c), written only here. */
enum rf_rc agg_strategy_register(const struct agg_strategy_vtable *vt,
				 struct rf_err *e) RF_WUR;

/* The strategy called name, or NULL (also for NULL). */
const struct agg_strategy_vtable *agg_strategy_find(const char *name);

/* The i-th registered strategy (built-ins first), or NULL past the end. */
const struct agg_strategy_vtable *agg_strategy_at(size_t i);

/* Writes "fedavg, fedavgm, ..." into buf (size bytes, NUL-terminated,
 * truncated to whole names), for error messages. Returns buf. */
char *agg_strategy_names(char *buf, size_t size);

/* ---- hyper-parameters ---------------------------------------------------- */

/*
 * Resolves the hyper-parameters of strategy vt from n name/value pairs:
 * hp[i] receives kv's value for vt->params[i], or its default. RF_EINVAL
 * for a name the strategy does not take (the message suggests the closest
 * one, or lists them), a name given twice, or a value outside its range or
 * not finite (the message names the parameter and the range). On failure
 * hp is unchanged. kv may be NULL when n is 0. For the round-spec parser,
 * which checks a spec before any round starts.
 */
enum rf_rc agg_strategy_hparams(const struct agg_strategy_vtable *vt,
				const struct agg_param *kv, size_t n,
				double hp[AGG_STRATEGY_PARAMS_MAX],
				struct rf_err *e) RF_WUR;

/* Stores in *out the value of hyper-parameter `name` of s (e.g. "mu" to
 * send to the sites). RF_ENOTFOUND if s has no such parameter. */
enum rf_rc agg_strategy_param(const struct agg_strategy *s, const char *name,
			      double *out, struct rf_err *e) RF_WUR;

/* ---- instances ----------------------------------------------------------- */

/*
 * Creates an instance of strategy `name` for a model of len elements
 * (1..AGG_LEN_MAX), with the hyper-parameters kv[0..n) (defaults for the
 * others), state vectors allocated and initialised, round 0. On success
 * *out owns it (agg_strategy_destroy). RF_ENOTFOUND for an unknown name
 * (the message lists the known ones), RF_EINVAL as agg_strategy_hparams or
 * for a bad len, RF_ENOMEM, or the strategy's init error. On failure *out
 * is NULL and nothing is left allocated.
 */
enum rf_rc agg_strategy_create(const char *name, size_t len,
			       const struct agg_param *kv, size_t n,
			       struct agg_strategy **out,
			       struct rf_err *e) RF_WUR;

/* Releases s and its state vectors (zeroised: they derive from the sites'
 * updates). Accepts NULL. */
void agg_strategy_destroy(struct agg_strategy *s);

/*
 * Applies round `round` (>= 1, greater than the last round applied: a
 * round is never applied twice, e.g. after a restart) to the global
 * weights w (float32 [s->len], in/out) from avg_delta (float32 [s->len],
 * agg_sum_mean's output). RF_EINVAL for a NULL argument, a round not after
 * the last one, or a non-finite element of w or avg_delta (the message
 * names the vector and the index); then w and the state are unchanged.
 * Otherwise the strategy's apply result; on success s->round = round.
 */
enum rf_rc agg_strategy_apply(struct agg_strategy *s, float *w,
			      const float *avg_delta, uint64_t round,
			      struct rf_err *e) RF_WUR;

/*
 * Saves the state of s to an HDF5 file at path, atomically (rf_h5_create +
 * rf_h5_commit: on failure nothing at path has changed): root attributes
 * "strategy" (name), "length", "round" and one float64 attribute per
 * hyper-parameter (for the record), and one float32 dataset [len] per
 * state vector under "/state/<name>". Errors of rf_tensor.h.
 */
enum rf_rc agg_strategy_state_save(const struct agg_strategy *s,
				   const char *path, struct rf_err *e) RF_WUR;

/*
 * Loads the state saved by agg_strategy_state_save into s: the state
 * vectors and the last round applied. The hyper-parameters of s are kept
 * (those of the round spec). RF_EPROTO when the file holds another
 * strategy, another length, a missing or misshapen state vector, a round
 * below 0, or a non-finite value (naming the vector and the index); the
 * errors of rf_h5_open (RF_ENOTFOUND for a missing file, ...); RF_ENOMEM.
 * On failure s is unchanged. Memory: one [len] buffer per state vector,
 * allocated before anything is replaced.
 */
enum rf_rc agg_strategy_state_load(struct agg_strategy *s, const char *path,
				   struct rf_err *e) RF_WUR;

/* ---- the weighted sum of one round -------------------------------------- */

/*
 * sum_k n_k * delta_k accumulated in double (each product and addition in
 * double: with n_k < 2^48 and float32 deltas the sum loses nothing a
 * float32 mean could show), the total sample count N and the number of
 * sites.
 */
struct agg_sum {
	size_t len;
	double *acc;        /* [len] */
	uint64_t samples;   /* N */
	unsigned sites;
};

/* Initialises sum for deltas of len elements (1..AGG_LEN_MAX), all zero.
 * RF_EINVAL for a bad len, RF_ENOMEM; on failure sum is safe to release. */
enum rf_rc agg_sum_init(struct agg_sum *sum, size_t len,
			struct rf_err *e) RF_WUR;

/* Frees the accumulator (zeroised) and resets sum. Accepts NULL and a
 * released sum. */
void agg_sum_release(struct agg_sum *sum);

/*
 * Adds one site's contribution: acc += n * delta (float32 [sum->len]).
 * RF_EINVAL for n == 0, a total N over AGG_SAMPLES_MAX or a non-finite
 * delta element (naming the index); on failure sum is unchanged.
 */
enum rf_rc agg_sum_add(struct agg_sum *sum, const float *delta, uint64_t n,
		       struct rf_err *e) RF_WUR;

/*
 * avg[i] = acc[i] / N rounded to float32 (float32 [sum->len]). RF_EINVAL
 * when N is 0 (no site contributed: no 0/0) or a mean does not fit a
 * float32 (naming the index); avg is then unspecified.
 */
enum rf_rc agg_sum_mean(const struct agg_sum *sum, float *avg,
			struct rf_err *e) RF_WUR;

#endif
