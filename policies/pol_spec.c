/* pol_spec.c - round specs: parsing, validation, canonical form. */
#include "pol_spec.h"

#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pol_int.h"
#include "rf_alloc.h"
#include "rf_config.h"
#include "trn.h"
#include "trn_optim.h"

#define SEED_MAX ((int64_t)1 << 53)

static const char *const strategy_names[] = {
	"fedavg", "fedavgm", "fedadam", "fedyogi", "fedprox", NULL,
};
static const char *const optim_names[] = { "sgd", "adam", NULL };

static const struct rf_cfg_key local_keys[] = {
	{ "epochs", RF_CFG_OPTIONAL, NULL },
	{ "batch", RF_CFG_OPTIONAL, NULL },
	{ "lr", RF_CFG_OPTIONAL, NULL },
	{ "optimizer", RF_CFG_OPTIONAL, NULL },
	{ "momentum", RF_CFG_OPTIONAL, NULL },
	{ "weight-decay", RF_CFG_OPTIONAL, NULL },
	{ "prox-mu", RF_CFG_OPTIONAL, NULL },
	{ NULL, 0, NULL },
};
static const struct rf_cfg_key input_keys[] = {
	{ "channels", RF_CFG_REQUIRED, NULL },
	{ "height", RF_CFG_REQUIRED, NULL },
	{ "width", RF_CFG_REQUIRED, NULL },
	{ NULL, 0, NULL },
};
static const struct rf_cfg_key strategy_keys[] = {
	{ "name", RF_CFG_REQUIRED, NULL },
	{ "params", RF_CFG_OPTIONAL, NULL },
	{ NULL, 0, NULL },
};
static const struct rf_cfg_key top_keys[] = {
	{ "name", RF_CFG_REQUIRED, NULL },
	{ "model", RF_CFG_REQUIRED, NULL },
	{ "input", RF_CFG_REQUIRED, NULL },
	{ "labels", RF_CFG_REQUIRED, NULL },
	{ "local", RF_CFG_OPTIONAL, local_keys },
	{ "rounds", RF_CFG_OPTIONAL, NULL },
	{ "min-sites", RF_CFG_OPTIONAL, NULL },
	{ "max-wait", RF_CFG_OPTIONAL, NULL },
	{ "strategy", RF_CFG_OPTIONAL, NULL },
	{ "val-fraction", RF_CFG_OPTIONAL, NULL },
	{ "seed", RF_CFG_OPTIONAL, NULL },
	{ NULL, 0, NULL },
};

const char *pol_strategy_name(enum pol_strategy s)
{
	if (s < POL_STRATEGY_FEDAVG || s > POL_STRATEGY_COUNT)
		return "?";
	return strategy_names[s - 1];
}

enum pol_strategy pol_strategy_from_name(const char *name)
{
	size_t i;

	for (i = 0; name && strategy_names[i]; i++)
		if (strcmp(name, strategy_names[i]) == 0)
			return (enum pol_strategy)(i + 1);
	return 0;
}

