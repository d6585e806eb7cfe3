/* rf_audit_fed.c - transfers and decisions of the federation's audit logs,
 * and the crosscheck of the aggregator's records against the sites'. */
#include "rf_audit_fed.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rf_alloc.h"
#include "rf_audit_events.h"

#define SHOW_HEX 16 /* hex digits of a hash shown in a message */

struct rf_audit_fed {
	struct rf_audit_fed_log *logs;
	size_t nlogs;
	struct rf_audit_xfer *xfers;
	size_t nxfers, capxfers;
	struct rf_audit_decision *decs;
	size_t ndecs, capdecs;
};

enum rf_rc rf_audit_fed_create(struct rf_audit_fed **out, struct rf_err *e)
{
	*out = rf_calloc(1, sizeof **out);
	if (!*out)
		return rf_err_set(e, RF_ENOMEM, "out of memory");
	return RF_OK;
}

void rf_audit_fed_destroy(struct rf_audit_fed *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->nlogs; i++)
		rf_free((char *)f->logs[i].path);
	rf_free(f->logs);
	rf_free(f->xfers);
	rf_free(f->decs);
	rf_free(f);
}

/* ---- the data object ---------------------------------------------------- */

/* Index just past the value starting at s[i], or n + 1 when it does not end
 * inside s[0..n). The object has passed rf_audit_data_check, but nothing
 * here relies on it beyond staying inside the bounds. */
static size_t skip_value(const char *s, size_t n, size_t i)
{
	size_t depth = 0;
	bool in_str = false;

	if (i >= n)
		return n + 1;
	if (s[i] != '"' && s[i] != '{' && s[i] != '[') {
		while (i < n && s[i] != ',' && s[i] != '}' && s[i] != ']' &&
		       s[i] != ' ')
			i++;
		return i;
	}
	for (; i < n; i++) {
		char c = s[i];

		if (in_str) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_str = false;
			else
				continue;
			if (!in_str && depth == 0)
				return i + 1;
			continue;
		}
		if (c == '"')
			in_str = true;
		else if (c == '{' || c == '[')
			depth++;
		else if ((c == '}' || c == ']') && depth > 0 && --depth == 0)
			return i + 1;
	}
	return n + 1;
}

static size_t skip_spaces(const char *s, size_t n, size_t i)
{
	while (i < n && s[i] == ' ')
		i++;
	return i;
}

/* The raw bytes of the value of the first top-level member whose name is
 * exactly key (names with escapes never match). */
static bool member_raw(const char *s, size_t n, const char *key,
		       const char **v, size_t *vlen)
{
	size_t klen = strlen(key), i = skip_spaces(s, n, 0);

	if (i >= n || s[i] != '{')
		return false;
	i = skip_spaces(s, n, i + 1);
	while (i < n && s[i] == '"') {
		size_t k0 = i + 1, k1 = skip_value(s, n, i), v0, v1;

		if (k1 > n)
			return false;
		i = skip_spaces(s, n, k1);
		if (i >= n || s[i] != ':')
			return false;
		v0 = skip_spaces(s, n, i + 1);
		v1 = skip_value(s, n, v0);
		if (v1 > n)
			return false;
		if (k1 - 1 - k0 == klen && memcmp(s + k0, key, klen) == 0) {
			*v = s + v0;
			*vlen = v1 - v0;
			return true;
		}
		i = skip_spaces(s, n, v1);
		if (i >= n || s[i] != ',')
			return false;
		i = skip_spaces(s, n, i + 1);
	}
	return false;
}

/* What is being read: for the messages. */
struct reader {
	const char *path;
	const struct rf_audit_entry *ent;
};

static enum rf_rc bad(const struct reader *rd, const char *key,
		      const char *what, struct rf_err *e)
{
	return rf_err_set(e, RF_EPROTO, "'%s' line %llu: event '%s': %s '%s'",
			  rd->path, (unsigned long long)rd->ent->line,
			  rd->ent->event, what, key);
}

