-- wrk script of rushbench's "wrk" scenario: POST /api/v1/bookings/reserve
-- in a closed loop, rotating users, zones and idempotency keys as rushbench's
-- own generator does (request n of a thread: user n*threads+id mod users).
--
--   wrk -t2 -c64 -d10s --latency -s bench/wrk/reserve.lua http://edge -- \
--       TOKENS BODIES KEYPREFIX THREADS
--
-- TOKENS: one access token per line; BODIES: one JSON body per line (one per
-- zone); KEYPREFIX starts every Idempotency-Key; THREADS is wrk's -t. At the end it prints one
-- line "rushbench-wrk {json}" with the counts and latency percentiles that
-- rushbench reads (holds = 2xx answers, for the audit).

local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end

local function lines(path)
  local t = {}
  for l in io.lines(path) do
    if l ~= "" then t[#t + 1] = l end
  end
  return t
end

function init(args)
  tokens = lines(args[1])
  bodies = lines(args[2])
  prefix = args[3] .. "t" .. id .. "-"
  nthreads = tonumber(args[4])
  n = 0
  headers = { ["Content-Type"] = "application/json" }
end

function request()
  local seq = n * nthreads + id
  n = n + 1
  headers["Authorization"] = "Bearer " .. tokens[(seq % #tokens) + 1]
  headers["Idempotency-Key"] = prefix .. n
  return wrk.format("POST", "/api/v1/bookings/reserve", headers, bodies[(seq % #bodies) + 1])
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'rushbench-wrk {"requests":%d,"duration_us":%d,"bytes":%d,"status_errors":%d,"connect":%d,"read":%d,"write":%d,"timeout":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, summary.bytes, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
