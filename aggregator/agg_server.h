/*
 * agg_server.h - the aggregator's RPC server: the one authorisation table
 * of every method (path, kind, who may call it, request limit, handler) in
 * agg_server.c, over the rf_rpc layer with mutual TLS.
 *
 * Who may call, checked on every call before the handler runs:
 *   1. Certificate (rf_rpc, on every call): when presented, it must chain
 *      to the consortium CA, be valid now and be for clientAuth; without
 *      one only methods marked anonymous are open (Enrollment.Enroll).
 *   2. Revocation (rf_rpc's hook, every call, not only at the handshake):
 *      the certificate's fingerprint must be in the registry, not revoked,
 *      not expired.
 *   3. Role: the certificate's OU must be one of the method's roles (rf_rpc)
 *      and equal the role and name the registry holds for that certificate
 *      (here, before the handler).
 * Every refusal, by rf_rpc (unknown method, no, foreign, expired, revoked
 * certificate, wrong role, request too big) or by step 3, is written to the
 * aggregator's audit log as rpc.refused {method, site, cert_sha256,
 * reason, suppressed}, site and cert_sha256 from the certificate presented
 * ("" without one), within a rate limit per certificate fingerprint (all
 * callers without one share a limit): AGG_REFUSE_BURST lines at once, then
 * one per AGG_REFUSE_EVERY_MS (agg_refuse.h). A refusal over the limit is
 * still refused, but only counted: the next line of its fingerprint says
 * how many in `suppressed`, and agg_server_destroy writes the counts still
 * pending, so that the sum of (1 + suppressed) over the lines is the
 * number of refused calls.
 * Methods today: /radfed.Enrollment/Enroll (anonymous) and
 * /radfed.Federation/Ping (site, researcher, auditor: an empty request and
 * response, to check that an identity works), the round methods of
 * Federation (site) and Control (researcher), served by the round engine
 * the server owns (agg_round.h).
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

/* The round engine the server runs (agg_round.h), created with it and
 * destroyed with it: for its log callback and the HDF5 lock. */
struct agg_rounds;
struct agg_rounds *agg_server_rounds(struct agg_server *s);

/* The authorisation table (static storage, never freed), its length in
 * *n: for tests and documentation that must cover every method. */
struct rf_rpc_method;
const struct rf_rpc_method *agg_server_methods(size_t *n);

/* Stops the server (in-flight calls are cancelled, workers joined), writes
 * one rpc.refused line for every fingerprint with refusals not yet in the
 * log, and frees it. Accepts NULL. Not from a handler. */
void agg_server_destroy(struct agg_server *s);

#endif
