/* agg_ctx.c - the aggregator folder: init, open, audit writer. */
#include "agg_ctx.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "rf_alloc.h"
#include "rf_audit.h"
#include "rf_buf.h"
#include "rf_config.h"
#include "rf_file.h"
#include "rf_log.h"

#define DAY 86400
#define KEY_PEM_MAX 65536

static const char agg_yaml[] =
    "# radfed aggregator configuration: docs/federation.md explains every\n"
    "# key.\n"
    "aggregator:\n"
    "  name: %s\n"
    "  listen: \"%s\"\n"
    "  # the name in the server certificate, which clients check\n"
    "  server-name: %s\n"
    "\n"
    "certificates:\n"
    "  days: %d   # lifetime of the certificates enrollment issues\n";

static const struct rf_cfg_key agg_keys[] = {
	{ "name", RF_CFG_REQUIRED, NULL },
	{ "listen", RF_CFG_REQUIRED, NULL },
	{ "server-name", RF_CFG_REQUIRED, NULL },
	{ NULL, 0, NULL },
};
static const struct rf_cfg_key cert_keys[] = {
	{ "days", RF_CFG_OPTIONAL, NULL },
	{ NULL, 0, NULL },
};
static const struct rf_cfg_key top_keys[] = {
	{ "aggregator", RF_CFG_REQUIRED, agg_keys },
	{ "certificates", RF_CFG_OPTIONAL, cert_keys },
	{ NULL, 0, NULL },
};

static int64_t wall_clock(void)
{
	return (int64_t)time(NULL);
}

int64_t agg_ctx_now(const struct agg_ctx *c)
{
	return c && c->clock ? c->clock(c->clock_ctx) : wall_clock();
}

int agg_name_valid(const char *name)
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
		if (!alnum && ch != '.' && ch != '_' && ch != '@' && ch != '-')
			return 0;
	}
	return 1;
}

static int server_name_valid(const char *s)
{
	size_t n = strlen(s), i;

	if (n == 0 || n > 253 || s[0] == '-' || s[0] == '.')
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '-' ||
		      s[i] == '.'))
			return 0;
	return 1;
}

/* listen: "host:port" with printable characters only (it goes into YAML
 * between double quotes). */
static int listen_valid(const char *s)
{
	size_t n = strlen(s), i;

	if (n < 3 || n > 255 || !strrchr(s, ':'))
		return 0;
	for (i = 0; i < n; i++)
		if (s[i] <= ' ' || s[i] > '~' || s[i] == '"' || s[i] == '\\')
			return 0;
	return 1;
}

/* ---- init --------------------------------------------------------------- */

static const char *const tree_files[] = {
	"ca/ca.key",	    "ca/ca.pem",	 "tls/server.key",
	"tls/server.pem",   "keys/audit.key",	 "logs/audit.jsonl",
	"registry.db",	    "registry.db-wal",	 "registry.db-shm",
	"registry.db-journal", "agg.yaml",	 NULL,
};
static const char *const tree_dirs[] = { "ca", "tls", "keys", "logs", "",
					 NULL };

/* Removes what agg_ctx_init makes below tmp. */
static void remove_tree(const char *tmp)
{
	char p[PATH_MAX];
	size_t i;

	for (i = 0; tree_files[i]; i++)
		if (rf_path_join(p, sizeof p, tmp, tree_files[i], NULL) ==
		    RF_OK)
			unlink(p);
	for (i = 0; tree_dirs[i]; i++)
		if (rf_path_join(p, sizeof p, tmp, tree_dirs[i], NULL) == RF_OK)
			rmdir(p);
}

/* Closes a log after its events are on disk: a failure there means only
 * that the closing checkpoint is missing, which the next close writes. */
static void close_audit(struct rf_audit *a)
{
	struct rf_err ignored = { 0 };

	if (rf_audit_close(a, &ignored) != RF_OK)
		ignored.rc = RF_OK;
}

/* Saves a new key of type t at dir/rel (mode 0600). */
static enum rf_rc new_key(const char *dir, const char *rel,
			  enum rf_key_type t, struct rf_key **out,
			  struct rf_err *e)
{
	char p[PATH_MAX];
	enum rf_rc rc;

