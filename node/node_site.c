/* node_site.c - the site folder: init, open, secret. */
#include "node_site.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "anon_batch.h"
#include "rf_alloc.h"
#include "rf_config.h"
#include "rf_crypto.h"
#include "rf_file.h"

static const char site_yaml[] =
    "# radfed site configuration: docs/site.md explains every key.\n"
    "site:\n"
    "  name: %s\n"
    "\n"
    "deidentification:\n"
    "  # DICOM PS3.15 Table E.1-1 options, on top of the basic profile:\n"
    "  # retain-safe-private, retain-uids, retain-device-id,\n"
    "  # retain-institution-id, retain-patient-characteristics,\n"
    "  # retain-full-dates, retain-modified-dates, clean-descriptors,\n"
    "  # clean-structured-content, clean-graphics\n"
    "  options:\n"
    "    - retain-modified-dates\n"
    "    - retain-patient-characteristics\n"
    "    - clean-descriptors\n"
    "  # private attributes kept under retain-safe-private, e.g.\n"
    "  # - {creator: \"ACME CT 2.1\", group: 0x0019, element: 0x10}\n"
    "  safe-private: []\n"
    "  # regions of burned-in text to black out instead of quarantining,\n"
    "  # e.g. - {modality: US, manufacturer: ACME, model: X1,\n"
    "  #        region: [0, 0, 640, 48]}\n"
    "  burned-in-masks: []\n"
    "\n"
    "ingest:\n"
    "  image-size: 64   # training images are resampled to N x N\n"
    "  jobs: 2          # files de-identified at a time\n";

/* The policy a new site starts with: every round declined until the data
 * officer decides otherwise (policies/pol_policy.h has the keys). */
static const char policy_yaml[] =
    "# radfed site policy: which training rounds this site takes part in.\n"
    "# `radfed site serve` reads it at start; every decision is logged\n"
    "# with the SHA-256 of this file (docs/federation.md, \"Site policy\").\n"
    "#\n"
    "# A new site declines every round. To take part, set accept: true and\n"
    "# name the researchers you trust, for example:\n"
    "#\n"
    "#   accept: true\n"
    "#   researchers:              # certificate CNs; \"*\" = any researcher\n"
    "#     - dr-martin.chu-lyon\n"
    "#   models: [cnn-small]       # architectures; default: any\n"
    "#   strategies: [fedavg, fedprox]   # default: all\n"
    "#   max-rounds: 50            # longest round accepted\n"
    "#   max-local-epochs: 5       # most local epochs per iteration\n"
    "#   min-sites: 3              # refuse rounds with fewer sites\n"
    "accept: false\n"
    "researchers: []\n";

static const struct rf_cfg_key site_keys[] = {
	{ "name", RF_CFG_REQUIRED, NULL },
	{ NULL, 0, NULL },
};
static const struct rf_cfg_key private_keys[] = {
	{ "creator", RF_CFG_REQUIRED, NULL },
	{ "group", RF_CFG_OPTIONAL, NULL },
	{ "element", RF_CFG_REQUIRED, NULL },
	{ NULL, 0, NULL },
};
static const struct rf_cfg_key mask_keys[] = {
	{ "modality", RF_CFG_REQUIRED, NULL },
	{ "manufacturer", RF_CFG_OPTIONAL, NULL },
	{ "model", RF_CFG_OPTIONAL, NULL },
	{ "region", RF_CFG_REQUIRED, NULL },
	{ NULL, 0, NULL },
};
static const struct rf_cfg_key deid_keys[] = {
	{ "options", RF_CFG_OPTIONAL, NULL },
	{ "safe-private", RF_CFG_OPTIONAL, private_keys },
	{ "burned-in-masks", RF_CFG_OPTIONAL, mask_keys },
	{ NULL, 0, NULL },
};
static const struct rf_cfg_key ingest_keys[] = {
	{ "image-size", RF_CFG_OPTIONAL, NULL },
	{ "jobs", RF_CFG_OPTIONAL, NULL },
	{ NULL, 0, NULL },
};
static const struct rf_cfg_key top_keys[] = {
	{ "site", RF_CFG_REQUIRED, site_keys },
	{ "deidentification", RF_CFG_OPTIONAL, deid_keys },
	{ "ingest", RF_CFG_OPTIONAL, ingest_keys },
	{ NULL, 0, NULL },
};

int node_site_name_valid(const char *name)
{
	size_t n = strlen(name), i;

	if (n == 0 || n > NODE_SITE_NAME_MAX || name[0] == '-')
		return 0;
	for (i = 0; i < n; i++)
		if (!((name[i] >= 'a' && name[i] <= 'z') ||
		      (name[i] >= '0' && name[i] <= '9') || name[i] == '-'))
			return 0;
	return 1;
}

