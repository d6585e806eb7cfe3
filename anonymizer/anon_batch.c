/* anon_batch.c - many inputs into one de-identified output folder. */
#include "anon_batch.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "anon_dicom.h"
#include "rf_alloc.h"
#include "rf_buf.h"
#include "rf_crypto.h"
#include "rf_file.h"
#include "rf_log.h"
#include "rf_progress.h"

#define NAME_MAX_ 128 /* longest pseudonym or UID used as a path part */

/* ---- collecting inputs --------------------------------------------------- */

struct paths {
	char **v;
	size_t n, cap;
};

static enum rf_rc paths_add(struct paths *p, const char *s, struct rf_err *e)
{
	char **nv;

	if (p->n == p->cap) {
		size_t ncap = p->cap ? p->cap * 2 : 64;

		nv = rf_realloc(p->v, ncap * sizeof *nv);
		if (!nv)
			return rf_err_set(e, RF_ENOMEM, "out of memory");
		p->v = nv;
		p->cap = ncap;
	}
	p->v[p->n] = rf_strdup(s);
	if (!p->v[p->n])
		return rf_err_set(e, RF_ENOMEM, "out of memory");
	p->n++;
	return RF_OK;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Adds the regular files below dir (links to folders not followed). */
static enum rf_rc walk(const char *dir, struct paths *out, unsigned depth,
		       struct rf_err *e)
{
	struct paths names = { 0 };
	struct dirent *de;
	struct stat st;
	struct rf_buf path = RF_BUF_INIT(8192);
	enum rf_rc rc = RF_OK;
	DIR *dp;
	size_t i;

