#!/usr/bin/env bash
# Starts a local Pebble (Let's Encrypt's test ACME CA, Debian package
# pebble) in the background for the demo's HTTPS and waits until it
# answers; then writes the root of the certificates it issues to DIR/ca.pem
# (what clients of the demo trust: curl --cacert DIR/ca.pem).
#   usage: scripts/pebble.sh DIR HTTP_PORT TLS_PORT PIDFILE LOGFILE
# Pebble's directory is https://127.0.0.1:14000/dir (management :15000); its
# own HTTPS certificate is signed by a CA made here with openssl,
# DIR/pebble-ca.pem (the gateway's acme.ca_root). Its validation authority
# connects to HTTP_PORT (HTTP-01) and TLS_PORT (TLS-ALPN-01) on 127.0.0.1,
# the gateway's listeners. Pebble keeps nothing across restarts: each start
# has a new root, so DIR/ca.pem is rewritten.
set -euo pipefail
dir=$1 http_port=$2 tls_port=$3 pidfile=$4 log=$5
command -v pebble >/dev/null || { echo "pebble: not installed (scripts/deps.sh installs it)" >&2; exit 1; }
if curl -sS -o /dev/null https://127.0.0.1:14000/dir -k 2>/dev/null; then
  echo "pebble: something already listens on 127.0.0.1:14000 (another make run?)" >&2
  exit 1
fi
mkdir -p "$dir"
rm -f "$dir/ca.pem"
# Pebble's HTTPS certificate: a CA and a leaf for 127.0.0.1 and localhost,
# made afresh each start (30 days, ECDSA P-256).
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
  -subj "/CN=edgegate demo Pebble HTTPS CA" -addext basicConstraints=critical,CA:true \
  -addext keyUsage=critical,keyCertSign -keyout "$dir/pebble-ca.key" -out "$dir/pebble-ca.pem" 2>/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=localhost \
  -keyout "$dir/pebble-key.pem" -out "$dir/pebble.csr" 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >"$dir/pebble.ext"
openssl x509 -req -in "$dir/pebble.csr" -CA "$dir/pebble-ca.pem" -CAkey "$dir/pebble-ca.key" \
  -CAcreateserial -days 30 -extfile "$dir/pebble.ext" -out "$dir/pebble-cert.pem" 2>/dev/null
rm -f "$dir/pebble.csr" "$dir/pebble.ext" "$dir/pebble-ca.srl" "$dir/pebble-ca.key"
cat >"$dir/pebble.json" <<JSON
{"pebble": {
  "listenAddress": "127.0.0.1:14000",
  "managementListenAddress": "127.0.0.1:15000",
  "certificate": "$dir/pebble-cert.pem",
  "privateKey": "$dir/pebble-key.pem",
  "httpPort": $http_port,
  "tlsPort": $tls_port,
  "ocspResponderURL": "",
  "externalAccountBindingRequired": false
}}
JSON
# No random validation sleeps, no rejected nonces: issuance in about a second.
PEBBLE_VA_NOSLEEP=1 PEBBLE_WFE_NONCEREJECT=0 pebble -config "$dir/pebble.json" >"$log" 2>&1 &
echo $! >"$pidfile"
for _ in $(seq 1 200); do
  if curl -fsS -o /dev/null --cacert "$dir/pebble-ca.pem" https://127.0.0.1:14000/dir 2>/dev/null &&
    curl -fsS --cacert "$dir/pebble-ca.pem" https://127.0.0.1:15000/roots/0 -o "$dir/ca.pem.tmp" 2>/dev/null; then
    mv "$dir/ca.pem.tmp" "$dir/ca.pem"
    echo "pebble: up at https://127.0.0.1:14000/dir (pid $(cat "$pidfile")), root in $dir/ca.pem" >&2
    exit 0
  fi
  if ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    echo "pebble: exited; log:" >&2; cat "$log" >&2; exit 1
  fi
  sleep 0.1
done
echo "pebble: no answer after 20s; log:" >&2; cat "$log" >&2
exit 1
