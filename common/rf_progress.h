/*
 * rf_progress.h - a one-line progress bar for terminal users.
 *
 *     ingest  [############..........]  45%  1234/2743 img  210 img/s  ETA 0:07
 *
 * The line is redrawn in place (carriage return) at most every
 * RF_PROGRESS_INTERVAL_MS, and once more, followed by a newline, by
 * rf_progress_finish(), where the ETA gives way to the elapsed time
 * ("in 0:13") and the rate to the overall average. The rate is smoothed
 * (exponential moving average, weight RF_PROGRESS_ALPHA for the newest
 * interval); the ETA is the remaining count over that rate, rounded up to a
 * second, shown as m:ss under an hour and h:mm:ss above. With an unknown
 * total (0) only the count and the rate are shown.
 *
 * The line adapts to the terminal width (TIOCGWINSZ on the output, 80 when
 * unknown) and stays at most width - 1 columns, so the terminal never wraps
 * it: the bar shrinks, then the ETA, the rate and the label give way.
 * Columns are counted as one per character (wide characters are not
 * special-cased).
 *
 * Whether to draw is the caller's decision, given at creation: a disabled
 * bar accepts every call and prints nothing at all. The usual decision is
 * rf_progress_should_draw(json_flag). The clock can be replaced for tests.
 *
 * Not thread-safe: one thread updates a given bar.
 *
 * Must not use: anything but libc, rf_alloc and rf_err. No global state.
 */
#ifndef RF_PROGRESS_H
#define RF_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "rf_err.h"

#define RF_PROGRESS_INTERVAL_MS 100 /* at most ten redraws a second */
#define RF_PROGRESS_ALPHA 0.3       /* weight of the newest rate sample */
#define RF_PROGRESS_WIDTH_MAX 512   /* wider terminals are treated as this */

struct rf_progress_opts {
	FILE *out;      /* where to draw; NULL is stderr */
	/* Monotonic milliseconds; NULL is CLOCK_MONOTONIC. */
	uint64_t (*clock_ms)(void *ctx);
	void *clock_ctx;
	unsigned width; /* terminal columns; 0 asks the terminal, else 80 */
};

/* A progress bar (opaque). */
struct rf_progress;

/*
 * A bar labelled label (copied; control characters shown as '?') counting
 * towards total (0: unknown) of unit (copied; NULL or "" for none), e.g.
 * "img" or "files". enabled false makes every later call print nothing.
 * opts may be NULL for the defaults. The clock starts now; nothing is drawn
 * before the first update. On success *out owns the bar (free with
 * rf_progress_destroy). On failure (RF_ENOMEM, RF_EINVAL) *out is NULL.
 */
enum rf_rc rf_progress_create(struct rf_progress **out, const char *label,
			      uint64_t total, const char *unit, bool enabled,
			      const struct rf_progress_opts *opts,
			      struct rf_err *e) RF_WUR;

/* Sets the count done so far and redraws when the last draw is at least
 * RF_PROGRESS_INTERVAL_MS old (the first update always draws). No effect
 * after rf_progress_finish(). */
void rf_progress_set(struct rf_progress *p, uint64_t done);

/* Replaces the label (copied, cleaned as at creation), shown from the next
 * draw: e.g. a running loss. On RF_ENOMEM the old label stays. */
enum rf_rc rf_progress_set_label(struct rf_progress *p, const char *label,
				 struct rf_err *e) RF_WUR;

/* rf_progress_set(p, done + n), saturating. */
void rf_progress_add(struct rf_progress *p, uint64_t n);

/* Draws the final line (count, average rate, elapsed time) and a newline.
 * Later updates and finishes do nothing. Accepts NULL. */
void rf_progress_finish(struct rf_progress *p);

/* Frees the bar without drawing anything more (call rf_progress_finish()
 * first for a final line). Accepts NULL. */
void rf_progress_destroy(struct rf_progress *p);

/* The usual decision: draw only for people, i.e. when --json is not set and
 * standard output is a terminal. */
bool rf_progress_should_draw(bool json);

#endif
