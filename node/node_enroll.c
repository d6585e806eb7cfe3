/* node_enroll.c - enrolling a site or a person with the consortium. */
#include "node_enroll.h"

#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "node_site.h"
#include "radfed.pb-c.h"
#include "rf_alloc.h"
#include "rf_audit.h"
#include "rf_audit_events.h"
#include "rf_buf.h"
#include "rf_config.h"
#include "rf_crypto.h"
#include "rf_file.h"
#include "rf_log.h"
#include "rf_pb.h"

#define ENROLL_PATH "/radfed.Enrollment/Enroll"
#define FETCH_TIMEOUT_S 5
#define HOST_MAX 256
#define DATA_MAX 2048
#define KEY_PEM_MAX 65536
#define RESPONSE_MAX (64 * 1024)
#define TARGET_MAX 300

/* The name rule of the consortium: 1 to 64 of A-Z a-z 0-9 . _ @ -,
 * starting with a letter or a digit (the aggregator checks it again). */
static int name_valid(const char *name)
{
	size_t n = strlen(name), i;

	if (n == 0 || n > RF_X509_NAME_MAX)
		return 0;
	for (i = 0; i < n; i++) {
		char ch = name[i];
		int alnum = (ch >= 'a' && ch <= 'z') ||
			    (ch >= 'A' && ch <= 'Z') ||
			    (ch >= '0' && ch <= '9');

		if (i == 0 && !alnum)
			return 0;
		if (!alnum && !strchr("._@-", ch))
			return 0;
	}
	return 1;
}

static int is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
	       (c >= 'A' && c <= 'F');
}

/* 64 hex digits, ':' separators allowed, into lowercase out. */
static enum rf_rc fp_normalise(const char *in, char out[RF_X509_FP_SIZE],
			       struct rf_err *e)
{
	size_t n = 0;
	const char *p;

	for (p = in; *p; p++) {
		if (*p == ':')
			continue;
		if (!is_hex(*p) || n == RF_X509_FP_SIZE - 1)
			return rf_err_set(e, RF_EINVAL,
					  "malformed CA fingerprint '%.80s': "
					  "want 64 hex digits",
					  in);
		out[n++] = (char)(*p >= 'A' && *p <= 'F' ? *p + 32 : *p);
	}
	if (n != RF_X509_FP_SIZE - 1)
		return rf_err_set(e, RF_EINVAL,
				  "malformed CA fingerprint '%.80s': want 64 "
				  "hex digits",
				  in);
	out[n] = '\0';
	return RF_OK;
}

/* Splits "host:port" or "[v6]:port". */
static enum rf_rc target_split(const char *t, char host[HOST_MAX],
			       char port[16], struct rf_err *e)
{
	const char *colon = strrchr(t, ':'), *h = t, *hend;
	size_t n;

	if (!colon)
		return rf_err_set(e, RF_EINVAL,
				  "aggregator address '%.80s' must be "
				  "HOST:PORT",
				  t);
	hend = colon;
	if (*h == '[' && hend > h + 1 && hend[-1] == ']') {
		h++;
		hend--;
	}
	n = (size_t)(hend - h);
	if (n == 0 || n >= HOST_MAX || strlen(colon + 1) == 0 ||
	    strlen(colon + 1) >= 16 || strspn(colon + 1, "0123456789") !=
					   strlen(colon + 1))
		return rf_err_set(e, RF_EINVAL,
				  "aggregator address '%.80s' must be "
				  "HOST:PORT",
				  t);
	memcpy(host, h, n);
	host[n] = '\0';
	memcpy(port, colon + 1, strlen(colon + 1) + 1);
	return RF_OK;
}

