/*
 * rf_audit.c - the hash-chained, checkpoint-signed audit log.
 *
 * Layout: the strict JSON checker of data objects, the line format (build
 * and parse), the chain checker shared by the verifier and the writer's
 * open, the bounded line reader, then the writing handle.
 */
#define _DEFAULT_SOURCE /* flock(2) is a BSD interface glibc hides under
			 * _POSIX_C_SOURCE alone */
#include "rf_audit.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rf_alloc.h"
#include "rf_buf.h"
#include "rf_log.h"

#define HEX_LEN (2 * RF_SHA256_LEN)
#define SIG_HEX_LEN (2 * RF_ED25519_SIG_LEN)
#define SIG_DOMAIN_LEN (sizeof RF_AUDIT_SIG_DOMAIN - 1)
#define SIG_MSG_LEN (SIG_DOMAIN_LEN + RF_SHA256_LEN + 8)
#define EV_CHECKPOINT "checkpoint"
#define EV_TORN "audit.torn_tail"
/* the end of every line: ,"hash":"<64 hex>"} */
#define HASH_TAIL_LEN (sizeof ",\"hash\":\"" - 1 + HEX_LEN + 2)

/* ---- strict JSON (RFC 8259) for data objects ---------------------------- */

struct jp {
	const unsigned char *s;
	size_t n, i;
	const char *why; /* static reason of the first failure */
};

static int jp_fail(struct jp *p, const char *why)
{
	if (!p->why)
		p->why = why;
	return -1;
}

static void jp_ws(struct jp *p)
{
	while (p->i < p->n && p->s[p->i] == ' ')
		p->i++;
}

static int jp_lit(struct jp *p, const char *lit)
{
	size_t n = strlen(lit);

	if (p->n - p->i < n || memcmp(p->s + p->i, lit, n) != 0)
		return jp_fail(p, "invalid literal");
	p->i += n;
	return 0;
}

/* Length of the valid UTF-8 sequence (of 2 to 4 bytes) at s, or 0. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	unsigned c = s[0], lo = 0x80, hi = 0xbf;
	size_t len, k;

	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4;
	else
		return 0;
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f; /* no UTF-16 surrogates */
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f; /* nothing above U+10FFFF */
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (k = 2; k < len; k++)
		if (s[k] < 0x80 || s[k] > 0xbf)
			return 0;
	return len;
}

static void put_byte(char *out, size_t size, size_t *k, unsigned c)
{
	if (out && *k < size)
		out[*k] = (char)c;
	(*k)++;
}

static void put_cp(char *out, size_t size, size_t *k, uint32_t cp)
{
	if (cp < 0x80) {
		put_byte(out, size, k, cp);
	} else if (cp < 0x800) {
		put_byte(out, size, k, 0xc0 | (cp >> 6));
		put_byte(out, size, k, 0x80 | (cp & 0x3f));
	} else if (cp < 0x10000) {
		put_byte(out, size, k, 0xe0 | (cp >> 12));
		put_byte(out, size, k, 0x80 | ((cp >> 6) & 0x3f));
		put_byte(out, size, k, 0x80 | (cp & 0x3f));
	} else {
		put_byte(out, size, k, 0xf0 | (cp >> 18));
		put_byte(out, size, k, 0x80 | ((cp >> 12) & 0x3f));
		put_byte(out, size, k, 0x80 | ((cp >> 6) & 0x3f));
		put_byte(out, size, k, 0x80 | (cp & 0x3f));
	}
}

static int jp_hex4(struct jp *p, uint32_t *cp)
{
	uint32_t v = 0;

	if (p->n - p->i < 4)
		return jp_fail(p, "truncated \\u escape");
	for (int k = 0; k < 4; k++) {
		unsigned c = p->s[p->i++];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			return jp_fail(p, "invalid \\u escape");
	}
	*cp = v;
	return 0;
}

/* Checks the string at p->i and decodes it into out[0..size) (out may be
 * NULL); *len receives the decoded length, even beyond size. */
static int jp_string(struct jp *p, char *out, size_t size, size_t *len)
{
	static const char lone_high[] = "lone high surrogate";
	size_t k = 0;

	if (p->i >= p->n || p->s[p->i] != '"')
		return jp_fail(p, "expected a string");
	p->i++;
	for (;;) {
		unsigned c;
		uint32_t cp, lo;
		size_t u;

		if (p->i >= p->n)
			return jp_fail(p, "unterminated string");
		c = p->s[p->i];
		if (c == '"') {
			p->i++;
			break;
		}
		if (c < 0x20 || c == 0x7f)
			return jp_fail(p, "control character in a string");
		if (c < 0x80 && c != '\\') {
			put_byte(out, size, &k, c);
			p->i++;
			continue;
		}
		if (c >= 0x80) {
			u = utf8_seq(p->s + p->i, p->n - p->i);
			if (!u)
				return jp_fail(p, "invalid UTF-8");
			if (u == 3 && c == 0xe2 && p->s[p->i + 1] == 0x80 &&
			    (p->s[p->i + 2] == 0xa8 || p->s[p->i + 2] == 0xa9))
				return jp_fail(p, "unescaped line separator");
			for (size_t j = 0; j < u; j++)
				put_byte(out, size, &k, p->s[p->i + j]);
			p->i += u;
			continue;
		}
		p->i++; /* the backslash */
		if (p->i >= p->n)
			return jp_fail(p, "unterminated string");
		c = p->s[p->i++];
		switch (c) {
		case '"':
		case '\\':
		case '/':
			cp = c;
			break;
		case 'b':
			cp = '\b';
			break;
		case 'f':
			cp = '\f';
			break;
		case 'n':
			cp = '\n';
			break;
		case 'r':
			cp = '\r';
			break;
		case 't':
			cp = '\t';
			break;
		case 'u':
			if (jp_hex4(p, &cp))
				return -1;
			if (cp >= 0xdc00 && cp <= 0xdfff)
				return jp_fail(p, "lone low surrogate");
			if (cp >= 0xd800 && cp <= 0xdbff) {
				if (p->n - p->i < 2 || p->s[p->i] != '\\' ||
				    p->s[p->i + 1] != 'u')
					return jp_fail(p, lone_high);
				p->i += 2;
				if (jp_hex4(p, &lo))
					return -1;
				if (lo < 0xdc00 || lo > 0xdfff)
					return jp_fail(p, lone_high);
				cp = 0x10000 + ((cp - 0xd800) << 10) +
				     (lo - 0xdc00);
			}
			break;
		default:
			return jp_fail(p, "invalid escape");
		}
		put_cp(out, size, &k, cp);
	}
	if (len)
		*len = k;
	return 0;
}

