/* test_registry.c - the aggregator's SQLite registry: creation, pragmas and
 * schema versions, refusal of foreign and damaged files, identities and
 * revocation, one-time invitations (also redeemed by racing threads and
 * connections), rounds, participants and updates, hostile names, and an
 * update writer killed with SIGKILL. */
#include "rf_test.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sqlite3.h>

#include "agg_registry.h"
#include "rf_buf.h"
#include "rf_crypto.h"
#include "rf_x509.h"

#define T0 1700000000LL

static const char *db_path(const char *test)
{
	static char path[600];

	snprintf(path, sizeof path, "%s/registry.db", rf_test_tmpdir(test));
	return path;
}

static struct agg_registry *open_ok(const char *path)
{
	struct agg_registry *r = NULL;
	struct rf_err e = { 0 };

	RF_ASSERT_OK_E(agg_registry_open(path, &r, &e), &e);
	assert_non_null(r);
	return r;
}

/* Runs one SQL statement on path through a separate plain connection and
 * returns the first row as text, columns joined by '|' (static storage). */
static const char *raw_query(const char *path, const char *sql)
{
	static char res[4096];
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int src;

	res[0] = '\0';
	assert_int_equal(
	    sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	sqlite3_busy_timeout(db, 10000);
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(db));
	src = sqlite3_step(st);
	if (src == SQLITE_ROW && sqlite3_column_text(st, 0))
		snprintf(res, sizeof res, "%s", sqlite3_column_text(st, 0));
	/* more columns (EXPLAIN QUERY PLAN's detail): after a '|' */
	for (int i = 1; src == SQLITE_ROW && i < sqlite3_column_count(st);
	     i++) {
		size_t n = strlen(res);

		snprintf(res + n, sizeof res - n, "|%s",
			 sqlite3_column_text(st, i)
			     ? (const char *)sqlite3_column_text(st, i)
			     : "");
	}
	if (src != SQLITE_ROW && src != SQLITE_DONE)
		fail_msg("%s: %s", sql, sqlite3_errmsg(db));
	sqlite3_finalize(st);
	sqlite3_close(db);
	return res;
}

/* ---- opening ------------------------------------------------------------ */

