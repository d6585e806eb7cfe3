/* test_audit.c - the hash-chained audit log: writing, verifying, tampering,
 * hostile data, locking, allocation failures, and agreement with the
 * independent verifier tests/common/ref/audit_verify.py. */
#include "rf_test.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>

#include "rf_audit.h"
#include "rf_crypto.h"

#define PYTHON "/usr/bin/python3"
#define REF_VERIFY RF_TEST_SRCDIR "/tests/common/ref/audit_verify.py"

/* 2026-11-23T13:45:01.123Z */
static void fixed_clock(struct timespec *now, void *ctx)
{
	(void)ctx;
	now->tv_sec = 1795441501;
	now->tv_nsec = 123456789;
}

static struct rf_key *new_key(void)
{
	struct rf_key *k = NULL;

	RF_ASSERT_OK(rf_key_generate(RF_KEY_ED25519, &k, NULL));
	return k;
}

static void key_hex(const struct rf_key *k, char out[65])
{
	uint8_t raw[RF_ED25519_LEN];

	RF_ASSERT_OK(rf_key_raw_public(k, raw, sizeof raw, NULL));
	RF_ASSERT_OK(rf_hex_encode(raw, sizeof raw, out, 65, NULL));
}

/* ---- whole files as lines (libc memory: test scaffolding) --------------- */

struct lines {
	char **v; /* each without its newline */
	size_t n;
};

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *p;
	long n;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	p = malloc((size_t)n + 1);
	assert_non_null(p);
	assert_int_equal(fread(p, 1, (size_t)n, f), (size_t)n);
	p[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return p;
}

static void lines_read(const char *path, struct lines *L)
{
	size_t len;
	char *text = slurp(path, &len), *s = text, *nl;

	L->v = NULL;
	L->n = 0;
	while ((nl = memchr(s, '\n', len - (size_t)(s - text)))) {
		L->v = realloc(L->v, (L->n + 1) * sizeof *L->v);
		assert_non_null(L->v);
		L->v[L->n] = strndup(s, (size_t)(nl - s));
		assert_non_null(L->v[L->n]);
		L->n++;
		s = nl + 1;
	}
	assert_true(s == text + len); /* no torn line */
	free(text);
}

static void lines_write(const char *path, const struct lines *L)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	for (size_t i = 0; i < L->n; i++)
		fprintf(f, "%s\n", L->v[i]);
	assert_int_equal(fclose(f), 0);
}

static void lines_free(struct lines *L)
{
	for (size_t i = 0; i < L->n; i++)
		free(L->v[i]);
	free(L->v);
}

static void sha_hex(const char *p, size_t n, char out[65])
{
	uint8_t h[RF_SHA256_LEN];

	RF_ASSERT_OK(rf_sha256(p, n, h, NULL));
	RF_ASSERT_OK(rf_hex_encode(h, sizeof h, out, 65, NULL));
}

/*
 * What someone without the key can do: re-link every line from index k on
 * (prev = SHA-256 of the line before, hash recomputed), optionally also
 * pointing checkpoint heads at the new hashes. The line ends in
 * ,"prev":"<64>","hash":"<64>"} (docs/formats.md).
 */
static void rechain(struct lines *L, size_t k, int fix_heads)
{
	char hex[65];

	for (size_t i = k; i < L->n; i++) {
		char *l = L->v[i], *head;
		size_t n = strlen(l);

		assert_true(i > 0 && n > 149);
		sha_hex(L->v[i - 1], strlen(L->v[i - 1]), hex);
		memcpy(l + n - 140, hex, 64);
		head = strstr(l, "\"event\":\"checkpoint\"") ?
			       strstr(l, "\"head\":\"") : NULL;
		if (fix_heads && head) {
			const char *pl = L->v[i - 1];

			memcpy(head + 8, pl + strlen(pl) - 66, 64);
		}
		sha_hex(l, n - 75, hex);
		memcpy(l + n - 66, hex, 64);
	}
}

/* ---- helpers over the log ----------------------------------------------- */

/* A log of nev events "ev" with data {"n":"<i>"}, checkpoints every `every`
 * events, closed. */
static void make_log(const char *path, const struct rf_key *k, int nev,
		     unsigned every)
{
	struct rf_audit_opts o = {every, false, fixed_clock, NULL};
	struct rf_audit *a = NULL;
	struct rf_err e = {0};
	char data[64];

	unlink(path);
	RF_ASSERT_OK_E(rf_audit_open(path, "site:test", k, &o, &a, &e), &e);
	for (int i = 0; i < nev; i++) {
		snprintf(data, sizeof data, "{\"n\":\"%d\"}", i);
		RF_ASSERT_OK_E(rf_audit_append(a, "ingest", data, NULL, &e),
			       &e);
	}
	RF_ASSERT_OK_E(rf_audit_close(a, &e), &e);
}

