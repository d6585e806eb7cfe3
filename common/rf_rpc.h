/*
 * rf_rpc.h - the RPC layer between nodes and the aggregator: gRPC (core C
 * API) over TLS with mutual certificates, carrying opaque byte strings.
 *
 * The server listens and requests a client certificate in the TLS
 * handshake. Each call is checked before its handler runs:
 *   unknown method                          -> UNIMPLEMENTED
 *   client certificate that does not chain
 *   to the CA, is expired or not yet valid,
 *   or is not for clientAuth                -> UNAUTHENTICATED
 *   no client certificate, method not open  -> PERMISSION_DENIED
 *   revoked certificate (caller's hook)     -> UNAUTHENTICATED
 *   role (certificate OU) not in the method -> PERMISSION_DENIED
 *   request message over the method's limit -> RESOURCE_EXHAUSTED
 * and every such refusal is reported to the server's refused hook (the
 * aggregator audits them). A pool of worker threads serves calls
 * synchronously, one call per worker at a time; a handler may block (long
 * poll) until the call's deadline.
 *
 * Why the certificate is verified per call and not in the handshake: with
 * GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY, gRPC ends a handshake
 * with a foreign or expired certificate before radfed sees it, and nothing
 * could be audited. The server therefore asks for the certificate without
 * verifying it there (..._BUT_DONT_VERIFY) and verifies it with OpenSSL on
 * every call, against the CA, at the current time, for the clientAuth
 * purpose, before the method table is consulted. Authentication is as
 * strong: the handshake still proves that the peer holds the private key
 * of the certificate it presented (TLS CertificateVerify signs the
 * handshake transcript, whatever the verification mode), so a caller
 * cannot present someone else's certificate; and a certificate that fails
 * the checks never reaches a handler. Checking on every call rather than
 * once per connection also ends a long-lived connection's access the
 * moment its certificate expires. A certificate that fails is refused
 * even on a method open to anonymous callers: whoever presents one is
 * judged by it.
 *
 * The client dials one target over one gRPC channel and maps the call's
 * status back to an enum rf_rc, with the server's message in the rf_err:
 *   OK -> RF_OK; PERMISSION_DENIED, UNAUTHENTICATED -> RF_EAUTH;
 *   RESOURCE_EXHAUSTED -> RF_ETOOBIG; DEADLINE_EXCEEDED -> RF_ETIMEDOUT;
 *   UNIMPLEMENTED -> RF_EUNSUPPORTED; INVALID_ARGUMENT -> RF_EINVAL;
 *   NOT_FOUND -> RF_ENOTFOUND; ALREADY_EXISTS -> RF_EEXIST;
 *   FAILED_PRECONDITION -> RF_EPOLICY; DATA_LOSS -> RF_EINTEGRITY;
 *   UNAVAILABLE and anything else -> RF_EIO.
 * A handler's enum rf_rc travels the other way (the same table read right
 * to left; RF_EPROTO -> INVALID_ARGUMENT, the rest -> INTERNAL).
 * A TLS handshake that fails (server certificate of an unknown CA,
 * expired or not yet valid, server name mismatch) is RF_EAUTH with the
 * reason; a client certificate the server refuses is RF_EAUTH with the
 * server's reason (the call's status); an unreachable server is RF_EIO.
 *
 * Messages are opaque: packing them (protobuf-c, rf_pb.h) is the caller's
 * job. One message is at most RF_RPC_MSG_MAX bytes on the wire; larger
 * payloads travel as streams of chunks of at most RF_RPC_CHUNK bytes
 * (rf_rpc_call_send_chunked, rf_rpc_call_read_all, rf_rpc_client_upload,
 * rf_rpc_client_download), reassembled into a capped rf_buf.
 *
 * gRPC is initialised by the first server or client created and shut down
 * with the last one destroyed (grpc_init/grpc_shutdown are reference
 * counted).
 *
 * Keepalive: a node may stay quiet for a long time between calls (a
 * training takes hours), and firewalls and NAT drop idle TCP connections.
 * The client pings the server every RF_RPC_KEEPALIVE_MS, with or without a
 * call in flight, and drops the connection when an answer takes longer
 * than RF_RPC_KEEPALIVE_TIMEOUT_MS; the server accepts such pings (one
 * every RF_RPC_KEEPALIVE_MS / 2 at most, without data) instead of closing
 * the connection for "too many pings", and pings idle clients itself every
 * 2 * RF_RPC_KEEPALIVE_MS.
 *
 * Flow control and memory: each side announces a fixed receive window of
 * RF_RPC_WINDOW bytes per stream (gRPC's BDP probing is off: on a fast
 * link it grows the window, and with it what gRPC buffers for a stream
 * whose reader is slower, to tens of megabytes). A stream of chunks then
 * holds at most about RF_RPC_WINDOW bytes in gRPC plus one message in
 * radfed on each side, whatever the payload's size; 4 MiB in flight is
 * enough to keep a loopback or LAN link busy.
 *
 * TLS versions are gRPC's (1.2 and 1.3; two radfed ends negotiate 1.3):
 * the core API of gRPC 1.51 offers no way to refuse 1.2. gRPC itself logs
 * handshake failures to stderr through its own process-wide log function
 * (gpr_set_log_function), which only main() may replace.
 *
 * Must not use: gRPC's C++ API, OpenSSL beyond the PEM checks, the per-call
 * certificate checks and the diagnostic handshake (rf_rpc_probe.c), any
 * allocator but rf_alloc for
 * radfed's memory (gRPC and OpenSSL keep their own), printing, exiting,
 * global state.
 */