static int is_digit(unsigned c)
{
	return c >= '0' && c <= '9';
}

static int jp_number(struct jp *p)
{
	const unsigned char *s = p->s;
	size_t i = p->i, n = p->n;

	if (i < n && s[i] == '-')
		i++;
	if (i >= n || !is_digit(s[i]))
		return jp_fail(p, "invalid number");
	if (s[i] == '0')
		i++;
	else
		while (i < n && is_digit(s[i]))
			i++;
	if (i < n && s[i] == '.') {
		i++;
		if (i >= n || !is_digit(s[i]))
			return jp_fail(p, "invalid number");
		while (i < n && is_digit(s[i]))
			i++;
	}
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < n && (s[i] == '+' || s[i] == '-'))
			i++;
		if (i >= n || !is_digit(s[i]))
			return jp_fail(p, "invalid number");
		while (i < n && is_digit(s[i]))
			i++;
	}
	p->i = i;
	return 0;
}

static int jp_value(struct jp *p, int depth);

/* An object or an array at p->i, whose opening bracket is at depth. */
static int jp_container(struct jp *p, int depth)
{
	int obj = p->s[p->i] == '{';
	unsigned close = obj ? '}' : ']';

	if (depth > RF_AUDIT_DATA_DEPTH)
		return jp_fail(p, "nested too deeply");
	p->i++;
	jp_ws(p);
	if (p->i < p->n && p->s[p->i] == close) {
		p->i++;
		return 0;
	}
	for (;;) {
		jp_ws(p);
		if (obj) {
			if (jp_string(p, NULL, 0, NULL))
				return -1;
			jp_ws(p);
			if (p->i >= p->n || p->s[p->i] != ':')
				return jp_fail(p, "expected ':'");
			p->i++;
			jp_ws(p);
		}
		if (jp_value(p, depth))
			return -1;
		jp_ws(p);
		if (p->i < p->n && p->s[p->i] == ',') {
			p->i++;
			continue;
		}
		if (p->i < p->n && p->s[p->i] == close) {
			p->i++;
			return 0;
		}
		return jp_fail(p, obj ? "expected ',' or '}'" :
					"expected ',' or ']'");
	}
}

static int jp_value(struct jp *p, int depth)
{
	if (p->i >= p->n)
		return jp_fail(p, "unexpected end");
	switch (p->s[p->i]) {
	case '{':
	case '[':
		return jp_container(p, depth + 1);
	case '"':
		return jp_string(p, NULL, 0, NULL);
	case 't':
		return jp_lit(p, "true");
	case 'f':
		return jp_lit(p, "false");
	case 'n':
		return jp_lit(p, "null");
	default:
		if (p->s[p->i] == '-' || is_digit(p->s[p->i]))
			return jp_number(p);
		return jp_fail(p, "unexpected character");
	}
}

/* The data object starting at p->i; p->i ends just after it. */
static int jp_data(struct jp *p)
{
	size_t start = p->i;

	if (p->i >= p->n || p->s[p->i] != '{')
		return jp_fail(p, "not a JSON object");
	if (jp_container(p, 1))
		return -1;
	if (p->i - start > RF_AUDIT_DATA_MAX)
		return jp_fail(p, "data object too large");
	return 0;
}

enum rf_rc rf_audit_data_check(const char *json, size_t len,
			       struct rf_err *e)
{
	struct jp p = {(const unsigned char *)json, len, 0, NULL};

	if (!json)
		return rf_err_set(e, RF_EINVAL, "no audit data");
	if (len > RF_AUDIT_DATA_MAX)
		return rf_err_set(e, RF_ETOOBIG,
				  "audit data of %zu bytes exceeds %d", len,
				  RF_AUDIT_DATA_MAX);
	if (jp_data(&p) == 0 && p.i != len)
		jp_fail(&p, "text after the object");
	if (p.why)
		return rf_err_set(e, RF_EINVAL,
				  "invalid audit data at byte %zu: %s", p.i,
				  p.why);
	return RF_OK;
}

enum rf_rc rf_audit_data_str(const char *json, size_t len, const char *key,
			     char *out, size_t out_size, struct rf_err *e)
{
	struct jp p = {(const unsigned char *)json, len, 0, NULL};
	char kbuf[256];
	size_t klen, vlen;
	enum rf_rc rc;

	if (!key || !out || !out_size)
		return rf_err_set(e, RF_EINVAL, "invalid arguments");
	out[0] = '\0';
	rc = rf_audit_data_check(json, len, e);
	if (rc)
		return rc;
	p.i = 1;
	jp_ws(&p);
	while (p.i < p.n && p.s[p.i] == '"') {
		/* checked above: every step below succeeds */
		if (jp_string(&p, kbuf, sizeof kbuf, &klen))
			break;
		jp_ws(&p);
		p.i++; /* ':' */
		jp_ws(&p);
		if (klen == strlen(key) && klen < sizeof kbuf &&
		    memcmp(kbuf, key, klen) == 0 && p.s[p.i] == '"') {
			if (jp_string(&p, out, out_size, &vlen))
				break;
			if (vlen >= out_size) {
				out[0] = '\0';
				return rf_err_set(e, RF_ETOOBIG,
						  "value of '%.64s' too long",
						  key);
			}
			out[vlen] = '\0';
			return RF_OK;
		}
		if (jp_value(&p, 1))
			break;
		jp_ws(&p);
		if (p.i < p.n && p.s[p.i] == ',')
			p.i++;
		jp_ws(&p);
	}
	return rf_err_set(e, RF_ENOTFOUND, "no string member '%.64s'", key);
}