static void test_open_creates(void **state)
{
	const char *path = db_path("reg_open");
	struct agg_registry *r;
	char wal[700];
	struct rf_err e = { 0 };
	struct stat sb;
	int v = 0;

	(void)state;
	r = open_ok(path);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	RF_ASSERT_OK_E(agg_registry_schema_version(r, &v, &e), &e);
	assert_int_equal(v, AGG_REGISTRY_SCHEMA);
	RF_ASSERT_OK_E(agg_registry_check(r, &e), &e);
	/* WAL is a property of the file, seen by any other connection */
	assert_string_equal(raw_query(path, "PRAGMA journal_mode"), "wal");
	assert_string_equal(
	    raw_query(path, "SELECT group_concat(name, ',') FROM (SELECT"
			    " name FROM sqlite_schema WHERE type = 'table'"
			    " ORDER BY name)"),
	    "identities,invitations,models,participants,rounds,"
	    "schema_version,updates");
	/* the per-call lookups are index searches, not scans */
	assert_non_null(strstr(raw_query(path, "EXPLAIN QUERY PLAN SELECT *"
					       " FROM identities WHERE"
					       " fingerprint = 'x'"),
			       "SEARCH identities USING INDEX sqlite_autoindex"
			       "_identities_1 (fingerprint=?)"));
	assert_non_null(strstr(raw_query(path, "EXPLAIN QUERY PLAN SELECT *"
					       " FROM identities WHERE"
					       " name = 'x'"),
			       "SEARCH identities USING INDEX identities_name"
			       " (name=?)"));
	/* the foreign keys are declared */
	assert_string_equal(raw_query(path,
				      "SELECT \"table\" FROM"
				      " pragma_foreign_key_list('updates')"),
			    "rounds");
	/* the journal is as private as the database */
	snprintf(wal, sizeof wal, "%s-wal", path);
	assert_int_equal(stat(wal, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	agg_registry_close(r);

	/* reopening applies no migration twice */
	r = open_ok(path);
	RF_ASSERT_OK_E(agg_registry_schema_version(r, &v, &e), &e);
	assert_int_equal(v, AGG_REGISTRY_SCHEMA);
	agg_registry_close(r);
	assert_string_equal(raw_query(path, "SELECT count(*) FROM"
					    " schema_version"),
			    "2");
	agg_registry_close(NULL);
}

/* An independent reader of the file: the sqlite3 command (Debian package
 * sqlite3, installed by scripts/install-deps test; its absence fails the
 * test) sees the schema and a clean integrity check. */
static void test_sqlite3_cli(void **state)
{
	const char *path;
	struct agg_registry *r;

	(void)state;
	if (rf_sh("command -v sqlite3 >/dev/null 2>&1") != 0)
		fail_msg("the sqlite3 command is missing (Debian sqlite3)");
	path = db_path("reg_cli");
	r = open_ok(path);
	agg_registry_close(r);
	assert_int_equal(rf_sh("sqlite3 '%s' 'PRAGMA integrity_check' | "
			       "grep -qx ok",
			       path),
			 0);
	assert_int_equal(rf_sh("sqlite3 '%s' .schema | grep -q "
			       "'UNIQUE (round, round_no, site)'",
			       path),
			 0);
	assert_int_equal(rf_sh("test \"$(sqlite3 '%s' 'SELECT max(version) "
			       "FROM schema_version')\" = 2",
			       path),
			 0);
}

static void test_open_refuses_newer_schema(void **state)
{
	const char *path = db_path("reg_newer");
	struct agg_registry *r;
	struct rf_err e = { 0 };

	(void)state;
	r = open_ok(path);
	agg_registry_close(r);
	raw_query(path, "INSERT INTO schema_version VALUES (3, 0)");
	r = (struct agg_registry *)&e;
	RF_ASSERT_RC(agg_registry_open(path, &r, &e), RF_EUNSUPPORTED);
	assert_null(r);
	assert_non_null(strstr(e.msg, path));
	assert_non_null(strstr(e.msg, "schema version 3"));
	/* the file is left alone */
	assert_string_equal(raw_query(path, "SELECT max(version) FROM"
					    " schema_version"),
			    "3");
}

/* The schema as version 1 released it, with one round and one update:
 * opening it migrates to the current version in place, keeping them. */
static void test_migrates_v1(void **state)
{
	static const char *const v1 =
	    "CREATE TABLE schema_version (version INTEGER PRIMARY KEY,"
	    " applied_at INTEGER NOT NULL);"
	    "INSERT INTO schema_version VALUES (1, 0);"
	    "CREATE TABLE identities (id INTEGER PRIMARY KEY, name TEXT NOT"
	    " NULL, role TEXT NOT NULL, cert_pem TEXT NOT NULL, fingerprint"
	    " TEXT NOT NULL UNIQUE, not_after INTEGER NOT NULL, enrolled_at"
	    " INTEGER NOT NULL, revoked_at INTEGER);"
	    "CREATE INDEX identities_name ON identities (name);"
	    "CREATE TABLE invitations (token_sha256 BLOB PRIMARY KEY, name"
	    " TEXT NOT NULL, role TEXT NOT NULL, created_at INTEGER NOT NULL,"
	    " expires_at INTEGER NOT NULL, used_at INTEGER) WITHOUT ROWID;"
	    "CREATE TABLE rounds (id INTEGER PRIMARY KEY, spec TEXT NOT NULL,"
	    " spec_sha256 TEXT NOT NULL, state TEXT NOT NULL, round_no"
	    " INTEGER NOT NULL DEFAULT 0, created_at INTEGER NOT NULL,"
	    " updated_at INTEGER NOT NULL, model_sha256 TEXT, model_path"
	    " TEXT);"
	    "CREATE TABLE participants (round INTEGER NOT NULL REFERENCES"
	    " rounds (id), site TEXT NOT NULL, state TEXT NOT NULL,"
	    " policy_sha256 TEXT, updated_at INTEGER NOT NULL, PRIMARY KEY"
	    " (round, site)) WITHOUT ROWID;"
	    "CREATE TABLE updates (id INTEGER PRIMARY KEY, round INTEGER NOT"
	    " NULL REFERENCES rounds (id), round_no INTEGER NOT NULL, site"
	    " TEXT NOT NULL, sha256 TEXT NOT NULL, bytes INTEGER NOT NULL,"
	    " samples INTEGER NOT NULL, metrics TEXT NOT NULL, received_at"
	    " INTEGER NOT NULL, UNIQUE (round, round_no, site));"
	    "INSERT INTO rounds VALUES (7, 'a: 1', 'ab', 'running', 2, 1, 2,"
	    " NULL, NULL);"
	    "INSERT INTO updates VALUES (1, 7, 2, 'chu', 'cd', 8, 3, '{}',"
	    " 5);";
	const char *path = db_path("reg_v1");
	struct agg_round rd;
	struct agg_registry *r;
	struct rf_err e = { 0 };
	sqlite3 *db = NULL;
	int v = 0;

	(void)state;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, v1, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	r = open_ok(path);
	RF_ASSERT_OK_E(agg_registry_schema_version(r, &v, &e), &e);
	assert_int_equal(v, 2);
	RF_ASSERT_OK_E(agg_registry_round_get(r, 7, &rd, &e), &e);
	assert_string_equal(rd.state, "running");
	assert_int_equal(rd.round_no, 2);
	assert_string_equal(rd.spec_yaml, "a: 1");
	assert_string_equal(rd.researcher, "");
	assert_null(rd.spec_json);
	assert_null(rd.error);
	assert_int_equal(rd.has_signature, 0);
	assert_int_equal(rd.deadline, 0);
	agg_round_release(&rd);
	agg_registry_close(r);
	assert_string_equal(raw_query(path, "SELECT count(*) FROM updates"
					    " WHERE round = 7"),
			    "1");
	assert_string_equal(raw_query(path, "SELECT count(*) FROM models"),
			    "0");
	assert_string_equal(raw_query(path, "PRAGMA quick_check"), "ok");
}

/* Schema 2: a round begun with its canonical spec, then started with a
 * signature, a deadline and model 0 in one compare-and-set, then advanced
 * only from the iteration it is at. */
static void test_round_begin_and_models(void **state)
{
	const char *path = db_path("reg_models");
	static const char json[] = "{\"a\":1}";
	uint8_t sig[AGG_SIG_LEN], h[RF_SHA256_LEN];
	char hex[AGG_HEX256_SIZE], sha0[AGG_HEX256_SIZE];
	struct agg_round_new n = { "a: 1\n", json, "dr-who", "starting" };
	struct agg_model m0 = { 0 }, m1 = { 0 };
	struct agg_round_change c = { 0 };
	struct agg_registry *r;
	struct agg_round rd;
	struct rf_err e = { 0 };
	int64_t id = 0;

	(void)state;
	memset(sig, 0xab, sizeof sig);
	memset(sha0, 'a', 64);
	sha0[64] = '\0';
	r = open_ok(path);
	n.researcher = "bad\nname";
	RF_ASSERT_RC(agg_registry_round_begin(r, &n, T0, &id, NULL),
		     RF_EINVAL);
	n.researcher = "dr-who";
	RF_ASSERT_OK_E(agg_registry_round_begin(r, &n, T0, &id, &e), &e);
	m0.round_id = id;
	m0.round_no = 0;
	memcpy(m0.sha256, sha0, sizeof sha0);
	m0.path = "/x/model-0.h5";
	m0.created_at = T0;
	c.state = "running";
	c.round_no = 1;
	c.model_sha256 = sha0;
	c.model_path = m0.path;
	c.signature = sig;
	c.deadline = T0 + 60;
	c.model = &m0;
	RF_ASSERT_OK_E(agg_registry_round_set_state(r, id, "starting", &c,
						    T0 + 1, &e),
		       &e);
	RF_ASSERT_OK_E(agg_registry_round_get(r, id, &rd, &e), &e);
	assert_string_equal(rd.researcher, "dr-who");
	assert_string_equal(rd.spec_json, json);
	/* the spec's identity is the hash of its canonical form */
	RF_ASSERT_OK(rf_sha256(json, strlen(json), h, NULL));
	RF_ASSERT_OK(rf_hex_encode(h, sizeof h, hex, sizeof hex, NULL));
	assert_string_equal(rd.spec_sha256, hex);
	assert_int_equal(rd.has_signature, 1);
	assert_memory_equal(rd.signature, sig, sizeof sig);
	assert_int_equal(rd.deadline, T0 + 60);
	assert_int_equal(rd.round_no, 1);
	agg_round_release(&rd);
	/* advancing from another iteration changes nothing */
	m1 = m0;
	m1.round_no = 1;
	m1.path = "/x/model-1.h5";
	m1.sites_json = "[\"a\",\"b\"]";
	memset(&c, 0, sizeof c);
	c.state = "running";
	c.round_no = 2;
	c.expected_round_no = 2;
	c.model = &m1;
	RF_ASSERT_RC(agg_registry_round_set_state(r, id, "running", &c,
						  T0 + 2, &e),
		     RF_EPOLICY);
	assert_non_null(strstr(e.msg, "iteration 1, not 2"));
	assert_string_equal(raw_query(path, "SELECT count(*) FROM models"),
			    "1");
	c.expected_round_no = 1;
	RF_ASSERT_OK_E(agg_registry_round_set_state(r, id, "running", &c,
						    T0 + 2, &e),
		       &e);
	/* the same model twice is refused, atomically */
	c.expected_round_no = 2;
	c.round_no = 3;
	RF_ASSERT_RC(agg_registry_round_set_state(r, id, "running", &c,
						  T0 + 3, &e),
		     RF_EEXIST);
	assert_string_equal(raw_query(path, "SELECT round_no FROM rounds"),
			    "2");
	assert_string_equal(raw_query(path, "SELECT group_concat(round_no"
					    " || ':' || sites, ' ') FROM"
					    " models"),
			    "0:[] 1:[\"a\",\"b\"]");
	/* a failure records its reason */
	memset(&c, 0, sizeof c);
	c.state = "failed";
	c.round_no = -1;
	c.error = "too few sites";
	RF_ASSERT_OK_E(agg_registry_round_set_state(r, id, "running", &c,
						    T0 + 4, &e),
		       &e);
	RF_ASSERT_OK_E(agg_registry_round_get(r, id, &rd, &e), &e);
	assert_string_equal(rd.error, "too few sites");
	assert_string_equal(rd.state, "failed");
	agg_round_release(&rd);
	agg_registry_close(r);
}

static void write_file(const char *path, const void *p, size_t n, long off)
{
	int fd = open(path, O_WRONLY | O_CREAT, 0600);

	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, p, n, off), (ssize_t)n);
	close(fd);
}

