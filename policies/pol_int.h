/*
 * pol_int.h - internals shared by the files of policies/: positioned
 * configuration errors and bounded text values.
 *
 * Must not use: anything outside common/.
 */
#ifndef POL_INT_H
#define POL_INT_H

#include <stddef.h>

#include "rf_config.h"
#include "rf_err.h"

/* RF_ECONFIG "file:line:col: <formatted message>" at node n. */
enum rf_rc pol__bad(struct rf_err *e, const struct rf_cfg_node *n,
		    const char *fmt, ...) RF_PRINTF(3, 4);

/* "a mapping" / "a sequence" for collections, NULL for scalars. */
const char *pol__shown(const struct rf_cfg_node *n);

/* n must be a non-null scalar of 1 to max bytes without control
 * characters (nor NUL); path names it in the message. */
enum rf_rc pol__check_text(const struct rf_cfg_node *n, const char *path,
			   size_t max, struct rf_err *e) RF_WUR;

#endif
