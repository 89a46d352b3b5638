# Sourced by the test and bench scripts: freeport prints a loopback TCP
# port that no socket uses just now, or returns 1.
#
# The port is taken below the kernel's ephemeral range
# (net.ipv4.ip_local_port_range), as internal/testenv.FreeAddr does: a
# port in that range can become the local port of any outgoing connection
# between this check and the server's own bind ("bind: address already in
# use": a CI run failed so). A port is free when ss shows no socket on it
# at all, listening or not.
freeport() {
  local elo ehi lo hi p
  read -r elo ehi </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || { elo=32768 ehi=60999; }
  if [ $((elo - 10000)) -ge $((65535 - ehi)) ] && [ "$elo" -gt 10000 ]; then lo=10000 hi=$elo
  elif [ "$ehi" -lt 65535 ]; then lo=$((ehi + 1)) hi=65536
  else lo=10000 hi=65536
  fi
  for _ in $(seq 1 200); do
    p=$((lo + (RANDOM * 32768 + RANDOM) % (hi - lo)))
    if command -v ss >/dev/null; then
      [ -z "$(ss -Htan "( sport = :$p )" 2>/dev/null)" ] || continue
    elif (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      continue
    fi
    echo "$p"; return 0
  done
  echo "freeport: no free port in [$lo, $hi)" >&2
  return 1
}