	*out = NULL;
	rc = rf_path_join(p, sizeof p, dir, rel, e);
	if (!rc)
		rc = rf_key_generate(t, out, e);
	if (!rc)
		rc = rf_key_save_private_pem(*out, p, e);
	if (rc) {
		rf_key_destroy(*out);
		*out = NULL;
	}
	return rc;
}

static enum rf_rc save_cert(const struct rf_x509 *x, const char *dir,
			    const char *rel, struct rf_err *e)
{
	char p[PATH_MAX];
	enum rf_rc rc = rf_path_join(p, sizeof p, dir, rel, e);

	return rc ? rc : rf_x509_save_pem(x, p, e);
}

/* Builds the folder's contents in tmp. */
static enum rf_rc init_tree(const char *tmp, const char *name,
			    const char *listen, const char *server_name,
			    int days, struct rf_err *e)
{
	struct rf_key *ca_key = NULL, *srv_key = NULL, *audit_key = NULL;
	struct rf_x509 *ca = NULL, *srv = NULL;
	struct rf_x509_req *req = NULL;
	struct agg_registry *reg = NULL;
	struct rf_audit *a = NULL;
	struct rf_buf b = RF_BUF_INIT(8192);
	char p[PATH_MAX], fp[RF_X509_FP_SIZE], cn[RF_X509_NAME_MAX + 1];
	char actor[RF_AUDIT_NAME_MAX];
	int64_t now = wall_clock();
	struct rf_x509_issue_params ip = { AGG_SERVER_CN, "aggregator",
					   NULL, RF_X509_SERVER,
					   now - 60,
					   now + (int64_t)AGG_CA_DAYS * DAY };
	char names[600];
	enum rf_rc rc;
	size_t i;

	/* the server name, plus localhost and 127.0.0.1 so that a node or
	 * a researcher on the same machine can dial either */
	snprintf(names, sizeof names, "%s", server_name);
	if (strcmp(server_name, "localhost"))
		snprintf(names + strlen(names), sizeof names - strlen(names),
			 ",localhost");
	if (strcmp(server_name, "127.0.0.1"))
		snprintf(names + strlen(names), sizeof names - strlen(names),
			 ",127.0.0.1");
	ip.dns = names;

	for (i = 0; tree_dirs[i] && tree_dirs[i][0]; i++) {
		rc = rf_path_join(p, sizeof p, tmp, tree_dirs[i], e);
		if (rc)
			goto out;
		if (mkdir(p, 0700) != 0) {
			rc = rf_err_set(e, RF_EIO, "cannot create '%s': %s", p,
					strerror(errno));
			goto out;
		}
	}
	snprintf(cn, sizeof cn, "%.61s CA", name);
	rc = new_key(tmp, "ca/ca.key", RF_KEY_P256, &ca_key, e);
	if (!rc)
		rc = rf_x509_ca_create(ca_key, cn, ip.not_before,
				       ip.not_after, &ca, e);
	if (!rc)
		rc = save_cert(ca, tmp, "ca/ca.pem", e);
	if (!rc)
		rc = new_key(tmp, "tls/server.key", RF_KEY_P256, &srv_key, e);
	if (!rc)
		rc = rf_x509_req_create(srv_key, AGG_SERVER_CN, &req, e);
	if (!rc)
		rc = rf_x509_issue(ca, ca_key, req, &ip, &srv, e);
	if (!rc)
		rc = save_cert(srv, tmp, "tls/server.pem", e);
	if (!rc)
		rc = new_key(tmp, "keys/audit.key", RF_KEY_ED25519, &audit_key,
			     e);
	if (!rc)
		rc = rf_path_join(p, sizeof p, tmp, "registry.db", e);
	if (!rc)
		rc = agg_registry_open(p, &reg, e);
	if (rc)
		goto out;
	agg_registry_close(reg);
	reg = NULL;
	rc = rf_buf_printf(&b, e, agg_yaml, name, listen, server_name, days);
	if (!rc)
		rc = rf_path_join(p, sizeof p, tmp, "agg.yaml", e);
	if (!rc)
		rc = rf_file_write_atomic(p, b.data, b.len, 0644, e);
	if (!rc)
		rc = rf_x509_fingerprint(ca, fp, e);
	if (!rc)
		rc = rf_path_join(p, sizeof p, tmp, "logs/audit.jsonl", e);
	if (rc)
		goto out;
	snprintf(actor, sizeof actor, "agg:%s", name);
	rc = rf_audit_open(p, actor, audit_key, NULL, &a, e);
	if (rc)
		goto out;
	rf_buf_reset(&b);
	rc = rf_buf_printf(&b, e,
			   "{\"name\":\"%s\",\"ca_fingerprint\":\"%s\","
			   "\"server_name\":\"%s\",\"cert_days\":%d}",
			   name, fp, server_name, days);
	if (!rc)
		rc = rf_audit_append(a, "agg.init", rf_buf_str(&b), NULL, e);
out:
	close_audit(a);
	agg_registry_close(reg);
	rf_x509_req_destroy(req);
	rf_x509_destroy(srv);
	rf_x509_destroy(ca);
	rf_key_destroy(audit_key);
	rf_key_destroy(srv_key);
	rf_key_destroy(ca_key);
	rf_buf_release(&b);
	return rc;
}

