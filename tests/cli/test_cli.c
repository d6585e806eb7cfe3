/*
 * test_cli.c - the radfed binary as a user runs it: exit codes, stdout,
 * stderr, and `radfed version` against independent sources read at run
 * time (pkg-config, the openssl command, dpkg-query), with the JSON output
 * checked by Python's json module.
 */
#include "rf_test.h"

#include <errno.h>
#include <poll.h>
#include <sys/wait.h>

#include "rf_buf.h"

#define OUT_MAX (1 << 20)

struct run {
	struct rf_buf out;
	struct rf_buf err;
	int status; /* exit status, or -1 if killed by a signal */
};

static void run_release(struct run *r)
{
	rf_buf_release(&r->out);
	rf_buf_release(&r->err);
}

/* Runs argv (argv[0] is the program, NULL-terminated) with stdin from
 * in_path (or /dev/null) and collects stdout, stderr and the exit status. */
static void run_argv(const char *const *argv, const char *in_path,
		     struct run *r)
{
	int po[2], pe[2], wst, open_n = 2;
	struct pollfd fds[2];
	char chunk[4096];
	pid_t pid;

	rf_buf_init(&r->out, OUT_MAX);
	rf_buf_init(&r->err, OUT_MAX);
	assert_int_equal(pipe(po), 0);
	assert_int_equal(pipe(pe), 0);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		FILE *in = freopen(in_path ? in_path : "/dev/null", "r",
				   stdin);

		if (!in)
			_exit(126);
		dup2(po[1], 1);
		dup2(pe[1], 2);
		close(po[0]);
		close(pe[0]);
		close(po[1]);
		close(pe[1]);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(po[1]);
	close(pe[1]);
	fds[0].fd = po[0];
	fds[1].fd = pe[0];
	fds[0].events = fds[1].events = POLLIN;
	while (open_n > 0) {
		if (poll(fds, 2, -1) < 0) {
			assert_int_equal(errno, EINTR);
			continue;
		}
		for (int i = 0; i < 2; i++) {
			ssize_t n;

			if (fds[i].fd < 0 || !fds[i].revents)
				continue;
			n = read(fds[i].fd, chunk, sizeof chunk);
			if (n <= 0) {
				close(fds[i].fd);
				fds[i].fd = -1;
				open_n--;
				continue;
			}
			RF_ASSERT_OK(rf_buf_append(i ? &r->err : &r->out,
						   chunk, (size_t)n, NULL));
		}
	}
	assert_int_equal(waitpid(pid, &wst, 0), pid);
	r->status = WIFEXITED(wst) ? WEXITSTATUS(wst) : -1;
}

/* Runs `radfed ARGS...` (NULL-terminated). */
static void radfed(struct run *r, ...)
{
	const char *argv[16];
	va_list ap;
	int n = 0;

	argv[n++] = RF_TEST_RADFED;
	va_start(ap, r);
	while ((argv[n] = va_arg(ap, const char *)) != NULL) {
		n++;
		assert_true(n < 15);
	}
	va_end(ap);
	run_argv(argv, NULL, r);
}

/* The first line of `sh -c cmd`'s stdout, trailing newline removed, in buf;
 * fails the test if the command fails. */
static void sh_line(const char *cmd, char *buf, size_t n)
{
	const char *argv[] = {"/bin/sh", "-c", cmd, NULL};
	struct run r;
	size_t len;

	run_argv(argv, NULL, &r);
	if (r.status != 0)
		fail_msg("'%s' failed (%d): %s", cmd, r.status,
			 rf_buf_str(&r.err));
	len = strcspn(rf_buf_str(&r.out), "\n");
	assert_true(len > 0 && len < n);
	memcpy(buf, r.out.data, len);
	buf[len] = '\0';
	run_release(&r);
}

/* The version `radfed version` printed for lib ("grpc"), i.e. the second
 * word of the line starting with "lib ", in buf. */
