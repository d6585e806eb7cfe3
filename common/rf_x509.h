/*
 * rf_x509.h - the X.509 certificates of the consortium: a self-signed CA,
 * certificate signing requests, certificates issued from them, PEM files,
 * fingerprints, and verification against the CA.
 *
 * Keys are ECDSA P-256 (struct rf_key of type RF_KEY_P256, rf_crypto.h),
 * signed with SHA-256: ecdsa_secp256r1_sha256 is a signature scheme every
 * TLS 1.3 implementation must support (RFC 8446 section 9.1), whereas
 * Ed25519 is optional there and left disabled by default by some TLS
 * libraries and gRPC builds. So the certificates work with gRPC core over
 * OpenSSL and with any other TLS 1.3 peer. Ed25519 stays the key of
 * radfed's own signatures (an Ed25519 key is accepted wherever a key is
 * taken here, for tooling, but radfed itself issues P-256).
 *
 * What an issued certificate carries: subject CN (the site or user name) and
 * OU (its role: "site", "researcher", "auditor", "aggregator"...), a random
 * positive 128-bit serial, the validity window, basicConstraints CA:FALSE,
 * keyUsage digitalSignature, extKeyUsage clientAuth and/or serverAuth,
 * subjectAltName DNS for servers, and the subject and authority key
 * identifiers. The CA has CA:TRUE, pathlen 0, keyUsage keyCertSign and
 * cRLSign.
 *
 * Failures: RF_EINVAL for bad arguments, RF_ECRYPTO for OpenSSL failures and
 * unparsable input (with OpenSSL's reason), RF_EIO for files, RF_EAUTH when
 * verification refuses a certificate. Objects are heap objects, read-only
 * after creation: they may be shared between threads for reading.
 *
 * Must not use: OpenSSL's deprecated interfaces, any allocator but rf_alloc
 * for radfed's memory, the openssl command or configuration files.
 */
#ifndef RF_X509_H
#define RF_X509_H

#include <stddef.h>
#include <stdint.h>

#include "rf_buf.h"
#include "rf_crypto.h"
#include "rf_err.h"

/* A CN or OU is 1..64 bytes (RFC 5280 upper bounds) of printable ASCII,
 * without '/', '\\', ',', '+', '=', '"', '<', '>', ';' or control bytes. */
#define RF_X509_NAME_MAX 64
/* SHA-256 fingerprint: 64 lowercase hex digits and a NUL. */
#define RF_X509_FP_SIZE 65
/* PEM files bigger than this are refused (RF_ETOOBIG). */
#define RF_X509_PEM_MAX (256 * 1024)

struct rf_x509;     /* a certificate */
struct rf_x509_req; /* a certificate signing request (PKCS#10) */

/* What rf_x509_issue puts in a certificate. */
#define RF_X509_CLIENT 1u /* extKeyUsage clientAuth */
#define RF_X509_SERVER 2u /* extKeyUsage serverAuth (needs dns) */

struct rf_x509_issue_params {
	const char *cn;     /* subject CN; NULL: the CN of the request */
	const char *role;   /* subject OU, required */
	const char *dns;    /* subjectAltName: one name or up to 16 names
			    * separated by commas ("agg.example.org,
			    * localhost,127.0.0.1"), each of letters,
			    * digits, '-', '.' only; dotted-quad IPv4
			    * addresses become IP entries, the others DNS
			    * entries. Required for servers. */
	unsigned usage;     /* RF_X509_CLIENT and/or RF_X509_SERVER */
	int64_t not_before; /* validity window, seconds since 1970 UTC */
	int64_t not_after;
};

/* A self-signed CA certificate with subject CN=cn, valid from not_before to
 * not_after (seconds since 1970 UTC, not_before < not_after), signed by
 * ca_key (private, P-256 or Ed25519). *out is NULL on failure. */
enum rf_rc rf_x509_ca_create(const struct rf_key *ca_key, const char *cn,
			     int64_t not_before, int64_t not_after,
			     struct rf_x509 **out, struct rf_err *e) RF_WUR;

/* A request for CN=cn, carrying key's public half and signed by key
 * (private, P-256 or Ed25519). *out is NULL on failure. */
enum rf_rc rf_x509_req_create(const struct rf_key *key, const char *cn,
			      struct rf_x509_req **out,
			      struct rf_err *e) RF_WUR;

/* Appends the request as PEM text to out (the wire and file form). On
 * failure out is unchanged. */
enum rf_rc rf_x509_req_pem(const struct rf_x509_req *req, struct rf_buf *out,
			   struct rf_err *e) RF_WUR;

