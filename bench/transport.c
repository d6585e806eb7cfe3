/*
 * transport.c - throughput of a chunked payload over radfed's RPC layer
 * (gRPC core, mutual TLS) on loopback, both ways, beside two peers that
 * show, in the same run, what the machine and the fixed dependencies
 * allow: plain TLS 1.3 on a socket, and the bare gRPC stream.
 *
 *   bench_transport [MB [RUNS]]
 *
 * In one process: a CA, a server certificate and a site's client
 * certificate (rf_x509, P-256), a server on 127.0.0.1:0 with two
 * client-streaming methods (uploads) and two server-streaming methods
 * (downloads), and a client with the site's certificate. The payload is
 * MB x 10^6 bytes (default 100) of pseudo-random data (splitmix64), so
 * TLS has nothing to gain from its content; it travels in RF_RPC_CHUNK
 * (1 MiB) messages.
 *
 * radfed: the payload travels as radfed.Chunk messages (rf_chunk.h: at
 * most RF_CHUNK_DATA bytes of data each, the SHA-256 of the whole in the
 * last one, checked by the receiver), the way models and updates move:
 *   mem:  memory to memory (rf_chunk_out_mem -> rf_chunk_in_mem);
 *   file: file to file (rf_chunk_out_file -> rf_chunk_in_file: read from
 *         the page cache, written to a temporary file, fsync'ed, renamed).
 * Hashing as in radfed: the upload's sender announces the payload's
 * SHA-256 (rf_chunk_out_announce; computed once before the runs, untimed)
 * as a node announces the hash it computed for its update's header; the
 * download's sender hashes what it sends, as the aggregator does with
 * models (so that its model.sent line is true of the bytes that left).
 * Every receiver hashes all it receives and compares (timed).
 * Upload: the client streams the chunks (rf_rpc_client_client_stream), the
 * handler feeds each message to rf_chunk_in_feed and answers the length.
 * Download: the handler sends them with rf_chunk_send, the client receives
 * with rf_chunk_download.
 *
 * The peers, memory to memory, with the same payload and certificates:
 *   tls:  plain OpenSSL TLS 1.3 over a loopback TCP socket: no gRPC, no
 *         HTTP/2, no hash; the ceiling of any TLS transport here. Mutual
 *         authentication against the CA (server certificate and name,
 *         site client certificate), TLS 1.3 only, TLS_AES_256_GCM_SHA384
 *         (the suite gRPC negotiates between two radfed ends). A thread
 *         accepts one connection and reads straight into the destination
 *         until it holds the payload; the main thread connects and writes
 *         the payload in 1 MiB pieces (TLS cuts them into 16 KiB records).
 *         Timed from the connect (the handshake included: about 3 ms
 *         here, 1 to 2 % of a 100 MB transfer) to the moment the reader
 *         holds every byte (join).
 *         One way only: on loopback both directions are the same path.
 *   grpc: the same RPC layer, server and connection without radfed's
 *         chunk protocol and hash: rf_rpc_client_upload ->
 *         rf_rpc_call_read_all, and rf_rpc_call_send_chunked ->
 *         rf_rpc_client_download, 1 MiB messages; what the gRPC core
 *         stream alone costs.
 *
 * Memory receivers, radfed's and the peers', reuse two destinations
 * allocated once for the payload's size: the server's (uploads, tls) and
 * the client's (downloads). Both are filled with zeros before every memory
 * transfer, untimed: the first fill faults their pages in, so that no
 * transfer pays for page faults of fresh memory (an artefact of a
 * benchmark that would allocate 100 MB per transfer, not a cost of the
 * transport), and the later ones make sure that a receiver that skipped
 * bytes cannot pass the check with an earlier run's.
 *
 * Each transfer is timed from the call to its return; afterwards, untimed,
 * the SHA-256 of what arrived is checked against that of the payload
 * (every memory transfer, the peers' too: a peer that moved other bytes
 * fails the bench; file transfers: the receiver's own check). RUNS runs
 * (default 3), each doing every transfer in turn, so that a change in the
 * machine's load hits them all; rates from the median times.
 *
 * Prints one line of key=value pairs (1 MB = 10^6 bytes): upload_mb_s,
 * download_mb_s (radfed, memory to memory), file_upload_mb_s,
 * file_download_mb_s, payload_mb, runs, the fastest and slowest times of
 * radfed's memory transfers, sha256_ok, peak_rss_mb (getrusage
 * ru_maxrss), mem_mb_per_cpu_s, file_mb_per_cpu_s: MB moved per CPU second
 * of the process (both ends, all threads, user and system, measured
 * around the transfers only), a figure the load of a shared machine does
 * not change much; then the peers: tls_mb_s, tls_mb_per_cpu_s, tls_cipher
 * (the suite negotiated), grpc_upload_mb_s, grpc_download_mb_s,
 * grpc_mb_per_cpu_s. What the process holds at its peak (peak_rss_mb):
 * the payload, the two destinations and a few chunks and gRPC windows, so
 * about three times the payload.
 * bench/transport.sh puts the rates beside openssl's AES-256-GCM speed
 * from the same run.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "rf_alloc.h"
#include "rf_buf.h"
#include "rf_chunk.h"
#include "rf_crypto.h"
#include "rf_file.h"
#include "rf_rpc.h"
#include "rf_x509.h"

#define RUNS_MAX 15
#define DEADLINE_MS 600000
/* Longest wait of one socket operation of the tls peer. */
#define TLS_IO_TIMEOUT_S 60
#define TLS_SUITE "TLS_AES_256_GCM_SHA384"

