#!/usr/bin/env bash
# The demo end to end (make test runs it last): starts scripts/run.sh (make
# run) in the background, waits until it says it is up, then checks what
# the README promises with real curl: plain HTTP on :8080, and HTTPS on
# :8443 with the certificate the local Pebble issued, verified against
# .data/tls/ca.pem, over HTTP/1.1 and HTTP/2, by name and by address, with
# HTTP/3 advertised; /debug/tls lists both ACME certificates. Then stops
# it. Bounded: 90 s for the start (binaries are built first), 10 s per
# check. Uses the demo's fixed ports, so a running `make run` fails it.
set -euo pipefail
cd "$(dirname "$0")/.."
for port in 8080 8443 9090 14000 15000; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "demo-test: 127.0.0.1:$port is in use (is make run up?)" >&2; exit 1
  fi
done
mkdir -p bin
go build -ldflags "$(bash scripts/ldflags.sh)" -o bin/edgegate ./cmd/edgegate
go build -o bin/edgegate-demo ./cmd/edgegate-demo
log=$(mktemp)
setsid bash scripts/run.sh >"$log" 2>&1 &
run=$!
stop() {
  kill -TERM "$run" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$run" 2>/dev/null || break; sleep 0.1; done
  kill -KILL -- "-$run" 2>/dev/null || true
  rm -f "$log"
}
trap stop EXIT
fail() { echo "demo-test: $*" >&2; echo "--- make run's output:" >&2; tail -50 "$log" >&2; exit 1; }
for i in $(seq 1 900); do
  grep -q '^edgegate is up' "$log" && break
  kill -0 "$run" 2>/dev/null || fail "make run exited"
  [ "$i" -lt 900 ] || fail "make run not up in 90 s"
  sleep 0.1
done
u='https://localhost:8443/r/map-tiles.zip?region=uk'
ca=(--cacert .data/tls/ca.pem --max-time 10)
# The README's line, as written there.
out=$(curl -si "${ca[@]}" "$u") || fail "curl $u: exit $?"
grep -q '^HTTP/2 302' <<<"$out" || fail "README curl: want HTTP/2 302, got: $(head -1 <<<"$out")"
grep -qi '^location: .*map-tiles\.zip' <<<"$out" || fail "README curl: no Location to map-tiles.zip"
grep -qi '^alt-svc: h3=":8443"' <<<"$out" || fail "README curl: HTTP/3 not advertised (Alt-Svc)"
want() { # WANT CURL-ARGS...: curl's "%{http_version} %{http_code}" must be WANT
  local w=$1 got; shift
  got=$(curl -sS -o /dev/null -w '%{http_version} %{http_code}' "$@") || fail "curl $*: exit $?"
  [ "$got" = "$w" ] || fail "curl $*: got '$got', want '$w'"
}
want "2 302" --http2 "${ca[@]}" "$u"
want "1.1 302" --http1.1 "${ca[@]}" "$u"
# By address: the certificate for 127.0.0.1 (no SNI). Issued alongside the
# one for localhost; give it the same bound.
for i in $(seq 1 100); do
  curl -fsS -o /dev/null "${ca[@]}" 'https://127.0.0.1:8443/r/map-tiles.zip?region=uk' 2>/dev/null && break
  [ "$i" -lt 100 ] || fail "https://127.0.0.1:8443: no verified answer in 10 s"
  sleep 0.1
done
want "2 302" --http2 "${ca[@]}" 'https://127.0.0.1:8443/r/map-tiles.zip?region=egypt-cairo'
# Plain HTTP keeps serving (tls.plain_http: serve), as the README's other lines use it.
want "1.1 302" --max-time 10 'http://127.0.0.1:8080/r/map-tiles.zip?region=uk-london'
want "1.1 200" --max-time 10 -H 'Accept: image/webp' 'http://127.0.0.1:8080/img/thumbnail/photos/sample.jpg'
dt=$(curl -fsS --max-time 10 http://127.0.0.1:9090/debug/tls) || fail "/debug/tls"
[ "$(grep -c '"source": "acme"' <<<"$dt")" = 2 ] && [ "$(grep -c '"issuer": "CN=Pebble' <<<"$dt")" = 2 ] &&
  ! grep -q '"error"' <<<"$dt" || fail "/debug/tls: want two ACME certificates from Pebble, no error: $dt"
# The access log (.data/access.log, JSON) has the line of an answer whose
# X-Request-Id was echoed.
rid=$(curl -sS -o /dev/null -D - --max-time 10 'http://127.0.0.1:8080/r/map-tiles.zip?region=uk' |
  tr -d '\r' | sed -n 's/^[Xx]-[Rr]equest-[Ii]d: //p')
[ -n "$rid" ] || fail "no X-Request-Id echoed"
for i in $(seq 1 100); do
  grep -q "\"request_id\":\"$rid\"" .data/access.log 2>/dev/null && break
  [ "$i" -lt 100 ] || fail ".data/access.log: no line for request $rid in 10 s"
  sleep 0.1
done
echo "demo-test: ok (make run serves HTTPS on :8443 with Pebble's certificate, HTTP/1.1 and HTTP/2; the access log in .data/access.log)" >&2