/* Runs the reference verifier; returns its exit status, its stdout and
 * stderr go to out_path. */
static int ref_verify(const char *log, const char *keyhex,
		      const char *out_path)
{
	return rf_sh("%s %s '%s' %s %s > '%s' 2>&1", PYTHON, REF_VERIFY, log,
		     keyhex ? "--key" : "", keyhex ? keyhex : "", out_path);
}

static void expect_ref(const char *log, const char *keyhex,
		       const char *want)
{
	char out[700];
	size_t len;
	char *text;

	snprintf(out, sizeof out, "%s.ref", log);
	if (ref_verify(log, keyhex, out) != 0) {
		text = slurp(out, &len);
		fail_msg("reference verifier refused '%s': %s", log, text);
	}
	text = slurp(out, &len);
	if (!strstr(text, want))
		fail_msg("reference verifier said '%s', want '%s'", text,
			 want);
	free(text);
}

static void expect_ref_bad(const char *log, const char *keyhex,
			   uint64_t line)
{
	char out[700], want[64];
	size_t len;
	char *text;

	snprintf(out, sizeof out, "%s.ref", log);
	assert_int_equal(ref_verify(log, keyhex, out), 1);
	text = slurp(out, &len);
	snprintf(want, sizeof want, "line %llu:", (unsigned long long)line);
	if (strncmp(text, want, strlen(want)) != 0)
		fail_msg("reference verifier said '%s', want '%s'", text,
			 want);
	free(text);
}

static void expect_bad(const char *path, const struct rf_key *k,
		       uint64_t line, const char *reason)
{
	const struct rf_key *trusted[1] = {k};
	struct rf_audit_report r;
	struct rf_err e = {0};

	RF_ASSERT_RC(rf_audit_verify(path, trusted, 1, &r, &e),
		     RF_EINTEGRITY);
	if (r.bad_line != line || !strstr(r.reason, reason))
		fail_msg("'%s': line %llu '%s', want line %llu '%s'", path,
			 (unsigned long long)r.bad_line, r.reason,
			 (unsigned long long)line, reason);
	assert_int_equal(r.lines, line - 1);
	assert_non_null(strstr(rf_err_msg(&e), "line"));
}

/* ---- round trip --------------------------------------------------------- */

struct collect {
	int n;
	uint64_t last_seq;
	char events[64][RF_AUDIT_NAME_MAX + 1];
};

static enum rf_rc collect_fn(const struct rf_audit_entry *ent, void *ctx,
			     struct rf_err *e)
{
	struct collect *c = ctx;

	(void)e;
	assert_int_equal(ent->line, ent->seq + 1);
	assert_string_equal(ent->ts, "2026-11-23T13:45:01.123Z");
	assert_string_equal(ent->actor, "site:test");
	if (c->n < 64)
		snprintf(c->events[c->n], sizeof c->events[0], "%s",
			 ent->event);
	c->n++;
	c->last_seq = ent->seq;
	return RF_OK;
}

