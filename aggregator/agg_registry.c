/* agg_registry.c - the aggregator's SQLite registry (see agg_registry.h). */
#include "agg_registry.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "rf_alloc.h"
#include "rf_x509.h"

struct agg_registry {
	sqlite3 *db;
	char *path;
	pthread_mutex_t lock;
	sqlite3_stmt *by_fp; /* the per-call lookup, kept prepared */
};

/* ---- schema --------------------------------------------------------------
 * Forward-only migrations: migrations[i] brings the schema from version i to
 * version i + 1. A released migration is never edited; a change is a new
 * entry at the end (and AGG_REGISTRY_SCHEMA + 1). */
static const char *const migrations[AGG_REGISTRY_SCHEMA] = {
	/* 0 -> 1 */
	"CREATE TABLE identities ("
	" id INTEGER PRIMARY KEY,"
	" name TEXT NOT NULL,"
	" role TEXT NOT NULL CHECK (role IN"
	"  ('site', 'researcher', 'auditor', 'aggregator')),"
	" cert_pem TEXT NOT NULL,"
	" fingerprint TEXT NOT NULL UNIQUE,"
	" not_after INTEGER NOT NULL,"
	" enrolled_at INTEGER NOT NULL,"
	" revoked_at INTEGER);"
	"CREATE INDEX identities_name ON identities (name);"
	"CREATE TABLE invitations ("
	" token_sha256 BLOB PRIMARY KEY CHECK (length(token_sha256) = 32),"
	" name TEXT NOT NULL,"
	" role TEXT NOT NULL CHECK (role IN"
	"  ('site', 'researcher', 'auditor', 'aggregator')),"
	" created_at INTEGER NOT NULL,"
	" expires_at INTEGER NOT NULL,"
	" used_at INTEGER) WITHOUT ROWID;"
	"CREATE TABLE rounds ("
	" id INTEGER PRIMARY KEY,"
	" spec TEXT NOT NULL,"
	" spec_sha256 TEXT NOT NULL,"
	" state TEXT NOT NULL,"
	" round_no INTEGER NOT NULL DEFAULT 0,"
	" created_at INTEGER NOT NULL,"
	" updated_at INTEGER NOT NULL,"
	" model_sha256 TEXT,"
	" model_path TEXT);"
	"CREATE TABLE participants ("
	" round INTEGER NOT NULL REFERENCES rounds (id),"
	" site TEXT NOT NULL,"
	" state TEXT NOT NULL CHECK (state IN"
	"  ('offered', 'accepted', 'declined', 'uploaded', 'dropped')),"
	" policy_sha256 TEXT,"
	" updated_at INTEGER NOT NULL,"
	" PRIMARY KEY (round, site)) WITHOUT ROWID;"
	"CREATE TABLE updates ("
	" id INTEGER PRIMARY KEY,"
	" round INTEGER NOT NULL REFERENCES rounds (id),"
	" round_no INTEGER NOT NULL,"
	" site TEXT NOT NULL,"
	" sha256 TEXT NOT NULL,"
	" bytes INTEGER NOT NULL CHECK (bytes >= 0),"
	" samples INTEGER NOT NULL CHECK (samples >= 0),"
	" metrics TEXT NOT NULL CHECK (json_valid(metrics)),"
	" received_at INTEGER NOT NULL,"
	" UNIQUE (round, round_no, site));",
	/* 1 -> 2: what the round state machine keeps (researcher, canonical
	 * spec and its signature, deadline of the iteration in progress,
	 * error of a failed round) and the aggregated models */
	"ALTER TABLE rounds ADD COLUMN researcher TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE rounds ADD COLUMN spec_json TEXT;"
	"ALTER TABLE rounds ADD COLUMN signature BLOB"
	" CHECK (signature IS NULL OR length(signature) = 64);"
	"ALTER TABLE rounds ADD COLUMN deadline INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE rounds ADD COLUMN error TEXT;"
	"CREATE TABLE models ("
	" round INTEGER NOT NULL REFERENCES rounds (id),"
	" round_no INTEGER NOT NULL CHECK (round_no >= 0),"
	" sha256 TEXT NOT NULL,"
	" path TEXT NOT NULL,"
	" sites TEXT NOT NULL CHECK (json_valid(sites)),"
	" created_at INTEGER NOT NULL,"
	" PRIMARY KEY (round, round_no)) WITHOUT ROWID;",
};

static const char *const role_names[] = {
	[AGG_ROLE_SITE] = "site",
	[AGG_ROLE_RESEARCHER] = "researcher",
	[AGG_ROLE_AUDITOR] = "auditor",
	[AGG_ROLE_AGGREGATOR] = "aggregator",
};

static const char *const part_names[] = {
	[AGG_PART_OFFERED] = "offered",   [AGG_PART_ACCEPTED] = "accepted",
	[AGG_PART_DECLINED] = "declined", [AGG_PART_UPLOADED] = "uploaded",
	[AGG_PART_DROPPED] = "dropped",
};

#define NROLES (sizeof role_names / sizeof role_names[0])
#define NPARTS (sizeof part_names / sizeof part_names[0])

const char *agg_role_name(enum agg_role role)
{
	if ((unsigned)role == 0 || (unsigned)role >= NROLES)
		return "?";
	return role_names[role];
}

enum rf_rc agg_role_parse(const char *s, enum agg_role *out, struct rf_err *e)
{
	for (unsigned i = 1; s && i < NROLES; i++) {
		if (strcmp(s, role_names[i]) == 0) {
			*out = (enum agg_role)i;
			return RF_OK;
		}
	}
	return rf_err_set(e, RF_EINVAL, "unknown role '%.64s'", s ? s : "");
}

const char *agg_part_state_name(enum agg_part_state s)
{
	if ((unsigned)s == 0 || (unsigned)s >= NPARTS)
		return "?";
	return part_names[s];
}

static enum rf_rc part_parse(const char *s, enum agg_part_state *out)
{
	for (unsigned i = 1; s && i < NPARTS; i++) {
		if (strcmp(s, part_names[i]) == 0) {
			*out = (enum agg_part_state)i;
			return RF_OK;
		}
	}
	return RF_EPROTO;
}

/* ---- validation ---------------------------------------------------------- */

static int name_ok(const char *s)
{
	size_t n;

	if (!s)
		return 0;
	n = strnlen(s, AGG_NAME_MAX + 1);
	if (n == 0 || n > AGG_NAME_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == 0x7f)
			return 0;
	}
	return 1;
}

