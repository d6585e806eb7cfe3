/*
 * anon_read.c - throughput of the DICOM reader and writer on one file.
 *
 *   bench_anon_read FILE [ITERATIONS]
 *
 * Prints MB/s (10^6 bytes of input per second) for: parse only, parse +
 * write to memory, parse + atomic write to a file next to /tmp; then, as the
 * peer figure from the same run, dcmtk's `dcmconv +te` (read + write as
 * Explicit VR LE) on the same file when dcmconv is installed.
 *
 * Make a large uncompressed input with bench/make_ct.py.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "anon_dicom.h"
#include "rf_alloc.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *p;
	long n;

	if (!f || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) != 0)
		return NULL;
	p = malloc((size_t)n + 1);
	if (p && fread(p, 1, (size_t)n, f) != (size_t)n) {
		free(p);
		p = NULL;
	}
	fclose(f);
	*len = (size_t)n;
	return p;
}

static void report(const char *what, size_t bytes, int iters, double secs)
{
	printf("%-34s %10.1f MB/s  %9.3f ms per %.1f MB file\n", what,
	       (double)bytes * iters / secs / 1e6, secs * 1e3 / iters,
	       (double)bytes / 1e6);
}

int main(int argc, char **argv)
{
	struct rf_buf out = RF_BUF_INIT((size_t)1 << 32);
	struct anon_dicom *d;
	struct rf_err e = {0};
	int iters = argc > 2 ? (int)strtol(argv[2], NULL, 10) : 20, i;
	char cmd[2048];
	size_t len;
	uint8_t *buf;
	double t;

	if (argc < 2 || iters < 1) {
		fprintf(stderr, "usage: %s FILE [ITERATIONS]\n", argv[0]);
		return 2;
	}
	buf = slurp(argv[1], &len);
	if (!buf) {
		fprintf(stderr, "cannot read '%s'\n", argv[1]);
		return 1;
	}
	t = now();
	for (i = 0; i < iters; i++) {
		if (anon_dicom_read(buf, len, argv[1], NULL, &d, &e)) {
			fprintf(stderr, "%s\n", e.msg);
			return 1;
		}
		anon_dicom_destroy(d);
	}
	report("radfed parse", len, iters, now() - t);

	t = now();
	for (i = 0; i < iters; i++) {
		rf_buf_reset(&out);
		if (anon_dicom_read(buf, len, argv[1], NULL, &d, &e) ||
		    anon_dicom_write_buf(d, &out, &e)) {
			fprintf(stderr, "%s\n", e.msg);
			return 1;
		}
		anon_dicom_destroy(d);
	}
	report("radfed parse+write (memory)", len, iters, now() - t);

	t = now();
	for (i = 0; i < iters; i++) {
		if (anon_dicom_read(buf, len, argv[1], NULL, &d, &e) ||
		    anon_dicom_write_file(d, "/tmp/bench_anon_out.dcm", &e)) {
			fprintf(stderr, "%s\n", e.msg);
			return 1;
		}
		anon_dicom_destroy(d);
	}
	report("radfed parse+write (file, fsync)", len, iters, now() - t);

	snprintf(cmd, sizeof cmd, "command -v dcmconv >/dev/null && "
		 "dcmconv +te '%s' /tmp/bench_dcmconv_out.dcm", argv[1]);
	t = now();
	for (i = 0; i < iters; i++)
		if (system(cmd) != 0)
			break;
	if (i == iters)
		report("dcmtk dcmconv +te (read+write)", len, iters,
		       now() - t);
	else
		printf("dcmtk dcmconv: not available\n");
	remove("/tmp/bench_anon_out.dcm");
	remove("/tmp/bench_dcmconv_out.dcm");
	rf_buf_release(&out);
	free(buf);
	return 0;
}
