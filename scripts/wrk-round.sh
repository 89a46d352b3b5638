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

# cputicks PID: utime+stime of PID and its children (nginx's workers).
cputicks() {
  local t=0 p
  for p in "$1" $(pgrep -P "$1"); do
    t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat")))
  done
  echo "$t"
}
# measured LABEL PID URL ROUND [wrk args]: run, then the CPU PID (and its
# children) spent per request, printed and added to cpu[LABEL].
declare -A cpu
measured() {
  local label=$1 pid=$2 url=$3 r=$4 before after before_sum us hz secs
  shift 4
  hz=$(getconf CLK_TCK)
  secs=$(awk -v d="$dur" 'BEGIN{sub(/s$/, "", d); print d}')
  before=$(cputicks "$pid") before_sum=${sum[$label]:-0}
  run "$label" "$url" "$r" "$@"
  after=$(cputicks "$pid")
  us=$(awk -v t=$((after - before)) -v hz="$hz" -v rps="$(awk -v a="${sum[$label]}" -v b="$before_sum" 'BEGIN{print a-b}')" -v s="$secs" \
    'BEGIN{ if (rps > 0) printf "%.2f", t / hz * 1e6 / (rps * s); else print "-" }')
  echo "  $label: ${us} µs CPU per request"
  cpu[$label]=$(awk -v a="${cpu[$label]:-0}" -v b="$us" 'BEGIN{print a+b}')
}
