/*
 * rf_log.h - leveled logging to a stream, for people or for machines, and
 * the JSON string escaper the audit log also uses.
 *
 * A logger is a plain struct the caller owns and passes explicitly; there is
 * no global logger. A NULL logger logs nothing, so library code can take an
 * optional `const struct rf_log *`.
 *
 *     struct rf_log lg = RF_LOG_INIT(RF_LOG_INFO, stderr, "node");
 *     rf_log_info(&lg, "ingested %zu files", n);
 *
 * Human format (json false), one line per record:
 *     2026-11-23T10:00:00.123Z info  [node] ingested 12 files
 * JSON Lines format (json true), one object per line:
 *     {"ts":"2026-11-23T10:00:00.123Z","level":"info","component":"node",
 *      "msg":"ingested 12 files"}
 * rf_log_kv() adds fields: `"site":"chu-lyon","round":3` in JSON,
 * ` site=chu-lyon round=3` after the message in the human format.
 *
 * Every record is one line: control characters in messages and fields are
 * escaped in both formats (no forged lines), invalid UTF-8 becomes U+FFFD.
 * A record is written with a single write() when the stream has a file
 * descriptor (under the stream's lock otherwise), so records from several
 * threads, or from processes appending to one file, never interleave.
 * Messages longer than RF_LOG_MSG_MAX bytes are cut and end in "...".
 *
 * Must not use: anything but libc, rf_alloc, rf_buf and rf_err. No global
 * state.
 */
#ifndef RF_LOG_H
#define RF_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "rf_buf.h"
#include "rf_err.h"

/* Verbosity, least verbose first: a logger at RF_LOG_INFO writes error,
 * warn and info records. */
enum rf_log_level {
	RF_LOG_ERROR = 0,
	RF_LOG_WARN,
	RF_LOG_INFO,
	RF_LOG_DEBUG,
};

#define RF_LOG_MSG_MAX 4096      /* bytes of formatted message kept */
#define RF_LOG_LINE_MAX (1 << 20) /* a longer record is dropped */

struct rf_log {
	enum rf_log_level level; /* records more verbose than this dropped */
	bool json;               /* JSON Lines instead of the human format */
	FILE *out;               /* where records go; NULL logs nothing */
	const char *component;   /* "[node]"; NULL omits it */
	/* Wall clock for timestamps; NULL is clock_gettime(CLOCK_REALTIME).
	 * Tests install a fixed one. */
	void (*clock)(struct timespec *now, void *ctx);
	void *clock_ctx;
};

#define RF_LOG_INIT(lvl, stream, comp) {(lvl), false, (stream), (comp), \
					NULL, NULL}

/* One extra field of a record. Use the RF_LOG_* constructors below. */
enum rf_log_type {
	RF_LOG_T_STR = 1,
	RF_LOG_T_INT,
	RF_LOG_T_UINT,
	RF_LOG_T_DBL,
	RF_LOG_T_BOOL,
};

struct rf_log_field {
	const char *key; /* must not be ts, level, component or msg */
	enum rf_log_type type;
	union {
		const char *s; /* NULL is written as null */
		int64_t i;
		uint64_t u;
		double d; /* non-finite is written as null */
		bool b;
	} v;
};

#define RF_LOG_STR(k, x) {(k), RF_LOG_T_STR, {.s = (x)}}
#define RF_LOG_INT(k, x) {(k), RF_LOG_T_INT, {.i = (x)}}
#define RF_LOG_UINT(k, x) {(k), RF_LOG_T_UINT, {.u = (x)}}
#define RF_LOG_DBL(k, x) {(k), RF_LOG_T_DBL, {.d = (x)}}
#define RF_LOG_BOOL(k, x) {(k), RF_LOG_T_BOOL, {.b = (x)}}

/*
 * Writes one record at level when lg is not NULL, has an output and lets
 * that level through. Never fails visibly: a record that cannot be built
 * (out of memory, longer than RF_LOG_LINE_MAX) is replaced by a short
 * "log record dropped" record at the same level. errno is preserved.
 * Thread-safe as long as *lg is not modified meanwhile.
 */
void rf_log_write(const struct rf_log *lg, enum rf_log_level level,
		  const char *fmt, ...) RF_PRINTF(3, 4);
void rf_log_vwrite(const struct rf_log *lg, enum rf_log_level level,
		   const char *fmt, va_list ap) RF_PRINTF(3, 0);

/* rf_log_write() plus nfields fields, in order. */
void rf_log_kv(const struct rf_log *lg, enum rf_log_level level,
	       const struct rf_log_field *fields, size_t nfields,
	       const char *fmt, ...) RF_PRINTF(5, 6);

void rf_log_error(const struct rf_log *lg, const char *fmt, ...)
	RF_PRINTF(2, 3);
void rf_log_warn(const struct rf_log *lg, const char *fmt, ...)
	RF_PRINTF(2, 3);
void rf_log_info(const struct rf_log *lg, const char *fmt, ...)
	RF_PRINTF(2, 3);
void rf_log_debug(const struct rf_log *lg, const char *fmt, ...)
	RF_PRINTF(2, 3);

/* True when a record at level would be written (to skip costly
 * formatting). */
bool rf_log_enabled(const struct rf_log *lg, enum rf_log_level level);

/* "error", "warn", "info", "debug"; "unknown" for anything else. */
const char *rf_log_level_name(enum rf_log_level level);

/* Parses "error", "warn" (or "warning"), "info", "debug", in any letter
 * case, into *out. RF_EINVAL "unknown log level 'x'" otherwise, *out
 * untouched. */
enum rf_rc rf_log_level_parse(const char *s, enum rf_log_level *out,
			      struct rf_err *e) RF_WUR;

/*
 * Appends the len bytes at s to b as the body of a JSON string (RFC 8259),
 * without the surrounding quotes: '"' and '\' are escaped, control
 * characters become \b \f \n \r \t or \u00XX, U+2028 and U+2029 become
 * \u2028 and \u2029, DEL becomes \u007f, and each maximal invalid UTF-8
 * sequence becomes U+FFFD (as Unicode recommends; the same as Python's
 * errors="replace"). Other valid UTF-8 is copied as is. On failure
 * (RF_ETOOBIG, RF_ENOMEM) b is left as it was.
 */
enum rf_rc rf_json_escape(struct rf_buf *b, const char *s, size_t len,
			  struct rf_err *e) RF_WUR;

/* rf_json_escape() between double quotes: a complete JSON string. */
enum rf_rc rf_json_quote(struct rf_buf *b, const char *s, size_t len,
			 struct rf_err *e) RF_WUR;

/* The ISO 8601 UTC form of ts with milliseconds, "2026-11-23T10:00:00.123Z",
 * into buf (at least 32 bytes). Returns buf. */
char *rf_log_format_time(const struct timespec *ts, char *buf, size_t n);

#endif
