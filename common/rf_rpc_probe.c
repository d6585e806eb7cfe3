/*
 * rf_rpc_probe.c - why a call found the server unavailable.
 *
 * gRPC reports a refused TLS handshake like an unreachable server
 * (UNAVAILABLE, with a generic message). After such a failure the client
 * repeats the handshake once with OpenSSL directly, with the same CA,
 * certificate, key and expected name, and reports what OpenSSL says:
 * our verification of the server (unknown CA, expired, name mismatch), or
 * the server's alert refusing our certificate, which TLS 1.3 delivers just
 * after the handshake.
 */
#include <errno.h>
#include <netdb.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "rf_rpc_int.h"

#define PROBE_TIMEOUT_S 2
#define HOST_MAX 256

/* Splits "host:port" or "[v6]:port" (an optional "dns:" or "ipv4:" scheme
 * is skipped). */
static enum rf_rc target_split(const char *target, char host[HOST_MAX],
			       char port[16], struct rf_err *e)
{
	const char *t = target, *colon, *h, *hend;
	size_t n;

	if (strncmp(t, "dns:///", 7) == 0)
		t += 7;
	else if (strncmp(t, "dns:", 4) == 0 || strncmp(t, "ipv4:", 5) == 0 ||
		 strncmp(t, "ipv6:", 5) == 0)
		t = strchr(t, ':') + 1;
	colon = strrchr(t, ':');
	if (!colon)
		return rf_err_set(e, RF_EINVAL, "target '%s' has no port",
				  target);
	h = t;
	hend = colon;
	if (*h == '[' && hend > h + 1 && hend[-1] == ']') {
		h++;
		hend--;
	}
	n = (size_t)(hend - h);
	if (n == 0 || n >= HOST_MAX || strlen(colon + 1) == 0 ||
	    strlen(colon + 1) >= 16)
		return rf_err_set(e, RF_EINVAL, "bad target '%s'", target);
	memcpy(host, h, n);
	host[n] = '\0';
	memcpy(port, colon + 1, strlen(colon + 1) + 1);
	return RF_OK;
}

static int tcp_connect(const char *host, const char *port, struct rf_err *e)
{
	struct addrinfo hints, *res = NULL, *ai;
	struct timeval tv = {PROBE_TIMEOUT_S, 0};
	int fd = -1, err = EHOSTUNREACH;

	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	err = getaddrinfo(host, port, &hints, &res);
	if (err) {
		rf_err_set(e, RF_EIO, "cannot resolve '%s': %s", host,
			   gai_strerror(err));
		return -1;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
		if (fd < 0)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		err = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		rf_err_set(e, RF_EIO, "cannot connect to '%s:%s': %s", host,
			   port, strerror(err));
	return fd;
}

/* OpenSSL's reason for the last failure, and an empty error queue. */
static const char *ssl_reason(void)
{
	unsigned long code = ERR_peek_last_error();
	const char *r = code ? ERR_reason_error_string(code) : NULL;

	ERR_clear_error();
	return r ? r : "connection closed";
}

static enum rf_rc ctx_load(SSL_CTX *ctx, const char *ca_pem,
			   const char *cert_pem, const char *key_pem,
			   struct rf_err *e)
{
	X509_STORE *store = SSL_CTX_get_cert_store(ctx);
	BIO *bio = BIO_new_mem_buf(ca_pem, -1);
	X509 *x = NULL;
	EVP_PKEY *k = NULL;
	int n = 0;

	if (!bio)
		return rf_err_set(e, RF_ENOMEM, "out of memory");
	while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		X509_STORE_add_cert(store, x);
		X509_free(x);
		n++;
	}
	BIO_free(bio);
	ERR_clear_error();
	if (n == 0)
		return rf_err_set(e, RF_ECRYPTO, "no CA certificate");
	if (!cert_pem)
		return RF_OK;
	bio = BIO_new_mem_buf(cert_pem, -1);
	x = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
	BIO_free(bio);
	bio = BIO_new_mem_buf(key_pem, -1);
	k = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
	BIO_free(bio);
	if (!x || !k || SSL_CTX_use_certificate(ctx, x) != 1 ||
	    SSL_CTX_use_PrivateKey(ctx, k) != 1) {
		X509_free(x);
		EVP_PKEY_free(k);
		return rf_err_set(e, RF_ECRYPTO,
				  "unusable client certificate or key: %s",
				  ssl_reason());
	}
	X509_free(x);
	EVP_PKEY_free(k);
	return RF_OK;
}