static int state_ok(const char *s)
{
	size_t n;

	if (!s)
		return 0;
	n = strnlen(s, AGG_STATE_MAX + 1);
	if (n == 0 || n > AGG_STATE_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

/* Copies 64 hex digits of s, lowercased, into out; 0 when s is not that. */
static int hex64_norm(const char *s, char out[AGG_HEX256_SIZE])
{
	if (!s || strnlen(s, 65) != 64)
		return 0;
	for (size_t i = 0; i < 64; i++) {
		char c = s[i];

		if (c >= 'A' && c <= 'F')
			c = (char)(c - 'A' + 'a');
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return 0;
		out[i] = c;
	}
	out[64] = '\0';
	return 1;
}

/* ---- SQLite plumbing ----------------------------------------------------- */

static enum rf_rc rc_of(int src)
{
	switch (src & 0xff) {
	case SQLITE_NOMEM:
		return RF_ENOMEM;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		return RF_EPROTO;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return RF_ETIMEDOUT;
	case SQLITE_TOOBIG:
		return RF_ETOOBIG;
	default:
		return RF_EIO;
	}
}

static enum rf_rc db_fail(struct agg_registry *r, int src, const char *what,
			  struct rf_err *e)
{
	return rf_err_set(e, rc_of(src), "cannot %s in '%s': %s", what, r->path,
			  sqlite3_errmsg(r->db));
}

static enum rf_rc exec(struct agg_registry *r, const char *sql,
		       const char *what, struct rf_err *e)
{
	int src = sqlite3_exec(r->db, sql, NULL, NULL, NULL);

	if (src != SQLITE_OK)
		return db_fail(r, src, what, e);
	return RF_OK;
}

static enum rf_rc prepare(struct agg_registry *r, const char *sql,
			  sqlite3_stmt **st, struct rf_err *e)
{
	int src = sqlite3_prepare_v2(r->db, sql, -1, st, NULL);

	if (src != SQLITE_OK) {
		*st = NULL;
		return db_fail(r, src, "prepare a statement", e);
	}
	return RF_OK;
}

static enum rf_rc tx_begin(struct agg_registry *r, struct rf_err *e)
{
	return exec(r, "BEGIN IMMEDIATE", "begin a transaction", e);
}

static enum rf_rc tx_commit(struct agg_registry *r, struct rf_err *e)
{
	return exec(r, "COMMIT", "commit", e);
}

/* Rolls back an open transaction, if any. */
static void tx_rollback(struct agg_registry *r)
{
	if (!sqlite3_get_autocommit(r->db))
		(void)sqlite3_exec(r->db, "ROLLBACK", NULL, NULL, NULL);
}

static void bind_text(sqlite3_stmt *st, int i, const char *s)
{
	if (s)
		sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

/* Copies column i (text) into out[size]; RF_EPROTO when it does not fit,
 * as only a damaged or foreign file can hold. */
static enum rf_rc col_copy(struct agg_registry *r, sqlite3_stmt *st, int i,
			   char *out, size_t size, struct rf_err *e)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	int n = sqlite3_column_bytes(st, i);

	if (!t) {
		out[0] = '\0';
		if (sqlite3_column_type(st, i) == SQLITE_NULL)
			return RF_OK;
		return rf_err_set(e, RF_ENOMEM, "out of memory reading '%s'",
				  r->path);
	}
	if (n < 0 || (size_t)n >= size)
		return rf_err_set(e, RF_EPROTO,
				  "'%s': column '%s' too long (%d bytes)",
				  r->path, sqlite3_column_name(st, i), n);
	memcpy(out, t, (size_t)n);
	out[n] = '\0';
	return RF_OK;
}

/* ---- opening ------------------------------------------------------------- */

static enum rf_rc pragma_text(struct agg_registry *r, const char *sql,
			      char *out, size_t size, struct rf_err *e)
{
	sqlite3_stmt *st = NULL;
	enum rf_rc rc;
	int src;

	rc = prepare(r, sql, &st, e);
	if (rc)
		return rc;
	src = sqlite3_step(st);
	if (src == SQLITE_ROW) {
		const unsigned char *t = sqlite3_column_text(st, 0);
		size_t n = (size_t)sqlite3_column_bytes(st, 0);

		if (n >= size) /* a long quick_check report: its start */
			n = size - 1;
		if (t)
			memcpy(out, t, n);
		out[t ? n : 0] = '\0';
	} else if (src == SQLITE_DONE) {
		out[0] = '\0';
	} else {
		rc = db_fail(r, src, "run a pragma", e);
	}
	sqlite3_finalize(st);
	return rc;
}

static enum rf_rc check_locked(struct agg_registry *r, struct rf_err *e)
{
	char res[200];
	enum rf_rc rc;

	rc = pragma_text(r, "PRAGMA quick_check", res, sizeof res, e);
	if (rc)
		return rc;
	if (strcmp(res, "ok") != 0) {
		static const char head[] = "*** in database main ***";
		char *p = res;

		if (strncmp(p, head, sizeof head - 1) == 0)
			p += sizeof head - 1;
		for (char *q = p; *q; q++) /* one line for the message */
			if (*q == '\n' || *q == '\r')
				*q = ' ';
		while (*p == ' ')
			p++;
		return rf_err_set(e, RF_EPROTO, "'%s' is damaged: %s", r->path,
				  p);
	}
	return RF_OK;
}

static enum rf_rc version_locked(struct agg_registry *r, int *out,
				 struct rf_err *e)
{
	sqlite3_stmt *st = NULL;
	enum rf_rc rc;
	int src;

	rc = prepare(r, "SELECT max(version) FROM schema_version", &st, e);
	if (rc)
		return rc;
	src = sqlite3_step(st);
	if (src != SQLITE_ROW)
		rc = db_fail(r, src, "read the schema version", e);
	else
		*out = sqlite3_column_int(st, 0); /* NULL: 0 */
	sqlite3_finalize(st);
	return rc;
}

static enum rf_rc migrate(struct agg_registry *r, struct rf_err *e)
{
	sqlite3_stmt *st = NULL;
	enum rf_rc rc;
	int v = 0, src;

	rc = tx_begin(r, e);
	if (rc)
		return rc;
	rc = exec(r,
		  "CREATE TABLE IF NOT EXISTS schema_version ("
		  " version INTEGER PRIMARY KEY,"
		  " applied_at INTEGER NOT NULL)",
		  "create the schema table", e);
	if (!rc)
		rc = version_locked(r, &v, e);
	if (rc)
		goto out;
	if (v > AGG_REGISTRY_SCHEMA) {
		rc = rf_err_set(e, RF_EUNSUPPORTED,
				"'%s' has schema version %d, newer than the "
				"%d this radfed knows",
				r->path, v, AGG_REGISTRY_SCHEMA);
		goto out;
	}
	rc = prepare(r,
		     "INSERT INTO schema_version (version, applied_at)"
		     " VALUES (?, CAST(strftime('%s', 'now') AS INTEGER))",
		     &st, e);
	/* one transaction for all: a crash leaves the old version whole */
	for (; !rc && v < AGG_REGISTRY_SCHEMA; v++) {
		rc = exec(r, migrations[v], "migrate the schema", e);
		if (rc)
			break;
		sqlite3_reset(st);
		sqlite3_bind_int(st, 1, v + 1);
		src = sqlite3_step(st);
		if (src != SQLITE_DONE)
			rc = db_fail(r, src, "record the schema version", e);
	}
	if (!rc)
		rc = tx_commit(r, e);
out:
	sqlite3_finalize(st);
	if (rc)
		tx_rollback(r);
	return rc;
}

#define FP_SQL                                                                 \
	"SELECT id, name, role, fingerprint, not_after, enrolled_at,"          \
	" revoked_at FROM identities"
#define FP_SQL_PEM                                                             \
	"SELECT id, name, role, fingerprint, not_after, enrolled_at,"          \
	" revoked_at, cert_pem FROM identities"

enum rf_rc agg_registry_open(const char *path, struct agg_registry **out,
			     struct rf_err *e)
{
	struct agg_registry *r = NULL;
	char mode[16];
	enum rf_rc rc;
	int fd, src, created = 0;

	*out = NULL;
	if (!path || !*path)
		return rf_err_set(e, RF_EINVAL, "empty registry path");
	r = rf_calloc(1, sizeof *r);
	if (!r)
		return rf_err_set(e, RF_ENOMEM, "out of memory opening '%s'",
				  path);
	r->path = rf_strdup(path);
	if (!r->path) {
		rf_free(r);
		return rf_err_set(e, RF_ENOMEM, "out of memory opening '%s'",
				  path);
	}
	if (pthread_mutex_init(&r->lock, NULL) != 0) {
		rf_free(r->path);
		rf_free(r);
		return rf_err_set(e, RF_ENOMEM, "cannot make a mutex for '%s'",
				  path);
	}
	/* create it 0600 ourselves: SQLite gives -wal and -shm its mode */
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd >= 0) {
		created = 1;
		close(fd);
	} else if (errno != EEXIST) {
		rc = rf_err_set(e, RF_EIO, "cannot create '%s': %s", path,
				strerror(errno));
		goto fail;
	}
	src = sqlite3_open_v2(
	    path, &r->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
	if (src != SQLITE_OK) {
		rc = rf_err_set(e, rc_of(src), "cannot open '%s': %s", path,
				r->db ? sqlite3_errmsg(r->db)
				      : sqlite3_errstr(src));
		goto fail;
	}
	sqlite3_extended_result_codes(r->db, 1);
	sqlite3_busy_timeout(r->db, AGG_REGISTRY_BUSY_MS);
	rc = pragma_text(r, "PRAGMA journal_mode = WAL", mode, sizeof mode, e);
	if (rc == RF_EPROTO)
		rc = rf_err_set(e, RF_EPROTO,
				"'%s' is not an SQLite database or is damaged",
				path);
	if (rc)
		goto fail;
	if (strcmp(mode, "wal") != 0) {
		rc = rf_err_set(e, RF_EIO, "cannot set WAL mode on '%s'", path);
		goto fail;
	}
	rc = exec(r, "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON",
		  "set pragmas", e);
	if (!rc)
		rc = check_locked(r, e);
	if (!rc)
		rc = migrate(r, e);
	if (!rc)
		rc = prepare(r, FP_SQL " WHERE fingerprint = ?", &r->by_fp, e);
	if (rc)
		goto fail;
	*out = r;
	return RF_OK;
fail:
	agg_registry_close(r);
	if (created)
		unlink(path);
	return rc;
}

void agg_registry_close(struct agg_registry *r)
{
	if (!r)
		return;
	sqlite3_finalize(r->by_fp);
	sqlite3_close(r->db);
	pthread_mutex_destroy(&r->lock);
	rf_free(r->path);
	rf_free(r);
}

enum rf_rc agg_registry_schema_version(struct agg_registry *r, int *out,
				       struct rf_err *e)
{
	enum rf_rc rc;

	pthread_mutex_lock(&r->lock);
	rc = version_locked(r, out, e);
	pthread_mutex_unlock(&r->lock);
	return rc;
}

enum rf_rc agg_registry_check(struct agg_registry *r, struct rf_err *e)
{
	enum rf_rc rc;

	pthread_mutex_lock(&r->lock);
	rc = check_locked(r, e);
	pthread_mutex_unlock(&r->lock);
	return rc;
}

/* ---- identities ---------------------------------------------------------- */

/* Columns as in FP_SQL. */
static enum rf_rc identity_read(struct agg_registry *r, sqlite3_stmt *st,
				struct agg_identity *id, struct rf_err *e)
{
	char role[16];
	enum rf_rc rc;

	memset(id, 0, sizeof *id);
	id->id = sqlite3_column_int64(st, 0);
	rc = col_copy(r, st, 1, id->name, sizeof id->name, e);
	if (!rc)
		rc = col_copy(r, st, 2, role, sizeof role, e);
	if (!rc && agg_role_parse(role, &id->role, NULL))
		rc = rf_err_set(e, RF_EPROTO, "'%s': bad role '%s'", r->path,
				role);
	if (!rc)
		rc = col_copy(r, st, 3, id->fingerprint, sizeof id->fingerprint,
			      e);
	id->not_after = sqlite3_column_int64(st, 4);
	id->enrolled_at = sqlite3_column_int64(st, 5);
	id->revoked_at = sqlite3_column_int64(st, 6);
	if (rc)
		memset(id, 0, sizeof *id);
	return rc;
}

enum rf_rc agg_registry_identity_add(struct agg_registry *r, const char *name,
				     enum agg_role role, const char *cert_pem,
				     int64_t now, int64_t *id_out,
				     struct rf_err *e)
{
	char fp[RF_X509_FP_SIZE];
	struct rf_x509 *cert = NULL;
	sqlite3_stmt *st = NULL;
	int64_t not_after = 0;
	enum rf_rc rc;
	size_t len;
	int src;

	if (!name_ok(name))
		return rf_err_set(e, RF_EINVAL, "invalid identity name");
	if (!strcmp(agg_role_name(role), "?"))
		return rf_err_set(e, RF_EINVAL, "invalid role %d", (int)role);
	if (!cert_pem)
		return rf_err_set(e, RF_EINVAL, "no certificate for '%s'",
				  name);
	len = strnlen(cert_pem, AGG_CERT_PEM_MAX + 1);
	if (len > AGG_CERT_PEM_MAX)
		return rf_err_set(e, RF_ETOOBIG,
				  "certificate of '%s' over %d bytes", name,
				  AGG_CERT_PEM_MAX);
	rc = rf_x509_parse_pem(cert_pem, len, &cert, e);
	if (!rc)
		rc = rf_x509_fingerprint(cert, fp, e);
	if (!rc)
		rc = rf_x509_not_after(cert, &not_after, e);
	rf_x509_destroy(cert);
	if (rc)
		return rf_err_prefix(e, "certificate of '%s'", name);

	pthread_mutex_lock(&r->lock);
	rc = prepare(r,
		     "INSERT INTO identities (name, role, cert_pem,"
		     " fingerprint, not_after, enrolled_at)"
		     " VALUES (?, ?, ?, ?, ?, ?)",
		     &st, e);
	if (rc)
		goto out;
	bind_text(st, 1, name);
	bind_text(st, 2, agg_role_name(role));
	sqlite3_bind_text(st, 3, cert_pem, (int)len, SQLITE_STATIC);
	bind_text(st, 4, fp);
	sqlite3_bind_int64(st, 5, not_after);
	sqlite3_bind_int64(st, 6, now);
	src = sqlite3_step(st);
	if (src == SQLITE_CONSTRAINT_UNIQUE)
		rc = rf_err_set(e, RF_EEXIST,
				"certificate %.16s... is already enrolled", fp);
	else if (src != SQLITE_DONE)
		rc = db_fail(r, src, "add an identity", e);
	else if (id_out)
		*id_out = sqlite3_last_insert_rowid(r->db);
out:
	sqlite3_finalize(st);
	pthread_mutex_unlock(&r->lock);
	return rc;
}

enum rf_rc agg_registry_identity_find_by_fingerprint(struct agg_registry *r,
						     const char *fp,
						     struct agg_identity *out,
						     struct rf_err *e)
{
	char norm[AGG_HEX256_SIZE];
	enum rf_rc rc;
	int src;

	memset(out, 0, sizeof *out);
	if (!hex64_norm(fp, norm))
		return rf_err_set(e, RF_EINVAL, "malformed fingerprint");
	pthread_mutex_lock(&r->lock);
	sqlite3_bind_text(r->by_fp, 1, norm, 64, SQLITE_STATIC);
	src = sqlite3_step(r->by_fp);
	if (src == SQLITE_ROW)
		rc = identity_read(r, r->by_fp, out, e);
	else if (src == SQLITE_DONE)
		rc = rf_err_set(e, RF_ENOTFOUND,
				"no identity with certificate "
				"%.16s...",
				norm);
	else
		rc = db_fail(r, src, "find an identity", e);
	sqlite3_reset(r->by_fp);
	sqlite3_clear_bindings(r->by_fp);
	pthread_mutex_unlock(&r->lock);
	return rc;
}

enum rf_rc agg_registry_identity_find_by_name(struct agg_registry *r,
					      const char *name,
					      struct agg_identity *out,
					      struct rf_err *e)
{
	sqlite3_stmt *st = NULL;
	enum rf_rc rc;
	int src;

	memset(out, 0, sizeof *out);
	if (!name_ok(name))
		return rf_err_set(e, RF_EINVAL, "invalid identity name");
	pthread_mutex_lock(&r->lock);
	rc = prepare(r,
		     FP_SQL " WHERE name = ?"
			    " ORDER BY revoked_at IS NULL DESC, id DESC"
			    " LIMIT 1",
		     &st, e);
	if (rc)
		goto out;
	bind_text(st, 1, name);
	src = sqlite3_step(st);
	if (src == SQLITE_ROW)
		rc = identity_read(r, st, out, e);
	else if (src == SQLITE_DONE)
		rc =
		    rf_err_set(e, RF_ENOTFOUND, "no identity named '%s'", name);
	else
		rc = db_fail(r, src, "find an identity", e);
out:
	sqlite3_finalize(st);
	pthread_mutex_unlock(&r->lock);
	return rc;
}

enum rf_rc agg_registry_identity_cert(struct agg_registry *r, const char *fp,
				      struct rf_buf *out, struct rf_err *e)
{
	char norm[AGG_HEX256_SIZE];
	sqlite3_stmt *st = NULL;
	enum rf_rc rc;
	int src;

	if (!hex64_norm(fp, norm))
		return rf_err_set(e, RF_EINVAL, "malformed fingerprint");
	pthread_mutex_lock(&r->lock);
	rc = prepare(r, "SELECT cert_pem FROM identities WHERE fingerprint = ?",
		     &st, e);
	if (rc)
		goto out;
	bind_text(st, 1, norm);
	src = sqlite3_step(st);
	if (src == SQLITE_ROW) {
		const void *t = sqlite3_column_text(st, 0);
		int n = sqlite3_column_bytes(st, 0);

		if (!t)
			rc = rf_err_set(e, RF_ENOMEM, "out of memory");
		else
			rc = rf_buf_append(out, t, (size_t)n, e);
	} else if (src == SQLITE_DONE) {
		rc = rf_err_set(e, RF_ENOTFOUND,
				"no identity with certificate "
				"%.16s...",
				norm);
	} else {
		rc = db_fail(r, src, "read a certificate", e);
	}
out:
	sqlite3_finalize(st);
	pthread_mutex_unlock(&r->lock);
	return rc;
}

enum rf_rc agg_registry_revoke(struct agg_registry *r, const char *name,
			       int64_t now, int *count_out, struct rf_err *e)
{
	sqlite3_stmt *st = NULL;
	enum rf_rc rc;
	int src, n = 0;

	if (!name_ok(name))
		return rf_err_set(e, RF_EINVAL, "invalid identity name");
	pthread_mutex_lock(&r->lock);
	rc = tx_begin(r, e);
	if (rc)
		goto out;
	rc = prepare(r, "SELECT count(*) FROM identities WHERE name = ?", &st,
		     e);
	if (rc)
		goto out;
	bind_text(st, 1, name);
	src = sqlite3_step(st);
	if (src != SQLITE_ROW) {
		rc = db_fail(r, src, "revoke", e);
		goto out;
	}
	if (sqlite3_column_int64(st, 0) == 0) {
		rc =
		    rf_err_set(e, RF_ENOTFOUND, "no identity named '%s'", name);
		goto out;
	}
	sqlite3_finalize(st);
	rc = prepare(r,
		     "UPDATE identities SET revoked_at = ?"
		     " WHERE name = ? AND revoked_at IS NULL",
		     &st, e);
	if (rc)
		goto out;
	sqlite3_bind_int64(st, 1, now);
	bind_text(st, 2, name);
	src = sqlite3_step(st);
	if (src != SQLITE_DONE) {
		rc = db_fail(r, src, "revoke", e);
		goto out;
	}
	n = sqlite3_changes(r->db);
	rc = tx_commit(r, e);
	if (!rc && count_out)
		*count_out = n;
out:
	sqlite3_finalize(st);
	if (rc)
		tx_rollback(r);
	pthread_mutex_unlock(&r->lock);
	return rc;
}

enum rf_rc agg_registry_identity_list(struct agg_registry *r,
				      agg_identity_fn fn, void *ctx,
				      struct rf_err *e)
{
	struct agg_identity id;
	sqlite3_stmt *st = NULL;
	enum rf_rc rc;
	int src;

	pthread_mutex_lock(&r->lock);
	rc = prepare(r, FP_SQL_PEM " ORDER BY name, id", &st, e);
	while (!rc) {
		src = sqlite3_step(st);
		if (src == SQLITE_DONE)
			break;
		if (src != SQLITE_ROW) {
			rc = db_fail(r, src, "list identities", e);
			break;
		}
		rc = identity_read(r, st, &id, e);
		if (!rc)
			rc = fn(&id, (const char *)sqlite3_column_text(st, 7),
				ctx, e);
	}
	sqlite3_finalize(st);
	pthread_mutex_unlock(&r->lock);
	return rc;
}

/* ---- invitations --------------------------------------------------------- */

#define INVITE_TTL_MAX (10LL * 366 * 24 * 3600)

enum rf_rc agg_registry_invite(struct agg_registry *r, const char *name,
			       enum agg_role role, int64_t ttl_seconds,
			       int64_t now, char token_out[AGG_TOKEN_SIZE],
			       struct rf_err *e)
{
	uint8_t raw[32], h[RF_SHA256_LEN];
	sqlite3_stmt *st = NULL;
	enum rf_rc rc;
	int src;

	memset(token_out, 0, AGG_TOKEN_SIZE);
	if (!name_ok(name))
		return rf_err_set(e, RF_EINVAL, "invalid identity name");
	if (!strcmp(agg_role_name(role), "?"))
		return rf_err_set(e, RF_EINVAL, "invalid role %d", (int)role);
	if (ttl_seconds <= 0 || ttl_seconds > INVITE_TTL_MAX ||
	    now > INT64_MAX - ttl_seconds)
		return rf_err_set(e, RF_EINVAL,
				  "invalid invitation lifetime "
				  "%lld s",
				  (long long)ttl_seconds);
	rc = rf_random_bytes(raw, sizeof raw, e);
	if (!rc)
		rc = rf_sha256(raw, sizeof raw, h, e);
	if (!rc)
		rc = rf_hex_encode(raw, sizeof raw, token_out, AGG_TOKEN_SIZE,
				   e);
	rf_zeroize(raw, sizeof raw);
	if (rc)
		goto fail;

	pthread_mutex_lock(&r->lock);
	rc = prepare(r,
		     "INSERT INTO invitations (token_sha256, name, role,"
		     " created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
		     &st, e);
	if (!rc) {
		sqlite3_bind_blob(st, 1, h, sizeof h, SQLITE_STATIC);
		bind_text(st, 2, name);
		bind_text(st, 3, agg_role_name(role));
		sqlite3_bind_int64(st, 4, now);
		sqlite3_bind_int64(st, 5, now + ttl_seconds);
		src = sqlite3_step(st);
		if (src != SQLITE_DONE)
			rc = db_fail(r, src, "store an invitation", e);
	}
	sqlite3_finalize(st);
	pthread_mutex_unlock(&r->lock);
fail:
	if (rc)
		rf_zeroize(token_out, AGG_TOKEN_SIZE);
	return rc;
}

enum rf_rc agg_registry_redeem(struct agg_registry *r, const char *token,
			       int64_t now, char name_out[AGG_NAME_MAX + 1],
			       enum agg_role *role_out, struct rf_err *e)
{
	uint8_t raw[32], h[RF_SHA256_LEN];
	char name[AGG_NAME_MAX + 1], role[16];
	sqlite3_stmt *st = NULL;
	enum agg_role rl = AGG_ROLE_SITE;
	const void *stored;
	size_t n = 0;
	enum rf_rc rc;
	int src;

	name_out[0] = '\0';
	if (!token || strnlen(token, 65) != 64 ||
	    rf_hex_decode(token, 64, raw, sizeof raw, &n, NULL) != RF_OK)
		return rf_err_set(e, RF_EAUTH, "unknown invitation token");
	rc = rf_sha256(raw, sizeof raw, h, e);
	rf_zeroize(raw, sizeof raw);
	if (rc)
		return rc;

	pthread_mutex_lock(&r->lock);
	/* BEGIN IMMEDIATE takes the write lock first: between the read and
	 * the update no other connection can redeem the same token */
	rc = tx_begin(r, e);
	if (rc)
		goto out;
	rc = prepare(r,
		     "SELECT token_sha256, name, role, expires_at, used_at"
		     " FROM invitations WHERE token_sha256 = ?",
		     &st, e);
	if (rc)
		goto out;
	sqlite3_bind_blob(st, 1, h, sizeof h, SQLITE_STATIC);
	src = sqlite3_step(st);
	if (src != SQLITE_ROW && src != SQLITE_DONE) {
		rc = db_fail(r, src, "redeem an invitation", e);
		goto out;
	}
	stored = src == SQLITE_ROW ? sqlite3_column_blob(st, 0) : NULL;
	if (!stored || sqlite3_column_bytes(st, 0) != (int)sizeof h ||
	    !rf_ct_equal(stored, h, sizeof h)) {
		rc = rf_err_set(e, RF_EAUTH, "unknown invitation token");
		goto out;
	}
	if (sqlite3_column_type(st, 4) != SQLITE_NULL) {
		rc = rf_err_set(e, RF_EAUTH, "token already used");
		goto out;
	}
	if (now >= sqlite3_column_int64(st, 3)) {
		rc = rf_err_set(e, RF_EAUTH, "token expired");
		goto out;
	}
	rc = col_copy(r, st, 1, name, sizeof name, e);
	if (!rc)
		rc = col_copy(r, st, 2, role, sizeof role, e);
	if (!rc && agg_role_parse(role, &rl, NULL))
		rc = rf_err_set(e, RF_EPROTO, "'%s': bad role '%s'", r->path,
				role);
	if (rc)
		goto out;
	sqlite3_finalize(st);
	rc = prepare(r,
		     "UPDATE invitations SET used_at = ?"
		     " WHERE token_sha256 = ? AND used_at IS NULL",
		     &st, e);
	if (rc)
		goto out;
	sqlite3_bind_int64(st, 1, now);
	sqlite3_bind_blob(st, 2, h, sizeof h, SQLITE_STATIC);
	src = sqlite3_step(st);
	if (src != SQLITE_DONE) {
		rc = db_fail(r, src, "redeem an invitation", e);
		goto out;
	}
	if (sqlite3_changes(r->db) != 1) {
		rc = rf_err_set(e, RF_EAUTH, "token already used");
		goto out;
	}
	rc = tx_commit(r, e);
	if (!rc) {
		memcpy(name_out, name, sizeof name);
		*role_out = rl;
	}
out:
	sqlite3_finalize(st);
	if (rc)
		tx_rollback(r);
	pthread_mutex_unlock(&r->lock);
	return rc;
}

/* ---- rounds -------------------------------------------------------------- */

#define ROUND_SQL                                                              \
	"SELECT id, state, round_no, created_at, updated_at, spec_sha256,"     \
	" model_sha256, spec, model_path, researcher, spec_json, signature,"   \
	" deadline, error FROM rounds"

/* Fills rd from a ROUND_SQL row with borrowed strings. */
static enum rf_rc round_read(struct agg_registry *r, sqlite3_stmt *st,
			     struct agg_round *rd, struct rf_err *e)
{
	enum rf_rc rc;

	memset(rd, 0, sizeof *rd);
	rd->id = sqlite3_column_int64(st, 0);
	rd->round_no = sqlite3_column_int64(st, 2);
	rd->created_at = sqlite3_column_int64(st, 3);
	rd->updated_at = sqlite3_column_int64(st, 4);
	rc = col_copy(r, st, 1, rd->state, sizeof rd->state, e);
	if (!rc)
		rc = col_copy(r, st, 5, rd->spec_sha256, sizeof rd->spec_sha256,
			      e);
	if (!rc)
		rc = col_copy(r, st, 6, rd->model_sha256,
			      sizeof rd->model_sha256, e);
	if (rc)
		return rc;
	rd->spec_yaml = (char *)sqlite3_column_text(st, 7);
	if (!rd->spec_yaml)
		return rf_err_set(e, RF_ENOMEM, "out of memory");
	rd->model_path = (char *)sqlite3_column_text(st, 8);
	rc = col_copy(r, st, 9, rd->researcher, sizeof rd->researcher, e);
	if (rc)
		return rc;
	rd->spec_json = (char *)sqlite3_column_text(st, 10);
	if (sqlite3_column_type(st, 11) == SQLITE_BLOB) {
		if (sqlite3_column_bytes(st, 11) != AGG_SIG_LEN)
			return rf_err_set(e, RF_EPROTO,
					  "'%s': malformed round signature",
					  r->path);
		memcpy(rd->signature, sqlite3_column_blob(st, 11),
		       AGG_SIG_LEN);
		rd->has_signature = 1;
	}
	rd->deadline = sqlite3_column_int64(st, 12);
	rd->error = (char *)sqlite3_column_text(st, 13);
	return RF_OK;
}

/* Duplicates the borrowed strings of *rd (from round_read) into *out. */
static enum rf_rc round_own(const struct agg_round *rd, struct agg_round *out,
			    struct rf_err *e)
{
	*out = *rd;
	out->spec_yaml = rf_strdup(rd->spec_yaml);
	out->model_path = rd->model_path ? rf_strdup(rd->model_path) : NULL;
	out->spec_json = rd->spec_json ? rf_strdup(rd->spec_json) : NULL;
	out->error = rd->error ? rf_strdup(rd->error) : NULL;
	if (!out->spec_yaml || (rd->model_path && !out->model_path) ||
	    (rd->spec_json && !out->spec_json) || (rd->error && !out->error)) {
		agg_round_release(out);
		return rf_err_set(e, RF_ENOMEM,
				  "out of memory reading round %lld",
				  (long long)rd->id);
	}
	return RF_OK;
}

enum rf_rc agg_registry_round_create(struct agg_registry *r,
				     const char *spec_yaml, const char *state,
				     int64_t now, int64_t *id_out,
				     struct rf_err *e)
{
	uint8_t h[RF_SHA256_LEN];
	char hex[AGG_HEX256_SIZE];
	sqlite3_stmt *st = NULL;
	enum rf_rc rc;
	size_t len;
	int src;

	if (!state_ok(state))
		return rf_err_set(e, RF_EINVAL, "invalid round state");
	if (!spec_yaml)
		return rf_err_set(e, RF_EINVAL, "no round spec");
	len = strnlen(spec_yaml, AGG_SPEC_MAX + 1);
	if (len > AGG_SPEC_MAX)
		return rf_err_set(e, RF_ETOOBIG, "round spec over %d bytes",
				  AGG_SPEC_MAX);
	rc = rf_sha256(spec_yaml, len, h, e);
	if (!rc)
		rc = rf_hex_encode(h, sizeof h, hex, sizeof hex, e);
	if (rc)
		return rc;
	pthread_mutex_lock(&r->lock);
	rc = prepare(r,
		     "INSERT INTO rounds (spec, spec_sha256, state, round_no,"
		     " created_at, updated_at) VALUES (?, ?, ?, 0, ?, ?)",
		     &st, e);
	if (!rc) {
		sqlite3_bind_text(st, 1, spec_yaml, (int)len, SQLITE_STATIC);
		bind_text(st, 2, hex);
		bind_text(st, 3, state);
		sqlite3_bind_int64(st, 4, now);
		sqlite3_bind_int64(st, 5, now);
		src = sqlite3_step(st);
		if (src != SQLITE_DONE)
			rc = db_fail(r, src, "create a round", e);
		else
			*id_out = sqlite3_last_insert_rowid(r->db);
	}
	sqlite3_finalize(st);
	pthread_mutex_unlock(&r->lock);
	return rc;
}

enum rf_rc agg_registry_round_begin(struct agg_registry *r,
				    const struct agg_round_new *n,
				    int64_t now, int64_t *id_out,
				    struct rf_err *e)
{
	uint8_t h[RF_SHA256_LEN];
	char hex[AGG_HEX256_SIZE];
	sqlite3_stmt *st = NULL;
	size_t ylen, jlen;
	enum rf_rc rc;
	int src;

	if (!n || !state_ok(n->state))
		return rf_err_set(e, RF_EINVAL, "invalid round state");
	if (!name_ok(n->researcher))
		return rf_err_set(e, RF_EINVAL, "invalid researcher name");
	if (!n->spec_yaml || !n->spec_json)
		return rf_err_set(e, RF_EINVAL, "no round spec");
	ylen = strnlen(n->spec_yaml, AGG_SPEC_MAX + 1);
	jlen = strnlen(n->spec_json, AGG_SPEC_MAX + 1);
	if (ylen > AGG_SPEC_MAX || jlen > AGG_SPEC_MAX)
		return rf_err_set(e, RF_ETOOBIG, "round spec over %d bytes",
				  AGG_SPEC_MAX);
	rc = rf_sha256(n->spec_json, jlen, h, e);
	if (!rc)
		rc = rf_hex_encode(h, sizeof h, hex, sizeof hex, e);
	if (rc)
		return rc;
	pthread_mutex_lock(&r->lock);
	rc = prepare(r,
		     "INSERT INTO rounds (spec, spec_sha256, state, round_no,"
		     " created_at, updated_at, researcher, spec_json)"
		     " VALUES (?, ?, ?, 0, ?, ?, ?, ?)",
		     &st, e);
	if (!rc) {
		sqlite3_bind_text(st, 1, n->spec_yaml, (int)ylen,
				  SQLITE_STATIC);
		bind_text(st, 2, hex);
		bind_text(st, 3, n->state);
		sqlite3_bind_int64(st, 4, now);
		sqlite3_bind_int64(st, 5, now);
		bind_text(st, 6, n->researcher);
		sqlite3_bind_text(st, 7, n->spec_json, (int)jlen,
				  SQLITE_STATIC);
		src = sqlite3_step(st);
		if (src != SQLITE_DONE)
			rc = db_fail(r, src, "create a round", e);
		else
			*id_out = sqlite3_last_insert_rowid(r->db);
	}
	sqlite3_finalize(st);
	pthread_mutex_unlock(&r->lock);
	return rc;
}

enum rf_rc agg_registry_round_get(struct agg_registry *r, int64_t id,
				  struct agg_round *out, struct rf_err *e)
{
	sqlite3_stmt *st = NULL;
	struct agg_round rd;
	enum rf_rc rc;
	int src;

	memset(out, 0, sizeof *out);
	pthread_mutex_lock(&r->lock);
	rc = prepare(r, ROUND_SQL " WHERE id = ?", &st, e);
	if (rc)
		goto out;
	sqlite3_bind_int64(st, 1, id);
	src = sqlite3_step(st);
	if (src == SQLITE_DONE) {
		rc =
		    rf_err_set(e, RF_ENOTFOUND, "no round %lld", (long long)id);
		goto out;
	}
	if (src != SQLITE_ROW) {
		rc = db_fail(r, src, "read a round", e);
		goto out;
	}
	rc = round_read(r, st, &rd, e);
	if (!rc)
		rc = round_own(&rd, out, e);
out:
	sqlite3_finalize(st);
	pthread_mutex_unlock(&r->lock);
	return rc;
}

void agg_round_release(struct agg_round *rd)
{
	if (!rd)
		return;
	rf_free(rd->spec_yaml);
	rf_free(rd->model_path);
	rf_free(rd->spec_json);
	rf_free(rd->error);
	memset(rd, 0, sizeof *rd);
}

/* RF_ENOTFOUND unless round id exists (inside a transaction). */
static enum rf_rc round_exists(struct agg_registry *r, int64_t id,
			       struct rf_err *e)
{
	sqlite3_stmt *st = NULL;
	enum rf_rc rc;
	int src;

	rc = prepare(r, "SELECT 1 FROM rounds WHERE id = ?", &st, e);
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, id);
	src = sqlite3_step(st);
	if (src == SQLITE_DONE)
		rc =
		    rf_err_set(e, RF_ENOTFOUND, "no round %lld", (long long)id);
	else if (src != SQLITE_ROW)
		rc = db_fail(r, src, "read a round", e);
	sqlite3_finalize(st);
	return rc;
}

/* ---- models -------------------------------------------------------------- */

static enum rf_rc model_check(const struct agg_model *m, struct rf_err *e)
{
	char sha[AGG_HEX256_SIZE];

	if (m->round_no < 0)
		return rf_err_set(e, RF_EINVAL, "negative model round_no");
	if (!hex64_norm(m->sha256, sha))
		return rf_err_set(e, RF_EINVAL, "malformed model sha256");
	if (!m->path || !m->path[0] ||
	    strnlen(m->path, AGG_PATH_MAX + 1) > AGG_PATH_MAX)
		return rf_err_set(e, RF_EINVAL, "bad model path");
	if (m->sites_json &&
	    strnlen(m->sites_json, AGG_SITES_JSON_MAX + 1) > AGG_SITES_JSON_MAX)
		return rf_err_set(e, RF_ETOOBIG, "model site list too long");
	return RF_OK;
}

/* Inserts model row m (checked) inside an open transaction. */
static enum rf_rc model_insert(struct agg_registry *r,
			       const struct agg_model *m, struct rf_err *e)
{
	char sha[AGG_HEX256_SIZE];
	sqlite3_stmt *st = NULL;
	enum rf_rc rc;
	int src;

	(void)hex64_norm(m->sha256, sha);
	rc = prepare(r,
		     "INSERT INTO models (round, round_no, sha256, path, sites,"
		     " created_at) VALUES (?, ?, ?, ?, ?, ?)",
		     &st, e);
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, m->round_id);
	sqlite3_bind_int64(st, 2, m->round_no);
	bind_text(st, 3, sha);
	bind_text(st, 4, m->path);
	bind_text(st, 5, m->sites_json ? m->sites_json : "[]");
	sqlite3_bind_int64(st, 6, m->created_at);
	src = sqlite3_step(st);
	if (src == SQLITE_CONSTRAINT_PRIMARYKEY ||
	    src == SQLITE_CONSTRAINT_UNIQUE)
		rc = rf_err_set(e, RF_EEXIST,
				"model %lld of round %lld is already "
				"recorded",
				(long long)m->round_no,
				(long long)m->round_id);
	else if (src == SQLITE_CONSTRAINT_CHECK)
		rc = rf_err_set(e, RF_EINVAL,
				"model site list is not JSON");
	else if (src != SQLITE_DONE)
		rc = db_fail(r, src, "add a model", e);
	sqlite3_finalize(st);
	return rc;
}

