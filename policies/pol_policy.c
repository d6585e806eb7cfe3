/* pol_policy.c - site policies: loading and evaluating round specs. */
#include "pol_policy.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "pol_int.h"
#include "rf_alloc.h"
#include "rf_buf.h"
#include "rf_config.h"
#include "rf_file.h"
#include "trn.h"

static const struct rf_cfg_key top_keys[] = {
	{ "accept", RF_CFG_REQUIRED, NULL },
	{ "researchers", RF_CFG_REQUIRED, NULL },
	{ "models", RF_CFG_OPTIONAL, NULL },
	{ "strategies", RF_CFG_OPTIONAL, NULL },
	{ "max-rounds", RF_CFG_OPTIONAL, NULL },
	{ "max-local-epochs", RF_CFG_OPTIONAL, NULL },
	{ "min-sites", RF_CFG_OPTIONAL, NULL },
	{ NULL, 0, NULL },
};

#define ALL_STRATEGIES (((1u << (POL_STRATEGY_COUNT + 1)) - 1) & ~1u)

/* The sequence at key, checked item by item; NULL *seq when absent. */
static enum rf_rc get_list(const struct rf_cfg_node *root, const char *key,
			   unsigned flags, const struct rf_cfg_node **seq,
			   struct rf_err *e)
{
	const struct rf_cfg_node *s = NULL;
	char path[48];
	enum rf_rc rc;
	size_t i;

	*seq = NULL;
	rc = rf_cfg_get_node(root, key, RF_CFG_SEQ, flags, &s, e);
	if (rc || !s)
		return rc;
	if (s->count > POL_POLICY_LIST_MAX)
		return pol__bad(e, s, "'%s' has %zu entries, at most %d "
				"allowed", key, s->count, POL_POLICY_LIST_MAX);
	for (i = 0; i < s->count; i++) {
		snprintf(path, sizeof path, "%s[%zu]", key, i);
		rc = pol__check_text(s->values[i], path, POL_POLICY_CN_MAX, e);
		if (rc)
			return rc;
	}
	*seq = s;
	return RF_OK;
}

/* Copies the items of seq other than "*" into a new array. */
static enum rf_rc copy_list(const struct rf_cfg_node *seq, char ***out,
			    size_t *n, bool *star, struct rf_err *e)
{
	size_t i;

	*star = false;
	*out = rf_calloc(seq->count ? seq->count : 1, sizeof **out);
	if (!*out)
		return rf_err_set(e, RF_ENOMEM, "out of memory for a policy");
	for (i = 0; i < seq->count; i++) {
		if (strcmp(seq->values[i]->text, "*") == 0) {
			*star = true;
			continue;
		}
		(*out)[*n] = rf_strdup(seq->values[i]->text);
		if (!(*out)[*n])
			return rf_err_set(e, RF_ENOMEM,
					  "out of memory for a policy");
		(*n)++;
	}
	return RF_OK;
}

