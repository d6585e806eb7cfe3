/* node_fed_check.c - what a site checks and computes for a round: the
 * signed spec, the decision, the delta. */
#include "node_fed.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "rf_alloc.h"
#include "rf_file.h"
#include "trn.h"
#include "trn_ckpt.h"

#define RESEARCHER_MAX 64

int node_fed_round_valid(const char *round)
{
	size_t n = strlen(round);

	return n >= 1 && n <= NODE_FED_ROUND_MAX &&
	       strspn(round, "0123456789") == n;
}

static int printable(const char *s, size_t max)
{
	size_t n = strlen(s), i;

	if (n == 0 || n > max)
		return 0;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
			return 0;
	return 1;
}

enum rf_rc node_fed_signed_text(const char *round, const char *spec_sha256,
				const char *researcher, struct rf_buf *out,
				struct rf_err *e)
{
	return rf_buf_printf(out, e, "%s%s\n%s\n%s", NODE_FED_SIG_DOMAIN,
			     round, spec_sha256, researcher);
}

enum rf_rc node_fed_verify_claim(const struct rf_key *agg_key,
				 const struct node_fed_spec_claim *c,
				 struct rf_err *e)
{
	struct rf_buf msg = RF_BUF_INIT(4096);
	uint8_t md[RF_SHA256_LEN];
	char hex[2 * RF_SHA256_LEN + 1];
	enum rf_rc rc;

	if (!agg_key || !c || !c->round || !c->spec_sha256 || !c->researcher ||
	    (!c->spec_json && c->spec_len))
		return rf_err_set(e, RF_EINVAL, "incomplete round task");
	if (!node_fed_round_valid(c->round))
		return rf_err_set(e, RF_EINVAL,
				  "malformed round id '%.40s': want 1 to %d "
				  "decimal digits",
				  c->round, NODE_FED_ROUND_MAX);
	if (!printable(c->researcher, RESEARCHER_MAX))
		return rf_err_set(e, RF_EINVAL,
				  "round %s: malformed researcher name",
				  c->round);
	rc = rf_sha256(c->spec_json, c->spec_len, md, e);
	if (!rc)
		rc = rf_hex_encode(md, sizeof md, hex, sizeof hex, e);
	if (rc)
		return rc;
	if (strlen(c->spec_sha256) != 2 * RF_SHA256_LEN ||
	    !rf_ct_equal(hex, c->spec_sha256, 2 * RF_SHA256_LEN))
		return rf_err_set(e, RF_EINTEGRITY,
				  "round %s: the spec hashes to %s, not the "
				  "announced %.64s",
				  c->round, hex, c->spec_sha256);
	if (c->sig_len != RF_ED25519_SIG_LEN)
		return rf_err_set(e, RF_ECRYPTO,
				  "round %s: the spec signature has %zu "
				  "bytes, want %d",
				  c->round, c->sig_len, RF_ED25519_SIG_LEN);
	rc = node_fed_signed_text(c->round, c->spec_sha256, c->researcher,
				  &msg, e);
	if (!rc)
		rc = rf_ed25519_verify(agg_key, msg.data, msg.len, c->sig, e);
	if (rc == RF_ECRYPTO)
		rf_err_set(e, RF_ECRYPTO,
			   "round %s: the spec is not signed by the "
			   "aggregator's key (keys/aggregator.pub)",
			   c->round);
	rf_buf_release(&msg);
	return rc;
}

static void add_reason(struct node_fed_decision *d, const char *fmt, ...)
	RF_PRINTF(2, 3);

static void add_reason(struct node_fed_decision *d, const char *fmt, ...)
{
	va_list ap;

	if (d->nreasons >= NODE_FED_REASONS_MAX)
		return;
	va_start(ap, fmt);
	vsnprintf(d->reasons[d->nreasons], POL_REASON_MAX, fmt, ap);
	va_end(ap);
	d->nreasons++;
	d->accepted = false;
}

