#!/usr/bin/env bash
# Capacity figures of issue 12, each against a fresh demo gateway (the demo
# config, examples/edgegate.yaml, on its own ports 127.0.0.1:18470 public and
# :19470 admin, with its own versitygw on 127.0.0.1:17470 and data in a
# temporary directory, VIPS_CONCURRENCY=1 MALLOC_ARENA_MAX=2 as make run):
#
#   scripts/bench-capacity.sh idle   [CONNS=20000] [MAX=10000]
#       raise the open-file limit as far as the hard limit allows, hold CONNS
#       idle keep-alive connections (bench/idleconns hold: each sends one
#       cached /r/ and reads the answer, then stays open; 10 000 per client
#       process, spread over 50 source addresses each, 127.0.0.2 on, so no
#       address holds more than 200: under max_connections_per_ip's 256
#       even where the peer is not a trusted proxy), then time a /r/ on a new
#       connection, /healthz on a new admin connection and a cached /r/ on a
#       kept-alive one, 200 tries each (bench/idleconns measure); RSS and
#       edgegate_connections* before and after. Twice: the default config
#       (max_connections from the open-file limit), then max_connections: MAX.
#   scripts/bench-capacity.sh attack [DURATION=60s] [CONNS=64]
#       bench/variantattack: a 30 MiB zip, a 30 MiB octet-stream with a JPEG
#       header and 20 distinct 20 MP JPEGs under global/attack/, each asked
#       for as its 12 variants at once, over and over from CONNS connections;
#       VmRSS and the image metrics every second, answers by status (a 5xx
#       fails the run). Twice, each on a fresh gateway: the zip and the
#       octet-stream alone, then all 22 sources (KINDS='zip,fake jpeg' picks
#       other sets, one run per word; IMAGE_CACHE_BYTES=0 STORE_VARIANTS=false
#       set images.cache_bytes and images.store_variants: with neither the
#       variant cache nor the S3 write-back tier, every request renders).
#   scripts/bench-capacity.sh soak   [DURATION=10m] [RATE=300]
#       loadtest's mixed scenario (a rules reload every 5 s) at RATE req/s,
#       /metrics every 10 s: errors, RSS after warm-up (the first minute, or
#       the first sixth of a shorter run), goroutines.
#
# Runs as root to raise RLIMIT_NOFILE; elsewhere the soft limit is raised
# to the hard one. Results go to stdout; the raw files stay in OUT (default
# a temporary directory, removed) when OUT=DIR is set.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-}
shift || true
pub=127.0.0.1:18470 adm=127.0.0.1:19470 s3=127.0.0.1:17470
tmp=$(mktemp -d)
out=${OUT:-$tmp/out}
mkdir -p "$out"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ulimit -n "$(ulimit -Hn)" # the gateway's default max_connections follows it
bash scripts/deps.sh >/dev/null
bash scripts/fetch-geoip.sh .data/geoip >/dev/null
for b in edgegate edgegate-demo; do go build -o "$tmp/$b" "./cmd/$b"; done
go build -o "$tmp/idleconns" ./bench/idleconns
go build -o "$tmp/variantattack" ./bench/variantattack
go build -o "$tmp/loadtest" ./loadtest
bash scripts/s3.sh "$s3" "$tmp/s3" "$tmp/vgw.pid" "$tmp/vgw.log"
pids+=("$(cat "$tmp/vgw.pid")")
"$tmp/edgegate-demo" seed --endpoint "http://$s3" >/dev/null

gw=
# start_gateway [YAML_LINES]: a fresh gateway on the demo config plus the
# given top-level lines; sets gw to its pid.
start_gateway() {
  sed -e "s#http://127.0.0.1:7070#http://$s3#" -e "s#^rules: rules.yaml#rules: $PWD/examples/rules.yaml#" \
    -e "s#\.\./\.data/geoip#$PWD/.data/geoip#" -e "s#cache_bytes: 268435456#cache_bytes: ${IMAGE_CACHE_BYTES:-268435456}#" \
    -e "s#store_variants: true#store_variants: ${STORE_VARIANTS:-true}#" \
    examples/edgegate.yaml >"$tmp/edgegate.yaml"
  printf '%s\n' "${1:-}" >>"$tmp/edgegate.yaml"
  VIPS_CONCURRENCY=1 MALLOC_ARENA_MAX=2 "$tmp/edgegate" serve --config "$tmp/edgegate.yaml" \
    --listen "$pub" --admin-listen "$adm" --log-level warn 2>>"$out/edgegate.log" &
  gw=$!
  pids+=("$gw")
  for _ in $(seq 1 200); do curl -fsS -o /dev/null "http://$adm/healthz" 2>/dev/null && return; sleep 0.1; done
  echo "gateway did not start; log:" >&2; cat "$out/edgegate.log" >&2; exit 1
}
stop_gateway() { kill "$gw"; wait "$gw" 2>/dev/null || true; }
rss() { awk '/^VmRSS/ {printf "%.0f MiB", $2/1024}' "/proc/$1/status"; }

