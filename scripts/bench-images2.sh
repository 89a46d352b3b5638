#!/usr/bin/env bash
# Issue 17's input goals, side by side in one sitting:
#  (a) animated GIF (100 frames, 480x270) -> animated WebP 300 px wide
#      (169 high, every frame): edgegate over HTTP with its variant cache
#      off, a different source key per request (bench/distinct-sources.lua,
#      so no two requests share a render), wrk -t2 -cN, vs the vips CLI
#      doing the same conversion, `vips thumbnail anim.gif[n=-1]
#      out.webp[Q=80,strip] 300`, as N parallel processes looping over the
#      same file (N = nproc); rounds alternate; images/s and the ratio
#      (goal >= 0.9).
#  (b) 4000x3000 HEIC -> 1280 px WebP (preset large): time per image one at
#      a time, then 8 concurrent requests (wrk -c8) against a fresh gateway
#      whose peak RSS (VmHWM) is compared with what the megapixel budget
#      promises (docs/install-kubernetes.md's sizing: baseline 192 MiB +
#      cache_bytes (0 here) + budget_megapixels x 4 B + the sources held).
#   usage: scripts/bench-images2.sh [DURATION=10s] [ROUNDS=2]
set -euo pipefail
cd "$(dirname "$0")/.."
dur=${1:-10s} rounds=${2:-2}
secs=${dur%s}
source scripts/bench-setup.sh
bench_setup wrk libvips-tools libheif-examples
n=$(nproc)
copies=16
go build -o "$tmp/inputsgen" ./bench/inputsgen
"$tmp/inputsgen" -dir "$tmp" -n "$copies"
export VIPS_CONCURRENCY=1 MALLOC_ARENA_MAX=2
# Long enough that every request is rendered (queued in admission, not
# refused with a 429 after max_wait 2s or a 504 after timeout 10s, the
# defaults, which a shared or slow machine passes with 100 frames or 8
# HEICs at once): this measures throughput and memory, not the limits.
export EDGEGATE_IMAGES_TIMEOUT=120s EDGEGATE_IMAGES_MAX_WAIT=120s
start_gateway() { # listen admin: starts bench/images-nocache.yaml there, sets gw_pid
  "$tmp/edgegate" serve --config bench/images-nocache.yaml --listen "127.0.0.1:$1" --admin-listen "127.0.0.1:$2" --log-level warn &
  gw_pid=$!
  pids+=("$gw_pid")
  for _ in $(seq 1 100); do
    curl -fsS -o /dev/null "http://127.0.0.1:$2/healthz" 2>/dev/null && return
    sleep 0.1
  done
  echo "bench-images2: gateway on $1 did not start" >&2
  exit 1
}
start_gateway 18084 19094
base=http://127.0.0.1:18084
pages() { vipsheader -f n-pages "$1[n=-1]" 2>/dev/null || echo 1; }
curl -fsS -H 'Accept: image/webp' -o "$tmp/check.webp" -w '%{content_type}' "$base/img/w300/bench2/anim0.gif" >"$tmp/ct"
echo "edgegate: anim.gif -> $(cat "$tmp/ct") $(vipsheader -f width "$tmp/check.webp")x$(vipsheader -f page-height "$tmp/check.webp[n=-1]"), $(pages "$tmp/check.webp") frames"
vips thumbnail "$tmp/anim.gif[n=-1]" "$tmp/check-cli.webp[Q=80,strip]" 300
echo "vips CLI: anim.gif -> $(vipsheader -f width "$tmp/check-cli.webp")x$(vipsheader -f page-height "$tmp/check-cli.webp[n=-1]"), $(pages "$tmp/check-cli.webp") frames"