enum rf_rc agg_registry_models(struct agg_registry *r, int64_t round_id,
			       agg_model_fn fn, void *ctx, struct rf_err *e)
{
	sqlite3_stmt *st = NULL;
	struct agg_model m;
	enum rf_rc rc;
	int src;

	pthread_mutex_lock(&r->lock);
	rc = prepare(r,
		     "SELECT round_no, sha256, path, sites, created_at"
		     " FROM models WHERE round = ? ORDER BY round_no",
		     &st, e);
	if (!rc)
		sqlite3_bind_int64(st, 1, round_id);
	while (!rc) {
		src = sqlite3_step(st);
		if (src == SQLITE_DONE)
			break;
		if (src != SQLITE_ROW) {
			rc = db_fail(r, src, "list models", e);
			break;
		}
		memset(&m, 0, sizeof m);
		m.round_id = round_id;
		m.round_no = sqlite3_column_int64(st, 0);
		m.created_at = sqlite3_column_int64(st, 4);
		rc = col_copy(r, st, 1, m.sha256, sizeof m.sha256, e);
		if (rc)
			break;
		m.path = (const char *)sqlite3_column_text(st, 2);
		m.sites_json = (const char *)sqlite3_column_text(st, 3);
		if (!m.path || !m.sites_json)
			rc = rf_err_set(e, RF_ENOMEM, "out of memory");
		else
			rc = fn(&m, ctx, e);
	}
	sqlite3_finalize(st);
	pthread_mutex_unlock(&r->lock);
	return rc;
}