static int tcp_connect(const char *host, const char *port, struct rf_err *e)
{
	struct addrinfo hints, *res = NULL, *ai;
	struct timeval tv = { FETCH_TIMEOUT_S, 0 };
	int fd = -1, err;

	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	err = getaddrinfo(host, port, &hints, &res);
	if (err) {
		rf_err_set(e, RF_EIO, "cannot resolve '%s': %s", host,
			   gai_strerror(err));
		return -1;
	}
	err = EHOSTUNREACH;
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

/* Appends the PEM of the certificate with SHA-256 fingerprint pin among
 * those the server presents in a TLS handshake to out (NUL-terminated).
 * Nothing is verified and nothing is sent on this connection. */
static enum rf_rc fetch_pinned_ca(const char *target, const char *sname,
				  const char *pin, struct rf_buf *out,
				  struct rf_err *e)
{
	static const unsigned char alpn[] = "\x02h2";
	char host[HOST_MAX], port[16], hex[RF_X509_FP_SIZE];
	uint8_t md[RF_SHA256_LEN];
	STACK_OF(X509) *chain;
	SSL_CTX *ctx = NULL;
	SSL *ssl = NULL;
	BIO *bio = NULL;
	X509 *found = NULL;
	unsigned char *der;
	char *pem;
	long pem_len;
	int fd = -1, i, len;
	enum rf_rc rc;

	rc = target_split(target, host, port, e);
	if (rc)
		return rc;
	fd = tcp_connect(host, port, e);
	if (fd < 0)
		return RF_EIO;
	ctx = SSL_CTX_new(TLS_client_method());
	ssl = ctx ? SSL_new(ctx) : NULL;
	if (!ssl || SSL_set_fd(ssl, fd) != 1 ||
	    SSL_set_alpn_protos(ssl, alpn, sizeof alpn - 1) != 0 ||
	    SSL_set_tlsext_host_name(ssl, sname) != 1) {
		rc = rf_err_set(e, RF_ECRYPTO, "cannot set up TLS");
		goto out;
	}
	SSL_set_verify(ssl, SSL_VERIFY_NONE, NULL);
	if (SSL_connect(ssl) != 1) {
		rc = rf_err_set(e, RF_EAUTH,
				"TLS handshake with '%s' failed", target);
		goto out;
	}
	chain = SSL_get_peer_cert_chain(ssl);
	for (i = 0; chain && i < sk_X509_num(chain) && !found; i++) {
		X509 *x = sk_X509_value(chain, i);

		der = NULL;
		len = i2d_X509(x, &der);
		if (len <= 0)
			continue;
		rc = rf_sha256(der, (size_t)len, md, e);
		OPENSSL_free(der);
		if (!rc)
			rc = rf_hex_encode(md, sizeof md, hex, sizeof hex, e);
		if (rc)
			goto out;
		if (rf_ct_equal(hex, pin, RF_X509_FP_SIZE - 1))
			found = x;
	}
	if (!found) {
		rc = rf_err_set(e, RF_EAUTH,
				"the aggregator at '%s' presents no CA "
				"certificate with fingerprint %s",
				target, pin);
		goto out;
	}
	bio = BIO_new(BIO_s_mem());
	if (!bio || PEM_write_bio_X509(bio, found) != 1) {
		rc = rf_err_set(e, RF_ECRYPTO, "cannot encode the CA");
		goto out;
	}
	pem_len = BIO_get_mem_data(bio, &pem);
	rc = rf_buf_append(out, pem, (size_t)pem_len, e);
	if (!rc)
		rc = rf_buf_putc(out, '\0', e);
out:
	ERR_clear_error();
	BIO_free(bio);
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	if (fd >= 0)
		close(fd);
	return rc;
}

/* ---- the folder --------------------------------------------------------- */

static enum rf_rc make_dir(const char *dir, const char *sub, struct rf_err *e)
{
	char p[PATH_MAX];
	enum rf_rc rc = rf_path_join(p, sizeof p, dir, sub, e);

	return rc ? rc : rf_mkdirs(p, 0700, e);
}

/* The audit key of the folder, made when missing. */
static enum rf_rc audit_key(const char *dir, struct rf_key **out,
			    struct rf_err *e)
{
	char p[PATH_MAX];
	struct stat st;
	enum rf_rc rc;

	*out = NULL;
	rc = rf_path_join(p, sizeof p, dir, "keys/audit.key", e);
	if (rc)
		return rc;
	if (stat(p, &st) == 0) {
		if (st.st_mode & 077)
			return rf_err_set(e, RF_EAUTH,
					  "key file '%s' is accessible to "
					  "others than its owner: chmod 600 it",
					  p);
		return rf_key_load_private_pem(p, out, e);
	}
	rc = rf_key_generate(RF_KEY_ED25519, out, e);
	if (!rc)
		rc = rf_key_save_private_pem(*out, p, e);
	if (rc) {
		rf_key_destroy(*out);
		*out = NULL;
	}
	return rc;
}

static enum rf_rc put_str(struct rf_buf *b, const char *key, const char *val,
			  struct rf_err *e)
{
	enum rf_rc rc = rf_buf_printf(b, e, "%s\"%s\":", b->len > 1 ? "," : "",
				      key);

	return rc ? rc : rf_json_quote(b, val, strlen(val), e);
}

static enum rf_rc audit_event(struct rf_audit *a, const char *event,
			      const char *const *kv, struct rf_err *e)
{
	struct rf_buf d = RF_BUF_INIT(DATA_MAX);
	enum rf_rc rc = rf_buf_putc(&d, '{', e);

	for (; !rc && kv[0]; kv += 2)
		rc = put_str(&d, kv[0], kv[1], e);
	if (!rc)
		rc = rf_buf_putc(&d, '}', e);
	if (!rc)
		rc = rf_audit_append(a, event, rf_buf_str(&d), NULL, e);
	rf_buf_release(&d);
	return rc;
}

/* The token's SHA-256 (of its 64 hex characters), as the aggregator logs
 * it: both logs name the invitation without revealing it. */
static enum rf_rc token_sha256(const char *token,
			       char hex[2 * RF_SHA256_LEN + 1],
			       struct rf_err *e)
{
	uint8_t md[RF_SHA256_LEN];
	enum rf_rc rc = rf_sha256(token, strlen(token), md, e);


	if (!rc)
		rc = rf_hex_encode(md, sizeof md, hex,
				   2 * RF_SHA256_LEN + 1, e);
	return rc;
}

static int printable(const char *s, size_t max)
{
	size_t n = strlen(s), i;

	if (n == 0 || n > max)
		return 0;
	for (i = 0; i < n; i++)
		if (s[i] <= ' ' || s[i] > '~' || s[i] == '"' || s[i] == '\\')
			return 0;
	return 1;
}

static enum rf_rc check_opts(const struct node_enroll_opts *o,
			     char fp[RF_X509_FP_SIZE], struct rf_err *e)
{
	size_t i;

	if (!o->dir || !o->dir[0] || !o->aggregator || !o->token ||
	    !o->ca_fingerprint)
		return rf_err_set(e, RF_EINVAL,
				  "enrollment needs a folder, an aggregator, "
				  "a token and a CA fingerprint");
	if (o->kind != NODE_ENROLL_SITE && o->kind != NODE_ENROLL_IDENTITY)
		return rf_err_set(e, RF_EINVAL, "unknown kind of enrollment");
	if (!printable(o->aggregator, TARGET_MAX) ||
	    !strrchr(o->aggregator, ':'))
		return rf_err_set(e, RF_EINVAL,
				  "aggregator address '%.80s' must be "
				  "HOST:PORT",
				  o->aggregator);
	if (o->server_name && !printable(o->server_name, HOST_MAX - 1))
		return rf_err_set(e, RF_EINVAL, "bad server name '%.80s'",
				  o->server_name);
	if (strlen(o->token) != NODE_ENROLL_TOKEN_LEN)
		return rf_err_set(e, RF_EINVAL,
				  "malformed token: want 64 hex digits");
	for (i = 0; i < NODE_ENROLL_TOKEN_LEN; i++)
		if (!is_hex(o->token[i]))
			return rf_err_set(e, RF_EINVAL,
					  "malformed token: want 64 hex "
					  "digits");
	if (o->name && !name_valid(o->name))
		return rf_err_set(e, RF_EINVAL,
				  "name '%.80s' must be 1 to 64 characters of "
				  "A-Z, a-z, 0-9, '.', '_', '@' and '-'",
				  o->name);
	return fp_normalise(o->ca_fingerprint, fp, e);
}

/* ---- the call ----------------------------------------------------------- */

struct enroll_state {
	const struct node_enroll_opts *o;
	const char *name;
	char sname[HOST_MAX];
	char pin[RF_X509_FP_SIZE];
	char keys[PATH_MAX];
	struct rf_key *key;
	char *key_pem;
	struct rf_buf ca_pem; /* the pinned CA, from the handshake */
	struct rf_x509 *cert, *ca;
	char *cert_text, *ca_text; /* from the response, NUL-terminated */
	struct rf_key *agg_key;    /* the aggregator's audit key (public) */
	char agg_key_hex[2 * RF_ED25519_LEN + 1];
};

/* Sends the CSR and checks what comes back. */
static enum rf_rc call_enroll(struct enroll_state *st,
			      struct node_enroll_result *r, struct rf_err *e)
{
	Radfed__EnrollRequest req = RADFED__ENROLL_REQUEST__INIT;
	Radfed__EnrollResponse *resp = NULL;
	ProtobufCMessage *m = NULL;
	struct rf_rpc_client_opts co;
	struct rf_rpc_client *cl = NULL, *check = NULL;
	struct rf_x509_req *csr = NULL;
	struct rf_buf csr_pem = RF_BUF_INIT(RF_X509_PEM_MAX);
	struct rf_buf msg = RF_BUF_INIT(RESPONSE_MAX);
	struct rf_buf in = RF_BUF_INIT(RESPONSE_MAX);
	const char *want_role;
	enum rf_rc rc;

	rc = fetch_pinned_ca(st->o->aggregator, st->sname, st->pin,
			     &st->ca_pem, e);
	if (rc)
		goto out;
	memset(&co, 0, sizeof co);
	co.target = st->o->aggregator;
	co.ca_pem = (const char *)st->ca_pem.data;
	co.server_name = st->sname;
	co.ca_fingerprint = st->pin;
	rc = rf_rpc_client_create(&co, &cl, e);
	if (!rc)
		rc = rf_x509_req_create(st->key, st->name, &csr, e);
	if (!rc)
		rc = rf_x509_req_pem(csr, &csr_pem, e);
	if (rc)
		goto out;
	req.token = (char *)st->o->token;
	req.csr_pem.data = csr_pem.data;
	req.csr_pem.len = csr_pem.len;
	rc = rf_pb_pack(&req.base, &msg, e);
	if (!rc)
		rc = rf_rpc_client_unary(cl, ENROLL_PATH, msg.data, msg.len,
					 st->o->deadline_ms
						 ? st->o->deadline_ms
						 : NODE_ENROLL_DEADLINE_MS,
					 &in, e);
	if (!rc)
		rc = rf_pb_unpack(&radfed__enroll_response__descriptor,
				  in.data, in.len, RESPONSE_MAX, &m, e);
	if (rc)
		goto out;
	resp = (Radfed__EnrollResponse *)m;
	if (!resp->certificate_pem.len || !resp->ca_pem.len) {
		rc = rf_err_set(e, RF_EPROTO, "the enroll response is empty");
		goto out;
	}
	if (resp->aggregator_key.len != RF_ED25519_LEN) {
		rc = rf_err_set(e, RF_EPROTO,
				"the enroll response carries no aggregator "
				"key (%zu bytes, want %d)",
				resp->aggregator_key.len, RF_ED25519_LEN);
		goto out;
	}
	rc = rf_key_from_raw_public(RF_KEY_ED25519, resp->aggregator_key.data,
				    resp->aggregator_key.len, &st->agg_key, e);
	if (!rc)
		rc = rf_hex_encode(resp->aggregator_key.data, RF_ED25519_LEN,
				   st->agg_key_hex, sizeof st->agg_key_hex,
				   e);
	if (rc)
		goto out;
	st->cert_text = rf_strndup((const char *)resp->certificate_pem.data,
				   resp->certificate_pem.len);
	st->ca_text =
	    rf_strndup((const char *)resp->ca_pem.data, resp->ca_pem.len);
	if (!st->cert_text || !st->ca_text) {
		rc = rf_err_set(e, RF_ENOMEM, "out of memory");
		goto out;
	}
	rc = rf_x509_parse_pem(st->cert_text, strlen(st->cert_text),
			       &st->cert, e);
	if (!rc)
		rc = rf_x509_parse_pem(st->ca_text, strlen(st->ca_text),
				       &st->ca, e);
	if (!rc)
		rc = rf_x509_fingerprint(st->ca, r->ca_fingerprint, e);
	if (rc)
		goto out;
	if (strcmp(r->ca_fingerprint, st->pin) != 0) {
		rc = rf_err_set(e, RF_EAUTH,
				"the aggregator returned CA %s, not the "
				"pinned %s",
				r->ca_fingerprint, st->pin);
		goto out;
	}
	rc = rf_x509_verify(st->cert, st->ca, (int64_t)time(NULL), e);
	if (!rc)
		rc = rf_x509_cn(st->cert, r->name, sizeof r->name, e);
	if (!rc)
		rc = rf_x509_ou(st->cert, r->role, sizeof r->role, e);
	if (!rc)
		rc = rf_x509_fingerprint(st->cert, r->fingerprint, e);
	if (!rc)
		rc = rf_x509_not_after(st->cert, &r->not_after, e);
	if (rc)
		goto out;
	if (strcmp(r->name, st->name) != 0) {
		rc = rf_err_set(e, RF_EAUTH,
				"the certificate returned is for '%s', not "
				"'%s'",
				r->name, st->name);
		goto out;
	}
	want_role = st->o->kind == NODE_ENROLL_SITE ? "site" : NULL;
	if (want_role ? strcmp(r->role, want_role) != 0
		      : strcmp(r->role, "researcher") != 0 &&
			    strcmp(r->role, "auditor") != 0) {
		rc = rf_err_set(e, RF_EAUTH,
				"the invitation is for a %s, not a %s", r->role,
				want_role ? want_role
					  : "researcher or auditor");
		goto out;
	}
	/* the certificate carries our key: rf_rpc checks the pair */
	co.cert_pem = st->cert_text;
	co.key_pem = st->key_pem;
	rc = rf_rpc_client_create(&co, &check, e);
	if (rc == RF_ECRYPTO)
		rc = rf_err_set(e, RF_EAUTH,
				"the certificate returned is not for our key");
out:
	rf_rpc_client_destroy(check);
	rf_rpc_client_destroy(cl);
	rf_pb_free(m);
	rf_x509_req_destroy(csr);
	rf_buf_release(&csr_pem);
	rf_buf_release(&msg);
	rf_buf_release(&in);
	return rc;
}

static const char fed_yaml[] =
    "# written by radfed enroll: the consortium this folder belongs to\n"
    "aggregator: \"%s\"\n"
    "server-name: \"%s\"\n"
    "name: \"%s\"\n"
    "role: %s\n"
    "ca-fingerprint: %s\n"
    "fingerprint: %s\n";

static enum rf_rc store(struct enroll_state *st,
			const struct node_enroll_result *r, struct rf_err *e)
{
	struct rf_buf y = RF_BUF_INIT(4096);
	char p[PATH_MAX];
	enum rf_rc rc;

	rc = rf_path_join(p, sizeof p, st->keys, "ca.pem", e);
	if (!rc)
		rc = rf_x509_save_pem(st->ca, p, e);
	if (!rc)
		rc = rf_path_join(p, sizeof p, st->keys, "aggregator.pub", e);
	if (!rc)
		rc = rf_key_save_public_pem(st->agg_key, p, e);
	if (!rc)
		rc = rf_buf_printf(&y, e, fed_yaml, st->o->aggregator,
				   st->sname, r->name, r->role,
				   r->ca_fingerprint, r->fingerprint);
	if (!rc)
		rc = rf_path_join(p, sizeof p, st->o->dir, "federation.yaml",
				  e);
	if (!rc)
		rc = rf_file_write_atomic(p, y.data, y.len, 0644, e);
	/* last: its presence means enrolled */
	if (!rc)
		rc = rf_path_join(p, sizeof p, st->keys, "tls.pem", e);
	if (!rc)
		rc = rf_x509_save_pem(st->cert, p, e);
	rf_buf_release(&y);
	return rc;
}

/* Makes the key first, before anything is sent. */
static enum rf_rc new_tls_key(struct enroll_state *st, struct rf_err *e)
{
	struct rf_buf b = RF_BUF_INIT(KEY_PEM_MAX);
	char p[PATH_MAX];
	enum rf_rc rc;

	rc = rf_path_join(p, sizeof p, st->keys, "tls.key", e);
	if (!rc)
		rc = rf_key_generate(RF_KEY_P256, &st->key, e);
	if (!rc)
		rc = rf_key_save_private_pem(st->key, p, e);
	if (!rc)
		rc = rf_file_read(p, &b, e);
	if (!rc)
		rc = rf_buf_putc(&b, '\0', e);
	if (rc) {
		rf_buf_release_secret(&b);
		return rc;
	}
	st->key_pem = (char *)b.data;
	return RF_OK;
}

enum rf_rc node_enroll(const struct node_enroll_opts *o,
		       struct node_enroll_result *r, struct rf_err *e)
{
	struct enroll_state st;
	struct node_site *site = NULL;
	struct rf_key *akey = NULL;
	struct rf_audit *a = NULL;
	char p[PATH_MAX], port[16], actor[RF_AUDIT_NAME_MAX];
	char token_hex[2 * RF_SHA256_LEN + 1];
	struct stat sb;
	struct rf_err e2 = { 0 };
	enum rf_rc rc;

	memset(r, 0, sizeof *r);
	memset(&st, 0, sizeof st);
	st.o = o;
	rf_buf_init(&st.ca_pem, RF_X509_PEM_MAX + 1);
	rc = check_opts(o, st.pin, e);
	if (rc)
		return rc;
	if (o->server_name)
		snprintf(st.sname, sizeof st.sname, "%s", o->server_name);
	else if ((rc = target_split(o->aggregator, st.sname, port, e)))
		return rc;
	if (o->kind == NODE_ENROLL_SITE) {
		rc = node_site_open(o->dir, &site, e);
		if (rc)
			return rc;
		st.name = o->name ? o->name : site->name;
	} else {
		if (!o->name) {
			return rf_err_set(e, RF_EINVAL,
					  "the invited name is required");
		}
		st.name = o->name;
		rc = rf_mkdirs(o->dir, 0700, e);
		if (rc)
			return rc;
	}
	rc = make_dir(o->dir, "keys", e);
	if (!rc)
		rc = make_dir(o->dir, "logs", e);
	if (!rc)
		rc = rf_path_join(st.keys, sizeof st.keys, o->dir, "keys", e);
	if (!rc)
		rc = rf_path_join(p, sizeof p, st.keys, "tls.pem", e);
	if (rc)
		goto out;
	if (stat(p, &sb) == 0) {
		rc = rf_err_set(e, RF_EEXIST,
				"'%s' is already enrolled ('%s' exists)",
				o->dir, p);
		goto out;
	}
	rc = new_tls_key(&st, e);
	if (!rc)
		rc = audit_key(o->dir, &akey, e);
	if (!rc)
		rc = rf_path_join(p, sizeof p, o->dir, "logs/audit.jsonl", e);
	if (rc)
		goto out;
	snprintf(actor, sizeof actor, "%s:%s",
		 o->kind == NODE_ENROLL_SITE ? "site" : "id", st.name);
	rc = rf_audit_open(p, actor, akey, NULL, &a, e);
	if (!rc) {
		const char *kv[] = { RF_AUDIT_KEY_SITE,	   st.name,
				     "aggregator",	   o->aggregator,
				     RF_AUDIT_KEY_CA_SHA256, st.pin,
				     NULL };

		rc = audit_event(a, "enroll.start", kv, e);
	}
	if (rc)
		goto out;
	rc = call_enroll(&st, r, e);
	if (!rc)
		rc = store(&st, r, e);
	if (!rc) {
		const char *inv[] = { RF_AUDIT_KEY_SITE,
				      r->name,
				      RF_AUDIT_KEY_TOKEN_SHA256,
				      token_hex,
				      RF_AUDIT_KEY_ROLE,
				      r->role,
				      NULL };
		const char *kv[] = { RF_AUDIT_KEY_SITE,
				     r->name,
				     RF_AUDIT_KEY_ROLE,
				     r->role,
				     RF_AUDIT_KEY_CERT_SHA256,
				     r->fingerprint,
				     RF_AUDIT_KEY_CA_SHA256,
				     r->ca_fingerprint,
				     "aggregator",
				     o->aggregator,
				     "aggregator_key",
				     st.agg_key_hex,
				     NULL };

		rc = token_sha256(o->token, token_hex, e);
		if (!rc)
			rc = audit_event(a, RF_AUDIT_EV_INVITE, inv, e);
		if (!rc)
			rc = audit_event(a, RF_AUDIT_EV_ENROLL, kv, e);
	} else {
		const char *kv[] = { RF_AUDIT_KEY_REASON, rf_err_msg(e), "code",
				     rf_rc_name(rc), NULL };

		(void)!audit_event(a, "enroll.failed", kv, &e2);
	}
out:
	(void)!rf_audit_close(a, &e2);
	rf_key_destroy(akey);
	rf_key_destroy(st.key);
	if (st.key_pem)
		rf_free_secret(st.key_pem, strlen(st.key_pem));
	rf_buf_release(&st.ca_pem);
	rf_x509_destroy(st.cert);
	rf_x509_destroy(st.ca);
	rf_key_destroy(st.agg_key);
	rf_free(st.cert_text);
	rf_free(st.ca_text);
	node_site_close(site);
	if (rc)
		memset(r, 0, sizeof *r);
	return rc;
}

/* ---- afterwards --------------------------------------------------------- */

static enum rf_rc read_str(const char *dir, const char *rel, size_t max,
			   char **out, struct rf_err *e)
{
	struct rf_buf b = RF_BUF_INIT(max);
	char p[PATH_MAX];
	enum rf_rc rc = rf_path_join(p, sizeof p, dir, rel, e);

	*out = NULL;
	if (!rc)
		rc = rf_file_read(p, &b, e);
	if (!rc)
		rc = rf_buf_putc(&b, '\0', e);
	if (rc) {
		rf_buf_release_secret(&b);
		return rc;
	}
	*out = (char *)b.data;
	return RF_OK;
}

enum rf_rc node_enroll_client(const char *dir, struct rf_rpc_client **out,
			      struct rf_err *e)
{
	return node_enroll_client_at(dir, NULL, out, e);
}

enum rf_rc node_enroll_client_at(const char *dir, const char *target,
				 struct rf_rpc_client **out, struct rf_err *e)
{
	struct rf_cfg *cfg = NULL;
	const struct rf_cfg_node *root;
	const char *sname = NULL, *fp = NULL;
	char *cert = NULL, *key = NULL, *ca = NULL;
	char p[PATH_MAX];
	struct rf_rpc_client_opts co;
	enum rf_rc rc;

	*out = NULL;
	rc = rf_path_join(p, sizeof p, dir, "federation.yaml", e);
	if (!rc)
		rc = rf_cfg_load_file(&cfg, p, NULL, e);
	if (rc == RF_ENOTFOUND)
		rf_err_prefix(e, "'%s' is not enrolled", dir);
	if (rc)
		return rc;
	root = rf_cfg_root(cfg);
	if (!target)
		rc = rf_cfg_get_str(root, "aggregator", RF_CFG_REQUIRED,
				    &target, e);
	if (!rc)
		rc = rf_cfg_get_str(root, "server-name", RF_CFG_REQUIRED,
				    &sname, e);
	if (!rc)
		rc = rf_cfg_get_str(root, "ca-fingerprint", RF_CFG_REQUIRED,
				    &fp, e);
	if (!rc)
		rc = read_str(dir, "keys/tls.pem", RF_X509_PEM_MAX, &cert, e);
	if (!rc)
		rc = read_str(dir, "keys/tls.key", KEY_PEM_MAX, &key, e);
	if (!rc)
		rc = read_str(dir, "keys/ca.pem", RF_X509_PEM_MAX, &ca, e);
	if (!rc) {
		memset(&co, 0, sizeof co);
		co.target = target;
		co.server_name = sname;
		co.ca_pem = ca;
		co.ca_fingerprint = fp;
		co.cert_pem = cert;
		co.key_pem = key;
		rc = rf_rpc_client_create(&co, out, e);
	}
	rf_free(cert);
	if (key)
		rf_free_secret(key, strlen(key));
	rf_free(ca);
	rf_cfg_destroy(cfg);
	return rc;
}