static void test_round_trip(void **state)
{
	const char *dir = rf_test_tmpdir("audit_rt");
	struct rf_audit_opts o = {4, false, fixed_clock, NULL};
	struct rf_key *k = new_key();
	const struct rf_key *trusted[1] = {k};
	struct rf_audit *a = NULL;
	struct rf_audit_report r;
	struct rf_err e = {0};
	struct collect c = {0};
	uint8_t h[RF_SHA256_LEN], head[RF_SHA256_LEN];
	char path[600], data[64], hex[65], kh[65];
	const char *want0;
	struct lines L;
	struct stat st;
	uint64_t seq;

	(void)state;
	snprintf(path, sizeof path, "%s/audit.jsonl", dir);
	key_hex(k, kh);
	RF_ASSERT_OK_E(rf_audit_open(path, "site:test", k, &o, &a, &e), &e);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	rf_audit_head(a, &seq, head);
	assert_int_equal(seq, 0);
	for (int i = 0; i < 10; i++) {
		snprintf(data, sizeof data, "{\"n\":\"%d\"}", i);
		RF_ASSERT_OK_E(rf_audit_append(a, "ingest", data, h, &e), &e);
		rf_audit_head(a, &seq, head);
		/* the head is the event's line unless a checkpoint followed */
		if (i % 4 != 3)
			assert_memory_equal(h, head, sizeof h);
		else
			assert_memory_not_equal(h, head, sizeof h);
	}
	/* 10 events, checkpoints after the 4th and the 8th */
	assert_int_equal(seq, 12);
	RF_ASSERT_OK_E(rf_audit_append(a, "upload",
				       "{\"round\":3,\"sha256\":"
				       "\"ab\\u0063d\"}", NULL, &e), &e);
	RF_ASSERT_OK_E(rf_audit_close(a, &e), &e);

	/* the first line, byte for byte; its hash from Python's hashlib:
	 * sha256(line up to and excluding ,"hash":) */
	lines_read(path, &L);
	assert_int_equal(L.n, 14);
	want0 = "{\"seq\":0,\"ts\":\"2026-11-23T13:45:01.123Z\",\"actor\":"
		"\"site:test\",\"event\":\"ingest\",\"data\":{\"n\":\"0\"},"
		"\"prev\":\"00000000000000000000000000000000000000000000000000"
		"00000000000000\",\"hash\":\"82c914adcd7968947f8d0e307c9606da7"
		"d15bdfe59f1c4b80d50cfb39bcdfab0\"}";
	assert_string_equal(L.v[0], want0);
	assert_non_null(strstr(L.v[4], "\"event\":\"checkpoint\","
				       "\"data\":{\"count\":4,\"head\":\""));
	assert_non_null(strstr(L.v[13], "\"seq\":13,"));
	assert_non_null(strstr(L.v[13], "\"event\":\"checkpoint\""));
	lines_free(&L);

	RF_ASSERT_OK_E(rf_audit_verify(path, trusted, 1, &r, &e), &e);
	assert_int_equal(r.lines, 14);
	assert_int_equal(r.events, 11);
	assert_int_equal(r.checkpoints, 3);
	assert_int_equal(r.unsigned_tail, 0);
	assert_true(r.has_key);
	assert_int_equal(r.bad_line, 0);
	RF_ASSERT_OK(rf_hex_encode(r.key, sizeof r.key, hex, sizeof hex,
				   NULL));
	assert_string_equal(hex, kh);
	/* no trusted key: consistent signatures suffice */
	RF_ASSERT_OK_E(rf_audit_verify(path, NULL, 0, &r, &e), &e);
	assert_int_equal(r.lines, 14);
	expect_ref(path, kh, "lines=14 events=11 checkpoints=3 "
			     "unsigned_tail=0");
	expect_ref(path, NULL, "lines=14 events=11 checkpoints=3");

	/* reopening continues the chain; a keyless handle signs nothing */
	o.verify_all = true;
	RF_ASSERT_OK_E(rf_audit_open(path, "site:test", NULL, &o, &a, &e), &e);
	rf_audit_head(a, &seq, NULL);
	assert_int_equal(seq, 14);
	RF_ASSERT_OK_E(rf_audit_append(a, "upload", "{\"sha256\":\"ff\"}",
				       NULL, &e), &e);
	RF_ASSERT_OK_E(rf_audit_close(a, &e), &e);
	RF_ASSERT_OK_E(rf_audit_verify(path, trusted, 1, &r, &e), &e);
	assert_int_equal(r.lines, 15);
	assert_int_equal(r.unsigned_tail, 1);
	expect_ref(path, kh, "lines=15 events=12 checkpoints=3 "
			     "unsigned_tail=1");

	/* iteration and search */
	RF_ASSERT_OK_E(rf_audit_iterate(path, trusted, 1, collect_fn, &c, &r,
					&e), &e);
	assert_int_equal(c.n, 15);
	assert_int_equal(c.last_seq, 14);
	assert_string_equal(c.events[4], "checkpoint");
	assert_string_equal(c.events[12], "upload");
	memset(&c, 0, sizeof c);
	RF_ASSERT_OK_E(rf_audit_find(path, trusted, 1, "upload", "sha256",
				     "abcd", collect_fn, &c, &r, &e), &e);
	assert_int_equal(c.n, 1);
	assert_int_equal(c.last_seq, 12);
	memset(&c, 0, sizeof c);
	RF_ASSERT_OK_E(rf_audit_find(path, trusted, 1, "ingest", "n", "7",
				     collect_fn, &c, &r, &e), &e);
	assert_int_equal(c.n, 1);
	assert_int_equal(c.last_seq, 8); /* after the checkpoint at seq 4 */
	memset(&c, 0, sizeof c);
	RF_ASSERT_OK_E(rf_audit_find(path, trusted, 1, NULL, "sha256", "ab",
				     collect_fn, &c, &r, &e), &e);
	assert_int_equal(c.n, 0);
	RF_ASSERT_OK_E(rf_audit_find(path, trusted, 1, "checkpoint", NULL,
				     NULL, collect_fn, &c, &r, &e), &e);
	assert_int_equal(c.n, 3);
	rf_key_destroy(k);
}

