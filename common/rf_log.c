/*
 * rf_log.c - leveled logging (human or JSON Lines) and JSON string escaping.
 */
#include "rf_log.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <string.h>
#include <unistd.h>

static const char *const level_names[] = {"error", "warn", "info", "debug"};

const char *rf_log_level_name(enum rf_log_level level)
{
	if ((unsigned)level >= sizeof level_names / sizeof level_names[0])
		return "unknown";
	return level_names[level];
}

static bool eq_nocase(const char *a, const char *b)
{
	for (; *a && *b; a++, b++) {
		char c = *a;

		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (c != *b)
			return false;
	}
	return *a == *b;
}

enum rf_rc rf_log_level_parse(const char *s, enum rf_log_level *out,
			      struct rf_err *e)
{
	if (!s)
		return rf_err_set(e, RF_EINVAL, "no log level");
	for (unsigned i = 0; i < sizeof level_names / sizeof *level_names;
	     i++) {
		if (eq_nocase(s, level_names[i])) {
			*out = (enum rf_log_level)i;
			return RF_OK;
		}
	}
	if (eq_nocase(s, "warning")) {
		*out = RF_LOG_WARN;
		return RF_OK;
	}
	return rf_err_set(e, RF_EINVAL,
			  "unknown log level '%.40s' (expected error, warn, "
			  "info or debug)", s);
}

bool rf_log_enabled(const struct rf_log *lg, enum rf_log_level level)
{
	return lg && lg->out && (unsigned)level <= (unsigned)lg->level &&
	       (unsigned)level < sizeof level_names / sizeof *level_names;
}

char *rf_log_format_time(const struct timespec *ts, char *buf, size_t n)
{
	struct tm tm;
	time_t t = ts->tv_sec;
	long ms = ts->tv_nsec / 1000000;

	if (ms < 0 || ms > 999)
		ms = 0;
	if (!gmtime_r(&t, &tm)) {
		snprintf(buf, n, "0000-00-00T00:00:00.000Z");
		return buf;
	}
	snprintf(buf, n, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ",
		 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		 tm.tm_min, tm.tm_sec, ms);
	return buf;
}

/* ---- escaping ----------------------------------------------------------- */

/*
 * Length of the valid UTF-8 sequence at s (at most n bytes), or 0 when it
 * is invalid; then *bad receives the length of its maximal invalid subpart
 * (Unicode 15, section 3.9, "U+FFFD substitution of maximal subparts").
 */
static size_t utf8_len(const unsigned char *s, size_t n, size_t *bad)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xbf;
	size_t need, i;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		need = 1;
	else if (c >= 0xe0 && c <= 0xef)
		need = 2;
	else if (c >= 0xf0 && c <= 0xf4)
		need = 3;
	else
		need = 0;
	if (need == 0) {
		*bad = 1;
		return 0;
	}
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	for (i = 1; i <= need; i++) {
		if (i >= n || s[i] < lo || s[i] > hi) {
			*bad = i;
			return 0;
		}
		lo = 0x80;
		hi = 0xbf;
	}
	return need + 1;
}

/* json: JSON string body; otherwise the human format, where only control
 * characters are escaped. */
static enum rf_rc escape(struct rf_buf *b, const char *str, size_t len,
			 bool json, struct rf_err *e)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = (const unsigned char *)str;
	size_t start = b->len, i = 0;
	enum rf_rc rc = RF_OK;

	while (i < len && rc == RF_OK) {
		unsigned char c = s[i];
		size_t run = i, bad = 0, k;
		char esc[7];

		/* copy runs of characters needing no escape at once */
		while (run < len && s[run] >= 0x20 && s[run] < 0x7f &&
		       (!json || (s[run] != '"' && s[run] != '\\')))
			run++;
		if (run > i) {
			rc = rf_buf_append(b, s + i, run - i, e);
			i = run;
			continue;
		}
		if (c >= 0x80) {
			k = utf8_len(s + i, len - i, &bad);
			if (k == 0) {
				rc = rf_buf_append(b, "\xef\xbf\xbd", 3, e);
				i += bad;
			} else if (json && k == 3 && c == 0xe2 &&
				   s[i + 1] == 0x80 &&
				   (s[i + 2] == 0xa8 || s[i + 2] == 0xa9)) {
				rc = rf_buf_puts(b, s[i + 2] == 0xa8 ?
						 "\\u2028" : "\\u2029", e);
				i += k;
			} else {
				rc = rf_buf_append(b, s + i, k, e);
				i += k;
			}
			continue;
		}
		switch (c) {
		case '"':
			rc = rf_buf_puts(b, "\\\"", e);
			break;
		case '\\':
			rc = rf_buf_puts(b, "\\\\", e);
			break;
		case '\b':
			rc = rf_buf_puts(b, "\\b", e);
			break;
		case '\f':
			rc = rf_buf_puts(b, "\\f", e);
			break;
		case '\n':
			rc = rf_buf_puts(b, "\\n", e);
			break;
		case '\r':
			rc = rf_buf_puts(b, "\\r", e);
			break;
		case '\t':
			rc = json ? rf_buf_puts(b, "\\t", e) :
				    rf_buf_putc(b, '\t', e);
			break;
		default:
			if (json) {
				memcpy(esc, "\\u00", 4);
			} else {
				memcpy(esc, "\\x", 2);
			}
			k = json ? 4 : 2;
			esc[k] = hex[c >> 4];
			esc[k + 1] = hex[c & 15];
			rc = rf_buf_append(b, esc, k + 2, e);
			break;
		}
		i++;
	}
	if (rc)
		rf_buf_truncate(b, start);
	return rc;
}