# vips_rate N SECS: N processes converting for SECS seconds; prints images/s
# (conversions finished / wall time until the last one ends).
vips_rate() {
  local np=$1 s=$2 t0 t1 total=0 p ps=()
  t0=$(date +%s.%N)
  for p in $(seq 1 "$np"); do
    (
      end=$(($(date +%s) + s)) c=0
      while (($(date +%s) < end)); do
        vips thumbnail "$tmp/anim.gif[n=-1]" "$tmp/o$p.webp[Q=80,strip]" 300 && c=$((c + 1))
      done
      echo "$c" >"$tmp/count$p"
    ) &
    ps+=($!)
  done
  wait "${ps[@]}"
  t1=$(date +%s.%N)
  for p in $(seq 1 "$np"); do total=$((total + $(cat "$tmp/count$p"))); done
  awk -v c="$total" -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f %d", c/(b-a), c}'
}
# CPU time in clock ticks: a process's own (ticks PID), or what this
# shell's finished children used (childticks).
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
childticks() { awk '{print $16 + $17}' "/proc/$$/stat"; }
hz=$(getconf CLK_TCK)
rps() { awk '/Requests\/sec/ {print $2}'; }
errs() { awk '/Non-2xx|Socket errors/ {printf "%s ", $0}'; }
sv=0 se=0 cv=0 nv=0 ce=0 ne=0
for r in $(seq 1 "$rounds"); do
  c0=$(childticks)
  vk=$(vips_rate "$n" "$secs") # waited for: its CPU is in childticks
  v=${vk% *} k=${vk#* }
  c1=$(childticks)
  g0=$(ticks "$gw_pid")
  out=$(BENCH_PATH=/img/w300/bench2/anim%d.gif BENCH_COPIES=$copies BENCH_THREADS=2 \
    wrk -t2 -c"$n" -d"$dur" --timeout 30s -H 'Accept: image/webp' -s bench/distinct-sources.lua "$base")
  g1=$(ticks "$gw_pid")
  e=$(rps <<<"$out")
  m=$(awk '/requests in/ {print $1}' <<<"$out")
  cv=$((cv + c1 - c0)) nv=$((nv + k)) ce=$((ce + g1 - g0)) ne=$((ne + m))
  echo "animated round $r: vips CLI x $n processes $v img/s | edgegate HTTP, cache off, wrk -c$n $e img/s $(errs <<<"$out")"
  sv=$(awk -v x="$sv" -v y="$v" 'BEGIN{print x+y}')
  se=$(awk -v x="$se" -v y="$e" 'BEGIN{print x+y}')
done
awk -v v="$sv" -v e="$se" -v r="$rounds" 'BEGIN{printf "animated GIF -> WebP: edgegate/vips CLI = %.2f (%.2f vs %.2f img/s)\n", e/v, e/r, v/r}'
# CPU per image (the gateway's own; versitygw's GET adds a few ms): steadier
# than images/s on a shared machine. The gateway's CPU includes renders
# still in flight when wrk stopped, which wrk does not count, so
# edgegate's figure is, if anything, high.
awk -v cv="$cv" -v nv="$nv" -v ce="$ce" -v ne="$ne" -v hz="$hz" 'BEGIN{
  printf "animated CPU per image: vips CLI %.0f ms (%d images), edgegate %.0f ms (%d requests)\n", 1000*cv/hz/(nv?nv:1), nv, 1000*ce/hz/(ne?ne:1), ne }'
kill "$gw_pid" 2>/dev/null || true

# (b) a fresh gateway, so that its VmHWM is this test's peak.
start_gateway 18085 19095
base=http://127.0.0.1:18085
curl -fsS -H 'Accept: image/webp' -o "$tmp/check2.webp" "$base/img/large/bench2/photo0.heic"
echo "edgegate: photo.heic $(vipsheader -f width "$tmp/photo.heic")x$(vipsheader -f height "$tmp/photo.heic") -> $(vipsheader "$tmp/check2.webp" | cut -d: -f2 | xargs)"
hwm() { awk '/^VmHWM/ {print int($2/1024)}' "/proc/$1/status"; }
echo "gateway RSS after one HEIC: $(hwm "$gw_pid") MiB peak"
one=""
for i in $(seq 1 5); do
  one+="$(curl -sS -o /dev/null -w '%{http_code}:%{time_total}' -H 'Accept: image/webp' "$base/img/large/bench2/photo$i.heic") "
done
avg=$(tr ' ' '\n' <<<"$one" | awk -F: '$1 == 200 {s+=$2; k++} END {if (k) printf "%.3f", s/k; else printf "none"}')
echo "HEIC 4000x3000 -> 1280 px WebP, one at a time: $avg s per image (mean of the 200s; status:seconds $one)"
out=$(BENCH_PATH=/img/large/bench2/photo%d.heic BENCH_COPIES=$copies BENCH_THREADS=2 \
  wrk -t2 -c8 -d"$dur" --timeout 30s -H 'Accept: image/webp' -s bench/distinct-sources.lua "$base")
peak=$(hwm "$gw_pid")
budget=$(awk '/budget_megapixels/ {print $2}' bench/images-nocache.yaml); budget=${budget:-64}
srcmib=$(du -m --apparent-size "$tmp/photo.heic" | cut -f1)
promise=$(awk -v b="$budget" -v s="$(stat -c %s "$tmp/photo.heic")" 'BEGIN{printf "%d", 192 + b*1e6*4/1048576 + 8*s/1048576}')
echo "HEIC under 8 concurrent (wrk -c8): $(rps <<<"$out") img/s $(errs <<<"$out")| peak RSS $peak MiB, budget promise $promise MiB (192 baseline + $budget MP x 4 B + 8 sources of ${srcmib} MiB): $(awk -v p="$peak" -v q="$promise" 'BEGIN{print (p <= q) ? "within" : "OVER"}')"
