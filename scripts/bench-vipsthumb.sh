#!/usr/bin/env bash
# Cold render ceiling (issue 17), side by side in one sitting, the order of
# the sides alternating by round: 1920x1080 JPEG -> 300 px wide JPEG
# (300x169), quality 82, metadata stripped, VIPS_CONCURRENCY=1
# MALLOC_ARENA_MAX=2 for every side.
#  - vipsthumbnail (the libvips CLI): N processes at once (N = cores), each
#    converting its own list of K distinct files (hard links to one copy of
#    the source: libvips never sees a name twice, the bytes come from the
#    page cache), K calibrated to last about DURATION; images/s = N*K / the
#    time until the last process exits. Run twice per round: as installed,
#    and with glibc's mmap threshold raised to 64 MiB (GLIBC_TUNABLES),
#    which saves the CLI a quarter of its CPU (fresh mmaps zeroed and
#    faulted in for every image's buffers).
#  - edgegate over HTTP, variant cache off (bench/images-nocache.yaml),
#    wrk -tN -cCONNS over 256 distinct source keys (bench/imgcopies,
#    bench/distinct-sources.lua; one URL would let concurrent requests share
#    a render); images/s = renders (the gateway's
#    edgegate_images_rendered_total) / wrk's elapsed time.
#  - the bare bimg loop (bench/bimgloop, N goroutines), as bench-images.sh.
# For each: images/s, CPU ms per image from the processes' own counters
# (getrusage of vipsthumbnail, bimgloop and wrk through /usr/bin/time;
# /proc/PID/stat of the gateway and of versitygw, its S3), and the CPU
# everything else on the machine used meanwhile (/proc/stat busy time minus
# ours, in cores): on a shared machine wall-clock rates follow the
# neighbours, CPU per image much less. Summary: the median of each figure
# over the rounds; the ratio is the median of the rounds' ratios.
#   usage: scripts/bench-vipsthumb.sh [DURATION=10s] [ROUNDS=3] [N=nproc] [CONNS=N]
set -euo pipefail
cd "$(dirname "$0")/.."
dur=${1:-10s} rounds=${2:-3} n=${3:-$(nproc)}
conns=${4:-$n}
secs=${dur%s}
copies=256
source scripts/bench-setup.sh
bench_setup wrk time libvips-tools
go build -o "$tmp/bimgloop" ./bench/bimgloop
go build -o "$tmp/imgcopies" ./bench/imgcopies
"$tmp/imgcopies" -endpoint http://127.0.0.1:7070 -n "$copies" -dir "$tmp"
# The copies leave the demo bucket with the run (before bench_cleanup stops its S3).
trap '"$tmp/imgcopies" -endpoint http://127.0.0.1:7070 -n "$copies" -delete || true; bench_cleanup' EXIT
export VIPS_CONCURRENCY=1 MALLOC_ARENA_MAX=2
"$tmp/edgegate" serve --config bench/images-nocache.yaml &
gw=$!
pids+=("$gw")
vgw=$(cat "$tmp/vgw.pid" 2>/dev/null || ss -ltnpH 'sport = :7070' | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2)
for _ in $(seq 1 100); do
  curl -fsS -o /dev/null http://127.0.0.1:19090/healthz 2>/dev/null && break
  sleep 0.1