enum rf_rc pol__bad(struct rf_err *e, const struct rf_cfg_node *n,
		    const char *fmt, ...)
{
	char msg[RF_ERR_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return rf_err_set(e, RF_ECONFIG, "%s:%u:%u: %s", n->file, n->line,
			  n->column, msg);
}

const char *pol__shown(const struct rf_cfg_node *n)
{
	if (n->kind == RF_CFG_MAP)
		return "a mapping";
	if (n->kind == RF_CFG_SEQ)
		return "a sequence";
	return NULL;
}

enum rf_rc pol__check_text(const struct rf_cfg_node *n, const char *path,
			   size_t max, struct rf_err *e)
{
	size_t i;

	if (n->kind != RF_CFG_SCALAR || rf_cfg_is_null(n))
		return pol__bad(e, n, "'%s' must be a string, got %s", path,
				pol__shown(n) ? pol__shown(n) : "null");
	if (n->len == 0 || n->len > max)
		return pol__bad(e, n, "'%s' must be 1 to %zu bytes, got %zu",
				path, max, n->len);
	for (i = 0; i < n->len; i++)
		if ((unsigned char)n->text[i] < 0x20 || n->text[i] == 0x7f)
			return pol__bad(e, n,
					"'%s' must not contain control "
					"characters",
					path);
	return RF_OK;
}

/* "CxHxW": three decimal numbers in [1, POL_SPEC_DIM_MAX]. */
static bool parse_dims(const char *s, unsigned d[3])
{
	size_t i;

	for (i = 0; i < 3; i++) {
		unsigned long v = 0;
		size_t k = 0;

		while (s[k] >= '0' && s[k] <= '9' && k < 5)
			v = v * 10 + (unsigned long)(s[k++] - '0');
		if (k == 0 || k == 5 || v < 1 || v > POL_SPEC_DIM_MAX)
			return false;
		s += k;
		if (i < 2 && *s++ != 'x')
			return false;
		d[i] = (unsigned)v;
	}
	return *s == '\0';
}

static enum rf_rc parse_input(struct pol_spec *sp,
			      const struct rf_cfg_node *root, struct rf_err *e)
{
	const struct rf_cfg_node *n = rf_cfg_child(root, "input");
	static const char *const dims[] = { "channels", "height", "width" };
	unsigned d[3];
	int64_t v;
	enum rf_rc rc;
	size_t i;

	if (n->kind == RF_CFG_MAP) {
		rc = rf_cfg_check_keys(n, input_keys, e);
		for (i = 0; !rc && i < 3; i++) {
			rc = rf_cfg_get_int(n, dims[i], 1, POL_SPEC_DIM_MAX,
					    RF_CFG_REQUIRED, &v, e);
			d[i] = (unsigned)v;
		}
		if (rc)
			return rc;
	} else if (n->kind != RF_CFG_SCALAR || !parse_dims(n->text, d)) {
		return pol__bad(e, n,
				"'input' must be CxHxW (e.g. 1x64x64) with "
				"sides 1 to %u, or a mapping of channels, "
				"height and width, got %s%s%s",
				POL_SPEC_DIM_MAX,
				pol__shown(n) ? "" : "'",
				pol__shown(n) ? pol__shown(n) : n->text,
				pol__shown(n) ? "" : "'");
	}
	sp->channels = d[0];
	sp->height = d[1];
	sp->width = d[2];
	return RF_OK;
}

static enum rf_rc parse_labels(struct pol_spec *sp,
			       const struct rf_cfg_node *root,
			       struct rf_err *e)
{
	const struct rf_cfg_node *seq, *v;
	char path[32];
	enum rf_rc rc;
	size_t i, j;

	rc = rf_cfg_get_node(root, "labels", RF_CFG_SEQ, RF_CFG_REQUIRED,
			     &seq, e);
	if (rc)
		return rc;
	if (seq->count < 2 || seq->count > POL_SPEC_LABELS_MAX)
		return pol__bad(e, seq,
				"'labels' must list 2 to %u class names, "
				"got %zu",
				POL_SPEC_LABELS_MAX, seq->count);
	for (i = 0; i < seq->count; i++) {
		v = seq->values[i];
		snprintf(path, sizeof path, "labels[%zu]", i);
		rc = pol__check_text(v, path, POL_SPEC_LABEL_MAX, e);
		if (rc)
			return rc;
		for (j = 0; j < i; j++)
			if (strcmp(v->text, seq->values[j]->text) == 0)
				return pol__bad(e, v,
						"'%s' repeats '%s' of "
						"labels[%zu]",
						path, v->text, j);
	}
	sp->labels = rf_calloc(seq->count, sizeof *sp->labels);
	if (!sp->labels)
		return rf_err_set(e, RF_ENOMEM, "out of memory for labels");
	for (i = 0; i < seq->count; i++) {
		sp->labels[i] = rf_strndup(seq->values[i]->text,
					   seq->values[i]->len);
		if (!sp->labels[i])
			return rf_err_set(e, RF_ENOMEM,
					  "out of memory for labels");
		sp->nlabels = i + 1;
	}
	return RF_OK;
}

static enum rf_rc parse_local(struct pol_spec *sp,
			      const struct rf_cfg_node *root,
			      struct rf_err *e)
{
	const struct rf_cfg_node *n, *local = NULL;
	struct pol_spec_local *l = &sp->local;
	int opt = 0;
	enum rf_rc rc;

	l->epochs = 1;
	l->batch = 32;
	l->lr = 0.01;
	l->optimizer = TRN_OPTIM_SGD;
	rc = rf_cfg_get_node(root, "local", RF_CFG_MAP, RF_CFG_OPTIONAL,
			     &local, e);
	if (rc || !local)
		return rc;
	if ((rc = rf_cfg_get_int(local, "epochs", 1, 1000, RF_CFG_OPTIONAL,
				 &l->epochs, e)) ||
	    (rc = rf_cfg_get_int(local, "batch", 1, 4096, RF_CFG_OPTIONAL,
				 &l->batch, e)) ||
	    (rc = rf_cfg_get_double(local, "lr", 0, 10, RF_CFG_OPTIONAL,
				    &l->lr, e)))
		return rc;
	n = rf_cfg_child(local, "lr");
	if (n && l->lr <= 0)
		return pol__bad(e, n, "'local.lr' must be a number in (0, 10], "
				"got '%s'", n->text);
	rc = rf_cfg_get_enum(local, "optimizer", optim_names, RF_CFG_OPTIONAL,
			     &opt, e);
	if (rc)
		return rc;
	if (rf_cfg_child(local, "optimizer"))
		l->optimizer = trn_optim_kind_from_name(optim_names[opt]);
	if ((rc = rf_cfg_get_double(local, "momentum", 0, 1, RF_CFG_OPTIONAL,
				    &l->momentum, e)))
		return rc;
	n = rf_cfg_child(local, "momentum");
	if (n && l->momentum >= 1)
		return pol__bad(e, n, "'local.momentum' must be a number in "
				"[0, 1), got '%s'", n->text);
	if ((rc = rf_cfg_get_double(local, "weight-decay", 0, 1,
				    RF_CFG_OPTIONAL, &l->weight_decay, e)) ||
	    (rc = rf_cfg_get_double(local, "prox-mu", 0, 100,
				    RF_CFG_OPTIONAL, &l->prox_mu, e)))
		return rc;
	return RF_OK;
}

static bool param_name_ok(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len > POL_SPEC_PARAM_NAME_MAX)
		return false;
	for (i = 0; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '-' ||
		      s[i] == '_'))
			return false;
	return true;
}