#ifndef RF_RPC_H
#define RF_RPC_H

#include <stddef.h>
#include <stdint.h>

#include "rf_buf.h"
#include "rf_err.h"
#include "rf_x509.h"

/* The largest single message either side accepts. */
#define RF_RPC_MSG_MAX (4u << 20)
/* The chunk size of the chunked transfers. */
#define RF_RPC_CHUNK (1u << 20)
/* Worker threads of a server when none is given. */
#define RF_RPC_WORKERS_DEFAULT 8
/* Longest method path accepted in a method table. */
#define RF_RPC_PATH_MAX 128
/* The HTTP/2 receive window of each stream, both sides. */
#define RF_RPC_WINDOW (4 << 20)
/* Keepalive pings of the client, and how long an answer may take. */
#define RF_RPC_KEEPALIVE_MS 20000
#define RF_RPC_KEEPALIVE_TIMEOUT_MS 10000

/* ======================================================================
 * Server
 * ====================================================================== */

enum rf_rpc_kind {
	RF_RPC_UNARY = 1,     /* one request, one response */
	RF_RPC_SERVER_STREAM, /* one request, a stream of responses */
	RF_RPC_CLIENT_STREAM  /* a stream of requests, one response */
};

/* Who is calling, from the client certificate presented in the TLS
 * handshake. A handler only ever sees a verified one; the refused hook may
 * see one that failed the checks (its fields are then what it claims). */
struct rf_rpc_peer {
	int anonymous;                     /* 1: no client certificate */
	char cn[RF_X509_NAME_MAX + 1];     /* subject CN ("" if anonymous) */
	char role[RF_X509_NAME_MAX + 1];   /* subject OU ("" if anonymous) */
	char fingerprint[RF_X509_FP_SIZE]; /* SHA-256 of the DER, hex */
};

/* One call being served; handed to the handler, valid until it returns. */
struct rf_rpc_call;

/* A method handler. Runs on a worker thread with the call and the server's
 * user pointer. Returns RF_OK after setting the response (unary and
 * client-streaming: rf_rpc_call_respond; none set means an empty one), or
 * an error code with a message in e, which the caller receives as the
 * call's status (see the table above). Handlers of one server run
 * concurrently on different workers. */