#define M_UPLOAD "/radfed.Bench/Upload"
#define M_DOWNLOAD "/radfed.Bench/Download"
#define M_GRPC_UPLOAD "/radfed.Bench/PlainUpload"
#define M_GRPC_DOWNLOAD "/radfed.Bench/PlainDownload"

/* Shared between main() and the handlers; the calls are sequential, so a
 * handler runs only while main() waits in the matching client call. */
struct bench {
	const uint8_t *payload; /* what the server sends */
	size_t len;
	uint8_t want[RF_SHA256_LEN]; /* the payload's SHA-256 */
	struct rf_buf got; /* what the server received (uploads, tls):
			    * allocated once, reused by every run */
	int files;         /* 1: file to file */
	char src[600];     /* the payload as a file */
	char dst[600];     /* where a file transfer lands */
};

struct cred {
	struct rf_buf cert; /* PEM */
	struct rf_buf key;  /* PEM */
};

/* CPU seconds (user and system) of the whole process: both ends. */
static double cpu(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t rng_next(uint64_t *s)
{
	/* splitmix64 */
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static long arg_long(const char *s, long lo, long hi, const char *what)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (*s == '\0' || *end != '\0' || v < lo || v > hi) {
		fprintf(stderr, "bench_transport: %s '%s' not in %ld..%ld\n",
			what, s, lo, hi);
		exit(2);
	}
	return v;
}

/* The 8-byte little-endian length the upload handlers answer. */
static enum rf_rc respond_len(struct rf_rpc_call *c, uint64_t len,
			      struct rf_err *e)
{
	uint8_t out[8];

	for (int i = 0; i < 8; i++)
		out[i] = (uint8_t)(len >> (8 * i));
	return rf_rpc_call_respond(c, out, sizeof out, e);
}

/* ---- the handlers ------------------------------------------------------- */

static enum rf_rc h_upload(struct rf_rpc_call *c, void *user,
			   struct rf_err *e)
{
	struct bench *b = user;
	struct rf_buf msg = RF_BUF_INIT(RF_CHUNK_MSG_MAX);
	struct rf_chunk_in in;
	uint64_t len = 0;
	int eof = 0;
	enum rf_rc rc;

	/* memory: b->got already holds room for the payload, and
	 * rf_chunk_in_mem keeps it (rf_buf_reset) */
	if (b->files)
		rc = rf_chunk_in_file(&in, b->dst, b->len, e);
	else
		rc = rf_chunk_in_mem(&in, &b->got, b->len, e);
	if (rc != RF_OK)
		return rc;
	while (rc == RF_OK) {
		rc = rf_rpc_call_read(c, &msg, &eof, e);
		if (rc != RF_OK || eof)
			break;
		rc = rf_chunk_in_feed(&in, msg.data, msg.len, e);
	}
	if (rc == RF_OK)
		rc = rf_chunk_in_finish(&in, NULL, &len, e);
	rf_chunk_in_release(&in);
	rf_buf_release(&msg);
	if (rc != RF_OK)
		return rc;
	return respond_len(c, len, e);
}

static enum rf_rc h_download(struct rf_rpc_call *c, void *user,
			     struct rf_err *e)
{
	struct bench *b = user;
	struct rf_chunk_out o;
	enum rf_rc rc;

	if (b->files)
		rc = rf_chunk_out_file(&o, b->src, 0, e);
	else
		rc = rf_chunk_out_mem(&o, b->payload, b->len, 0, e);
	/* hashed as it is sent, like the aggregator's models */
	if (rc == RF_OK)
		rc = rf_chunk_send(c, &o, e);
	rf_chunk_out_release(&o);
	return rc;
}

/* The grpc peer's upload: the bare messages, appended to b->got. */
static enum rf_rc h_grpc_upload(struct rf_rpc_call *c, void *user,
				struct rf_err *e)
{
	struct bench *b = user;
	enum rf_rc rc;

	rf_buf_reset(&b->got);
	rc = rf_rpc_call_read_all(c, &b->got, e);
	if (rc != RF_OK)
		return rc;
	return respond_len(c, b->got.len, e);
}

/* The grpc peer's download: the payload in RF_RPC_CHUNK messages. */
static enum rf_rc h_grpc_download(struct rf_rpc_call *c, void *user,
				  struct rf_err *e)
{
	struct bench *b = user;

	return rf_rpc_call_send_chunked(c, b->payload, b->len, e);
}

/* The client's side of an upload: the chunks of o. */
static enum rf_rc up_next(const uint8_t **p, size_t *n, void *ctx,
			  struct rf_err *e)
{
	struct rf_chunk_out *o = ctx;
	int last;

	return rf_chunk_out_next(o, p, n, &last, e);
}

static const char *const roles_site[] = {"site", NULL};

static const struct rf_rpc_method methods[] = {
	{M_UPLOAD, RF_RPC_CLIENT_STREAM, 0, roles_site, RF_CHUNK_MSG_MAX,
	 h_upload},
	{M_DOWNLOAD, RF_RPC_SERVER_STREAM, 0, roles_site, 16, h_download},
	{M_GRPC_UPLOAD, RF_RPC_CLIENT_STREAM, 0, roles_site, RF_RPC_CHUNK,
	 h_grpc_upload},
	{M_GRPC_DOWNLOAD, RF_RPC_SERVER_STREAM, 0, roles_site, 16,
	 h_grpc_download},
};

/* ---- the certificates --------------------------------------------------- */

static enum rf_rc key_pem(const struct rf_key *k, const char *dir,
			  const char *name, struct rf_buf *out,
			  struct rf_err *e)
{
	char path[600];
	enum rf_rc rc;

	snprintf(path, sizeof path, "%s/%s.key", dir, name);
	rc = rf_key_save_private_pem(k, path, e);
	if (rc == RF_OK)
		rc = rf_file_read(path, out, e);
	unlink(path);
	return rc;
}

/* Issues a certificate for a new P-256 key under (ca, ca_key). */
static enum rf_rc cred_make(struct cred *c, const struct rf_x509 *ca,
			    const struct rf_key *ca_key, const char *cn,
			    const char *role, const char *dns, unsigned usage,
			    const char *dir, struct rf_err *e)
{
	int64_t t = (int64_t)time(NULL);
	struct rf_x509_issue_params ip = {cn, role, dns, usage, t - 3600,
					  t + 86400};
	struct rf_key *k = NULL;
	struct rf_x509_req *req = NULL;
	struct rf_x509 *x = NULL;
	enum rf_rc rc;

	rf_buf_init(&c->cert, RF_X509_PEM_MAX);
	rf_buf_init(&c->key, RF_X509_PEM_MAX);
	rc = rf_key_generate(RF_KEY_P256, &k, e);
	if (rc == RF_OK)
		rc = rf_x509_req_create(k, cn, &req, e);
	if (rc == RF_OK)
		rc = rf_x509_issue(ca, ca_key, req, &ip, &x, e);
	if (rc == RF_OK)
		rc = rf_x509_pem(x, &c->cert, e);
	if (rc == RF_OK)
		rc = key_pem(k, dir, cn, &c->key, e);
	rf_x509_destroy(x);
	rf_x509_req_destroy(req);
	rf_key_destroy(k);
	return rc;
}

static void cred_release(struct cred *c)
{
	rf_buf_release(&c->cert);
	rf_buf_release_secret(&c->key);
}

/* ---- the tls peer: plain OpenSSL TLS 1.3 on a loopback socket ----------- */

struct tls_peer {
	SSL_CTX *srv;            /* aggregator's certificate, client
				  * certificate required */
	SSL_CTX *cli;            /* site's certificate */
	int lfd;                 /* listening on 127.0.0.1, or -1 */
	struct sockaddr_in addr; /* where lfd listens */
	char cipher[64];         /* the suite negotiated, once known */
};

/* One transfer's reading thread: what it is given and what it returns. */
struct tls_reader {
	struct tls_peer *t;
	struct rf_buf *dst; /* holds room for n bytes */
	size_t n;
	enum rf_rc rc;
	struct rf_err e;
};

/* rf_err_set with the reason OpenSSL queued, if any (this thread's
 * queue, then emptied). */
static enum rf_rc RF_PRINTF(3, 4) ssl_fail(struct rf_err *e, enum rf_rc rc,
					   const char *fmt, ...)
{
	char msg[RF_ERR_MSG_MAX], why[160];
	unsigned long code = ERR_get_error();
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	why[0] = '\0';
	if (code)
		ERR_error_string_n(code, why, sizeof why);
	ERR_clear_error();
	if (why[0])
		return rf_err_set(e, rc, "%s: %s", msg, why);
	return rf_err_set(e, rc, "%s", msg);
}

/* The failure of SSL_accept, SSL_connect, SSL_read or SSL_write (what)
 * that returned ret, with its reason: a refused certificate, the peer
 * gone, a system error, or OpenSSL's queue. */
static enum rf_rc ssl_io_fail(SSL *ssl, int ret, const char *what,
			      struct rf_err *e)
{
	int sys = errno, err = SSL_get_error(ssl, ret);
	long v = SSL_get_verify_result(ssl);

	if (v != X509_V_OK)
		return ssl_fail(e, RF_EAUTH, "tls %s: certificate refused: %s",
				what, X509_verify_cert_error_string(v));
	if (err == SSL_ERROR_ZERO_RETURN ||
	    (err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0 && sys == 0))
		return ssl_fail(e, RF_EIO, "tls %s: the peer closed the "
				"connection", what);
	if (err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)
		return ssl_fail(e, sys == EAGAIN || sys == EWOULDBLOCK ?
				RF_ETIMEDOUT : RF_EIO, "tls %s: %s", what,
				sys == EAGAIN || sys == EWOULDBLOCK ?
				"timed out" : strerror(sys));
	return ssl_fail(e, RF_EIO, "tls %s failed (ssl error %d)", what, err);
}

/* Loads one PEM object of what (a name for messages) from a buffer. */
static enum rf_rc pem_x509(const struct rf_buf *pem, const char *what,
			   X509 **out, struct rf_err *e)
{
	BIO *bio = BIO_new_mem_buf(pem->data, (int)pem->len);

	*out = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
	BIO_free(bio);
	if (!*out)
		return ssl_fail(e, RF_ECRYPTO, "cannot read the certificate "
				"of %s", what);
	return RF_OK;
}

static enum rf_rc pem_key(const struct rf_buf *pem, const char *what,
			  EVP_PKEY **out, struct rf_err *e)
{
	BIO *bio = BIO_new_mem_buf(pem->data, (int)pem->len);

	*out = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
	BIO_free(bio);
	if (!*out)
		return ssl_fail(e, RF_ECRYPTO, "cannot read the key of %s",
				what);
	return RF_OK;
}

/* A TLS 1.3 context with TLS_SUITE only, holding the certificate and key
 * of c (named what) and verifying the peer's certificate against ca_pem:
 * a server requires one from its client. */
static enum rf_rc tls_ctx(int server, const struct cred *c, const char *what,
			  const struct rf_buf *ca_pem, SSL_CTX **out,
			  struct rf_err *e)
{
	SSL_CTX *ctx = NULL;
	X509 *cert = NULL, *ca = NULL;
	EVP_PKEY *key = NULL;
	enum rf_rc rc;

	*out = NULL;
	ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
	if (!ctx)
		return ssl_fail(e, RF_ENOMEM, "cannot create the tls context "
				"of %s", what);
	rc = pem_x509(&c->cert, what, &cert, e);
	if (rc == RF_OK)
		rc = pem_key(&c->key, what, &key, e);
	if (rc == RF_OK)
		rc = pem_x509(ca_pem, "the CA", &ca, e);
	if (rc != RF_OK)
		goto out;
	if (!SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) ||
	    !SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) ||
	    !SSL_CTX_set_ciphersuites(ctx, TLS_SUITE) ||
	    !SSL_CTX_use_certificate(ctx, cert) ||
	    !SSL_CTX_use_PrivateKey(ctx, key) ||
	    !SSL_CTX_check_private_key(ctx) ||
	    !X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx), ca)) {
		rc = ssl_fail(e, RF_ECRYPTO, "cannot set up the tls context "
			      "of %s", what);
		goto out;
	}
	SSL_CTX_set_verify(ctx, server ? SSL_VERIFY_PEER |
			   SSL_VERIFY_FAIL_IF_NO_PEER_CERT : SSL_VERIFY_PEER,
			   NULL);
	/* one connection per transfer: nothing to resume, no tickets */
	if (server && !SSL_CTX_set_num_tickets(ctx, 0)) {
		rc = ssl_fail(e, RF_ECRYPTO, "cannot set up the tls context "
			      "of %s", what);
		goto out;
	}
	*out = ctx;
	ctx = NULL;
