#!/bin/sh
# train.sh - training throughput of radfed's built-in models beside
# PyTorch running the same models, printed side by side from one run.
#
# usage: bench/train.sh BENCH_TRAIN [STEPS]
#   BENCH_TRAIN  the bench_train executable (bench/train.c) of a build
#   STEPS        timed steps per run (default 20; 2 warm-up steps before)
#
# Both sides: batch 32 of 1 x SIDE x SIDE float32 images, two classes,
# forward + backward + SGD per step, on 1 and on 2 threads (OMP_NUM_THREADS
# for oneDNN, torch.set_num_threads for PyTorch; THREADS overrides "1 2").
# One thread is the steady figure on a shared machine: with two, an OpenMP
# thread that loses its core stalls every barrier. Needs /usr/bin/python3
# with torch (python3-torch). SIDES overrides the input sides ("64 128").
# The machine's nominal FP32 peak assumes AVX-512 with two 512-bit FMA
# pipes per core (16 lanes x 2 flops x 2 = 64 FLOP/cycle, as on Zen 4/5
# and Xeon Gold/Platinum): FLOP_PER_CYCLE overrides it (32 for one FMA
# pipe or AVX2). Method and results: docs/benchmarks.md.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
bin=${1:?usage: train.sh BENCH_TRAIN [STEPS]}
steps=${2:-20}
sides=${SIDES:-"64 128"}
threads=${THREADS:-"1 2"}
fpc=${FLOP_PER_CYCLE:-64}
cores=$(nproc)
mhz=$(awk -F: '/^cpu MHz/ { print $2 + 0; exit }' /proc/cpuinfo)
peak1=$(awk -v m="$mhz" -v f="$fpc" 'BEGIN { printf "%.1f", m / 1000 * f }')

get() { # get KEY LINE
	printf '%s\n' "$2" | tr ' ' '\n' | sed -n "s/^$1=//p"
}

echo "CPU: $(awk -F: '/^model name/ { sub(/^ /, "", $2); print $2; exit }' \
	/proc/cpuinfo), $cores cores at $mhz MHz"
echo "nominal FP32 peak per core: $mhz MHz x $fpc FLOP/cycle =" \
	"$peak1 GFLOP/s ($cores cores)"
echo "batch 32, $steps timed steps after 2 warm-up steps;" \
	"rates from the median step"
echo "load average before the run: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
printf '%-12s %4s %3s | %-49s | %-18s | %6s\n' "" "" "" \
	"radfed (oneDNN)" "PyTorch" ""
printf '%-12s %4s %3s | %9s %8s %7s %6s %8s | %9s %8s | %6s\n' \
	model side thr "img/s" "ms/step" GFLOP/s "%peak" "RSS MB" \
	"img/s" "RSS MB" ratio
for side in $sides; do
for thr in $threads; do
	peak=$(awk -v p="$peak1" -v t="$thr" 'BEGIN { print p * t }')
	for model in cnn-small resnet-mini; do
		ours=$(OMP_NUM_THREADS=$thr "$bin" "$model" "$side" "$steps")
		theirs=$(OMP_NUM_THREADS=$thr RADFED_BENCH_THREADS=$thr \
			/usr/bin/python3 "$here/train.py" "$model" "$side" \
			"$steps")
		oi=$(get images_per_s "$ours")
		ti=$(get images_per_s "$theirs")
		gf=$(get gflops "$ours")
		printf '%-12s %4s %3s | %9s %8s %7s %5.1f%% %8s | %9s %8s | %5.2fx\n' \
			"$model" "$side" "$thr" "$oi" \
			"$(get ms_per_step "$ours")" \
			"$gf" "$(awk -v g="$gf" -v p="$peak" \
				'BEGIN { print 100 * g / p }')" \
			"$(get peak_rss_mb "$ours")" "$ti" \
			"$(get peak_rss_mb "$theirs")" \
			"$(awk -v a="$oi" -v b="$ti" 'BEGIN { print a / b }')"
	done
done
done
echo "load average after the run: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "%peak: of the nominal peak of the threads used;" \
	"ratio: radfed images/s over PyTorch's; PyTorch's RSS includes about" \
	"$(get base_rss_mb "$theirs") MB for the" \
	"interpreter and torch"