/* ---- names, timestamps, hex --------------------------------------------- */

static int name_char(unsigned c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       is_digit(c) || c == '.' || c == '_' || c == ':' || c == '@' ||
	       c == '-';
}

/* Length of the name at s (up to n bytes, stopping at a non-name byte). */
static size_t name_span(const char *s, size_t n)
{
	size_t k = 0;

	while (k < n && name_char((unsigned char)s[k]))
		k++;
	return k;
}

static int name_valid(const char *s)
{
	size_t n;

	if (!s)
		return 0;
	n = strnlen(s, RF_AUDIT_NAME_MAX + 1);
	return n >= 1 && n <= RF_AUDIT_NAME_MAX && name_span(s, n) == n;
}

/* "YYYY-MM-DDTHH:MM:SS.mmmZ" exactly (digits where the pattern has them). */
static int ts_valid(const char *s)
{
	static const char pat[] = "0000-00-00T00:00:00.000Z";

	for (size_t k = 0; k < RF_AUDIT_TS_LEN; k++) {
		unsigned c = (unsigned char)s[k];

		if (pat[k] == '0' ? !is_digit(c) : c != (unsigned)pat[k])
			return 0;
	}
	return 1;
}

/* Decodes exactly n lowercase hex digits at s into out (n / 2 bytes). */
static int hex_lower(const char *s, size_t n, uint8_t *out)
{
	for (size_t k = 0; k < n; k++) {
		unsigned c = (unsigned char)s[k], v;

		if (is_digit(c))
			v = c - '0';
		else if (c >= 'a' && c <= 'f')
			v = c - 'a' + 10;
		else
			return -1;
		if (k % 2 == 0)
			out[k / 2] = (uint8_t)(v << 4);
		else
			out[k / 2] |= (uint8_t)v;
	}
	return 0;
}

static void hex_put(const uint8_t *p, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t k = 0; k < n; k++) {
		out[2 * k] = digits[p[k] >> 4];
		out[2 * k + 1] = digits[p[k] & 15];
	}
	out[2 * n] = '\0';
}

/* ---- the line format ---------------------------------------------------- */

struct cur {
	const char *s;
	size_t n, i;
};

static int cur_lit(struct cur *c, const char *lit)
{
	size_t n = strlen(lit);

	if (c->n - c->i < n || memcmp(c->s + c->i, lit, n) != 0)
		return -1;
	c->i += n;
	return 0;
}

/* An unsigned decimal without leading zeros, at most 19 digits. */
static int cur_u64(struct cur *c, uint64_t *v)
{
	size_t start = c->i;

	*v = 0;
	while (c->i < c->n && is_digit((unsigned char)c->s[c->i]) &&
	       c->i - start < 19)
		*v = *v * 10 + (uint64_t)(c->s[c->i++] - '0');
	if (c->i == start || (c->s[start] == '0' && c->i - start > 1) ||
	    (c->i < c->n && is_digit((unsigned char)c->s[c->i])))
		return -1;
	return 0;
}

static int cur_name(struct cur *c, char out[RF_AUDIT_NAME_MAX + 1])
{
	size_t k = name_span(c->s + c->i, c->n - c->i);

	if (k < 1 || k > RF_AUDIT_NAME_MAX)
		return -1;
	memcpy(out, c->s + c->i, k);
	out[k] = '\0';
	c->i += k;
	return 0;
}

static int cur_hex(struct cur *c, size_t n, uint8_t *out)
{
	if (c->n - c->i < n || hex_lower(c->s + c->i, n, out))
		return -1;
	c->i += n;
	return 0;
}

/*
 * Parses one line (without its newline) into ent. *hashed receives the
 * length of the part the "hash" field covers. Returns NULL or the reason.
 */
static const char *line_parse(const char *l, size_t n,
			      struct rf_audit_entry *ent, size_t *hashed)
{
	struct cur c = {l, n, 0};
	struct jp p;

	if (cur_lit(&c, "{\"seq\":") || cur_u64(&c, &ent->seq))
		return "malformed seq";
	if (cur_lit(&c, ",\"ts\":\"") || c.n - c.i < RF_AUDIT_TS_LEN ||
	    !ts_valid(c.s + c.i))
		return "malformed ts";
	memcpy(ent->ts, c.s + c.i, RF_AUDIT_TS_LEN);
	ent->ts[RF_AUDIT_TS_LEN] = '\0';
	c.i += RF_AUDIT_TS_LEN;
	if (cur_lit(&c, "\",\"actor\":\"") || cur_name(&c, ent->actor))
		return "malformed actor";
	if (cur_lit(&c, "\",\"event\":\"") || cur_name(&c, ent->event))
		return "malformed event";
	if (cur_lit(&c, "\",\"data\":"))
		return "malformed data";
	p = (struct jp){(const unsigned char *)l, n, c.i, NULL};
	if (jp_data(&p))
		return "malformed data";
	ent->data = l + c.i;
	ent->data_len = p.i - c.i;
	c.i = p.i;
	if (cur_lit(&c, ",\"prev\":\"") || cur_hex(&c, HEX_LEN, ent->prev) ||
	    cur_lit(&c, "\""))
		return "malformed prev";
	*hashed = c.i;
	if (cur_lit(&c, ",\"hash\":\"") || cur_hex(&c, HEX_LEN, ent->hash) ||
	    cur_lit(&c, "\"}") || c.i != c.n)
		return "malformed hash";
	return NULL;
}

/* The checkpoint data {"count":N,"head":"..","key":"..","sig":".."}. */
static const char *checkpoint_parse(const char *d, size_t n, uint64_t *count,
				    uint8_t head[RF_SHA256_LEN],
				    uint8_t key[RF_ED25519_LEN],
				    uint8_t sig[RF_ED25519_SIG_LEN])
{
	struct cur c = {d, n, 0};

	if (cur_lit(&c, "{\"count\":") || cur_u64(&c, count) ||
	    cur_lit(&c, ",\"head\":\"") || cur_hex(&c, HEX_LEN, head) ||
	    cur_lit(&c, "\",\"key\":\"") || cur_hex(&c, HEX_LEN, key) ||
	    cur_lit(&c, "\",\"sig\":\"") || cur_hex(&c, SIG_HEX_LEN, sig) ||
	    cur_lit(&c, "\"}") || c.i != c.n)
		return "malformed checkpoint data";
	return NULL;
}