enum rf_rc agg_registry_round_set_state(struct agg_registry *r, int64_t id,
					const char *expected,
					const struct agg_round_change *c,
					int64_t now, struct rf_err *e)
{
	char cur[AGG_STATE_MAX + 1], msha[AGG_HEX256_SIZE];
	sqlite3_stmt *st = NULL;
	enum rf_rc rc;
	int src;

	if (!state_ok(expected) || !c || !state_ok(c->state))
		return rf_err_set(e, RF_EINVAL, "invalid round state");
	if (c->model_sha256 && !hex64_norm(c->model_sha256, msha))
		return rf_err_set(e, RF_EINVAL, "malformed model sha256");
	if (c->model_path &&
	    strnlen(c->model_path, AGG_PATH_MAX + 1) > AGG_PATH_MAX)
		return rf_err_set(e, RF_ETOOBIG, "model path too long");
	if (c->error && strnlen(c->error, AGG_ERROR_MAX + 1) > AGG_ERROR_MAX)
		return rf_err_set(e, RF_ETOOBIG, "round error text too long");
	if (c->deadline < 0)
		return rf_err_set(e, RF_EINVAL, "negative round deadline");
	if (c->model) {
		rc = model_check(c->model, e);
		if (rc)
			return rc;
		if (c->model->round_id != id)
			return rf_err_set(e, RF_EINVAL,
					  "model of round %lld given for "
					  "round %lld",
					  (long long)c->model->round_id,
					  (long long)id);
	}
	pthread_mutex_lock(&r->lock);
	rc = tx_begin(r, e);
	if (rc)
		goto out;
	rc = prepare(r, "SELECT state, round_no FROM rounds WHERE id = ?",
		     &st, e);
	if (rc)
		goto out;
	sqlite3_bind_int64(st, 1, id);
	src = sqlite3_step(st);
	if (src == SQLITE_DONE) {
		rc =
		    rf_err_set(e, RF_ENOTFOUND, "no round %lld", (long long)id);
		goto out;
	}
	if (src != SQLITE_ROW) {
		rc = db_fail(r, src, "read a round", e);
		goto out;
	}
	rc = col_copy(r, st, 0, cur, sizeof cur, e);
	if (rc)
		goto out;
	if (strcmp(cur, expected) != 0) {
		rc = rf_err_set(e, RF_EPOLICY,
				"round %lld is in state '%s', not '%s'",
				(long long)id, cur, expected);
		goto out;
	}
	if (c->expected_round_no > 0 &&
	    sqlite3_column_int64(st, 1) != c->expected_round_no) {
		rc = rf_err_set(e, RF_EPOLICY,
				"round %lld is at iteration %lld, not %lld",
				(long long)id,
				(long long)sqlite3_column_int64(st, 1),
				(long long)c->expected_round_no);
		goto out;
	}
	sqlite3_finalize(st);
	st = NULL;
	if (c->model) {
		rc = model_insert(r, c->model, e);
		if (rc)
			goto out;
	}
	rc = prepare(r,
		     "UPDATE rounds SET state = ?1,"
		     " round_no = CASE WHEN ?2 < 0 THEN round_no ELSE ?2 END,"
		     " model_sha256 = coalesce(?3, model_sha256),"
		     " model_path = coalesce(?4, model_path),"
		     " updated_at = ?5,"
		     " error = coalesce(?7, error),"
		     " deadline = CASE WHEN ?8 > 0 THEN ?8 ELSE deadline END,"
		     " signature = coalesce(?9, signature) WHERE id = ?6",
		     &st, e);
	if (rc)
		goto out;
	bind_text(st, 1, c->state);
	sqlite3_bind_int64(st, 2, c->round_no);
	bind_text(st, 3, c->model_sha256 ? msha : NULL);
	bind_text(st, 4, c->model_path);
	sqlite3_bind_int64(st, 5, now);
	sqlite3_bind_int64(st, 6, id);
	bind_text(st, 7, c->error);
	sqlite3_bind_int64(st, 8, c->deadline);
	if (c->signature)
		sqlite3_bind_blob(st, 9, c->signature, AGG_SIG_LEN,
				  SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 9);
	src = sqlite3_step(st);
	if (src != SQLITE_DONE) {
		rc = db_fail(r, src, "change a round", e);
		goto out;
	}
	rc = tx_commit(r, e);
out:
	sqlite3_finalize(st);
	if (rc)
		tx_rollback(r);
	pthread_mutex_unlock(&r->lock);
	return rc;
}

