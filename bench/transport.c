/*
 * transport.c - throughput of a chunked payload over radfed's RPC layer
 * (gRPC core, mutual TLS) on loopback, both ways.
 *
 *   bench_transport [MB [RUNS]]
 *
 * In one process: a CA, a server certificate and a site's client
 * certificate (rf_x509, P-256), a server on 127.0.0.1:0 with one
 * client-streaming method (the upload of a model delta) and one
 * server-streaming method (the download of a model), and a client with
 * the site's certificate. The payload is MB x 10^6 bytes (default 100) of
 * pseudo-random data (splitmix64), so TLS has nothing to gain from its
 * content; it travels in RF_RPC_CHUNK (1 MiB) messages.
 *
 * The payload travels as radfed.Chunk messages (rf_chunk.h: at most
 * RF_CHUNK_DATA bytes of data each, the SHA-256 of the whole in the last
 * one, checked by the receiver), the way models and updates move:
 *   mem:  memory to memory (rf_chunk_out_mem -> rf_chunk_in_mem);
 *   file: file to file (rf_chunk_out_file -> rf_chunk_in_file: read from
 *         the page cache, written to a temporary file, fsync'ed, renamed).
 * Upload: the client streams the chunks (rf_rpc_client_client_stream), the
 * handler feeds each message to rf_chunk_in_feed and answers the length.
 * Download: the handler sends them with rf_chunk_send, the client receives
 * with rf_chunk_download. Each transfer is timed from the call to its
 * return; afterwards, untimed, the SHA-256 of what arrived is checked
 * against that of what was sent (file transfers: the receiver's check).
 * RUNS runs (default 3) of each of the four; rates from the median times.
 *
 * Prints one line of key=value pairs: upload_mb_s, download_mb_s (memory
 * to memory), file_upload_mb_s, file_download_mb_s (1 MB = 10^6 bytes),
 * payload_mb, the fastest and slowest times of the memory transfers,
 * peak_rss_mb (getrusage ru_maxrss), and mem_mb_per_cpu_s,
 * file_mb_per_cpu_s: MB moved per CPU second of the process (both ends,
 * all threads, user and system), a figure the load of a shared machine
 * does not change much. What the process holds at its peak:
 * the payload, one received copy (memory transfers; freed once checked)
 * and a few chunks; so peak RSS should stay near twice the payload.
 * bench/transport.sh puts the rates beside openssl's AES-256-GCM speed
 * from the same run.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "rf_alloc.h"
#include "rf_buf.h"
#include "rf_chunk.h"
#include "rf_crypto.h"
#include "rf_file.h"
#include "rf_rpc.h"
#include "rf_x509.h"

#define RUNS_MAX 15
#define DEADLINE_MS 600000

#define M_UPLOAD "/radfed.Bench/Upload"
#define M_DOWNLOAD "/radfed.Bench/Download"

/* Shared between main() and the handlers; the calls are sequential, so a
 * handler runs only while main() waits in the matching client call. */
struct bench {
	const uint8_t *payload; /* what the server sends */
	size_t len;
	struct rf_buf got; /* what the server received (upload) */
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

/* ---- the handlers ------------------------------------------------------- */

static enum rf_rc h_upload(struct rf_rpc_call *c, void *user,
			   struct rf_err *e)
{
	struct bench *b = user;
	struct rf_buf msg = RF_BUF_INIT(RF_CHUNK_MSG_MAX);
	struct rf_chunk_in in;
	uint8_t out[8];
	uint64_t len = 0;
	int eof = 0;
	enum rf_rc rc;

	rf_buf_reset(&b->got);
	if (b->files) {
		rc = rf_chunk_in_file(&in, b->dst, b->len, e);
	} else {
		/* one allocation of the payload's size, not a doubling
		 * series */
		rc = rf_buf_reserve(&b->got, b->len, e);
		if (rc == RF_OK)
			rc = rf_chunk_in_mem(&in, &b->got, b->len, e);
	}
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
	for (int i = 0; i < 8; i++)
		out[i] = (uint8_t)(len >> (8 * i));
	return rf_rpc_call_respond(c, out, sizeof out, e);
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
	if (rc == RF_OK)
		rc = rf_chunk_send(c, &o, e);
	rf_chunk_out_release(&o);
	return rc;
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

/* ---- the transfers ------------------------------------------------------ */

static enum rf_rc upload(struct rf_rpc_client *cli, struct bench *b,
			 struct rf_buf *resp, double *secs, struct rf_err *e)
{
	struct rf_chunk_out o;
	uint64_t len = 0;
	double t0 = now();
	enum rf_rc rc;