typedef enum rf_rc (*rf_rpc_handler_fn)(struct rf_rpc_call *call, void *user,
					struct rf_err *e);

/* Returns nonzero when the certificate with this SHA-256 fingerprint (64
 * lowercase hex digits) is revoked: the call is then refused with
 * UNAUTHENTICATED before its handler runs. Called on worker threads, for
 * every call from a certified peer: must be thread-safe and quick. */
typedef int (*rf_rpc_revoked_fn)(const char *fingerprint, void *user);

/* Told about every call refused before its handler ran (see the table at
 * the top; a request message over the limit of a client-streaming method
 * is reported when the handler returns): method is the path called (an
 * unknown one is truncated to RF_RPC_PATH_MAX bytes, non-printable bytes
 * replaced by '?'), peer the caller (cn and fingerprint "" when it
 * presented no certificate, or one they could not be read from), rc the
 * refusal (RF_EAUTH, RF_EUNSUPPORTED, RF_ETOOBIG) and reason its text, as
 * the caller receives it. Called on worker threads, concurrently: must be
 * thread-safe; it delays the refusal by the time it takes. */
typedef void (*rf_rpc_refused_fn)(const char *method,
				  const struct rf_rpc_peer *peer,
				  enum rf_rc rc, const char *reason,
				  void *user);

struct rf_rpc_method {
	const char *path;         /* "/radfed.Federation/NextTask" */
	enum rf_rpc_kind kind;
	int allow_anonymous;      /* callable without a client certificate */
	const char *const *roles; /* NULL-terminated list of allowed OUs;
				   * NULL: any certified caller */
	size_t max_request;       /* bytes per request message, at most
				   * RF_RPC_MSG_MAX; 0: RF_RPC_MSG_MAX */
	rf_rpc_handler_fn handler;
};

struct rf_rpc_server_opts {
	const char *listen;   /* "127.0.0.1:0" (any free port), "host:port" */
	const char *cert_pem; /* server certificate (chain), PEM */
	const char *key_pem;  /* its private key, PEM */
	const char *ca_pem;   /* CA that issues client certificates, PEM */
	const struct rf_rpc_method *methods; /* borrowed: must outlive the
					      * server (a static table) */
	size_t n_methods;
	rf_rpc_revoked_fn revoked; /* optional */
	rf_rpc_refused_fn refused; /* optional */
	void *user;                /* passed to handlers, revoked and
				    * refused */
	unsigned workers;          /* 0: RF_RPC_WORKERS_DEFAULT */
};

struct rf_rpc_server;

/* Creates, binds and starts a server; its workers serve calls at once.
 * The PEM strings are copied. Failures leave *out NULL: RF_EINVAL for a bad
 * option or method table (empty or duplicate path, no handler, unknown
 * kind), RF_ECRYPTO for unusable PEM or a key that does not match the
 * certificate, RF_EIO when the address cannot be bound (the port is never
 * shared: SO_REUSEPORT is off), RF_ENOMEM. */
enum rf_rc rf_rpc_server_create(const struct rf_rpc_server_opts *o,
				struct rf_rpc_server **out,
				struct rf_err *e) RF_WUR;

/* The bound TCP port (the chosen one when listening on port 0). */
int rf_rpc_server_port(const struct rf_rpc_server *s);

/* Stops the server: no new calls, in-flight calls are cancelled (their
 * handlers see rf_rpc_call_cancelled() and their sends fail), and returns
 * once every worker has finished. Idempotent. Must not be called from a
 * handler. Call from one thread at a time. */
void rf_rpc_server_shutdown(struct rf_rpc_server *s);

/* Shuts the server down if needed and frees it. Accepts NULL. */
void rf_rpc_server_destroy(struct rf_rpc_server *s);

/* ---- inside a handler (the call's own worker thread only) ------------ */

/* The caller's identity. */
const struct rf_rpc_peer *rf_rpc_call_peer(const struct rf_rpc_call *c);

