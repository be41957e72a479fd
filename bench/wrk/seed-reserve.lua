-- wrk script of rushbench's "seed" scenario: reserve.lua (same arguments,
-- rotation and report line) with the request the seed implementation's own
-- load test sends (its tests/load/01-booking-reserve.js): the key in
-- X-Idempotency-Key, and a body with event_id (see seed.go). Each buyer also
-- comes from an address of its own, X-Forwarded-For 10.a.b.c (user n is
-- 10.0.0.0 + n), as through the ingress the seed's gateway trusts: its rate
-- limiter keeps a bucket per client address (1,000/s, burst 100 by
-- default), so buyers behind one address would be refused beyond 1,000/s.
--
--   wrk -t2 -c64 -d10s --timeout 5s -s bench/wrk/seed-reserve.lua http://gateway -- \
--       TOKENS BODIES KEYPREFIX THREADS

local here = debug.getinfo(1, "S").source:match("^@(.*[/\\])") or "./"
dofile(here .. "reserve.lua")

function request()
  local seq = n * nthreads + id
  n = n + 1
  local user = seq % #tokens
  headers["Authorization"] = "Bearer " .. tokens[user + 1]
  headers["X-Idempotency-Key"] = prefix .. n
  headers["X-Forwarded-For"] = string.format("10.%d.%d.%d",
    math.floor(user / 65536) % 256, math.floor(user / 256) % 256, user % 256)
  return wrk.format("POST", "/api/v1/bookings/reserve", headers, bodies[(seq % #bodies) + 1])
end