static enum rf_rc parse_tree(struct pol_policy *p,
			     const struct rf_cfg_node *root, struct rf_err *e)
{
	const struct rf_cfg_node *res, *models, *strats, *v;
	bool star = false;
	enum rf_rc rc;
	enum pol_strategy s;
	size_t i;

	p->max_rounds = 1000;
	p->max_local_epochs = 1000;
	p->min_sites = 1;
	if ((rc = rf_cfg_check_keys(root, top_keys, e)) ||
	    (rc = rf_cfg_get_bool(root, "accept", RF_CFG_REQUIRED, &p->accept,
				  e)) ||
	    (rc = get_list(root, "researchers", RF_CFG_REQUIRED, &res, e)) ||
	    (rc = get_list(root, "models", RF_CFG_OPTIONAL, &models, e)) ||
	    (rc = get_list(root, "strategies", RF_CFG_OPTIONAL, &strats, e)))
		return rc;
	for (i = 0; models && i < models->count; i++) {
		v = models->values[i];
		if (strcmp(v->text, "*") != 0 && !trn_model_find(v->text))
			return pol__bad(e, v, "'models[%zu]': unknown model "
					"'%s'", i, v->text);
	}
	p->strategies = strats ? 0 : ALL_STRATEGIES;
	for (i = 0; strats && i < strats->count; i++) {
		v = strats->values[i];
		s = pol_strategy_from_name(v->text);
		if (!s)
			return pol__bad(e, v, "'strategies[%zu]' must be one "
					"of fedavg, fedavgm, fedadam, "
					"fedyogi, fedprox, got '%s'", i,
					v->text);
		p->strategies |= 1u << s;
	}
	if ((rc = rf_cfg_get_int(root, "max-rounds", 1, 1000,
				 RF_CFG_OPTIONAL, &p->max_rounds, e)) ||
	    (rc = rf_cfg_get_int(root, "max-local-epochs", 1, 1000,
				 RF_CFG_OPTIONAL, &p->max_local_epochs, e)) ||
	    (rc = rf_cfg_get_int(root, "min-sites", 1, 10000,
				 RF_CFG_OPTIONAL, &p->min_sites, e)))
		return rc;
	if ((rc = copy_list(res, &p->researchers, &p->nresearchers, &star,
			    e)))
		return rc;
	if (star) {
		/* "*" is kept as an entry: it matches at evaluation */
		p->researchers[p->nresearchers] = rf_strdup("*");
		if (!p->researchers[p->nresearchers])
			return rf_err_set(e, RF_ENOMEM,
					  "out of memory for a policy");
		p->nresearchers++;
	}
	p->any_model = true;
	if (models)
		rc = copy_list(models, &p->models, &p->nmodels,
			       &p->any_model, e);
	return rc;
}

enum rf_rc pol_policy_parse(struct pol_policy **out, const char *name,
			    const char *text, size_t len, struct rf_err *e)
{
	uint8_t digest[RF_SHA256_LEN];
	struct pol_policy *p = NULL;
	struct rf_cfg *cfg = NULL;
	enum rf_rc rc;

	if (!out)
		return rf_err_set(e, RF_EINVAL, "no output for a policy");
	*out = NULL;
	if (!text && len)
		return rf_err_set(e, RF_EINVAL, "no policy text");
	if (!text)
		text = "";
	rc = rf_cfg_load_string(&cfg, name, text, len, NULL, e);
	if (rc)
		goto out;
	p = rf_calloc(1, sizeof *p);
	if (!p) {
		rc = rf_err_set(e, RF_ENOMEM, "out of memory for a policy");
		goto out;
	}
	if ((rc = parse_tree(p, rf_cfg_root(cfg), e)) ||
	    (rc = rf_sha256(text, len, digest, e)) ||
	    (rc = rf_hex_encode(digest, sizeof digest, p->hash,
				sizeof p->hash, e)))
		goto out;
	*out = p;
	p = NULL;
out:
	pol_policy_destroy(p);
	rf_cfg_destroy(cfg);
	return rc;
}

enum rf_rc pol_policy_load(struct pol_policy **out, const char *path,
			   struct rf_err *e)
{
	struct rf_buf b = RF_BUF_INIT(RF_CFG_MAX_BYTES);
	enum rf_rc rc;

	if (!out)
		return rf_err_set(e, RF_EINVAL, "no output for a policy");
	*out = NULL;
	if (!path)
		return rf_err_set(e, RF_EINVAL, "no policy path");
	rc = rf_file_read(path, &b, e);
	if (rc == RF_ETOOBIG)
		rc = rf_err_set(e, RF_ETOOBIG, "policy '%s' is larger than "
				"%zu bytes", path, (size_t)RF_CFG_MAX_BYTES);
	if (!rc)
		rc = pol_policy_parse(out, path, (const char *)b.data, b.len,
				      e);
	rf_buf_release(&b);
	return rc;
}