static void test_open_refuses_foreign_and_damaged(void **state)
{
	const char *dir = rf_test_tmpdir("reg_bad");
	char path[600], garbage[4096];
	struct agg_registry *r = NULL;
	struct rf_err e = { 0 };
	const char *text = "name,role\nsite-a,site\n";

	(void)state;
	/* not SQLite at all */
	snprintf(path, sizeof path, "%s/notdb.db", dir);
	write_file(path, text, strlen(text), 0);
	RF_ASSERT_RC(agg_registry_open(path, &r, &e), RF_EPROTO);
	assert_null(r);
	assert_non_null(strstr(e.msg, path));
	assert_non_null(strstr(e.msg, "not an SQLite database"));

	/* a registry whose table pages were overwritten */
	snprintf(path, sizeof path, "%s/damaged.db", dir);
	r = open_ok(path);
	for (int i = 0; i < 50; i++) {
		struct agg_update u = { 0 };
		int64_t id;
		char site[32];

		RF_ASSERT_OK(agg_registry_round_create(r, "model: x\n", "open",
						       T0, &id, NULL));
		snprintf(site, sizeof site, "site-%03d", i);
		u.round_id = id;
		u.site = site;
		memset(u.sha256, 'a', 64);
		RF_ASSERT_OK(agg_registry_update_add(r, &u, NULL));
	}
	agg_registry_close(r); /* last connection: WAL checkpointed */
	r = NULL;
	memset(garbage, 0x5a, sizeof garbage);
	for (long pg = 2; pg < 6; pg++)
		write_file(path, garbage, sizeof garbage, pg * 4096);
	rf_err_clear(&e);
	RF_ASSERT_RC(agg_registry_open(path, &r, &e), RF_EPROTO);
	assert_null(r);
	assert_non_null(strstr(e.msg, path));

	/* a directory that does not exist */
	snprintf(path, sizeof path, "%s/no/such/dir.db", dir);
	RF_ASSERT_RC(agg_registry_open(path, &r, &e), RF_EIO);
	assert_non_null(strstr(e.msg, path));
}

/* rf_alloc's hook sees radfed's allocations only (SQLite keeps its own):
 * each of them failing gives RF_ENOMEM and leaks nothing. */
static void test_open_oom(void **state)
{
	const char *path = db_path("reg_oom");
	struct agg_registry *r = NULL;
	struct rf_err e = { 0 };
	enum rf_rc rc;

	(void)state;
	RF_TEST_OOM_LOOP(rc, rc = agg_registry_open(path, &r, &e),
			 agg_registry_close(r));
	/* and on an existing file */
	RF_TEST_OOM_LOOP(rc, rc = agg_registry_open(path, &r, &e),
			 agg_registry_close(r));
}

/* ---- identities ---------------------------------------------------------- */

struct pki {
	struct rf_key *ca_key, *key;
	struct rf_x509 *ca;
};

static void pki_init(struct pki *p)
{
	memset(p, 0, sizeof *p);
	RF_ASSERT_OK(rf_key_generate(RF_KEY_P256, &p->ca_key, NULL));
	RF_ASSERT_OK(rf_key_generate(RF_KEY_P256, &p->key, NULL));
	RF_ASSERT_OK(rf_x509_ca_create(p->ca_key, "registry test CA", T0,
				       T0 + 1000000000LL, &p->ca, NULL));
}

static void pki_release(struct pki *p)
{
	rf_x509_destroy(p->ca);
	rf_key_destroy(p->ca_key);
	rf_key_destroy(p->key);
}

/* A PEM certificate for cn (rf_free it). */
static char *cert_pem(const struct pki *p, const char *cn, const char *role,
		      int64_t not_after)
{
	struct rf_x509_issue_params ip = { cn, role,     NULL, RF_X509_CLIENT,
					   T0, not_after };
	struct rf_x509_req *req = NULL;
	struct rf_x509 *cert = NULL;
	struct rf_buf b = RF_BUF_INIT(1 << 20);
	struct rf_err e = { 0 };

	RF_ASSERT_OK_E(rf_x509_req_create(p->key, cn, &req, &e), &e);
	RF_ASSERT_OK_E(rf_x509_issue(p->ca, p->ca_key, req, &ip, &cert, &e),
		       &e);
	RF_ASSERT_OK(rf_x509_pem(cert, &b, NULL));
	rf_x509_req_destroy(req);
	rf_x509_destroy(cert);
	return (char *)rf_buf_detach(&b, NULL);
}

/* SHA-256 of the DER certificate, computed by OpenSSL directly. */
static void openssl_fp(const char *pem, char out[65])
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	X509 *x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned n = 0;

	assert_non_null(x);
	assert_int_equal(X509_digest(x, EVP_sha256(), md, &n), 1);
	assert_int_equal(n, 32);
	for (unsigned i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	X509_free(x);
	BIO_free(bio);
}

struct id_list {
	int n;
	char names[8][AGG_NAME_MAX + 1];
	int64_t revoked[8];
	int pem_ok;
};

static enum rf_rc collect_id(const struct agg_identity *id, const char *pem,
			     void *ctx, struct rf_err *e)
{
	struct id_list *l = ctx;

	(void)e;
	assert_true(l->n < 8);
	memcpy(l->names[l->n], id->name, sizeof id->name);
	l->revoked[l->n] = id->revoked_at;
	l->pem_ok += strncmp(pem, "-----BEGIN CERTIFICATE-----", 27) == 0;
	l->n++;
	return RF_OK;
}