/* Removes the files and folders node_site_init() makes, below tmp. */
static void remove_tree(const char *tmp)
{
	static const char *const files[] = { "keys/site.secret", "site.yaml",
					     "policy.yaml", NULL };
	static const char *const dirs[] = { "keys", "store", "logs", "", NULL };
	char p[PATH_MAX];
	size_t i;

	for (i = 0; files[i]; i++)
		if (rf_path_join(p, sizeof p, tmp, files[i], NULL) == RF_OK)
			unlink(p);
	for (i = 0; dirs[i]; i++)
		if (rf_path_join(p, sizeof p, tmp, dirs[i], NULL) == RF_OK)
			rmdir(p);
}

enum rf_rc node_site_init(const char *dir, const char *name, struct rf_err *e)
{
	uint8_t secret[NODE_SITE_SECRET_LEN];
	char tmp[PATH_MAX], p[PATH_MAX];
	struct rf_buf yaml = RF_BUF_INIT(8192);
	static const char *const subdirs[] = { "keys", "store", "logs", NULL };
	enum rf_rc rc;
	size_t i, n = strlen(dir);

	if (!node_site_name_valid(name))
		return rf_err_set(e, RF_EINVAL,
				  "site name '%s' must be 1 to %d characters "
				  "of a-z, 0-9 and '-'",
				  name, NODE_SITE_NAME_MAX);
	while (n > 1 && dir[n - 1] == '/')
		n--;
	if (n == 0 || n + 16 >= sizeof tmp)
		return rf_err_set(e, RF_EINVAL, "bad site folder '%s'", dir);
	snprintf(tmp, sizeof tmp, "%.*s.init-XXXXXX", (int)n, dir);
	if (!mkdtemp(tmp))
		return rf_err_set(e, RF_EIO, "cannot create '%s': %s", tmp,
				  strerror(errno));
	for (i = 0; subdirs[i]; i++) {
		rc = rf_path_join(p, sizeof p, tmp, subdirs[i], e);
		if (rc)
			goto out;
		if (mkdir(p, 0700) != 0) {
			rc = rf_err_set(e, RF_EIO, "cannot create '%s': %s", p,
					strerror(errno));
			goto out;
		}
	}
	rc = rf_random_bytes(secret, sizeof secret, e);
	if (rc)
		goto out;
	rc = rf_path_join(p, sizeof p, tmp, "keys/site.secret", e);
	if (!rc)
		rc = rf_file_write_atomic(p, secret, sizeof secret, 0600, e);
	if (rc)
		goto out;
	rc = rf_buf_printf(&yaml, e, site_yaml, name);
	if (rc)
		goto out;
	rc = rf_path_join(p, sizeof p, tmp, "site.yaml", e);
	if (!rc)
		rc = rf_file_write_atomic(p, yaml.data, yaml.len, 0644, e);
	if (!rc)
		rc = rf_path_join(p, sizeof p, tmp, "policy.yaml", e);
	if (!rc)
		rc = rf_file_write_atomic(p, policy_yaml,
					  sizeof policy_yaml - 1, 0644, e);
	if (rc)
		goto out;
	chmod(tmp, 0700);
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
	rf_zeroize(secret, sizeof secret);
	rf_buf_release(&yaml);
	return rc;
}

static enum rf_rc load_options(struct node_site *s,
			       const struct rf_cfg_node *deid, struct rf_err *e)
{
	const struct rf_cfg_node *opts = rf_cfg_child(deid, "options"), *v;
	char path[256];
	unsigned bit;
	size_t i;

	s->options = ANON_DEID_DEFAULT_OPTIONS;
	if (!opts)
		return RF_OK;
	if (opts->kind != RF_CFG_SEQ)
		return rf_err_set(e, RF_ECONFIG,
				  "%s:%u:%u: 'deidentification.options' must "
				  "be a list of option names",
				  opts->file, opts->line, opts->column);
	s->options = 0;
	for (i = 0; i < opts->count; i++) {
		v = opts->values[i];
		bit = v->kind == RF_CFG_SCALAR ? anon_option_from_name(v->text)
					       : 0;
		if (!bit) {
			snprintf(path, sizeof path,
				 "deidentification.options[%zu]", i);
			return rf_err_set(e, RF_ECONFIG,
					  "%s:%u:%u: '%s' is not an option "
					  "name (see docs/site.md)",
					  v->file, v->line, v->column, path);
		}
		s->options |= bit;
	}
	if ((s->options & ANON_OPT_RETAIN_FULL_DATES) &&
	    (s->options & ANON_OPT_RETAIN_MODIFIED_DATES))
		return rf_err_set(e, RF_ECONFIG,
				  "%s:%u:%u: retain-full-dates and "
				  "retain-modified-dates exclude each other",
				  opts->file, opts->line, opts->column);
	return RF_OK;
}

