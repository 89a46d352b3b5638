# Sourced by the bench scripts: the shared start of a side-by-side run.
#   bench_setup PACKAGE...   installs the Debian packages that are missing
#     and edgegate's deps, fetches the GeoIP files, makes $tmp (removed on
#     exit with every pid in $pids killed), builds $tmp/edgegate and
#     $tmp/edgegate-demo, starts the demo S3 server on 127.0.0.1:7070 unless
#     one answers there, and seeds it.
bench_setup() {
  local p
  for p in "$@"; do
    dpkg -s "$p" >/dev/null 2>&1 || { apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$p" >/dev/null; }
  done
  bash scripts/deps.sh >/dev/null
  bash scripts/fetch-geoip.sh .data/geoip >/dev/null
  tmp=$(mktemp -d)
  pids=()
  trap bench_cleanup EXIT
  go build -ldflags "$(bash scripts/ldflags.sh)" -o "$tmp/edgegate" ./cmd/edgegate
  go build -o "$tmp/edgegate-demo" ./cmd/edgegate-demo
  if ! curl -fsS http://127.0.0.1:7070/health >/dev/null 2>&1; then
    bash scripts/s3.sh 127.0.0.1:7070 .data/s3 "$tmp/vgw.pid" "$tmp/vgw.log"
    pids+=("$(cat "$tmp/vgw.pid")")
  fi
  "$tmp/edgegate-demo" seed --endpoint http://127.0.0.1:7070 >/dev/null
}

bench_cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
