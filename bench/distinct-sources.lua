-- wrk script for scripts/bench-vipsthumb.sh: every request asks for a
-- different source key, so no two requests in flight share one render (the
-- variant cache's single flight coalesces identical concurrent misses even
-- with cache_bytes: 0; with one URL and 2 connections half the requests
-- were answered by another request's render). Thread t of T cycles through
-- keys t, t+T, t+2T, … below BENCH_COPIES; the path is BENCH_PATH with %d
-- replaced by the key's number (bench/imgcopies uploads them).
--   BENCH_PATH=/img/w300/bench/s%d.jpg BENCH_COPIES=256 BENCH_THREADS=2 wrk -t2 -c2 -s bench/distinct-sources.lua URL
local copies = tonumber(os.getenv("BENCH_COPIES") or "256")
local nthreads = tonumber(os.getenv("BENCH_THREADS") or "1")
local pathfmt = os.getenv("BENCH_PATH") or "/img/w300/bench/s%d.jpg"
local created = 0

function setup(thread)
  thread:set("tid", created)
  created = created + 1
end

local k = nil
function request()
  if k == nil then k = tid end
  local path = string.format(pathfmt, k)
  k = k + nthreads
  if k >= copies then k = tid end
  return wrk.format("GET", path)
end
