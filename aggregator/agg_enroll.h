/*
 * agg_enroll.h - consortium identities on the aggregator's side: one-time
 * invitations, the Enroll call that turns an invitation and a certificate
 * signing request into a certificate, and revocation.
 *
 * Every decision is written to the aggregator's audit log before it takes
 * effect for the caller, with the names of rf_audit_events.h: "invite"
 * {site, role, token_sha256, expires} (never the token itself), "enroll"
 * {site, role, cert_sha256, not_after}, "enroll.refused" {reason, code,
 * and site when the token was valid}, "revoke" {site, cert_sha256,
 * reason}, one per certificate. `site` is the identity's name, whatever
 * its role.
 *
 * Must not use: node/ headers, printing.
 */
#ifndef AGG_ENROLL_H
#define AGG_ENROLL_H

#include <stddef.h>
#include <stdint.h>

#include "agg_ctx.h"
#include "agg_registry.h"
#include "rf_buf.h"
#include "rf_err.h"

/* The largest EnrollRequest accepted (a P-256 CSR is under 1 KiB). */
#define AGG_ENROLL_REQUEST_MAX (16 * 1024)
/* The largest EnrollResponse (two certificates). */
#define AGG_ENROLL_RESPONSE_MAX (64 * 1024)
/* Invitation lifetime bounds, seconds. */
#define AGG_INVITE_TTL_MIN 1
#define AGG_INVITE_TTL_MAX (30 * 86400)

/*
 * Creates a one-time invitation for name (agg_name_valid) with role (site,
 * researcher or auditor) valid for ttl seconds (AGG_INVITE_TTL_MIN ..
 * AGG_INVITE_TTL_MAX) from now, and audits it. token receives the token
 * (64 hex digits; the registry keeps only its hash): the caller hands it
 * over and zeroizes it. *expires (optional) receives the expiry.
 * RF_EINVAL for a bad name, role or ttl; RF_EEXIST when name holds a
 * certificate that is not revoked with another role (one name, one role;
 * inviting a name again with its own role renews it). token is zeroed on
 * failure. Thread-safe.
 */
enum rf_rc agg_invite(struct agg_ctx *c, const char *name, enum agg_role role,
		      int64_t ttl, char token[AGG_TOKEN_SIZE], int64_t *expires,
		      struct rf_err *e) RF_WUR;

/*
 * Revokes every certificate of name (agg_registry_revoke) and audits one
 * "revoke" event per certificate newly revoked, with reason (NULL: "");
 * from then on the RPC layer refuses every call made with them. *count
 * (optional) receives how many were newly revoked. RF_ENOTFOUND when name
 * has no certificate. Thread-safe.
 */
enum rf_rc agg_revoke(struct agg_ctx *c, const char *name, const char *reason,
		      int *count, struct rf_err *e) RF_WUR;

/*
 * Serves one Enroll call: req is an encoded radfed.EnrollRequest of n bytes
 * (untrusted). Checks, in order: size (RF_ETOOBIG), encoding (RF_EPROTO),
 * the CSR parses and has a valid CN (RF_EINVAL), the token redeems
 * (RF_EAUTH: unknown, expired, already used), the CN equals the invited
 * name (RF_EAUTH), the CSR's signature (RF_EAUTH) and key type, P-256 only
 * (RF_EINVAL). Then issues the certificate (OU = role, clientAuth, valid
 * for the folder's certificate lifetime), records the identity, audits
 * "enroll", and appends an encoded radfed.EnrollResponse to resp.
 *
 * A refusal is audited as "enroll.refused" with its reason and returned
 * with a message for the caller. A token is spent once it redeems, even if
 * a later check refuses the request: the operator invites again.
 * Thread-safe (handlers of one server run concurrently).
 */
enum rf_rc agg_enroll(struct agg_ctx *c, const uint8_t *req, size_t n,
		      struct rf_buf *resp, struct rf_err *e) RF_WUR;

#endif
