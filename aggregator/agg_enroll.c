/* agg_enroll.c - invitations, the Enroll call, revocation. */
#include "agg_enroll.h"

#include <stdio.h>
#include <string.h>

#include "radfed.pb-c.h"
#include "rf_alloc.h"
#include "rf_audit_events.h"
#include "rf_crypto.h"
#include "rf_log.h"
#include "rf_pb.h"
#include "rf_x509.h"

#define DATA_MAX 1024

/* Appends "key":"value" (escaped) to b, with a leading comma unless b holds
 * only "{". */
static enum rf_rc put_str(struct rf_buf *b, const char *key, const char *val,
			  struct rf_err *e)
{
	enum rf_rc rc = rf_buf_printf(b, e, "%s\"%s\":", b->len > 1 ? "," : "",
				      key);

	return rc ? rc : rf_json_quote(b, val, strlen(val), e);
}

enum rf_rc agg_invite(struct agg_ctx *c, const char *name, enum agg_role role,
		      int64_t ttl, char token[AGG_TOKEN_SIZE], int64_t *expires,
		      struct rf_err *e)
{
	struct rf_buf d = RF_BUF_INIT(DATA_MAX);
	struct agg_identity id;
	struct rf_err e2 = { 0 };
	uint8_t md[RF_SHA256_LEN];
	char hex[2 * RF_SHA256_LEN + 1];
	int64_t now = agg_ctx_now(c);
	enum rf_rc rc;

	memset(token, 0, AGG_TOKEN_SIZE);
	if (!agg_name_valid(name))
		return rf_err_set(e, RF_EINVAL,
				  "name '%.80s' must be 1 to 64 characters of "
				  "A-Z, a-z, 0-9, '.', '_', '@' and '-', "
				  "starting with a letter or a digit",
				  name);
	if (role != AGG_ROLE_SITE && role != AGG_ROLE_RESEARCHER &&
	    role != AGG_ROLE_AUDITOR)
		return rf_err_set(e, RF_EINVAL,
				  "role must be site, researcher or auditor");
	if (ttl < AGG_INVITE_TTL_MIN || ttl > AGG_INVITE_TTL_MAX)
		return rf_err_set(e, RF_EINVAL,
				  "invitation lifetime %lld s is not in %d..%d",
				  (long long)ttl, AGG_INVITE_TTL_MIN,
				  AGG_INVITE_TTL_MAX);
	rc = agg_registry_identity_find_by_name(c->reg, name, &id, &e2);
	if (rc == RF_OK && !id.revoked_at && id.role != role)
		return rf_err_set(e, RF_EEXIST,
				  "'%s' is enrolled as a %s: revoke it first",
				  name, agg_role_name(id.role));
	if (rc != RF_OK && rc != RF_ENOTFOUND) {
		*e = e2;
		return rc;
	}
	rc = agg_registry_invite(c->reg, name, role, ttl, now, token, e);
	if (rc)
		return rc;
	rc = rf_sha256(token, AGG_TOKEN_SIZE - 1, md, e);
	if (!rc)
		rc = rf_hex_encode(md, sizeof md, hex, sizeof hex, e);
	if (!rc)
		rc = rf_buf_putc(&d, '{', e);
	if (!rc)
		rc = put_str(&d, RF_AUDIT_KEY_SITE, name, e);
	if (!rc)
		rc = put_str(&d, RF_AUDIT_KEY_ROLE, agg_role_name(role), e);
	if (!rc)
		rc = put_str(&d, RF_AUDIT_KEY_TOKEN_SHA256, hex, e);
	if (!rc)
		rc = rf_buf_printf(&d, e, ",\"expires\":%lld}",
				   (long long)(now + ttl));
	if (!rc)
		rc = agg_ctx_audit(c, RF_AUDIT_EV_INVITE, rf_buf_str(&d), e);
	if (rc)
		/* the token is never handed out: the invitation stays unused
		 * and expires */
		rf_zeroize(token, AGG_TOKEN_SIZE);
	else if (expires)
		*expires = now + ttl;
	rf_buf_release(&d);
	return rc;
}

struct fps {
	const char *name;
	char (*fp)[RF_X509_FP_SIZE];
	size_t n, cap;
};

static enum rf_rc collect_active(const struct agg_identity *id,
				 const char *cert_pem, void *p,
				 struct rf_err *e)
{
	struct fps *f = p;
	void *q;

	(void)cert_pem;
	if (strcmp(id->name, f->name) != 0 || id->revoked_at)
		return RF_OK;
	if (f->n == f->cap) {
		size_t cap = f->cap ? 2 * f->cap : 4;

		q = rf_realloc(f->fp, cap * sizeof *f->fp);
		if (!q)
			return rf_err_set(e, RF_ENOMEM, "out of memory");
		f->fp = q;
		f->cap = cap;
	}
	memcpy(f->fp[f->n++], id->fingerprint, RF_X509_FP_SIZE);
	return RF_OK;
}

