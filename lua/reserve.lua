-- reserve.lua: decide a batch of reserves of ONE event, in order, each in
-- one atomic step: every reserve is decided exactly as if it had run alone
-- after the ones before it (the script runs alone), with its own
-- idempotency key, limits, answer and trace context. The booking engine
-- coalesces the concurrent reserves of an event into one call (a batch of
-- one when idle).
-- uses: lib.lua
--
-- KEYS[1] meta    KEYS[2] expiry   KEYS[3] stream
-- KEYS[4] queue gate   KEYS[5] its admission ticks   KEYS[6] its used passes
-- then per reserve i (from 0), base b = 6 + 4*i:
--   KEYS[b+1] zone   KEYS[b+2] user counter   KEYS[b+3] idempotency record   KEYS[b+4] hold
-- ARGV[1] event id   ARGV[2] hold TTL (ms)   ARGV[3] idempotency record TTL (s)
-- then per reserve i, base a = 3 + 9*i:
--   ARGV[a+1] booking id   ARGV[a+2] user id   ARGV[a+3] show id   ARGV[a+4] zone id
--   ARGV[a+5] quantity     ARGV[a+6] idempotency key
--   ARGV[a+7] request fingerprint (same key + other fingerprint = conflict)
--   ARGV[a+8] queue pass: "<epoch>:<sequence>" of the caller's queue ticket, whose
--             signature, event and user the booking service checked; "" when the
--             call has none; "!<reason>" when it was refused (not signed by the
--             mesh, another user's...). Its use is recorded as "<sequence>:<user>"
--             (lib.lua, pass_window): one hold per pass, and a sequence two buyers
--             hold (a crash lost a join) buys once for each
--   ARGV[a+9] W3C traceparent of the call ("" when not traced), kept in the stream entry
--
-- Returns one answer per reserve, in order, each {status, ...}; checks run in
-- this order, the first failure answers:
--   {"REPLAY", booking id}                 same key and request as an earlier call: its booking
--   {"CONFLICT"}                           same key, different request
--   {"NOT_LOADED"}                         no inventory (not published, or being rebuilt)
--   {"SALE_NOT_OPEN", status, start, end, now}  event not published or outside its sale window (ms)
--   {"NOT_FOUND"}                          zone belongs to another show
--   (a zone missing from a loaded event answers NOT_LOADED: its keys were lost)
--   {"SALE_NOT_OPEN", status, start, end, now, show start}  the zone's show has started (the
--                                          zone's starts, ms): its seats are off sale even inside
--                                          the event's window (the event's other shows sell);
--                                          a zone without starts (loaded before it) has no such limit
--   {"INSUFFICIENT_STOCK", requested, available}
--   {"QUEUE_PASS_REQUIRED", reason}        queued event without a live, unused pass of this user:
--                                          missing, a reason of the pass argument, or of
--                                          pass_window (lib.lua: void, waiting, expired), or used
--   {"MAX_PER_USER_EXCEEDED", limit, current}
--   {"OK", booking id, expires at, unit price (cents), now}
-- Every element is a string. Time comes from Redis (TIME), never from the
-- caller: one reading for the whole batch.
--
-- Writes per new hold: the user's count (INCRBY), the hold hash and its
-- idempotency record (SET); per batch: each changed zone (HSET), ONE expiry
-- entry for all the new holds (they share the deadline: the member is their
-- ids, space-separated), the event's count of live holds (meta's live) and
-- ONE stream entry for every new hold of the batch:
--   kind "holds", at (ms), event, exp (ms: the batch's holds share it),
--   holds: one line per hold ("\n"-separated), each the comma-separated
--          booking id, user, show, zone, quantity, unit (cents), idempotency
--          key, then the zone's available, held, sold, version as of that
--          hold, then the traceparent ("" when untraced)
-- (ids are UUIDs, keys match [A-Za-z0-9_-], so neither separator occurs).
-- A new hold implies status reserved, version 1, created = at; the zone's
-- total is available + held + sold (the relay fills them in).

local event, ttl, idem_ttl = ARGV[1], tonumber(ARGV[2]), ARGV[3]

local meta = redis.call('HMGET', KEYS[1], 'status', 'sale_start', 'sale_end', 'max_per_user', 'queue')
local now = now_ms()
local expires = now + ttl
-- Numbers go to redis.call and into answers as strings made once: Lua
-- formats a number with sprintf("%.14g"), which cost about 0.25 µs each
-- time, a dozen times per hold (bench/RESULTS.md).
local now_s, expires_s = tostring(now), tostring(expires)
local on_sale = meta[1] == 'published' and now >= tonumber(meta[2]) and now < tonumber(meta[3])
local limit = tonumber(meta[4])

-- Zones read once per batch: the script runs alone, so the values it
-- wrote are the values it would read again.
local zones = {}

-- uncount takes back the seats a refused reserve counted for its user.
local function uncount(ukey, qty)
  if redis.call('DECRBY', ukey, qty) <= 0 then
    redis.call('DEL', ukey)
  end
end

-- The stream lines of the batch's new holds and their ids: one XADD and one
-- expiry entry after the batch.
local fresh, fresh_ids = {}, {}
-- Whether a reserve of the batch used a queue pass: the used passes then
-- expire with the line (once per batch, below).
local passes_used = false

-- qty is the quantity as sent (a string), seats the same as a number.
local function reserve(zkey, ukey, ikey, hkey, id, user, show, zone_id, qty, idem, fp, pass, tp)
  local seats = tonumber(qty)
  local prior = redis.call('GET', ikey)
  if prior then
    local sep = string.find(prior, '|', 1, true)
    if string.sub(prior, sep + 1) == fp then
      return {'REPLAY', string.sub(prior, 1, sep - 1)}
    end
    return {'CONFLICT'}
  end
  if not meta[1] then
    return {'NOT_LOADED'}
  end
  if not on_sale then
    return {'SALE_NOT_OPEN', meta[1], meta[2], meta[3], tostring(now)}
  end

  local z = zones[zkey]
  if not z then
    local f = redis.call('HMGET', zkey, 'available', 'show', 'price', 'held', 'ver', 'sold', 'starts')
    if not f[1] then
      return {'NOT_LOADED'}
    end
    z = {available = tonumber(f[1]), show = f[2], price = f[3], held = tonumber(f[4] or '0'),
      ver = tonumber(f[5] or '0'), sold = f[6] or '0', starts = tonumber(f[7]) or math.huge, starts_s = f[7]}
    zones[zkey] = z
  end
  if z.show ~= show then
    return {'NOT_FOUND'}
  end
  if now >= z.starts then
    return {'SALE_NOT_OPEN', meta[1], meta[2], meta[3], now_s, z.starts_s}
  end
  if z.available < seats then
    return {'INSUFFICIENT_STOCK', qty, tostring(z.available)}
  end

  -- A queued event: the pass must be admitted and its window open (read
  -- here), and unused (ZADD NX below, the first write: a pass buys one hold;
  -- the used pass is recorded with its buyer, pass_window).
  local pass_ends, pass_member
  if meta[5] == '1' then
    if pass == '' then
      return {'QUEUE_PASS_REQUIRED', 'missing'}
    end
    if string.sub(pass, 1, 1) == '!' then
      return {'QUEUE_PASS_REQUIRED', string.sub(pass, 2)}
    end
    local sep = string.find(pass, ':', 1, true)
    local ends, member_or_why = pass_window(KEYS[4], KEYS[5], string.sub(pass, 1, sep - 1), string.sub(pass, sep + 1), user, now)
    if not ends then
      return {'QUEUE_PASS_REQUIRED', member_or_why}
    end
    pass_ends, pass_member = ends, member_or_why
  end

  -- The user's seats: counted up first (one command instead of a read and
  -- a write), counted back down when the reserve is refused.
  local mine = redis.call('INCRBY', ukey, qty) - seats
  if mine + seats > limit then
    uncount(ukey, qty)
    return {'MAX_PER_USER_EXCEEDED', tostring(limit), tostring(mine)}
  end

  if pass_ends and redis.call('ZADD', KEYS[6], 'NX', pass_ends, pass_member) == 0 then
    uncount(ukey, qty)
    return {'QUEUE_PASS_REQUIRED', 'used'}
  end
  if pass_ends then
    passes_used = true
  end

  -- The zone's counters change here and are written once per zone, after
  -- the batch (below); the stream entry carries them as of this hold.
  z.available = z.available - seats
  z.held = z.held + seats
  z.ver = z.ver + 1
  z.dirty = true
  redis.call('HSET', hkey, 'id', id, 'user', user, 'event', event, 'show', show,
    'zone', zone_id, 'qty', qty, 'unit', z.price, 'status', 'reserved', 'exp', expires_s,
    'created', now_s, 'idem', idem, 'ver', '1')
  redis.call('SET', ikey, id .. '|' .. fp, 'EX', idem_ttl)
  fresh_ids[#fresh_ids + 1] = id
  fresh[#fresh + 1] = table.concat({id, user, show, zone_id, qty, z.price, idem,
    z.available, z.held, z.sold, z.ver, tp}, ',')
  return {'OK', id, expires_s, z.price, now_s}