	if (depth > 64)
		return rf_err_set(e, RF_EINVAL,
				  "folders nested deeper than 64 in '%s'", dir);
	dp = opendir(dir);
	if (!dp)
		return rf_err_set(e, RF_EIO, "cannot read folder '%s': %s", dir,
				  strerror(errno));
	while (!rc && (de = readdir(dp)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			rc = paths_add(&names, de->d_name, e);
	closedir(dp);
	if (names.n)
		qsort(names.v, names.n, sizeof *names.v, cmp_str);
	for (i = 0; !rc && i < names.n; i++) {
		rf_buf_reset(&path);
		rc = rf_buf_printf(&path, e, "%s/%s", dir, names.v[i]);
		if (rc)
			break;
		if (lstat(rf_buf_str(&path), &st) != 0)
			continue; /* vanished meanwhile */
		if (S_ISDIR(st.st_mode))
			rc = walk(rf_buf_str(&path), out, depth + 1, e);
		else if (S_ISREG(st.st_mode) ||
			 (S_ISLNK(st.st_mode) &&
			  stat(rf_buf_str(&path), &st) == 0 &&
			  S_ISREG(st.st_mode)))
			rc = paths_add(out, rf_buf_str(&path), e);
	}
	anon_batch_paths_free(names.v, names.n);
	rf_buf_release(&path);
	return rc;
}

void anon_batch_paths_free(char **paths, size_t n)
{
	size_t i;

	if (!paths)
		return;
	for (i = 0; i < n; i++)
		rf_free(paths[i]);
	rf_free(paths);
}

enum rf_rc anon_batch_collect(char *const *inputs, size_t n, char ***out,
			      size_t *n_out, struct rf_err *e)
{
	struct paths p = { 0 };
	struct stat st;
	enum rf_rc rc = RF_OK;
	size_t i, j;

	*out = NULL;
	*n_out = 0;
	for (i = 0; !rc && i < n; i++) {
		if (stat(inputs[i], &st) != 0)
			rc = rf_err_set(e, RF_EIO, "cannot read '%s': %s",
					inputs[i], strerror(errno));
		else if (S_ISDIR(st.st_mode))
			rc = walk(inputs[i], &p, 0, e);
		else if (S_ISREG(st.st_mode))
			rc = paths_add(&p, inputs[i], e);
		else
			rc = rf_err_set(e, RF_EINVAL,
					"'%s' is neither a file nor a folder",
					inputs[i]);
	}
	if (rc) {
		anon_batch_paths_free(p.v, p.n);
		return rc;
	}
	/* sorted, each path once */
	if (p.n)
		qsort(p.v, p.n, sizeof *p.v, cmp_str);
	for (i = j = 0; i < p.n; i++) {
		if (j && strcmp(p.v[j - 1], p.v[i]) == 0)
			rf_free(p.v[i]);
		else
			p.v[j++] = p.v[i];
	}
	*out = p.v;
	*n_out = j;
	return RF_OK;
}

enum rf_rc anon_batch_log_key(const uint8_t *secret, size_t len,
			      uint8_t key[32], struct rf_err *e)
{
	static const char info[] = "radfed log v1";

	return rf_hkdf_sha256(NULL, 0, secret, len, info, sizeof info - 1, key,
			      32, e);
}

/* ---- the run ----------------------------------------------------------- */

/* What a report needs of its study, kept from the study's first image (in
 * input order, so that runs are reproducible whatever the threads do). */
struct study {
	char *accession; /* original AccessionNumber, trimmed (secret) */
	size_t index;    /* input index of the image it comes from */
	char dir[2 * NAME_MAX_ + 2]; /* "<patient>/<study>" */
	struct anon_deid_result r;
};

struct run {
	const struct anon_batch_config *cfg;
	char *const *paths;
	size_t n;
	int want_studies; /* reports among the inputs */
	pthread_mutex_t lock;
	size_t next; /* next input index to take (under lock) */
	struct anon_batch_stats st;
	struct study *studies;
	size_t n_studies, cap_studies;
	/* "<patient>/<study>" of every output folder (under lock): outputs
	 * are renamed into them without a directory fsync, and each is
	 * synced once at the end of the run */
	char **dirs;
	size_t n_dirs, cap_dirs;
	enum rf_rc fatal; /* first error that stops the run */
	struct rf_err fatal_err;
};

enum outcome { WRITTEN, QUARANTINED, SKIPPED, FAILED };

static const char *const outcome_names[] = { "written", "quarantined",
					     "skipped", "failed" };

static int is_report(const char *path)
{
	size_t n = strlen(path);

	return n > 4 && strcasecmp(path + n - 4, ".txt") == 0;
}

/* A path part made of pseudonym or UID characters only. */
static int safe_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > NAME_MAX_ || s[0] == '.')
		return 0;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= 'a' && *s <= 'z') || *s == '.' || *s == '-'))
			return 0;
	return 1;
}

/* The value of tag in d's dataset as trimmed UTF-8 in buf ("" if absent). */
static enum rf_rc text_of(const struct anon_dicom *d, uint32_t tag,
			  struct rf_buf *buf, struct rf_err *e)
{
	const struct anon_elem *el = anon_ds_find(&d->ds, tag);

	rf_buf_reset(buf);
	if (!el || el->vr == ANON_VR('S', 'Q') || (el->flags & ANON_ELEM_ENCAP))
		return RF_OK;
	return anon_ds_text(&d->ds, el, buf, e);
}

static void log_line(struct run *run, size_t idx, const char *kind,
		     enum outcome oc, const char *reason, const char *output)
{
	const struct anon_batch_config *cfg = run->cfg;
	uint8_t mac[RF_HMAC_SHA256_LEN];
	char hex[2 * 16 + 1];
	struct rf_buf b = RF_BUF_INIT(4096);
	const char *p = run->paths[idx];
	enum rf_rc rc;