static void test_identities(void **state)
{
	const char *path = db_path("reg_ids");
	struct agg_registry *r;
	struct agg_identity id;
	struct id_list l = { 0 };
	struct rf_buf b = RF_BUF_INIT(1 << 20);
	struct rf_err e = { 0 };
	char fp_a1[65], fp_a2[65], fp_b[65], upper[65];
	char *a1, *a2, *bpem;
	struct pki p;
	int64_t rid = 0;
	int n = -1;

	(void)state;
	pki_init(&p);
	a1 = cert_pem(&p, "site-a", "site", T0 + 1000);
	a2 = cert_pem(&p, "site-a", "site", T0 + 2000);
	bpem = cert_pem(&p, "alice", "researcher", T0 + 3000);
	openssl_fp(a1, fp_a1);
	openssl_fp(a2, fp_a2);
	openssl_fp(bpem, fp_b);
	r = open_ok(path);

	RF_ASSERT_OK_E(agg_registry_identity_add(r, "site-a", AGG_ROLE_SITE, a1,
						 T0 + 10, &rid, &e),
		       &e);
	assert_true(rid > 0);
	RF_ASSERT_OK(agg_registry_identity_add(r, "site-a", AGG_ROLE_SITE, a2,
					       T0 + 20, NULL, NULL));
	RF_ASSERT_OK(agg_registry_identity_add(r, "alice", AGG_ROLE_RESEARCHER,
					       bpem, T0 + 30, NULL, NULL));
	/* the same certificate twice */
	RF_ASSERT_RC(agg_registry_identity_add(r, "site-a", AGG_ROLE_SITE, a1,
					       T0 + 40, NULL, &e),
		     RF_EEXIST);
	RF_ASSERT_RC(agg_registry_identity_add(r, "x", AGG_ROLE_SITE,
					       "not a certificate", T0, NULL,
					       &e),
		     RF_ECRYPTO);
	RF_ASSERT_RC(agg_registry_identity_add(r, "x", (enum agg_role)9, a1, T0,
					       NULL, &e),
		     RF_EINVAL);

	/* found by the fingerprint OpenSSL computes, in either case */
	RF_ASSERT_OK_E(
	    agg_registry_identity_find_by_fingerprint(r, fp_a1, &id, &e), &e);
	assert_int_equal(id.id, rid);
	assert_string_equal(id.name, "site-a");
	assert_int_equal(id.role, AGG_ROLE_SITE);
	assert_string_equal(id.fingerprint, fp_a1);
	assert_int_equal(id.not_after, T0 + 1000);
	assert_int_equal(id.enrolled_at, T0 + 10);
	assert_int_equal(id.revoked_at, 0);
	for (int i = 0; i < 65; i++)
		upper[i] =
		    (char)((fp_b[i] >= 'a' && fp_b[i] <= 'f') ? fp_b[i] - 32
							      : fp_b[i]);
	RF_ASSERT_OK(
	    agg_registry_identity_find_by_fingerprint(r, upper, &id, NULL));
	assert_string_equal(id.name, "alice");
	assert_int_equal(id.role, AGG_ROLE_RESEARCHER);
	memset(upper, '0', 64);
	RF_ASSERT_RC(
	    agg_registry_identity_find_by_fingerprint(r, upper, &id, &e),
	    RF_ENOTFOUND);
	assert_string_equal(id.name, "");
	RF_ASSERT_RC(
	    agg_registry_identity_find_by_fingerprint(r, "abc", &id, &e),
	    RF_EINVAL);

	/* the PEM comes back byte for byte */
	RF_ASSERT_OK(agg_registry_identity_cert(r, fp_a2, &b, NULL));
	assert_string_equal(rf_buf_str(&b), a2);
	rf_buf_release(&b);

	/* by name: the latest certificate */
	RF_ASSERT_OK(
	    agg_registry_identity_find_by_name(r, "site-a", &id, NULL));
	assert_string_equal(id.fingerprint, fp_a2);
	RF_ASSERT_RC(agg_registry_identity_find_by_name(r, "nobody", &id, &e),
		     RF_ENOTFOUND);
	assert_non_null(strstr(e.msg, "'nobody'"));

	/* revoking a name revokes all its certificates, once */
	RF_ASSERT_OK(agg_registry_revoke(r, "site-a", T0 + 500, &n, NULL));
	assert_int_equal(n, 2);
	RF_ASSERT_OK(agg_registry_revoke(r, "site-a", T0 + 600, &n, NULL));
	assert_int_equal(n, 0);
	RF_ASSERT_OK(
	    agg_registry_identity_find_by_fingerprint(r, fp_a1, &id, NULL));
	assert_int_equal(id.revoked_at, T0 + 500);
	RF_ASSERT_OK(
	    agg_registry_identity_find_by_fingerprint(r, fp_a2, &id, NULL));
	assert_int_equal(id.revoked_at, T0 + 500);
	RF_ASSERT_RC(agg_registry_revoke(r, "nobody", T0, &n, &e),
		     RF_ENOTFOUND);
	RF_ASSERT_OK(
	    agg_registry_identity_find_by_fingerprint(r, fp_b, &id, NULL));
	assert_int_equal(id.revoked_at, 0);

	RF_ASSERT_OK(agg_registry_identity_list(r, collect_id, &l, NULL));
	assert_int_equal(l.n, 3);
	assert_int_equal(l.pem_ok, 3);
	assert_string_equal(l.names[0], "alice");
	assert_string_equal(l.names[1], "site-a");
	assert_string_equal(l.names[2], "site-a");
	assert_int_equal(l.revoked[0], 0);
	assert_int_equal(l.revoked[1], T0 + 500);

	/* a revocation survives a reopen */
	agg_registry_close(r);
	r = open_ok(path);
	RF_ASSERT_OK(
	    agg_registry_identity_find_by_fingerprint(r, fp_a2, &id, NULL));
	assert_int_equal(id.revoked_at, T0 + 500);
	agg_registry_close(r);
	rf_free(a1);
	rf_free(a2);
	rf_free(bpem);
	pki_release(&p);
}

/* Names, specs and metrics full of SQL and format metacharacters are data,
 * never code: stored and read back verbatim. */