enum rf_rc agg_revoke(struct agg_ctx *c, const char *name,
		      const char *reason, int *count, struct rf_err *e)
{
	struct rf_buf d = RF_BUF_INIT(DATA_MAX);
	struct fps f = { name, NULL, 0, 0 };
	int n = 0;
	size_t i;
	enum rf_rc rc;

	if (count)
		*count = 0;
	/* the certificates this call revokes, for the log */
	rc = agg_registry_identity_list(c->reg, collect_active, &f, e);
	if (!rc)
		rc = agg_registry_revoke(c->reg, name, agg_ctx_now(c), &n, e);
	for (i = 0; !rc && i < f.n; i++) {
		rf_buf_reset(&d);
		rc = rf_buf_putc(&d, '{', e);
		if (!rc)
			rc = put_str(&d, RF_AUDIT_KEY_SITE, name, e);
		if (!rc)
			rc = put_str(&d, RF_AUDIT_KEY_CERT_SHA256, f.fp[i], e);
		if (!rc)
			rc = put_str(&d, RF_AUDIT_KEY_REASON,
				     reason ? reason : "", e);
		if (!rc)
			rc = rf_buf_putc(&d, '}', e);
		if (!rc)
			rc = agg_ctx_audit(c, RF_AUDIT_EV_REVOKE,
					   rf_buf_str(&d), e);
	}
	if (!rc && count)
		*count = n;
	rf_free(f.fp);
	rf_buf_release(&d);
	return rc;
}

/* Audits a refusal (best effort: the refusal stands whatever happens to
 * its record) and returns the refusal's code with its message. */
static enum rf_rc refuse(struct agg_ctx *c, const char *name,
			 struct rf_err *e)
{
	struct rf_buf d = RF_BUF_INIT(DATA_MAX);
	struct rf_err e2 = { 0 };
	enum rf_rc rc = e->rc;
	const char *msg = rf_err_msg(e);

	if (rf_buf_putc(&d, '{', &e2) == RF_OK &&
	    put_str(&d, RF_AUDIT_KEY_REASON, msg, &e2) == RF_OK &&
	    put_str(&d, "code", rf_rc_name(rc), &e2) == RF_OK &&
	    (!name || !name[0] ||
	     put_str(&d, RF_AUDIT_KEY_SITE, name, &e2) == RF_OK) &&
	    rf_buf_putc(&d, '}', &e2) == RF_OK)
		(void)!agg_ctx_audit(c, "enroll.refused", rf_buf_str(&d), &e2);
	rf_buf_release(&d);
	return rc;
}

/* The checks before the token is spent. */
static enum rf_rc read_request(const uint8_t *req, size_t n,
			       Radfed__EnrollRequest **out,
			       struct rf_x509_req **csr, char *cn,
			       struct rf_err *e)
{
	ProtobufCMessage *m = NULL;
	Radfed__EnrollRequest *r;
	enum rf_rc rc;

	*out = NULL;
	*csr = NULL;
	rc = rf_pb_unpack(&radfed__enroll_request__descriptor, req, n,
			  AGG_ENROLL_REQUEST_MAX, &m, e);
	if (rc)
		return rc;
	r = (Radfed__EnrollRequest *)m;
	*out = r;
	if (!r->token || strlen(r->token) != AGG_TOKEN_SIZE - 1)
		return rf_err_set(e, RF_EAUTH, "unknown invitation token");
	if (!r->csr_pem.len)
		return rf_err_set(e, RF_EINVAL, "the request holds no CSR");
	rc = rf_x509_req_parse_pem((const char *)r->csr_pem.data,
				   r->csr_pem.len, csr, e);
	if (rc) {
		char why[RF_ERR_MSG_MAX];

		snprintf(why, sizeof why, "%s", rf_err_msg(e));
		return rf_err_set(e, RF_EINVAL, "%s%s",
				  strstr(why, "CSR") ? "" : "malformed CSR: ",
				  why);
	}
	rc = rf_x509_req_cn(*csr, cn, RF_X509_NAME_MAX + 1, e);
	if (rc || !agg_name_valid(cn))
		return rf_err_set(e, RF_EINVAL,
				  "the CSR has no valid subject CN");
	return RF_OK;
}

/* The response, with the raw Ed25519 public key of D/keys/audit.key that
 * signs the round offers (the node pins it at enrollment). */
