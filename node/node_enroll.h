/*
 * node_enroll.h - enrolling an identity with the consortium: a hospital
 * site (its site folder) or a researcher or auditor (an identity folder).
 *
 * The folder after a successful enrollment:
 *   DIR/keys/tls.key        our P-256 key, mode 0600, generated here first;
 *                           it never leaves the folder
 *   DIR/keys/tls.pem        our certificate (CN = name, OU = role)
 *   DIR/keys/ca.pem         the consortium CA (its fingerprint was pinned)
 *   DIR/keys/audit.key      Ed25519, mode 0600, signs DIR/logs/audit.jsonl
 *   DIR/keys/aggregator.pub the aggregator's Ed25519 audit key (public),
 *                           from the response: verifies every round it
 *                           offers and its audit log; an enrollment
 *                           response without it is refused (RF_EPROTO)
 *   DIR/federation.yaml     the aggregator's address, server name, our name
 *                           and role, the CA and certificate fingerprints
 *   DIR/logs/audit.jsonl    "enroll.start", then "enroll" or
 *                           "enroll.failed"
 * An identity folder holds keys/, logs/ and federation.yaml only; a site
 * folder is made by node_site_init first.
 *
 * How the CA is pinned: the token holder knows only the CA's SHA-256
 * fingerprint. A first TLS connection, which verifies nothing, reads the
 * certificate chain the aggregator presents and keeps the certificate with
 * that fingerprint; nothing is sent on it. The Enroll call then runs over
 * gRPC with TLS verified against that CA alone and the server name checked.
 * The response's CA must be the pinned one and the certificate must chain
 * to it, carry our key and the invited name.
 *
 * Must not use: aggregator/ (node/ and aggregator/ never see each other).
 * Uses OpenSSL directly only to read the presented chain (the rf_rpc layer
 * verifies everything else).
 */
#ifndef NODE_ENROLL_H
#define NODE_ENROLL_H

#include <stdint.h>

#include "rf_err.h"
#include "rf_rpc.h"
#include "rf_x509.h"

#define NODE_ENROLL_TOKEN_LEN 64
/* Deadline of the Enroll call when none is given. */
#define NODE_ENROLL_DEADLINE_MS 30000

enum node_enroll_kind {
	NODE_ENROLL_SITE = 1, /* DIR is a site folder; role must be site */
	NODE_ENROLL_IDENTITY  /* DIR is created if missing; role researcher
			       * or auditor */
};

struct node_enroll_opts {
	const char *dir;
	enum node_enroll_kind kind;
	const char *name;           /* the invited name (certificate CN);
				     * NULL for a site: its site.yaml name */
	const char *aggregator;     /* "host:port" */
	const char *server_name;    /* NULL: the host of aggregator */
	const char *token;          /* 64 hex digits */
	const char *ca_fingerprint; /* 64 hex digits, ':' allowed */
	int64_t deadline_ms;        /* 0: NODE_ENROLL_DEADLINE_MS */
};

struct node_enroll_result {
	char name[RF_X509_NAME_MAX + 1];
	char role[RF_X509_NAME_MAX + 1];
	char fingerprint[RF_X509_FP_SIZE]; /* of our certificate */
	char ca_fingerprint[RF_X509_FP_SIZE];
	int64_t not_after;
};

/*
 * Enrolls dir as described above and fills *r.
 *
 * Failures: RF_EINVAL (bad options, token, fingerprint or name), RF_EEXIST
 * (dir already holds keys/tls.pem: an enrolled folder is never
 * overwritten), RF_ENOTFOUND (a site folder that does not exist), RF_EAUTH
 * (no presented certificate has the pinned fingerprint, the TLS handshake
 * fails, the aggregator refuses the token, or the certificate returned is
 * not the one asked for), RF_EIO (unreachable aggregator, files),
 * RF_ECRYPTO, RF_ENOMEM. After a failure the folder holds what it held
 * before, plus keys/tls.key (a fresh key nobody else has seen, replaced by
 * the next attempt), keys/audit.key and the audit events: never tls.pem,
 * ca.pem or federation.yaml. Thread safety: one enrollment per folder at
 * a time.
 */
enum rf_rc node_enroll(const struct node_enroll_opts *o,
		       struct node_enroll_result *r, struct rf_err *e) RF_WUR;

/* A client for the aggregator recorded in dir/federation.yaml, with the
 * folder's certificate, key and CA (mutual TLS). *out is NULL on failure
 * (RF_ENOTFOUND when dir is not enrolled, RF_ECONFIG, RF_EIO, RF_ECRYPTO,
 * RF_ENOMEM); free it with rf_rpc_client_destroy. */
enum rf_rc node_enroll_client(const char *dir, struct rf_rpc_client **out,
			      struct rf_err *e) RF_WUR;

/* The same, dialling target ("host:port") instead of the address in
 * federation.yaml (the server name and the pinned CA stay the folder's);
 * target NULL is node_enroll_client. */
enum rf_rc node_enroll_client_at(const char *dir, const char *target,
				 struct rf_rpc_client **out,
				 struct rf_err *e) RF_WUR;

#endif