static void sig_message(const uint8_t head[RF_SHA256_LEN], uint64_t count,
			uint8_t msg[SIG_MSG_LEN])
{
	memcpy(msg, RF_AUDIT_SIG_DOMAIN, SIG_DOMAIN_LEN);
	memcpy(msg + SIG_DOMAIN_LEN, head, RF_SHA256_LEN);
	for (int k = 0; k < 8; k++)
		msg[SIG_DOMAIN_LEN + RF_SHA256_LEN + k] =
			(uint8_t)(count >> (56 - 8 * k));
}

/* ---- the chain ---------------------------------------------------------- */

struct chain {
	uint64_t seq;               /* expected seq of the next line */
	uint8_t prev[RF_SHA256_LEN]; /* SHA-256 of the last line */
	uint8_t head[RF_SHA256_LEN]; /* "hash" of the last line */
	const struct rf_key *const *trusted;
	size_t ntrusted;
	uint8_t (*trusted_raw)[RF_ED25519_LEN];
	struct rf_key *ckey; /* the checkpoint key, ntrusted == 0 */
	uint8_t ckey_raw[RF_ED25519_LEN];
	struct rf_audit_report *r;
	char why[RF_AUDIT_REASON_MAX]; /* reason of an RF_EINTEGRITY */
};

static enum rf_rc chain_init(struct chain *c,
			     const struct rf_key *const *trusted,
			     size_t ntrusted, struct rf_audit_report *r,
			     struct rf_err *e)
{
	enum rf_rc rc;

	memset(c, 0, sizeof *c);
	memset(r, 0, sizeof *r);
	c->r = r;
	if (ntrusted && !trusted)
		return rf_err_set(e, RF_EINVAL, "no trusted keys");
	c->trusted = trusted;
	c->ntrusted = ntrusted;
	if (!ntrusted)
		return RF_OK;
	c->trusted_raw = rf_calloc(ntrusted, sizeof *c->trusted_raw);
	if (!c->trusted_raw)
		return rf_err_set(e, RF_ENOMEM, "out of memory");
	for (size_t k = 0; k < ntrusted; k++) {
		if (!trusted[k] || rf_key_type(trusted[k]) != RF_KEY_ED25519)
			return rf_err_set(e, RF_EINVAL,
					  "trusted key %zu is not Ed25519", k);
		rc = rf_key_raw_public(trusted[k], c->trusted_raw[k],
				       RF_ED25519_LEN, e);
		if (rc)
			return rc;
	}
	return RF_OK;
}

static void chain_release(struct chain *c)
{
	rf_free(c->trusted_raw);
	c->trusted_raw = NULL;
	rf_key_destroy(c->ckey);
	c->ckey = NULL;
}

static enum rf_rc chain_bad(struct chain *c, const char *why)
{
	snprintf(c->why, sizeof c->why, "%s", why);
	return RF_EINTEGRITY;
}

static enum rf_rc chain_checkpoint(struct chain *c,
				   const struct rf_audit_entry *ent,
				   struct rf_err *e)
{
	uint8_t head[RF_SHA256_LEN], key[RF_ED25519_LEN];
	uint8_t sig[RF_ED25519_SIG_LEN], msg[SIG_MSG_LEN];
	const struct rf_key *k = NULL;
	uint64_t count;
	const char *why;
	struct rf_err e2 = {0};
	enum rf_rc rc;

	why = checkpoint_parse(ent->data, ent->data_len, &count, head, key,
			       sig);
	if (why)
		return chain_bad(c, why);
	if (ent->seq == 0)
		return chain_bad(c, "checkpoint with no line before it");
	if (count != ent->seq)
		return chain_bad(c, "checkpoint count is not the number of "
				    "lines before it");
	if (memcmp(head, c->head, RF_SHA256_LEN) != 0)
		return chain_bad(c, "checkpoint head is not the hash of the "
				    "line before it");
	if (c->ntrusted) {
		for (size_t j = 0; j < c->ntrusted && !k; j++)
			if (!memcmp(key, c->trusted_raw[j], RF_ED25519_LEN))
				k = c->trusted[j];
		if (!k)
			return chain_bad(c, "checkpoint key is not trusted");
	} else {
		if (c->ckey && memcmp(key, c->ckey_raw, RF_ED25519_LEN))
			return chain_bad(c, "checkpoint key differs from the "
					    "earlier checkpoints'");
		if (!c->ckey) {
			rc = rf_key_from_raw_public(RF_KEY_ED25519, key,
						    RF_ED25519_LEN, &c->ckey,
						    &e2);
			if (rc == RF_ENOMEM)
				return rf_err_set(e, rc, "out of memory");
			if (rc)
				return chain_bad(c, "checkpoint key is not a "
						    "valid Ed25519 key");
			memcpy(c->ckey_raw, key, RF_ED25519_LEN);
		}
		k = c->ckey;
	}
	sig_message(head, count, msg);
	rc = rf_ed25519_verify(k, msg, sizeof msg, sig, &e2);
	if (rc == RF_ECRYPTO)
		return chain_bad(c, "bad checkpoint signature");
	if (rc)
		return rf_err_set(e, rc, "%s", rf_err_msg(&e2));
	c->r->has_key = true;
	memcpy(c->r->key, key, RF_ED25519_LEN);
	return RF_OK;
}

/* Checks one line against the chain so far and advances the chain.
 * RF_EINTEGRITY with c->why; other codes in e. */
static enum rf_rc chain_line(struct chain *c, const char *l, size_t n,
			     struct rf_audit_entry *ent, struct rf_err *e)
{
	uint8_t h[RF_SHA256_LEN], lh[RF_SHA256_LEN];
	size_t hashed;
	const char *why;
	int ckpt;
	enum rf_rc rc;