out:
	SSL_CTX_free(ctx);
	X509_free(cert);
	X509_free(ca);
	EVP_PKEY_free(key);
	return rc;
}

/* Both ends' contexts and a socket listening on 127.0.0.1 (any port). On
 * failure t holds nothing (tls_peer_release is still safe). */
static enum rf_rc tls_peer_init(struct tls_peer *t, const struct cred *srv,
				const struct cred *site,
				const struct rf_buf *ca_pem, struct rf_err *e)
{
	struct timeval tv = {TLS_IO_TIMEOUT_S, 0};
	socklen_t len = sizeof t->addr;
	enum rf_rc rc;

	memset(t, 0, sizeof *t);
	t->lfd = -1;
	rc = tls_ctx(1, srv, "the server", ca_pem, &t->srv, e);
	if (rc == RF_OK)
		rc = tls_ctx(0, site, "the site", ca_pem, &t->cli, e);
	if (rc != RF_OK)
		goto fail;
	t->addr.sin_family = AF_INET;
	t->addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	t->lfd = socket(AF_INET, SOCK_STREAM, 0);
	/* the accept of a transfer whose client never connects times out */
	if (t->lfd < 0 ||
	    setsockopt(t->lfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) ||
	    bind(t->lfd, (struct sockaddr *)&t->addr, sizeof t->addr) ||
	    listen(t->lfd, 1) ||
	    getsockname(t->lfd, (struct sockaddr *)&t->addr, &len)) {
		rc = rf_err_set(e, RF_EIO, "cannot listen on '127.0.0.1:0': "
				"%s", strerror(errno));
		goto fail;
	}
	return RF_OK;
fail:
	SSL_CTX_free(t->srv);
	SSL_CTX_free(t->cli);
	if (t->lfd >= 0)
		close(t->lfd);
	memset(t, 0, sizeof *t);
	t->lfd = -1;
	return rc;
}