static void test_data_str(void **state)
{
	const char *d = "{\"a\" : 1, \"b\":{\"sha256\":\"no\"},"
			"\"s\\u0068a256\":\"caf\\u00e9 \\ud83d\\ude00\\n\"}";
	char out[32];
	struct rf_err e = {0};

	(void)state;
	RF_ASSERT_OK_E(rf_audit_data_str(d, strlen(d), "sha256", out,
					 sizeof out, &e), &e);
	assert_string_equal(out, "caf\xc3\xa9 \xf0\x9f\x98\x80\n");
	RF_ASSERT_RC(rf_audit_data_str(d, strlen(d), "a", out, sizeof out,
				       NULL), RF_ENOTFOUND);
	RF_ASSERT_RC(rf_audit_data_str(d, strlen(d), "x", out, sizeof out,
				       NULL), RF_ENOTFOUND);
	RF_ASSERT_RC(rf_audit_data_str(d, strlen(d), "sha256", out, 11, NULL),
		     RF_ETOOBIG);
	assert_string_equal(out, "");
	RF_ASSERT_RC(rf_audit_data_str("{\"a\":", 5, "a", out, sizeof out,
				       NULL), RF_EINVAL);
}

/* ---- concurrency -------------------------------------------------------- */

#define NTHREADS 8
#define PER_THREAD 64

struct worker {
	struct rf_audit *a;
	int id;
	enum rf_rc rc;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	char data[64];

	for (int i = 0; i < PER_THREAD && w->rc == RF_OK; i++) {
		snprintf(data, sizeof data, "{\"id\":\"%d.%d\"}", w->id, i);
		w->rc = rf_audit_append(w->a, "train", data, NULL, NULL);
	}
	return NULL;
}

struct seen {
	int count[NTHREADS][PER_THREAD];
};

static enum rf_rc seen_fn(const struct rf_audit_entry *ent, void *ctx,
			  struct rf_err *e)
{
	struct seen *s = ctx;
	char id[32], *end;
	long t, i;

	RF_ASSERT_OK(rf_audit_data_str(ent->data, ent->data_len, "id", id,
				       sizeof id, e));
	t = strtol(id, &end, 10);
	assert_true(*end == '.' && t >= 0 && t < NTHREADS);
	i = strtol(end + 1, &end, 10);
	assert_true(*end == '\0' && i >= 0 && i < PER_THREAD);
	s->count[t][i]++;
	return RF_OK;
}

static void test_concurrent(void **state)
{
	const char *dir = rf_test_tmpdir("audit_mt");
	struct rf_audit_opts o = {10, false, NULL, NULL};
	struct rf_key *k = new_key();
	const struct rf_key *trusted[1] = {k};
	struct worker w[NTHREADS];
	pthread_t th[NTHREADS];
	struct rf_audit *a = NULL;
	struct rf_audit_report r;
	struct rf_err e = {0};
	struct seen *s = calloc(1, sizeof *s);
	char path[600], kh[65];

	(void)state;
	assert_non_null(s);
	key_hex(k, kh);
	snprintf(path, sizeof path, "%s/audit.jsonl", dir);
	RF_ASSERT_OK_E(rf_audit_open(path, "agg", k, &o, &a, &e), &e);
	for (int t = 0; t < NTHREADS; t++) {
		w[t] = (struct worker){a, t, RF_OK};
		assert_int_equal(pthread_create(&th[t], NULL, worker_main,
						&w[t]), 0);
	}
	for (int t = 0; t < NTHREADS; t++) {
		assert_int_equal(pthread_join(th[t], NULL), 0);
		RF_ASSERT_OK(w[t].rc);
	}
	RF_ASSERT_OK_E(rf_audit_close(a, &e), &e);

	RF_ASSERT_OK_E(rf_audit_find(path, trusted, 1, "train", NULL, NULL,
				     seen_fn, s, &r, &e), &e);
	assert_int_equal(r.events, NTHREADS * PER_THREAD);
	/* one checkpoint per 10 events, and one for the last 2 on close */
	assert_int_equal(r.checkpoints, NTHREADS * PER_THREAD / 10 + 1);
	assert_int_equal(r.unsigned_tail, 0);
	for (int t = 0; t < NTHREADS; t++)
		for (int i = 0; i < PER_THREAD; i++)
			assert_int_equal(s->count[t][i], 1);
	expect_ref(path, kh, "lines=564 events=512 checkpoints=52");
	free(s);
	rf_key_destroy(k);
}

/* ---- tampering ---------------------------------------------------------- */

/*
 * The log used below: 20 events, a checkpoint after every 5, so lines 1-5
 * are events 0-4, line 6 a checkpoint, 7-11 events 5-9, 12 a checkpoint,
 * ..., 24 the last checkpoint. Line 8 holds {"n":"6"}.
 */
static void tampered_copy(const char *orig, const char *path, int kind)
{
	struct lines L;
	char *tmp, *p;

	lines_read(orig, &L);
	assert_int_equal(L.n, 24);
	switch (kind) {
	case 0: /* one byte of data */
		p = strstr(L.v[7], "{\"n\":\"6\"}");
		assert_non_null(p);
		p[6] = '7';
		break;
	case 1: /* delete line 8 */
		free(L.v[7]);
		memmove(&L.v[7], &L.v[8], (L.n - 8) * sizeof *L.v);
		L.n--;
		break;
	case 2: /* swap lines 8 and 9 */
		tmp = L.v[7];
		L.v[7] = L.v[8];
		L.v[8] = tmp;
		break;
	case 3: /* edit line 8 and re-link everything after it */
	case 4: /* ... and the checkpoint heads too */
		p = strstr(L.v[7], "{\"n\":\"6\"}");
		assert_non_null(p);
		p[6] = '7';
		rechain(&L, 7, kind == 4);
		break;
	case 5: /* one hex digit of line 8's own hash */
		p = L.v[7] + strlen(L.v[7]) - 3;
		*p = *p == '0' ? '1' : '0';
		break;
	}
	lines_write(path, &L);
	lines_free(&L);
}

