#!/usr/bin/env bash
# Installs what edgegate needs on Debian 12, skipping what is there:
# apt packages (libvips for images, pebble, the ACME test CA, for the
# certificate tests and the demo's HTTPS), versitygw, the
# local S3 server, goaws, the SQS emulator, and staticcheck for
# scripts/lint.sh, and nfpm for make package. Safe to run again.
set -euo pipefail
VERSITYGW_VERSION=v1.8.0
# staticcheck 2026.2.2; a release understands the Go versions up to its own
# (this one Go 1.26): move it with go.mod's go line.
STATICCHECK_VERSION=v0.8.2
# h2spec, the HTTP/2 conformance suite internal/h2serve's tests run.
H2SPEC_VERSION=v2.2.1+incompatible
# goaws, the SQS emulator the queue and gateway SQS tests start
# (internal/testenv NewSQS); its command is named cmd, installed as goaws.
GOAWS_VERSION=v0.4.5
# nfpm, the .deb builder of make package (scripts/package.sh); its CLI, so
# that it stays out of the gateway's go.mod.
NFPM_VERSION=v2.45.2

need_apt=()
# chromium + chromium-driver: the console's browser tests (console/browser_test.go).
# strace: scripts/package-test.sh records the system calls the packaged
# gateway makes, to check them against its unit's SystemCallFilter=;
# systemd for its systemd-analyze (verify, security, syscall-filter).
# libheif-examples (heif-enc) and libvips-tools (the vips CLI): the HEIC
# and animated WebP fixtures of internal/testimages/inputs.go, and the vips
# side of scripts/bench-images2.sh.
for p in libvips-dev pkg-config pebble chromium chromium-driver strace systemd libheif-examples libvips-tools; do
  dpkg -s "$p" >/dev/null 2>&1 || need_apt+=("$p")
done
if ((${#need_apt[@]})); then
  echo "deps: installing ${need_apt[*]}" >&2
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

gobin="$(go env GOBIN)"; [ -n "$gobin" ] || gobin="$(go env GOPATH)/bin"
if ! [ -x "$gobin/versitygw" ] || ! go version -m "$gobin/versitygw" 2>/dev/null | grep -qE "^\s+mod\s+github.com/versity/versitygw\s+$VERSITYGW_VERSION"; then
  echo "deps: installing versitygw $VERSITYGW_VERSION (a few minutes the first time)" >&2
  go install "github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION"
fi
if ! [ -x "$gobin/staticcheck" ] || ! go version -m "$gobin/staticcheck" 2>/dev/null | grep -qE "^\s+mod\s+honnef.co/go/tools\s+$STATICCHECK_VERSION\s"; then
  echo "deps: installing staticcheck $STATICCHECK_VERSION" >&2
  go install "honnef.co/go/tools/cmd/staticcheck@$STATICCHECK_VERSION"
fi
if ! [ -x "$gobin/h2spec" ]; then
  echo "deps: installing h2spec $H2SPEC_VERSION" >&2
  go install "github.com/summerwind/h2spec/cmd/h2spec@$H2SPEC_VERSION"
fi
if ! [ -x "$gobin/goaws" ] || ! go version -m "$gobin/goaws" 2>/dev/null | grep -qE "^\s+mod\s+github.com/Admiral-Piett/goaws\s+$GOAWS_VERSION\s"; then
  echo "deps: installing goaws $GOAWS_VERSION" >&2
  tmpbin=$(mktemp -d)
  GOBIN="$tmpbin" go install "github.com/Admiral-Piett/goaws/app/cmd@$GOAWS_VERSION"
  mkdir -p "$gobin"
  mv "$tmpbin/cmd" "$gobin/goaws"
  rmdir "$tmpbin"
fi
if ! [ -x "$gobin/nfpm" ] || ! go version -m "$gobin/nfpm" 2>/dev/null | grep -qE "^\s+mod\s+github.com/goreleaser/nfpm/v2\s+$NFPM_VERSION\s"; then
  echo "deps: installing nfpm $NFPM_VERSION" >&2
  go install "github.com/goreleaser/nfpm/v2/cmd/nfpm@$NFPM_VERSION"
fi
echo "$gobin/versitygw"