static enum rf_rc parse_params(struct pol_spec *sp,
			       const struct rf_cfg_node *params,
			       struct rf_err *e)
{
	struct pol_spec_param tmp;
	const struct rf_cfg_node *k, *v;
	enum rf_rc rc;
	size_t i, j;

	if (params->count > POL_SPEC_PARAMS_MAX)
		return pol__bad(e, params,
				"'strategy.params' has %zu entries, at most "
				"%d allowed",
				params->count, POL_SPEC_PARAMS_MAX);
	if (params->count == 0)
		return RF_OK;
	sp->params = rf_calloc(params->count, sizeof *sp->params);
	if (!sp->params)
		return rf_err_set(e, RF_ENOMEM, "out of memory for params");
	for (i = 0; i < params->count; i++) {
		k = params->keys[i];
		v = params->values[i];
		if (!param_name_ok(k->text, k->len))
			return pol__bad(e, k,
					"strategy parameter '%s' must be 1 "
					"to %d characters of a-z, 0-9, '-' "
					"and '_'",
					k->text, POL_SPEC_PARAM_NAME_MAX);
		rc = rf_cfg_get_double(params, k->text, -DBL_MAX, DBL_MAX,
				       RF_CFG_REQUIRED, &tmp.value, e);
		if (rc)
			return pol__bad(e, v,
					"'strategy.params.%s' must be a "
					"finite number, got %s%s%s",
					k->text, pol__shown(v) ? "" : "'",
					pol__shown(v) ? pol__shown(v)
						      : v->text,
					pol__shown(v) ? "" : "'");
		memcpy(tmp.name, k->text, k->len + 1);
		/* insertion sort by name: the canonical order */
		for (j = i; j > 0 && strcmp(sp->params[j - 1].name,
					    tmp.name) > 0; j--)
			sp->params[j] = sp->params[j - 1];
		sp->params[j] = tmp;
		sp->nparams = i + 1;
	}
	return RF_OK;
}