static void test_hostile_input(void **state)
{
	static const char *const names[] = {
		"Robert'); DROP TABLE identities;--",
		"x\" OR \"1\"=\"1",
		"%s%n%x\\' ; DELETE FROM updates; /*",
		"h\xc3\xb4pital-Saint-\xc3\x89tienne",
	};
	const char *path = db_path("reg_hostile");
	char token[AGG_TOKEN_SIZE], name[AGG_NAME_MAX + 1];
	char long_name[AGG_NAME_MAX + 2];
	struct agg_registry *r;
	struct agg_identity id;
	struct agg_round rd;
	struct rf_err e = { 0 };
	enum agg_role role;
	struct pki p;
	int64_t rid;
	char *pem;

	(void)state;
	pki_init(&p);
	pem = cert_pem(&p, "hostile", "site", T0 + 1000);
	r = open_ok(path);
	RF_ASSERT_OK(agg_registry_identity_add(r, names[0], AGG_ROLE_SITE, pem,
					       T0, NULL, NULL));
	RF_ASSERT_OK(
	    agg_registry_identity_find_by_name(r, names[0], &id, NULL));
	assert_string_equal(id.name, names[0]);
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		RF_ASSERT_OK(agg_registry_invite(r, names[i], AGG_ROLE_AUDITOR,
						 60, T0, token, NULL));
		RF_ASSERT_OK(
		    agg_registry_redeem(r, token, T0 + 1, name, &role, NULL));
		assert_string_equal(name, names[i]);
		assert_int_equal(role, AGG_ROLE_AUDITOR);
	}
	RF_ASSERT_RC(
	    agg_registry_round_create(r, names[2], "open'; --", T0, &rid, &e),
	    RF_EINVAL);
	RF_ASSERT_OK(
	    agg_registry_round_create(r, names[1], "open", T0, &rid, NULL));
	RF_ASSERT_OK(agg_registry_round_get(r, rid, &rd, NULL));
	assert_string_equal(rd.spec_yaml, names[1]);
	agg_round_release(&rd);
	RF_ASSERT_OK(agg_registry_participant_set(
	    r, rid, names[2], AGG_PART_OFFERED, NULL, T0, NULL));
	/* the tables are all still there and hold what was put */
	assert_string_equal(raw_query(path, "SELECT count(*) FROM identities"),
			    "1");
	assert_string_equal(raw_query(path, "SELECT site FROM participants"),
			    names[2]);
	/* control bytes and over-long names are refused */
	RF_ASSERT_RC(
	    agg_registry_invite(r, "a\nb", AGG_ROLE_SITE, 60, T0, token, &e),
	    RF_EINVAL);
	RF_ASSERT_RC(
	    agg_registry_invite(r, "", AGG_ROLE_SITE, 60, T0, token, &e),
	    RF_EINVAL);
	memset(long_name, 'n', sizeof long_name - 1);
	long_name[sizeof long_name - 1] = '\0';
	RF_ASSERT_RC(
	    agg_registry_invite(r, long_name, AGG_ROLE_SITE, 60, T0, token, &e),
	    RF_EINVAL);
	long_name[AGG_NAME_MAX] = '\0';
	RF_ASSERT_OK(agg_registry_invite(r, long_name, AGG_ROLE_SITE, 60, T0,
					 token, NULL));
	RF_ASSERT_OK(agg_registry_redeem(r, token, T0, name, &role, NULL));
	assert_string_equal(name, long_name);
	agg_registry_close(r);
	rf_free(pem);
	pki_release(&p);
}

/* ---- invitations --------------------------------------------------------- */

static int file_contains(const char *path, const void *needle, size_t n)
{
	FILE *f = fopen(path, "rb");
	static char buf[1 << 20];
	size_t len;
	int found = 0;

	if (!f)
		return 0;
	len = fread(buf, 1, sizeof buf, f);
	fclose(f);
	for (size_t i = 0; i + n <= len && !found; i++)
		found = memcmp(buf + i, needle, n) == 0;
	return found;
}

static void test_invitations(void **state)
{
	const char *path = db_path("reg_invite");
	char token[AGG_TOKEN_SIZE], other[AGG_TOKEN_SIZE];
	char name[AGG_NAME_MAX + 1], wal[700], q[300], hex[65];
	uint8_t raw[32], h[32];
	struct agg_registry *r;
	struct rf_err e = { 0 };
	enum agg_role role = 0;
	size_t n;

	(void)state;
	r = open_ok(path);
	RF_ASSERT_OK_E(agg_registry_invite(r, "site-b", AGG_ROLE_SITE, 3600, T0,
					   token, &e),
		       &e);
	assert_int_equal(strlen(token), 64);
	assert_int_equal(strspn(token, "0123456789abcdef"), 64);
	RF_ASSERT_OK(agg_registry_invite(r, "site-c", AGG_ROLE_SITE, 3600, T0,
					 other, NULL));
	assert_string_not_equal(token, other);

	/* only SHA-256(token bytes) is stored: computed here with EVP */
	RF_ASSERT_OK(rf_hex_decode(token, 64, raw, sizeof raw, &n, NULL));
	assert_int_equal(EVP_Digest(raw, 32, h, NULL, EVP_sha256(), NULL), 1);
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02X", h[i]);
	snprintf(q, sizeof q,
		 "SELECT name || ',' || role || ',' || expires_at || ','"
		 " || ifnull(used_at, '-') FROM invitations"
		 " WHERE token_sha256 = x'%s'",
		 hex);
	assert_string_equal(raw_query(path, q), "site-b,site,1700003600,-");
	snprintf(wal, sizeof wal, "%s-wal", path);
	assert_false(file_contains(path, token, 64));
	assert_false(file_contains(wal, token, 64));
	assert_false(file_contains(path, raw, 32));
	assert_false(file_contains(wal, raw, 32));
	assert_true(file_contains(wal, h, 32) || file_contains(path, h, 32));

	/* redeemed once */
	RF_ASSERT_OK_E(
	    agg_registry_redeem(r, token, T0 + 3599, name, &role, &e), &e);
	assert_string_equal(name, "site-b");
	assert_int_equal(role, AGG_ROLE_SITE);
	assert_string_equal(raw_query(path, q), "site-b,site,1700003600,"
						"1700003599");
	RF_ASSERT_RC(agg_registry_redeem(r, token, T0 + 3599, name, &role, &e),
		     RF_EAUTH);
	assert_string_equal(e.msg, "token already used");
	assert_string_equal(name, "");

	/* expired at expiry */
	RF_ASSERT_RC(agg_registry_redeem(r, other, T0 + 3600, name, &role, &e),
		     RF_EAUTH);
	assert_string_equal(e.msg, "token expired");
	/* a refused redemption leaves the token unused */
	snprintf(q, sizeof q,
		 "SELECT count(*) FROM invitations WHERE used_at IS NULL");
	assert_string_equal(raw_query(path, q), "1");

	/* unknown, malformed, one digit changed */
	memcpy(other, token, sizeof other);
	other[10] = other[10] == '0' ? '1' : '0';
	RF_ASSERT_RC(agg_registry_redeem(r, other, T0, name, &role, &e),
		     RF_EAUTH);
	assert_string_equal(e.msg, "unknown invitation token");
	RF_ASSERT_RC(agg_registry_redeem(r, "zz", T0, name, &role, &e),
		     RF_EAUTH);
	RF_ASSERT_RC(agg_registry_redeem(r, "", T0, name, &role, &e), RF_EAUTH);
	memset(other, 'g', 64);
	RF_ASSERT_RC(agg_registry_redeem(r, other, T0, name, &role, &e),
		     RF_EAUTH);

	/* lifetimes */
	RF_ASSERT_RC(
	    agg_registry_invite(r, "x", AGG_ROLE_SITE, 0, T0, token, &e),
	    RF_EINVAL);
	assert_string_equal(token, "");
	RF_ASSERT_RC(
	    agg_registry_invite(r, "x", AGG_ROLE_SITE, -5, T0, token, &e),
	    RF_EINVAL);
	RF_ASSERT_RC(
	    agg_registry_invite(r, "x", (enum agg_role)0, 60, T0, token, &e),
	    RF_EINVAL);
	agg_registry_close(r);
}

