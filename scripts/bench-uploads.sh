#!/usr/bin/env bash
# Issue 15's goal run: COUNT S3 upload events (default 1000) through SQS at
# RATE/s (default 50), each a 1920x1080 JPEG rendered to 3 presets
# (thumbnail, medium, large) and stored in S3 by an edgegate consuming the
# queue. Everything is its own and on loopback: a private versitygw (temp
# dir, free port), goaws (the SQS emulator) behind bench/sqsproxy (goaws
# speaks only the query protocol; the SDK the JSON one), a dead-letter
# queue after 3 receives, and the gateway. Then `loadtest uploads` puts the
# sources, sends the events at the rate (open loop) and prints the lag
# from each message to its last variant in S3, lost messages, variants
# stored, and the dead-letter queue's count; the HTML and JSON reports go
# to OUT (default .data/bench-uploads.{html,json}). Goal: 0 lost, every
# variant stored, 0 in the dead-letter queue but poison ones, p99 <= 2 s.
#   usage: scripts/bench-uploads.sh [COUNT=1000] [RATE=50] [loadtest uploads flags...]
#   e.g.   scripts/bench-uploads.sh 100 10                   # a small check
#          scripts/bench-uploads.sh 1000 50 --poison-every 100 --envelopes s3,sns,eventbridge
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-1000} rate=${2:-50}
shift $(($# < 2 ? $# : 2))
out=${OUT:-.data/bench-uploads}
bash scripts/deps.sh >/dev/null
gobin="$(go env GOBIN)"; [ -n "$gobin" ] || gobin="$(go env GOPATH)/bin"
tmp=$(mktemp -d)
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
source scripts/freeport.sh
free_port() { freeport || exit 1; }
wait_http() { # URL WHAT
  for _ in $(seq 1 200); do curl -fsS -o /dev/null "$1" 2>/dev/null && return; sleep 0.1; done
  echo "bench-uploads: $2 did not answer $1" >&2; exit 1
}
s3port=$(free_port) goawsport=$(free_port) sqsport=$(free_port) pubport=$(free_port) admport=$(free_port)
go build -o "$tmp/edgegate" ./cmd/edgegate
go build -o "$tmp/edgegate-demo" ./cmd/edgegate-demo
go build -o "$tmp/sqsproxy" ./bench/sqsproxy
go build -o "$tmp/loadtest" ./loadtest

bash scripts/s3.sh "127.0.0.1:$s3port" "$tmp/s3" "$tmp/vgw.pid" "$tmp/vgw.log"
pids+=("$(cat "$tmp/vgw.pid")")
"$tmp/edgegate-demo" seed --endpoint "http://127.0.0.1:$s3port" >/dev/null

account=100010001000
cat >"$tmp/goaws.yaml" <<YAML
Local:
  Host: 127.0.0.1
  Port: $goawsport
  Region: us-east-1
  AccountId: "$account"
  LogToFile: false
  EnableDuplicates: false
  QueueAttributeDefaults:
    VisibilityTimeout: 30
    ReceiveMessageWaitTimeSeconds: 0
    MaximumMessageSize: 262144
  Queues:
    - Name: uploads-dead
    - Name: uploads
      RedrivePolicy: '{"maxReceiveCount": 3, "deadLetterTargetArn":"arn:aws:sqs:us-east-1:$account:uploads-dead"}'
  Topics: []
YAML
"$gobin/goaws" -config "$tmp/goaws.yaml" Local >"$tmp/goaws.log" 2>&1 &
pids+=($!)
wait_http "http://127.0.0.1:$goawsport/health" goaws
"$tmp/sqsproxy" --listen "127.0.0.1:$sqsport" --upstream "http://127.0.0.1:$goawsport" &
pids+=($!)
queue="http://127.0.0.1:$goawsport/$account/uploads"
dead="http://127.0.0.1:$goawsport/$account/uploads-dead"

cat >"$tmp/edgegate.yaml" <<YAML
rules: $PWD/examples/rules.yaml
log: {format: text, level: warn}
s3: {endpoint: "http://127.0.0.1:$s3port", region: us-east-1, path_style: true, access_key: edgegate-demo, secret_key: edgegate-demo-secret}
events:
  eager: ["global/uploads/**"]
  sqs:
    - url: $queue
      endpoint: http://127.0.0.1:$sqsport
      wait_time: 1s
      visibility_timeout: 30s
YAML
VIPS_CONCURRENCY=1 MALLOC_ARENA_MAX=2 "$tmp/edgegate" serve --config "$tmp/edgegate.yaml" \
  --listen "127.0.0.1:$pubport" --admin-listen "127.0.0.1:$admport" &
pids+=($!)
wait_http "http://127.0.0.1:$admport/healthz" edgegate

mkdir -p "$(dirname "$out")"
AWS_ACCESS_KEY_ID=edgegate-demo AWS_SECRET_ACCESS_KEY=edgegate-demo-secret AWS_REGION=us-east-1 \
  "$tmp/loadtest" uploads --queue-url "$queue" --sqs-endpoint "http://127.0.0.1:$sqsport" --dead-letter-url "$dead" \
  --s3-endpoint "http://127.0.0.1:$s3port" --prefix global/uploads/bench/ \
  --count "$count" --rate "$rate" --width 1920 --height 1080 --presets thumbnail,medium,large \
  --json "$out.json" --report "$out.html" "$@"
echo "gateway: $(curl -s "http://127.0.0.1:$admport/metrics" | grep -E '^edgegate_(sqs_messages_total|variants_stored_total|images_rendered_total)' | tr '\n' ' ')"