static enum rf_rc parse_strategy(struct pol_spec *sp,
				 const struct rf_cfg_node *root,
				 struct rf_err *e)
{
	const struct rf_cfg_node *n = rf_cfg_child(root, "strategy");
	const struct rf_cfg_node *params = NULL;
	int which = 0;
	enum rf_rc rc;

	sp->strategy = POL_STRATEGY_FEDAVG;
	if (!n)
		return RF_OK;
	if (n->kind == RF_CFG_MAP) {
		if ((rc = rf_cfg_check_keys(n, strategy_keys, e)) ||
		    (rc = rf_cfg_get_enum(n, "name", strategy_names,
					  RF_CFG_REQUIRED, &which, e)) ||
		    (rc = rf_cfg_get_node(n, "params", RF_CFG_MAP,
					  RF_CFG_OPTIONAL, &params, e)))
			return rc;
	} else {
		rc = rf_cfg_get_enum(root, "strategy", strategy_names,
				     RF_CFG_OPTIONAL, &which, e);
		if (rc)
			return rc;
	}
	sp->strategy = (enum pol_strategy)(which + 1);
	return params ? parse_params(sp, params, e) : RF_OK;
}

/* The input shape and K must suit the architecture. */
static enum rf_rc check_model(const struct pol_spec *sp,
			      const struct rf_cfg_node *root,
			      struct rf_err *e)
{
	const struct rf_cfg_node *mn = rf_cfg_child(root, "model");
	const struct rf_cfg_node *in = rf_cfg_child(root, "input");
	const struct trn_model_vtable *vt = trn_model_find(sp->model);
	struct trn_model_spec ms;
	struct rf_err why = { 0 };
	char known[256];
	size_t i, len = 0;

	if (!vt) {
		known[0] = '\0';
		for (i = 0; (vt = trn_model_at(i)) != NULL; i++) {
			int k = snprintf(known + len, sizeof known - len,
					 "%s%s", i ? ", " : "", vt->name);

			if (k < 0 || (size_t)k >= sizeof known - len)
				break;
			len += (size_t)k;
		}
		return pol__bad(e, mn, "unknown model '%s' (known: %s)",
				sp->model, known);
	}
	if (vt->abi_version != TRN_MODEL_ABI_VERSION)
		return pol__bad(e, mn, "model '%s' has abi version %u, this "
				"build knows %u", sp->model, vt->abi_version,
				TRN_MODEL_ABI_VERSION);
	if (!vt->check)
		return RF_OK;
	memset(&ms, 0, sizeof ms);
	ms.channels = sp->channels;
	ms.height = sp->height;
	ms.width = sp->width;
	ms.classes = (unsigned)sp->nlabels;
	if (vt->check(&ms, &why) == RF_OK)
		return RF_OK;
	return pol__bad(e, in, "input %ux%ux%u does not suit model '%s': %s",
			sp->channels, sp->height, sp->width, sp->model,
			rf_err_msg(&why));
}

static enum rf_rc parse_tree(struct pol_spec *sp,
			     const struct rf_cfg_node *root, struct rf_err *e)
{
	const struct rf_cfg_node *n;
	const char *s;
	enum rf_rc rc;

	rc = rf_cfg_check_keys(root, top_keys, e);
	if (rc)
		return rc;
	n = rf_cfg_child(root, "name");
	if ((rc = pol__check_text(n, "name", POL_SPEC_NAME_MAX, e)))
		return rc;
	memcpy(sp->name, n->text, n->len + 1);
	n = rf_cfg_child(root, "model");
	if ((rc = rf_cfg_get_str(root, "model", RF_CFG_REQUIRED, &s, e)))
		return rc;
	if (n->len == 0 || n->len > POL_SPEC_MODEL_MAX || strlen(s) != n->len)
		return pol__bad(e, n, "unknown model '%.64s'", s);
	memcpy(sp->model, s, n->len + 1);
	if ((rc = parse_input(sp, root, e)) ||
	    (rc = parse_labels(sp, root, e)) ||
	    (rc = check_model(sp, root, e)) ||
	    (rc = parse_local(sp, root, e)))
		return rc;
	sp->rounds = 10;
	sp->min_sites = 1;
	sp->max_wait_ms = 3600000;
	sp->val_fraction = 0.1;
	sp->seed = 0;
	if ((rc = rf_cfg_get_int(root, "rounds", 1, 1000, RF_CFG_OPTIONAL,
				 &sp->rounds, e)) ||
	    (rc = rf_cfg_get_int(root, "min-sites", 1, 10000,
				 RF_CFG_OPTIONAL, &sp->min_sites, e)) ||
	    (rc = rf_cfg_get_duration(root, "max-wait", 1000,
				      7 * 86400000LL, RF_CFG_OPTIONAL,
				      &sp->max_wait_ms, e)) ||
	    (rc = parse_strategy(sp, root, e)) ||
	    (rc = rf_cfg_get_double(root, "val-fraction", 0, 0.5,
				    RF_CFG_OPTIONAL, &sp->val_fraction, e)) ||
	    (rc = rf_cfg_get_int(root, "seed", 0, SEED_MAX, RF_CFG_OPTIONAL,
				 &sp->seed, e)))
		return rc;
	return RF_OK;
}