static void tls_peer_release(struct tls_peer *t)
{
	SSL_CTX_free(t->srv);
	SSL_CTX_free(t->cli);
	if (t->lfd >= 0)
		close(t->lfd);
	memset(t, 0, sizeof *t);
	t->lfd = -1;
}

/* Bounds every blocking operation on fd. */
static int io_timeouts(int fd)
{
	struct timeval tv = {TLS_IO_TIMEOUT_S, 0};

	return setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) ||
	       setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

/* The reading thread: accepts one connection, completes the handshake and
 * reads n bytes straight into r->dst. Closes its end whatever happens, so
 * that the writer never waits for a reader that has given up. */
static void *tls_read_main(void *arg)
{
	struct tls_reader *r = arg;
	SSL *ssl = NULL;
	char what[80];
	size_t got = 0;
	int fd, ret;

	r->rc = RF_OK;
	fd = accept(r->t->lfd, NULL, NULL);
	if (fd < 0) {
		r->rc = rf_err_set(&r->e, RF_EIO, "tls accept on "
				   "'127.0.0.1:%d': %s",
				   (int)ntohs(r->t->addr.sin_port),
				   strerror(errno));
		return NULL;
	}
	if (io_timeouts(fd)) {
		r->rc = rf_err_set(&r->e, RF_EIO, "tls server socket: %s",
				   strerror(errno));
		goto out;
	}
	ssl = SSL_new(r->t->srv);
	if (!ssl || !SSL_set_fd(ssl, fd)) {
		r->rc = ssl_fail(&r->e, RF_ENOMEM, "cannot create the tls "
				 "server connection");
		goto out;
	}
	errno = 0;
	ret = SSL_accept(ssl);
	if (ret != 1) {
		r->rc = ssl_io_fail(ssl, ret, "handshake (server)", &r->e);
		goto out;
	}
	while (got < r->n) {
		size_t k = r->n - got < RF_RPC_CHUNK ? r->n - got :
			   RF_RPC_CHUNK;

		errno = 0;
		ret = SSL_read(ssl, r->dst->data + got, (int)k);
		if (ret <= 0) {
			snprintf(what, sizeof what, "read (%zu of %zu bytes "
				 "received)", got, r->n);
			r->rc = ssl_io_fail(ssl, ret, what, &r->e);
			goto out;
		}
		got += (size_t)ret;
	}
	r->dst->len = got;
	r->dst->data[got] = 0;
out:
	SSL_free(ssl);
	close(fd);
	return NULL;
}