enum rf_rc rf__rpc_probe(const char *target, const char *server_name,
			 const char *ca_pem, const char *cert_pem,
			 const char *key_pem, int *refused_us,
			 struct rf_err *e)
{
	static const unsigned char alpn[] = "\x02h2";
	char host[HOST_MAX], port[16];
	const char *name;
	SSL_CTX *ctx = NULL;
	SSL *ssl = NULL;
	unsigned char byte;
	long v;
	int fd = -1, r;
	enum rf_rc rc;

	*refused_us = 0;
	rc = target_split(target, host, port, e);
	if (rc)
		return rc;
	name = server_name ? server_name : host;
	fd = tcp_connect(host, port, e);
	if (fd < 0)
		return RF_EIO;
	ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx) {
		rc = rf_err_set(e, RF_ENOMEM, "out of memory");
		goto out;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	rc = ctx_load(ctx, ca_pem, cert_pem, key_pem, e);
	if (rc)
		goto out;
	ssl = SSL_new(ctx);
	if (!ssl || SSL_set_fd(ssl, fd) != 1 ||
	    SSL_set_alpn_protos(ssl, alpn, sizeof alpn - 1) != 0 ||
	    SSL_set1_host(ssl, name) != 1) {
		rc = rf_err_set(e, RF_ENOMEM, "cannot set up TLS: %s",
				ssl_reason());
		goto out;
	}
	SSL_set_tlsext_host_name(ssl, name);
	if (SSL_connect(ssl) != 1) {
		v = SSL_get_verify_result(ssl);
		if (v != X509_V_OK)
			rc = rf_err_set(e, RF_EAUTH,
					"server certificate refused for '%s': "
					"%s", name,
					X509_verify_cert_error_string(v));
		else
			rc = rf_err_set(e, RF_EAUTH, "%s", ssl_reason());
		goto out;
	}
	/* TLS 1.3: the server checks our certificate after the handshake and
	 * answers with an alert, or with its HTTP/2 settings if content */
	r = SSL_read(ssl, &byte, 1);
	if (r > 0) {
		rc = RF_OK;
	} else if (SSL_get_error(ssl, r) == SSL_ERROR_SSL) {
		/* an alert, or the connection closed without one */
		*refused_us = 1;
		rc = rf_err_set(e, RF_EAUTH,
				"the server refused %s (%s)",
				cert_pem ? "the client certificate"
					 : "a caller without a certificate",
				ssl_reason());
	} else {
		ERR_clear_error();
		rc = RF_OK; /* timeout or close: nothing to add */
	}
out:
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	if (fd >= 0)
		close(fd);
	return rc;
}

enum rf_rc rf__rpc_pem_check(const char *cert_pem, const char *key_pem,
			     const char *ca_pem, struct rf_err *e)
{
	BIO *bio = NULL;
	X509 *x = NULL, *ca = NULL;
	EVP_PKEY *k = NULL;
	enum rf_rc rc = RF_OK;

	bio = BIO_new_mem_buf(ca_pem, -1);
	ca = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
	BIO_free(bio);
	if (!ca) {
		rc = rf_err_set(e, RF_ECRYPTO, "unusable CA certificate: %s",
				ssl_reason());
		goto out;
	}
	if (!cert_pem)
		goto out;
	bio = BIO_new_mem_buf(cert_pem, -1);
	x = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
	BIO_free(bio);
	if (!x) {
		rc = rf_err_set(e, RF_ECRYPTO, "unusable certificate: %s",
				ssl_reason());
		goto out;
	}
	bio = BIO_new_mem_buf(key_pem, -1);
	k = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
	BIO_free(bio);
	if (!k) {
		rc = rf_err_set(e, RF_ECRYPTO, "unusable private key: %s",
				ssl_reason());
		goto out;
	}
	if (X509_check_private_key(x, k) != 1)
		rc = rf_err_set(e, RF_ECRYPTO,
				"the private key does not match the "
				"certificate: %s", ssl_reason());
out:
	X509_free(x);
	X509_free(ca);
	EVP_PKEY_free(k);
	ERR_clear_error();
	return rc;
}