enum rf_rc rf_json_escape(struct rf_buf *b, const char *s, size_t len,
			  struct rf_err *e)
{
	if (!s && len)
		return rf_err_set(e, RF_EINVAL, "no string to escape");
	return escape(b, s, len, true, e);
}

enum rf_rc rf_json_quote(struct rf_buf *b, const char *s, size_t len,
			 struct rf_err *e)
{
	size_t start = b->len;
	enum rf_rc rc;

	rc = rf_buf_putc(b, '"', e);
	if (!rc)
		rc = rf_json_escape(b, s, len, e);
	if (!rc)
		rc = rf_buf_putc(b, '"', e);
	if (rc)
		rf_buf_truncate(b, start);
	return rc;
}

/* ---- records ------------------------------------------------------------ */

/* Writes the whole line at once: a single write() on the stream's file
 * descriptor, or a locked fwrite() for streams without one. */
static void emit(FILE *out, const char *p, size_t n)
{
	int fd;

	flockfile(out);
	fd = fileno(out);
	if (fd >= 0 && fflush(out) == 0) {
		while (n > 0) {
			ssize_t w = write(fd, p, n);

			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				break;
			p += w;
			n -= (size_t)w;
		}
	} else {
		fwrite(p, 1, n, out);
		fflush(out);
	}
	funlockfile(out);
}

/* True when a human-format field value can be written without quotes. */
static bool bare_ok(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c <= 0x20 || c == 0x7f || c == '"' || c == '=')
			return false;
	}
	return true;
}

static enum rf_rc put_field(struct rf_buf *b, const struct rf_log *lg,
			    const struct rf_log_field *f)
{
	const char *key = f->key ? f->key : "";
	enum rf_rc rc;

	if (lg->json) {
		rc = rf_buf_putc(b, ',', NULL);
		if (!rc)
			rc = rf_json_quote(b, key, strlen(key), NULL);
		if (!rc)
			rc = rf_buf_putc(b, ':', NULL);
	} else {
		rc = rf_buf_putc(b, ' ', NULL);
		if (!rc)
			rc = escape(b, key, strlen(key), false, NULL);
		if (!rc)
			rc = rf_buf_putc(b, '=', NULL);
	}
	if (rc)
		return rc;
	switch (f->type) {
	case RF_LOG_T_STR:
		if (!f->v.s)
			return rf_buf_puts(b, "null", NULL);
		if (!lg->json && bare_ok(f->v.s))
			return escape(b, f->v.s, strlen(f->v.s), false, NULL);
		return rf_json_quote(b, f->v.s, strlen(f->v.s), NULL);
	case RF_LOG_T_INT:
		return rf_buf_printf(b, NULL, "%" PRId64, f->v.i);
	case RF_LOG_T_UINT:
		return rf_buf_printf(b, NULL, "%" PRIu64, f->v.u);
	case RF_LOG_T_DBL:
		if (!isfinite(f->v.d))
			return rf_buf_puts(b, "null", NULL);
		return rf_buf_printf(b, NULL, "%.17g", f->v.d);
	case RF_LOG_T_BOOL:
		return rf_buf_puts(b, f->v.b ? "true" : "false", NULL);
	}
	return rf_buf_puts(b, "null", NULL);
}