enum rf_rc agg_ctx_init(const char *dir, const struct agg_init_opts *o,
			struct rf_err *e)
{
	const char *name = o && o->name ? o->name : "radfed";
	const char *listen = o && o->listen ? o->listen : AGG_LISTEN_DEFAULT;
	const char *sname = o && o->server_name ? o->server_name
						: AGG_SERVER_NAME_DEFAULT;
	int days = o && o->cert_days ? o->cert_days : AGG_CERT_DAYS_DEFAULT;
	char tmp[PATH_MAX];
	size_t n = strlen(dir);
	enum rf_rc rc;

	if (!agg_name_valid(name) || strlen(name) > 60)
		return rf_err_set(e, RF_EINVAL,
				  "consortium name '%.80s' must be 1 to 60 "
				  "characters of A-Z, a-z, 0-9, '.', '_', '@' "
				  "and '-'",
				  name);
	if (!server_name_valid(sname))
		return rf_err_set(e, RF_EINVAL,
				  "server name '%.80s' must be a DNS name or "
				  "an IPv4 address",
				  sname);
	if (!listen_valid(listen))
		return rf_err_set(e, RF_EINVAL,
				  "listen address '%.80s' must be HOST:PORT",
				  listen);
	if (days < 1 || days > AGG_CA_DAYS)
		return rf_err_set(e, RF_EINVAL,
				  "certificate lifetime %d days is not in "
				  "1..%d",
				  days, AGG_CA_DAYS);
	while (n > 1 && dir[n - 1] == '/')
		n--;
	if (n == 0 || n + 16 >= sizeof tmp)
		return rf_err_set(e, RF_EINVAL, "bad aggregator folder '%s'",
				  dir);
	snprintf(tmp, sizeof tmp, "%.*s.init-XXXXXX", (int)n, dir);
	if (!mkdtemp(tmp))
		return rf_err_set(e, RF_EIO, "cannot create '%s': %s", tmp,
				  strerror(errno));
	rc = init_tree(tmp, name, listen, sname, days, e);
	if (rc)
		goto out;
	if (rename(tmp, dir) != 0) {
		rc = errno == ENOTEMPTY || errno == EEXIST || errno == ENOTDIR
			 ? rf_err_set(e, RF_EEXIST,
				      "'%s' exists and is not an empty "
				      "folder",
				      dir)
			 : rf_err_set(e, RF_EIO, "cannot create '%s': %s", dir,
				      strerror(errno));
		goto out;
	}
	tmp[0] = '\0';
out:
	if (tmp[0])
		remove_tree(tmp);
	return rc;
}

/* ---- open --------------------------------------------------------------- */

/* Reads dir/rel as a NUL-terminated string into *out. Key files (secret
 * nonzero) must not be readable by others than their owner. */