	pthread_mutex_lock(&run->lock);
	switch (oc) {
	case WRITTEN:
		run->st.written++;
		if (strcmp(kind, "report") == 0)
			run->st.reports_written++;
		break;
	case QUARANTINED:
		run->st.quarantined++;
		break;
	case SKIPPED:
		run->st.skipped++;
		break;
	case FAILED:
		run->st.failed++;
		break;
	}
	if (cfg->progress)
		rf_progress_add(cfg->progress, 1);
	pthread_mutex_unlock(&run->lock);
	if (!cfg->log)
		return;
	rc = rf_hmac_sha256(cfg->log_key, sizeof cfg->log_key, p, strlen(p),
			    mac, NULL);
	if (!rc)
		rc = rf_hex_encode(mac, 16, hex, sizeof hex, NULL);
	if (!rc)
		rc = rf_buf_printf(&b, NULL,
				   "{\"input\": \"%s\", \"kind\": \"%s\", "
				   "\"outcome\": \"%s\", \"reason\": ",
				   hex, kind, outcome_names[oc]);
	if (!rc)
		rc = rf_json_quote(&b, reason, strlen(reason), NULL);
	if (!rc)
		rc = rf_buf_puts(&b, ", \"output\": ", NULL);
	if (!rc)
		rc = rf_json_quote(&b, output, strlen(output), NULL);
	if (!rc)
		rc = rf_buf_puts(&b, "}\n", NULL);
	pthread_mutex_lock(&run->lock);
	if (!rc) {
		fwrite(b.data, 1, b.len, cfg->log);
		fflush(cfg->log);
	}
	pthread_mutex_unlock(&run->lock);
	rf_buf_release(&b);
}

/* Keeps the study of input idx for its reports; takes r's content. */
static enum rf_rc keep_study(struct run *run, size_t idx, const char *acc,
			     const char *dir, struct anon_deid_result *r,
			     struct rf_err *e)
{
	struct study *s = NULL, *ns;
	enum rf_rc rc = RF_OK;
	size_t i;

	pthread_mutex_lock(&run->lock);
	for (i = 0; i < run->n_studies; i++)
		if (strcmp(run->studies[i].accession, acc) == 0) {
			s = &run->studies[i];
			break;
		}
	if (s && s->index < idx)
		goto out; /* an earlier image of the study already counts */
	if (!s) {
		if (run->n_studies == run->cap_studies) {
			size_t ncap =
			    run->cap_studies ? 2 * run->cap_studies : 16;

			ns = rf_realloc(run->studies, ncap * sizeof *ns);
			if (!ns) {
				rc = rf_err_set(e, RF_ENOMEM, "out of memory");
				goto out;
			}
			run->studies = ns;
			run->cap_studies = ncap;
		}
		s = &run->studies[run->n_studies];
		s->accession = rf_strdup(acc);
		if (!s->accession) {
			rc = rf_err_set(e, RF_ENOMEM, "out of memory");
			goto out;
		}
		anon_deid_result_init(&s->r);
		run->n_studies++;
	}
	anon_deid_result_release(&s->r);
	s->r = *r;
	anon_deid_result_init(r);
	s->index = idx;
	snprintf(s->dir, sizeof s->dir, "%s", dir);
out:
	pthread_mutex_unlock(&run->lock);
	return rc;
}

/* Makes out/<patient>/<study> (sdir) below the existing output folder out:
 * one mkdir when the patient folder exists, which is the usual case, rather
 * than rf_mkdirs()' mkdir and stat of every prefix of the path. */
static enum rf_rc make_out_dir(const char *out, const char *sdir,
			       struct rf_err *e)
{
	char dir[4096];
	const char *slash = strchr(sdir, '/');
	int n;

	n = snprintf(dir, sizeof dir, "%s/%s", out, sdir);
	if (n < 0 || (size_t)n >= sizeof dir || !slash)
		return rf_mkdirs(dir, 0700, e);
	if (mkdir(dir, 0700) == 0 || errno == EEXIST)
		return RF_OK;
	if (errno != ENOENT)
		return rf_err_set(e, RF_EIO, "cannot create '%s': %s", dir,
				  strerror(errno));
	dir[strlen(out) + 1 + (size_t)(slash - sdir)] = '\0';
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return rf_err_set(e, RF_EIO, "cannot create '%s': %s", dir,
				  strerror(errno));
	dir[strlen(dir)] = '/';
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return rf_err_set(e, RF_EIO, "cannot create '%s': %s", dir,
				  strerror(errno));
	return RF_OK;
}