done
tuned=GLIBC_TUNABLES=glibc.malloc.mmap_threshold=67108864
hz=$(getconf CLK_TCK)
# CPU seconds a process has used (user + system).
pcpu() { [ -n "$1" ] && awk -v hz="$hz" '{sub(/^.*\) /, ""); print ($12 + $13) / hz}' "/proc/$1/stat" || echo 0; }
# Busy CPU seconds of the whole machine (everything but idle and iowait).
busy() { awk -v hz="$hz" '$1 == "cpu" {print ($2 + $3 + $4 + $7 + $8 + $9) / hz}' /proc/stat; }
now() { date +%s.%N; }
rendered() { curl -fsS http://127.0.0.1:19090/metrics | awk '$1 == "edgegate_images_rendered_total" {print $2}'; }
# Sum of user + system seconds in /usr/bin/time -f '%U %S' output files.
tcpu() { cat "$@" | awk '{s += $1 + $2} END {printf "%.3f", s}'; }
calc() { awk "BEGIN {printf \"$1\", $2}"; }

# The same output on both sides: dimensions, format, quality.
mkdir -p "$tmp/check"
cp "$tmp/sample.jpg" "$tmp/check/c.jpg"
vipsthumbnail --size 300x -o '%s_t.jpg[Q=82,strip]' "$tmp/check/c.jpg"
curl -fsS -o "$tmp/check/e.jpg" http://127.0.0.1:18080/img/w300/bench/s0.jpg
vt_dims=$(vipsheader "$tmp/check/c_t.jpg" | sed 's/^[^:]*: //')
eg_dims=$(vipsheader "$tmp/check/e.jpg" | sed 's/^[^:]*: //')
echo "output: vipsthumbnail $vt_dims, $(stat -c %s "$tmp/check/c_t.jpg") bytes | edgegate $eg_dims, $(stat -c %s "$tmp/check/e.jpg") bytes"
[ "$vt_dims" = "$eg_dims" ] || { echo "bench-vipsthumb: outputs differ" >&2; exit 1; }

# vipsthumbnail's files: N lists of K names, K from a 40-image calibration.
mkdir -p "$tmp/vt"
for i in $(seq 0 39); do ln -f "$tmp/sample.jpg" "$tmp/vt/cal$i.jpg"; done
t0=$(now)
vipsthumbnail --size 300x -o '%s_t.jpg[Q=82,strip]' "$tmp"/vt/cal*.jpg
k=$(awk -v t0="$t0" -v t1="$(now)" -v s="$secs" 'BEGIN {k = int(40 / (t1 - t0) * s); print (k < 50 ? 50 : k)}')
for p in $(seq 1 "$n"); do
  mkdir -p "$tmp/vt/p$p"
  for i in $(seq 1 "$k"); do ln -f "$tmp/sample.jpg" "$tmp/vt/p$p/s$i.jpg"; done
done
echo "vipsthumbnail: $n processes x $k files each per round; edgegate: wrk -t$n -c$conns -d$dur over $copies keys; bimg: $n goroutines for $dur"

# vipsthumb_round PREFIX [ENV=VALUE...]: one round of N vipsthumbnail
# processes; sets ${PREFIX}_rate, _cpu (ms/img) and _other (cores).
vipsthumb_round() {
  local pre=$1 b0 b1 t0 t1 p vtp=() imgs=$((n * k)) cpu
  shift
  rm -f "$tmp"/vt/p*/*_t.jpg "$tmp"/vt.t.*
  b0=$(busy); t0=$(now)
  for p in $(seq 1 "$n"); do
    env "$@" /usr/bin/time -f '%U %S' -o "$tmp/vt.t.$p" \
      vipsthumbnail --size 300x -o '%s_t.jpg[Q=82,strip]' "$tmp/vt/p$p"/s*.jpg &
    vtp+=($!)
  done
  for p in "${vtp[@]}"; do wait "$p"; done
  t1=$(now); b1=$(busy)
  [ "$(ls "$tmp"/vt/p*/*_t.jpg | wc -l)" -eq "$imgs" ] || { echo "bench-vipsthumb: vipsthumbnail wrote too few files" >&2; exit 1; }
  cpu=$(tcpu "$tmp"/vt.t.*)
  printf -v "${pre}_rate" %s "$(calc %.1f "$imgs / ($t1 - $t0)")"
  printf -v "${pre}_cpu" %s "$(calc %.2f "1000 * $cpu / $imgs")"
  printf -v "${pre}_other" %s "$(calc %.2f "($b1 - $b0 - $cpu) / ($t1 - $t0)")"
}

