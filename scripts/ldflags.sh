#!/usr/bin/env bash
# Prints the -ldflags that stamp the build into cmd/edgegate, for every
# place that builds the binary (make build, scripts/run.sh, ...):
#   go build -ldflags "$(bash scripts/ldflags.sh)" -o bin/edgegate ./cmd/edgegate
# main.version: git describe --tags --always --dirty ("dev" outside a git
# checkout); main.commit: the full revision; main.date: the build time, UTC
# RFC 3339 (SOURCE_DATE_EPOCH's when set, for reproducible builds).
# `edgegate version` prints them.
set -euo pipefail
cd "$(dirname "$0")/.."
version=$(git describe --tags --always --dirty 2>/dev/null || echo dev)
commit=$(git rev-parse HEAD 2>/dev/null || true)
if [ -n "${SOURCE_DATE_EPOCH:-}" ]; then
  built=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)
else
  built=$(date -u +%Y-%m-%dT%H:%M:%SZ)
fi
echo "-X main.version=$version -X main.commit=$commit -X main.date=$built"
