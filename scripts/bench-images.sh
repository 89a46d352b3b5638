#!/usr/bin/env bash
# Image path, side by side in one sitting (alternating A B A B):
#  1. resize: bimg called directly (bench/bimgloop, 2 goroutines) vs
#     edgegate over HTTP with its variant cache off (wrk -t2 -c2), both
#     1920x1080 JPEG -> 300 px wide JPEG; images/s and the ratio.
#     edgegate's images/s are renders (edgegate_images_rendered_total over
#     the run), not wrk's requests: with the cache off the variant cache
#     still lets concurrent requests for one URL share a render, so
#     requests/s counted some images twice (986 requests, 494 renders).
#     scripts/bench-vipsthumb.sh spreads distinct keys and has the CPU.
#  2. AVIF vs JPEG for the same preset through edgegate (cache off).
#  3. cache hit: /img/thumbnail/photos/sample.jpg with wrk -t2 -c64.
#   usage: scripts/bench-images.sh [DURATION=10s] [ROUNDS=2]
set -euo pipefail
cd "$(dirname "$0")/.."
dur=${1:-10s} rounds=${2:-2}
secs=${dur%s}
source scripts/bench-setup.sh
bench_setup wrk
go build -o "$tmp/bimgloop" ./bench/bimgloop
export VIPS_CONCURRENCY=1 MALLOC_ARENA_MAX=2
"$tmp/edgegate" serve --config bench/images-nocache.yaml &
pids+=($!)
"$tmp/edgegate" serve --config examples/edgegate.yaml --listen 127.0.0.1:18090 --admin-listen 127.0.0.1:19091 --log-level warn &
pids+=($!)
for _ in $(seq 1 100); do
  curl -fsS -o /dev/null http://127.0.0.1:19090/healthz 2>/dev/null && curl -fsS -o /dev/null http://127.0.0.1:19091/healthz 2>/dev/null && break
  sleep 0.1
done
rps() { awk '/Requests\/sec/ {print $2}'; }
rendered() { curl -fsS http://127.0.0.1:19090/metrics | awk '$1 == "edgegate_images_rendered_total" {print $2}'; }
# renders/s during one wrk run: renders WRK-ARGS...
renders() {
  local before after
  before=$(rendered)
  wrk "$@" >/dev/null
  after=$(rendered)
  awk -v a="$before" -v b="$after" -v s="$secs" 'BEGIN{printf "%.2f", (b - a) / s}'
}
nocache=http://127.0.0.1:18080/img/w300/photos/sample.jpg
echo "edgegate (cache off): $(curl -s -o /dev/null -w '%{http_code} %{content_type} %{size_download} bytes X-Cache=' $nocache)$(curl -sI $nocache | awk -F': ' '/^X-Cache/ {print $2}')"
declare -A sum
for r in $(seq 1 "$rounds"); do
  for try in 1 2 3; do
    # bimg's pipeline now and then corrupts the heap (BENCHMARKS.md, "The
    # baseline crashed"): a crash measures nothing, so it runs again.
    if b=$("$tmp/bimgloop" -workers 2 -duration "$dur" 2>"$tmp/bimg.err"); then break; fi
    echo "bench-images: the bare bimg loop crashed ($(head -1 "$tmp/bimg.err")); run $try of 3" >&2
    [ "$try" -lt 3 ] || exit 1
  done
  e=$(renders -t2 -c2 -d"$dur" "$nocache")
  j=$(renders -t1 -c2 -d"$dur" -H 'Accept: image/jpeg' http://127.0.0.1:18080/img/medium/photos/sample.jpg)
  a=$(renders -t1 -c2 -d"$dur" -H 'Accept: image/avif' http://127.0.0.1:18080/img/medium/photos/sample.jpg)
  echo "round $r: bimg direct $b img/s | edgegate HTTP, cache off $e renders/s | medium JPEG $j renders/s, AVIF $a renders/s"
  sum[b]=$(awk -v x="${sum[b]:-0}" -v y="$b" 'BEGIN{print x+y}')
  sum[e]=$(awk -v x="${sum[e]:-0}" -v y="$e" 'BEGIN{print x+y}')
  sum[j]=$(awk -v x="${sum[j]:-0}" -v y="$j" 'BEGIN{print x+y}')
  sum[a]=$(awk -v x="${sum[a]:-0}" -v y="$a" 'BEGIN{print x+y}')
done
awk -v b="${sum[b]}" -v e="${sum[e]}" -v j="${sum[j]}" -v a="${sum[a]}" -v r="$rounds" 'BEGIN{
  printf "resize: edgegate/bimg = %.2f (%.1f vs %.1f img/s)\n", e/b, e/r, b/r
  printf "AVIF time / JPEG time (medium) = %.2f\n", j/a }'
hit=http://127.0.0.1:18090/img/thumbnail/photos/sample.jpg
curl -s -o /dev/null "$hit"
echo "cache hit: $(curl -sI "$hit" | awk -F': ' '/^X-Cache/ {print $2}' | tr -d '\r')"
for r in $(seq 1 "$rounds"); do
  echo "cache hit round $r: $(wrk -t2 -c64 -d"$dur" --latency "$hit" | awk '/Requests\/sec/ {r=$2} $1=="99%" {p=$2} END {printf "%s req/s, p99 %s", r, p}')"
done
