#!/usr/bin/env bash
# make run: install what is missing, build, start a local ACME CA (Pebble,
# scripts/pebble.sh; its root in .data/tls/ca.pem), start the gateway on
# 127.0.0.1:8080 (plain HTTP), 127.0.0.1:8443 (HTTPS: HTTP/1.1, HTTP/2, and
# HTTP/3 on UDP) and 127.0.0.1:9090 (admin), start the local S3 server on
# 127.0.0.1:7070 (data in .data/s3) posting upload events to the gateway,
# seed the demo, wait for the certificate, and stay in the foreground.
# Ctrl-C stops everything this script started.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh >/dev/null
bash scripts/fetch-geoip.sh .data/geoip >/dev/null   # DB-IP City Lite, CC BY 4.0
mkdir -p .data bin
go build -ldflags "$(bash scripts/ldflags.sh)" -o bin/edgegate ./cmd/edgegate
go build -o bin/edgegate-demo ./cmd/edgegate-demo
pids=()
cleanup() { for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
trap 'exit 130' INT TERM
# HTTPS: examples/edgegate.yaml (which stays plain, so `edgegate check`
# passes before any of this exists) plus listen_tls and a tls section with
# ACME from the local Pebble, written to .data/tls/edgegate.yaml with the
# example's relative paths made absolute. Certificates for localhost and
# 127.0.0.1, HTTP-01 through :8080 or TLS-ALPN-01 through :8443. The ACME
# storage is a directory, emptied at each start: Pebble forgets its
# accounts and makes a new root every start, so a kept certificate would
# chain to a root no client has; issuance takes about a second.
rm -rf .data/tls/acme
bash scripts/pebble.sh .data/tls 8080 8443 .data/tls/pebble.pid .data/pebble.log
pids+=("$(cat .data/tls/pebble.pid)")
# The JSON access log goes to .data/access.log (reopened on SIGUSR1) and
# answers echo X-Request-Id.
sed -e "s|^rules: .*|rules: $PWD/examples/rules.yaml|" -e "s|\.\./\.data/|$PWD/.data/|g" \
  -e "s|^  enabled: false\( *# access_log.enabled\)|  enabled: true \1|" \
  -e "s|^  output: stdout |  output: $PWD/.data/access.log |" \
  -e "s|^  request_id: false\( *# access_log.request_id\)|  request_id: true \1|" \
  examples/edgegate.yaml >.data/tls/edgegate.yaml
cat >>.data/tls/edgegate.yaml <<'YAML'

# Added by scripts/run.sh: HTTPS with a certificate from the local Pebble.
listen_tls: 127.0.0.1:8443
tls:
  plain_http: serve          # :8080 keeps serving plain HTTP (and ACME HTTP-01)
  http3: true                # HTTP/3 on UDP 127.0.0.1:8443, advertised with Alt-Svc
  acme:
    names: [localhost, 127.0.0.1]
    email: demo@edgegate.localhost   # an account contact; without one, certmagic v0.25.6 can
                                     # register "mailto:default" when two names start at once
    ca: https://127.0.0.1:14000/dir
    ca_root: pebble-ca.pem   # signs Pebble's own HTTPS certificate (relative to this file)
    storage:
      dir: acme              # .data/tls/acme
YAML
# The gateway before S3: versitygw checks its event webhook when it starts.
bin/edgegate serve --config .data/tls/edgegate.yaml "$@" &
gw=$!
pids+=("$gw")
for _ in $(seq 1 100); do curl -fsS -o /dev/null http://127.0.0.1:9090/healthz 2>/dev/null && break; sleep 0.1; done
if ! curl -fsS http://127.0.0.1:7070/health >/dev/null 2>&1; then
  mkdir -p .data/s3
  gobin="$(go env GOBIN)"; [ -n "$gobin" ] || gobin="$(go env GOPATH)/bin"
  "$gobin/versitygw" --port 127.0.0.1:7070 --access edgegate-demo --secret edgegate-demo-secret \
    --region us-east-1 --keep-alive --health /health \
    --event-webhook-url http://127.0.0.1:9090/events/s3 posix .data/s3 >.data/versitygw.log 2>&1 &
  pids+=($!)
  for _ in $(seq 1 200); do curl -fsS http://127.0.0.1:7070/health >/dev/null 2>&1 && break; sleep 0.1; done
fi
bin/edgegate-demo seed --endpoint http://127.0.0.1:7070
# Both certificates (by name and by address; about a second apart).
for _ in $(seq 1 300); do
  curl -fsS -o /dev/null --cacert .data/tls/ca.pem 'https://localhost:8443/r/map-tiles.zip?region=uk' 2>/dev/null &&
    curl -fsS -o /dev/null --cacert .data/tls/ca.pem 'https://127.0.0.1:8443/r/map-tiles.zip?region=uk' 2>/dev/null && break
  sleep 0.1
done
cat >&2 <<'TXT'
edgegate is up. Try:
  curl -si '127.0.0.1:8080/r/map-tiles.zip?region=uk-london'
  curl -si --cacert .data/tls/ca.pem 'https://localhost:8443/r/map-tiles.zip?region=uk'
  curl -so thumb.webp -H 'Accept: image/webp' '127.0.0.1:8080/img/thumbnail/photos/sample.jpg'
Console (explain, rules, GeoIP map, live metrics, image renders):
  http://127.0.0.1:9090/#explain?key=photos/sample.jpg&ip=156.173.10.20
Ctrl-C stops everything.
TXT
wait "$gw"
