/*
 * rf_progress.c - the terminal progress bar.
 */
#include "rf_progress.h"

#include <math.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "rf_alloc.h"

#define BAR_MIN 10 /* narrower than this, no bar at all */
#define BAR_MAX 40
#define SEG_MAX 96 /* bytes of one segment but the label */

struct rf_progress {
	bool enabled;
	bool finished;
	bool drawn;
	FILE *out;
	uint64_t (*clock_ms)(void *ctx);
	void *clock_ctx;
	unsigned width;
	char *label;
	char *unit;
	uint64_t total;
	uint64_t done;
	uint64_t start_ms;
	uint64_t last_draw_ms;
	uint64_t sample_ms;   /* time and count of the last rate sample */
	uint64_t sample_done;
	double rate;          /* smoothed units per second; < 0 unknown */
	size_t drawn_cols;    /* columns of the line on screen */
};

static uint64_t mono_ms(void *ctx)
{
	struct timespec ts;

	(void)ctx;
	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
		return 0;
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

bool rf_progress_should_draw(bool json)
{
	return !json && isatty(STDOUT_FILENO);
}

/* A copy of s with control characters and invalid bytes as '?'. */
static char *clean_copy(const char *s)
{
	size_t n = strlen(s);
	char *c = rf_malloc(n + 1);

	if (!c)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		unsigned char b = (unsigned char)s[i];

		c[i] = (b < 0x20 || b == 0x7f || b >= 0xf8) ? '?' : (char)b;
	}
	c[n] = '\0';
	return c;
}

enum rf_rc rf_progress_create(struct rf_progress **out, const char *label,
			      uint64_t total, const char *unit, bool enabled,
			      const struct rf_progress_opts *opts,
			      struct rf_err *e)
{
	struct rf_progress *p;

	if (!out)
		return rf_err_set(e, RF_EINVAL, "no output for progress bar");
	*out = NULL;
	p = rf_calloc(1, sizeof *p);
	if (!p)
		goto nomem;
	p->label = clean_copy(label ? label : "");
	p->unit = clean_copy(unit ? unit : "");
	if (!p->label || !p->unit)
		goto nomem;
	p->enabled = enabled;
	p->out = opts && opts->out ? opts->out : stderr;
	p->clock_ms = opts && opts->clock_ms ? opts->clock_ms : mono_ms;
	p->clock_ctx = opts ? opts->clock_ctx : NULL;
	p->width = opts ? opts->width : 0;
	p->total = total;
	p->rate = -1;
	p->start_ms = p->clock_ms(p->clock_ctx);
	p->sample_ms = p->start_ms;
	*out = p;
	return RF_OK;
nomem:
	rf_progress_destroy(p);
	return rf_err_set(e, RF_ENOMEM, "out of memory for progress bar");
}

enum rf_rc rf_progress_set_label(struct rf_progress *p, const char *label,
				 struct rf_err *e)
{
	char *c = clean_copy(label ? label : "");

	if (!c)
		return rf_err_set(e, RF_ENOMEM,
				  "out of memory for progress bar");
	rf_free(p->label);
	p->label = c;
	return RF_OK;
}

void rf_progress_destroy(struct rf_progress *p)
{
	if (!p)
		return;
	rf_free(p->label);
	rf_free(p->unit);
	rf_free(p);
}

