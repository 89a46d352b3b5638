# Sourced by the bench scripts: one wrk round, printed as a line, its
# req/s added to sum[LABEL] (the caller divides by the rounds).
#   run LABEL URL ROUND [wrk args...]     needs $dur set by the caller
declare -A sum
run() {
  local label=$1 url=$2 r=$3 out rps
  shift 3
  out=$(wrk -t2 -c64 -d"$dur" --latency "$@" "$url")
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  printf '%-22s round %s: %9s req/s  p50 %-8s p99 %-8s%s\n' "$label" "$r" "$rps" \
    "$(awk '$1=="50%" {print $2}' <<<"$out")" "$(awk '$1=="99%" {print $2}' <<<"$out")" \
    "$(grep -o 'Non-2xx or 3xx responses: [0-9]*' <<<"$out" | sed 's/^/  /')"
  sum[$label]=$(awk -v a="${sum[$label]:-0}" -v b="$rps" 'BEGIN{print a+b}')
}