static enum rf_rc load_private(struct node_site *s,
			       const struct rf_cfg_node *deid, struct rf_err *e)
{
	const struct rf_cfg_node *list = rf_cfg_child(deid, "safe-private");
	int64_t group, elem;
	enum rf_rc rc;
	size_t i;

	if (!list || rf_cfg_is_null(list))
		return RF_OK;
	if (list->kind != RF_CFG_SEQ)
		return rf_err_set(e, RF_ECONFIG,
				  "%s:%u:%u: 'deidentification.safe-private' "
				  "must be a list",
				  list->file, list->line, list->column);
	s->safe_private =
	    rf_calloc(list->count ? list->count : 1, sizeof *s->safe_private);
	if (!s->safe_private)
		return rf_err_set(e, RF_ENOMEM, "out of memory");
	for (i = 0; i < list->count; i++) {
		const struct rf_cfg_node *it = list->values[i];

		group = 0;
		rc = rf_cfg_get_str(it, "creator", RF_CFG_REQUIRED,
				    &s->safe_private[i].creator, e);
		if (!rc)
			rc = rf_cfg_get_int(it, "group", 0, 0xffff,
					    RF_CFG_OPTIONAL, &group, e);
		if (!rc)
			rc = rf_cfg_get_int(it, "element", 0, 0xff,
					    RF_CFG_REQUIRED, &elem, e);
		if (rc)
			return rc;
		if (group && !(group & 1))
			return rf_err_set(e, RF_ECONFIG,
					  "%s:%u:%u: safe-private group "
					  "0x%04x is not a private (odd) group",
					  it->file, it->line, it->column,
					  (unsigned)group);
		s->safe_private[i].group = (uint16_t)group;
		s->safe_private[i].elem = (uint8_t)elem;
		s->n_safe_private++;
	}
	return RF_OK;
}

static enum rf_rc load_masks(struct node_site *s,
			     const struct rf_cfg_node *deid, struct rf_err *e)
{
	const struct rf_cfg_node *list = rf_cfg_child(deid, "burned-in-masks");
	const struct rf_cfg_node *reg;
	int64_t v[4];
	enum rf_rc rc;
	size_t i, k;
	char sub[8];

	if (!list || rf_cfg_is_null(list))
		return RF_OK;
	if (list->kind != RF_CFG_SEQ)
		return rf_err_set(e, RF_ECONFIG,
				  "%s:%u:%u: 'deidentification.burned-in-masks'"
				  " must be a list",
				  list->file, list->line, list->column);
	s->masks = rf_calloc(list->count ? list->count : 1, sizeof *s->masks);
	if (!s->masks)
		return rf_err_set(e, RF_ENOMEM, "out of memory");
	for (i = 0; i < list->count; i++) {
		const struct rf_cfg_node *it = list->values[i];
		struct anon_deid_mask *m = &s->masks[i];

		rc = rf_cfg_get_str(it, "modality", RF_CFG_REQUIRED,
				    &m->modality, e);
		if (!rc)
			rc = rf_cfg_get_str(it, "manufacturer", RF_CFG_OPTIONAL,
					    &m->manufacturer, e);
		if (!rc)
			rc = rf_cfg_get_str(it, "model", RF_CFG_OPTIONAL,
					    &m->model, e);
		if (!rc)
			rc = rf_cfg_get_node(it, "region", RF_CFG_SEQ,
					     RF_CFG_REQUIRED, &reg, e);
		if (rc)
			return rc;
		if (reg->count != 4)
			return rf_err_set(e, RF_ECONFIG,
					  "%s:%u:%u: a region is [x, y, width, "
					  "height], got %zu numbers",
					  reg->file, reg->line, reg->column,
					  reg->count);
		for (k = 0; k < 4; k++) {
			snprintf(sub, sizeof sub, "[%zu]", k);
			rc = rf_cfg_get_int(reg, sub, 0, 65535, RF_CFG_REQUIRED,
					    &v[k], e);
			if (rc)
				return rc;
		}
		m->x = (uint32_t)v[0];
		m->y = (uint32_t)v[1];
		m->w = (uint32_t)v[2];
		m->h = (uint32_t)v[3];
		s->n_masks++;
	}
	return RF_OK;
}

enum rf_rc node_site_open(const char *dir, struct node_site **out,
			  struct rf_err *e)
{
	const struct rf_cfg_node *root, *deid;
	struct node_site *s;
	const char *name;
	char path[PATH_MAX];
	int64_t v;
	enum rf_rc rc;