/* Notes the output folder sdir ("<patient>/<study>") for the final sync. */
static enum rf_rc note_dir(struct run *run, const char *sdir,
			   struct rf_err *e)
{
	enum rf_rc rc = RF_OK;
	char **nd;

	pthread_mutex_lock(&run->lock);
	/* consecutive inputs are mostly of one study: skip the repeat */
	if (run->n_dirs && strcmp(run->dirs[run->n_dirs - 1], sdir) == 0)
		goto out;
	if (run->n_dirs == run->cap_dirs) {
		size_t ncap = run->cap_dirs ? 2 * run->cap_dirs : 16;

		nd = rf_realloc(run->dirs, ncap * sizeof *nd);
		if (!nd) {
			rc = rf_err_set(e, RF_ENOMEM, "out of memory");
			goto out;
		}
		run->dirs = nd;
		run->cap_dirs = ncap;
	}
	run->dirs[run->n_dirs] = rf_strdup(sdir);
	if (!run->dirs[run->n_dirs])
		rc = rf_err_set(e, RF_ENOMEM, "out of memory");
	else
		run->n_dirs++;
out:
	pthread_mutex_unlock(&run->lock);
	return rc;
}

/* fsyncs every noted output folder once, each patient folder, then the
 * output folder: the renames into them and the folders made by this run
 * are durable when it returns RF_OK. */
static enum rf_rc sync_dirs(struct run *run, struct rf_err *e)
{
	const char *out = run->cfg->out_dir;
	struct rf_buf path = RF_BUF_INIT(8192);
	const char *prev = NULL;
	enum rf_rc rc = RF_OK;
	size_t i, plen = 0;

	if (run->n_dirs)
		qsort(run->dirs, run->n_dirs, sizeof *run->dirs, cmp_str);
	for (i = 0; !rc && i < run->n_dirs; i++) {
		const char *d = run->dirs[i], *slash = strchr(d, '/');
		size_t dlen = slash ? (size_t)(slash - d) : strlen(d);

		if (prev && strcmp(prev, d) == 0)
			continue;
		rf_buf_reset(&path);
		rc = rf_buf_printf(&path, e, "%s/%s", out, d);
		if (!rc)
			rc = rf_dir_sync(rf_buf_str(&path), e);
		/* the patient folder, once per run of its studies */
		if (!rc && (!prev || plen != dlen ||
			    memcmp(prev, d, dlen) != 0)) {
			rf_buf_reset(&path);
			rc = rf_buf_printf(&path, e, "%s/%.*s", out, (int)dlen,
					   d);
			if (!rc)
				rc = rf_dir_sync(rf_buf_str(&path), e);
		}
		prev = d;
		plen = dlen;
	}
	if (!rc)
		rc = rf_dir_sync(out, e);
	rf_buf_release(&path);
	return rc;
}

static void set_fatal(struct run *run, enum rf_rc rc, const struct rf_err *e)
{
	pthread_mutex_lock(&run->lock);
	if (!run->fatal) {
		run->fatal = rc;
		run->fatal_err = *e;
	}
	pthread_mutex_unlock(&run->lock);
}

/* Buffers a worker keeps from one file to the next: the input's bytes and
 * the encoded output. Allocating and freeing them per file made glibc give
 * the memory back to the kernel after every large file and fault it in
 * again (8x the page faults, 4x the time on 0.5 MB CT slices with one
 * job). Zeroized between files: they hold patient data. */
struct scratch {
	struct rf_buf file;
	struct rf_buf out;
	/* the converters of the charsets met so far, kept loaded until the
	 * worker ends (struct anon_charset_hold): files alternating between
	 * charsets made glibc unload and reload them, 0.2 ms each time */
	struct anon_charset_hold hold;
};