/* The method being served. */
const struct rf_rpc_method *rf_rpc_call_method(const struct rf_rpc_call *c);

/* The request message of a unary or server-streaming call (its length in
 * *len); NULL with *len 0 for a client-streaming call. Borrowed, valid
 * until the handler returns. */
const uint8_t *rf_rpc_call_request(const struct rf_rpc_call *c, size_t *len);

/* Milliseconds left before the call's deadline (INT64_MAX when it has
 * none, 0 once passed). A handler that waits uses it as its timeout. */
int64_t rf_rpc_call_remaining_ms(const struct rf_rpc_call *c);

/* Nonzero once the call is dead: cancelled by the client, past its
 * deadline, or cancelled by a server shutdown. A handler that blocks (long
 * poll) checks it at least every few hundred milliseconds and then returns
 * (any code: the status is no longer delivered). */
int rf_rpc_call_cancelled(struct rf_rpc_call *c);

/* Client-streaming calls: the next request message, appended to msg after
 * resetting it (msg's max also bounds it, besides the method's
 * max_request). *eof is set to 1, msg left empty, when the client has
 * finished sending. RF_ETOOBIG for a message over the method's max_request
 * (the call then fails with RESOURCE_EXHAUSTED whatever the handler
 * returns) or over msg's max, RF_EIO when the call died, RF_EINVAL on
 * another kind of call. */
enum rf_rc rf_rpc_call_read(struct rf_rpc_call *c, struct rf_buf *msg,
			    int *eof, struct rf_err *e) RF_WUR;

/* Client-streaming calls: appends every remaining request message to out
 * (the reassembly of a chunked upload); RF_ETOOBIG once out's max would be
 * passed. Same failures as rf_rpc_call_read. */
enum rf_rc rf_rpc_call_read_all(struct rf_rpc_call *c, struct rf_buf *out,
				struct rf_err *e) RF_WUR;

/* Server-streaming calls: sends one message of n bytes (n <=
 * RF_RPC_MSG_MAX), waiting until gRPC has taken it (flow control applies).
 * RF_EIO when the call died (client gone, deadline, shutdown), RF_ETOOBIG,
 * RF_EINVAL on another kind of call. */
enum rf_rc rf_rpc_call_send(struct rf_rpc_call *c, const void *p, size_t n,
			    struct rf_err *e) RF_WUR;

/* Server-streaming calls: sends n bytes as messages of at most
 * RF_RPC_CHUNK bytes (nothing when n is 0), as rf_rpc_call_send. */
enum rf_rc rf_rpc_call_send_chunked(struct rf_rpc_call *c, const void *p,
				    size_t n, struct rf_err *e) RF_WUR;

/* Unary and client-streaming calls: sets the response (copied; n <=
 * RF_RPC_MSG_MAX), sent when the handler returns RF_OK. A second call
 * replaces the first. RF_EINVAL on a server-streaming call. */
enum rf_rc rf_rpc_call_respond(struct rf_rpc_call *c, const void *p, size_t n,
			       struct rf_err *e) RF_WUR;

/* ======================================================================
 * Client
 * ====================================================================== */

struct rf_rpc_client_opts {
	const char *target;         /* "host:port" of the aggregator */
	const char *ca_pem;         /* CA the server certificate must chain
				     * to, PEM */
	const char *cert_pem;       /* client certificate; NULL with key_pem
				     * NULL: anonymous (enrollment only) */
	const char *key_pem;        /* its private key, PEM */
	const char *server_name;    /* name the server certificate must carry
				     * (SAN DNS); NULL: the host of target */
	const char *ca_fingerprint; /* optional: SHA-256 of ca_pem's DER (64
				     * hex digits, ':' allowed), pinned from
				     * an invitation */
};

struct rf_rpc_client;