static enum rf_rc respond(struct agg_ctx *c, struct rf_buf *resp,
			  const char *cert_pem, const char *name,
			  const char *role, struct rf_err *e)
{
	Radfed__EnrollResponse r = RADFED__ENROLL_RESPONSE__INIT;
	uint8_t key[RF_ED25519_LEN];
	enum rf_rc rc;

	rc = rf_key_raw_public(c->audit_key, key, sizeof key, e);
	if (rc)
		return rc;
	r.aggregator_key.data = key;
	r.aggregator_key.len = sizeof key;
	r.certificate_pem.data = (uint8_t *)cert_pem;
	r.certificate_pem.len = strlen(cert_pem);
	r.ca_pem.data = (uint8_t *)c->ca_pem;
	r.ca_pem.len = strlen(c->ca_pem);
	r.name = (char *)name;
	r.role = (char *)role;
	return rf_pb_pack(&r.base, resp, e);
}

enum rf_rc agg_enroll(struct agg_ctx *c, const uint8_t *req, size_t n,
		      struct rf_buf *resp, struct rf_err *e)
{
	Radfed__EnrollRequest *r = NULL;
	struct rf_x509_req *csr = NULL;
	struct rf_x509 *cert = NULL;
	struct rf_key *pub = NULL;
	struct rf_buf pem = RF_BUF_INIT(RF_X509_PEM_MAX);
	struct rf_buf d = RF_BUF_INIT(DATA_MAX);
	char cn[RF_X509_NAME_MAX + 1] = "", name[AGG_NAME_MAX + 1] = "";
	char fp[RF_X509_FP_SIZE];
	enum agg_role role;
	int64_t now = agg_ctx_now(c), not_after = 0;
	struct rf_x509_issue_params ip;
	enum rf_rc rc;

	if (n > AGG_ENROLL_REQUEST_MAX) {
		rf_err_set(e, RF_ETOOBIG,
			   "enroll request of %zu bytes is over %d", n,
			   AGG_ENROLL_REQUEST_MAX);
		return refuse(c, NULL, e);
	}
	rc = read_request(req, n, &r, &csr, cn, e);
	if (rc)
		goto refused;
	rc = agg_registry_redeem(c->reg, r->token, now, name, &role, e);
	if (rc)
		goto refused;
	if (strcmp(cn, name) != 0) {
		rc = rf_err_set(e, RF_EAUTH,
				"the CSR is for '%s' but the invitation for "
				"'%s'",
				cn, name);
		goto refused;
	}
	memset(&ip, 0, sizeof ip);
	ip.cn = name;
	ip.role = agg_role_name(role);
	ip.usage = RF_X509_CLIENT;
	ip.not_before = now - 60;
	ip.not_after = now + c->cert_seconds;
	rc = rf_x509_issue(c->ca, c->ca_key, csr, &ip, &cert, e);
	if (rc == RF_EUNSUPPORTED)
		rc = rf_err_set(e, RF_EINVAL, "the CSR's key is not P-256");
	if (rc)
		goto refused;
	rc = rf_x509_public_key(cert, &pub, e);
	if (!rc && rf_key_type(pub) != RF_KEY_P256)
		rc = rf_err_set(e, RF_EINVAL, "the CSR's key is not P-256");
	if (rc)
		goto refused;
	rc = rf_x509_pem(cert, &pem, e);
	if (!rc)
		rc = rf_buf_putc(&pem, '\0', e);
	if (!rc)
		rc = rf_x509_fingerprint(cert, fp, e);
	if (!rc)
		rc = rf_x509_not_after(cert, &not_after, e);
	if (!rc)
		rc = agg_registry_identity_add(c->reg, name, role,
					       (const char *)pem.data, now,
					       NULL, e);
	if (!rc)
		rc = rf_buf_putc(&d, '{', e);
	if (!rc)
		rc = put_str(&d, RF_AUDIT_KEY_SITE, name, e);
	if (!rc)
		rc = put_str(&d, RF_AUDIT_KEY_ROLE, agg_role_name(role), e);
	if (!rc)
		rc = put_str(&d, RF_AUDIT_KEY_CERT_SHA256, fp, e);
	if (!rc)
		rc = rf_buf_printf(&d, e, ",\"not_after\":%lld}",
				   (long long)not_after);
	if (!rc)
		rc = agg_ctx_audit(c, RF_AUDIT_EV_ENROLL, rf_buf_str(&d), e);
	if (!rc)
		rc = respond(c, resp, (const char *)pem.data, name,
			     agg_role_name(role), e);
	goto out;
refused:
	rc = refuse(c, name, e);
out:
	rf_key_destroy(pub);
	rf_x509_destroy(cert);
	rf_x509_req_destroy(csr);
	rf_pb_free(r ? &r->base : NULL);
	rf_buf_release(&pem);
	rf_buf_release(&d);
	return rc;
}