enum rf_rc agg_registry_round_list(struct agg_registry *r, agg_round_fn fn,
				   void *ctx, struct rf_err *e)
{
	sqlite3_stmt *st = NULL;
	struct agg_round rd;
	enum rf_rc rc;
	int src;

	pthread_mutex_lock(&r->lock);
	rc = prepare(r, ROUND_SQL " ORDER BY id", &st, e);
	while (!rc) {
		src = sqlite3_step(st);
		if (src == SQLITE_DONE)
			break;
		if (src != SQLITE_ROW) {
			rc = db_fail(r, src, "list rounds", e);
			break;
		}
		rc = round_read(r, st, &rd, e);
		if (!rc)
			rc = fn(&rd, ctx, e);
	}
	sqlite3_finalize(st);
	pthread_mutex_unlock(&r->lock);
	return rc;
}

/* ---- participants -------------------------------------------------------- */

enum rf_rc agg_registry_participant_set(struct agg_registry *r,
					int64_t round_id, const char *site,
					enum agg_part_state state,
					const char *policy_sha256, int64_t now,
					struct rf_err *e)
{
	char pol[AGG_HEX256_SIZE];
	sqlite3_stmt *st = NULL;
	enum rf_rc rc;
	int src;

	if (!name_ok(site))
		return rf_err_set(e, RF_EINVAL, "invalid site name");
	if (!strcmp(agg_part_state_name(state), "?"))
		return rf_err_set(e, RF_EINVAL, "invalid participant state %d",
				  (int)state);
	if (policy_sha256 && !hex64_norm(policy_sha256, pol))
		return rf_err_set(e, RF_EINVAL, "malformed policy sha256");
	pthread_mutex_lock(&r->lock);
	rc = tx_begin(r, e);
	if (!rc)
		rc = round_exists(r, round_id, e);
	if (!rc)
		rc = prepare(r,
			     "INSERT INTO participants (round, site, state,"
			     " policy_sha256, updated_at)"
			     " VALUES (?, ?, ?, ?, ?)"
			     " ON CONFLICT (round, site) DO UPDATE SET"
			     " state = excluded.state,"
			     " policy_sha256 = coalesce(excluded.policy_sha256,"
			     "  policy_sha256),"
			     " updated_at = excluded.updated_at",
			     &st, e);
	if (rc)
		goto out;
	sqlite3_bind_int64(st, 1, round_id);
	bind_text(st, 2, site);
	bind_text(st, 3, agg_part_state_name(state));
	bind_text(st, 4, policy_sha256 ? pol : NULL);
	sqlite3_bind_int64(st, 5, now);
	src = sqlite3_step(st);
	if (src != SQLITE_DONE) {
		rc = db_fail(r, src, "set a participant", e);
		goto out;
	}
	rc = tx_commit(r, e);
out:
	sqlite3_finalize(st);
	if (rc)
		tx_rollback(r);
	pthread_mutex_unlock(&r->lock);
	return rc;
}

