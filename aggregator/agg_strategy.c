/*
 * agg_strategy.c - the strategy registry, the built-in strategies (fedavg,
 * fedavgm, fedadam, fedyogi, fedprox), hyper-parameters, the weighted sum
 * of a round and state files.
 *
 * The adaptive strategies follow Reddi et al. 2021, "Adaptive Federated
 * Optimization", Algorithm 2, without bias correction, as Flower 1.x
 * (flwr.server.strategy.FedAdam/FedYogi) does. Two choices differ from
 * Flower's code and follow the paper: v starts at tau^2 (the paper's
 * v_{-1} >= tau^2; Flower starts from zeros), and the defaults are those
 * the paper tunes around (eta 1e-2, tau 1e-3; Flower: 1e-1, 1e-9).
 */
#include "agg_strategy.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "rf_alloc.h"
#include "rf_tensor.h"

/* Registrations beyond the built-ins. */
#define EXTRA_MAX 16

/* ---- built-in strategies ------------------------------------------------ */

static const struct agg_param_def eta_one = {
	"eta", 1.0, 0.0, 100.0, 1, 0, "server learning rate"};

/* fedavg: w += eta * d */
static enum rf_rc fedavg_apply(struct agg_strategy *s, float *w,
			       const float *d, uint64_t round,
			       struct rf_err *e)
{
	double eta = s->hp[0];

	(void)round;
	(void)e;
	for (size_t i = 0; i < s->len; i++)
		w[i] = (float)((double)w[i] + eta * (double)d[i]);
	return RF_OK;
}

static const struct agg_param_def fedavg_params[] = {eta_one};

static const struct agg_strategy_vtable fedavg = {
	.abi_version = AGG_STRATEGY_ABI_VERSION,
	.name = "fedavg",
	.summary = "weighted average of the deltas (McMahan et al. 2017)",
	.caps = AGG_STRATEGY_CAP_SUM_ONLY,
	.params = fedavg_params,
	.nparams = 1,
	.apply = fedavg_apply,
};

/* fedprox: the server step of fedavg; mu goes to the sites. */
static const struct agg_param_def fedprox_params[] = {
	eta_one,
	{"mu", 0.01, 0.0, 1000.0, 0, 0,
	 "proximal term of the sites' local objective"},
};

static const struct agg_strategy_vtable fedprox = {
	.abi_version = AGG_STRATEGY_ABI_VERSION,
	.name = "fedprox",
	.summary = "fedavg with a proximal term mu in the sites' training "
		   "(Li et al. 2020)",
	.caps = AGG_STRATEGY_CAP_SUM_ONLY | AGG_STRATEGY_CAP_SITE_MU,
	.params = fedprox_params,
	.nparams = 2,
	.apply = fedavg_apply,
};

/* fedavgm: v = momentum * v + d; w += eta * v */
enum { AVGM_ETA, AVGM_MOMENTUM };

static enum rf_rc fedavgm_apply(struct agg_strategy *s, float *w,
				const float *d, uint64_t round,
				struct rf_err *e)
{
	double eta = s->hp[AVGM_ETA], beta = s->hp[AVGM_MOMENTUM];
	float *v = s->state[0];

	(void)round;
	(void)e;
	for (size_t i = 0; i < s->len; i++) {
		double vi = beta * (double)v[i] + (double)d[i];

		v[i] = (float)vi;
		w[i] = (float)((double)w[i] + eta * vi);
	}
	return RF_OK;
}

static const struct agg_param_def fedavgm_params[] = {
	eta_one,
	{"momentum", 0.9, 0.0, 1.0, 0, 1, "server momentum"},
};

static const char *const fedavgm_state[] = {"v"};