static enum rf_rc parse_cfg(struct pol_spec **out, struct rf_cfg *cfg,
			    struct rf_err *e)
{
	struct pol_spec *sp;
	enum rf_rc rc;

	sp = rf_calloc(1, sizeof *sp);
	if (!sp)
		return rf_err_set(e, RF_ENOMEM, "out of memory for a spec");
	rc = parse_tree(sp, rf_cfg_root(cfg), e);
	if (rc) {
		pol_spec_destroy(sp);
		return rc;
	}
	*out = sp;
	return RF_OK;
}

enum rf_rc pol_spec_parse(struct pol_spec **out, const char *name,
			  const char *text, size_t len, struct rf_err *e)
{
	struct rf_cfg *cfg = NULL;
	enum rf_rc rc;

	if (!out)
		return rf_err_set(e, RF_EINVAL, "no output for a round spec");
	*out = NULL;
	if (!text && len)
		return rf_err_set(e, RF_EINVAL, "no round spec text");
	rc = rf_cfg_load_string(&cfg, name, text ? text : "", len, NULL, e);
	if (!rc)
		rc = parse_cfg(out, cfg, e);
	rf_cfg_destroy(cfg);
	return rc;
}

enum rf_rc pol_spec_parse_file(struct pol_spec **out, const char *path,
			       struct rf_err *e)
{
	struct rf_cfg *cfg = NULL;
	enum rf_rc rc;

	if (!out)
		return rf_err_set(e, RF_EINVAL, "no output for a round spec");
	*out = NULL;
	if (!path)
		return rf_err_set(e, RF_EINVAL, "no round spec path");
	rc = rf_cfg_load_file(&cfg, path, NULL, e);
	if (!rc)
		rc = parse_cfg(out, cfg, e);
	rf_cfg_destroy(cfg);
	return rc;
}

void pol_spec_destroy(struct pol_spec *spec)
{
	size_t i;

	if (!spec)
		return;
	for (i = 0; spec->labels && i < spec->nlabels; i++)
		rf_free(spec->labels[i]);
	rf_free(spec->labels);
	rf_free(spec->params);
	rf_free(spec);
}

/* ---- canonical form ------------------------------------------------------ */

static enum rf_rc put_str(struct rf_buf *b, const char *s, struct rf_err *e)
{
	enum rf_rc rc = rf_buf_putc(b, '"', e);

	for (; !rc && *s; s++) {
		if (*s == '"' || *s == '\\')
			rc = rf_buf_putc(b, '\\', e);
		if (!rc)
			rc = rf_buf_putc(b, (unsigned char)*s, e);
	}
	return rc ? rc : rf_buf_putc(b, '"', e);
}

/* The shortest %.Ng that reads back as the same double; -0 as 0. */
static enum rf_rc put_num(struct rf_buf *b, double v, struct rf_err *e)
{
	char s[40];
	int p;

	if (v == 0)
		v = 0;
	for (p = 1; p <= 17; p++) {
		snprintf(s, sizeof s, "%.*g", p, v);
		if (strtod(s, NULL) == v)
			break;
	}
	return rf_buf_puts(b, s, e);
}