static void test_tamper(void **state)
{
	const char *dir = rf_test_tmpdir("audit_tamper");
	struct rf_key *k = new_key(), *other = new_key();
	const struct rf_key *trusted[1] = {k};
	struct rf_audit_opts o = {5, true, fixed_clock, NULL};
	struct rf_audit *a = NULL;
	struct rf_audit_report r;
	struct rf_err e = {0};
	char orig[600], path[600], kh[65], oh[65], want[64];
	size_t len24;
	struct lines L;
	struct stat st;
	const struct {
		uint64_t line;
		const char *reason;
	} cases[] = {
		{8, "hash does not match the line"},
		{8, "seq 8 where 7 was expected"},
		{8, "seq 8 where 7 was expected"},
		{12, "checkpoint head is not the hash of the line before it"},
		{12, "bad checkpoint signature"},
		{8, "hash does not match the line"},
	};

	(void)state;
	key_hex(k, kh);
	key_hex(other, oh);
	snprintf(orig, sizeof orig, "%s/orig.jsonl", dir);
	snprintf(path, sizeof path, "%s/t.jsonl", dir);
	make_log(orig, k, 20, 5);
	RF_ASSERT_OK_E(rf_audit_verify(orig, trusted, 1, &r, &e), &e);
	assert_int_equal(r.lines, 24);
	assert_int_equal(r.checkpoints, 4);
	expect_ref(orig, kh, "lines=24 events=20 checkpoints=4");

	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		tampered_copy(orig, path, (int)i);
		expect_bad(path, k, cases[i].line, cases[i].reason);
		expect_ref_bad(path, kh, cases[i].line);
		/* the writer, checking the whole chain, refuses it too */
		RF_ASSERT_RC(rf_audit_open(path, "site:test", k, &o, &a, &e),
			     RF_EINTEGRITY);
		assert_null(a);
	}

	/* the wrong trusted key */
	{
		const struct rf_key *wrong[1] = {other};

		RF_ASSERT_RC(rf_audit_verify(orig, wrong, 1, &r, &e),
			     RF_EINTEGRITY);
		assert_int_equal(r.bad_line, 6);
		assert_string_equal(r.reason, "checkpoint key is not trusted");
		expect_ref_bad(orig, oh, 6);
	}

	/* a crash in the middle of writing the last line */
	lines_read(orig, &L);
	len24 = strlen(L.v[23]) + 1;
	lines_free(&L);
	assert_int_equal(stat(orig, &st), 0);
	assert_int_equal(truncate(orig, st.st_size - 10), 0);
	expect_bad(orig, k, 24, "incomplete last line");
	expect_ref_bad(orig, kh, 24);
	RF_ASSERT_OK_E(rf_audit_open(orig, "site:test", k, &o, &a, &e), &e);
	RF_ASSERT_OK_E(rf_audit_close(a, &e), &e);
	RF_ASSERT_OK_E(rf_audit_verify(orig, trusted, 1, &r, &e), &e);
	/* the torn checkpoint replaced by the record of the cut, then the
	 * closing checkpoint */
	assert_int_equal(r.lines, 25);
	assert_int_equal(r.events, 21);
	assert_int_equal(r.checkpoints, 4);
	assert_int_equal(r.unsigned_tail, 0);
	expect_ref(orig, kh, "lines=25 events=21 checkpoints=4");
	lines_read(orig, &L);
	assert_non_null(strstr(L.v[23], "\"event\":\"audit.torn_tail\""));
	snprintf(want, sizeof want, "\"length\":%zu,", len24 - 10);
	assert_non_null(strstr(L.v[23], want));
	snprintf(want, sizeof want, "\"offset\":%lld,",
		 (long long)st.st_size - (long long)len24);
	assert_non_null(strstr(L.v[23], want));
	lines_free(&L);

	/* a file that is nothing but a torn line */
	{
		FILE *f = fopen(path, "wb");

		assert_non_null(f);
		fputs("{\"seq\":0,\"ts\"", f);
		fclose(f);
		RF_ASSERT_OK_E(rf_audit_open(path, "site:test", k, &o, &a, &e),
			       &e);
		RF_ASSERT_OK_E(rf_audit_close(a, &e), &e);
		RF_ASSERT_OK_E(rf_audit_verify(path, trusted, 1, &r, &e), &e);
		assert_int_equal(r.lines, 2);
	}
	rf_key_destroy(k);
	rf_key_destroy(other);
}