static const struct agg_strategy_vtable fedavgm = {
	.abi_version = AGG_STRATEGY_ABI_VERSION,
	.name = "fedavgm",
	.summary = "fedavg with server momentum (Hsu et al. 2019)",
	.caps = AGG_STRATEGY_CAP_SUM_ONLY,
	.params = fedavgm_params,
	.nparams = 2,
	.state_names = fedavgm_state,
	.nstate = 1,
	.apply = fedavgm_apply,
};

/* fedadam, fedyogi: first moment m, second moment v. */
enum { OPT_ETA, OPT_BETA1, OPT_BETA2, OPT_TAU };

static const struct agg_param_def fedopt_params[] = {
	{"eta", 1e-2, 0.0, 100.0, 1, 0, "server learning rate"},
	{"beta_1", 0.9, 0.0, 1.0, 0, 1, "first moment decay"},
	{"beta_2", 0.99, 0.0, 1.0, 0, 1, "second moment decay"},
	{"tau", 1e-3, 0.0, 1.0, 1, 0, "adaptivity (denominator floor)"},
};

static const char *const fedopt_state[] = {"m", "v"};

/* v starts at tau^2 (Reddi et al., Algorithm 2); m at zero. */
static enum rf_rc fedopt_init(struct agg_strategy *s, struct rf_err *e)
{
	float v0 = (float)(s->hp[OPT_TAU] * s->hp[OPT_TAU]);

	(void)e;
	for (size_t i = 0; i < s->len; i++)
		s->state[1][i] = v0;
	return RF_OK;
}

static void fedopt_step(struct agg_strategy *s, float *w, const float *d,
			int yogi)
{
	double eta = s->hp[OPT_ETA], b1 = s->hp[OPT_BETA1];
	double b2 = s->hp[OPT_BETA2], tau = s->hp[OPT_TAU];
	float *m = s->state[0], *v = s->state[1];

	for (size_t i = 0; i < s->len; i++) {
		double di = (double)d[i], d2 = di * di;
		double mi = b1 * (double)m[i] + (1.0 - b1) * di;
		double vi = (double)v[i];

		if (yogi) {
			double sg = vi > d2 ? 1.0 : (vi < d2 ? -1.0 : 0.0);

			vi = vi - (1.0 - b2) * d2 * sg;
		} else {
			vi = b2 * vi + (1.0 - b2) * d2;
		}
		m[i] = (float)mi;
		v[i] = (float)vi;
		w[i] = (float)((double)w[i] + eta * mi / (sqrt(vi) + tau));
	}
}

static enum rf_rc fedadam_apply(struct agg_strategy *s, float *w,
				const float *d, uint64_t round,
				struct rf_err *e)
{
	(void)round;
	(void)e;
	fedopt_step(s, w, d, 0);
	return RF_OK;
}

static enum rf_rc fedyogi_apply(struct agg_strategy *s, float *w,
				const float *d, uint64_t round,
				struct rf_err *e)
{
	(void)round;
	(void)e;
	fedopt_step(s, w, d, 1);
	return RF_OK;
}

static const struct agg_strategy_vtable fedadam = {
	.abi_version = AGG_STRATEGY_ABI_VERSION,
	.name = "fedadam",
	.summary = "server-side Adam (Reddi et al. 2021)",
	.caps = AGG_STRATEGY_CAP_SUM_ONLY,
	.params = fedopt_params,
	.nparams = 4,
	.state_names = fedopt_state,
	.nstate = 2,
	.init = fedopt_init,
	.apply = fedadam_apply,
};

static const struct agg_strategy_vtable fedyogi = {
	.abi_version = AGG_STRATEGY_ABI_VERSION,
	.name = "fedyogi",
	.summary = "server-side Yogi (Reddi et al. 2021)",
	.caps = AGG_STRATEGY_CAP_SUM_ONLY,
	.params = fedopt_params,
	.nparams = 4,
	.state_names = fedopt_state,
	.nstate = 2,
	.init = fedopt_init,
	.apply = fedyogi_apply,
};

/* ---- the registry -------------------------------------------------------- */

