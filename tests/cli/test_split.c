/*
 * test_split.c - the light `radfed` front and `radfed-full` behind it: the
 * front loads none of the heavy libraries (checked with ldd, which lists
 * what the dynamic loader maps), the commands it hands over print and exit
 * exactly as radfed-full does (compared byte for byte with cmp), it finds
 * radfed-full through a symbolic link and in the installed layout (made by
 * `cmake --install`), and without radfed-full its own commands still run
 * while the others fail with a clear message.
 */
#include "rf_test.h"

#include <string.h>

#define FRONT RF_TEST_RADFED
#define FULL RF_TEST_BINDIR "/radfed-full"

/* Libraries the front must not load, as ldd names them. */
#define HEAVY_RE "libgrpc|libhdf5|libdnnl|libsqlite3|libprotobuf|libabsl"

/* Runs `prog args` with stdout in dir/name.out and stderr in dir/name.err;
 * returns its exit status. */
static int run_to(const char *dir, const char *name, const char *prog,
		  const char *args)
{
	return rf_sh("cd '%s' && '%s' %s > '%s.out' 2> '%s.err'", dir, prog,
		     args, name, name);
}

/* Whether dir/a.ext and dir/b.ext hold the same bytes. */
static int same(const char *dir, const char *a, const char *b,
		const char *ext)
{
	return rf_sh("cmp -s '%s/%s.%s' '%s/%s.%s'", dir, a, ext, dir, b,
		     ext) == 0;
}

/* Reads dir/name into buf (NUL-terminated, truncated to n - 1 bytes). */
static void slurp(const char *dir, const char *name, char *buf, size_t n)
{
	char path[700];
	size_t got;
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	f = fopen(path, "rb");
	assert_non_null(f);
	got = fread(buf, 1, n - 1, f);
	buf[got] = '\0';
	fclose(f);
}

static void test_front_loads_no_heavy_library(void **state)
{
	(void)state;
	/* the pattern does find them where they are: in radfed-full */
	assert_int_equal(rf_sh("ldd '%s' | grep -Eq '%s'", FULL, HEAVY_RE),
			 0);
	assert_int_equal(rf_sh("ldd '%s' | grep -Eq '%s'", FRONT, HEAVY_RE),
			 1);
	/* ldd did list the front's libraries */
	assert_int_equal(rf_sh("ldd '%s' | grep -q 'libcrypto'", FRONT), 0);
}

/* Each command line, run by the front and by radfed-full, gives the same
 * stdout, stderr and exit status. */
static void test_handed_over_commands_match_full(void **state)
{
	static const struct {
		const char *args;
		int status;
	} cases[] = {
		{"version", 0},
		{"--version", 0},
		{"version --json", 0},
		{"version --bogus", 2},
		{"train --help", 0},
		{"train --bogus", 2},
		{"site init", 2},
		{"--json site init", 2},
		{"agg sites --dir /nonexistent/radfed-agg", 1},
		/* the front's own commands: the same code in both */
		{"help", 0},
		{"anon --help", 0},
		{"anon --key", 2},
		{"audit verify --bogus", 2},
		{"nosuchcommand", 2},
	};
	const char *dir = rf_test_tmpdir("cli_split_match");
	size_t i;
	int a, b;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		a = run_to(dir, "front", FRONT, cases[i].args);
		b = run_to(dir, "full", FULL, cases[i].args);
		if (a != cases[i].status || b != cases[i].status)
			fail_msg("'%s': front %d, full %d, want %d",
				 cases[i].args, a, b, cases[i].status);
		if (!same(dir, "front", "full", "out") ||
		    !same(dir, "front", "full", "err"))
			fail_msg("'%s': output differs from radfed-full's",
				 cases[i].args);
	}
}

/* A symbolic link to the front (as in /usr/local/bin) still finds its
 * radfed-full next to the real file. */
static void test_front_through_symlink(void **state)
{
	const char *dir = rf_test_tmpdir("cli_split_link");

	(void)state;
	assert_int_equal(rf_sh("ln -s '%s' '%s/radfed'", FRONT, dir), 0);
	assert_int_equal(run_to(dir, "link", "./radfed", "version"), 0);
	assert_int_equal(run_to(dir, "full", FULL, "version"), 0);
	assert_true(same(dir, "link", "full", "out"));
}

/* `cmake --install` puts the front in bin/ and radfed-full in
 * libexec/radfed/; the installed front hands over to the installed one
 * (the only one it looks for: next to itself, then ../libexec/radfed). */
static void test_installed_layout(void **state)
{
	const char *dir = rf_test_tmpdir("cli_split_install");
	char buf[1024], want[800];

	(void)state;
	assert_int_equal(rf_sh("cmake --install '%s' --prefix '%s/p' "
			       "> /dev/null",
			       RF_TEST_BINDIR, dir),
			 0);
	assert_int_equal(rf_sh("test -x '%s/p/bin/radfed' && test -x "
			       "'%s/p/libexec/radfed/radfed-full' && test ! "
			       "-e '%s/p/bin/radfed-full'",
			       dir, dir, dir),
			 0);
	assert_int_equal(run_to(dir, "inst", "p/bin/radfed", "version"), 0);
	assert_int_equal(run_to(dir, "full", FULL, "version"), 0);
	assert_true(same(dir, "inst", "full", "out"));

	/* without the installed radfed-full, nothing else answers */
	assert_int_equal(rf_sh("rm '%s/p/libexec/radfed/radfed-full'", dir),
			 0);
	assert_int_equal(run_to(dir, "gone", "p/bin/radfed", "version"), 1);
	slurp(dir, "gone.err", buf, sizeof buf);
	snprintf(want, sizeof want,
		 "radfed: cannot run '%s/p/bin/radfed-full' for this command: "
		 "No such file or directory\n",
		 dir);
	assert_string_equal(buf, want);
}

/* Without radfed-full, the front still runs its own commands; the others
 * fail (exit 1) and say which file is missing. */
static void test_front_alone(void **state)
{
	const char *dir = rf_test_tmpdir("cli_split_alone");
	char buf[1024], want[800];

	(void)state;
	assert_int_equal(rf_sh("cp '%s' '%s/radfed'", FRONT, dir), 0);
	assert_int_equal(run_to(dir, "help", "./radfed", "help"), 0);
	assert_int_equal(run_to(dir, "anon", "./radfed", "anon --help"), 0);
	slurp(dir, "anon.out", buf, sizeof buf);
	assert_non_null(strstr(buf, "--key FILE"));

	assert_int_equal(run_to(dir, "ver", "./radfed", "version"), 1);
	slurp(dir, "ver.err", buf, sizeof buf);
	snprintf(want, sizeof want,
		 "radfed: cannot run '%s/radfed-full' for this command: "
		 "No such file or directory\n",
		 dir);
	assert_string_equal(buf, want);
	slurp(dir, "ver.out", buf, sizeof buf);
	assert_string_equal(buf, "");

	assert_int_equal(run_to(dir, "verj", "./radfed", "version --json"),
			 1);
	slurp(dir, "verj.out", buf, sizeof buf);
	assert_non_null(strstr(buf, "{\"error\": {\"code\": \"EIO\""));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_front_loads_no_heavy_library),
		cmocka_unit_test(test_handed_over_commands_match_full),
		cmocka_unit_test(test_front_through_symlink),
		cmocka_unit_test(test_installed_layout),
		cmocka_unit_test(test_front_alone),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