static unsigned term_width(const struct rf_progress *p)
{
	struct winsize ws;
	unsigned w = p->width;
	int fd;

	if (w == 0) {
		w = 80;
		fd = fileno(p->out);
		if (fd >= 0 && ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
			w = ws.ws_col;
	}
	return w > RF_PROGRESS_WIDTH_MAX ? RF_PROGRESS_WIDTH_MAX : w;
}

/* Columns of s: one per character. */
static size_t cols(const char *s)
{
	size_t c = 0;

	for (; *s; s++)
		c += ((unsigned char)*s & 0xc0) != 0x80;
	return c;
}

/* Byte length of the first n characters of s. */
static size_t cols_prefix(const char *s, size_t n)
{
	size_t i = 0;

	while (s[i] && n > 0) {
		i++;
		while (((unsigned char)s[i] & 0xc0) == 0x80)
			i++;
		n--;
	}
	return i;
}

/* "0:07", "12:34", "1:02:03". */
static void fmt_hms(char *buf, size_t n, uint64_t secs)
{
	if (secs > 359999)
		secs = 359999;
	if (secs < 3600)
		snprintf(buf, n, "%u:%02u", (unsigned)(secs / 60),
			 (unsigned)(secs % 60));
	else
		snprintf(buf, n, "%u:%02u:%02u", (unsigned)(secs / 3600),
			 (unsigned)(secs / 60 % 60), (unsigned)(secs % 60));
}

static void fmt_rate(char *buf, size_t n, double rate, const char *unit)
{
	const char *sp = *unit ? " " : "";

	if (rate >= 10 || rate == 0)
		snprintf(buf, n, "%.0f%s%.40s/s", rate, sp, unit);
	else
		snprintf(buf, n, "%.1f%s%.40s/s", rate, sp, unit);
}

/* floor(a * b / c) for a <= c, b <= RF_PROGRESS_WIDTH_MAX, c > 0, without
 * overflow (in floating point for counts beyond 2^54). */
static uint64_t muldiv(uint64_t a, uint64_t b, uint64_t c)
{
	if (a % c > UINT64_MAX / b)
		return (uint64_t)((double)a / (double)c * (double)b);
	return a / c * b + a % c * b / c;
}

enum { S_LABEL, S_BAR, S_PCT, S_COUNT, S_RATE, S_TIME, S_N };

/* Columns kept free for the rate ("12345 img/s") and the time ("ETA
 * 1:00:00") when sizing the bar, so that it keeps its width while they
 * vary. */
#define RATE_DIGITS 5
#define TIME_COLS 11

static unsigned digits(uint64_t v)
{
	unsigned d = 1;

	while (v >= 10) {
		v /= 10;
		d++;
	}
	return d;
}

/* Renders the line into buf (RF_PROGRESS_WIDTH_MAX * 4 + 1 bytes). Returns
 * its width in columns. */
static size_t render(const struct rf_progress *p, uint64_t now, bool final,
		     char *buf, size_t bufsz)
{
	static const int drop[] = {S_TIME, S_RATE, S_PCT};
	char seg[S_N][SEG_MAX], t[32];
	bool on[S_N] = {false};
	size_t maxc = term_width(p), label_cols, sum, at = 0, barw = 0;
	size_t unit_cols = cols(p->unit), reserve;
	const char *sp = *p->unit ? " " : "";
	double rate = p->rate;

	maxc = maxc > 1 ? maxc - 1 : 1;
	if (final) {
		uint64_t el = now - p->start_ms;

		rate = el > 0 ? (double)p->done * 1000.0 / (double)el : -1;
		fmt_hms(t, sizeof t, (el + 500) / 1000);
		snprintf(seg[S_TIME], SEG_MAX, "in %s", t);
		on[S_TIME] = true;
	}
	if (p->total) {
		uint64_t shown = p->done > p->total ? p->total : p->done;

		snprintf(seg[S_PCT], SEG_MAX, "%3u%%",
			 (unsigned)muldiv(shown, 100, p->total));
		snprintf(seg[S_COUNT], SEG_MAX, "%*llu/%llu%s%.40s",
			 (int)digits(p->total), (unsigned long long)p->done,
			 (unsigned long long)p->total, sp, p->unit);
		on[S_PCT] = true;
		if (!final && rate > 0) {
			double left = (double)(p->total - shown) / rate;

			fmt_hms(t, sizeof t, (uint64_t)ceil(left));
			snprintf(seg[S_TIME], SEG_MAX, "ETA %s", t);
			on[S_TIME] = true;
		}
	} else {
		snprintf(seg[S_COUNT], SEG_MAX, "%llu%s%.40s",
			 (unsigned long long)p->done, sp, p->unit);
	}
	on[S_COUNT] = true;
	if (rate >= 0) {
		fmt_rate(seg[S_RATE], SEG_MAX, rate, p->unit);
		on[S_RATE] = true;
	}
	label_cols = cols(p->label);
	on[S_LABEL] = label_cols > 0;

	/* the width of what is shown but the bar, separators included */
	sum = 0;
	for (int i = 0; i < S_N; i++) {
		if (on[i] && i != S_BAR)
			sum += (sum ? 2 : 0) +
			       (i == S_LABEL ? label_cols : cols(seg[i]));
	}
	/* the bar: two brackets and a separator, BAR_MIN to BAR_MAX wide,
	 * sized as if the rate and the time took their reserved room */
	if (p->total) {
		size_t stable = sum, avail;

		if (on[S_RATE])
			stable -= 2 + cols(seg[S_RATE]);
		if (on[S_TIME])
			stable -= 2 + cols(seg[S_TIME]);
		reserve = 2 + RATE_DIGITS + (unit_cols ? 1 + unit_cols : 0) +
			  2 + 2 + TIME_COLS;
		avail = stable + 4 + reserve < maxc ?
			maxc - stable - 4 - reserve : 0;
		barw = avail > BAR_MAX ? BAR_MAX : avail;
		/* wider than reserved: the bar gives way */
		if (barw && sum + 4 + barw > maxc)
			barw = sum + 4 < maxc ? maxc - sum - 4 : 0;
		if (barw >= BAR_MIN) {
			on[S_BAR] = true;
			sum += 4 + barw;
		}
	}
	/* too wide even without a bar: drop the least useful parts */
	for (size_t d = 0; d < sizeof drop / sizeof *drop && sum > maxc; d++) {
		if (on[drop[d]]) {
			on[drop[d]] = false;
			sum -= 2 + cols(seg[drop[d]]);
		}
	}
	if (sum > maxc && on[S_LABEL]) {
		size_t over = sum - maxc;

		if (over + 2 >= label_cols) {
			on[S_LABEL] = false;
			sum -= label_cols + 2;
		} else {
			label_cols -= over;
			sum -= over;
		}
	}

	buf[0] = '\0';
	for (int i = 0; i < S_N; i++) {
		size_t len;

		if (!on[i])
			continue;
		if (at && at + 2 < bufsz) {
			memcpy(buf + at, "  ", 2);
			at += 2;
		}
		if (i == S_LABEL) {
			len = cols_prefix(p->label, label_cols);
			if (at + len < bufsz) {
				memcpy(buf + at, p->label, len);
				at += len;
			}
		} else if (i == S_BAR) {
			size_t fill = p->done >= p->total ? barw :
				      (size_t)muldiv(p->done, barw, p->total);

			if (at + barw + 2 < bufsz) {
				buf[at++] = '[';
				memset(buf + at, '#', fill);
				memset(buf + at + fill, '.', barw - fill);
				at += barw;
				buf[at++] = ']';
			}
		} else {
			len = strlen(seg[i]);
			if (at + len < bufsz) {
				memcpy(buf + at, seg[i], len);
				at += len;
			}
		}
		buf[at] = '\0';
	}
	/* last resort for absurdly narrow terminals */
	if (cols(buf) > maxc) {
		at = cols_prefix(buf, maxc);
		buf[at] = '\0';
	}
	return cols(buf);
}

static void draw(struct rf_progress *p, uint64_t now, bool final)
{
	char line[RF_PROGRESS_WIDTH_MAX * 4 + 1];
	size_t c = render(p, now, final, line, sizeof line);

	fputc('\r', p->out);
	fputs(line, p->out);
	/* blank what is left of a longer previous line */
	for (size_t i = c; i < p->drawn_cols; i++)
		fputc(' ', p->out);
	if (final)
		fputc('\n', p->out);
	fflush(p->out);
	p->drawn_cols = c;
	p->drawn = true;
	p->last_draw_ms = now;
}

void rf_progress_set(struct rf_progress *p, uint64_t done)
{
	uint64_t now;

	if (!p || !p->enabled || p->finished)
		return;
	p->done = done;
	now = p->clock_ms(p->clock_ctx);
	if (now < p->start_ms)
		now = p->start_ms;
	if (p->drawn && now - p->last_draw_ms < RF_PROGRESS_INTERVAL_MS)
		return;
	if (now - p->sample_ms >= RF_PROGRESS_INTERVAL_MS) {
		double inst = done >= p->sample_done ?
			(double)(done - p->sample_done) * 1000.0 /
			(double)(now - p->sample_ms) : 0;

		if (p->rate < 0)
			p->rate = inst;
		else
			p->rate = RF_PROGRESS_ALPHA * inst +
				  (1 - RF_PROGRESS_ALPHA) * p->rate;
		p->sample_ms = now;
		p->sample_done = done;
	}
	draw(p, now, false);
}

void rf_progress_add(struct rf_progress *p, uint64_t n)
{
	if (!p)
		return;
	rf_progress_set(p, p->done > UINT64_MAX - n ? UINT64_MAX :
						     p->done + n);
}

void rf_progress_finish(struct rf_progress *p)
{
	uint64_t now;

	if (!p || !p->enabled || p->finished)
		return;
	now = p->clock_ms(p->clock_ctx);
	if (now < p->start_ms)
		now = p->start_ms;
	draw(p, now, true);
	p->finished = true;
}