	if (b->files)
		rc = rf_chunk_out_file(&o, b->src, 0, e);
	else
		rc = rf_chunk_out_mem(&o, b->payload, b->len, 0, e);
	if (rc == RF_OK)
		rc = rf_rpc_client_client_stream(cli, M_UPLOAD, up_next, &o,
						 DEADLINE_MS, resp, e);
	rf_chunk_out_release(&o);
	*secs = now() - t0;
	for (int i = 7; rc == RF_OK && i >= 0 && resp->len == 8; i--)
		len = len << 8 | resp->data[i];
	if (rc == RF_OK && (resp->len != 8 || len != b->len))
		rc = rf_err_set(e, RF_EINTEGRITY,
				"the server received %llu bytes",
				(unsigned long long)len);
	return rc;
}

static enum rf_rc download(struct rf_rpc_client *cli, struct bench *b,
			   struct rf_buf *down, double *secs,
			   struct rf_err *e)
{
	struct rf_chunk_in in;
	double t0 = now();
	enum rf_rc rc;

	if (b->files) {
		rc = rf_chunk_in_file(&in, b->dst, b->len, e);
	} else {
		rf_buf_init(down, b->len);
		rc = rf_buf_reserve(down, b->len, e);
		if (rc == RF_OK)
			rc = rf_chunk_in_mem(&in, down, b->len, e);
	}
	if (rc == RF_OK)
		rc = rf_chunk_download(cli, M_DOWNLOAD, NULL, 0, DEADLINE_MS,
				       &in, NULL, NULL, e);
	rf_chunk_in_release(&in);
	*secs = now() - t0;
	return rc;
}

/* 0 when got holds the payload (by its SHA-256). */
static int check(const struct rf_buf *got, const uint8_t *want,
		 const char *what, long run)
{
	uint8_t h[RF_SHA256_LEN];

	if (rf_sha256(got->data, got->len, h, NULL) ||
	    memcmp(h, want, sizeof h) != 0) {
		fprintf(stderr, "bench_transport: %s %ld: other bytes "
			"arrived\n", what, run + 1);
		return 1;
	}
	return 0;
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
	struct bench b = {NULL, 0, RF_BUF_INIT(0), 0, "", ""};
	struct rf_buf resp = RF_BUF_INIT(64), down = RF_BUF_INIT(0);
	uint8_t *payload = NULL;
	uint8_t want[RF_SHA256_LEN];
	double up[RUNS_MAX], dn[RUNS_MAX], fup[RUNS_MAX], fdn[RUNS_MAX];
	double cpu_s[2] = {0, 0};
	char dir[] = "/tmp/bench_transport.XXXXXX", target[64];
	struct rusage ru;
	long mb = 100, runs = 3;
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
	if (rf_sha256(payload, n, want, &e)) {
		ret = die("sha-256", &e);
		goto out;
	}
	b.payload = payload;
	b.len = n;
	snprintf(b.src, sizeof b.src, "%s/payload", dir);
	snprintf(b.dst, sizeof b.dst, "%s/received", dir);
	rf_buf_init(&b.got, n);
	rf_buf_init(&down, n);

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
	if (rf_file_write_atomic(b.src, payload, n, 0600, &e)) {
		ret = die("payload file", &e);
		goto out;
	}
	for (long r = 0; r < runs; r++) {
		for (int files = 0; files < 2; files++) {
			double t_up, t_dn, c0, c1, c2, c3;

			b.files = files;
			/* each received copy goes once checked: at most one
			 * besides the payload is alive at any time */
			c0 = cpu();
			if (upload(cli, &b, &resp, &t_up, &e)) {
				ret = die("upload", &e);
				goto out;
			}
			c1 = cpu();
			if (!files && check(&b.got, want, "upload", r))
				goto out;
			rf_buf_release(&b.got);
			unlink(b.dst);
			c2 = cpu();
			if (download(cli, &b, &down, &t_dn, &e)) {
				ret = die("download", &e);
				goto out;
			}
			c3 = cpu();
			if (!files && check(&down, want, "download", r))
				goto out;
			rf_buf_release(&down);
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
	}

	qsort(up, (size_t)runs, sizeof up[0], cmp_double);
	qsort(dn, (size_t)runs, sizeof dn[0], cmp_double);
	qsort(fup, (size_t)runs, sizeof fup[0], cmp_double);
	qsort(fdn, (size_t)runs, sizeof fdn[0], cmp_double);
	getrusage(RUSAGE_SELF, &ru);
	printf("upload_mb_s=%.0f download_mb_s=%.0f file_upload_mb_s=%.0f "
	       "file_download_mb_s=%.0f payload_mb=%ld runs=%ld "
	       "upload_s_min=%.3f upload_s_max=%.3f download_s_min=%.3f "
	       "download_s_max=%.3f sha256_ok=1 peak_rss_mb=%.0f "
	       "mem_mb_per_cpu_s=%.0f file_mb_per_cpu_s=%.0f\n",
	       (double)n / 1e6 / up[runs / 2], (double)n / 1e6 / dn[runs / 2],
	       (double)n / 1e6 / fup[runs / 2],
	       (double)n / 1e6 / fdn[runs / 2], mb, runs, up[0],
	       up[runs - 1], dn[0], dn[runs - 1],
	       (double)ru.ru_maxrss / 1024.0,
	       2.0 * (double)runs * (double)n / 1e6 / cpu_s[0],
	       2.0 * (double)runs * (double)n / 1e6 / cpu_s[1]);
	ret = 0;
out:
	rf_rpc_client_destroy(cli);
	rf_rpc_server_destroy(srv);
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