#define RACERS 8

struct racer {
	pthread_barrier_t *go;
	struct agg_registry *shared; /* NULL: open an own connection */
	const char *path;
	const char *token;
	enum rf_rc rc;
	char msg[RF_ERR_MSG_MAX];
	char name[AGG_NAME_MAX + 1];
};

static void *race(void *arg)
{
	struct racer *x = arg;
	struct agg_registry *r = x->shared;
	struct rf_err e = { 0 };
	enum agg_role role;

	if (!r && agg_registry_open(x->path, &r, &e) != RF_OK) {
		x->rc = RF_EINTERNAL;
		snprintf(x->msg, sizeof x->msg, "%s", e.msg);
		pthread_barrier_wait(x->go);
		return NULL;
	}
	pthread_barrier_wait(x->go);
	x->rc = agg_registry_redeem(r, x->token, T0 + 1, x->name, &role, &e);
	snprintf(x->msg, sizeof x->msg, "%s", e.msg);
	if (!x->shared)
		agg_registry_close(r);
	return NULL;
}

/* Of RACERS concurrent redeemers of one token, exactly one wins: threads on
 * one shared registry, and threads on their own connections (the
 * transaction, not the mutex, decides there). */
static void test_redeem_race(void **state)
{
	const char *path = db_path("reg_race");
	struct racer x[RACERS];
	pthread_t th[RACERS];
	pthread_barrier_t go;
	char token[AGG_TOKEN_SIZE];
	struct agg_registry *r;

	(void)state;
	r = open_ok(path);
	for (int trial = 0; trial < 6; trial++) {
		int wins = 0;

		RF_ASSERT_OK(agg_registry_invite(r, "racer", AGG_ROLE_SITE, 60,
						 T0, token, NULL));
		pthread_barrier_init(&go, NULL, RACERS);
		for (int i = 0; i < RACERS; i++) {
			memset(&x[i], 0, sizeof x[i]);
			x[i].go = &go;
			x[i].shared = trial % 2 ? r : NULL;
			x[i].path = path;
			x[i].token = token;
			assert_int_equal(
			    pthread_create(&th[i], NULL, race, &x[i]), 0);
		}
		for (int i = 0; i < RACERS; i++)
			pthread_join(th[i], NULL);
		pthread_barrier_destroy(&go);
		for (int i = 0; i < RACERS; i++) {
			if (x[i].rc == RF_OK) {
				wins++;
				assert_string_equal(x[i].name, "racer");
				continue;
			}
			if (x[i].rc != RF_EAUTH)
				fail_msg("racer %d: %s: %s", i,
					 rf_rc_name(x[i].rc), x[i].msg);
			assert_string_equal(x[i].msg, "token already used");
		}
		assert_int_equal(wins, 1);
	}
	agg_registry_close(r);
}

struct looker {
	struct agg_registry *r;
	const char *fp;
	int found;
};

static void *look(void *arg)
{
	struct looker *x = arg;
	struct agg_identity id;

	for (int i = 0; i < 300; i++)
		if (agg_registry_identity_find_by_fingerprint(x->r, x->fp, &id,
							      NULL) == RF_OK &&
		    strcmp(id.name, "site-t") == 0)
			x->found++;
	return NULL;
}

/* The per-call lookup from several threads on one registry while another
 * thread writes: every lookup answers. */
static void test_lookup_threads(void **state)
{
	const char *path = db_path("reg_threads");
	struct looker x[4];
	pthread_t th[4];
	char fp[65], token[AGG_TOKEN_SIZE];
	struct agg_registry *r;
	struct pki p;
	char *pem;

	(void)state;
	pki_init(&p);
	pem = cert_pem(&p, "site-t", "site", T0 + 1000);
	openssl_fp(pem, fp);
	r = open_ok(path);
	RF_ASSERT_OK(agg_registry_identity_add(r, "site-t", AGG_ROLE_SITE, pem,
					       T0, NULL, NULL));
	for (int i = 0; i < 4; i++) {
		x[i].r = r;
		x[i].fp = fp;
		x[i].found = 0;
		assert_int_equal(pthread_create(&th[i], NULL, look, &x[i]), 0);
	}
	for (int i = 0; i < 20; i++)
		RF_ASSERT_OK(agg_registry_invite(r, "w", AGG_ROLE_SITE, 60, T0,
						 token, NULL));
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(x[i].found, 300);
	}
	agg_registry_close(r);
	rf_free(pem);
	pki_release(&p);
}

/* ---- rounds, participants, updates ------------------------------------- */

static enum rf_rc count_round(const struct agg_round *rd, void *ctx,
			      struct rf_err *e)
{
	int *n = ctx;

	(void)e;
	assert_int_equal(rd->id, *n + 1);
	assert_non_null(rd->spec_yaml);
	(*n)++;
	return RF_OK;
}

static enum rf_rc stop_walk(const struct agg_round *rd, void *ctx,
			    struct rf_err *e)
{
	(void)rd;
	(void)ctx;
	return rf_err_set(e, RF_EEXIST, "stop");
}