	why = line_parse(l, n, ent, &hashed);
	if (why)
		return chain_bad(c, why);
	ent->line = c->seq + 1;
	if (ent->seq != c->seq) {
		snprintf(c->why, sizeof c->why, "seq %" PRIu64 " where %"
			 PRIu64 " was expected", ent->seq, c->seq);
		return RF_EINTEGRITY;
	}
	if (memcmp(ent->prev, c->prev, RF_SHA256_LEN) != 0)
		return chain_bad(c, "prev is not the hash of the previous "
				    "line");
	rc = rf_sha256(l, hashed, h, e);
	if (rc)
		return rc;
	if (memcmp(h, ent->hash, RF_SHA256_LEN) != 0)
		return chain_bad(c, "hash does not match the line");
	ckpt = strcmp(ent->event, EV_CHECKPOINT) == 0;
	if (ckpt) {
		rc = chain_checkpoint(c, ent, e);
		if (rc)
			return rc;
	}
	rc = rf_sha256(l, n, lh, e);
	if (rc)
		return rc;
	memcpy(c->prev, lh, RF_SHA256_LEN);
	memcpy(c->head, ent->hash, RF_SHA256_LEN);
	c->seq++;
	c->r->lines++;
	if (ckpt) {
		c->r->checkpoints++;
		c->r->unsigned_tail = 0;
	} else {
		c->r->events++;
		c->r->unsigned_tail++;
	}
	memcpy(c->r->head, ent->hash, RF_SHA256_LEN);
	return RF_OK;
}

/* ---- bounded line reader ------------------------------------------------ */

enum lr_status { LR_LINE, LR_EOF, LR_LONG, LR_TORN, LR_ERROR };

struct lreader {
	int fd;
	char *buf;
	size_t cap, start, end;
	bool eof;
};

static enum lr_status lr_next(struct lreader *r, const char **l, size_t *n)
{
	size_t scanned = 0;

	for (;;) {
		char *nl = memchr(r->buf + r->start + scanned, '\n',
				  r->end - r->start - scanned);
		ssize_t k;

		if (nl) {
			*l = r->buf + r->start;
			*n = (size_t)(nl - *l);
			r->start = (size_t)(nl - r->buf) + 1;
			return LR_LINE;
		}
		scanned = r->end - r->start;
		if (r->eof)
			return scanned ? LR_TORN : LR_EOF;
		if (r->start > 0) {
			memmove(r->buf, r->buf + r->start, scanned);
			r->end = scanned;
			r->start = 0;
		}
		if (r->end == r->cap)
			return LR_LONG;
		k = read(r->fd, r->buf + r->end, r->cap - r->end);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return LR_ERROR;
		if (k == 0)
			r->eof = true;
		r->end += (size_t)k;
	}
}

struct filter {
	const char *event;
	const char *key;
	const char *value;
};

static int filter_match(const struct filter *f,
			const struct rf_audit_entry *ent, char *vbuf,
			size_t vsize)
{
	if (!f)
		return 1;
	if (f->event && strcmp(f->event, ent->event) != 0)
		return 0;
	if (!f->key)
		return 1;
	if (rf_audit_data_str(ent->data, ent->data_len, f->key, vbuf, vsize,
			      NULL) != RF_OK)
		return 0;
	return strcmp(vbuf, f->value) == 0;
}

/* Verifies the log open on fd from its current offset. */
static enum rf_rc verify_fd(int fd, const char *path,
			    const struct rf_key *const *trusted,
			    size_t ntrusted, const struct filter *f,
			    rf_audit_entry_fn fn, void *ctx,
			    struct rf_audit_report *r, struct rf_err *e)
{
	struct lreader lr = {fd, NULL, RF_AUDIT_LINE_MAX + 1, 0, 0, false};
	struct rf_audit_entry ent;
	struct chain c;
	char *vbuf = NULL;
	size_t vsize = 0, n;
	const char *l;
	enum rf_rc rc;

	rc = chain_init(&c, trusted, ntrusted, r, e);
	if (rc)
		goto out;
	if (f && f->key) {
		vsize = strlen(f->value) + 1;
		vbuf = rf_malloc(vsize);
		if (!vbuf) {
			rc = rf_err_set(e, RF_ENOMEM, "out of memory");
			goto out;
		}
	}
	lr.buf = rf_malloc(lr.cap);
	if (!lr.buf) {
		rc = rf_err_set(e, RF_ENOMEM, "out of memory");
		goto out;
	}
	for (;;) {
		enum lr_status st = lr_next(&lr, &l, &n);

		if (st == LR_EOF)
			break;
		if (st == LR_ERROR) {
			rc = rf_err_set(e, RF_EIO, "cannot read '%s': %s",
					path, strerror(errno));
			goto out;
		}
		if (st == LR_LONG)
			rc = chain_bad(&c, "line longer than the maximum");
		else if (st == LR_TORN)
			rc = chain_bad(&c, "incomplete last line (no newline)");
		else
			rc = chain_line(&c, l, n, &ent, e);
		if (rc == RF_EINTEGRITY) {
			r->bad_line = c.seq + 1;
			snprintf(r->reason, sizeof r->reason, "%s", c.why);
			rc = rf_err_set(e, RF_EINTEGRITY,
					"audit log '%s' line %" PRIu64 ": %s",
					path, r->bad_line, c.why);
		}
		if (rc)
			goto out;
		if (fn && filter_match(f, &ent, vbuf, vsize)) {
			rc = fn(&ent, ctx, e);
			if (rc)
				goto out;
		}
	}
	rc = RF_OK;
out:
	rf_free(lr.buf);
	rf_free(vbuf);
	chain_release(&c);
	return rc;
}

static enum rf_rc verify_path(const char *path,
			      const struct rf_key *const *trusted,
			      size_t ntrusted, const struct filter *f,
			      rf_audit_entry_fn fn, void *ctx,
			      struct rf_audit_report *r, struct rf_err *e)
{
	struct rf_audit_report dummy;
	enum rf_rc rc;
	int fd;

	if (!r)
		r = &dummy;
	memset(r, 0, sizeof *r);
	if (!path)
		return rf_err_set(e, RF_EINVAL, "no audit log path");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return rf_err_set(e, RF_EIO, "cannot open '%s': %s", path,
				  strerror(errno));
	rc = verify_fd(fd, path, trusted, ntrusted, f, fn, ctx, r, e);
	close(fd);
	return rc;
}

