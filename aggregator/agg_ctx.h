/*
 * agg_ctx.h - the aggregator folder and the state an aggregator process
 * works with: the consortium CA, the server certificate, the registry and
 * the audit log.
 *
 *   D/agg.yaml          name, default listen address, server name,
 *                       certificate lifetime (docs/federation.md)
 *   D/ca/ca.key         the consortium CA's P-256 key, mode 0600
 *   D/ca/ca.pem         the CA certificate (its fingerprint is what
 *                       invitations carry)
 *   D/tls/server.key    the server's P-256 key, mode 0600
 *   D/tls/server.pem    CN "radfed-aggregator", OU "aggregator", SAN DNS
 *                       the server name (rf_x509 issues one SAN: clients
 *                       dial any address and check this name)
 *   D/keys/audit.key    Ed25519, mode 0600: signs the audit checkpoints
 *   D/logs/audit.jsonl  the aggregator's audit log (rf_audit.h)
 *   D/registry.db       identities and invitations (agg_registry.h)
 *
 * The audit log is opened for each event and closed again (with a signed
 * checkpoint), under a mutex of the context, so that `radfed agg invite`
 * and `radfed agg revoke` can write to it while `radfed agg serve` runs: a
 * writer that finds the log locked by another process retries for up to
 * AGG_AUDIT_WAIT_MS.
 *
 * Must not use: node/ headers.
 */
#ifndef AGG_CTX_H
#define AGG_CTX_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "agg_registry.h"
#include "rf_crypto.h"
#include "rf_err.h"
#include "rf_x509.h"

/* The CN of the aggregator's server certificate. */
#define AGG_SERVER_CN "radfed-aggregator"
/* Listen address written to agg.yaml when none is given. */
#define AGG_LISTEN_DEFAULT "0.0.0.0:7443"
/* Lifetime of issued identity certificates when agg.yaml gives none. */
#define AGG_CERT_DAYS_DEFAULT 365
/* Lifetime of the CA and server certificates. */
#define AGG_CA_DAYS 3650
/* The server name when none is given. */
#define AGG_SERVER_NAME_DEFAULT "localhost"
/* How long an audit write waits for another process holding the log. */
#define AGG_AUDIT_WAIT_MS 5000

/* Seconds since 1970 UTC; tests replace the wall clock with their own. */
typedef int64_t (*agg_clock_fn)(void *ctx);

struct agg_init_opts {
	const char *name;   /* consortium name, the CA's CN is "<name> CA";
			     * NULL: "radfed" */
	const char *listen; /* NULL: AGG_LISTEN_DEFAULT */
	const char *server_name; /* the name clients check in the server
				  * certificate: letters, digits, '-', '.';
				  * NULL: AGG_SERVER_NAME_DEFAULT */
	int cert_days;      /* 0: AGG_CERT_DAYS_DEFAULT; at most 3650 */
};

/* An open aggregator folder. Fields are read-only after agg_ctx_open; the
 * context may be shared by threads (the registry and the audit writer
 * serialise themselves). */
struct agg_ctx {
	char *dir;
	char *name;
	char *listen;             /* from agg.yaml */
	char *server_name;        /* from agg.yaml */
	int64_t cert_seconds;     /* lifetime of issued certificates */
	struct agg_registry *reg;
	struct rf_x509 *ca;
	struct rf_key *ca_key;
	char *ca_pem;             /* D/ca/ca.pem as read */
	char ca_fp[RF_X509_FP_SIZE];
	char *server_chain_pem;   /* server.pem followed by ca.pem */
	char *server_key_pem;     /* zeroized on close */
	struct rf_key *audit_key;
	char *audit_path;
	pthread_mutex_t audit_lock;
	agg_clock_fn clock;       /* NULL: the wall clock */
	void *clock_ctx;
};

/* 1 when name can be an identity's name (the certificate CN): 1 to 64
 * characters of A-Z, a-z, 0-9, '.', '_', '@' and '-', starting with a
 * letter or a digit. */
int agg_name_valid(const char *name);

/*
 * Creates the aggregator folder dir: agg.yaml, a new CA, the server key and
 * certificate, the audit key, an empty registry and an audit log opening
 * with "agg.init". All or nothing: everything is made in a temporary folder
 * beside dir (dir.init-XXXXXX) and renamed into place, so a failure leaves
 * nothing behind. RF_EEXIST when dir exists and is not empty, RF_EINVAL for
 * bad options (name, server name, cert_days), RF_EIO, RF_ECRYPTO,
 * RF_ENOMEM.
 */
enum rf_rc agg_ctx_init(const char *dir, const struct agg_init_opts *o,
			struct rf_err *e) RF_WUR;

/* Opens the aggregator folder dir: reads agg.yaml, the CA and its key, the
 * server key and certificate, the audit key, and opens the registry. Key
 * files readable by others than their owner are refused (RF_EAUTH).
 * Failure: *out is NULL; RF_ENOTFOUND when dir is not an aggregator
 * folder, RF_ECONFIG, RF_EIO, RF_ECRYPTO, RF_ENOMEM. Free with
 * agg_ctx_close. */
enum rf_rc agg_ctx_open(const char *dir, struct agg_ctx **out,
			struct rf_err *e) RF_WUR;

/* Closes the registry, zeroizes and frees the keys. Accepts NULL. */
void agg_ctx_close(struct agg_ctx *c);

/* Now, by c's clock. Thread-safe. */
int64_t agg_ctx_now(const struct agg_ctx *c);

/* Appends one event to D/logs/audit.jsonl (data: a JSON object, see
 * rf_audit_append) and returns once it is on disk. Thread-safe. RF_EIO
 * when the log stays locked by another process for AGG_AUDIT_WAIT_MS,
 * or the errors of rf_audit_open and rf_audit_append. */
enum rf_rc agg_ctx_audit(struct agg_ctx *c, const char *event,
			 const char *data_json, struct rf_err *e) RF_WUR;

#endif