static void scratch_wipe(struct scratch *w)
{
	if (w->file.len)
		rf_zeroize(w->file.data, w->file.len);
	if (w->out.len)
		rf_zeroize(w->out.data, w->out.len);
	rf_buf_reset(&w->file);
	rf_buf_reset(&w->out);
}

static void do_dicom(struct run *run, size_t idx, struct scratch *w)
{
	const struct anon_batch_config *cfg = run->cfg;
	struct rf_buf acc = RF_BUF_INIT(1024), uid = RF_BUF_INIT(256);
	struct anon_deid_result r;
	struct anon_dicom *d = NULL;
	struct rf_err e = { 0 };
	char reason[RF_ERR_MSG_MAX + 64], dir[4096], path[4352];
	char sdir[2 * NAME_MAX_ + 2], sop[NAME_MAX_ + 1];
	const char *patient, *study;
	enum outcome oc = FAILED;
	enum rf_rc rc;
	int magic;

	anon_deid_result_init(&r);
	reason[0] = path[0] = '\0';
	scratch_wipe(w);
	rc = rf_file_read(run->paths[idx], &w->file, &e);
	if (rc == RF_ETOOBIG) {
		oc = SKIPPED;
		snprintf(reason, sizeof reason, "larger than %zu bytes",
			 cfg->max_file_size);
		goto out;
	} else if (rc) {
		snprintf(reason, sizeof reason, "cannot read the input (%s)",
			 rf_rc_name(rc));
		goto out;
	}
	pthread_mutex_lock(&run->lock);
	run->st.bytes_in += w->file.len;
	pthread_mutex_unlock(&run->lock);
	magic = w->file.len >= 132 &&
		memcmp(w->file.data + 128, "DICM", 4) == 0;
	rc = anon_dicom_read(w->file.data, w->file.len, "input", NULL, &d,
			     &e);
	if (rc == RF_ENOMEM)
		goto out_err;
	if (rc) {
		oc = magic ? QUARANTINED : SKIPPED;
		if (magic)
			snprintf(reason, sizeof reason, "malformed DICOM: %s",
				 rf_err_msg(&e));
		else
			snprintf(reason, sizeof reason, "not a DICOM file");
		goto out;
	}
	anon_charset_hold_add(&w->hold, (enum anon_charset)d->ds.charset);
	if (run->want_studies && text_of(d, ANON_TAG(0x0008, 0x0050), &acc, &e))
		goto out_err;
	rc = anon_deid_apply(cfg->deid, d, &r, &e);
	if (rc)
		goto out_err;
	if (r.outcome == ANON_DEID_QUARANTINED) {
		oc = QUARANTINED;
		snprintf(reason, sizeof reason, "%s", r.reason);
		goto out;
	}
	patient = safe_name(r.patient) ? r.patient : "no-patient-id";
	if (text_of(d, ANON_TAG(0x0020, 0x000d), &uid, &e))
		goto out_err;
	study = safe_name(rf_buf_str(&uid)) ? rf_buf_str(&uid) : "no-study-uid";
	snprintf(sdir, sizeof sdir, "%s/%s", patient, study);
	if (text_of(d, ANON_TAG(0x0008, 0x0018), &uid, &e))
		goto out_err;
	if (safe_name(rf_buf_str(&uid)))
		snprintf(sop, sizeof sop, "%s", rf_buf_str(&uid));
	else
		snprintf(sop, sizeof sop, "no-sop-uid-%zu", idx);
	snprintf(dir, sizeof dir, "%s/%s", cfg->out_dir, sdir);
	if (note_dir(run, sdir, &e))
		goto out_err;
	rc = make_out_dir(cfg->out_dir, sdir, &e);
	if (!rc) {
		snprintf(path, sizeof path, "%s/%s.dcm", dir, sop);
		rc = anon_dicom_write_buf(d, &w->out, &e);
	}
	if (!rc)
		rc = rf_file_write_atomic_flags(path, w->out.data, w->out.len,
						0600, RF_FILE_NO_DIR_SYNC, &e);
	if (rc) {
		snprintf(reason, sizeof reason, "cannot write the output: %s",
			 rf_err_msg(&e));
		path[0] = '\0';
		goto out;
	}
	oc = WRITTEN;
	snprintf(path, sizeof path, "%s/%s.dcm", sdir, sop);
	if (run->want_studies && acc.len &&
	    keep_study(run, idx, rf_buf_str(&acc), sdir, &r, &e))
		goto out_err;
	goto out;
out_err:
	oc = FAILED;
	snprintf(reason, sizeof reason, "%s", rf_err_msg(&e));
	if (e.rc == RF_ENOMEM)
		set_fatal(run, RF_ENOMEM, &e);
out:
	log_line(run, idx, "dicom", oc, reason, oc == WRITTEN ? path : "");
	anon_deid_result_release(&r);
	anon_dicom_destroy(d);
	scratch_wipe(w);
	rf_buf_release_secret(&acc);
	rf_buf_release(&uid);
}

