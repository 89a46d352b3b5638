#!/usr/bin/env bash
# make test: install what is missing, run the static checks (scripts/lint.sh,
# fast, so a format error fails first), start a private versitygw on a free
# loopback port with a temp dir, run every test with the race detector, run
# the packages that use the event loops once more in the build without them
# (-tags noevloop, what systems other than Linux get), stop the server, run
# the demo end to end (scripts/demo-test.sh: make run's HTTP and HTTPS), and
# exit non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh >/dev/null
bash scripts/lint.sh
# Real DB-IP City Lite files (CC BY 4.0) for the GeoIP tests, cached in .data/geoip.
bash scripts/fetch-geoip.sh .data/geoip >/dev/null
export EDGEGATE_GEOIP_DIR="$PWD/.data/geoip"
tmp=$(mktemp -d)
source scripts/freeport.sh
port=$(freeport)
bash scripts/s3.sh "127.0.0.1:$port" "$tmp/s3" "$tmp/versitygw.pid" "$tmp/versitygw.log"
cleanup() { kill "$(cat "$tmp/versitygw.pid")" 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT
export EDGEGATE_TEST_S3_ENDPOINT="http://127.0.0.1:$port"
go test -race -count=1 -timeout 20m "$@" ./...
# Allocation promises are exact only without the race detector (it makes
# sync.Pool drop items): run those tests once more without it.
go test -count=1 -run 'Alloc' ./...
# Without the event loops, fasthttp serves everything: the same tests must
# pass (those that need the loops are left out by their build tag).
noloops=(./gateway/ ./internal/evloop/ ./cmd/...)
go test -race -count=1 -timeout 20m -tags noevloop "$@" "${noloops[@]}"
go test -count=1 -run 'Alloc' -tags noevloop "${noloops[@]}"
# The Kubernetes manifests and the Helm chart (deploy/k8stest, its own Go
# module so that helm and k8s.io stay out of the gateway's go.mod): helm lint
# and helm template, every document decoded strictly into its Kubernetes type.
(cd deploy && go test -count=1 -timeout 10m ./...)
# The Dockerfile, parsed and linted by buildkit's own parser (no engine
# here), in its own module so that buildkit stays out of go.mod.
(cd packaging/dockerfile-test && go test -count=1 ./...)
# The .deb: built, installed with dpkg, started as its systemd unit would,
# answering /r/ and /img/ from this versitygw, reloaded, removed, purged.
bash scripts/package-test.sh
# The demo end to end: make run, then the README's curl lines over HTTP and
# HTTPS (HTTP/1.1, HTTP/2) with the certificate its local Pebble issued.
bash scripts/demo-test.sh