/* Sends the n bytes at p to a new reading thread, which puts them in dst
 * (its room for n bytes already there). *secs: from the connect to the
 * moment the reader holds them all. */
static enum rf_rc tls_transfer(struct tls_peer *t, const uint8_t *p,
			       size_t n, struct rf_buf *dst, double *secs,
			       struct rf_err *e)
{
	struct tls_reader r = {t, dst, n, RF_OK, {0}};
	pthread_t th;
	SSL *ssl = NULL;
	char what[80], mine[RF_ERR_MSG_MAX];
	size_t off = 0;
	double t0;
	int fd = -1, ret, err, connected = 0;
	enum rf_rc rc = RF_OK;

	rf_buf_reset(dst);
	err = pthread_create(&th, NULL, tls_read_main, &r);
	if (err)
		return rf_err_set(e, RF_ENOMEM, "cannot start the tls reader: "
				  "%s", strerror(err));
	t0 = now();
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || io_timeouts(fd) ||
	    connect(fd, (const struct sockaddr *)&t->addr, sizeof t->addr)) {
		rc = rf_err_set(e, RF_EIO, "tls connect to '127.0.0.1:%d': "
				"%s", (int)ntohs(t->addr.sin_port),
				strerror(errno));
		goto out;
	}
	connected = 1;
	ssl = SSL_new(t->cli);
	if (!ssl || !SSL_set_fd(ssl, fd) ||
	    !SSL_set_tlsext_host_name(ssl, "localhost") ||
	    !SSL_set1_host(ssl, "localhost")) {
		rc = ssl_fail(e, RF_ENOMEM, "cannot create the tls client "
			      "connection");
		goto out;
	}
	errno = 0;
	ret = SSL_connect(ssl);
	if (ret != 1) {
		rc = ssl_io_fail(ssl, ret, "handshake (client)", e);
		goto out;
	}
	if (!t->cipher[0])
		snprintf(t->cipher, sizeof t->cipher, "%s",
			 SSL_get_cipher_name(ssl));
	while (off < n) {
		size_t k = n - off < RF_RPC_CHUNK ? n - off : RF_RPC_CHUNK;

		errno = 0;
		ret = SSL_write(ssl, p + off, (int)k);
		if (ret <= 0) {
			snprintf(what, sizeof what, "write (%zu of %zu bytes "
				 "sent)", off, n);
			rc = ssl_io_fail(ssl, ret, what, e);
			goto out;
		}
		off += (size_t)ret;
	}
