/* test_xfer_big.c - 100 MB each way, file to file, over loopback mutual
 * TLS, with the client in a forked process: down through rf_chunk_send /
 * rf_chunk_download, up as UpdatePart-wrapped chunks (wrap 2) through
 * rf_rpc_client_client_stream into a file receiver. The files and their
 * hashes arrive intact (checked against sha256sum), and the peak resident
 * memory of each side stays bounded (a few chunks and gRPC's window, not
 * the payload). Memory is not timing: the bound is an assertion. */
#include "rf_test.h"
#include "rf_test_pki.h"

#include <sys/resource.h>
#include <time.h>

#include "rf_buf.h"
#include "rf_chunk.h"
#include "rf_file.h"
#include "rf_rpc.h"
#include "rf_x509.h"

#define PAYLOAD (100u * 1000 * 1000) /* 100 MB */
/* growth of the peak RSS allowed to each side during the transfer */
#define RSS_BOUND_KIB (64 * 1024)

#if defined(__SANITIZE_ADDRESS__)
/* ASan keeps freed memory in quarantine (256 MiB by default), which would
 * count as resident; a small quarantine still catches use after free of
 * the last chunks. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "quarantine_size_mb=8";
}
#endif

static struct {
	char dir[600];
	char src[700];
	char dst[700];
	char up[700];
	char *ca_pem;
	struct rf_test_cred server, site;
} fx;

static long peak_rss_kib(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return -1;
	return ru.ru_maxrss; /* KiB on Linux */
}

/* Writes the payload 1 MiB at a time (never whole in memory). */
static void payload_write(const char *path)
{
	FILE *f = fopen(path, "wb");
	static uint8_t block[1u << 20];
	size_t done = 0;

	assert_non_null(f);
	while (done < PAYLOAD) {
		size_t k = PAYLOAD - done < sizeof block ? PAYLOAD - done
							  : sizeof block;

		for (size_t i = 0; i < k; i++)
			block[i] = (uint8_t)(((uint32_t)(done + i) *
					      2654435761u) >> 24);
		assert_int_equal(fwrite(block, 1, k, f), k);
		done += k;
	}
	assert_int_equal(fclose(f), 0);
}

/* The SHA-256 of path by coreutils' sha256sum, independent of radfed. */
static void sha256sum(const char *path, char hex[65])
{
	char cmd[800];
	FILE *p;

	snprintf(cmd, sizeof cmd, "sha256sum '%s'", path);
	p = popen(cmd, "r");
	assert_non_null(p);
	assert_non_null(fgets(hex, 65, p));
	assert_int_equal(strlen(hex), 64);
	pclose(p);
}

static enum rf_rc h_get(struct rf_rpc_call *c, void *user, struct rf_err *e)
{
	struct rf_chunk_out o;
	enum rf_rc rc;

	(void)user;
	rc = rf_chunk_out_file(&o, fx.src, 0, e);
	if (rc == RF_OK)
		rc = rf_chunk_send(c, &o, e);
	rf_chunk_out_release(&o);
	return rc;
}

/* Receives UpdatePart{chunk} messages into fx.up; answers the length. */
static enum rf_rc h_put(struct rf_rpc_call *c, void *user, struct rf_err *e)
{
	struct rf_buf msg = RF_BUF_INIT(RF_CHUNK_MSG_MAX);
	struct rf_chunk_in in;
	uint64_t len = 0;
	int eof = 0;
	enum rf_rc rc;

	(void)user;
	rc = rf_chunk_in_file(&in, fx.up, PAYLOAD, e);
	while (rc == RF_OK) {
		const uint8_t *p;
		uint64_t k;
		size_t hdr;

		rc = rf_rpc_call_read(c, &msg, &eof, e);
		if (rc || eof)
			break;
		/* unwrap field 2: one tag byte, a varint length */
		p = msg.data + 1;
		k = 0;
		for (hdr = 0; hdr < 5 && 1 + hdr < msg.len; hdr++) {
			k |= (uint64_t)(p[hdr] & 0x7f) << (7 * hdr);
			if (!(p[hdr] & 0x80))
				break;
		}
		hdr += 2;
		if (msg.len < 2 || msg.data[0] != 0x12 || hdr > msg.len ||
		    k != msg.len - hdr)
			rc = rf_err_set(e, RF_EPROTO, "not an UpdatePart");
		else
			rc = rf_chunk_in_feed(&in, msg.data + hdr,
					      (size_t)k, e);
	}
	if (rc == RF_OK)
		rc = rf_chunk_in_finish(&in, NULL, &len, e);
	rf_chunk_in_release(&in);
	rf_buf_release(&msg);
	if (rc == RF_OK)
		rc = rf_rpc_call_respond(c, &len, sizeof len, e);
	return rc;
}

