/*
 * rf_err.h - the one error enum of radfed, and the caller-owned buffer that
 * carries the details.
 *
 * Every fallible function returns enum rf_rc and, when given a struct rf_err,
 * writes a one-line lowercase message naming the subject and the reason,
 * e.g. "cannot open 'x.h5': No such file or directory". Library code never
 * prints nor exits; only main() reports.
 *
 * Must not use: anything but libc.
 */
#ifndef RF_ERR_H
#define RF_ERR_H

#include <stddef.h>

/* Codes are appended at the end and never renumbered: they are part of the
 * exit-status and wire contract. */
enum rf_rc {
	RF_OK = 0,
	RF_ENOMEM,       /* allocation failed */
	RF_EINVAL,       /* invalid argument or malformed input */
	RF_EIO,          /* read/write/filesystem failure */
	RF_EPROTO,       /* protocol or format violation (wire, file) */
	RF_ECRYPTO,      /* cryptographic failure, including failed auth */
	RF_EPOLICY,      /* refused by a site policy */
	RF_ENOTFOUND,    /* named thing does not exist */
	RF_EEXIST,       /* named thing already exists */
	RF_ETOOBIG,      /* size limit exceeded */
	RF_ECONFIG,      /* configuration file error */
	RF_EAUTH,        /* authentication or authorisation refused */
	RF_ETIMEDOUT,    /* deadline passed */
	RF_EUNSUPPORTED, /* valid but not supported by this build */
	RF_EINTERNAL,    /* a bug: an invariant did not hold */
	RF_EINTEGRITY,   /* verification found a mismatch (hash, chain) */
	RF_RC_COUNT_     /* keep last */
};

#define RF_ERR_MSG_MAX 256

/* Caller-owned error details. Zero-initialise or rf_err_clear() it. */
struct rf_err {
	enum rf_rc rc;
	char msg[RF_ERR_MSG_MAX];
};

#if defined(__GNUC__)
#define RF_WUR __attribute__((warn_unused_result))
#define RF_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define RF_WUR
#define RF_PRINTF(f, a)
#endif

/* A static, lowercase name of the code ("out of memory"). Never NULL. */
const char *rf_strerror(enum rf_rc rc);

/* A stable identifier for the code ("ENOMEM"), for JSON output. */
const char *rf_rc_name(enum rf_rc rc);

/* Records rc and a formatted message in e (which may be NULL) and returns rc,
 * so `return rf_err_set(e, RF_EIO, "cannot open '%s'", p);` reads well.
 * The message is truncated to fit. */
enum rf_rc rf_err_set(struct rf_err *e, enum rf_rc rc, const char *fmt, ...)
	RF_PRINTF(3, 4);

/* Prefixes the message already in e with a formatted context and ": ".
 * Returns e->rc (or RF_EINTERNAL when e is NULL). */
enum rf_rc rf_err_prefix(struct rf_err *e, const char *fmt, ...)
	RF_PRINTF(2, 3);

/* Resets e to RF_OK with an empty message. Accepts NULL. */
void rf_err_clear(struct rf_err *e);

/* The message, or rf_strerror(rc) when no message was set. */
const char *rf_err_msg(const struct rf_err *e);

#endif