static const struct study *find_study(const struct run *run, const char *acc)
{
	size_t i;

	for (i = 0; i < run->n_studies; i++)
		if (strcmp(run->studies[i].accession, acc) == 0)
			return &run->studies[i];
	return NULL;
}

static void do_report(struct run *run, size_t idx)
{
	const struct anon_batch_config *cfg = run->cfg;
	const char *p = run->paths[idx], *base = strrchr(p, '/');
	struct rf_buf text = RF_BUF_INIT(ANON_BATCH_REPORT_MAX);
	struct rf_buf out = RF_BUF_INIT(2 * ANON_BATCH_REPORT_MAX);
	const struct study *s;
	struct rf_err e = { 0 };
	char acc[256], reason[RF_ERR_MSG_MAX + 64], path[4352], rel[512];
	enum outcome oc = QUARANTINED;
	size_t n;

	reason[0] = rel[0] = '\0';
	base = base ? base + 1 : p;
	n = strlen(base) - 4; /* without ".txt" */
	while (n && base[n - 1] == ' ')
		n--;
	if (n == 0 || n >= sizeof acc) {
		snprintf(reason, sizeof reason,
			 "report file name is not an accession number");
		goto out;
	}
	memcpy(acc, base, n);
	acc[n] = '\0';
	s = find_study(run, acc);
	if (!s) {
		snprintf(reason, sizeof reason,
			 "no DICOM study with this accession number among "
			 "the inputs");
		goto out;
	}
	if (rf_file_read(p, &text, &e)) {
		oc = e.rc == RF_ETOOBIG ? QUARANTINED : FAILED;
		snprintf(reason, sizeof reason, "%s",
			 e.rc == RF_ETOOBIG ? "report larger than 4 MiB"
					    : "cannot read the input");
		goto out;
	}
	pthread_mutex_lock(&run->lock);
	run->st.bytes_in += text.len;
	pthread_mutex_unlock(&run->lock);
	if (anon_deid_scrub_text(&s->r, (const char *)text.data, text.len, &out,
				 NULL, &e)) {
		oc = FAILED;
		snprintf(reason, sizeof reason, "%s", rf_err_msg(&e));
		goto out;
	}
	if (safe_name(s->r.accession))
		snprintf(rel, sizeof rel, "%s/%s.txt", s->dir, s->r.accession);
	else
		snprintf(rel, sizeof rel, "%s/report-%zu.txt", s->dir, idx);
	snprintf(path, sizeof path, "%s/%s", cfg->out_dir, rel);
	/* into the folder of its study, noted by do_dicom() */
	if (rf_file_write_atomic_flags(path, out.data, out.len, 0600,
				       RF_FILE_NO_DIR_SYNC, &e)) {
		oc = FAILED;
		snprintf(reason, sizeof reason, "cannot write the output: %s",
			 rf_err_msg(&e));
		rel[0] = '\0';
		goto out;
	}
	oc = WRITTEN;
out:
	log_line(run, idx, "report", oc, reason, oc == WRITTEN ? rel : "");
	rf_buf_release_secret(&text);
	rf_buf_release_secret(&out);
}

