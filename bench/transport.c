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
 * One run: the client uploads the payload (rf_rpc_client_upload), the
 * handler reassembles it (rf_rpc_call_read_all) and answers its length;
 * then the client downloads it (rf_rpc_client_download), the handler
 * sending it with rf_rpc_call_send_chunked. Each transfer is timed from the
 * call to its return; afterwards, untimed, the SHA-256 of what arrived is
 * checked against that of what was sent. RUNS runs (default 3); the rates
 * come from the median time of each direction.
 *
 * Prints one line of key=value pairs: upload_mb_s, download_mb_s (1 MB =
 * 10^6 bytes), payload_mb, the fastest and slowest times of each
 * direction, and peak_rss_mb (getrusage ru_maxrss). What the process holds
 * at its peak: the payload, one reassembled copy (the server's upload or
 * the client's download, each freed once checked) and gRPC's buffers, a
 * few chunks; so peak RSS should stay near twice the payload.
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
};

struct cred {
	struct rf_buf cert; /* PEM */
	struct rf_buf key;  /* PEM */
};

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
	uint8_t out[8];
	enum rf_rc rc;

	rf_buf_reset(&b->got);
	/* one allocation of the payload's size, not a doubling series */
	rc = rf_buf_reserve(&b->got, b->len, e);
	if (rc == RF_OK)
		rc = rf_rpc_call_read_all(c, &b->got, e);
	if (rc != RF_OK)
		return rc;
	for (int i = 0; i < 8; i++)
		out[i] = (uint8_t)((uint64_t)b->got.len >> (8 * i));
	return rf_rpc_call_respond(c, out, sizeof out, e);
}

static enum rf_rc h_download(struct rf_rpc_call *c, void *user,
			     struct rf_err *e)
{
	struct bench *b = user;

	return rf_rpc_call_send_chunked(c, b->payload, b->len, e);
}

static const char *const roles_site[] = {"site", NULL};

static const struct rf_rpc_method methods[] = {
	{M_UPLOAD, RF_RPC_CLIENT_STREAM, 0, roles_site, RF_RPC_CHUNK,
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
	struct bench b = {NULL, 0, RF_BUF_INIT(0)};
	struct rf_buf resp = RF_BUF_INIT(64), down = RF_BUF_INIT(0);
	uint8_t *payload = NULL;
	uint8_t want[RF_SHA256_LEN], got[RF_SHA256_LEN];
	double up[RUNS_MAX], dn[RUNS_MAX], t0;
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
	for (long r = 0; r < runs; r++) {
		uint64_t len = 0;

		t0 = now();
		if (rf_rpc_client_upload(cli, M_UPLOAD, payload, n,
					 DEADLINE_MS, &resp, &e)) {
			ret = die("upload", &e);
			goto out;
		}
		up[r] = now() - t0;
		for (int i = 7; i >= 0 && resp.len == 8; i--)
			len = len << 8 | resp.data[i];
		if (resp.len != 8 || len != n ||
		    rf_sha256(b.got.data, b.got.len, got, &e) ||
		    memcmp(got, want, sizeof want) != 0) {
			fprintf(stderr, "bench_transport: upload %ld: the "
				"server received other bytes\n", r + 1);
			goto out;
		}
		/* the server's copy goes before the download starts */
		rf_buf_release(&b.got);

		/* one allocation of the payload's size, not a doubling
		 * series; the client's copy goes after the check, so at most
		 * one copy besides the payload is alive at any time */
		if (rf_buf_reserve(&down, n, &e)) {
			ret = die("download buffer", &e);
			goto out;
		}
		t0 = now();
		if (rf_rpc_client_download(cli, M_DOWNLOAD, NULL, 0,
					   DEADLINE_MS, &down, &e)) {
			ret = die("download", &e);
			goto out;
		}
		dn[r] = now() - t0;
		if (down.len != n || rf_sha256(down.data, down.len, got, &e) ||
		    memcmp(got, want, sizeof want) != 0) {
			fprintf(stderr, "bench_transport: download %ld: the "
				"client received other bytes\n", r + 1);
			goto out;
		}
		rf_buf_release(&down);
	}

	qsort(up, (size_t)runs, sizeof up[0], cmp_double);
	qsort(dn, (size_t)runs, sizeof dn[0], cmp_double);
	getrusage(RUSAGE_SELF, &ru);
	printf("upload_mb_s=%.0f download_mb_s=%.0f payload_mb=%ld runs=%ld "
	       "upload_s_min=%.3f upload_s_max=%.3f download_s_min=%.3f "
	       "download_s_max=%.3f sha256_ok=1 peak_rss_mb=%.0f\n",
	       (double)n / 1e6 / up[runs / 2], (double)n / 1e6 / dn[runs / 2],
	       mb, runs, up[0], up[runs - 1], dn[0], dn[runs - 1],
	       (double)ru.ru_maxrss / 1024.0);
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
	rmdir(dir);
	return ret;
}