static void text_version(const char *out, const char *lib, char *buf,
			 size_t n)
{
	size_t ll = strlen(lib), len;
	const char *p = out;

	for (;;) {
		if (strncmp(p, lib, ll) == 0 && p[ll] == ' ')
			break;
		p = strchr(p, '\n');
		if (!p || !p[1])
			fail_msg("no '%s' line in:\n%s", lib, out);
		p++;
	}
	p += ll + 1;
	len = strcspn(p, " \n");
	assert_true(len > 0 && len < n);
	memcpy(buf, p, len);
	buf[len] = '\0';
}

/* The value of "lib version" in the "name version" lines that the Python
 * reader below printed for the JSON output. */
static const char *json_lines_get(const char *lines, const char *key,
				  char *buf, size_t n)
{
	text_version(lines, key, buf, n);
	return buf;
}

/* Parses the JSON in json with Python's json module and returns (in r) one
 * "key value" line per library, preceded by "radfed <version>". */
static void json_flatten(const char *json, struct run *r)
{
	static const char prog[] =
		"import json, sys\n"
		"d = json.load(sys.stdin)\n"
		"assert isinstance(d['libraries'], dict)\n"
		"print('radfed', d['radfed'])\n"
		"for k, v in d['libraries'].items():\n"
		"    assert isinstance(v, str), k\n"
		"    print(k, v)\n";
	const char *path;
	char file[600];
	FILE *f;
	const char *argv[] = {"/usr/bin/python3", "-c", prog, NULL};

	path = rf_test_tmpdir("cli_json");
	snprintf(file, sizeof file, "%s/out.json", path);
	f = fopen(file, "w");
	assert_non_null(f);
	fputs(json, f);
	assert_int_equal(fclose(f), 0);
	run_argv(argv, file, r);
	if (r->status != 0)
		fail_msg("not valid JSON (%s):\n%s", rf_buf_str(&r->err), json);
}

static void test_version_matches_installed(void **state)
{
	struct run r, j;
	char want[128], got[128], jv[128];
	const char *dash;
	const struct {
		const char *lib;
		const char *cmd;
	} pc[] = {
		{"grpc", "pkg-config --modversion grpc"},
		{"protobuf-c", "pkg-config --modversion libprotobuf-c"},
		{"hdf5", "pkg-config --modversion hdf5"},
		{"libyaml", "pkg-config --modversion yaml-0.1"},
		{"sqlite", "pkg-config --modversion sqlite3"},
		{"zlib", "pkg-config --modversion zlib"},
	};

	(void)state;
	radfed(&r, "version", NULL);
	assert_int_equal(r.status, 0);
	assert_int_equal(r.err.len, 0);
	assert_int_equal(strncmp(rf_buf_str(&r.out), "radfed 0.1.0\n", 13), 0);

	radfed(&j, "version", "--json", NULL);
	assert_int_equal(j.status, 0);
	assert_int_equal(j.err.len, 0);
	{
		struct run flat;

		json_flatten(rf_buf_str(&j.out), &flat);
		run_release(&j);
		j = flat;
	}
	json_lines_get(rf_buf_str(&j.out), "radfed", jv, sizeof jv);
	assert_string_equal(jv, "0.1.0");

	for (size_t i = 0; i < sizeof pc / sizeof pc[0]; i++) {
		sh_line(pc[i].cmd, want, sizeof want);
		text_version(rf_buf_str(&r.out), pc[i].lib, got, sizeof got);
		assert_string_equal(got, want);
		json_lines_get(rf_buf_str(&j.out), pc[i].lib, jv, sizeof jv);
		assert_string_equal(jv, want);
	}

	/* "OpenSSL 3.0.22 25 Aug 2026 (Library: OpenSSL 3.0.22 ...)": the
	 * library's own version is after "Library: OpenSSL " when the CLI and
	 * the library differ, else the second word */
	sh_line("openssl version | sed -e 's/.*Library: //' | "
		"cut -d' ' -f2",
		want, sizeof want);
	text_version(rf_buf_str(&r.out), "openssl", got, sizeof got);
	assert_string_equal(got, want);
	json_lines_get(rf_buf_str(&j.out), "openssl", jv, sizeof jv);
	assert_string_equal(jv, want);

	/* Debian's package version "2.6.3-1": major.minor.patch before '-' */
	sh_line("dpkg-query -W -f '${Version}' libdnnl2", want, sizeof want);
	dash = strchr(want, '-');
	if (dash)
		want[dash - want] = '\0';
	text_version(rf_buf_str(&r.out), "dnnl", got, sizeof got);
	assert_string_equal(got, want);
	json_lines_get(rf_buf_str(&j.out), "dnnl", jv, sizeof jv);
	assert_string_equal(jv, want);
	assert_non_null(strstr(rf_buf_str(&r.out), "git hash "));

	/* gRPC core's version is documented as such on its line */
	assert_non_null(strstr(rf_buf_str(&r.out), "grpc 29.0.0 (gRPC core"));

	run_release(&r);
	run_release(&j);
}