static enum rf_rc put_key(struct rf_buf *b, bool first, const char *k,
			  struct rf_err *e)
{
	return rf_buf_printf(b, e, "%s\"%s\": ", first ? "" : ", ", k);
}

static enum rf_rc put_canonical(const struct pol_spec *sp, struct rf_buf *b,
				struct rf_err *e)
{
	const struct pol_spec_local *l = &sp->local;
	enum rf_rc rc;
	size_t i;

	/* keys in byte order, at every level */
	rc = rf_buf_printf(b, e,
			   "{\"input\": {\"channels\": %u, \"height\": %u, "
			   "\"width\": %u}, \"labels\": [",
			   sp->channels, sp->height, sp->width);
	for (i = 0; !rc && i < sp->nlabels; i++) {
		if (i)
			rc = rf_buf_puts(b, ", ", e);
		if (!rc)
			rc = put_str(b, sp->labels[i], e);
	}
	if (rc || (rc = rf_buf_printf(b, e,
				      "], \"local\": {\"batch\": %" PRId64
				      ", \"epochs\": %" PRId64 ", ",
				      l->batch, l->epochs)) ||
	    (rc = put_key(b, true, "lr", e)) ||
	    (rc = put_num(b, l->lr, e)) ||
	    (rc = put_key(b, false, "momentum", e)) ||
	    (rc = put_num(b, l->momentum, e)) ||
	    (rc = rf_buf_printf(b, e, ", \"optimizer\": \"%s\"",
				trn_optim_kind_name(l->optimizer))) ||
	    (rc = put_key(b, false, "prox-mu", e)) ||
	    (rc = put_num(b, l->prox_mu, e)) ||
	    (rc = put_key(b, false, "weight-decay", e)) ||
	    (rc = put_num(b, l->weight_decay, e)) ||
	    (rc = rf_buf_printf(b, e,
				"}, \"max-wait\": \"%" PRId64 "ms\", "
				"\"min-sites\": %" PRId64 ", \"model\": ",
				sp->max_wait_ms, sp->min_sites)) ||
	    (rc = put_str(b, sp->model, e)) ||
	    (rc = put_key(b, false, "name", e)) ||
	    (rc = put_str(b, sp->name, e)) ||
	    (rc = rf_buf_printf(b, e,
				", \"rounds\": %" PRId64 ", \"seed\": %" PRId64
				", \"strategy\": {\"name\": \"%s\", "
				"\"params\": {",
				sp->rounds, sp->seed,
				pol_strategy_name(sp->strategy))))
		return rc;
	for (i = 0; i < sp->nparams; i++)
		if ((rc = put_key(b, i == 0, sp->params[i].name, e)) ||
		    (rc = put_num(b, sp->params[i].value, e)))
			return rc;
	if ((rc = rf_buf_puts(b, "}}, ", e)) ||
	    (rc = put_key(b, true, "val-fraction", e)) ||
	    (rc = put_num(b, sp->val_fraction, e)))
		return rc;
	return rf_buf_putc(b, '}', e);
}

enum rf_rc pol_spec_canonical(const struct pol_spec *spec, struct rf_buf *out,
			      struct rf_err *e)
{
	size_t len0;
	enum rf_rc rc;

	if (!spec || !out)
		return rf_err_set(e, RF_EINVAL, "no spec or buffer");
	len0 = out->len;
	rc = put_canonical(spec, out, e);
	if (rc)
		rf_buf_truncate(out, len0);
	return rc;
}

enum rf_rc pol_spec_hash(const struct pol_spec *spec,
			 uint8_t digest[RF_SHA256_LEN],
			 char hex[2 * RF_SHA256_LEN + 1], struct rf_err *e)
{
	struct rf_buf b = RF_BUF_INIT(POL_SPEC_CANONICAL_MAX);
	enum rf_rc rc;

	if (!digest)
		return rf_err_set(e, RF_EINVAL, "no digest for a spec hash");
	rc = pol_spec_canonical(spec, &b, e);
	if (!rc)
		rc = rf_sha256(b.data, b.len, digest, e);
	if (!rc && hex)
		rc = rf_hex_encode(digest, RF_SHA256_LEN, hex,
				   2 * RF_SHA256_LEN + 1, e);
	rf_buf_release(&b);
	return rc;
}