static enum rf_rc build(struct rf_buf *b, const struct rf_log *lg,
			const char *ts, enum rf_log_level level,
			const struct rf_log_field *fields, size_t nfields,
			const char *msg, size_t msglen)
{
	const char *lv = rf_log_level_name(level);
	const char *comp = lg->component;
	enum rf_rc rc;

	if (lg->json) {
		rc = rf_buf_printf(b, NULL, "{\"ts\":\"%s\",\"level\":\"%s\"",
				   ts, lv);
		if (!rc && comp) {
			rc = rf_buf_puts(b, ",\"component\":", NULL);
			if (!rc)
				rc = rf_json_quote(b, comp, strlen(comp), NULL);
		}
		if (!rc)
			rc = rf_buf_puts(b, ",\"msg\":", NULL);
		if (!rc)
			rc = rf_json_quote(b, msg, msglen, NULL);
	} else {
		rc = rf_buf_printf(b, NULL, "%s %-5s ", ts, lv);
		if (!rc && comp) {
			rc = rf_buf_putc(b, '[', NULL);
			if (!rc)
				rc = escape(b, comp, strlen(comp), false, NULL);
			if (!rc)
				rc = rf_buf_puts(b, "] ", NULL);
		}
		if (!rc)
			rc = escape(b, msg, msglen, false, NULL);
	}
	for (size_t i = 0; !rc && i < nfields; i++)
		rc = put_field(b, lg, &fields[i]);
	if (!rc && lg->json)
		rc = rf_buf_putc(b, '}', NULL);
	if (!rc)
		rc = rf_buf_putc(b, '\n', NULL);
	return rc;
}

/* Cuts msg (of length *len, which exceeded the room) to end in "..." on a
 * character boundary. msg has room for RF_LOG_MSG_MAX + 1 bytes. */
static void cut_message(char *msg, size_t *len)
{
	size_t n = RF_LOG_MSG_MAX - 3, back = 0;

	/* step back over an incomplete last character */
	while (back < 3 && n > back && ((unsigned char)msg[n - 1 - back] &
					0xc0) == 0x80)
		back++;
	if (n > back && ((unsigned char)msg[n - 1 - back] & 0xc0) == 0xc0) {
		unsigned char lead = (unsigned char)msg[n - 1 - back];
		size_t want = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : 2;

		if (back + 1 < want)
			n -= back + 1;
	}
	memcpy(msg + n, "...", 4);
	*len = n + 3;
}

static void vlog(const struct rf_log *lg, enum rf_log_level level,
		 const struct rf_log_field *fields, size_t nfields,
		 const char *fmt, va_list ap) RF_PRINTF(5, 0);

static void vlog(const struct rf_log *lg, enum rf_log_level level,
		 const struct rf_log_field *fields, size_t nfields,
		 const char *fmt, va_list ap)
{
	char msg[RF_LOG_MSG_MAX + 1], ts[40], line[256];
	struct rf_buf b = RF_BUF_INIT(RF_LOG_LINE_MAX);
	struct timespec now = {0, 0};
	int saved = errno, n;
	size_t len;
	enum rf_rc rc;

	if (!rf_log_enabled(lg, level))
		return;
	if (lg->clock)
		lg->clock(&now, lg->clock_ctx);
	else
		clock_gettime(CLOCK_REALTIME, &now);
	rf_log_format_time(&now, ts, sizeof ts);
	n = fmt ? vsnprintf(msg, sizeof msg, fmt, ap) : 0;
	if (n < 0) {
		n = 0;
		msg[0] = '\0';
	}
	len = (size_t)n;
	if (len > RF_LOG_MSG_MAX)
		cut_message(msg, &len);
	rc = build(&b, lg, ts, level, fields, nfields, msg, len);
	if (rc == RF_OK) {
		emit(lg->out, (const char *)b.data, b.len);
	} else {
		const char *why = rc == RF_ENOMEM ? "out of memory" :
						    "record too long";

		if (lg->json)
			snprintf(line, sizeof line,
				 "{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":"
				 "\"log record dropped: %s\"}\n", ts,
				 rf_log_level_name(level), why);
		else
			snprintf(line, sizeof line,
				 "%s %-5s log record dropped: %s\n", ts,
				 rf_log_level_name(level), why);
		emit(lg->out, line, strlen(line));
	}
	rf_buf_release(&b);
	errno = saved;
}

void rf_log_vwrite(const struct rf_log *lg, enum rf_log_level level,
		   const char *fmt, va_list ap)
{
	vlog(lg, level, NULL, 0, fmt, ap);
}

void rf_log_write(const struct rf_log *lg, enum rf_log_level level,
		  const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(lg, level, NULL, 0, fmt, ap);
	va_end(ap);
}

void rf_log_kv(const struct rf_log *lg, enum rf_log_level level,
	       const struct rf_log_field *fields, size_t nfields,
	       const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(lg, level, fields, fields ? nfields : 0, fmt, ap);
	va_end(ap);
}

#define LEVEL_FN(name, lvl)                                                  \
	void name(const struct rf_log *lg, const char *fmt, ...)             \
	{                                                                    \
		va_list ap;                                                  \
                                                                             \
		va_start(ap, fmt);                                           \
		vlog(lg, lvl, NULL, 0, fmt, ap);                             \
		va_end(ap);                                                  \
	}

LEVEL_FN(rf_log_error, RF_LOG_ERROR)
LEVEL_FN(rf_log_warn, RF_LOG_WARN)
LEVEL_FN(rf_log_info, RF_LOG_INFO)
LEVEL_FN(rf_log_debug, RF_LOG_DEBUG)
