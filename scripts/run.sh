#!/usr/bin/env bash
# make run: install what is missing, build, start the gateway on
# 127.0.0.1:8080 (public) and 127.0.0.1:9090 (admin), start the local S3
# server on 127.0.0.1:7070 (data in .data/s3) posting upload events to the
# gateway, seed the demo, and stay in the foreground. Ctrl-C stops
# everything this script started.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh >/dev/null
bash scripts/fetch-geoip.sh .data/geoip >/dev/null   # DB-IP City Lite, CC BY 4.0
mkdir -p .data bin
go build -o bin/edgegate ./cmd/edgegate
go build -o bin/edgegate-demo ./cmd/edgegate-demo
pids=()
cleanup() { for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
trap 'exit 130' INT TERM
# libvips: one worker thread per image (edgegate runs images in parallel
# itself) and few malloc arenas, so RSS stays flat under load.
export VIPS_CONCURRENCY="${VIPS_CONCURRENCY:-1}" MALLOC_ARENA_MAX="${MALLOC_ARENA_MAX:-2}"
# The gateway first: versitygw checks its event webhook when it starts.
bin/edgegate serve --config examples/edgegate.yaml "$@" &
pids+=($!)
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
cat >&2 <<'TXT'
edgegate is up. Try:
  curl -si '127.0.0.1:8080/r/map-tiles.zip?region=uk-london'
  curl -so thumb.webp -H 'Accept: image/webp' '127.0.0.1:8080/img/thumbnail/photos/sample.jpg'
Ctrl-C stops everything.
TXT
wait "${pids[0]}"