enum rf_rc agg_registry_participants(struct agg_registry *r, int64_t round_id,
				     agg_participant_fn fn, void *ctx,
				     struct rf_err *e)
{
	struct agg_participant p;
	sqlite3_stmt *st = NULL;
	char state[16];
	enum rf_rc rc;
	int src;

	pthread_mutex_lock(&r->lock);
	rc = prepare(r,
		     "SELECT site, state, policy_sha256, updated_at"
		     " FROM participants WHERE round = ? ORDER BY site",
		     &st, e);
	if (!rc)
		sqlite3_bind_int64(st, 1, round_id);
	while (!rc) {
		src = sqlite3_step(st);
		if (src == SQLITE_DONE)
			break;
		if (src != SQLITE_ROW) {
			rc = db_fail(r, src, "list participants", e);
			break;
		}
		memset(&p, 0, sizeof p);
		p.round_id = round_id;
		p.updated_at = sqlite3_column_int64(st, 3);
		rc = col_copy(r, st, 1, state, sizeof state, e);
		if (!rc && part_parse(state, &p.state))
			rc = rf_err_set(e, RF_EPROTO, "'%s': bad state '%s'",
					r->path, state);
		if (!rc)
			rc = col_copy(r, st, 2, p.policy_sha256,
				      sizeof p.policy_sha256, e);
		if (rc)
			break;
		p.site = (const char *)sqlite3_column_text(st, 0);
		if (!p.site)
			rc = rf_err_set(e, RF_ENOMEM, "out of memory");
		else
			rc = fn(&p, ctx, e);
	}
	sqlite3_finalize(st);
	pthread_mutex_unlock(&r->lock);
	return rc;
}