static void test_rounds(void **state)
{
	static const char spec[] = "model: cnn-small\nrounds: 3\n"
				   "labels: [\"nodule\", 'none']\n";
	const char *path = db_path("reg_rounds");
	struct agg_round_change c = { .state = "training", .round_no = 1 };
	struct agg_registry *r;
	struct agg_round rd;
	struct rf_err e = { 0 };
	uint8_t h[32];
	char hex[65];
	int64_t id = 0, id2 = 0;
	int n = 0;

	(void)state;
	r = open_ok(path);
	RF_ASSERT_OK_E(
	    agg_registry_round_create(r, spec, "created", T0, &id, &e), &e);
	RF_ASSERT_OK(agg_registry_round_create(r, "x: 1\n", "created", T0 + 1,
					       &id2, NULL));
	assert_int_equal(id2, id + 1);
	RF_ASSERT_OK(agg_registry_round_get(r, id, &rd, NULL));
	assert_int_equal(rd.id, id);
	assert_string_equal(rd.state, "created");
	assert_int_equal(rd.round_no, 0);
	assert_int_equal(rd.created_at, T0);
	assert_int_equal(rd.updated_at, T0);
	assert_string_equal(rd.spec_yaml, spec);
	assert_null(rd.model_path);
	assert_string_equal(rd.model_sha256, "");
	assert_int_equal(
	    EVP_Digest(spec, strlen(spec), h, NULL, EVP_sha256(), NULL), 1);
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", h[i]);
	assert_string_equal(rd.spec_sha256, hex);
	agg_round_release(&rd);
	agg_round_release(NULL);

	/* compare-and-set */
	RF_ASSERT_OK_E(
	    agg_registry_round_set_state(r, id, "created", &c, T0 + 5, &e), &e);
	RF_ASSERT_RC(
	    agg_registry_round_set_state(r, id, "created", &c, T0 + 6, &e),
	    RF_EPOLICY);
	assert_string_equal(e.msg, "round 1 is in state 'training', not "
				   "'created'");
	c.state = "aggregating";
	c.round_no = -1;
	c.model_sha256 = hex;
	c.model_path = "models/round-1.h5";
	RF_ASSERT_OK(
	    agg_registry_round_set_state(r, id, "training", &c, T0 + 7, NULL));
	RF_ASSERT_OK(agg_registry_round_get(r, id, &rd, NULL));
	assert_string_equal(rd.state, "aggregating");
	assert_int_equal(rd.round_no, 1);
	assert_int_equal(rd.updated_at, T0 + 7);
	assert_int_equal(rd.created_at, T0);
	assert_string_equal(rd.model_sha256, hex);
	assert_string_equal(rd.model_path, "models/round-1.h5");
	agg_round_release(&rd);
	RF_ASSERT_RC(
	    agg_registry_round_set_state(r, 99, "training", &c, T0, &e),
	    RF_ENOTFOUND);
	RF_ASSERT_RC(agg_registry_round_get(r, 99, &rd, &e), RF_ENOTFOUND);
	c.state = "Bad State";
	RF_ASSERT_RC(
	    agg_registry_round_set_state(r, id, "aggregating", &c, T0, &e),
	    RF_EINVAL);
	c.state = "done";
	c.model_sha256 = "xyz";
	RF_ASSERT_RC(
	    agg_registry_round_set_state(r, id, "aggregating", &c, T0, &e),
	    RF_EINVAL);
	RF_ASSERT_OK(agg_registry_round_get(r, id, &rd, NULL));
	assert_string_equal(rd.state, "aggregating");
	agg_round_release(&rd);

	RF_ASSERT_OK(agg_registry_round_list(r, count_round, &n, NULL));
	assert_int_equal(n, 2);
	RF_ASSERT_RC(agg_registry_round_list(r, stop_walk, NULL, &e),
		     RF_EEXIST);
	assert_string_equal(e.msg, "stop");
	agg_registry_close(r);
}

struct part_list {
	int n;
	char text[512];
};

static enum rf_rc collect_part(const struct agg_participant *p, void *ctx,
			       struct rf_err *e)
{
	struct part_list *l = ctx;
	size_t len = strlen(l->text);

	(void)e;
	snprintf(l->text + len, sizeof l->text - len, "%s=%s/%.4s/%lld;",
		 p->site, agg_part_state_name(p->state), p->policy_sha256,
		 (long long)(p->updated_at - T0));
	l->n++;
	return RF_OK;
}

static void test_participants(void **state)
{
	const char *path = db_path("reg_parts");
	char pol[65];
	struct agg_registry *r;
	struct part_list l = { 0 };
	struct rf_err e = { 0 };
	int64_t id;

	(void)state;
	memset(pol, 'b', 64);
	pol[64] = '\0';
	r = open_ok(path);
	RF_ASSERT_OK(
	    agg_registry_round_create(r, "a: 1\n", "offered", T0, &id, NULL));
	RF_ASSERT_OK(agg_registry_participant_set(
	    r, id, "site-b", AGG_PART_OFFERED, NULL, T0, NULL));
	RF_ASSERT_OK(agg_registry_participant_set(
	    r, id, "site-a", AGG_PART_OFFERED, NULL, T0, NULL));
	RF_ASSERT_OK(agg_registry_participant_set(
	    r, id, "Site-Z", AGG_PART_DECLINED, NULL, T0 + 1, NULL));
	RF_ASSERT_OK(agg_registry_participant_set(
	    r, id, "site-a", AGG_PART_ACCEPTED, pol, T0 + 2, NULL));
	/* no policy hash given: the stored one stays */
	RF_ASSERT_OK(agg_registry_participant_set(
	    r, id, "site-a", AGG_PART_UPLOADED, NULL, T0 + 3, NULL));
	RF_ASSERT_OK(agg_registry_participants(r, id, collect_part, &l, NULL));
	assert_int_equal(l.n, 3);
	/* bytewise order: 'S' < 's' */
	assert_string_equal(l.text, "Site-Z=declined//1;"
				    "site-a=uploaded/bbbb/3;"
				    "site-b=offered//0;");
	RF_ASSERT_RC(agg_registry_participant_set(
			 r, id + 1, "site-a", AGG_PART_OFFERED, NULL, T0, &e),
		     RF_ENOTFOUND);
	RF_ASSERT_RC(agg_registry_participant_set(
			 r, id, "site-a", (enum agg_part_state)0, NULL, T0, &e),
		     RF_EINVAL);
	agg_registry_close(r);
}

struct upd_list {
	int n;
	char text[1024];
};

static enum rf_rc collect_upd(const struct agg_update *u, void *ctx,
			      struct rf_err *e)
{
	struct upd_list *l = ctx;
	size_t len = strlen(l->text);

	(void)e;
	snprintf(l->text + len, sizeof l->text - len,
		 "%s:%lld.%lld:%.2s:%lld:%lld:%s:%lld;", u->site,
		 (long long)u->round_id, (long long)u->round_no, u->sha256,
		 (long long)u->bytes, (long long)u->samples, u->metrics_json,
		 (long long)(u->received_at - T0));
	l->n++;
	return RF_OK;
}

static struct agg_update upd(int64_t round, int64_t no, const char *site,
			     char fill, const char *metrics)
{
	struct agg_update u = { 0 };

	u.round_id = round;
	u.round_no = no;
	u.site = site;
	memset(u.sha256, fill, 64);
	u.bytes = 1000 + fill;
	u.samples = fill;
	u.metrics_json = metrics;
	u.received_at = T0 + 10;
	return u;
}