edgegate_round() {
  local b0 b1 g0 g1 s0 s1 r0 r1 out req el wcpu
  b0=$(busy); g0=$(pcpu "$gw"); s0=$(pcpu "$vgw"); r0=$(rendered)
  out=$(BENCH_THREADS=$n BENCH_COPIES=$copies BENCH_PATH=/img/w300/bench/s%d.jpg \
    /usr/bin/time -f '%U %S' -o "$tmp/wrk.t" wrk -t"$n" -c"$conns" -d"$dur" -s bench/distinct-sources.lua http://127.0.0.1:18080)
  r1=$(rendered); s1=$(pcpu "$vgw"); g1=$(pcpu "$gw"); b1=$(busy)
  if grep -q 'Non-2xx' <<<"$out"; then echo "bench-vipsthumb: edgegate answered errors: $out" >&2; exit 1; fi
  req=$(awk '/requests in/ {print $1}' <<<"$out")
  el=$(awk '/requests in/ {sub(/s,$/, "", $4); print $4}' <<<"$out")
  local imgs=$((r1 - r0))
  wcpu=$(tcpu "$tmp/wrk.t")
  eg_rate=$(calc %.1f "$imgs / $el")
  eg_req=$req eg_imgs=$imgs
  eg_gw=$(calc %.2f "1000 * ($g1 - $g0) / $imgs")
  eg_s3=$(calc %.2f "1000 * ($s1 - $s0) / $imgs")
  eg_wrk=$(calc %.2f "1000 * $wcpu / $imgs")
  eg_cpu=$(calc %.2f "$eg_gw + $eg_s3 + $eg_wrk")
  eg_other=$(calc %.2f "($b1 - $b0 - ($g1 - $g0) - ($s1 - $s0) - $wcpu) / $el")
}

bimg_round() {
  local b0 b1 t0 t1 cpu try
  for try in 1 2 3; do
    b0=$(busy); t0=$(now)
    # The bare loop is bimg's pipeline, which now and then corrupts the
    # heap (BENCHMARKS.md, "The baseline crashed"): a crash measures
    # nothing, so the round runs again.
    if bi_rate=$(/usr/bin/time -f '%U %S' -o "$tmp/bimg.t" "$tmp/bimgloop" -workers "$n" -duration "$dur" 2>"$tmp/bimg.err"); then break; fi
    echo "bench-vipsthumb: the bare bimg loop crashed ($(head -1 "$tmp/bimg.err")); run $try of 3" >&2
    [ "$try" -lt 3 ] || exit 1
  done
  t1=$(now); b1=$(busy)
  cpu=$(tcpu "$tmp/bimg.t")
  bi_cpu=$(calc %.2f "1000 * $cpu / ($bi_rate * $secs)")
  bi_other=$(calc %.2f "($b1 - $b0 - $cpu) / ($t1 - $t0)")
}

# Warm up both sides (page cache, the gateway's HEAD cache of every key).
BENCH_THREADS=1 BENCH_COPIES=$copies wrk -t1 -c1 -d2s -s bench/distinct-sources.lua http://127.0.0.1:18080 >/dev/null
vipsthumbnail --size 300x -o '%s_t.jpg[Q=82,strip]' "$tmp"/vt/cal*.jpg

rows=()
for r in $(seq 1 "$rounds"); do
  if ((r % 2)); then
    vipsthumb_round vt; edgegate_round; vipsthumb_round vtt "$tuned"; bimg_round
  else
    edgegate_round; vipsthumb_round vt; bimg_round; vipsthumb_round vtt "$tuned"
  fi
  ratio=$(calc %.3f "$eg_rate / $vt_rate")
  echo "round $r: vipsthumbnail $vt_rate img/s, $vt_cpu ms CPU/img, others $vt_other cores | edgegate $eg_rate img/s ($eg_imgs renders, $eg_req requests), $eg_cpu ms CPU/img (gateway $eg_gw + S3 $eg_s3 + wrk $eg_wrk), others $eg_other cores | vipsthumbnail, mmap threshold 64 MiB $vtt_rate img/s, $vtt_cpu ms CPU/img, others $vtt_other cores | bimg direct $bi_rate img/s, $bi_cpu ms CPU/img, others $bi_other cores | edgegate/vipsthumbnail $ratio"
  rows+=("$vt_rate $vt_cpu $eg_rate $eg_cpu $eg_gw $eg_s3 $eg_wrk $bi_rate $bi_cpu $ratio $vt_other $eg_other $bi_other $vtt_rate $vtt_cpu $vtt_other")
done
printf '%s\n' "${rows[@]}" | python3 -c '
import statistics as st, sys
rows = [list(map(float, l.split())) for l in sys.stdin if l.strip()]
m = [st.median(c) for c in zip(*rows)]
print("cold render ceiling: edgegate/vipsthumbnail = %.3f (median of %d rounds; %.1f vs %.1f img/s); bimg direct %.1f img/s, edgegate/bimg = %.3f" % (m[9], len(rows), m[2], m[0], m[7], m[2] / m[7]))
print("CPU per image (ms, medians): vipsthumbnail %.2f; edgegate %.2f = gateway %.2f + S3 %.2f + wrk %.2f; bimg direct %.2f; vipsthumbnail/edgegate = %.2f" % (m[1], m[3], m[4], m[5], m[6], m[8], m[1] / m[3]))
print("vipsthumbnail with the glibc malloc mmap threshold at 64 MiB (GLIBC_TUNABLES): %.1f img/s, %.2f ms CPU/img; edgegate/it = %.3f" % (m[13], m[14], m[2] / m[13]))
print("others on the machine meanwhile (cores, medians): during vipsthumbnail %.2f, edgegate %.2f, tuned vipsthumbnail %.2f, bimg %.2f" % (m[10], m[11], m[15], m[12]))
'
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load average $(cut -d' ' -f1-3 /proc/loadavg), libvips $(vips --version)"