end

local out = {}
local n = (#KEYS - 6) / 4
for i = 0, n - 1 do
  local b, a = 6 + 4 * i, 3 + 9 * i
  out[i + 1] = reserve(KEYS[b + 1], KEYS[b + 2], KEYS[b + 3], KEYS[b + 4],
    ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], ARGV[a + 4], ARGV[a + 5], ARGV[a + 6],
    ARGV[a + 7], ARGV[a + 8], ARGV[a + 9])
end
-- One write per zone for the whole batch. A script runs whole (Redis runs
-- nothing else meanwhile, and once a script has written, Redis lets its
-- later writes through even under maxmemory), so nobody sees a hold before
-- its zone counts it.
for zkey, z in pairs(zones) do
  if z.dirty then
    redis.call('HSET', zkey, 'available', z.available, 'held', z.held, 'ver', z.ver)
  end
end
-- The used passes expire with the line: its keys' expiry, which the
-- admission step keeps in the gate.
if passes_used then
  local keep = redis.call('HGET', KEYS[4], 'keep')
  if keep then
    redis.call('PEXPIREAT', KEYS[6], keep)
  end
end
-- One expiry entry and one stream entry for the batch's new holds
-- (relay.go's decodeHolds).
if #fresh > 0 then
  count_live(KEYS[1], KEYS[2], #fresh)
  redis.call('ZADD', KEYS[2], expires, table.concat(fresh_ids, ' '))
  redis.call('XADD', KEYS[3], '*', 'kind', 'holds', 'at', now, 'event', event, 'exp', expires,
    'holds', table.concat(fresh, '\n'))
  notice(KEYS[3])
end
return out