/* Creates a client. No connection is made until the first call. The PEM
 * strings are copied. Failures leave *out NULL: RF_EINVAL for a bad option
 * (no target, key without certificate, malformed fingerprint), RF_ECRYPTO
 * for unparsable PEM or a key that does not match the certificate,
 * RF_EAUTH when ca_pem does not match ca_fingerprint, RF_ENOMEM.
 *
 * Thread safety: one client (one gRPC channel, one connection) may be used
 * by several threads at once; each call has its own completion queue.
 * Destroy it once no call is running. */
enum rf_rc rf_rpc_client_create(const struct rf_rpc_client_opts *o,
				struct rf_rpc_client **out,
				struct rf_err *e) RF_WUR;

/* Frees the client (closes its channel). Accepts NULL. */
void rf_rpc_client_destroy(struct rf_rpc_client *c);

/* In all calls below: method is the full path ("/radfed.Audit/LogHead");
 * deadline_ms bounds the whole call (0: no deadline); the status maps to a
 * code as described at the top, with the server's message (or the TLS
 * failure) in e. A call that finds the server unavailable spends up to a
 * few more seconds on the diagnostic handshake (outside its deadline). */

/* A unary call: sends req_len bytes (<= RF_RPC_MSG_MAX), and on RF_OK
 * resp (reset first) holds the response; RF_ETOOBIG when it exceeds resp's
 * max. On failure resp holds nothing meaningful. */
enum rf_rc rf_rpc_client_unary(struct rf_rpc_client *c, const char *method,
			       const void *req, size_t req_len,
			       int64_t deadline_ms, struct rf_buf *resp,
			       struct rf_err *e) RF_WUR;

/* Receives one response message of a server stream (p valid during the
 * call only). Returning an error cancels the call; the client function
 * then returns that error. */
typedef enum rf_rc (*rf_rpc_msg_fn)(const uint8_t *p, size_t n, void *ctx,
				    struct rf_err *e);

/* A server-streaming call: sends req, then gives each response message to
 * fn in order. Returns RF_OK when the server ended the stream with OK. */
enum rf_rc rf_rpc_client_server_stream(struct rf_rpc_client *c,
				       const char *method, const void *req,
				       size_t req_len, int64_t deadline_ms,
				       rf_rpc_msg_fn fn, void *ctx,
				       struct rf_err *e) RF_WUR;

/* A server-streaming call whose messages are the chunks of one payload:
 * out (reset first) receives their concatenation; RF_ETOOBIG (call
 * cancelled) when it would pass out's max. */
enum rf_rc rf_rpc_client_download(struct rf_rpc_client *c, const char *method,
				  const void *req, size_t req_len,
				  int64_t deadline_ms, struct rf_buf *out,
				  struct rf_err *e) RF_WUR;

/* Produces the next request message of a client stream: sets *p, *n (n <=
 * RF_RPC_MSG_MAX; p must stay valid until the next call of fn or the end
 * of the call) and returns RF_OK, or sets *p to NULL to end the stream.
 * An error cancels the call and is returned. */
typedef enum rf_rc (*rf_rpc_next_fn)(const uint8_t **p, size_t *n, void *ctx,
				     struct rf_err *e);

/* A client-streaming call: sends the messages of next, then receives the
 * response into resp (reset first), as rf_rpc_client_unary. When the
 * server fails the call early, sending stops and its status is returned. */
enum rf_rc rf_rpc_client_client_stream(struct rf_rpc_client *c,
				       const char *method, rf_rpc_next_fn next,
				       void *ctx, int64_t deadline_ms,
				       struct rf_buf *resp,
				       struct rf_err *e) RF_WUR;

/* A client-streaming call that sends n bytes as chunks of at most
 * RF_RPC_CHUNK bytes (one empty message when n is 0). */
enum rf_rc rf_rpc_client_upload(struct rf_rpc_client *c, const char *method,
				const void *p, size_t n, int64_t deadline_ms,
				struct rf_buf *resp, struct rf_err *e) RF_WUR;

#endif