idle() {
  local conns=${1:-20000} max=${2:-10000}
  echo "open-file limit: $(ulimit -n) (hard $(ulimit -Hn)); $(nproc) cores, shared: latencies depend on CPU time"
  for cfg in "" "max_connections: $max"; do
    start_gateway "$cfg"
    curl -fsS -o /dev/null "http://$pub/r/map-tiles.zip?region=uk-london" # cached from now on
    echo "== ${cfg:-default config} ($(curl -fsS "http://$adm/metrics" | awk '$1=="edgegate_connections_max" {print "edgegate_connections_max " $2}')), $conns idle connections, gateway RSS $(rss "$gw") before"
    local holders=() left=$conns i=0
    while [ "$left" -gt 0 ]; do
      local n=$((left < 10000 ? left : 10000))
      "$tmp/idleconns" hold -addr "$pub" -n "$n" -src "127.0.0.$((2 + 50 * i))" -sources 50 >"$tmp/hold$i.log" &
      holders+=($!)
      pids+=($!)
      left=$((left - n)) i=$((i + 1))
    done
    for j in $(seq 0 $((i - 1))); do
      until grep -q '^ready' "$tmp/hold$j.log" 2>/dev/null; do sleep 0.2; done
      echo "holder $j: $(grep '^ready' "$tmp/hold$j.log")"
    done
    sleep 1
    "$tmp/idleconns" measure -addr "$pub" -admin "$adm" -pid "$gw" -tries 200 | tee -a "$out/idle.txt"
    for h in "${holders[@]}"; do kill -TERM "$h"; wait "$h" 2>/dev/null || true; done
    for j in $(seq 0 $((i - 1))); do echo "holder $j: $(grep '^final' "$tmp/hold$j.log") (still open when measured)"; done
    stop_gateway
  done
}

attack() {
  local dur=${1:-60s} conns=${2:-64}
  "$tmp/variantattack" seed -endpoint "http://$s3" -cache .data/bench-capacity
  echo "demo defaults: images.source_bytes_in_flight 256 MiB, images.cache_bytes 256 MiB, budget_megapixels 64, max_source_bytes 40 MiB"
  for kinds in ${KINDS:-zip,fake zip,fake,jpeg}; do
    start_gateway ""
    echo "== sources $kinds, $dur, $conns connections"
    "$tmp/variantattack" run -addr "$pub" -admin "$adm" -pid "$gw" -d "$dur" -conns "$conns" -sources "$kinds" | tee -a "$out/attack.txt"
    stop_gateway
  done
}

soak() {
  local dur=${1:-10m} rate=${2:-300}
  start_gateway ""
  echo "soak: mixed at $rate req/s for $dur ($(nproc) shared cores: latencies depend on CPU time)"
  # Public connections open (fasthttp, which serves /img/, runs a goroutine
  # per connection) beside loadtest's own samples.
  while sleep 10; do
    curl -fsS "http://$adm/metrics" 2>/dev/null | awk '$1=="edgegate_connections" {c=$2} $1=="go_goroutines" {g=$2} END {print c "/" g}'
  done >"$out/conns.txt" &
  local sampler=$!
  "$tmp/loadtest" --target "http://$pub" --scenario mixed --rate "$rate" --duration "$dur" --quiet \
    --watch-metrics "http://$adm" --metrics-every 10s --json "$out/soak.json" >"$out/soak.txt"
  kill "$sampler"
  stop_gateway
  cat "$out/soak.txt"
  echo "connections/goroutines every 10 s: $(tr '\n' ' ' <"$out/conns.txt")"
  jq -r '
    (.metrics | map(select(.rss_bytes != null))) as $m
    | ($m | length) as $n
    | ($m[-1].t_s) as $tend
    | (if $tend >= 360 then 60 else $tend / 6 end) as $warm
    | ($m | map(select(.t_s >= $warm))) as $w
    | "requests \(.total.requests), errors \(.total.errors), status \(.total.status | tostring)",
      "latency p50 \(.total.latency.p50_ms) ms, p99 \(.total.latency.p99_ms) ms, p99.9 \(.total.latency.p99_9_ms) ms",
      "reloads ok \(.reloads.ok // 0), failed \(.reloads.failed // 0)",
      "image hit ratio \(.by_request.images.hit_ratio // "n/a")",
      "RSS after warm-up (t >= \($warm | floor) s): min \($w | map(.rss_bytes) | min / 1048576 | floor) MiB, max \($w | map(.rss_bytes) | max / 1048576 | floor) MiB, last \($m[-1].rss_bytes / 1048576 | floor) MiB",
      "goroutines after warm-up: min \($w | map(.goroutines) | min), max \($w | map(.goroutines) | max)",
      "image cache max \($m | map(.image_cache_bytes // 0) | max / 1024 | floor) KiB; samples \($n)",
      "RSS by sample (MiB): \($m | map("\(.t_s | floor)s=\(.rss_bytes / 1048576 | floor)") | join(" "))",
      "goroutines by sample: \($m | map(.goroutines) | map(tostring) | join(" "))"
    ' "$out/soak.json"
  jq -e '.total.errors == 0' "$out/soak.json" >/dev/null
}

case "$mode" in
  idle) idle "$@" ;;
  attack) attack "$@" ;;
  soak) soak "$@" ;;
  *) echo "usage: scripts/bench-capacity.sh idle [CONNS] [MAX] | attack [DURATION] [CONNS] | soak [DURATION] [RATE]" >&2; exit 2 ;;
esac