/* ---- updates ------------------------------------------------------------- */

enum rf_rc agg_registry_update_add(struct agg_registry *r,
				   const struct agg_update *u, struct rf_err *e)
{
	char sha[AGG_HEX256_SIZE];
	const char *metrics;
	sqlite3_stmt *st = NULL;
	enum rf_rc rc;
	size_t mlen;
	int src;

	if (!u || !name_ok(u->site))
		return rf_err_set(e, RF_EINVAL, "invalid site name");
	if (!hex64_norm(u->sha256, sha))
		return rf_err_set(e, RF_EINVAL, "malformed update sha256");
	if (u->round_no < 0 || u->bytes < 0 || u->samples < 0)
		return rf_err_set(e, RF_EINVAL,
				  "negative count in update of "
				  "'%s'",
				  u->site);
	metrics = u->metrics_json ? u->metrics_json : "{}";
	mlen = strnlen(metrics, AGG_METRICS_MAX + 1);
	if (mlen > AGG_METRICS_MAX)
		return rf_err_set(e, RF_ETOOBIG,
				  "metrics of '%s' over %d "
				  "bytes",
				  u->site, AGG_METRICS_MAX);
	pthread_mutex_lock(&r->lock);
	rc = tx_begin(r, e);
	if (!rc)
		rc = round_exists(r, u->round_id, e);
	if (!rc)
		rc = prepare(r,
			     "INSERT INTO updates (round, round_no, site,"
			     " sha256, bytes, samples, metrics, received_at)"
			     " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
			     &st, e);
	if (rc)
		goto out;
	sqlite3_bind_int64(st, 1, u->round_id);
	sqlite3_bind_int64(st, 2, u->round_no);
	bind_text(st, 3, u->site);
	bind_text(st, 4, sha);
	sqlite3_bind_int64(st, 5, u->bytes);
	sqlite3_bind_int64(st, 6, u->samples);
	sqlite3_bind_text(st, 7, metrics, (int)mlen, SQLITE_STATIC);
	sqlite3_bind_int64(st, 8, u->received_at);
	src = sqlite3_step(st);
	if (src == SQLITE_CONSTRAINT_UNIQUE)
		rc = rf_err_set(e, RF_EEXIST,
				"update of '%s' for round %lld.%lld is "
				"already recorded",
				u->site, (long long)u->round_id,
				(long long)u->round_no);
	else if (src == SQLITE_CONSTRAINT_CHECK)
		rc = rf_err_set(e, RF_EINVAL, "metrics of '%s' are not JSON",
				u->site);
	else if (src != SQLITE_DONE)
		rc = db_fail(r, src, "add an update", e);
	if (!rc)
		rc = tx_commit(r, e);
out:
	sqlite3_finalize(st);
	if (rc)
		tx_rollback(r);
	pthread_mutex_unlock(&r->lock);
	return rc;
}

