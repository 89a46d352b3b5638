#!/usr/bin/env bash
# make test's package test (scripts/test.sh runs it; as root on Debian 12):
# build the .deb (scripts/package.sh), check what it declares, install it
# with dpkg -i, check the installed files where the unit expects them,
# verify the unit (systemd-analyze), run `edgegate check` on the installed
# config, start the installed binary the way the unit's ExecStart does (its
# arguments, its EnvironmentFile, LimitNOFILE, an unprivileged uid with no
# capabilities and no new privileges, a minimal environment, cwd /, the
# kernel's PR_SET_MDWE for MemoryDenyWriteExecute=, under strace) pointed
# at the test's S3 server, answer /r/ (302 to the object, which the URL
# then fetches), /img/ (a WebP from libvips), /healthz and `edgegate
# health`, reload on SIGHUP, stop on SIGTERM, check the system calls and
# socket families it used against the unit's filters, then dpkg -r and
# dpkg -P and check nothing is left.
#   usage: scripts/package-test.sh   (S3: $EDGEGATE_TEST_S3_ENDPOINT, else
#   a private versitygw is started)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
fail() { echo "package-test: FAIL: $*" >&2; exit 1; }
say() { echo "package-test: $*" >&2; }
[ "$(id -u)" = 0 ] || fail "must run as root (dpkg -i, setpriv to another uid)"

# One package test at a time on a machine (dpkg's lock is not a queue).
exec 9>/run/lock/edgegate-package-test.lock
flock -w 300 9 || fail "another package test holds /run/lock/edgegate-package-test.lock"

tmp=$(mktemp -d)
pid=""
# The test config a binary without EDGEGATE_* overrides gets (below); a
# failed run's is removed here and at exit, so that purge can check /etc.
testcfg_path=/etc/edgegate/edgegate-package-test.yaml
rm -f "$testcfg_path"
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  [ -f "$tmp/s3.pid" ] && kill "$(cat "$tmp/s3.pid")" 2>/dev/null || true
  rm -f "$testcfg_path"
  if dpkg -s edgegate >/dev/null 2>&1; then dpkg -P edgegate >/dev/null 2>&1 || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

# dpkg refuses at once while apt-get or another dpkg holds its lock (on a
# shared machine): wait for it, up to a minute.
dpkg_() {
  local i
  for i in $(seq 1 30); do
    if dpkg "$@" >"$tmp/dpkg.log" 2>&1; then return 0; fi
    grep -qi 'lock' "$tmp/dpkg.log" || return 1
    sleep 2
  done
  return 1
}

source scripts/freeport.sh

s3=${EDGEGATE_TEST_S3_ENDPOINT:-}
if [ -z "$s3" ]; then
  p=$(freeport)
  bash scripts/s3.sh "127.0.0.1:$p" "$tmp/s3" "$tmp/s3.pid" "$tmp/s3.log"
  s3="http://127.0.0.1:$p"
fi
s3key=edgegate-demo s3secret=edgegate-demo-secret   # scripts/s3.sh's test credentials

if dpkg -s edgegate >/dev/null 2>&1; then
  say "edgegate is installed already ($(dpkg-query -W -f '${Version}' edgegate)); the test replaces and then purges it"
fi

# --- build and inspect the package ---------------------------------------
deb=$(bash scripts/package.sh "$tmp/dist")
[ -s "$deb" ] || fail "scripts/package.sh made no .deb"
say "built $(basename "$deb") ($(du -k "$deb" | cut -f1) KiB)"
depends=$(dpkg-deb -f "$deb" Depends)
for d in 'libvips42 (>= 8.14)' 'ca-certificates' 'libc6 (>= '; do
  [[ $depends == *"$d"* ]] || fail "Depends: $depends lacks $d"
done
dpkg-deb -e "$deb" "$tmp/control"
for f in /etc/edgegate/edgegate.yaml /etc/edgegate/rules.yaml /etc/edgegate/edgegate.env; do
  grep -qx "$f" "$tmp/control/conffiles" || fail "$f is not a conffile: $(cat "$tmp/control/conffiles")"
done
for s in postinst prerm postrm; do [ -x "$tmp/control/$s" ] || fail "no $s script"; done

# --- install -------------------------------------------------------------
if ! dpkg_ -i "$deb"; then
  say "dpkg -i left dependencies unmet; apt-get install -f"
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=120 install -f -y -qq >>"$tmp/dpkg.log" 2>&1 || { cat "$tmp/dpkg.log" >&2; fail "apt-get install -f"; }
fi
[ "$(dpkg-query -W -f '${Status}' edgegate)" = "install ok installed" ] || { cat "$tmp/dpkg.log" >&2; fail "not installed"; }

