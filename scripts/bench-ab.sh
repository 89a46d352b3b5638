#!/usr/bin/env bash
# Before/after on the route path, in one sitting: builds edgegate at REV
# (in a temporary git worktree) and from the working tree, starts both on
# the demo config against the same S3, and alternates wrk rounds between
# them (A B B A, so drift and going first hit both) on the `?region=` path and the
# random-XFF GeoIP path (and, with PATHS, the image resize path: the
# variant cache off, 1920x1080 JPEG -> 300 w, wrk -c2 as make bench does).
# Prints each round and after/before ratios.
#   usage: scripts/bench-ab.sh REV [DURATION=10s] [ROUNDS=3] [PATHS="query geoip"]
#   e.g.   scripts/bench-ab.sh HEAD~1 8s 3 resize
# Needs: wrk (installed if missing), the GeoIP files, versitygw.
set -euo pipefail
cd "$(dirname "$0")/.."
rev=${1:?usage: scripts/bench-ab.sh REV [DURATION] [ROUNDS]}
dur=${2:-10s} rounds=${3:-3} paths=${4:-query geoip}
dpkg -s wrk >/dev/null 2>&1 || { apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
bash scripts/deps.sh >/dev/null
bash scripts/fetch-geoip.sh .data/geoip >/dev/null
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  git worktree remove --force "$tmp/before-src" >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT
git worktree add --detach "$tmp/before-src" "$rev" >/dev/null 2>&1
# The before server reads its own revision's config (a newer one may hold
# fields it does not know); its relative paths reach this tree's .data.
ln -s "$PWD/.data" "$tmp/before-src/.data"
(cd "$tmp/before-src" && go build -o "$tmp/before" ./cmd/edgegate)
go build -o "$tmp/after" ./cmd/edgegate
go build -o "$tmp/edgegate-demo" ./cmd/edgegate-demo
if ! curl -fsS http://127.0.0.1:7070/health >/dev/null 2>&1; then
  bash scripts/s3.sh 127.0.0.1:7070 .data/s3 "$tmp/vgw.pid" "$tmp/vgw.log"
  pids+=("$(cat "$tmp/vgw.pid")")
fi
"$tmp/edgegate-demo" seed --endpoint http://127.0.0.1:7070 >/dev/null
"$tmp/before" serve --config "$tmp/before-src/examples/edgegate.yaml" --listen 127.0.0.1:18180 --admin-listen 127.0.0.1:19180 --log-level warn &
pids+=($!)
"$tmp/after" serve --config examples/edgegate.yaml --listen 127.0.0.1:18181 --admin-listen 127.0.0.1:19181 --log-level warn &
pids+=($!)
export VIPS_CONCURRENCY=1 MALLOC_ARENA_MAX=2 # as scripts/run.sh
if [[ " $paths " == *" resize "* ]]; then
  "$tmp/before" serve --config "$tmp/before-src/bench/images-nocache.yaml" --listen 127.0.0.1:18182 --admin-listen 127.0.0.1:19182 &
  pids+=($!)
  "$tmp/after" serve --config bench/images-nocache.yaml --listen 127.0.0.1:18183 --admin-listen 127.0.0.1:19183 &
  pids+=($!)
fi
for port in 19180 19181 $([[ " $paths " == *" resize "* ]] && echo 19182 19183); do
  for _ in $(seq 1 100); do curl -fsS -o /dev/null "http://127.0.0.1:$port/readyz" 2>/dev/null && break; sleep 0.1; done
done
echo "before ($(git rev-parse --short "$rev")) and after ($(git rev-parse --short HEAD)$( [ -n "$(git status --porcelain -- '*.go')" ] && echo ' + uncommitted'))"
lua=bench/random-xff.lua
source scripts/wrk-round.sh
for port in 18180 18181; do wrk -t2 -c64 -d2s -s "$lua" "http://127.0.0.1:$port/r/map-tiles.zip" >/dev/null; done # warm-up
for r in $(seq 1 "$rounds"); do
  order="before:18180 after:18181"
  ((r % 2)) || order="after:18181 before:18180" # who goes first alternates too
  for path in $paths; do
    for s in $order; do
      case $path in
      query) run "${s%:*} query" "http://127.0.0.1:${s#*:}/r/map-tiles.zip?region=egypt-cairo" "$r" ;;
      geoip) run "${s%:*} geoip" "http://127.0.0.1:${s#*:}/r/map-tiles.zip" "$r" -s "$lua" ;;
      resize) run "${s%:*} resize" "http://127.0.0.1:$((${s#*:} + 2))/img/w300/photos/sample.jpg" "$r" -c2 ;;
      *) echo "unknown path $path (query, geoip, resize)" >&2; exit 2 ;;
      esac
    done
  done
done
for path in $paths; do
  awk -v b="${sum[before $path]}" -v a="${sum[after $path]}" -v r="$rounds" -v p="$path" \
    'BEGIN{printf "%s path mean: before %.0f req/s, after %.0f req/s, after/before %.3f\n", p, b/r, a/r, a/b}'
done
