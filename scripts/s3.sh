#!/usr/bin/env bash
# Starts the local S3 server (versitygw) in the background and waits until
# it is healthy.  usage: scripts/s3.sh ADDR DATA_DIR PIDFILE LOGFILE
# Demo-only credentials: edgegate-demo / edgegate-demo-secret.
set -euo pipefail
addr=$1 dir=$2 pidfile=$3 log=$4
gobin="$(go env GOBIN)"; [ -n "$gobin" ] || gobin="$(go env GOPATH)/bin"
mkdir -p "$dir"
if curl -fsS "http://$addr/health" >/dev/null 2>&1; then
  echo "s3: already running at $addr" >&2
  exit 0
fi
"$gobin/versitygw" --port "$addr" --access edgegate-demo --secret edgegate-demo-secret \
  --region us-east-1 --keep-alive --health /health posix "$dir" >"$log" 2>&1 &
echo $! >"$pidfile"
for _ in $(seq 1 200); do
  if curl -fsS "http://$addr/health" >/dev/null 2>&1; then
    echo "s3: versitygw up at $addr (pid $(cat "$pidfile"), data $dir)" >&2
    exit 0
  fi
  if ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    echo "s3: versitygw exited; log:" >&2; cat "$log" >&2; exit 1
  fi
  sleep 0.1
done
echo "s3: versitygw not healthy after 20s; log:" >&2; cat "$log" >&2
exit 1