static const char *const roles_site[] = {"site", NULL};

static const struct rf_rpc_method methods[] = {
	{"/t.Fed/GetModel", RF_RPC_SERVER_STREAM, 0, roles_site, 64, h_get},
	{"/t.Fed/Upload", RF_RPC_CLIENT_STREAM, 0, roles_site,
	 RF_CHUNK_MSG_MAX, h_put},
};

static enum rf_rc up_next(const uint8_t **p, size_t *n, void *ctx,
			  struct rf_err *e)
{
	int last;

	return rf_chunk_out_next(ctx, p, n, &last, e);
}

/* what the client process reports to the test */
struct report {
	int rc;
	char msg[RF_ERR_MSG_MAX];
	char hex[2 * RF_SHA256_LEN + 1];
	uint64_t bytes;
	long rss_before, rss_after;
	int up_rc;
	char up_msg[RF_ERR_MSG_MAX];
	uint64_t up_bytes;
};

/* The client process: waits for the port, downloads, reports. */
static void client_main(int port_fd, int report_fd)
{
	struct report r;
	struct rf_rpc_client_opts o = {0};
	struct rf_rpc_client *c = NULL;
	struct rf_chunk_in in;
	char target[64];
	int port = 0;
	struct rf_err e = {0};

	memset(&r, 0, sizeof r);
	if (read(port_fd, &port, sizeof port) != sizeof port)
		_exit(3);
	snprintf(target, sizeof target, "127.0.0.1:%d", port);
	o.target = target;
	o.ca_pem = fx.ca_pem;
	o.cert_pem = fx.site.cert;
	o.key_pem = fx.site.key;
	o.server_name = "localhost";
	r.rc = rf_rpc_client_create(&o, &c, &e);
	if (r.rc == RF_OK)
		r.rc = rf_chunk_in_file(&in, fx.dst, PAYLOAD, &e);
	if (r.rc == RF_OK) {
		r.rss_before = peak_rss_kib();
		r.rc = rf_chunk_download(c, "/t.Fed/GetModel", "", 0, 600000,
					 &in, r.hex, &r.bytes, &e);
		rf_chunk_in_release(&in);
	}
	snprintf(r.msg, sizeof r.msg, "%s", rf_err_msg(&e));
	if (r.rc == RF_OK) {
		struct rf_chunk_out out;
		struct rf_buf resp = RF_BUF_INIT(64);

		rf_err_clear(&e);
		r.up_rc = rf_chunk_out_file(&out, fx.src, 2, &e);
		if (r.up_rc == RF_OK)
			r.up_rc = rf_rpc_client_client_stream(
				c, "/t.Fed/Upload", up_next, &out, 600000,
				&resp, &e);
		if (r.up_rc == RF_OK && resp.len == sizeof r.up_bytes)
			memcpy(&r.up_bytes, resp.data, sizeof r.up_bytes);
		snprintf(r.up_msg, sizeof r.up_msg, "%s", rf_err_msg(&e));
		rf_chunk_out_release(&out);
		rf_buf_release(&resp);
	}
	r.rss_after = peak_rss_kib();
	rf_rpc_client_destroy(c);
	if (write(report_fd, &r, sizeof r) != sizeof r)
		_exit(4);
	_exit(0);
}