enum rf_rc rf_audit_verify(const char *path,
			   const struct rf_key *const *trusted,
			   size_t ntrusted, struct rf_audit_report *r,
			   struct rf_err *e)
{
	return verify_path(path, trusted, ntrusted, NULL, NULL, NULL, r, e);
}

enum rf_rc rf_audit_iterate(const char *path,
			    const struct rf_key *const *trusted,
			    size_t ntrusted, rf_audit_entry_fn fn, void *ctx,
			    struct rf_audit_report *r, struct rf_err *e)
{
	return verify_path(path, trusted, ntrusted, NULL, fn, ctx, r, e);
}

enum rf_rc rf_audit_find(const char *path,
			 const struct rf_key *const *trusted, size_t ntrusted,
			 const char *event, const char *key,
			 const char *value, rf_audit_entry_fn fn, void *ctx,
			 struct rf_audit_report *r, struct rf_err *e)
{
	struct filter f = {event, key, value};

	if (key && !value)
		return rf_err_set(e, RF_EINVAL, "no value for key '%.64s'",
				  key);
	return verify_path(path, trusted, ntrusted, &f, fn, ctx, r, e);
}

/* ---- the writing handle ------------------------------------------------- */

struct rf_audit {
	pthread_mutex_t mu;
	int fd;
	char *path;
	char actor[RF_AUDIT_NAME_MAX + 1];
	const struct rf_key *key;     /* borrowed; NULL: no checkpoints */
	uint8_t pub[RF_ED25519_LEN];  /* raw public key of key */
	uint64_t seq;                 /* seq of the next line */
	uint8_t prev[RF_SHA256_LEN];  /* SHA-256 of the last line */
	uint8_t head[RF_SHA256_LEN];  /* "hash" of the last line */
	uint64_t since_ckpt;          /* events after the last checkpoint */
	unsigned every;
	bool failed;                  /* a write or fsync failed */
	struct rf_buf line;
	void (*clock)(struct timespec *now, void *ctx);
	void *clock_ctx;
};

static int write_all(int fd, const void *p, size_t n)
{
	const char *s = p;

	while (n > 0) {
		ssize_t k = write(fd, s, n);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		s += k;
		n -= (size_t)k;
	}
	return 0;
}

/* Builds, writes and fsyncs one line; called with the lock held. */
static enum rf_rc write_line(struct rf_audit *a, const char *event,
			     const char *data, size_t dlen,
			     uint8_t out_hash[RF_SHA256_LEN], struct rf_err *e)
{
	uint8_t h[RF_SHA256_LEN], lh[RF_SHA256_LEN];
	char ts[32], hex[HEX_LEN + 1];
	struct timespec now;
	enum rf_rc rc;

	if (a->failed)
		return rf_err_set(e, RF_EIO, "audit log '%s' failed earlier; "
				  "reopen it", a->path);
	if (a->clock)
		a->clock(&now, a->clock_ctx);
	else
		clock_gettime(CLOCK_REALTIME, &now);
	rf_log_format_time(&now, ts, sizeof ts);
	if (strlen(ts) != RF_AUDIT_TS_LEN || !ts_valid(ts))
		return rf_err_set(e, RF_EINVAL, "clock time '%s' cannot be "
				  "logged", ts);
	rf_buf_reset(&a->line);
	hex_put(a->prev, RF_SHA256_LEN, hex);
	rc = rf_buf_printf(&a->line, e,
			   "{\"seq\":%" PRIu64 ",\"ts\":\"%s\",\"actor\":\"%s"
			   "\",\"event\":\"%s\",\"data\":", a->seq, ts,
			   a->actor, event);
	if (!rc)
		rc = rf_buf_append(&a->line, data, dlen, e);
	if (!rc)
		rc = rf_buf_printf(&a->line, e, ",\"prev\":\"%s\"", hex);
	if (!rc)
		rc = rf_sha256(a->line.data, a->line.len, h, e);
	if (!rc) {
		hex_put(h, RF_SHA256_LEN, hex);
		rc = rf_buf_printf(&a->line, e, ",\"hash\":\"%s\"}", hex);
	}
	if (!rc)
		rc = rf_sha256(a->line.data, a->line.len, lh, e);
	if (!rc)
		rc = rf_buf_putc(&a->line, '\n', e);
	if (rc)
		return rc;
	if (write_all(a->fd, a->line.data, a->line.len) != 0 ||
	    fsync(a->fd) != 0) {
		a->failed = true;
		return rf_err_set(e, RF_EIO, "cannot write audit log '%s': %s",
				  a->path, strerror(errno));
	}
	a->seq++;
	memcpy(a->prev, lh, RF_SHA256_LEN);
	memcpy(a->head, h, RF_SHA256_LEN);
	if (out_hash)
		memcpy(out_hash, h, RF_SHA256_LEN);
	return RF_OK;
}

static enum rf_rc write_checkpoint(struct rf_audit *a, struct rf_err *e)
{
	uint8_t msg[SIG_MSG_LEN], sig[RF_ED25519_SIG_LEN];
	char head[HEX_LEN + 1], key[HEX_LEN + 1], sighex[SIG_HEX_LEN + 1];
	char data[64 + 2 * HEX_LEN + SIG_HEX_LEN];
	enum rf_rc rc;
	int n;

	sig_message(a->head, a->seq, msg);
	rc = rf_ed25519_sign(a->key, msg, sizeof msg, sig, e);
	if (rc)
		return rc;
	hex_put(a->head, RF_SHA256_LEN, head);
	hex_put(a->pub, RF_ED25519_LEN, key);
	hex_put(sig, RF_ED25519_SIG_LEN, sighex);
	n = snprintf(data, sizeof data,
		     "{\"count\":%" PRIu64 ",\"head\":\"%s\",\"key\":\"%s\","
		     "\"sig\":\"%s\"}", a->seq, head, key, sighex);
	if (n < 0 || (size_t)n >= sizeof data)
		return rf_err_set(e, RF_EINTERNAL, "checkpoint too long");
	rc = write_line(a, EV_CHECKPOINT, data, (size_t)n, NULL, e);
	if (rc == RF_OK)
		a->since_ckpt = 0;
	return rc;
}