out:
	if (rc != RF_OK) {
		/* wake the reader: from accept if we never connected, from
		 * its handshake or read once our end is closed */
		if (!connected)
			shutdown(t->lfd, SHUT_RDWR);
		SSL_free(ssl);
		ssl = NULL;
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	pthread_join(th, NULL);
	*secs = now() - t0;
	SSL_free(ssl);
	if (fd >= 0)
		close(fd);
	if (rc != RF_OK && r.rc != RF_OK) {
		snprintf(mine, sizeof mine, "%s", rf_err_msg(e));
		return rf_err_set(e, rc, "%s (server: %s)", mine,
				  rf_err_msg(&r.e));
	}
	if (rc == RF_OK && r.rc != RF_OK)
		return rf_err_set(e, r.rc, "%s", rf_err_msg(&r.e));
	if (rc == RF_OK && dst->len != n)
		return rf_err_set(e, RF_EINTEGRITY, "the tls reader received "
				  "%zu of %zu bytes", dst->len, n);
	return rc;
}

/* ---- the transfers ------------------------------------------------------ */

/* The length the server answered in resp, checked against b->len. */
static enum rf_rc resp_len_check(const struct rf_buf *resp,
				 const struct bench *b, struct rf_err *e)
{
	uint64_t len = 0;

	for (int i = 7; i >= 0 && resp->len == 8; i--)
		len = len << 8 | resp->data[i];
	if (resp->len != 8 || len != b->len)
		return rf_err_set(e, RF_EINTEGRITY,
				  "the server received %llu of %zu bytes",
				  (unsigned long long)len, b->len);
	return RF_OK;
}

static enum rf_rc upload(struct rf_rpc_client *cli, struct bench *b,
			 struct rf_buf *resp, double *secs, struct rf_err *e)
{
	struct rf_chunk_out o;
	double t0 = now();
	enum rf_rc rc;

	if (b->files)
		rc = rf_chunk_out_file(&o, b->src, 0, e);
	else
		rc = rf_chunk_out_mem(&o, b->payload, b->len, 0, e);
	if (rc == RF_OK) {
		rf_chunk_out_announce(&o, b->want);
		rc = rf_rpc_client_client_stream(cli, M_UPLOAD, up_next, &o,
						 DEADLINE_MS, resp, e);
	}
	rf_chunk_out_release(&o);
	*secs = now() - t0;
	if (rc == RF_OK)
		rc = resp_len_check(resp, b, e);
	return rc;
}

/* down: the client's destination (memory transfers), room for the
 * payload already there. */
static enum rf_rc download(struct rf_rpc_client *cli, struct bench *b,
			   struct rf_buf *down, double *secs,
			   struct rf_err *e)
{
	struct rf_chunk_in in;
	double t0 = now();
	enum rf_rc rc;

	if (b->files)
		rc = rf_chunk_in_file(&in, b->dst, b->len, e);
	else
		rc = rf_chunk_in_mem(&in, down, b->len, e);
	if (rc == RF_OK)
		rc = rf_chunk_download(cli, M_DOWNLOAD, NULL, 0, DEADLINE_MS,
				       &in, NULL, NULL, e);
	rf_chunk_in_release(&in);
	*secs = now() - t0;
	return rc;
}

/* The grpc peer, into b->got (server) and down (client). */
static enum rf_rc grpc_upload(struct rf_rpc_client *cli, struct bench *b,
			      struct rf_buf *resp, double *secs,
			      struct rf_err *e)
{
	double t0 = now();
	enum rf_rc rc;

	rc = rf_rpc_client_upload(cli, M_GRPC_UPLOAD, b->payload, b->len,
				  DEADLINE_MS, resp, e);
	*secs = now() - t0;
	if (rc == RF_OK)
		rc = resp_len_check(resp, b, e);
	return rc;
}

static enum rf_rc grpc_download(struct rf_rpc_client *cli, struct bench *b,
				struct rf_buf *down, double *secs,
				struct rf_err *e)
{
	double t0 = now();
	enum rf_rc rc;

	rc = rf_rpc_client_download(cli, M_GRPC_DOWNLOAD, NULL, 0,
				    DEADLINE_MS, down, e);
	*secs = now() - t0;
	if (rc == RF_OK && down->len != b->len)
		rc = rf_err_set(e, RF_EINTEGRITY, "the client received %zu "
				"of %zu bytes", down->len, b->len);
	return rc;
}

/* 0 when got holds the payload (by its SHA-256). */
static int check(const struct rf_buf *got, const uint8_t *want,
		 const char *what, long run)
{
	uint8_t h[RF_SHA256_LEN];

	if (rf_sha256(got->data, got->len, h, NULL) ||
	    memcmp(h, want, RF_SHA256_LEN) != 0) {
		fprintf(stderr, "bench_transport: %s %ld: other bytes "
			"arrived\n", what, run + 1);
		return 1;
	}
	return 0;
}