static void *worker(void *arg)
{
	struct run *run = arg;
	struct scratch w;
	size_t idx;

	rf_buf_init(&w.file, run->cfg->max_file_size);
	rf_buf_init(&w.out, SIZE_MAX - 1);
	anon_charset_hold_init(&w.hold);
	for (;;) {
		pthread_mutex_lock(&run->lock);
		while (run->next < run->n && is_report(run->paths[run->next]))
			run->next++;
		idx = run->next < run->n && !run->fatal ? run->next++ : run->n;
		pthread_mutex_unlock(&run->lock);
		if (idx >= run->n)
			break;
		do_dicom(run, idx, &w);
	}
	rf_buf_release_secret(&w.file);
	rf_buf_release_secret(&w.out);
	anon_charset_hold_release(&w.hold);
	return NULL;
}

enum rf_rc anon_batch_run(const struct anon_batch_config *cfg,
			  char *const *paths, size_t n,
			  struct anon_batch_stats *st, struct rf_err *e)
{
	struct anon_batch_config c;
	pthread_t tids[ANON_BATCH_MAX_JOBS];
	unsigned jobs, started = 0, t;
	struct run run;
	enum rf_rc rc;
	size_t i;

	memset(st, 0, sizeof *st);
	if (!cfg || !cfg->deid || !cfg->out_dir || !*cfg->out_dir)
		return rf_err_set(e, RF_EINVAL,
				  "no de-identification settings or output");
	if (cfg->jobs > ANON_BATCH_MAX_JOBS)
		return rf_err_set(e, RF_EINVAL, "at most %d jobs",
				  ANON_BATCH_MAX_JOBS);
	c = *cfg;
	if (!c.max_file_size)
		c.max_file_size = ANON_BATCH_DEFAULT_MAX_FILE;
	jobs = c.jobs ? c.jobs : 1;
	rc = rf_mkdirs(c.out_dir, 0700, e);
	if (rc)
		return rc;
	memset(&run, 0, sizeof run);
	run.cfg = &c;
	run.paths = paths;
	run.n = n;
	run.st.inputs = n;
	for (i = 0; i < n && !run.want_studies; i++)
		run.want_studies = is_report(paths[i]);
	pthread_mutex_init(&run.lock, NULL);
	/* The workers are always threads of their own, even for one job:
	 * glibc's main-thread heap hands big file buffers back to the kernel
	 * after every file and faults them in again (6x slower on large
	 * images), the thread heaps keep them. The caller only waits, and
	 * works itself only when no thread can start. */
	for (t = 0; t < jobs; t++) {
		if (pthread_create(&tids[t], NULL, worker, &run) != 0)
			break;
		started++;
	}
	if (!started)
		worker(&run);
	for (t = 0; t < started; t++)
		pthread_join(tids[t], NULL);
	for (i = 0; !run.fatal && i < n; i++)
		if (is_report(paths[i]))
			do_report(&run, i);
	rc = run.fatal;
	if (rc && e)
		*e = run.fatal_err;
	/* one fsync per folder rather than one per file: success is
	 * reported only once every rename is durable */
	if (!rc)
		rc = sync_dirs(&run, e);
	*st = run.st;
	st->inputs = n;
	for (i = 0; i < run.n_studies; i++) {
		rf_free_secret(run.studies[i].accession,
			       strlen(run.studies[i].accession));
		anon_deid_result_release(&run.studies[i].r);
	}
	rf_free(run.studies);
	anon_batch_paths_free(run.dirs, run.n_dirs);
	pthread_mutex_destroy(&run.lock);
	return rc;
}