/* ---- hostile input ------------------------------------------------------ */

/* {"a":[[...]]} with `levels` levels of nesting in all. */
static void nest(char out[128], int levels)
{
	size_t n = (size_t)snprintf(out, 128, "{\"a\":");

	assert_true(levels >= 1 && 2 * levels + 6 < 128);
	for (int i = 1; i < levels; i++)
		out[n++] = '[';
	for (int i = 1; i < levels; i++)
		out[n++] = ']';
	out[n++] = '}';
	out[n] = '\0';
}

static void test_hostile_data(void **state)
{
	const char *dir = rf_test_tmpdir("audit_hostile");
	static const char *const bad[] = {
		"",
		"{",
		"{\"a\":1",
		"{\"a\":1}{\"b\":2}",
		"{\"a\":1} ",
		" {\"a\":1}",
		"{\"a\":1}\n",
		"{\"a\":\"x\ny\"}",
		"{\"a\":\"\x01\"}",
		"{\"a\":\"\x7f\"}",
		"{\t\"a\":1}",
		"{\n\"a\":1}",
		"{\"a\":1,}",
		"{'a':1}",
		"{a:1}",
		"{\"a\":01}",
		"{\"a\":1.}",
		"{\"a\":.5}",
		"{\"a\":+1}",
		"{\"a\":1e}",
		"{\"a\":NaN}",
		"{\"a\":tru}",
		"{\"a\":\"\\x41\"}",
		"{\"a\":\"\\u12\"}",
		"{\"a\":\"\\ud800\"}",
		"{\"a\":\"\\udc00\"}",
		"{\"a\":\"\xc3\x28\"}",
		"{\"a\":\"\xc0\xaf\"}",
		"{\"a\":\"\xed\xa0\x80\"}",
		"{\"a\":\"\xf4\x90\x80\x80\"}",
		"{\"a\":\"\xe2\x80\xa8\"}",
		"{\"a\":[1,2}",
		"[1]",
		"\"s\"",
		"1",
		"null",
	};
	static const char *const good[] = {
		"{}",
		"{ }",
		"{\"a\" : [ 1 , -2.5e+3, 0, 1E-7, true, false, null ] }",
		"{\"\":{\"b\":\"\\u00e9\\ud83d\\ude00\\\"\\\\\\/\\b\\f\\n\\r"
		"\\t\"}}",
		"{\"a\":\"caf\xc3\xa9 \xf0\x9f\x98\x80\"}",
	};
	static const char *const bad_names[] = {
		"", "two words", "quo\"te", "new\nline", "checkpoint",
		"audit.torn_tail", "audit.x", "\xc3\xa9",
	};
	struct rf_audit *a = NULL;
	struct rf_audit_report r;
	struct rf_err e = {0};
	char path[600], deep[128], name[RF_AUDIT_NAME_MAX + 2], *big;
	uint64_t seq;

	(void)state;
	snprintf(path, sizeof path, "%s/audit.jsonl", dir);
	RF_ASSERT_OK_E(rf_audit_open(path, "site:test", NULL, NULL, &a, &e),
		       &e);
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		if (rf_audit_append(a, "ev", bad[i], NULL, &e) != RF_EINVAL)
			fail_msg("data '%s' accepted", bad[i]);
		RF_ASSERT_RC(rf_audit_data_check(bad[i], strlen(bad[i]),
						 NULL), RF_EINVAL);
	}
	RF_ASSERT_RC(rf_audit_append(a, "ev", "[1]", NULL, NULL), RF_EINVAL);
	RF_ASSERT_RC(rf_audit_append(a, "ev", "{\"a\"}", NULL, &e), RF_EINVAL);
	assert_string_equal(rf_err_msg(&e), "event 'ev': invalid audit data "
			    "at byte 4: expected ':'");
	for (size_t i = 0; i < sizeof bad_names / sizeof *bad_names; i++)
		if (rf_audit_append(a, bad_names[i], "{}", NULL, &e) !=
		    RF_EINVAL)
			fail_msg("event name '%s' accepted", bad_names[i]);
	memset(name, 'x', sizeof name - 1);
	name[sizeof name - 1] = '\0';
	RF_ASSERT_RC(rf_audit_append(a, name, "{}", NULL, &e), RF_EINVAL);
	name[RF_AUDIT_NAME_MAX] = '\0';
	RF_ASSERT_OK(rf_audit_append(a, name, NULL, NULL, &e));
	/* nesting: 16 levels pass, 17 do not */
	nest(deep, RF_AUDIT_DATA_DEPTH);
	RF_ASSERT_OK_E(rf_audit_append(a, "ev", deep, NULL, &e), &e);
	nest(deep, RF_AUDIT_DATA_DEPTH + 1);
	RF_ASSERT_RC(rf_audit_append(a, "ev", deep, NULL, &e), RF_EINVAL);
	assert_non_null(strstr(rf_err_msg(&e), "nested too deeply"));
	/* size */
	big = malloc(RF_AUDIT_DATA_MAX + 16);
	assert_non_null(big);
	memcpy(big, "{\"a\":\"", 6);
	memset(big + 6, 'x', RF_AUDIT_DATA_MAX);
	memcpy(big + RF_AUDIT_DATA_MAX - 2, "\"}", 3);
	RF_ASSERT_OK_E(rf_audit_append(a, "big", big, NULL, &e), &e);
	memcpy(big + RF_AUDIT_DATA_MAX - 2, "x\"}", 4);
	RF_ASSERT_RC(rf_audit_append(a, "big", big, NULL, &e), RF_ETOOBIG);
	free(big);
	for (size_t i = 0; i < sizeof good / sizeof *good; i++)
		RF_ASSERT_OK_E(rf_audit_append(a, "ev", good[i], NULL, &e),
			       &e);
	rf_audit_head(a, &seq, NULL);
	assert_int_equal(seq, 3 + sizeof good / sizeof *good);
	RF_ASSERT_OK_E(rf_audit_close(a, &e), &e);
	RF_ASSERT_OK_E(rf_audit_verify(path, NULL, 0, &r, &e), &e);
	assert_int_equal(r.events, seq);
	assert_int_equal(r.checkpoints, 0);
	assert_int_equal(r.unsigned_tail, seq);
	expect_ref(path, NULL, "events=8 checkpoints=0 unsigned_tail=8");

	/* bad actors and keys */
	RF_ASSERT_RC(rf_audit_open(path, "a b", NULL, NULL, &a, &e),
		     RF_EINVAL);
	RF_ASSERT_RC(rf_audit_open(path, NULL, NULL, NULL, &a, &e), RF_EINVAL);
	{
		struct rf_key *x = NULL;

		RF_ASSERT_OK(rf_key_generate(RF_KEY_X25519, &x, NULL));
		RF_ASSERT_RC(rf_audit_open(path, "a", x, NULL, &a, &e),
			     RF_EINVAL);
		assert_null(a);
		rf_key_destroy(x);
	}

	/* a line over the maximum is refused by the verifier */
	{
		FILE *f = fopen(path, "ab");
		size_t i;

		assert_non_null(f);
		for (i = 0; i < RF_AUDIT_LINE_MAX + 10; i++)
			fputc('x', f);
		fputc('\n', f);
		fclose(f);
		RF_ASSERT_RC(rf_audit_verify(path, NULL, 0, &r, &e),
			     RF_EINTEGRITY);
		assert_int_equal(r.bad_line, seq + 1);
		assert_string_equal(r.reason, "line longer than the maximum");
		RF_ASSERT_RC(rf_audit_open(path, "a", NULL, NULL, &a, &e),
			     RF_EINTEGRITY);
	}
}

