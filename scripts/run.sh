#!/usr/bin/env bash
# make run: install what is missing, build, start the local S3 server on
# 127.0.0.1:7070 (data in .data/s3), seed the demo, and run the gateway in
# the foreground on 127.0.0.1:8080 (public) and 127.0.0.1:9090 (admin).
# Ctrl-C stops everything this script started.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh >/dev/null
bash scripts/fetch-geoip.sh .data/geoip >/dev/null   # DB-IP City Lite, CC BY 4.0
mkdir -p .data bin
go build -o bin/edgegate ./cmd/edgegate
go build -o bin/edgegate-demo ./cmd/edgegate-demo
started=""
if ! curl -fsS http://127.0.0.1:7070/health >/dev/null 2>&1; then
  bash scripts/s3.sh 127.0.0.1:7070 .data/s3 .data/versitygw.pid .data/versitygw.log
  started=$(cat .data/versitygw.pid)
fi
cleanup() { if [ -n "$started" ]; then kill "$started" 2>/dev/null || true; fi; }
trap cleanup EXIT INT TERM
bin/edgegate-demo seed --endpoint http://127.0.0.1:7070
echo "try: curl -si '127.0.0.1:8080/r/map-tiles.zip?region=uk-london'" >&2
bin/edgegate serve --config examples/edgegate.yaml "$@" &
gw=$!
trap 'kill -TERM $gw 2>/dev/null || true' INT TERM
wait $gw || true
wait $gw 2>/dev/null || true