enum rf_rc agg_registry_updates(struct agg_registry *r, int64_t round_id,
				int64_t round_no, agg_update_fn fn, void *ctx,
				struct rf_err *e)
{
	struct agg_update u;
	sqlite3_stmt *st = NULL;
	enum rf_rc rc;
	int src;

	pthread_mutex_lock(&r->lock);
	rc = prepare(r,
		     "SELECT site, sha256, bytes, samples, metrics, received_at"
		     " FROM updates WHERE round = ? AND round_no = ?"
		     " ORDER BY site",
		     &st, e);
	if (!rc) {
		sqlite3_bind_int64(st, 1, round_id);
		sqlite3_bind_int64(st, 2, round_no);
	}
	while (!rc) {
		src = sqlite3_step(st);
		if (src == SQLITE_DONE)
			break;
		if (src != SQLITE_ROW) {
			rc = db_fail(r, src, "list updates", e);
			break;
		}
		memset(&u, 0, sizeof u);
		u.round_id = round_id;
		u.round_no = round_no;
		u.bytes = sqlite3_column_int64(st, 2);
		u.samples = sqlite3_column_int64(st, 3);
		u.received_at = sqlite3_column_int64(st, 5);
		rc = col_copy(r, st, 1, u.sha256, sizeof u.sha256, e);
		if (rc)
			break;
		u.site = (const char *)sqlite3_column_text(st, 0);
		u.metrics_json = (const char *)sqlite3_column_text(st, 4);
		if (!u.site || !u.metrics_json)
			rc = rf_err_set(e, RF_ENOMEM, "out of memory");
		else
			rc = fn(&u, ctx, e);
	}
	sqlite3_finalize(st);
	pthread_mutex_unlock(&r->lock);
	return rc;
}
