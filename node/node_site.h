/*
 * node_site.h - a hospital site's folder: its configuration, its secret
 * and its store.
 *
 *   DIR/site.yaml        configuration (docs/site.md), checked key by key
 *   DIR/policy.yaml      the site policy (policies/pol_policy.h); a new
 *                        site's declines every round
 *   DIR/keys/            mode 0700
 *   DIR/keys/site.secret 32 random bytes, mode 0600: the key of every
 *                        pseudonym of this site; losing it means new
 *                        pseudonyms, leaking it means re-identification
 *   DIR/store/           de-identified DICOM, reports, dataset.h5
 *   DIR/logs/            logs of ingest and federation
 *
 * Must not use: aggregator/ (node/ and aggregator/ never see each other).
 */
#ifndef NODE_SITE_H
#define NODE_SITE_H

#include <stddef.h>
#include <stdint.h>

#include "anon_deid.h"
#include "rf_buf.h"
#include "rf_err.h"

#define NODE_SITE_NAME_MAX 64
#define NODE_SITE_SECRET_LEN 32

/* An open site: its configuration, read and checked. */
struct node_site {
	char *dir;
	char *name;
	unsigned options; /* de-identification options (enum anon_option) */
	struct anon_safe_private *safe_private; /* strings borrowed from cfg */
	size_t n_safe_private;
	struct anon_deid_mask *masks; /* strings borrowed from cfg */
	size_t n_masks;
	int image_size; /* training images are image_size x image_size */
	int jobs;       /* threads for de-identification */
	struct rf_cfg *cfg;
};

/* 1 when name is a valid site name: 1 to NODE_SITE_NAME_MAX characters of
 * a-z, 0-9 and '-', not starting with '-'. */
int node_site_name_valid(const char *name);

/*
 * Creates the site folder dir for the site called name: configuration with
 * the defaults, a new secret, empty store and logs. All or nothing: the
 * folder is assembled under a temporary name beside dir and renamed into
 * place, so a failure leaves nothing behind. RF_EEXIST when dir exists and
 * is not empty, RF_EINVAL for a bad name, RF_EIO, RF_ECRYPTO, RF_ENOMEM.
 */
enum rf_rc node_site_init(const char *dir, const char *name, struct rf_err *e)
	RF_WUR;

/* Opens the site at dir: reads and checks DIR/site.yaml (errors name
 * file:line:column). *out is freed with node_site_close(). */
enum rf_rc node_site_open(const char *dir, struct node_site **out,
			  struct rf_err *e) RF_WUR;

/* Frees s. Accepts NULL. */
void node_site_close(struct node_site *s);

/* Reads the site secret into out (cap at least NODE_SITE_SECRET_LEN...
 * 1024). Refuses (RF_EAUTH) a secret file readable or writable by others
 * than its owner. */
enum rf_rc node_site_secret(const struct node_site *s, struct rf_buf *out,
			    struct rf_err *e) RF_WUR;

/* What de-identifying for a site needs: its keys and its settings. */
struct node_site_deid {
	struct anon_pseudo *pseudo;
	struct anon_deid_config cfg; /* borrows the site and pseudo */
	uint8_t log_key[32];         /* for anon_batch_config.log_key */
};

/* Reads s's secret (node_site_secret), derives the pseudonym and log keys
 * and fills d->cfg with the site's options, safe private list and masks;
 * software names the de-identifier in (0012,0063). The secret itself is
 * zeroized before returning. On failure d holds nothing to release. d
 * borrows s: close d before s. */
enum rf_rc node_site_deid_open(const struct node_site *s, const char *software,
			       struct node_site_deid *d, struct rf_err *e)
	RF_WUR;

/* Frees and zeroizes the keys of d. Accepts a zeroed d. */
void node_site_deid_close(struct node_site_deid *d);

#endif