/* Parses a PEM request of len bytes (at most RF_X509_PEM_MAX, else
 * RF_ETOOBIG). Does not check its signature: rf_x509_issue does. */
enum rf_rc rf_x509_req_parse_pem(const char *pem, size_t len,
				 struct rf_x509_req **out,
				 struct rf_err *e) RF_WUR;

/* Copies the request's CN (UTF-8) into out, NUL-terminated. RF_ENOTFOUND
 * when it has none, RF_EINVAL when out is too small (RF_X509_NAME_MAX + 1
 * fits every name radfed issues) or the CN holds a NUL or control byte. */
enum rf_rc rf_x509_req_cn(const struct rf_x509_req *req, char *out,
			  size_t out_size, struct rf_err *e) RF_WUR;

/* Frees req. Accepts NULL. */
void rf_x509_req_destroy(struct rf_x509_req *req);

/* Issues a certificate for the key in req, signed by ca_key under the CA
 * certificate ca, as described by p. RF_EAUTH when the request's own
 * signature does not verify (no proof of possession of the key), RF_EINVAL
 * for invalid parameters (names, usage, window, a server without dns, a ca
 * that is not a CA certificate, a ca_key that does not match ca),
 * RF_EUNSUPPORTED when the requested key is neither P-256 nor Ed25519. *out
 * is NULL on failure. */
enum rf_rc rf_x509_issue(const struct rf_x509 *ca, const struct rf_key *ca_key,
			 const struct rf_x509_req *req,
			 const struct rf_x509_issue_params *p,
			 struct rf_x509 **out, struct rf_err *e) RF_WUR;

/* Appends the certificate as PEM text to out. On failure out is
 * unchanged. */
enum rf_rc rf_x509_pem(const struct rf_x509 *cert, struct rf_buf *out,
		       struct rf_err *e) RF_WUR;

/* Parses the first PEM certificate in len bytes (at most RF_X509_PEM_MAX). */
enum rf_rc rf_x509_parse_pem(const char *pem, size_t len, struct rf_x509 **out,
			     struct rf_err *e) RF_WUR;

/* Writes the certificate as PEM to path atomically (temporary file, fsync,
 * rename; mode 0644): path keeps its old contents on failure. */
enum rf_rc rf_x509_save_pem(const struct rf_x509 *cert, const char *path,
			    struct rf_err *e) RF_WUR;

/* Loads the first certificate of a PEM file (at most RF_X509_PEM_MAX
 * bytes). RF_EIO when it cannot be read, RF_ECRYPTO when it holds no
 * certificate. */
enum rf_rc rf_x509_load_pem(const char *path, struct rf_x509 **out,
			    struct rf_err *e) RF_WUR;

/* The SHA-256 of the certificate's DER encoding as 64 lowercase hex digits
 * without separators (what `openssl x509 -fingerprint -sha256` prints, in
 * lower case and without colons). */
enum rf_rc rf_x509_fingerprint(const struct rf_x509 *cert,
			       char out[RF_X509_FP_SIZE],
			       struct rf_err *e) RF_WUR;

/* Copies the subject CN (resp. OU) into out, as rf_x509_req_cn. */
enum rf_rc rf_x509_cn(const struct rf_x509 *cert, char *out, size_t out_size,
		      struct rf_err *e) RF_WUR;
enum rf_rc rf_x509_ou(const struct rf_x509 *cert, char *out, size_t out_size,
		      struct rf_err *e) RF_WUR;

/* The end of the validity window, in seconds since 1970 UTC. */
enum rf_rc rf_x509_not_after(const struct rf_x509 *cert, int64_t *out,
			     struct rf_err *e) RF_WUR;

/* A new reference to the certificate's public key (P-256 or Ed25519, public
 * only); free it with rf_key_destroy. */
enum rf_rc rf_x509_public_key(const struct rf_x509 *cert, struct rf_key **out,
			      struct rf_err *e) RF_WUR;

/* RF_OK when cert was issued by ca (signature, issuer name) and both were
 * valid at time `at` (seconds since 1970 UTC): not_before <= at < not_after,
 * OpenSSL's rule. cert may be ca itself. Else
 * RF_EAUTH with a message naming the certificate and what failed, e.g.
 * "certificate 'site-a' expired on 2026-01-02 03:04:05 UTC" or
 * "certificate 'site-a' was not issued by 'radfed CA': ...". */
enum rf_rc rf_x509_verify(const struct rf_x509 *cert, const struct rf_x509 *ca,
			  int64_t at, struct rf_err *e) RF_WUR;

/* Frees cert. Accepts NULL. */
void rf_x509_destroy(struct rf_x509 *cert);

#endif
