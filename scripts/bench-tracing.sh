#!/usr/bin/env bash
# Tracing cost, side by side in one sitting: the same edgegate with
# tracing off, on at sample_ratio 0.01 (the goal: >= 0.97x off on the route
# path) and on at 1 (every request recorded, for scale), each exporting
# over OTLP/HTTP to bench/otlpsink (a real receiver that decodes and
# counts the spans: nothing is dropped for want of a collector).
#  1. route path: wrk -t2 -c64 on /r/ with ?region= and with GeoIP
#     (random X-Forwarded-For). Two gateways with tracing off (off, off2:
#     the A/A pair, what two identical processes differ by on this
#     machine), one at 0.01 and one at 0.0001 (the sampler's draw on every
#     request but almost no spans: separates the unsampled path's cost
#     from the 1 % of spans'), their order rotating each round so drift
#     hits each; the CPU each gateway spent per request beside its req/s;
#     ratio 1 last in each round, for scale.
#  2. image path: /img/w300/ with the variant cache off (every request
#     renders: HEAD, GET, probe, resize; bench/images-nocache.yaml),
#     wrk -t2 -c2, off against 0.01 (the goal: unchanged within noise).
#   usage: scripts/bench-tracing.sh [DURATION=10s] [ROUNDS=2] [all|route|images]
set -euo pipefail
cd "$(dirname "$0")/.."
dur=${1:-10s} rounds=${2:-2} part=${3:-all}
source scripts/bench-setup.sh
bench_setup wrk
go build -o "$tmp/otlpsink" ./bench/otlpsink
"$tmp/otlpsink" -addr 127.0.0.1:14318 &
pids+=($!)
# One config per variant: BASE with any tracing: section replaced (paths
# made absolute as scripts/run.sh does).
variant() { # BASE NAME RATIO(empty: off)
  awk '/^tracing:/ {skip=1; next} skip && /^[^ #]/ {skip=0} !skip' "$1" |
    sed -e "s|^rules: .*|rules: $PWD/examples/rules.yaml|" -e "s|\.\./\.data/|$PWD/.data/|g" >"$tmp/edgegate-$2.yaml"
  if [ -n "$3" ]; then
    printf 'tracing:\n  enabled: true\n  endpoint: http://127.0.0.1:14318\n  sample_ratio: %s\n' "$3" >>"$tmp/edgegate-$2.yaml"
  fi
}
variant examples/edgegate.yaml off ""
variant examples/edgegate.yaml off2 ""
variant examples/edgegate.yaml r001 0.01
variant examples/edgegate.yaml r00001 0.0001
variant examples/edgegate.yaml r1 1
variant bench/images-nocache.yaml img-off ""
variant bench/images-nocache.yaml img-r001 0.01
declare -A port=([off]=18080 [off2]=18081 [r001]=18082 [r00001]=18083 [r1]=18084 [img-off]=18086 [img-r001]=18088) spid
n=0
for v in off off2 r001 r00001 r1 img-off img-r001; do
  "$tmp/edgegate" serve --config "$tmp/edgegate-$v.yaml" --listen "127.0.0.1:${port[$v]}" \
    --admin-listen "127.0.0.1:$((19090 + n))" --log-level warn &
  pids+=($!)
  spid[$v]=$!
  n=$((n + 1))
done
for _ in $(seq 1 100); do
  ok=1
  for v in off off2 r001 r00001 r1 img-off img-r001; do
    curl -s -o /dev/null "http://127.0.0.1:${port[$v]}/r/x?region=egypt-cairo" 2>/dev/null || ok=0
  done
  [ "$ok" = 1 ] && break
  sleep 0.1
done
for v in off off2 r001 r00001 r1; do
  echo "$v: $(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' "http://127.0.0.1:${port[$v]}/r/map-tiles.zip?region=egypt-cairo" | cut -c1-80)..."
done
source scripts/wrk-round.sh
lua=bench/random-xff.lua
if [ "$part" != images ]; then
for v in off off2 r001 r00001 r1; do wrk -t2 -c64 -d2s -s "$lua" "http://127.0.0.1:${port[$v]}/r/map-tiles.zip" >/dev/null; done # warm-up
orders=("off off2 r001 r00001" "off2 r001 r00001 off" "r001 r00001 off off2" "r00001 off off2 r001")
for r in $(seq 1 "$rounds"); do
  for v in ${orders[$(((r - 1) % 4))]} r1; do # 1 runs last, its export after
    measured "$v query" "${spid[$v]}" "http://127.0.0.1:${port[$v]}/r/map-tiles.zip?region=egypt-cairo" "$r"
    measured "$v geoip" "${spid[$v]}" "http://127.0.0.1:${port[$v]}/r/map-tiles.zip" "$r" -s "$lua"
  done
done
for p in query geoip; do
  awk -v off="${sum[off $p]}" -v off2="${sum[off2 $p]}" -v a="${sum[r001 $p]}" -v z="${sum[r00001 $p]}" -v b="${sum[r1 $p]}" -v r="$rounds" -v p="$p" 'BEGIN{
    printf "route %s mean req/s: tracing off %.0f, off2 %.0f (A/A %.3fx), ratio 0.01 %.0f (%.3fx off, %.3fx the mean of off and off2), ratio 0.0001 %.0f (%.3fx the mean), ratio 1 %.0f (%.3fx)\n",
      p, off/r, off2/r, off2/off, a/r, a/off, 2*a/(off+off2), z/r, 2*z/(off+off2), b/r, b/off }'
  awk -v off="${cpu[off $p]}" -v off2="${cpu[off2 $p]}" -v a="${cpu[r001 $p]}" -v z="${cpu[r00001 $p]}" -v b="${cpu[r1 $p]}" -v r="$rounds" -v p="$p" 'BEGIN{
    printf "route %s mean CPU µs per request: tracing off %.2f, off2 %.2f, ratio 0.01 %.2f (off/0.01 %.3fx), ratio 0.0001 %.2f, ratio 1 %.2f (%.3fx)\n",
      p, off/r, off2/r, a/r, off/a, z/r, b/r, off/b }'
done
fi
[ "$part" = route ] && exit 0
export VIPS_CONCURRENCY=1 MALLOC_ARENA_MAX=2
for v in img-off img-r001; do
  u="http://127.0.0.1:${port[$v]}/img/w300/photos/sample.jpg"
  echo "$v: $(curl -s -o /dev/null -w '%{http_code} %{content_type} %{size_download} bytes' "$u")"
  wrk -t2 -c2 -d2s "$u" >/dev/null # warm-up
done
for r in $(seq 1 "$rounds"); do
  for v in img-off img-r001; do
    run "$v" "http://127.0.0.1:${port[$v]}/img/w300/photos/sample.jpg" "$r" -t2 -c2
  done
done
awk -v off="${sum[img-off]}" -v a="${sum[img-r001]}" -v r="$rounds" 'BEGIN{
  printf "image resize (cache off) mean img/s: tracing off %.1f, ratio 0.01 %.1f (%.3fx)\n", off/r, a/r, a/off }'
sleep 6 # the batch processors' last export (every 5s)
echo "otlpsink: $(curl -s http://127.0.0.1:14318/count)"