static const struct agg_strategy_vtable *const builtins[] = {
	&fedavg, &fedavgm, &fedadam, &fedyogi, &fedprox, NULL,
};

/*
 * The one global of this module: strategies registered at run time, after
 * the built-ins. Written only by agg_strategy_register(), which callers run
 * before starting threads (main(), tests); read by the lookups below.
 */
static const struct agg_strategy_vtable *extras[EXTRA_MAX];

const struct agg_strategy_vtable *agg_strategy_at(size_t i)
{
	size_t nb = sizeof builtins / sizeof builtins[0] - 1;

	if (i < nb)
		return builtins[i];
	i -= nb;
	return i < EXTRA_MAX ? extras[i] : NULL;
}

const struct agg_strategy_vtable *agg_strategy_find(const char *name)
{
	const struct agg_strategy_vtable *vt;

	if (!name)
		return NULL;
	for (size_t i = 0; (vt = agg_strategy_at(i)) != NULL; i++)
		if (strcmp(vt->name, name) == 0)
			return vt;
	return NULL;
}

char *agg_strategy_names(char *buf, size_t size)
{
	const struct agg_strategy_vtable *vt;
	size_t len = 0;

	if (!buf || size == 0)
		return buf;
	buf[0] = '\0';
	for (size_t i = 0; (vt = agg_strategy_at(i)) != NULL; i++) {
		int k = snprintf(buf + len, size - len, "%s%s",
				 i ? ", " : "", vt->name);

		if (k < 0 || (size_t)k >= size - len) {
			buf[len] = '\0';
			break;
		}
		len += (size_t)k;
	}
	return buf;
}

/* 1 when x lies in p's range (NaN never does). */
static int in_range(const struct agg_param_def *p, double x)
{
	if (!isfinite(x))
		return 0;
	if (p->min_open ? !(x > p->min) : !(x >= p->min))
		return 0;
	return p->max_open ? x < p->max : x <= p->max;
}

static enum rf_rc vtable_check(const struct agg_strategy_vtable *vt,
			       struct rf_err *e)
{
	const char *name = vt->name ? vt->name : "";

	if (vt->abi_version != AGG_STRATEGY_ABI_VERSION)
		return rf_err_set(e, RF_EUNSUPPORTED,
				  "strategy '%s': abi version %u, this build "
				  "knows %u",
				  name, vt->abi_version,
				  AGG_STRATEGY_ABI_VERSION);
	if (!name[0] || strlen(name) > AGG_STRATEGY_NAME_MAX)
		return rf_err_set(e, RF_EINVAL,
				  "strategy '%.40s': name empty or over %d "
				  "bytes",
				  name, AGG_STRATEGY_NAME_MAX);
	if (!(vt->caps & AGG_STRATEGY_CAP_SUM_ONLY))
		return rf_err_set(e, RF_EUNSUPPORTED,
				  "strategy '%s' needs per-site deltas, which "
				  "secure aggregation never reveals",
				  name);
	if (!vt->apply)
		return rf_err_set(e, RF_EINVAL, "strategy '%s': no apply "
				  "method", name);
	if (vt->nparams > AGG_STRATEGY_PARAMS_MAX ||
	    (vt->nparams && !vt->params))
		return rf_err_set(e, RF_EINVAL,
				  "strategy '%s': %zu parameters, at most %d",
				  name, vt->nparams, AGG_STRATEGY_PARAMS_MAX);
	for (size_t i = 0; i < vt->nparams; i++)
		if (!vt->params[i].name || !vt->params[i].name[0] ||
		    !in_range(&vt->params[i], vt->params[i].def))
			return rf_err_set(e, RF_EINVAL,
					  "strategy '%s': parameter %zu has "
					  "no name or a default out of range",
					  name, i);
	if (vt->nstate > AGG_STRATEGY_STATE_MAX ||
	    (vt->nstate && !vt->state_names))
		return rf_err_set(e, RF_EINVAL,
				  "strategy '%s': %zu state vectors, at most "
				  "%d",
				  name, vt->nstate, AGG_STRATEGY_STATE_MAX);
	for (size_t i = 0; i < vt->nstate; i++) {
		const char *sn = vt->state_names[i];

		if (!sn || !sn[0] || strlen(sn) > AGG_STRATEGY_NAME_MAX ||
		    strchr(sn, '/'))
			return rf_err_set(e, RF_EINVAL,
					  "strategy '%s': state vector %zu "
					  "has a bad name",
					  name, i);
	}
	if (vt->instance_size &&
	    vt->instance_size < sizeof(struct agg_strategy))
		return rf_err_set(e, RF_EINVAL,
				  "strategy '%s': instance size %zu below %zu",
				  name, vt->instance_size,
				  sizeof(struct agg_strategy));
	return RF_OK;
}