static enum rf_rc get_u64(const struct reader *rd, const char *key,
			  uint64_t *out, struct rf_err *e)
{
	const char *v;
	size_t n;
	uint64_t x = 0;

	if (!member_raw(rd->ent->data, rd->ent->data_len, key, &v, &n))
		return bad(rd, key, "no member", e);
	if (n == 0 || n > 19 || (n > 1 && v[0] == '0'))
		return bad(rd, key, "not a count in", e);
	for (size_t i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return bad(rd, key, "not a count in", e);
		x = x * 10 + (uint64_t)(v[i] - '0');
	}
	*out = x;
	return RF_OK;
}

static bool name_ok(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || strchr("._:@-", *s)))
			return false;
	return true;
}

static bool hex64_ok(const char *s)
{
	size_t i;

	for (i = 0; s[i]; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		      (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return i == 64;
}

enum str_kind { STR_NAME, STR_HEX64, STR_KIND };

static enum rf_rc get_str(const struct reader *rd, const char *key,
			  enum str_kind k, char *out, size_t size,
			  struct rf_err *e)
{
	struct rf_err e2 = {0};
	enum rf_rc rc;
	bool ok;

	rc = rf_audit_data_str(rd->ent->data, rd->ent->data_len, key, out,
			       size, &e2);
	if (rc == RF_ENOTFOUND)
		return bad(rd, key, "no string member", e);
	if (rc == RF_ETOOBIG)
		return bad(rd, key, "value too long in", e);
	if (rc)
		return rf_err_set(e, rc == RF_ENOMEM ? rc : RF_EPROTO,
				  "'%s' line %llu: %s", rd->path,
				  (unsigned long long)rd->ent->line,
				  rf_err_msg(&e2));
	if (k == STR_NAME)
		ok = name_ok(out);
	else if (k == STR_HEX64)
		ok = hex64_ok(out);
	else
		ok = !strcmp(out, RF_AUDIT_KIND_DELTA) ||
		     !strcmp(out, RF_AUDIT_KIND_MASKED);
	if (!ok)
		return bad(rd, key, "bad value of", e);
	return RF_OK;
}

/* ---- reading one log ---------------------------------------------------- */

struct scan {
	struct rf_audit_fed *f;
	const char *path;
	size_t log;
	bool role_known, is_agg;
	char actor[RF_AUDIT_NAME_MAX + 1];
	char site[RF_AUDIT_NAME_MAX + 1];
};

static void role_of(struct scan *sc, const char *actor)
{
	size_t pl = strlen(RF_AUDIT_ACTOR_SITE_PREFIX);

	memcpy(sc->actor, actor, strlen(actor) + 1);
	sc->is_agg = !strcmp(actor, RF_AUDIT_ACTOR_AGG) ||
		     !strncmp(actor, RF_AUDIT_ACTOR_AGG ":",
			      strlen(RF_AUDIT_ACTOR_AGG ":"));
	if (sc->is_agg)
		sc->site[0] = '\0';
	else if (!strncmp(actor, RF_AUDIT_ACTOR_SITE_PREFIX, pl) && actor[pl])
		memcpy(sc->site, actor + pl, strlen(actor + pl) + 1);
	else
		memcpy(sc->site, actor, strlen(actor) + 1);
	sc->role_known = true;
}

static enum rf_rc grow(void **p, size_t *cap, size_t n, size_t size,
		       struct rf_err *e)
{
	size_t ncap;
	void *q;

	if (n < *cap)
		return RF_OK;
	ncap = *cap ? *cap * 2 : 64;
	q = rf_realloc(*p, ncap * size);
	if (!q)
		return rf_err_set(e, RF_ENOMEM, "out of memory");
	*p = q;
	*cap = ncap;
	return RF_OK;
}

static enum rf_rc room(struct rf_audit_fed *f, struct rf_err *e)
{
	if (f->nxfers + f->ndecs >= RF_AUDIT_FED_RECORDS_MAX)
		return rf_err_set(e, RF_ETOOBIG,
				  "more than %u transfers and decisions",
				  RF_AUDIT_FED_RECORDS_MAX);
	return RF_OK;
}

static enum rf_rc add_xfer(struct scan *sc, const struct reader *rd,
			   enum rf_audit_xfer_type type, struct rf_err *e)
{
	struct rf_audit_fed *f = sc->f;
	struct rf_audit_xfer *x;
	enum rf_rc rc;

	if ((rc = room(f, e)) ||
	    (rc = grow((void **)&f->xfers, &f->capxfers, f->nxfers,
		       sizeof *f->xfers, e)))
		return rc;
	x = &f->xfers[f->nxfers];
	memset(x, 0, sizeof *x);
	x->type = type;
	x->by_agg = sc->is_agg;
	x->log = sc->log;
	x->line = rd->ent->line;
	if ((rc = get_str(rd, RF_AUDIT_KEY_ROUND, STR_NAME, x->round,
			  sizeof x->round, e)) ||
	    (rc = get_u64(rd, RF_AUDIT_KEY_ROUND_NO, &x->round_no, e)) ||
	    (rc = get_str(rd, RF_AUDIT_KEY_SHA256, STR_HEX64, x->sha256,
			  sizeof x->sha256, e)) ||
	    (rc = get_u64(rd, RF_AUDIT_KEY_BYTES, &x->bytes, e)))
		return rc;
	if (sc->is_agg) {
		if ((rc = get_str(rd, RF_AUDIT_KEY_SITE, STR_NAME, x->site,
				  sizeof x->site, e)))
			return rc;
	} else {
		memcpy(x->site, sc->site, sizeof x->site);
	}
	if (type == RF_AUDIT_XFER_UPDATE &&
	    ((rc = get_u64(rd, RF_AUDIT_KEY_SAMPLES, &x->samples, e)) ||
	     (rc = get_str(rd, RF_AUDIT_KEY_KIND, STR_KIND, x->kind,
			   sizeof x->kind, e))))
		return rc;
	f->nxfers++;
	return RF_OK;
}

static enum rf_rc add_decision(struct scan *sc, const struct reader *rd,
			       bool accepted, struct rf_err *e)
{
	struct rf_audit_fed *f = sc->f;
	struct rf_audit_decision *d;
	enum rf_rc rc;

	if ((rc = room(f, e)) ||
	    (rc = grow((void **)&f->decs, &f->capdecs, f->ndecs,
		       sizeof *f->decs, e)))
		return rc;
	d = &f->decs[f->ndecs];
	memset(d, 0, sizeof *d);
	d->accepted = accepted;
	d->log = sc->log;
	d->line = rd->ent->line;
	memcpy(d->site, sc->site, sizeof d->site);
	if ((rc = get_str(rd, RF_AUDIT_KEY_ROUND, STR_NAME, d->round,
			  sizeof d->round, e)) ||
	    (rc = get_str(rd, RF_AUDIT_KEY_POLICY_SHA256, STR_HEX64,
			  d->policy_sha256, sizeof d->policy_sha256, e)))
		return rc;
	f->ndecs++;
	return RF_OK;
}

static enum rf_rc on_entry(const struct rf_audit_entry *ent, void *ctx,
			   struct rf_err *e)
{
	struct scan *sc = ctx;
	struct reader rd = {sc->path, ent};
	const char *ev = ent->event;

	if (!sc->role_known)
		role_of(sc, ent->actor);
	if (strcmp(ent->actor, sc->actor) != 0)
		return RF_OK;
	if (sc->is_agg) {
		if (!strcmp(ev, RF_AUDIT_EV_UPDATE_RECEIVED))
			return add_xfer(sc, &rd, RF_AUDIT_XFER_UPDATE, e);
		if (!strcmp(ev, RF_AUDIT_EV_MODEL_SENT))
			return add_xfer(sc, &rd, RF_AUDIT_XFER_MODEL, e);
		return RF_OK;
	}
	if (!strcmp(ev, RF_AUDIT_EV_UPDATE_SENT))
		return add_xfer(sc, &rd, RF_AUDIT_XFER_UPDATE, e);
	if (!strcmp(ev, RF_AUDIT_EV_MODEL_RECEIVED))
		return add_xfer(sc, &rd, RF_AUDIT_XFER_MODEL, e);
	if (!strcmp(ev, RF_AUDIT_EV_ROUND_ACCEPTED))
		return add_decision(sc, &rd, true, e);
	if (!strcmp(ev, RF_AUDIT_EV_ROUND_DECLINED))
		return add_decision(sc, &rd, false, e);
	return RF_OK;
}

static int xfer_cmp(const void *pa, const void *pb)
{
	const struct rf_audit_xfer *a = pa, *b = pb;
	int c;

	if ((c = strcmp(a->round, b->round)))
		return c;
	if (a->round_no != b->round_no)
		return a->round_no < b->round_no ? -1 : 1;
	if ((c = strcmp(a->site, b->site)))
		return c;
	if (a->type != b->type)
		return a->type == RF_AUDIT_XFER_UPDATE ? -1 : 1;
	if (a->by_agg != b->by_agg)
		return a->by_agg ? -1 : 1;
	if (a->log != b->log)
		return a->log < b->log ? -1 : 1;
	return a->line < b->line ? -1 : a->line > b->line;
}

static int dec_cmp(const void *pa, const void *pb)
{
	const struct rf_audit_decision *a = pa, *b = pb;
	int c;

	if ((c = strcmp(a->round, b->round)))
		return c;
	if ((c = strcmp(a->site, b->site)))
		return c;
	if (a->log != b->log)
		return a->log < b->log ? -1 : 1;
	return a->line < b->line ? -1 : a->line > b->line;
}

enum rf_rc rf_audit_fed_add_log(struct rf_audit_fed *f, const char *path,
				const struct rf_key *const *trusted,
				size_t ntrusted, struct rf_audit_report *r,
				struct rf_err *e)
{
	struct rf_audit_report rep_local;
	struct rf_audit_report *rep = r ? r : &rep_local;
	struct scan sc;
	size_t nx = f->nxfers, nd = f->ndecs;
	struct rf_audit_fed_log *logs, *lg;
	char *copy = NULL;
	enum rf_rc rc;

	if (f->nlogs >= RF_AUDIT_FED_LOGS_MAX)
		return rf_err_set(e, RF_ETOOBIG, "more than %d logs",
				  RF_AUDIT_FED_LOGS_MAX);
	memset(&sc, 0, sizeof sc);
	sc.f = f;
	sc.path = path;
	sc.log = f->nlogs;
	rc = rf_audit_iterate(path, trusted, ntrusted, on_entry, &sc, rep, e);
	if (rc)
		goto fail;
	for (size_t i = 0; sc.role_known && i < f->nlogs; i++) {
		const struct rf_audit_fed_log *o = &f->logs[i];

		if (!o->actor[0])
			continue;
		if (sc.is_agg && o->is_agg) {
			rc = rf_err_set(e, RF_EEXIST,
					"'%s' and '%s' are both aggregator "
					"logs",
					o->path, path);
			goto fail;
		}
		if (!sc.is_agg && !o->is_agg && !strcmp(o->site, sc.site)) {
			rc = rf_err_set(e, RF_EEXIST,
					"'%s' and '%s' are both logs of site "
					"'%s'",
					o->path, path, sc.site);
			goto fail;
		}
	}
	copy = rf_strdup(path);
	logs = copy ? rf_realloc(f->logs, (f->nlogs + 1) * sizeof *logs)
		    : NULL;
	if (!logs) {
		rc = rf_err_set(e, RF_ENOMEM, "out of memory");
		goto fail;
	}
	f->logs = logs;
	lg = &f->logs[f->nlogs++];
	memset(lg, 0, sizeof *lg);
	lg->path = copy;
	memcpy(lg->actor, sc.actor, sizeof lg->actor);
	lg->is_agg = sc.is_agg;
	memcpy(lg->site, sc.site, sizeof lg->site);
	lg->report = *rep;
	if (f->nxfers > 1)
		qsort(f->xfers, f->nxfers, sizeof *f->xfers, xfer_cmp);
	if (f->ndecs > 1)
		qsort(f->decs, f->ndecs, sizeof *f->decs, dec_cmp);
	return RF_OK;
fail:
	rf_free(copy);
	f->nxfers = nx;
	f->ndecs = nd;
	return rc;
}

/* ---- crosscheck --------------------------------------------------------- */

struct report_to {
	rf_audit_fed_mismatch_fn *fn;
	void *ctx;
	size_t n;
};

static void say(struct report_to *to, const char *fmt, ...) RF_PRINTF(2, 3);
static void say(struct report_to *to, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	to->n++;
	if (!to->fn)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	to->fn(msg, to->ctx);
}

static bool have_site_log(const struct rf_audit_fed *f, const char *site)
{
	for (size_t i = 0; i < f->nlogs; i++)
		if (f->logs[i].actor[0] && !f->logs[i].is_agg &&
		    !strcmp(f->logs[i].site, site))
			return true;
	return false;
}

/* The records [i, j) share round, round_no, site and type. */
static void check_group(const struct rf_audit_fed *f,
			struct rf_audit_xfer *x, size_t n, bool *done,
			struct report_to *to)
{
	bool upd = x[0].type == RF_AUDIT_XFER_UPDATE;
	const char *site = x[0].site;
	char where[RF_AUDIT_NAME_MAX + RF_AUDIT_FED_ID_MAX + 64];
	size_t a, s;

	snprintf(where, sizeof where, "%s %s round %s/%llu",
		 upd ? "update from" : "model to", site, x[0].round,
		 (unsigned long long)x[0].round_no);
	/* exact pairs */
	for (a = 0; a < n; a++) {
		if (!x[a].by_agg)
			continue;
		for (s = 0; s < n; s++) {
			if (x[s].by_agg || done[s] ||
			    strcmp(x[a].sha256, x[s].sha256) ||
			    x[a].bytes != x[s].bytes)
				continue;
			done[a] = done[s] = true;
			x[a].matched = x[s].matched = true;
			if (upd && (strcmp(x[a].kind, x[s].kind) ||
				    x[a].samples != x[s].samples))
				say(to,
				    "%s sha256 %.*s..: %s sent a %s update "
				    "of %llu samples, the aggregator recorded "
				    "a %s update of %llu samples",
				    where, SHOW_HEX, x[a].sha256, site,
				    x[s].kind,
				    (unsigned long long)x[s].samples,
				    x[a].kind,
				    (unsigned long long)x[a].samples);
			break;
		}
	}
	/* the same bytes counted differently, then another hash */
	for (int pass = 0; pass < 2; pass++) {
		for (a = 0; a < n; a++) {
			if (!x[a].by_agg || done[a])
				continue;
			for (s = 0; s < n; s++) {
				if (x[s].by_agg || done[s] ||
				    (pass == 0 &&
				     strcmp(x[a].sha256, x[s].sha256)))
					continue;
				done[a] = done[s] = true;
				if (pass == 0 && upd)
					say(to,
					    "%s sha256 %.*s..: %s sent %llu "
					    "bytes, the aggregator recorded "
					    "%llu",
					    where, SHOW_HEX, x[a].sha256,
					    site,
					    (unsigned long long)x[s].bytes,
					    (unsigned long long)x[a].bytes);
				else if (pass == 0)
					say(to,
					    "%s sha256 %.*s..: the aggregator "
					    "sent %llu bytes, %s received "
					    "%llu",
					    where, SHOW_HEX, x[a].sha256,
					    (unsigned long long)x[a].bytes,
					    site,
					    (unsigned long long)x[s].bytes);
				else if (upd)
					say(to,
					    "%s: %s sent sha256 %.*s.., the "
					    "aggregator recorded sha256 "
					    "%.*s..",
					    where, site, SHOW_HEX,
					    x[s].sha256, SHOW_HEX,
					    x[a].sha256);
				else
					say(to,
					    "%s: the aggregator sent sha256 "
					    "%.*s.., %s received sha256 "
					    "%.*s..",
					    where, SHOW_HEX, x[a].sha256,
					    site, SHOW_HEX, x[s].sha256);
				break;
			}
		}
	}
	/* one side only */
	for (a = 0; a < n; a++) {
		const char *r = x[a].round, *h = x[a].sha256;
		unsigned long long no = (unsigned long long)x[a].round_no;

		if (done[a])
			continue;
		done[a] = true;
		if (x[a].by_agg && !have_site_log(f, site))
			say(to,
			    "aggregator recorded %s %s %s round %s/%llu "
			    "sha256 %.*s.. but no log of %s was given",
			    upd ? "an update" : "a model",
			    upd ? "from" : "sent to", site, r, no, SHOW_HEX,
			    h, site);
		else if (x[a].by_agg && upd)
			say(to,
			    "aggregator recorded an update from %s round "
			    "%s/%llu sha256 %.*s.. that %s never sent",
			    site, r, no, SHOW_HEX, h, site);
		else if (x[a].by_agg)
			say(to,
			    "aggregator recorded a model sent to %s round "
			    "%s/%llu sha256 %.*s.. that %s never received",
			    site, r, no, SHOW_HEX, h, site);
		else if (upd)
			say(to,
			    "%s sent an update round %s/%llu sha256 %.*s.. "
			    "that the aggregator never recorded",
			    site, r, no, SHOW_HEX, h);
		else
			say(to,
			    "%s received a model round %s/%llu sha256 "
			    "%.*s.. that the aggregator never recorded "
			    "sending",
			    site, r, no, SHOW_HEX, h);
	}
}

static bool same_group(const struct rf_audit_xfer *a,
		       const struct rf_audit_xfer *b)
{
	return a->type == b->type && a->round_no == b->round_no &&
	       !strcmp(a->round, b->round) && !strcmp(a->site, b->site);
}

enum rf_rc rf_audit_fed_crosscheck(struct rf_audit_fed *f,
				   rf_audit_fed_mismatch_fn *fn, void *ctx,
				   size_t *nmismatch, struct rf_err *e)
{
	struct report_to to = {fn, ctx, 0};
	bool *done, agg = false;
	size_t i, j;

	*nmismatch = 0;
	for (i = 0; i < f->nlogs; i++)
		agg = agg || (f->logs[i].actor[0] && f->logs[i].is_agg);
	if (!agg)
		return rf_err_set(e, RF_EINVAL, "no aggregator log to check");
	done = rf_calloc(f->nxfers ? f->nxfers : 1, sizeof *done);
	if (!done)
		return rf_err_set(e, RF_ENOMEM, "out of memory");
	for (i = 0; i < f->nxfers; i++)
		f->xfers[i].matched = false;
	for (i = 0; i < f->nxfers; i = j) {
		for (j = i + 1; j < f->nxfers; j++)
			if (!same_group(&f->xfers[i], &f->xfers[j]))
				break;
		check_group(f, f->xfers + i, j - i, done + i, &to);
	}
	rf_free(done);
	*nmismatch = to.n;
	return RF_OK;
}

/* ---- accessors ---------------------------------------------------------- */

const struct rf_audit_fed_log *rf_audit_fed_logs(const struct rf_audit_fed *f,
						 size_t *n)
{
	*n = f->nlogs;
	return f->logs;
}

const struct rf_audit_xfer *rf_audit_fed_xfers(const struct rf_audit_fed *f,
					       size_t *n)
{
	*n = f->nxfers;
	return f->xfers;
}

const struct rf_audit_decision *
rf_audit_fed_decisions(const struct rf_audit_fed *f, size_t *n)
{
	*n = f->ndecs;
	return f->decs;
}