static enum rf_rc read_text(const char *dir, const char *rel, int secret,
			    char **out, struct rf_err *e)
{
	struct rf_buf b = RF_BUF_INIT(secret ? KEY_PEM_MAX : RF_X509_PEM_MAX);
	char p[PATH_MAX];
	struct stat st;
	enum rf_rc rc;

	*out = NULL;
	rc = rf_path_join(p, sizeof p, dir, rel, e);
	if (rc)
		return rc;
	if (secret && stat(p, &st) == 0 && (st.st_mode & 077))
		return rf_err_set(e, RF_EAUTH,
				  "key file '%s' is accessible to others than "
				  "its owner (mode %03o): chmod 600 it",
				  p, (unsigned)(st.st_mode & 0777));
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

static enum rf_rc load_key(const char *dir, const char *rel,
			   struct rf_key **out, struct rf_err *e)
{
	char *pem = NULL;
	char p[PATH_MAX];
	enum rf_rc rc;

	/* read_text checks the mode */
	rc = read_text(dir, rel, 1, &pem, e);
	if (pem)
		rf_free_secret(pem, strlen(pem));
	if (!rc)
		rc = rf_path_join(p, sizeof p, dir, rel, e);
	if (!rc)
		rc = rf_key_load_private_pem(p, out, e);
	return rc;
}

static enum rf_rc load_config(struct agg_ctx *c, struct rf_err *e)
{
	struct rf_cfg *cfg = NULL;
	const struct rf_cfg_node *root;
	const char *name, *listen, *sname;
	char p[PATH_MAX];
	int64_t days = AGG_CERT_DAYS_DEFAULT;
	enum rf_rc rc;

	rc = rf_path_join(p, sizeof p, c->dir, "agg.yaml", e);
	if (!rc)
		rc = rf_cfg_load_file(&cfg, p, NULL, e);
	if (rc == RF_ENOTFOUND)
		rf_err_prefix(e,
			      "'%s' is not an aggregator folder (radfed agg "
			      "init makes one)",
			      c->dir);
	if (rc)
		return rc;
	root = rf_cfg_root(cfg);
	rc = rf_cfg_check_keys(root, top_keys, e);
	if (!rc)
		rc = rf_cfg_get_str(root, "aggregator.name", RF_CFG_REQUIRED,
				    &name, e);
	if (!rc)
		rc = rf_cfg_get_str(root, "aggregator.listen", RF_CFG_REQUIRED,
				    &listen, e);
	if (!rc)
		rc = rf_cfg_get_str(root, "aggregator.server-name",
				    RF_CFG_REQUIRED, &sname, e);
	if (!rc)
		rc = rf_cfg_get_int(root, "certificates.days", 1, AGG_CA_DAYS,
				    RF_CFG_OPTIONAL, &days, e);
	if (rc)
		goto out;
	if (!agg_name_valid(name) || !server_name_valid(sname) ||
	    !listen_valid(listen)) {
		rc = rf_err_set(e, RF_ECONFIG,
				"%s: invalid aggregator name, listen address "
				"or server name",
				p);
		goto out;
	}
	c->name = rf_strdup(name);
	c->listen = rf_strdup(listen);
	c->server_name = rf_strdup(sname);
	c->cert_seconds = days * DAY;
	if (!c->name || !c->listen || !c->server_name)
		rc = rf_err_set(e, RF_ENOMEM, "out of memory");
out:
	rf_cfg_destroy(cfg);
	return rc;
}

enum rf_rc agg_ctx_open(const char *dir, struct agg_ctx **out,
			struct rf_err *e)
{
	struct agg_ctx *c;
	char p[PATH_MAX];
	char *srv = NULL;
	struct rf_buf chain = RF_BUF_INIT(2 * RF_X509_PEM_MAX + 1);
	enum rf_rc rc;

	*out = NULL;
	c = rf_calloc(1, sizeof *c);
	if (!c)
		return rf_err_set(e, RF_ENOMEM, "out of memory");
	if (pthread_mutex_init(&c->audit_lock, NULL) != 0) {
		rf_free(c);
		return rf_err_set(e, RF_ENOMEM, "cannot create a mutex");
	}
	c->dir = rf_strdup(dir);
	if (!c->dir) {
		rc = rf_err_set(e, RF_ENOMEM, "out of memory");
		goto fail;
	}
	rc = load_config(c, e);
	if (!rc)
		rc = read_text(dir, "ca/ca.pem", 0, &c->ca_pem, e);
	if (!rc)
		rc = rf_x509_parse_pem(c->ca_pem, strlen(c->ca_pem), &c->ca,
				       e);
	if (!rc)
		rc = rf_x509_fingerprint(c->ca, c->ca_fp, e);
	if (!rc)
		rc = load_key(dir, "ca/ca.key", &c->ca_key, e);
	if (!rc)
		rc = read_text(dir, "tls/server.key", 1, &c->server_key_pem, e);
	if (!rc)
		rc = read_text(dir, "tls/server.pem", 0, &srv, e);
	if (!rc)
		rc = rf_buf_puts(&chain, srv, e);
	if (!rc)
		rc = rf_buf_puts(&chain, c->ca_pem, e);
	if (!rc)
		rc = rf_buf_putc(&chain, '\0', e);
	if (rc)
		goto fail;
	c->server_chain_pem = (char *)chain.data;
	rf_buf_init(&chain, 0);
	rc = load_key(dir, "keys/audit.key", &c->audit_key, e);
	if (!rc && rf_key_type(c->audit_key) != RF_KEY_ED25519)
		rc = rf_err_set(e, RF_ECRYPTO,
				"'%s/keys/audit.key' is not an Ed25519 key",
				dir);
	if (!rc)
		rc = rf_path_join(p, sizeof p, dir, "logs/audit.jsonl", e);
	if (!rc && !(c->audit_path = rf_strdup(p)))
		rc = rf_err_set(e, RF_ENOMEM, "out of memory");
	if (!rc)
		rc = rf_path_join(p, sizeof p, dir, "registry.db", e);
	if (!rc)
		rc = agg_registry_open(p, &c->reg, e);
	if (rc)
		goto fail;
	rf_free(srv);
	*out = c;
	return RF_OK;
fail:
	rf_free(srv);
	rf_buf_release(&chain);
	agg_ctx_close(c);
	return rc;
}

void agg_ctx_close(struct agg_ctx *c)
{
	if (!c)
		return;
	agg_registry_close(c->reg);
	rf_key_destroy(c->audit_key);
	rf_key_destroy(c->ca_key);
	rf_x509_destroy(c->ca);
	if (c->server_key_pem)
		rf_free_secret(c->server_key_pem, strlen(c->server_key_pem));
	rf_free(c->server_chain_pem);
	rf_free(c->ca_pem);
	rf_free(c->audit_path);
	rf_free(c->server_name);
	rf_free(c->listen);
	rf_free(c->name);
	rf_free(c->dir);
	pthread_mutex_destroy(&c->audit_lock);
	rf_free(c);
}

/* ---- audit -------------------------------------------------------------- */

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

enum rf_rc agg_ctx_audit(struct agg_ctx *c, const char *event,
			 const char *data_json, struct rf_err *e)
{
	struct rf_audit *a = NULL;
	char actor[RF_AUDIT_NAME_MAX];
	long waited = 0;
	enum rf_rc rc;

	snprintf(actor, sizeof actor, "agg:%s", c->name);
	pthread_mutex_lock(&c->audit_lock);
	for (;;) {
		rc = rf_audit_open(c->audit_path, actor, c->audit_key, NULL,
				   &a, e);
		/* another process (agg serve, agg invite) holds the log */
		if (rc != RF_EIO || !e || !strstr(e->msg, "in use") ||
		    waited >= AGG_AUDIT_WAIT_MS)
			break;
		sleep_ms(20);
		waited += 20;
	}
	if (!rc) {
		rc = rf_audit_append(a, event, data_json, NULL, e);
		close_audit(a);
	}
	pthread_mutex_unlock(&c->audit_lock);
	return rc;
}