enum rf_rc agg_strategy_register(const struct agg_strategy_vtable *vt,
				 struct rf_err *e)
{
	enum rf_rc rc;
	size_t i;

	if (!vt)
		return rf_err_set(e, RF_EINVAL, "no strategy vtable");
	rc = vtable_check(vt, e);
	if (rc)
		return rc;
	if (agg_strategy_find(vt->name))
		return rf_err_set(e, RF_EEXIST,
				  "strategy '%s' is already registered",
				  vt->name);
	for (i = 0; i < EXTRA_MAX && extras[i]; i++)
		;
	if (i == EXTRA_MAX)
		return rf_err_set(e, RF_ETOOBIG,
				  "cannot register strategy '%s': %d "
				  "strategies registered already",
				  vt->name, EXTRA_MAX);
	extras[i] = vt;
	return RF_OK;
}

/* ---- hyper-parameters ---------------------------------------------------- */

/* Levenshtein distance of a and b, capped at 99 (names are short). */
static unsigned edit_distance(const char *a, const char *b)
{
	unsigned row[AGG_STRATEGY_NAME_MAX * 2 + 1];
	size_t la = strlen(a), lb = strlen(b);

	if (la > AGG_STRATEGY_NAME_MAX * 2 || lb > AGG_STRATEGY_NAME_MAX * 2)
		return 99;
	for (size_t j = 0; j <= lb; j++)
		row[j] = (unsigned)j;
	for (size_t i = 1; i <= la; i++) {
		unsigned diag = row[0];

		row[0] = (unsigned)i;
		for (size_t j = 1; j <= lb; j++) {
			unsigned up = row[j];
			unsigned best = diag + (a[i - 1] != b[j - 1]);

			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[lb] > 99 ? 99 : row[lb];
}

static enum rf_rc unknown_param(const struct agg_strategy_vtable *vt,
				const char *key, struct rf_err *e)
{
	const char *best = NULL;
	unsigned best_d = 99, limit;
	char known[160];
	size_t len = 0;

	for (size_t i = 0; i < vt->nparams; i++) {
		unsigned d = edit_distance(key, vt->params[i].name);

		if (d < best_d) {
			best_d = d;
			best = vt->params[i].name;
		}
	}
	limit = strlen(key) > 6 ? 3 : 2;
	if (best && best_d <= limit)
		return rf_err_set(e, RF_EINVAL,
				  "strategy '%s' has no parameter '%.64s' "
				  "(did you mean '%s'?)",
				  vt->name, key, best);
	known[0] = '\0';
	for (size_t i = 0; i < vt->nparams; i++) {
		int k = snprintf(known + len, sizeof known - len, "%s%s",
				 i ? ", " : "", vt->params[i].name);

		if (k < 0 || (size_t)k >= sizeof known - len) {
			known[len] = '\0';
			break;
		}
		len += (size_t)k;
	}
	return rf_err_set(e, RF_EINVAL,
			  "strategy '%s' has no parameter '%.64s' (known: "
			  "%s)",
			  vt->name, key, vt->nparams ? known : "none");
}

enum rf_rc agg_strategy_hparams(const struct agg_strategy_vtable *vt,
				const struct agg_param *kv, size_t n,
				double hp[AGG_STRATEGY_PARAMS_MAX],
				struct rf_err *e)
{
	double out[AGG_STRATEGY_PARAMS_MAX];
	int seen[AGG_STRATEGY_PARAMS_MAX] = {0};

	if (!vt || !hp || (n && !kv))
		return rf_err_set(e, RF_EINVAL, "no strategy or parameters");
	if (vt->nparams > AGG_STRATEGY_PARAMS_MAX)
		return rf_err_set(e, RF_EINVAL, "strategy '%s': too many "
				  "parameters", vt->name);
	for (size_t i = 0; i < vt->nparams; i++)
		out[i] = vt->params[i].def;
	for (size_t k = 0; k < n; k++) {
		const struct agg_param_def *p = NULL;
		size_t i;

		if (!kv[k].name)
			return rf_err_set(e, RF_EINVAL,
					  "strategy '%s': parameter %zu has "
					  "no name",
					  vt->name, k);
		for (i = 0; i < vt->nparams; i++)
			if (strcmp(vt->params[i].name, kv[k].name) == 0) {
				p = &vt->params[i];
				break;
			}
		if (!p)
			return unknown_param(vt, kv[k].name, e);
		if (seen[i])
			return rf_err_set(e, RF_EINVAL,
					  "strategy '%s': parameter '%s' "
					  "given twice",
					  vt->name, p->name);
		if (!in_range(p, kv[k].value))
			return rf_err_set(e, RF_EINVAL,
					  "strategy '%s': parameter '%s' = "
					  "%g outside %c%g, %g%c",
					  vt->name, p->name, kv[k].value,
					  p->min_open ? '(' : '[', p->min,
					  p->max, p->max_open ? ')' : ']');
		seen[i] = 1;
		out[i] = kv[k].value;
	}
	for (size_t i = 0; i < vt->nparams; i++)
		hp[i] = out[i];
	return RF_OK;
}

enum rf_rc agg_strategy_param(const struct agg_strategy *s, const char *name,
			      double *out, struct rf_err *e)
{
	if (!s || !name || !out)
		return rf_err_set(e, RF_EINVAL, "no strategy or parameter");
	for (size_t i = 0; i < s->vt->nparams; i++)
		if (strcmp(s->vt->params[i].name, name) == 0) {
			*out = s->hp[i];
			return RF_OK;
		}
	return rf_err_set(e, RF_ENOTFOUND,
			  "strategy '%s' has no parameter '%.64s'",
			  s->vt->name, name);
}

/* ---- instances ----------------------------------------------------------- */

static void state_free(float *v, size_t len)
{
	if (v)
		rf_free_secret(v, len * sizeof *v);
}

enum rf_rc agg_strategy_create(const char *name, size_t len,
			       const struct agg_param *kv, size_t n,
			       struct agg_strategy **out, struct rf_err *e)
{
	const struct agg_strategy_vtable *vt;
	struct agg_strategy *s = NULL;
	double hp[AGG_STRATEGY_PARAMS_MAX] = {0};
	size_t size;
	enum rf_rc rc;

	if (!out)
		return rf_err_set(e, RF_EINVAL, "no output for strategy");
	*out = NULL;
	vt = agg_strategy_find(name);
	if (!vt) {
		char known[200];

		return rf_err_set(e, RF_ENOTFOUND,
				  "unknown strategy '%.64s' (known: %s)",
				  name ? name : "", agg_strategy_names(
				  known, sizeof known));
	}
	if (len < 1 || len > AGG_LEN_MAX)
		return rf_err_set(e, RF_EINVAL,
				  "strategy '%s': model length %zu outside 1 "
				  "to %zu",
				  vt->name, len, AGG_LEN_MAX);
	rc = agg_strategy_hparams(vt, kv, n, hp, e);
	if (rc)
		return rc;
	size = vt->instance_size ? vt->instance_size : sizeof *s;
	s = rf_calloc(1, size);
	if (!s)
		return rf_err_set(e, RF_ENOMEM, "strategy '%s': out of memory",
				  vt->name);
	s->vt = vt;
	s->len = len;
	memcpy(s->hp, hp, sizeof hp);
	for (size_t i = 0; i < vt->nstate; i++) {
		s->state[i] = rf_calloc(len, sizeof(float));
		if (!s->state[i]) {
			rc = rf_err_set(e, RF_ENOMEM,
					"strategy '%s': no memory for state "
					"'%s' of %zu elements",
					vt->name, vt->state_names[i], len);
			goto fail;
		}
	}
	if (vt->init) {
		rc = vt->init(s, e);
		if (rc)
			goto fail;
	}
	*out = s;
	return RF_OK;
fail:
	for (size_t i = 0; i < AGG_STRATEGY_STATE_MAX; i++)
		state_free(s->state[i], len);
	rf_free_secret(s, size);
	return rc;
}

void agg_strategy_destroy(struct agg_strategy *s)
{
	size_t size;

	if (!s)
		return;
	if (s->vt->destroy)
		s->vt->destroy(s);
	for (size_t i = 0; i < AGG_STRATEGY_STATE_MAX; i++)
		state_free(s->state[i], s->len);
	size = s->vt->instance_size ? s->vt->instance_size : sizeof *s;
	rf_free_secret(s, size);
}

/* RF_EINVAL naming the first non-finite element of v, if any. */
static enum rf_rc check_finite(const char *what, const float *v, size_t len,
			       struct rf_err *e)
{
	for (size_t i = 0; i < len; i++)
		if (!isfinite(v[i]))
			return rf_err_set(e, RF_EINVAL,
					  "%s[%zu] is not finite (%g)", what,
					  i, (double)v[i]);
	return RF_OK;
}

enum rf_rc agg_strategy_apply(struct agg_strategy *s, float *w,
			      const float *avg_delta, uint64_t round,
			      struct rf_err *e)
{
	enum rf_rc rc;

	if (!s || !w || !avg_delta)
		return rf_err_set(e, RF_EINVAL, "no strategy, weights or "
				  "delta");
	if (round < 1 || round <= s->round)
		return rf_err_set(e, RF_EINVAL,
				  "strategy '%s': round %llu does not follow "
				  "round %llu",
				  s->vt->name, (unsigned long long)round,
				  (unsigned long long)s->round);
	rc = check_finite("weights", w, s->len, e);
	if (!rc)
		rc = check_finite("average delta", avg_delta, s->len, e);
	if (rc)
		return rf_err_prefix(e, "strategy '%s' round %llu",
				     s->vt->name, (unsigned long long)round);
	rc = s->vt->apply(s, w, avg_delta, round, e);
	if (rc)
		return rc;
	s->round = round;
	return RF_OK;
}

/* ---- state files --------------------------------------------------------- */

enum rf_rc agg_strategy_state_save(const struct agg_strategy *s,
				   const char *path, struct rf_err *e)
{
	const struct agg_strategy_vtable *vt;
	struct rf_h5 *h = NULL;
	enum rf_rc rc;

	if (!s || !path)
		return rf_err_set(e, RF_EINVAL, "no strategy or path");
	vt = s->vt;
	rc = rf_h5_create(path, &h, e);
	if (rc)
		return rc;
	rc = rf_h5_attr_set_str(h, "/", "strategy", vt->name, e);
	if (!rc)
		rc = rf_h5_attr_set_i64(h, "/", "length", (int64_t)s->len, e);
	if (!rc && s->round > INT64_MAX)
		rc = rf_err_set(e, RF_EINVAL, "round %llu too large",
				(unsigned long long)s->round);
	if (!rc)
		rc = rf_h5_attr_set_i64(h, "/", "round", (int64_t)s->round,
					e);
	for (size_t i = 0; !rc && i < vt->nparams; i++)
		rc = rf_h5_attr_set_f64(h, "/", vt->params[i].name, s->hp[i],
					e);
	for (size_t i = 0; !rc && i < vt->nstate; i++) {
		struct rf_tensor_info ti = {RF_DTYPE_F32, 1, {s->len}};
		char name[AGG_STRATEGY_NAME_MAX + 16];

		snprintf(name, sizeof name, "/state/%s", vt->state_names[i]);
		rc = rf_h5_write(h, name, &ti, s->state[i], NULL, e);
	}
	if (!rc)
		rc = rf_h5_commit(h, e);
	rf_h5_close(h);
	return rc;
}

/* Reads and checks state vector i of s's strategy into a new buffer. */
static enum rf_rc load_vector(struct rf_h5 *h, const struct agg_strategy *s,
			      size_t i, float **out, struct rf_err *e)
{
	const char *sn = s->vt->state_names[i];
	struct rf_tensor_info ti;
	char name[AGG_STRATEGY_NAME_MAX + 16];
	void *buf = NULL;
	enum rf_rc rc;

	snprintf(name, sizeof name, "/state/%s", sn);
	rc = rf_h5_info(h, name, &ti, e);
	if (rc == RF_ENOTFOUND)
		return rf_err_set(e, RF_EPROTO,
				  "state file '%s' has no state vector '%s'",
				  rf_h5_path(h), sn);
	if (rc)
		return rc;
	if (ti.dtype != RF_DTYPE_F32 || ti.rank != 1 ||
	    ti.shape[0] != s->len)
		return rf_err_set(e, RF_EPROTO,
				  "state file '%s': state vector '%s' is not "
				  "float32 [%zu]",
				  rf_h5_path(h), sn, s->len);
	rc = rf_h5_read_alloc(h, name, RF_DTYPE_F32, s->len, &buf, NULL, e);
	if (rc)
		return rc;
	for (size_t k = 0; k < s->len; k++)
		if (!isfinite(((float *)buf)[k])) {
			rf_free_secret(buf, s->len * sizeof(float));
			return rf_err_set(e, RF_EPROTO,
					  "state file '%s': %s[%zu] is not "
					  "finite",
					  rf_h5_path(h), sn, k);
		}
	*out = buf;
	return RF_OK;
}

enum rf_rc agg_strategy_state_load(struct agg_strategy *s, const char *path,
				   struct rf_err *e)
{
	float *vec[AGG_STRATEGY_STATE_MAX] = {NULL};
	struct rf_h5 *h = NULL;
	char *name = NULL;
	int64_t len, round;
	enum rf_rc rc;

	if (!s || !path)
		return rf_err_set(e, RF_EINVAL, "no strategy or path");
	rc = rf_h5_open(path, RF_H5_RDONLY, &h, e);
	if (rc)
		return rc;
	rc = rf_h5_attr_get_str(h, "/", "strategy", AGG_STRATEGY_NAME_MAX,
				&name, e);
	if (rc == RF_ENOTFOUND || rc == RF_ETOOBIG)
		rc = rf_err_set(e, RF_EPROTO,
				"'%s' is not a strategy state file", path);
	if (rc)
		goto out;
	if (strcmp(name, s->vt->name) != 0) {
		rc = rf_err_set(e, RF_EPROTO,
				"state file '%s' holds strategy '%s', not "
				"'%s'",
				path, name, s->vt->name);
		goto out;
	}
	rc = rf_h5_attr_get_i64(h, "/", "length", &len, e);
	if (!rc)
		rc = rf_h5_attr_get_i64(h, "/", "round", &round, e);
	if (rc == RF_ENOTFOUND)
		rc = rf_err_set(e, RF_EPROTO,
				"'%s' is not a strategy state file", path);
	if (rc)
		goto out;
	if (len < 0 || (uint64_t)len != s->len) {
		rc = rf_err_set(e, RF_EPROTO,
				"state file '%s' is for a model of %lld "
				"elements, not %zu",
				path, (long long)len, s->len);
		goto out;
	}
	if (round < 0) {
		rc = rf_err_set(e, RF_EPROTO, "state file '%s': round %lld",
				path, (long long)round);
		goto out;
	}
	for (size_t i = 0; i < s->vt->nstate; i++) {
		rc = load_vector(h, s, i, &vec[i], e);
		if (rc)
			goto out;
	}
	for (size_t i = 0; i < s->vt->nstate; i++) {
		state_free(s->state[i], s->len);
		s->state[i] = vec[i];
		vec[i] = NULL;
	}
	s->round = (uint64_t)round;
out:
	for (size_t i = 0; i < AGG_STRATEGY_STATE_MAX; i++)
		state_free(vec[i], s->len);
	rf_free(name);
	rf_h5_close(h);
	return rc;
}

/* ---- the weighted sum ---------------------------------------------------- */

enum rf_rc agg_sum_init(struct agg_sum *sum, size_t len, struct rf_err *e)
{
	if (!sum)
		return rf_err_set(e, RF_EINVAL, "no sum");
	memset(sum, 0, sizeof *sum);
	if (len < 1 || len > AGG_LEN_MAX)
		return rf_err_set(e, RF_EINVAL,
				  "delta length %zu outside 1 to %zu", len,
				  AGG_LEN_MAX);
	sum->acc = rf_calloc(len, sizeof *sum->acc);
	if (!sum->acc)
		return rf_err_set(e, RF_ENOMEM,
				  "no memory for a sum of %zu elements", len);
	sum->len = len;
	return RF_OK;
}

void agg_sum_release(struct agg_sum *sum)
{
	if (!sum)
		return;
	if (sum->acc)
		rf_free_secret(sum->acc, sum->len * sizeof *sum->acc);
	memset(sum, 0, sizeof *sum);
}

enum rf_rc agg_sum_add(struct agg_sum *sum, const float *delta, uint64_t n,
		       struct rf_err *e)
{
	enum rf_rc rc;
	double dn;

	if (!sum || !sum->acc || !delta)
		return rf_err_set(e, RF_EINVAL, "no sum or delta");
	if (n == 0 || n > AGG_SAMPLES_MAX - sum->samples)
		return rf_err_set(e, RF_EINVAL,
				  "sample count %llu: need 1 to %llu in all",
				  (unsigned long long)n,
				  (unsigned long long)(AGG_SAMPLES_MAX -
						       sum->samples));
	rc = check_finite("delta", delta, sum->len, e);
	if (rc)
		return rc;
	dn = (double)n;
	for (size_t i = 0; i < sum->len; i++)
		sum->acc[i] += dn * (double)delta[i];
	sum->samples += n;
	sum->sites++;
	return RF_OK;
}

enum rf_rc agg_sum_mean(const struct agg_sum *sum, float *avg,
			struct rf_err *e)
{
	double dn;

	if (!sum || !sum->acc || !avg)
		return rf_err_set(e, RF_EINVAL, "no sum or output");
	if (sum->samples == 0)
		return rf_err_set(e, RF_EINVAL,
				  "no samples in the sum (%u sites): no "
				  "average",
				  sum->sites);
	dn = (double)sum->samples;
	for (size_t i = 0; i < sum->len; i++) {
		double m = sum->acc[i] / dn;

		if (!isfinite(m) || fabs(m) > (double)FLT_MAX)
			return rf_err_set(e, RF_EINVAL,
					  "average delta[%zu] = %g does not "
					  "fit a float32",
					  i, m);
		avg[i] = (float)m;
	}
	return RF_OK;
}
