/*
 * agg_server.h - the aggregator's RPC server: the one authorisation table
 * of every method (path, kind, who may call it, request limit, handler) in
 * agg_server.c, over the rf_rpc layer with mutual TLS.
 *
 * Who may call, checked on every call before the handler runs:
 *   1. TLS: a client certificate, when presented, must chain to the
 *      consortium CA; without one only methods marked anonymous are open
 *      (Enrollment.Enroll).
 *   2. Revocation (rf_rpc's hook, every call, not only at the handshake):
 *      the certificate's fingerprint must be in the registry, not revoked,
 *      not expired.
 *   3. Role: the certificate's OU must be one of the method's roles (rf_rpc)
 *      and equal the role and name the registry holds for that certificate
 *      (here, before the handler).
 * Methods today: /radfed.Enrollment/Enroll (anonymous) and
 * /radfed.Federation/Ping (site, researcher, auditor: an empty request and
 * response, to check that an identity works). The federation services are
 * added as rows of that table.
 *
 * Must not use: node/ headers, printing, signals (the caller waits for its
 * own signals and destroys the server).
 */
#ifndef AGG_SERVER_H
#define AGG_SERVER_H

#include "agg_ctx.h"
#include "rf_err.h"

#define AGG_PING_PATH "/radfed.Federation/Ping"
#define AGG_ENROLL_PATH "/radfed.Enrollment/Enroll"

struct agg_server;

/* Starts serving c (borrowed: it must outlive the server) on listen
 * ("host:port"; NULL: c->listen; port 0 picks a free one), with the
 * server certificate and the CA of c. Failure: *out NULL; the errors of
 * rf_rpc_server_create (RF_EIO when the address cannot be bound). */
enum rf_rc agg_server_create(struct agg_ctx *c, const char *listen,
			     struct agg_server **out, struct rf_err *e) RF_WUR;

/* The bound TCP port. */
int agg_server_port(const struct agg_server *s);

/* Stops the server (in-flight calls are cancelled, workers joined) and
 * frees it. Accepts NULL. Not from a handler. */
void agg_server_destroy(struct agg_server *s);

#endif