static void test_updates(void **state)
{
	const char *path = db_path("reg_upd");
	struct agg_registry *r;
	struct upd_list l = { 0 };
	struct rf_err e = { 0 };
	struct agg_update u;
	int64_t id;

	(void)state;
	r = open_ok(path);
	RF_ASSERT_OK(
	    agg_registry_round_create(r, "a: 1\n", "training", T0, &id, NULL));
	u = upd(id, 1, "site-c", 'c', "{\"loss\": 0.5}");
	RF_ASSERT_OK_E(agg_registry_update_add(r, &u, &e), &e);
	u = upd(id, 1, "site-a", 'a', NULL);
	RF_ASSERT_OK(agg_registry_update_add(r, &u, NULL));
	u = upd(id, 2, "site-a", 'd', "[]");
	RF_ASSERT_OK(agg_registry_update_add(r, &u, NULL));
	/* the same (round, round_no, site) again: refused, the first stays */
	u = upd(id, 1, "site-c", 'e', "{}");
	RF_ASSERT_RC(agg_registry_update_add(r, &u, &e), RF_EEXIST);
	assert_string_equal(e.msg, "update of 'site-c' for round 1.1 is "
				   "already recorded");
	RF_ASSERT_OK(agg_registry_updates(r, id, 1, collect_upd, &l, NULL));
	assert_int_equal(l.n, 2);
	assert_string_equal(l.text,
			    "site-a:1.1:aa:1097:97:{}:10;"
			    "site-c:1.1:cc:1099:99:{\"loss\": 0.5}:10;");
	memset(&l, 0, sizeof l);
	RF_ASSERT_OK(agg_registry_updates(r, id, 2, collect_upd, &l, NULL));
	assert_int_equal(l.n, 1);

	u = upd(id, 1, "site-b", 'b', "{not json");
	RF_ASSERT_RC(agg_registry_update_add(r, &u, &e), RF_EINVAL);
	u = upd(id + 7, 1, "site-b", 'b', NULL);
	RF_ASSERT_RC(agg_registry_update_add(r, &u, &e), RF_ENOTFOUND);
	u = upd(id, 1, "site-b", 'x', NULL);
	RF_ASSERT_RC(agg_registry_update_add(r, &u, &e), RF_EINVAL);
	u = upd(id, 1, "site-b", 'b', NULL);
	u.bytes = -1;
	RF_ASSERT_RC(agg_registry_update_add(r, &u, &e), RF_EINVAL);
	assert_string_equal(raw_query(path, "SELECT count(*) FROM updates"),
			    "3");
	agg_registry_close(r);
}

/* ---- crash safety -------------------------------------------------------- */

/* A child adds updates as fast as it can and writes each index to a pipe
 * after agg_registry_update_add returned; the parent kills it with SIGKILL
 * mid-stream. Reopened, the file checks clean and holds every reported
 * update exactly once, and at most the one in flight besides. */
struct crash_seen {
	int n;
	unsigned char *seen;
	int max;
};

static enum rf_rc mark_seen(const struct agg_update *u, void *ctx,
			    struct rf_err *e)
{
	struct crash_seen *s = ctx;
	int i;

	(void)e;
	assert_int_equal(sscanf(u->site, "site-%d", &i), 1);
	assert_true(i >= 0 && i < s->max);
	s->seen[i]++;
	s->n++;
	return RF_OK;
}

static void test_sigkill_mid_round(void **state)
{
	enum { MAX = 100000 };
	const char *path = db_path("reg_crash");
	struct crash_seen s = { 0 };
	struct agg_registry *r;
	struct rf_err e = { 0 };
	int64_t id;
	int fds[2], reported = 0, last = -1, st;
	pid_t pid;
	FILE *f;

	(void)state;
	r = open_ok(path);
	RF_ASSERT_OK(
	    agg_registry_round_create(r, "a: 1\n", "training", T0, &id, NULL));
	agg_registry_close(r);
	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct agg_registry *c = NULL;
		char site[32];

		close(fds[0]);
		if (agg_registry_open(path, &c, NULL) != RF_OK)
			_exit(2);
		for (int i = 0; i < MAX; i++) {
			struct agg_update u;

			snprintf(site, sizeof site, "site-%06d", i);
			u = upd(id, 1, site, 'f', "{\"i\": 1}");
			if (agg_registry_update_add(c, &u, NULL) != RF_OK)
				_exit(3);
			if (write(fds[1], &i, sizeof i) != sizeof i)
				_exit(4);
		}
		_exit(0);
	}
	close(fds[1]);
	f = fdopen(fds[0], "rb");
	assert_non_null(f);
	/* let it commit a good number, then kill it mid-transaction */
	while (reported < 40 && fread(&last, sizeof last, 1, f) == 1)
		reported++;
	assert_int_equal(reported, 40);
	kill(pid, SIGKILL);
	while (fread(&last, sizeof last, 1, f) == 1)
		reported++;
	fclose(f);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	assert_int_equal(last, reported - 1);

	r = open_ok(path);
	RF_ASSERT_OK_E(agg_registry_check(r, &e), &e);
	s.max = MAX;
	s.seen = calloc(MAX, 1);
	assert_non_null(s.seen);
	RF_ASSERT_OK(agg_registry_updates(r, id, 1, mark_seen, &s, NULL));
	for (int i = 0; i < reported; i++)
		if (s.seen[i] != 1)
			fail_msg("update %d reported but seen %d times", i,
				 s.seen[i]);
	/* the one in flight may or may not have committed; no other */
	assert_true(s.n == reported || s.n == reported + 1);
	if (s.n == reported + 1)
		assert_int_equal(s.seen[reported], 1);
	/* the restarted writer resumes without counting one twice */
	{
		struct agg_update u = upd(id, 1, "site-000000", 'f', NULL);

		RF_ASSERT_RC(agg_registry_update_add(r, &u, &e), RF_EEXIST);
	}
	free(s.seen);
	agg_registry_close(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_open_creates),
		cmocka_unit_test(test_sqlite3_cli),
		cmocka_unit_test(test_open_refuses_newer_schema),
		cmocka_unit_test(test_migrates_v1),
		cmocka_unit_test(test_round_begin_and_models),
		cmocka_unit_test(test_open_refuses_foreign_and_damaged),
		cmocka_unit_test(test_open_oom),
		cmocka_unit_test(test_identities),
		cmocka_unit_test(test_hostile_input),
		cmocka_unit_test(test_invitations),
		cmocka_unit_test(test_redeem_race),
		cmocka_unit_test(test_lookup_threads),
		cmocka_unit_test(test_rounds),
		cmocka_unit_test(test_participants),
		cmocka_unit_test(test_updates),
		cmocka_unit_test(test_sigkill_mid_round),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