static void test_version_aliases(void **state)
{
	struct run a, b;

	(void)state;
	radfed(&a, "version", NULL);
	radfed(&b, "--version", NULL);
	assert_int_equal(b.status, 0);
	assert_string_equal(rf_buf_str(&a.out), rf_buf_str(&b.out));
	run_release(&b);
	radfed(&b, "--version", "--json", NULL);
	assert_int_equal(b.status, 0);
	assert_int_equal(b.out.data[0], '{');
	run_release(&a);
	run_release(&b);
}

static void test_help(void **state)
{
	struct run r, h;

	(void)state;
	radfed(&r, "help", NULL);
	assert_int_equal(r.status, 0);
	assert_int_equal(r.err.len, 0);
	assert_non_null(strstr(rf_buf_str(&r.out), "\n  version "));
	assert_non_null(strstr(rf_buf_str(&r.out), "\n  help "));
	assert_non_null(strstr(rf_buf_str(&r.out), "anyone:\n"));
	/* only commands that exist are listed */
	assert_non_null(strstr(rf_buf_str(&r.out), "site init"));
	assert_non_null(strstr(rf_buf_str(&r.out), "round start"));
	assert_null(strstr(rf_buf_str(&r.out), "policy check"));

	radfed(&h, "--help", NULL);
	assert_int_equal(h.status, 0);
	assert_string_equal(rf_buf_str(&h.out), rf_buf_str(&r.out));
	run_release(&h);
	radfed(&h, "-h", NULL);
	assert_int_equal(h.status, 0);
	assert_string_equal(rf_buf_str(&h.out), rf_buf_str(&r.out));
	run_release(&h);

	/* bare radfed: the same list on stderr, as a usage error */
	radfed(&h, NULL);
	assert_int_equal(h.status, 2);
	assert_int_equal(h.out.len, 0);
	assert_string_equal(rf_buf_str(&h.err), rf_buf_str(&r.out));
	run_release(&h);
	run_release(&r);
}

static void test_command_help(void **state)
{
	struct run r, h;

	(void)state;
	radfed(&r, "version", "--help", NULL);
	assert_int_equal(r.status, 0);
	assert_int_equal(r.err.len, 0);
	assert_int_equal(strncmp(rf_buf_str(&r.out),
				 "usage: radfed version [--json]\n", 31),
			 0);
	assert_non_null(strstr(rf_buf_str(&r.out), "--json"));

	radfed(&h, "version", "-h", NULL);
	assert_int_equal(h.status, 0);
	assert_string_equal(rf_buf_str(&h.out), rf_buf_str(&r.out));
	run_release(&h);
	radfed(&h, "help", "version", NULL);
	assert_int_equal(h.status, 0);
	assert_string_equal(rf_buf_str(&h.out), rf_buf_str(&r.out));
	run_release(&h);
	radfed(&h, "help", "--help", NULL);
	assert_int_equal(h.status, 0);
	assert_int_equal(strncmp(rf_buf_str(&h.out), "usage: radfed help ",
				 19),
			 0);
	run_release(&h);
	run_release(&r);
}

