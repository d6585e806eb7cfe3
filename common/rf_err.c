/* rf_err.c - error codes and messages. */
#include "rf_err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const struct {
	const char *name;
	const char *text;
} codes[RF_RC_COUNT_] = {
	[RF_OK] = {"OK", "success"},
	[RF_ENOMEM] = {"ENOMEM", "out of memory"},
	[RF_EINVAL] = {"EINVAL", "invalid argument"},
	[RF_EIO] = {"EIO", "input/output error"},
	[RF_EPROTO] = {"EPROTO", "protocol or format error"},
	[RF_ECRYPTO] = {"ECRYPTO", "cryptographic failure"},
	[RF_EPOLICY] = {"EPOLICY", "refused by policy"},
	[RF_ENOTFOUND] = {"ENOTFOUND", "not found"},
	[RF_EEXIST] = {"EEXIST", "already exists"},
	[RF_ETOOBIG] = {"ETOOBIG", "size limit exceeded"},
	[RF_ECONFIG] = {"ECONFIG", "configuration error"},
	[RF_EAUTH] = {"EAUTH", "not authorised"},
	[RF_ETIMEDOUT] = {"ETIMEDOUT", "timed out"},
	[RF_EUNSUPPORTED] = {"EUNSUPPORTED", "not supported"},
	[RF_EINTERNAL] = {"EINTERNAL", "internal error"},
	[RF_EINTEGRITY] = {"EINTEGRITY", "integrity check failed"},
};

const char *rf_strerror(enum rf_rc rc)
{
	if ((unsigned)rc >= RF_RC_COUNT_)
		return "unknown error";
	return codes[rc].text;
}

const char *rf_rc_name(enum rf_rc rc)
{
	if ((unsigned)rc >= RF_RC_COUNT_)
		return "EUNKNOWN";
	return codes[rc].name;
}

enum rf_rc rf_err_set(struct rf_err *e, enum rf_rc rc, const char *fmt, ...)
{
	va_list ap;

	if (!e)
		return rc;
	e->rc = rc;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof e->msg, fmt, ap);
	va_end(ap);
	return rc;
}

enum rf_rc rf_err_prefix(struct rf_err *e, const char *fmt, ...)
{
	char old[RF_ERR_MSG_MAX];
	const char *tail;
	size_t len, room, tlen;
	va_list ap;
	int n;

	if (!e)
		return RF_EINTERNAL;
	memcpy(old, e->msg, sizeof old);
	tail = old[0] ? old : rf_strerror(e->rc);
	va_start(ap, fmt);
	n = vsnprintf(e->msg, sizeof e->msg, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	len = (size_t)n < sizeof e->msg ? (size_t)n : sizeof e->msg - 1;
	/* append ": " and the old message, truncating to fit */
	room = sizeof e->msg - 1 - len;
	if (room >= 2) {
		memcpy(e->msg + len, ": ", 2);
		len += 2;
		room -= 2;
		tlen = strlen(tail);
		if (tlen > room)
			tlen = room;
		memcpy(e->msg + len, tail, tlen);
		len += tlen;
	}
	e->msg[len] = '\0';
	return e->rc;
}

void rf_err_clear(struct rf_err *e)
{
	if (!e)
		return;
	e->rc = RF_OK;
	e->msg[0] = '\0';
}

const char *rf_err_msg(const struct rf_err *e)
{
	if (!e)
		return "";
	return e->msg[0] ? e->msg : rf_strerror(e->rc);
}
