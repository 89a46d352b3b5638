#!/usr/bin/env bash
# make package: build the edgegate binary with the version stamped in and
# wrap it, the systemd unit and /etc/edgegate/ into a .deb with nfpm
# (packaging/nfpm.yaml). Prints the .deb's path on stdout.
#   usage: scripts/package.sh [OUTDIR]   (default dist/)
# The Debian version comes from `git describe --tags`: v1.2.3 -> 1.2.3,
# v1.2.3-4-gabcdef0 -> 1.2.3+4.gabcdef0; with no tag,
# 0.0.0~git<commit time>.<hash>; a dirty tree adds +dirty<unix time> so
# that each rebuild is newer than the last.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-dist}
gobin="$(go env GOBIN)"; [ -n "$gobin" ] || gobin="$(go env GOPATH)/bin"
nfpm="$gobin/nfpm"
[ -x "$nfpm" ] || { bash scripts/deps.sh >/dev/null; }

debversion() {
  local d v
  if d=$(git describe --tags --match 'v[0-9]*' 2>/dev/null); then
    v=${d#v}
    # v1.2.3-4-gabcdef0 -> 1.2.3+4.gabcdef0 (newer than 1.2.3, older than 1.2.4)
    if [[ $v =~ ^(.*)-([0-9]+)-(g[0-9a-f]+)$ ]]; then
      v="${BASH_REMATCH[1]}+${BASH_REMATCH[2]}.${BASH_REMATCH[3]}"
    fi
    v=${v//-/\~}   # 1.2.3-rc1 -> 1.2.3~rc1 (older than 1.2.3)
  else
    v="0.0.0~git$(TZ=UTC git log -1 --format=%cd --date=format-local:%Y%m%d%H%M%S).$(git rev-parse --short=12 HEAD)"
  fi
  if [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then
    v="$v+dirty$(date +%s)"
  fi
  echo "$v"
}

if [ -x scripts/ldflags.sh ] || [ -f scripts/ldflags.sh ]; then
  ldflags=$(bash scripts/ldflags.sh)
else
  ldflags="-X main.version=$(git describe --tags --always --dirty)"
fi
arch=$(go env GOARCH)
build=$(mktemp -d)
trap 'rm -rf "$build"' EXIT
CGO_ENABLED=1 go build -ldflags "-s -w $ldflags" -o "$build/edgegate" ./cmd/edgegate

mkdir -p "$out"
export EDGEGATE_BIN="$build/edgegate" EDGEGATE_ARCH="$arch" EDGEGATE_DEB_VERSION
EDGEGATE_DEB_VERSION=$(debversion)
deb="$out/edgegate_${EDGEGATE_DEB_VERSION}_${arch}.deb"
"$nfpm" package --config packaging/nfpm.yaml --packager deb --target "$deb" >&2
echo "$deb"
