#!/bin/sh
# transport.sh - throughput of chunked transfers (rf_chunk over radfed's
# RPC layer: gRPC core, mutual TLS, 1 MiB chunks) on loopback, each way,
# memory to memory and file to file, beside openssl's AES-256-GCM speed on
# 16 KiB records and beside two peers, all measured in the same run.
#
# usage: bench/transport.sh BENCH_TRANSPORT [MB [RUNS]]
#   BENCH_TRANSPORT  the bench_transport executable (bench/transport.c)
#   MB               payload in units of 10^6 bytes (default 100)
#   RUNS             runs of each transfer (default 3; median reported)
#
# The first table holds radfed's rates against the targets. The reference
# is `openssl speed -evp aes-256-gcm -seconds 3 -bytes 16384` on one
# thread: the cipher TLS 1.3 negotiates here, at the largest TLS record
# size, with nothing else in the way. A transfer also pays for the
# sender's encryption, the receiver's decryption (both in one process, on
# the same cores), HTTP/2 framing, gRPC's copies, the receiver's SHA-256
# and the loopback TCP stack, so it cannot reach that figure; the targets
# say how close it should come.
#
# The second table says where the cost is: from the bare cipher, through
# plain TLS 1.3 on a loopback socket (OpenSSL alone, same certificates and
# cipher suite, no gRPC, no hash: the ceiling of any TLS transport on this
# machine) and the bare gRPC stream (the same RPC layer without radfed's
# chunk protocol and hash), to radfed's memory transfers; each as MB/s and
# as a share of openssl's figure. Uploads announce the payload's SHA-256
# (computed before the runs, as a node knows its update's), downloads hash
# what they send (as the aggregator does its models), receivers hash what
# they receive; memory receivers reuse destinations faulted in before the
# first transfer. Method and results: docs/benchmarks.md.
set -eu

bin=${1:?usage: transport.sh BENCH_TRANSPORT [MB [RUNS]]}
mb=${2:-100}
runs=${3:-3}
target_mb_s=1000 # 1 GB/s each way
target_share=25  # % of openssl's AES-256-GCM at 16 KiB

get() { # get KEY LINE
	printf '%s\n' "$2" | tr ' ' '\n' | sed -n "s/^$1=//p"
}

echo "CPU: $(awk -F: '/^model name/ { sub(/^ /, "", $2); print $2; exit }' \
	/proc/cpuinfo), $(nproc) cores"
echo "$(openssl version)"
echo "payload $mb MB (10^6 bytes) of pseudo-random data, 1 MiB chunks," \
	"mutual TLS on 127.0.0.1; median of $runs runs"
echo "load average before the run: $(cut -d' ' -f1-3 /proc/loadavg)"
echo

ours=$("$bin" "$mb" "$runs")
# last line: "AES-256-GCM  4313874.43k" (1000s of bytes per second)
ssl=$(openssl speed -evp aes-256-gcm -seconds 3 -bytes 16384 2>/dev/null |
	awk '/^AES-256-GCM/ { sub(/k$/, "", $2); printf "%.0f", $2 / 1000 }')
if [ -z "$ssl" ]; then
	echo "transport.sh: cannot read the output of openssl speed" >&2
	exit 1
fi

up=$(get upload_mb_s "$ours")
down=$(get download_mb_s "$ours")
fup=$(get file_upload_mb_s "$ours")
fdown=$(get file_download_mb_s "$ours")
rss=$(get peak_rss_mb "$ours")
tls=$(get tls_mb_s "$ours")
gup=$(get grpc_upload_mb_s "$ours")
gdown=$(get grpc_download_mb_s "$ours")

row() { # row DIRECTION MB_S
	awk -v d="$1" -v v="$2" -v s="$ssl" -v t="$target_mb_s" \
		-v ts="$target_share" 'BEGIN {
		share = 100 * v / s
		printf "%-14s | %9d | %9d | %6.1f %% | %-12s | %-7s\n", d, v, s,
			share, (v >= t ? "met" : "NOT met"),
			(share >= ts ? "met" : "NOT met")
	}'
}

printf '%-14s | %9s | %9s | %8s | %-12s | %-7s\n' direction "radfed" \
	"openssl" "share" "target" "target"
printf '%-14s | %9s | %9s | %8s | %-12s | %-7s\n' "" "MB/s" "MB/s" "" \
	">= $target_mb_s MB/s" ">= $target_share %"
row "upload mem" "$up"
row "download mem" "$down"
row "upload file" "$fup"
row "download file" "$fdown"
echo
echo "memory to memory, upload: $(get upload_s_min "$ours")..$(get \
	upload_s_max "$ours") s, download: $(get download_s_min \
	"$ours")..$(get download_s_max "$ours") s per transfer" \
	"(fastest..slowest)"
echo "peak RSS: $rss MB for a $mb MB payload" \
	"($(awk -v r="$rss" -v m="$mb" 'BEGIN { printf "%.2f", r / m }')x;" \
	"the payload and the two reused received copies are 3x)"
echo "CPU cost (both ends, all threads): $(get mem_mb_per_cpu_s "$ours")" \
	"MB per CPU second memory to memory, $(get file_mb_per_cpu_s \
	"$ours") file to file"
echo "SHA-256 of every transfer checked: $(get sha256_ok "$ours" |
	sed 's/1/yes/')"

peer() { # peer WHAT MB_S
	awk -v d="$1" -v v="$2" -v s="$ssl" 'BEGIN {
		printf "%-44s | %9d | %7.1f %%\n", d, v, 100 * v / s
	}'
}

echo
echo "what the machine allows, same run (memory to memory, one way each)"
printf '%-44s | %9s | %9s\n' path MB/s "share of"
printf '%-44s | %9s | %9s\n' "" "" openssl
peer "openssl speed aes-256-gcm (1 thread, no I/O)" "$ssl"
peer "plain TLS 1.3 socket (no gRPC)" "$tls"
peer "gRPC stream upload (no chunks, no hash)" "$gup"
peer "gRPC stream download (no chunks, no hash)" "$gdown"
peer "radfed upload mem" "$up"
peer "radfed download mem" "$down"
echo
awk -v u="$up" -v d="$down" -v t="$tls" -v gu="$gup" -v gd="$gdown" 'BEGIN {
	best = u > d ? u : d
	g = gu > gd ? gu : gd
	printf "radfed'"'"'s best memory rate, %d MB/s, is %.0f %% of the " \
		"plain TLS socket\nand %.0f %% of the gRPC stream (the " \
		"better of its two directions, %d MB/s)\n", best,
		100 * best / t, 100 * best / g, g
}'
echo "cipher suite of the plain TLS socket: $(get tls_cipher "$ours")"
echo "CPU cost (both ends, all threads), MB per CPU second: plain TLS" \
	"$(get tls_mb_per_cpu_s "$ours"),"
echo "gRPC stream $(get grpc_mb_per_cpu_s "$ours"), radfed memory to" \
	"memory $(get mem_mb_per_cpu_s "$ours")"
echo
echo "load average after the run: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "openssl: one thread, aes-256-gcm, 16384-byte blocks, 3 s;" \
	"share: MB/s over openssl's"