unit=/lib/systemd/system/edgegate.service
[ -f "$unit" ] || fail "$unit missing"
# The unit's own settings drive the rest of the test.
unitval() { sed -n "s/^$1=//p" "$unit" | tail -1; }
execstart=$(unitval ExecStart)
envfile=$(unitval EnvironmentFile); envfile=${envfile#-}
nofile=$(unitval LimitNOFILE)
[ -n "$execstart" ] && [ -n "$envfile" ] && [ -n "$nofile" ] || fail "unit lacks ExecStart, EnvironmentFile or LimitNOFILE"
grep -qx 'DynamicUser=yes' "$unit" || fail "unit is not DynamicUser=yes"
read -r -a argv <<<"$execstart"
bin=${argv[0]}
config=""
for ((i = 1; i < ${#argv[@]}; i++)); do [ "${argv[i]}" = --config ] && config=${argv[i+1]}; done
[ -x "$bin" ] || fail "ExecStart's $bin is not an executable"
[ -f "$config" ] || fail "ExecStart's --config $config missing"
[ -f /etc/edgegate/rules.yaml ] || fail "/etc/edgegate/rules.yaml missing"
[ "$(stat -c '%a %U' "$envfile")" = "600 root" ] || fail "$envfile: mode/owner $(stat -c '%a %U' "$envfile"), want 600 root"
[ -f /usr/share/doc/edgegate/copyright ] || fail "no copyright file"
ldd "$bin" >"$tmp/ldd.txt"
if grep -q 'not found' "$tmp/ldd.txt"; then cat "$tmp/ldd.txt" >&2; fail "$bin has unresolved libraries"; fi
grep -q 'libvips.so.42' "$tmp/ldd.txt" || fail "$bin does not link libvips.so.42"
# libc6 (>= X) must cover the newest glibc symbol version the binary uses.
need=$(objdump -T "$bin" | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -V | tail -1)
have=$(sed -n 's/.*libc6 (>= \([0-9.]*\)).*/\1/p' <<<"$depends")
[ "$(printf '%s\n%s\n' "$need" "$have" | sort -V | tail -1)" = "$have" ] || fail "binary needs GLIBC_$need, Depends says libc6 (>= $have)"
# The version is stamped in (scripts/ldflags.sh): this tree's commit.
"$bin" version >"$tmp/version.txt" || fail "$bin version"
grep -qx "commit   $(git rev-parse HEAD)" "$tmp/version.txt" || { cat "$tmp/version.txt" >&2; fail "the packaged binary is not stamped with commit $(git rev-parse HEAD)"; }
grep -q '^libvips  8\.' "$tmp/version.txt" || { cat "$tmp/version.txt" >&2; fail "edgegate version names no libvips"; }

# --- the unit file -------------------------------------------------------
if command -v systemd-analyze >/dev/null; then
  # verify loads it as systemd would (unknown settings, bad paths, man pages).
  SYSTEMD_LOG_LEVEL=warning systemd-analyze verify "$unit" >"$tmp/verify.log" 2>&1 || { cat "$tmp/verify.log" >&2; fail "systemd-analyze verify"; }
  if [ -s "$tmp/verify.log" ]; then cat "$tmp/verify.log" >&2; fail "systemd-analyze verify warned"; fi
  # The hardening, scored offline: "OK" is below 2.0 (10 = fully exposed).
  systemd-analyze security --offline=true --threshold=20 "$unit" >"$tmp/security.log" 2>&1 || { cat "$tmp/security.log" >&2; fail "systemd-analyze security: exposure above 2.0"; }
  say "systemd-analyze: $(grep -o 'Overall exposure level.*' "$tmp/security.log")"
else
  fail "systemd-analyze not found (Debian 12 has it in the systemd package)"
fi

# --- edgegate check on the installed config ------------------------------
"$bin" check --config "$config" >"$tmp/check.log" 2>&1 || { cat "$tmp/check.log" >&2; fail "edgegate check --config $config"; }
say "$(cat "$tmp/check.log" | tail -1)"

# --- S3: the bucket and objects the installed rules route to -------------
bucket=$(sed -n 's/.*bucket: *\([a-z0-9.-]*\).*/\1/p' /etc/edgegate/rules.yaml | head -1)
[ -n "$bucket" ] || fail "no bucket in /etc/edgegate/rules.yaml"
s3curl() { curl -fsS --aws-sigv4 "aws:amz:us-east-1:s3" --user "$s3key:$s3secret" -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' "$@"; }
s3curl -X PUT "$s3/$bucket" -o /dev/null 2>/dev/null || s3curl -I "$s3/$bucket" -o /dev/null || fail "cannot create bucket $bucket at $s3"
echo "global copy $$" >"$tmp/global.txt"
echo "eu copy $$" >"$tmp/eu.txt"
key="package-test/$$/notes.txt"
s3curl -X PUT --data-binary @"$tmp/global.txt" "$s3/$bucket/global/$key" -o /dev/null || fail "PUT global/$key"
s3curl -X PUT --data-binary @"$tmp/eu.txt" "$s3/$bucket/eu/$key" -o /dev/null || fail "PUT eu/$key"

# --- start it as the unit would ------------------------------------------
port=$(freeport) admin=$(freeport)
while [ "$admin" = "$port" ]; do admin=$(freeport); done
cp "$envfile" "$tmp/envfile.orig"
cat >>"$envfile" <<EOT
EDGEGATE_S3_ACCESS_KEY=$s3key
EDGEGATE_S3_SECRET_KEY=$s3secret
EOT
# Other settings through EDGEGATE_* overrides in the EnvironmentFile when
# the binary has them; else a test config beside the installed one.
if EDGEGATE_LISTEN=not-an-address "$bin" check --config "$config" >/dev/null 2>&1; then
  say "NOTE: this binary ignores EDGEGATE_LISTEN (no env overrides yet): using a test config beside $config"
  testcfg=$testcfg_path
  sed -e "s|^listen:.*|listen: 127.0.0.1:$port|" -e "s|^admin_listen:.*|admin_listen: 127.0.0.1:$admin|" \
      -e "s|^  region: us-east-1|  region: us-east-1\n  endpoint: $s3\n  path_style: true|" "$config" >"$testcfg"
  for ((i = 1; i < ${#argv[@]}; i++)); do [ "${argv[i-1]}" = --config ] && argv[i]=$testcfg; done
  config=$testcfg
else
  cat >>"$envfile" <<EOT
EDGEGATE_S3_ENDPOINT=$s3
EDGEGATE_S3_PATH_STYLE=true
EDGEGATE_LISTEN=127.0.0.1:$port
EDGEGATE_ADMIN_LISTEN=127.0.0.1:$admin
EOT
fi
# systemd's EnvironmentFile: KEY=VALUE lines, # and ; comments.
envargs=()
while IFS= read -r line || [ -n "$line" ]; do
  case "$line" in ''|'#'*|';'*) continue ;; esac
  envargs+=("$line")
done <"$envfile"
uid=61999   # in systemd's DynamicUser range (61184-65519), no such user here
# MemoryDenyWriteExecute=yes: the kernel's PR_SET_MDWE stands in for
# systemd's seccomp filter (packaging/mdwe); an /img/ request below renders
# under it (liborc's generated code is off by default, images.vips_vector).
grep -qx 'MemoryDenyWriteExecute=yes' "$unit" || fail "unit lacks MemoryDenyWriteExecute=yes"
go build -o "$tmp/mdwe" ./packaging/mdwe
# SystemCallFilter= and RestrictAddressFamilies=: strace records every
# system call and socket family the gateway uses (checked after it stops).
chmod 711 "$tmp"
install -m 0644 -o $uid /dev/null "$tmp/strace.log"
# LimitNOFILE: systemd (PID 1) may raise the hard limit; this shell may not
# (no CAP_SYS_RESOURCE in a sandbox): then the hard limit it has.
hard=$(ulimit -Hn)
if [ "$hard" != unlimited ] && [ "$hard" -lt "$nofile" ]; then
  say "NOTE: hard RLIMIT_NOFILE here is $hard, below the unit's LimitNOFILE=$nofile: testing with $hard"
  nofile=$hard
fi
# ProtectSystem=strict and PrivateTmp=: in a mount namespace of its own the
# whole file system is read-only but a fresh /tmp, noexec as on many hosts
# (it hides $tmp: the strace log is reached through an inherited
# descriptor), and the unit's State/Cache/LogsDirectory, writable by uid.
rofs='mount --bind / / && mount -o remount,bind,ro / && mount -t tmpfs -o nosuid,nodev,noexec,mode=1777 tmpfs /tmp'
for d in StateDirectory:/var/lib CacheDirectory:/var/cache LogsDirectory:/var/log; do
  name=$(unitval "${d%%:*}")
  [ -n "$name" ] || continue
  mkdir -p "${d#*:}/$name"
  rofs="$rofs && mount -t tmpfs -o nosuid,nodev,uid=$uid,gid=$uid,mode=0700 tmpfs ${d#*:}/$name"
done
rofs="$rofs"' && exec "$@"'
# The unit's Environment= assignments, as systemd passes them.
unitenv=($(sed -n "s/^Environment=//p" "$unit")); envargs=("${unitenv[@]}" "${envargs[@]}")   # EnvironmentFile= wins
exec 8>>"$tmp/strace.log"
cd /
env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 "${envargs[@]}" \
  "$tmp/mdwe" unshare --mount --propagation private -- sh -c "$rofs" sh \
  prlimit --nofile="$nofile:$nofile" -- \
  setpriv --reuid=$uid --regid=$uid --clear-groups --inh-caps=-all --bounding-set=-all --no-new-privs -- \
  strace -f -qq -e signal=none -o /proc/self/fd/8 -- \
  "${argv[@]}" >"$tmp/serve.log" 2>&1 &
exec 8>&-
pid=$!
cd "$repo"
for _ in $(seq 1 150); do
  curl -fsS -o /dev/null "http://127.0.0.1:$admin/healthz" 2>/dev/null && break
  kill -0 "$pid" 2>/dev/null || { cat "$tmp/serve.log" >&2; fail "edgegate exited at startup"; }
  sleep 0.2
done
curl -fsS -o /dev/null "http://127.0.0.1:$admin/healthz" || { cat "$tmp/serve.log" >&2; fail "/healthz never answered"; }
srvpid=""
for p in $(pgrep -f "^$bin serve" || true); do
  if [ "$(stat -c %u "/proc/$p" 2>/dev/null)" = $uid ]; then srvpid=$p; break; fi
done
[ -n "$srvpid" ] || { ps -ef | grep edgegate >&2; fail "no edgegate process running as uid $uid"; }
grep -q "^Max open files *$nofile" "/proc/$srvpid/limits" || fail "LimitNOFILE not applied: $(grep 'open files' "/proc/$srvpid/limits")"
grep -q '^CapEff:\s*0000000000000000' "/proc/$srvpid/status" || fail "edgegate has capabilities: $(grep Cap "/proc/$srvpid/status")"
# libvips and malloc limits come from the binary itself (the unit sets no
# VIPS_CONCURRENCY or MALLOC_ARENA_MAX): images.vips_concurrency and
# images.malloc_arena_max defaults, 1 and 2.
start=$(grep '"msg":"edgegate starting"' "$tmp/serve.log" || true)
for want in '"vips_concurrency":1,' '"vips_concurrency_from":"config"' '"malloc_arena_max":2,'; do
  [[ $start == *"$want"* ]] || { cat "$tmp/serve.log" >&2; fail "startup line lacks $want"; }
done
touch "/proc/$srvpid/root/etc/edgegate/x" 2>/dev/null && fail "the gateway's root file system is writable"
say "serving as uid $uid (pid $srvpid) on 127.0.0.1:$port, admin 127.0.0.1:$admin, S3 $s3"

# `edgegate health`, the container's HEALTHCHECK, against the real thing.
env -i "${envargs[@]}" "$bin" health --config "$config" >/dev/null 2>&1 ||
  "$bin" health --addr "127.0.0.1:$admin" >/dev/null || fail "edgegate health"

# --- /r/: a 302 to the region's copy, which the URL then fetches ---------
route() { curl -sS -o /dev/null -D - "http://127.0.0.1:$port/r/$key$1"; }
h=$(route '?region=eu')
grep -q '^HTTP/1.1 302' <<<"$h" || { echo "$h" >&2; cat "$tmp/serve.log" >&2; fail "/r/$key?region=eu: not a 302"; }
loc=$(sed -n 's/^Location: *//Ip' <<<"$h" | tr -d '\r')
[[ $loc == "$s3/$bucket/eu/$key?"*X-Amz-Signature=* ]] || fail "Location $loc is not a presigned URL for $s3/$bucket/eu/$key"
[ "$(curl -fsS "$loc")" = "$(cat "$tmp/eu.txt")" ] || fail "the presigned URL does not fetch the eu object"
h=$(route '?region=eu-de')   # eu-de/ has no copy: falls back to eu/
loc=$(sed -n 's/^Location: *//Ip' <<<"$h" | tr -d '\r')
[[ $loc == "$s3/$bucket/eu/$key?"* ]] || fail "eu-de did not fall back to eu/: $loc"
h=$(route '')                # no region, no GeoIP: default_region global
loc=$(sed -n 's/^Location: *//Ip' <<<"$h" | tr -d '\r')
[ "$(curl -fsS "$loc")" = "$(cat "$tmp/global.txt")" ] || fail "default region: $loc does not fetch the global object"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/r/$key?region=nowhere")
[ "$code" = 400 ] || fail "unknown region answered $code, want 400"
say "/r/ redirects to presigned URLs that fetch the right copies"
s3curl -X PUT -H "Content-Type: image/jpeg" --data-binary @gateway/testdata/images/large.jpg "$s3/$bucket/global/$key.jpg" -o /dev/null || fail "PUT global/$key.jpg"
curl -sS -H 'Accept: image/webp' -D "$tmp/img.h" -o "$tmp/thumb.webp" "http://127.0.0.1:$port/img/thumbnail/$key.jpg" || true
grep -q '^HTTP/1.1 200' "$tmp/img.h" || { cat "$tmp/img.h" "$tmp/thumb.webp" "$tmp/serve.log" >&2; fail "/img/thumbnail/$key.jpg: not a 200"; }
grep -qi '^Content-Type: image/webp' "$tmp/img.h" || fail "/img/ answered $(grep -i content-type "$tmp/img.h")"
[ "$(head -c 4 "$tmp/thumb.webp")" = RIFF ] && [ "$(dd if="$tmp/thumb.webp" bs=1 skip=8 count=4 2>/dev/null)" = WEBP ] || fail "/img/ body is not a WebP"
say "/img/ renders a WebP thumbnail with MDWE on"

# --- SIGHUP reloads ------------------------------------------------------
rules_hash() { curl -sS -o /dev/null -D - "http://127.0.0.1:$port/r/$key" | sed -n 's/^X-Edge-Rules: *//Ip' | tr -d '\r'; }
before=$(rules_hash)
kill -HUP "$srvpid"
for _ in $(seq 1 50); do grep -q 'reloaded on SIGHUP' "$tmp/serve.log" && break; sleep 0.1; done
grep -q 'reloaded on SIGHUP' "$tmp/serve.log" || { cat "$tmp/serve.log" >&2; fail "no reload on SIGHUP"; }
cp /etc/edgegate/rules.yaml "$tmp/rules.orig"
sed -i 's/ttl: 15m/ttl: 20m/' /etc/edgegate/rules.yaml
kill -HUP "$srvpid"
for _ in $(seq 1 50); do [ "$(rules_hash)" != "$before" ] && break; sleep 0.1; done
[ "$(rules_hash)" != "$before" ] || fail "rules changed and SIGHUP sent, X-Edge-Rules still $before"
printf 'routes: [\n' >/etc/edgegate/rules.yaml   # broken: kept out, the last good rules serve
kill -HUP "$srvpid"
for _ in $(seq 1 50); do grep -q 'reload on SIGHUP failed' "$tmp/serve.log" && break; sleep 0.1; done
grep -q 'reload on SIGHUP failed' "$tmp/serve.log" || fail "a broken rules file was not refused on SIGHUP"
[ "$(route '?region=eu' | head -1 | tr -d '\r')" = "HTTP/1.1 302 Found" ] || fail "not serving after a refused reload"
cp "$tmp/rules.orig" /etc/edgegate/rules.yaml
say "SIGHUP reloads (and a broken file keeps the previous rules)"

# --- SIGTERM stops it cleanly --------------------------------------------
kill -TERM "$srvpid"
for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$pid" 2>/dev/null; then fail "still running 10s after SIGTERM"; fi
wait "$pid" || { cat "$tmp/serve.log" >&2; fail "exit status $? after SIGTERM"; }
pid=""
grep -q 'stopped cleanly' "$tmp/serve.log" || fail "no clean stop in the log"

# Every system call it made is in the unit's SystemCallFilter= (allowed
# sets less the ~ sets, expanded by systemd-analyze), every socket family
# in RestrictAddressFamilies=: under systemd the others would fail (EPERM).
expand_filter() {
  systemd-analyze syscall-filter 2>/dev/null | awk -v want="$*" '
    /^@/ { g = $1; next }
    /^    [a-z0-9_@]/ { n[g]++; m[g, n[g]] = $1 }
    function ex(x,   i) { if (x !~ /^@/) { out[x] = 1; return } if (seen[x]++) return; for (i = 1; i <= n[x]; i++) ex(m[x, i]) }
    END { k = split(want, w, " "); for (j = 1; j <= k; j++) ex(w[j]); for (s in out) print s }' | sort -u
}
allow=() deny=()
while read -r v; do
  if [[ $v == "~"* ]]; then read -r -a d <<<"${v#\~}"; deny+=("${d[@]}"); else read -r -a a <<<"$v"; allow+=("${a[@]}"); fi
done < <(sed -n 's/^SystemCallFilter=//p' "$unit")
((${#allow[@]})) || fail "unit has no SystemCallFilter= allow list"
comm -23 <(expand_filter "${allow[@]}") <(expand_filter "${deny[@]}") >"$tmp/allowed.txt"
sed -nE 's/^[0-9]+ +([a-z0-9_]+)\(.*/\1/p' "$tmp/strace.log" | sort -u >"$tmp/used.txt"
[ "$(wc -l <"$tmp/used.txt")" -gt 20 ] || fail "strace recorded only $(wc -l <"$tmp/used.txt") system calls"
outside=$(comm -23 "$tmp/used.txt" "$tmp/allowed.txt" | tr '\n' ' ')
[ -z "$outside" ] || fail "system calls outside SystemCallFilter=${allow[*]} ~${deny[*]}: $outside"
read -r -a families <<<"$(unitval RestrictAddressFamilies)"
for f in $(grep -oE 'socket\(AF_[A-Z0-9]+' "$tmp/strace.log" | sed 's/socket(//' | sort -u); do
  [[ " ${families[*]} " == *" $f "* ]] || fail "socket family $f outside RestrictAddressFamilies=${families[*]}"
done
say "$(wc -l <"$tmp/used.txt") distinct system calls, all in SystemCallFilter=; socket families in RestrictAddressFamilies="

# --- an upgrade keeps a locally edited conffile ---------------------------
# The same files as a newer version (nfpm, the installed binary): dpkg
# installs it over the old one and leaves the edited rules.yaml alone.
ver1=$(dpkg-query -W -f '${Version}' edgegate)
echo "# edited on this machine ($$)" >>/etc/edgegate/rules.yaml
dpkg-deb -x "$deb" "$tmp/x"
gobin="$(go env GOBIN)"; [ -n "$gobin" ] || gobin="$(go env GOPATH)/bin"
EDGEGATE_BIN="$tmp/x/usr/bin/edgegate" EDGEGATE_ARCH=$(dpkg --print-architecture) EDGEGATE_DEB_VERSION="$ver1+up1" \
  "$gobin/nfpm" package --config packaging/nfpm.yaml --packager deb --target "$tmp/up.deb" >/dev/null
dpkg --compare-versions "$ver1+up1" gt "$ver1" || fail "$ver1+up1 is not newer than $ver1"
dpkg_ -i "$tmp/up.deb" </dev/null || { cat "$tmp/dpkg.log" >&2; fail "dpkg -i of the upgrade"; }
[ "$(dpkg-query -W -f '${Version}' edgegate)" = "$ver1+up1" ] || fail "the upgrade did not install"
grep -q "^# edited on this machine ($$)" /etc/edgegate/rules.yaml || fail "the upgrade lost the edit to /etc/edgegate/rules.yaml"
"$bin" check --config /etc/edgegate/edgegate.yaml >/dev/null || fail "edgegate check after the upgrade"
say "an upgrade to $ver1+up1 keeps the edited rules.yaml"

# --- remove, then purge --------------------------------------------------
[ -z "${testcfg:-}" ] || rm -f "$testcfg"
cp "$tmp/envfile.orig" "$envfile"
dpkg_ -r edgegate || { cat "$tmp/dpkg.log" >&2; fail "dpkg -r"; }
for f in "$bin" "$unit" /usr/share/doc/edgegate; do [ ! -e "$f" ] || fail "dpkg -r left $f"; done
[ -f /etc/edgegate/edgegate.yaml ] || fail "dpkg -r removed the conffiles (only purge should)"
dpkg_ -P edgegate || { cat "$tmp/dpkg.log" >&2; fail "dpkg -P"; }
for f in /etc/edgegate /var/lib/edgegate /var/log/edgegate /var/cache/edgegate; do [ ! -e "$f" ] || fail "dpkg -P left $f"; done
dpkg -s edgegate >/dev/null 2>&1 && fail "still known to dpkg after purge"
say "ok: installed, served, reloaded, stopped, removed and purged"