/* Zeros over the whole of a destination, before a memory transfer (and
 * outside its timing): the first time faults its pages in; afterwards no
 * receiver can pass the check with the bytes of an earlier run. */
static void scrub(struct rf_buf *b)
{
	memset(b->data, 0, b->cap + 1);
	b->len = 0;
}

/* ---- main --------------------------------------------------------------- */

static int die(const char *what, const struct rf_err *e)
{
	fprintf(stderr, "bench_transport: %s: %s\n", what, rf_err_msg(e));
	return 1;
}

static void fill(uint8_t *p, size_t n)
{
	uint64_t s = 20261123, v;
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		v = rng_next(&s);
		memcpy(p + i, &v, 8);
	}
	v = rng_next(&s);
	memcpy(p + i, &v, n - i);
}

static double median(double *v, long runs)
{
	qsort(v, (size_t)runs, sizeof v[0], cmp_double);
	return v[runs / 2];
}

int main(int argc, char **argv)
{
	struct rf_err e = {0};
	struct rf_key *ca_key = NULL;
	struct rf_x509 *ca = NULL;
	struct rf_buf ca_pem = RF_BUF_INIT(RF_X509_PEM_MAX);
	struct cred srv_cred, site_cred;
	struct rf_rpc_server_opts so = {0};
	struct rf_rpc_client_opts co = {0};
	struct rf_rpc_server *srv = NULL;
	struct rf_rpc_client *cli = NULL;
	struct tls_peer tp = {.lfd = -1};
	struct bench b = {.got = RF_BUF_INIT(0)};
	struct rf_buf resp = RF_BUF_INIT(64), down = RF_BUF_INIT(0);
	uint8_t *payload = NULL;
	double up[RUNS_MAX], dn[RUNS_MAX], fup[RUNS_MAX], fdn[RUNS_MAX];
	double tls[RUNS_MAX], gup[RUNS_MAX], gdn[RUNS_MAX];
	/* CPU seconds: radfed mem, radfed file, tls, grpc */
	double cpu_s[4] = {0, 0, 0, 0};
	char dir[] = "/tmp/bench_transport.XXXXXX", target[64];
	struct rusage ru;
	long mb = 100, runs = 3;
	double mbs;
	size_t n;
	int ret = 1;

	memset(&srv_cred, 0, sizeof srv_cred);
	memset(&site_cred, 0, sizeof site_cred);
	if (argc > 3) {
		fprintf(stderr, "usage: bench_transport [MB [RUNS]]\n");
		return 2;
	}
	if (argc > 1)
		mb = arg_long(argv[1], 1, 2000, "MB");
	if (argc > 2)
		runs = arg_long(argv[2], 1, RUNS_MAX, "RUNS");
	n = (size_t)mb * 1000000u;
	mbs = (double)n / 1e6;
	/* a tls writer whose reader is gone gets EPIPE, not a signal */
	signal(SIGPIPE, SIG_IGN);

	if (!mkdtemp(dir)) {
		perror("bench_transport: mkdtemp");
		return 1;
	}
	if (rf_key_generate(RF_KEY_P256, &ca_key, &e) ||
	    rf_x509_ca_create(ca_key, "radfed bench CA", time(NULL) - 3600,
			      time(NULL) + 86400, &ca, &e) ||
	    rf_x509_pem(ca, &ca_pem, &e) ||
	    cred_make(&srv_cred, ca, ca_key, "aggregator", "aggregator",
		      "localhost", RF_X509_SERVER, dir, &e) ||
	    cred_make(&site_cred, ca, ca_key, "site-a", "site", NULL,
		      RF_X509_CLIENT, dir, &e)) {
		ret = die("certificates", &e);
		goto out;
	}

	payload = rf_malloc(n);
	if (!payload) {
		fprintf(stderr, "bench_transport: out of memory\n");
		goto out;
	}
	fill(payload, n);
	/* what the senders announce, and what every copy is checked
	 * against */
	if (rf_sha256(payload, n, b.want, &e)) {
		ret = die("sha-256", &e);
		goto out;
	}
	b.payload = payload;
	b.len = n;
	snprintf(b.src, sizeof b.src, "%s/payload", dir);
	snprintf(b.dst, sizeof b.dst, "%s/received", dir);
	/* the two destinations of the memory transfers, allocated once:
	 * with the payload, the process holds three times its size */
	rf_buf_init(&b.got, n);
	rf_buf_init(&down, n);
	if (rf_buf_reserve(&b.got, n, &e) || rf_buf_reserve(&down, n, &e)) {
		ret = die("destinations", &e);
		goto out;
	}

	so.listen = "127.0.0.1:0";
	so.cert_pem = rf_buf_str(&srv_cred.cert);
	so.key_pem = rf_buf_str(&srv_cred.key);
	so.ca_pem = rf_buf_str(&ca_pem);
	so.methods = methods;
	so.n_methods = sizeof methods / sizeof methods[0];
	so.user = &b;
	so.workers = 2;
	if (rf_rpc_server_create(&so, &srv, &e)) {
		ret = die("server", &e);
		goto out;
	}
	snprintf(target, sizeof target, "127.0.0.1:%d",
		 rf_rpc_server_port(srv));
	co.target = target;
	co.ca_pem = rf_buf_str(&ca_pem);
	co.cert_pem = rf_buf_str(&site_cred.cert);
	co.key_pem = rf_buf_str(&site_cred.key);
	co.server_name = "localhost";
	if (rf_rpc_client_create(&co, &cli, &e)) {
		ret = die("client", &e);
		goto out;
	}
	if (tls_peer_init(&tp, &srv_cred, &site_cred, &ca_pem, &e)) {
		ret = die("tls peer", &e);
		goto out;
	}
	if (rf_file_write_atomic(b.src, payload, n, 0600, &e)) {
		ret = die("payload file", &e);
		goto out;
	}
	for (long r = 0; r < runs; r++) {
		double t_up, t_dn, c0, c1, c2, c3;

		for (int files = 0; files < 2; files++) {
			b.files = files;
			if (!files)
				scrub(&b.got);
			c0 = cpu();
			if (upload(cli, &b, &resp, &t_up, &e)) {
				ret = die("upload", &e);
				goto out;
			}
			c1 = cpu();
			if (!files && check(&b.got, b.want, "upload", r))
				goto out;
			unlink(b.dst);
			if (!files)
				scrub(&down);
			c2 = cpu();
			if (download(cli, &b, &down, &t_dn, &e)) {
				ret = die("download", &e);
				goto out;
			}
			c3 = cpu();
			if (!files && check(&down, b.want, "download", r))
				goto out;
			unlink(b.dst);
			cpu_s[files] += (c1 - c0) + (c3 - c2);
			if (files) {
				fup[r] = t_up;
				fdn[r] = t_dn;
			} else {
				up[r] = t_up;
				dn[r] = t_dn;
			}
		}

		/* the peers, memory to memory */
		scrub(&b.got);
		c0 = cpu();
		if (tls_transfer(&tp, payload, n, &b.got, &tls[r], &e)) {
			ret = die("tls", &e);
			goto out;
		}
		c1 = cpu();
		if (check(&b.got, b.want, "tls", r))
			goto out;
		cpu_s[2] += c1 - c0;

		scrub(&b.got);
		c0 = cpu();
		if (grpc_upload(cli, &b, &resp, &gup[r], &e)) {
			ret = die("grpc upload", &e);
			goto out;
		}
		c1 = cpu();
		if (check(&b.got, b.want, "grpc upload", r))
			goto out;
		scrub(&down);
		c2 = cpu();
		if (grpc_download(cli, &b, &down, &gdn[r], &e)) {
			ret = die("grpc download", &e);
			goto out;
		}
		c3 = cpu();
		if (check(&down, b.want, "grpc download", r))
			goto out;
		cpu_s[3] += (c1 - c0) + (c3 - c2);
	}

	getrusage(RUSAGE_SELF, &ru);
	qsort(up, (size_t)runs, sizeof up[0], cmp_double);
	qsort(dn, (size_t)runs, sizeof dn[0], cmp_double);
	printf("upload_mb_s=%.0f download_mb_s=%.0f file_upload_mb_s=%.0f "
	       "file_download_mb_s=%.0f payload_mb=%ld runs=%ld "
	       "upload_s_min=%.3f upload_s_max=%.3f download_s_min=%.3f "
	       "download_s_max=%.3f sha256_ok=1 peak_rss_mb=%.0f "
	       "mem_mb_per_cpu_s=%.0f file_mb_per_cpu_s=%.0f "
	       "tls_mb_s=%.0f tls_mb_per_cpu_s=%.0f tls_cipher=%s "
	       "grpc_upload_mb_s=%.0f grpc_download_mb_s=%.0f "
	       "grpc_mb_per_cpu_s=%.0f\n",
	       mbs / up[runs / 2], mbs / dn[runs / 2], mbs / median(fup, runs),
	       mbs / median(fdn, runs), mb, runs, up[0], up[runs - 1], dn[0],
	       dn[runs - 1], (double)ru.ru_maxrss / 1024.0,
	       2.0 * (double)runs * mbs / cpu_s[0],
	       2.0 * (double)runs * mbs / cpu_s[1],
	       mbs / median(tls, runs), (double)runs * mbs / cpu_s[2],
	       tp.cipher, mbs / median(gup, runs), mbs / median(gdn, runs),
	       2.0 * (double)runs * mbs / cpu_s[3]);
	ret = 0;
out:
	rf_rpc_client_destroy(cli);
	rf_rpc_server_destroy(srv);
	tls_peer_release(&tp);
	rf_buf_release(&down);
	rf_buf_release(&b.got);
	rf_buf_release(&resp);
	rf_free(payload);
	cred_release(&srv_cred);
	cred_release(&site_cred);
	rf_buf_release(&ca_pem);
	rf_x509_destroy(ca);
	rf_key_destroy(ca_key);
	unlink(b.src);
	unlink(b.dst);
	rmdir(dir);
	return ret;
}
