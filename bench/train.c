/*
 * train.c - training throughput of one built-in architecture.
 *
 *   bench_train MODEL [SIDE [STEPS [BATCH]]]
 *
 * Builds MODEL (cnn-small, resnet-mini, ...) from the registry for 1 x SIDE
 * x SIDE inputs (default 64), two classes, batch BATCH (default 32); runs 2
 * warm-up steps, then STEPS (default 20) timed steps of forward, backward
 * and SGD (lr 0.01, momentum 0.9, weight decay 1e-4) on random images in
 * [0, 1] with random labels. Prints one line of key=value pairs:
 * images/s, GFLOP/s (3 x trn_net_flops per step: forward, backward data,
 * backward weights), milliseconds per step and peak RSS (getrusage
 * ru_maxrss). The rates come from the median step time, which other
 * processes on the machine disturb less than the mean (also printed:
 * OpenMP threads that lose their core stall every barrier of a step).
 * bench/train.sh puts it beside PyTorch's figure for the same model
 * (bench/train.py). The thread count is oneDNN's: OMP_NUM_THREADS.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "rf_alloc.h"
#include "trn.h"
#include "trn_optim.h"

#define WARMUP 2

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t rng_next(uint64_t *s)
{
	/* splitmix64 */
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static long arg_long(const char *s, long lo, long hi, const char *what)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (*s == '\0' || *end != '\0' || v < lo || v > hi) {
		fprintf(stderr, "bench_train: %s '%s' not in %ld..%ld\n", what,
			s, lo, hi);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	struct trn_model_spec spec = {1, 64, 64, 2, 0};
	struct trn_optim_config oc = {0};
	struct trn_optim *opt = NULL;
	struct trn_net *n = NULL;
	struct trn_param *params;
	struct rf_err e = {0};
	struct rusage ru;
	const char *model;
	unsigned batch = 32, steps = 20;
	float *x = NULL, loss = 0;
	double *times = NULL;
	int32_t *y = NULL;
	uint64_t seed = 42;
	size_t np, img, i;
	double t0, mean, med, flops;
	int status = 1;

	if (argc < 2 || argc > 5) {
		fprintf(stderr,
			"usage: bench_train MODEL [SIDE [STEPS [BATCH]]]\n");
		return 2;
	}
	model = argv[1];
	if (argc > 2)
		spec.height = spec.width =
			(unsigned)arg_long(argv[2], 1, 4096, "side");
	if (argc > 3)
		steps = (unsigned)arg_long(argv[3], 1, 100000, "steps");
	if (argc > 4)
		batch = (unsigned)arg_long(argv[4], 1, 4096, "batch");

	if (trn_model_build(model, &spec, batch, TRN_LOSS_SOFTMAX_CE, NULL, 1,
			    &n, &e))
		goto out;
	params = trn_net_params(n, &np);
	oc.kind = TRN_OPTIM_SGD;
	oc.lr = 0.01f;
	oc.momentum = 0.9f;
	oc.weight_decay = 1e-4f;
	if (trn_optim_create(&oc, params, np, &opt, &e))
		goto out;

	img = (size_t)spec.height * spec.width;
	x = rf_mallocarray((size_t)batch * img, sizeof(float));
	y = rf_mallocarray(batch, sizeof(int32_t));
	times = rf_mallocarray(steps, sizeof(double));
	if (!x || !y || !times) {
		rf_err_set(&e, RF_ENOMEM, "cannot allocate the batch");
		goto out;
	}
	for (i = 0; i < (size_t)batch * img; i++)
		x[i] = (float)(rng_next(&seed) >> 40) / (float)(1 << 24);
	for (i = 0; i < batch; i++)
		y[i] = (int32_t)(rng_next(&seed) & 1);

	mean = 0;
	for (unsigned s = 0; s < WARMUP + steps; s++) {
		t0 = now();
		if (trn_net_forward(n, x, y, NULL, true, s, &loss, &e) ||
		    trn_net_backward(n, &e))
			goto out;
		trn_optim_step(opt);
		if (s >= WARMUP) {
			times[s - WARMUP] = now() - t0;
			mean += times[s - WARMUP] / steps;
		}
	}
	qsort(times, steps, sizeof *times, cmp_double);
	med = steps % 2 ? times[steps / 2]
			: (times[steps / 2 - 1] + times[steps / 2]) / 2;
	flops = 3.0 * trn_net_flops(n);
	getrusage(RUSAGE_SELF, &ru);
	printf("model=%s side=%u batch=%u steps=%u images_per_s=%.1f "
	       "ms_per_step=%.2f mean_ms_per_step=%.2f gflops=%.2f "
	       "gflop_per_step=%.3f peak_rss_mb=%.1f loss=%.4f\n",
	       model, spec.height, batch, steps, batch / med, med * 1e3,
	       mean * 1e3, flops / med / 1e9, flops / 1e9,
	       (double)ru.ru_maxrss / 1024.0, (double)loss);
	status = 0;
out:
	if (status)
		fprintf(stderr, "bench_train: %s\n", rf_err_msg(&e));
	trn_optim_destroy(opt);
	trn_net_destroy(n);
	rf_free(x);
	rf_free(y);
	rf_free(times);
	return status;
}
