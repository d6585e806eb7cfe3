/*
 * rf_test.h - what every radfed test needs on top of cmocka.
 *
 * - RF_ASSERT_OK(expr): the call returned RF_OK (prints the error otherwise)
 * - rf_test_fail_alloc_after(n): the (n+1)th next allocation through
 *   rf_malloc/rf_realloc fails; rf_test_alloc_reset() restores libc. Use
 *   RF_TEST_OOM_LOOP to run a body with allocation N failing, N = 0, 1, ...
 *   until it succeeds, asserting RF_ENOMEM and no leak on every failure.
 * - rf_test_tmpdir(name): a fresh, empty directory for this test.
 * - rf_sh(fmt, ...): runs a shell command line, returns its exit status.
 */
#ifndef RF_TEST_H
#define RF_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "rf_alloc.h"
#include "rf_err.h"

#define RF_ASSERT_OK_E(expr, errp)                                            \
	do {                                                                  \
		enum rf_rc rf_t_rc_ = (expr);                                 \
		if (rf_t_rc_ != RF_OK)                                        \
			fail_msg("%s -> %s: %s", #expr,                       \
				 rf_rc_name(rf_t_rc_), rf_err_msg(errp));     \
	} while (0)
#define RF_ASSERT_OK(expr) RF_ASSERT_OK_E(expr, (struct rf_err *)NULL)
#define RF_ASSERT_RC(expr, want)                                              \
	do {                                                                  \
		enum rf_rc rf_t_rc_ = (expr);                                 \
		if (rf_t_rc_ != (want))                                       \
			fail_msg("%s -> %s, want %s", #expr,                  \
				 rf_rc_name(rf_t_rc_), rf_rc_name(want));     \
	} while (0)

/* ---- failing allocator with live-allocation accounting ---------------- */
struct rf_test_alloc_state {
	long budget;   /* allocations left before failure; -1 = unlimited */
	long live;     /* allocations not yet freed */
	long failures; /* allocations refused */
};
static struct rf_test_alloc_state rf_test_alloc_st = {-1, 0, 0};

static void *rf_test_malloc_(size_t n, void *ctx)
{
	struct rf_test_alloc_state *st = ctx;
	void *p;

	if (st->budget == 0) {
		st->failures++;
		return NULL;
	}
	if (st->budget > 0)
		st->budget--;
	p = malloc(n);
	if (p)
		st->live++;
	return p;
}

static void *rf_test_realloc_(void *p, size_t n, void *ctx)
{
	struct rf_test_alloc_state *st = ctx;
	void *q;

	if (st->budget == 0) {
		st->failures++;
		return NULL;
	}
	if (st->budget > 0)
		st->budget--;
	q = realloc(p, n);
	if (q && !p)
		st->live++;
	return q;
}

static void rf_test_free_(void *p, void *ctx)
{
	struct rf_test_alloc_state *st = ctx;

	st->live--;
	free(p);
}

/* Counts live allocations; the (n+1)th allocation from now fails (n < 0:
 * never). */
static inline void rf_test_fail_alloc_after(long n)
{
	struct rf_alloc_hook h = {rf_test_malloc_, rf_test_realloc_,
				  rf_test_free_, &rf_test_alloc_st};

	rf_test_alloc_st.budget = n;
	rf_test_alloc_st.live = 0;
	rf_test_alloc_st.failures = 0;
	rf_alloc_set_hook(&h);
}

static inline long rf_test_alloc_live(void)
{
	return rf_test_alloc_st.live;
}

static inline void rf_test_alloc_reset(void)
{
	rf_alloc_set_hook(NULL);
}

/* Runs BODY (which must set `rc_var` and release everything it took on
 * failure) with allocation 0, 1, 2, ... failing until it returns RF_OK.
 * Every failing run must return RF_ENOMEM and leave no live allocation.
 * CLEANUP runs after the successful run, still under the counting hook, and
 * must free what BODY kept; then no allocation may remain live. */
#define RF_TEST_OOM_LOOP(rc_var, BODY, CLEANUP)                               \
	do {                                                                  \
		for (long rf_t_n_ = 0;; rf_t_n_++) {                          \
			rf_test_fail_alloc_after(rf_t_n_);                    \
			BODY;                                                 \
			if ((rc_var) == RF_OK) {                              \
				CLEANUP;                                      \
				assert_int_equal(rf_test_alloc_live(), 0);    \
				rf_test_alloc_reset();                        \
				break;                                        \
			}                                                     \
			if ((rc_var) != RF_ENOMEM)                            \
				fail_msg("allocation %ld failing gave %s",    \
					 rf_t_n_, rf_rc_name(rc_var));        \
			if (rf_test_alloc_live() != 0)                        \
				fail_msg("allocation %ld failing leaked %ld", \
					 rf_t_n_, rf_test_alloc_live());      \
			assert_true(rf_t_n_ < 100000);                        \
		}                                                             \
	} while (0)

/* ---- temporary directories --------------------------------------------- */
/* Returns a fresh empty directory RF_TEST_TMPDIR/<name>.<pid> (static
 * storage, valid until the next call). Fails the test if it cannot. */
static inline const char *rf_test_tmpdir(const char *name)
{
	static char path[512];
	char cmd[1100];
	const char *base = getenv("RF_TEST_TMPDIR");

	if (!base || !*base)
		base = "/tmp";
	mkdir(base, 0700);
	snprintf(path, sizeof path, "%s/%s.%ld", base, name, (long)getpid());
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
	if (system(cmd) != 0 || mkdir(path, 0700) != 0)
		fail_msg("cannot create test directory '%s'", path);
	return path;
}

/* ---- commands --------------------------------------------------------- */
/* Runs the shell command line made from fmt like printf and returns its
 * exit status; fails the test when it cannot run or is killed. */
static inline int rf_sh(const char *fmt, ...) RF_PRINTF(1, 2);
static inline int rf_sh(const char *fmt, ...)
{
	char cmd[8192];
	va_list ap;
	int st, n;

	va_start(ap, fmt);
	n = vsnprintf(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof cmd)
		fail_msg("command too long: %.200s...", cmd);
	st = system(cmd);
	if (st == -1 || !WIFEXITED(st))
		fail_msg("cannot run: %s", cmd);
	return WEXITSTATUS(st);
}

#endif