	*out = NULL;
	s = rf_calloc(1, sizeof *s);
	if (!s)
		return rf_err_set(e, RF_ENOMEM, "out of memory");
	s->dir = rf_strdup(dir);
	if (!s->dir) {
		rc = rf_err_set(e, RF_ENOMEM, "out of memory");
		goto fail;
	}
	rc = rf_path_join(path, sizeof path, dir, "site.yaml", e);
	if (!rc)
		rc = rf_cfg_load_file(&s->cfg, path, NULL, e);
	if (rc == RF_ENOTFOUND)
		rf_err_prefix(e,
			      "'%s' is not a site folder (radfed site init "
			      "makes one)",
			      dir);
	if (rc)
		goto fail;
	root = rf_cfg_root(s->cfg);
	rc = rf_cfg_check_keys(root, top_keys, e);
	if (!rc)
		rc = rf_cfg_get_str(root, "site.name", RF_CFG_REQUIRED, &name,
				    e);
	if (rc)
		goto fail;
	if (!node_site_name_valid(name)) {
		rc = rf_err_set(e, RF_ECONFIG,
				"%s: site name '%s' must be 1 to %d characters"
				" of a-z, 0-9 and '-'",
				path, name, NODE_SITE_NAME_MAX);
		goto fail;
	}
	s->name = rf_strdup(name);
	if (!s->name) {
		rc = rf_err_set(e, RF_ENOMEM, "out of memory");
		goto fail;
	}
	deid = rf_cfg_child(root, "deidentification");
	s->options = ANON_DEID_DEFAULT_OPTIONS;
	if (deid && !rf_cfg_is_null(deid)) {
		rc = load_options(s, deid, e);
		if (!rc)
			rc = load_private(s, deid, e);
		if (!rc)
			rc = load_masks(s, deid, e);
		if (rc)
			goto fail;
	}
	v = 64;
	rc = rf_cfg_get_int(root, "ingest.image-size", 16, 1024,
			    RF_CFG_OPTIONAL, &v, e);
	s->image_size = (int)v;
	v = 1;
	if (!rc)
		rc = rf_cfg_get_int(root, "ingest.jobs", 1, ANON_BATCH_MAX_JOBS,
				    RF_CFG_OPTIONAL, &v, e);
	s->jobs = (int)v;
	if (rc)
		goto fail;
	*out = s;
	return RF_OK;
fail:
	node_site_close(s);
	return rc;
}

void node_site_close(struct node_site *s)
{
	if (!s)
		return;
	rf_free(s->safe_private);
	rf_free(s->masks);
	rf_cfg_destroy(s->cfg);
	rf_free(s->name);
	rf_free(s->dir);
	rf_free(s);
}

enum rf_rc node_site_secret(const struct node_site *s, struct rf_buf *out,
			    struct rf_err *e)
{
	char path[PATH_MAX];
	struct stat st;

	if (rf_path_join(path, sizeof path, s->dir, "keys/site.secret", e))
		return e ? e->rc : RF_ETOOBIG;
	if (stat(path, &st) != 0)
		return rf_err_set(e, RF_EIO,
				  "cannot read the site secret '%s':"
				  " %s",
				  path, strerror(errno));
	if (st.st_mode & 077)
		return rf_err_set(e, RF_EAUTH,
				  "the site secret '%s' is accessible to other"
				  " users (mode %03o); chmod 600 it",
				  path, (unsigned)(st.st_mode & 0777));
	return rf_file_read(path, out, e);
}

enum rf_rc node_site_deid_open(const struct node_site *s, const char *software,
			       struct node_site_deid *d, struct rf_err *e)
{
	struct rf_buf secret = RF_BUF_INIT(ANON_PSEUDO_SECRET_MAX);
	enum rf_rc rc;

	memset(d, 0, sizeof *d);
	rc = node_site_secret(s, &secret, e);
	if (!rc)
		rc = anon_pseudo_create(secret.data, secret.len, &d->pseudo, e);
	if (!rc)
		rc = anon_batch_log_key(secret.data, secret.len, d->log_key, e);
	rf_buf_release_secret(&secret);
	if (rc) {
		node_site_deid_close(d);
		return rc;
	}
	d->cfg.options = s->options;
	d->cfg.pseudo = d->pseudo;
	d->cfg.safe_private = s->safe_private;
	d->cfg.n_safe_private = s->n_safe_private;
	d->cfg.masks = s->masks;
	d->cfg.n_masks = s->n_masks;
	d->cfg.software = software;
	return RF_OK;
}

void node_site_deid_close(struct node_site_deid *d)
{
	anon_pseudo_destroy(d->pseudo);
	rf_zeroize(d, sizeof *d);
}