static void free_list(char **v, size_t n)
{
	size_t i;

	for (i = 0; v && i < n; i++)
		rf_free(v[i]);
	rf_free(v);
}

void pol_policy_destroy(struct pol_policy *policy)
{
	if (!policy)
		return;
	free_list(policy->researchers, policy->nresearchers);
	free_list(policy->models, policy->nmodels);
	rf_free(policy);
}

const char *pol_policy_hash(const struct pol_policy *policy)
{
	return policy ? policy->hash : "";
}

static bool in_list(char *const *v, size_t n, const char *s, bool star)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(v[i], s) == 0 || (star && strcmp(v[i], "*") == 0))
			return true;
	return false;
}

/* The allowed strategies as "fedavg, fedprox" (or "none"). */
static void strategy_list(unsigned bits, char *buf, size_t size)
{
	size_t len = 0;
	int s, k;

	buf[0] = '\0';
	for (s = POL_STRATEGY_FEDAVG; s <= POL_STRATEGY_COUNT; s++) {
		if (!(bits & (1u << s)))
			continue;
		k = snprintf(buf + len, size - len, "%s%s", len ? ", " : "",
			     pol_strategy_name((enum pol_strategy)s));
		if (k < 0 || (size_t)k >= size - len)
			return;
		len += (size_t)k;
	}
	if (!len)
		snprintf(buf, size, "none");
}

static void decline(struct pol_decision *d, enum pol_rule rule,
		    const char *fmt, ...) RF_PRINTF(3, 4);

static void decline(struct pol_decision *d, enum pol_rule rule,
		    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(d->reasons[d->nreasons], POL_REASON_MAX, fmt, ap);
	va_end(ap);
	d->nreasons++;
	d->failed |= rule;
	d->accepted = false;
}

enum rf_rc pol_policy_evaluate(const struct pol_policy *policy,
			       const struct pol_spec *spec,
			       const char *researcher_cn,
			       struct pol_decision *out, struct rf_err *e)
{
	struct pol_decision *d = out;
	char allowed[80];

	if (!policy || !spec || !researcher_cn || !out)
		return rf_err_set(e, RF_EINVAL,
				  "no policy, spec, researcher or decision");
	memset(d, 0, sizeof *d);
	d->accepted = true;
	memcpy(d->policy_hash, policy->hash, sizeof d->policy_hash);
	if (!policy->accept)
		decline(d, POL_RULE_ACCEPT,
			"the site accepts no rounds (accept: false)");
	if (researcher_cn[0] == '\0' ||
	    !in_list(policy->researchers, policy->nresearchers, researcher_cn,
		     true))
		decline(d, POL_RULE_RESEARCHER,
			"researcher '%.64s' is not in the allow-list",
			researcher_cn);
	if (!policy->any_model &&
	    !in_list(policy->models, policy->nmodels, spec->model, false))
		decline(d, POL_RULE_MODEL, "model '%s' is not allowed",
			spec->model);
	if (!(policy->strategies & (1u << spec->strategy))) {
		strategy_list(policy->strategies, allowed, sizeof allowed);
		decline(d, POL_RULE_STRATEGY,
			"strategy '%s' is not allowed (allowed: %s)",
			pol_strategy_name(spec->strategy), allowed);
	}
	if (spec->rounds > policy->max_rounds)
		decline(d, POL_RULE_ROUNDS,
			"%" PRId64 " rounds exceed the site's maximum of "
			"%" PRId64, spec->rounds, policy->max_rounds);
	if (spec->local.epochs > policy->max_local_epochs)
		decline(d, POL_RULE_EPOCHS,
			"%" PRId64 " local epochs exceed the site's maximum "
			"of %" PRId64, spec->local.epochs,
			policy->max_local_epochs);
	if (spec->min_sites < policy->min_sites)
		decline(d, POL_RULE_MIN_SITES,
			"min-sites %" PRId64 " is below the site's floor of "
			"%" PRId64, spec->min_sites, policy->min_sites);
	return RF_OK;
}