enum rf_rc rf_audit_append(struct rf_audit *a, const char *event,
			   const char *data_json,
			   uint8_t out_hash[RF_SHA256_LEN], struct rf_err *e)
{
	struct rf_err e2 = {0};
	size_t dlen;
	enum rf_rc rc, ckpt_rc;

	if (!a)
		return rf_err_set(e, RF_EINVAL, "no audit log");
	if (!name_valid(event))
		return rf_err_set(e, RF_EINVAL, "invalid audit event name");
	if (!strcmp(event, EV_CHECKPOINT) || !strncmp(event, "audit.", 6))
		return rf_err_set(e, RF_EINVAL, "audit event name '%s' is "
				  "reserved", event);
	if (!data_json)
		data_json = "{}";
	dlen = strnlen(data_json, RF_AUDIT_DATA_MAX + 1);
	rc = rf_audit_data_check(data_json, dlen, e);
	if (rc) {
		if (e)
			rf_err_prefix(e, "event '%s'", event);
		return rc;
	}
	pthread_mutex_lock(&a->mu);
	rc = write_line(a, event, data_json, dlen, out_hash, e);
	if (rc == RF_OK) {
		a->since_ckpt++;
		/* the event is durable whatever happens to the checkpoint:
		 * a failed one is retried after the next event, and a
		 * failed write leaves the handle failed */
		if (a->key && a->since_ckpt >= a->every) {
			ckpt_rc = write_checkpoint(a, &e2);
			(void)ckpt_rc;
		}
	}
	pthread_mutex_unlock(&a->mu);
	return rc;
}

void rf_audit_head(struct rf_audit *a, uint64_t *next_seq,
		   uint8_t hash[RF_SHA256_LEN])
{
	pthread_mutex_lock(&a->mu);
	if (next_seq)
		*next_seq = a->seq;
	if (hash)
		memcpy(hash, a->head, RF_SHA256_LEN);
	pthread_mutex_unlock(&a->mu);
}

static void free_handle(struct rf_audit *a)
{
	if (a->fd >= 0)
		close(a->fd); /* releases the flock */
	rf_buf_release(&a->line);
	rf_free(a->path);
	pthread_mutex_destroy(&a->mu);
	rf_free(a);
}

enum rf_rc rf_audit_close(struct rf_audit *a, struct rf_err *e)
{
	enum rf_rc rc = RF_OK;

	if (!a)
		return RF_OK;
	pthread_mutex_lock(&a->mu);
	if (a->key && a->since_ckpt > 0 && !a->failed)
		rc = write_checkpoint(a, e);
	pthread_mutex_unlock(&a->mu);
	free_handle(a);
	return rc;
}

static int pread_all(int fd, char *p, size_t n, off_t off)
{
	while (n > 0) {
		ssize_t k = pread(fd, p, n, off);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		p += k;
		n -= (size_t)k;
		off += k;
	}
	return 0;
}

static void fsync_dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	char dir[4096];
	int fd;

	if (!slash)
		snprintf(dir, sizeof dir, ".");
	else if (slash == path)
		snprintf(dir, sizeof dir, "/");
	else if ((size_t)(slash - path) < sizeof dir)
		snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
	else
		return;
	fd = open(dir, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		(void)fsync(fd);
		close(fd);
	}
}

/* Index just after the last '\n' in buf[0..end), or -1 when there is none. */
static long after_last_nl(const char *buf, size_t end)
{
	while (end > 0) {
		if (buf[end - 1] == '\n')
			return (long)end;
		end--;
	}
	return -1;
}

struct torn {
	bool torn;
	uint64_t offset, length;
	uint8_t sha[RF_SHA256_LEN];
};

/*
 * Cuts a torn last line off and checks the last line (and its link to the
 * line before, when that is in the window); sets the handle's chain state.
 */
static enum rf_rc load_tail(struct rf_audit *a, struct torn *t,
			    struct rf_err *e)
{
	const size_t maxw = 2 * ((size_t)RF_AUDIT_LINE_MAX + 1);
	struct rf_audit_entry ent;
	uint8_t h[RF_SHA256_LEN];
	char *buf = NULL;
	const char *why = NULL;
	struct stat st;
	size_t win, end, ls, hashed;
	off_t base;
	long k;
	enum rf_rc rc = RF_OK;