enum rf_rc node_fed_evaluate(const struct pol_policy *policy,
			     const struct pol_spec *spec,
			     const char *researcher,
			     const struct trn_data_info *data,
			     struct node_fed_decision *out,
			     struct rf_err *e)
{
	struct pol_decision pd;
	enum rf_rc rc;
	size_t i;

	if (!policy || !spec || !researcher || !out)
		return rf_err_set(e, RF_EINVAL, "nothing to evaluate");
	rc = pol_policy_evaluate(policy, spec, researcher, &pd, e);
	if (rc)
		return rc;
	memset(out, 0, sizeof *out);
	out->accepted = pd.accepted;
	memcpy(out->policy_sha256, pd.policy_hash, sizeof out->policy_sha256);
	for (i = 0; i < pd.nreasons && i < NODE_FED_REASONS_MAX; i++)
		memcpy(out->reasons[i], pd.reasons[i], POL_REASON_MAX);
	out->nreasons = i;
	if (!data) {
		add_reason(out, "the site has no dataset (radfed site ingest)");
		return RF_OK;
	}
	if (data->channels != spec->channels || data->height != spec->height ||
	    data->width != spec->width)
		add_reason(out,
			   "input %ux%ux%u differs from the site's images "
			   "%ux%ux%u",
			   spec->channels, spec->height, spec->width,
			   data->channels, data->height, data->width);
	if (spec->nlabels != data->classes)
		add_reason(out,
			   "%zu labels asked, the site's dataset has %u "
			   "classes",
			   spec->nlabels, data->classes);
	return RF_OK;
}

/* Float32 little-endian in place, whatever the host's byte order. */
static void to_le(float *v, size_t n)
{
	uint8_t b[4];
	uint32_t u;
	size_t i;

	for (i = 0; i < n; i++) {
		memcpy(&u, &v[i], 4);
		b[0] = (uint8_t)u;
		b[1] = (uint8_t)(u >> 8);
		b[2] = (uint8_t)(u >> 16);
		b[3] = (uint8_t)(u >> 24);
		memcpy(&v[i], b, 4);
	}
}

enum rf_rc node_fed_delta_file(const char *global, const char *local,
			       const char *out, uint64_t *bytes,
			       struct rf_err *e)
{
	struct trn_ckpt_meta meta;
	struct trn_model_spec ms;
	struct trn_net *net = NULL;
	struct trn_param *params;
	float *g = NULL, *l = NULL;
	size_t np = 0, count;
	enum rf_rc rc;

	rc = trn_ckpt_read_meta(global, &meta, e);
	if (rc)
		return rc;
	memset(&ms, 0, sizeof ms);
	ms.channels = meta.channels;
	ms.height = meta.height;
	ms.width = meta.width;
	ms.classes = meta.classes;
	rc = trn_model_build(meta.model, &ms, 1, TRN_LOSS_SOFTMAX_CE, NULL, 0,
			     &net, e);
	if (rc) {
		rf_err_prefix(e, "model '%s'", global);
		return rc;
	}
	params = trn_net_params(net, &np);
	count = trn_flat_count(params, np);
	g = rf_mallocarray(count, sizeof *g);
	l = rf_mallocarray(count, sizeof *l);
	if (!g || !l) {
		rc = rf_err_set(e, RF_ENOMEM, "out of memory for a delta");
		goto out;
	}
	rc = trn_ckpt_load(global, &meta, params, np, e);
	if (rc)
		goto out;
	trn_flat_get(params, np, g);
	rc = trn_ckpt_load(local, &meta, params, np, e);
	if (rc)
		goto out;
	trn_flat_get(params, np, l);
	trn_delta(l, g, l, count);
	to_le(l, count);
	rc = rf_file_write_atomic(out, l, count * sizeof *l, 0600, e);
	if (!rc && bytes)
		*bytes = (uint64_t)count * sizeof *l;
out:
	rf_free(g);
	rf_free(l);
	trn_net_destroy(net);
	return rc;
}