/* ---- locking ------------------------------------------------------------ */

static void test_busy(void **state)
{
	const char *dir = rf_test_tmpdir("audit_busy");
	struct rf_audit *a = NULL, *b = NULL;
	struct rf_err e = {0};
	char path[600];
	int st;
	pid_t pid;

	(void)state;
	snprintf(path, sizeof path, "%s/audit.jsonl", dir);
	RF_ASSERT_OK_E(rf_audit_open(path, "agg", NULL, NULL, &a, &e), &e);
	RF_ASSERT_RC(rf_audit_open(path, "agg", NULL, NULL, &b, &e), RF_EIO);
	assert_null(b);
	assert_non_null(strstr(rf_err_msg(&e), "in use"));
	/* another process too */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct rf_audit *c = NULL;

		_exit(rf_audit_open(path, "agg", NULL, NULL, &c, NULL) ==
		      RF_EIO ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	RF_ASSERT_OK(rf_audit_append(a, "ev", NULL, NULL, &e));
	RF_ASSERT_OK_E(rf_audit_close(a, &e), &e);
	RF_ASSERT_OK_E(rf_audit_open(path, "agg", NULL, NULL, &b, &e), &e);
	RF_ASSERT_OK_E(rf_audit_close(b, &e), &e);
	RF_ASSERT_OK(rf_audit_close(NULL, &e));
}

/* ---- write failures ----------------------------------------------------- */

/* In a child process limited to `limit` bytes of file: one append is cut
 * short by the limit (EFBIG), after which the handle stays failed. Returns
 * 0 when everything behaved so. */
static int child_write_failure(const char *path, const struct rf_key *k,
			       off_t limit)
{
	struct rlimit rl = {(rlim_t)limit, (rlim_t)limit};
	char data[300];
	struct rf_audit *a = NULL;
	struct rf_err e = {0};

	signal(SIGXFSZ, SIG_IGN);
	if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
		return 1;
	if (rf_audit_open(path, "site:test", k, NULL, &a, &e) != RF_OK)
		return 2;
	memset(data, 'y', sizeof data);
	memcpy(data, "{\"x\":\"", 6);
	memcpy(data + sizeof data - 3, "\"}", 3);
	if (rf_audit_append(a, "ev", data, NULL, &e) != RF_EIO)
		return 3;
	if (rf_audit_append(a, "ev", NULL, NULL, &e) != RF_EIO ||
	    !strstr(rf_err_msg(&e), "failed earlier"))
		return 4;
	/* no closing checkpoint on a failed handle */
	if (rf_audit_close(a, &e) != RF_OK)
		return 5;
	return 0;
}

static void test_write_failure(void **state)
{
	const char *dir = rf_test_tmpdir("audit_efbig");
	struct rf_key *k = new_key();
	const struct rf_key *trusted[1] = {k};
	struct rf_audit_report r;
	struct rf_audit *a = NULL;
	struct rf_err e = {0};
	char path[600], kh[65];
	struct stat st;
	struct lines L;
	int status;
	pid_t pid;

	(void)state;
	key_hex(k, kh);
	snprintf(path, sizeof path, "%s/audit.jsonl", dir);
	make_log(path, k, 3, 100);
	assert_int_equal(stat(path, &st), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(child_write_failure(path, k, st.st_size + 100));
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);

	/* the first 100 bytes of the line made it to the file */
	expect_bad(path, k, 5, "incomplete last line");
	expect_ref_bad(path, kh, 5);
	RF_ASSERT_OK_E(rf_audit_open(path, "site:test", k, NULL, &a, &e), &e);
	RF_ASSERT_OK_E(rf_audit_close(a, &e), &e);
	RF_ASSERT_OK_E(rf_audit_verify(path, trusted, 1, &r, &e), &e);
	assert_int_equal(r.lines, 6);
	assert_int_equal(r.events, 4);
	expect_ref(path, kh, "lines=6 events=4 checkpoints=2 "
			     "unsigned_tail=0");
	lines_read(path, &L);
	assert_non_null(strstr(L.v[4], "\"event\":\"audit.torn_tail\""));
	assert_non_null(strstr(L.v[4], "\"length\":100,"));
	lines_free(&L);
	rf_key_destroy(k);
}

/* ---- allocation failures ------------------------------------------------ */

static void copy_file(const char *from, const char *to)
{
	size_t len;
	char *p = slurp(from, &len);
	FILE *f = fopen(to, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(p, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
	free(p);
}

static void test_oom(void **state)
{
	const char *dir = rf_test_tmpdir("audit_oom");
	struct rf_key *k = new_key();
	const struct rf_key *trusted[1] = {k};
	struct rf_audit_opts o = {2, true, fixed_clock, NULL};
	struct rf_audit *a = NULL;
	struct rf_audit_report r;
	struct rf_err e = {0}, e2 = {0};
	char path[600], seed[600];
	struct stat st;
	enum rf_rc rc, rc2;

	(void)state;
	snprintf(path, sizeof path, "%s/audit.jsonl", dir);
	snprintf(seed, sizeof seed, "%s/seed.jsonl", dir);
	RF_TEST_OOM_LOOP(rc, {
		unlink(path);
		rc = rf_audit_open(path, "site:test", k, &o, &a, &e);
		if (rc == RF_OK) {
			rc = rf_audit_append(a, "ev", "{\"a\":[1]}", NULL, &e);
			rc2 = rf_audit_close(a, &e2);
			if (rc == RF_OK)
				rc = rc2;
		}
	}, {});

	/* an existing log with a torn tail, checked whole on open */
	make_log(seed, k, 5, 2);
	assert_int_equal(stat(seed, &st), 0);
	assert_int_equal(truncate(seed, st.st_size - 5), 0);
	RF_TEST_OOM_LOOP(rc, {
		copy_file(seed, path);
		rc = rf_audit_open(path, "site:test", k, &o, &a, &e);
		if (rc == RF_OK) {
			rc = rf_audit_append(a, "ev", NULL, NULL, &e);
			rc2 = rf_audit_close(a, &e2);
			if (rc == RF_OK)
				rc = rc2;
		}
	}, {});
	RF_TEST_OOM_LOOP(rc, {
		rc = rf_audit_verify(path, trusted, 1, &r, &e);
	}, {});
	assert_int_equal(r.events, 5 + 1 + 1);
	assert_int_equal(r.unsigned_tail, 0);
	rf_key_destroy(k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_data_str),
		cmocka_unit_test(test_concurrent),
		cmocka_unit_test(test_tamper),
		cmocka_unit_test(test_hostile_data),
		cmocka_unit_test(test_busy),
		cmocka_unit_test(test_write_failure),
		cmocka_unit_test(test_oom),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