static void test_unknown_command(void **state)
{
	struct run r;

	(void)state;
	radfed(&r, "nosuch", NULL);
	assert_int_equal(r.status, 2);
	assert_int_equal(r.out.len, 0);
	assert_non_null(strstr(rf_buf_str(&r.err), "'nosuch'"));
	assert_int_equal(strncmp(rf_buf_str(&r.err), "radfed: ", 8), 0);
	run_release(&r);

	/* one transposition away: suggested */
	radfed(&r, "verison", NULL);
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(rf_buf_str(&r.err),
			       "unknown command 'verison'; did you mean "
			       "'version'?"));
	run_release(&r);

	radfed(&r, "help", "nosuch", NULL);
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(rf_buf_str(&r.err), "'nosuch'"));
	run_release(&r);

	/* groups without commands in this build are not commands */
	radfed(&r, "policy", "--help", NULL);
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(rf_buf_str(&r.err), "'policy'"));
	run_release(&r);

	/* a group lists its subcommands, and suggests the closest one */
	radfed(&r, "site", "--help", NULL);
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(rf_buf_str(&r.out), "\n  init "));
	run_release(&r);
	radfed(&r, "site", "inti", NULL);
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(rf_buf_str(&r.err), "did you mean"));
	assert_non_null(strstr(rf_buf_str(&r.err), "init"));
	run_release(&r);
}

static void test_unknown_option(void **state)
{
	struct run r;

	(void)state;
	radfed(&r, "version", "--nosuch", NULL);
	assert_int_equal(r.status, 2);
	assert_int_equal(r.out.len, 0);
	assert_non_null(strstr(rf_buf_str(&r.err), "'--nosuch'"));
	run_release(&r);

	radfed(&r, "version", "--jsno", NULL);
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(rf_buf_str(&r.err), "did you mean '--json'?"));
	run_release(&r);

	radfed(&r, "version", "-x", NULL);
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(rf_buf_str(&r.err), "'-x'"));
	run_release(&r);

	radfed(&r, "version", "--json=yes", NULL);
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(rf_buf_str(&r.err), "takes no value"));
	run_release(&r);

	radfed(&r, "version", "extra", NULL);
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(rf_buf_str(&r.err), "'extra'"));
	run_release(&r);

	radfed(&r, "--nosuch", NULL);
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(rf_buf_str(&r.err), "'--nosuch'"));
	run_release(&r);
}

/* With --json, errors are one JSON object on stdout and stderr stays empty.
 */
static void test_json_errors(void **state)
{
	static const char prog[] =
		"import json, sys\n"
		"d = json.load(sys.stdin)\n"
		"print(d['error']['code'])\n"
		"print(d['error']['message'])\n";
	const char *argv[] = {"/usr/bin/python3", "-c", prog, NULL};
	const char *dir = rf_test_tmpdir("cli_json_err");
	char file[600];
	struct run r, p;
	FILE *f;

	(void)state;
	radfed(&r, "nosuch", "--json", NULL);
	assert_int_equal(r.status, 2);
	assert_int_equal(r.err.len, 0);
	snprintf(file, sizeof file, "%s/err.json", dir);
	f = fopen(file, "w");
	assert_non_null(f);
	fputs(rf_buf_str(&r.out), f);
	assert_int_equal(fclose(f), 0);
	run_argv(argv, file, &p);
	assert_int_equal(p.status, 0);
	assert_string_equal(rf_buf_str(&p.out),
			    "EINVAL\nunknown command 'nosuch'\n");
	run_release(&p);
	run_release(&r);

	radfed(&r, "version", "--json", "--bogus", NULL);
	assert_int_equal(r.status, 2);
	assert_int_equal(r.err.len, 0);
	assert_string_equal(rf_buf_str(&r.out),
			    "{\"error\": {\"code\": \"EINVAL\", \"message\": "
			    "\"unknown option '--bogus'\"}}\n");
	run_release(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_version_matches_installed),
		cmocka_unit_test(test_version_aliases),
		cmocka_unit_test(test_help),
		cmocka_unit_test(test_command_help),
		cmocka_unit_test(test_unknown_command),
		cmocka_unit_test(test_unknown_option),
		cmocka_unit_test(test_json_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