	if (fstat(a->fd, &st) != 0)
		return rf_err_set(e, RF_EIO, "cannot stat '%s': %s", a->path,
				  strerror(errno));
	if (!S_ISREG(st.st_mode))
		return rf_err_set(e, RF_EINVAL, "'%s' is not a regular file",
				  a->path);
	if (st.st_size == 0)
		return RF_OK;
	win = (uint64_t)st.st_size < maxw ? (size_t)st.st_size : maxw;
	base = st.st_size - (off_t)win;
	buf = rf_malloc(win);
	if (!buf)
		return rf_err_set(e, RF_ENOMEM, "out of memory");
	if (pread_all(a->fd, buf, win, base) != 0) {
		rc = rf_err_set(e, RF_EIO, "cannot read '%s': %s", a->path,
				strerror(errno));
		goto out;
	}
	end = win;
	if (buf[end - 1] != '\n') {
		k = after_last_nl(buf, end);
		if (k < 0 && base > 0) {
			why = "no line end in the last bytes";
			goto bad;
		}
		ls = k < 0 ? 0 : (size_t)k;
		t->torn = true;
		t->offset = (uint64_t)base + ls;
		t->length = end - ls;
		rc = rf_sha256(buf + ls, end - ls, t->sha, e);
		if (rc)
			goto out;
		if (ftruncate(a->fd, (off_t)t->offset) != 0 ||
		    fsync(a->fd) != 0) {
			rc = rf_err_set(e, RF_EIO, "cannot truncate '%s': %s",
					a->path, strerror(errno));
			goto out;
		}
		end = ls;
		if (end == 0)
			goto out; /* nothing but a torn line: now empty */
	}
	/* the last line is buf[ls .. end - 1) */
	k = after_last_nl(buf, end - 1);
	if (k < 0 && base > 0) {
		why = "last line longer than the maximum";
		goto bad;
	}
	ls = k < 0 ? 0 : (size_t)k;
	why = line_parse(buf + ls, end - 1 - ls, &ent, &hashed);
	if (why)
		goto bad;
	rc = rf_sha256(buf + ls, hashed, h, e);
	if (rc)
		goto out;
	if (memcmp(h, ent.hash, RF_SHA256_LEN) != 0) {
		why = "hash does not match the line";
		goto bad;
	}
	if (ls == 0 && base == 0) {
		memset(h, 0, sizeof h);
		if (ent.seq != 0 || memcmp(ent.prev, h, RF_SHA256_LEN)) {
			why = "the first line does not start the chain";
			goto bad;
		}
	} else if (ls > 0 && (k = after_last_nl(buf, ls - 1)) >= 0) {
		rc = rf_sha256(buf + k, ls - 1 - (size_t)k, h, e);
		if (rc)
			goto out;
		if (memcmp(h, ent.prev, RF_SHA256_LEN) != 0) {
			why = "prev is not the hash of the previous line";
			goto bad;
		}
	}
	rc = rf_sha256(buf + ls, end - 1 - ls, a->prev, e);
	if (rc)
		goto out;
	if (ent.seq == UINT64_MAX) {
		why = "seq out of range";
		goto bad;
	}
	a->seq = ent.seq + 1;
	memcpy(a->head, ent.hash, RF_SHA256_LEN);
	a->since_ckpt = strcmp(ent.event, EV_CHECKPOINT) != 0;
	goto out;
bad:
	rc = rf_err_set(e, RF_EINTEGRITY, "audit log '%s' last line: %s",
			a->path, why);
out:
	rf_free(buf);
	return rc;
}

/* Full verification of the existing log, trusting only our own key. */
static enum rf_rc verify_existing(struct rf_audit *a, struct rf_err *e)
{
	struct rf_audit_report r;
	const struct rf_key *const trusted[1] = {a->key};
	enum rf_rc rc;

	if (lseek(a->fd, 0, SEEK_SET) != 0)
		return rf_err_set(e, RF_EIO, "cannot seek '%s': %s", a->path,
				  strerror(errno));
	rc = verify_fd(a->fd, a->path, trusted, a->key ? 1 : 0, NULL, NULL,
		       NULL, &r, e);
	if (rc)
		return rc;
	if (r.lines != a->seq)
		return rf_err_set(e, RF_EINTERNAL, "audit log '%s' changed "
				  "while it was read", a->path);
	a->since_ckpt = r.unsigned_tail;
	return RF_OK;
}

enum rf_rc rf_audit_open(const char *path, const char *actor,
			 const struct rf_key *key,
			 const struct rf_audit_opts *opts,
			 struct rf_audit **out, struct rf_err *e)
{
	static const struct rf_audit_opts defaults = {0};
	struct rf_audit *a = NULL;
	struct torn t = {0};
	struct stat st;
	enum rf_rc rc;

	if (out)
		*out = NULL;
	if (!path || !out)
		return rf_err_set(e, RF_EINVAL, "invalid arguments");
	if (!name_valid(actor))
		return rf_err_set(e, RF_EINVAL, "invalid audit actor name");
	if (key && (rf_key_type(key) != RF_KEY_ED25519 ||
		    !rf_key_has_private(key)))
		return rf_err_set(e, RF_EINVAL, "audit signing key is not an "
				  "Ed25519 private key");
	if (!opts)
		opts = &defaults;
	a = rf_calloc(1, sizeof *a);
	if (!a)
		return rf_err_set(e, RF_ENOMEM, "out of memory");
	a->fd = -1;
	if (pthread_mutex_init(&a->mu, NULL) != 0) {
		rf_free(a);
		return rf_err_set(e, RF_ENOMEM, "cannot create a mutex");
	}
	rf_buf_init(&a->line, (size_t)RF_AUDIT_LINE_MAX + 1);
	memcpy(a->actor, actor, strlen(actor) + 1);
	a->key = key;
	a->every = opts->checkpoint_every ? opts->checkpoint_every :
					    RF_AUDIT_CHECKPOINT_EVERY;
	a->clock = opts->clock;
	a->clock_ctx = opts->clock_ctx;
	a->path = rf_strdup(path);
	if (!a->path) {
		rc = rf_err_set(e, RF_ENOMEM, "out of memory");
		goto fail;
	}
	if (key) {
		rc = rf_key_raw_public(key, a->pub, sizeof a->pub, e);
		if (rc)
			goto fail;
	}
	a->fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (a->fd < 0) {
		rc = rf_err_set(e, RF_EIO, "cannot open '%s': %s", path,
				strerror(errno));
		goto fail;
	}
	if (flock(a->fd, LOCK_EX | LOCK_NB) != 0) {
		rc = rf_err_set(e, RF_EIO, errno == EWOULDBLOCK ?
				"audit log '%s' is in use by another writer" :
				"cannot lock audit log '%s'", path);
		goto fail;
	}
	rc = load_tail(a, &t, e);
	if (rc)
		goto fail;
	if (opts->verify_all) {
		rc = verify_existing(a, e);
		if (rc)
			goto fail;
	}
	if (fstat(a->fd, &st) == 0 && st.st_size == 0)
		fsync_dir_of(path); /* a new log: make its name durable */
	if (t.torn) {
		char data[128], hex[HEX_LEN + 1];

		hex_put(t.sha, RF_SHA256_LEN, hex);
		snprintf(data, sizeof data,
			 "{\"offset\":%" PRIu64 ",\"length\":%" PRIu64
			 ",\"sha256\":\"%s\"}", t.offset, t.length, hex);
		rc = write_line(a, EV_TORN, data, strlen(data), NULL, e);
		if (rc)
			goto fail;
		a->since_ckpt++;
	}
	*out = a;
	return RF_OK;
fail:
	free_handle(a);
	return rc;
}