static void test_100mb(void **state)
{
	struct rf_key *ca_key = NULL;
	struct rf_x509 *ca = NULL;
	int64_t now = (int64_t)time(NULL);
	struct rf_rpc_server_opts so = {0};
	struct rf_rpc_server *srv = NULL;
	int port_pipe[2], report_pipe[2], port, st;
	char want[65], got[65];
	struct report r;
	long srv_before, srv_after;
	struct stat sb;
	pid_t pid;
	struct rf_err e = {0};

	(void)state;
	snprintf(fx.dir, sizeof fx.dir, "%s", rf_test_tmpdir("xfer_big"));
	snprintf(fx.src, sizeof fx.src, "%s/src.bin", fx.dir);
	snprintf(fx.dst, sizeof fx.dst, "%s/dst.bin", fx.dir);
	snprintf(fx.up, sizeof fx.up, "%s/up.bin", fx.dir);
	RF_ASSERT_OK(rf_key_generate(RF_KEY_P256, &ca_key, NULL));
	RF_ASSERT_OK(rf_x509_ca_create(ca_key, "xfer CA", now - 3600,
				       now + 86400, &ca, NULL));
	fx.ca_pem = rf_test_pem_of_cert(ca);
	rf_test_cred_now(&fx.server, ca, ca_key, "aggregator", "aggregator",
			 "localhost", RF_X509_SERVER, fx.dir);
	rf_test_cred_now(&fx.site, ca, ca_key, "site-a", "site", NULL,
			 RF_X509_CLIENT, fx.dir);
	rf_x509_destroy(ca);
	rf_key_destroy(ca_key);
	payload_write(fx.src);
	sha256sum(fx.src, want);

	/* fork before either side starts gRPC: each process has its own */
	assert_int_equal(pipe(port_pipe), 0);
	assert_int_equal(pipe(report_pipe), 0);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(port_pipe[1]);
		close(report_pipe[0]);
		client_main(port_pipe[0], report_pipe[1]);
	}
	close(port_pipe[0]);
	close(report_pipe[1]);

	so.listen = "127.0.0.1:0";
	so.cert_pem = fx.server.cert;
	so.key_pem = fx.server.key;
	so.ca_pem = fx.ca_pem;
	so.methods = methods;
	so.n_methods = sizeof methods / sizeof methods[0];
	so.workers = 2;
	RF_ASSERT_OK_E(rf_rpc_server_create(&so, &srv, &e), &e);
	srv_before = peak_rss_kib();
	port = rf_rpc_server_port(srv);
	assert_int_equal(write(port_pipe[1], &port, sizeof port),
			 sizeof port);
	assert_int_equal(read(report_pipe[0], &r, sizeof r), sizeof r);
	srv_after = peak_rss_kib();
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	rf_rpc_server_destroy(srv);
	close(port_pipe[1]);
	close(report_pipe[0]);

	print_message("server peak RSS: %ld KiB before, %ld KiB after "
		      "(+%ld KiB)\n", srv_before, srv_after,
		      srv_after - srv_before);
	print_message("client peak RSS: %ld KiB before, %ld KiB after "
		      "(+%ld KiB)\n", r.rss_before, r.rss_after,
		      r.rss_after - r.rss_before);
	if (r.rc != RF_OK)
		fail_msg("download: %s: %s", rf_rc_name(r.rc), r.msg);
	assert_int_equal(r.bytes, PAYLOAD);
	assert_string_equal(r.hex, want);
	assert_int_equal(stat(fx.dst, &sb), 0);
	assert_int_equal(sb.st_size, PAYLOAD);
	sha256sum(fx.dst, got);
	assert_string_equal(got, want);
	if (r.up_rc != RF_OK)
		fail_msg("upload: %s: %s", rf_rc_name(r.up_rc), r.up_msg);
	assert_int_equal(r.up_bytes, PAYLOAD);
	sha256sum(fx.up, got);
	assert_string_equal(got, want);
	assert_true(srv_after - srv_before < RSS_BOUND_KIB);
	assert_true(r.rss_after - r.rss_before < RSS_BOUND_KIB);

	unlink(fx.src);
	unlink(fx.dst);
	unlink(fx.up);
	free(fx.ca_pem);
	rf_test_cred_free(&fx.server);
	rf_test_cred_free(&fx.site);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_100mb),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
