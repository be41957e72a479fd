-- reserve.lua: hold seats of one zone for one user, in one atomic step.
-- uses: lib.lua
--
-- KEYS[1] meta    KEYS[2] zone    KEYS[3] user counter   KEYS[4] idempotency record
-- KEYS[5] hold    KEYS[6] expiry  KEYS[7] stream
-- KEYS[8] queue gate   KEYS[9] its admission ticks   KEYS[10] its used passes
-- ARGV[1] booking id   ARGV[2] user id   ARGV[3] event id   ARGV[4] show id   ARGV[5] zone id
-- ARGV[6] quantity     ARGV[7] hold TTL (ms)                ARGV[8] idempotency key
-- ARGV[9] request fingerprint (same key + other fingerprint = conflict)
-- ARGV[10] queue pass: "<epoch>:<sequence>" of the caller's queue ticket, whose
--          signature, event and user the booking service checked; "" when the
--          call has none; "!<reason>" when it was refused (not signed by the
--          mesh, another user's...)
-- ARGV[11] idempotency record TTL (s)
-- ARGV[12] W3C traceparent of the call ("" or absent when not traced), kept in the stream entry
--
-- Returns {status, ...}; checks run in this order, the first failure answers:
--   {"REPLAY", booking id}                 same key and request as an earlier call: its booking
--   {"CONFLICT"}                           same key, different request
--   {"NOT_LOADED"}                         no inventory (not published, or being rebuilt)
--   {"SALE_NOT_OPEN", status, start, end, now}  event not published or outside its sale window (ms)
--   {"NOT_FOUND"}                          zone belongs to another show
--   (a zone missing from a loaded event answers NOT_LOADED: its keys were lost)
--   {"INSUFFICIENT_STOCK", requested, available}
--   {"QUEUE_PASS_REQUIRED", reason}        queued event without a live, unused pass of this user:
--                                          missing, a reason of ARGV[10], or of pass_window
--                                          (lib.lua: void, waiting, expired), or used
--   {"MAX_PER_USER_EXCEEDED", limit, current}
--   {"OK", booking id, expires at, unit price (cents), now}
-- Every element is a string. Time comes from Redis (TIME), never from the caller.

local qty = tonumber(ARGV[6])

local prior = redis.call('GET', KEYS[4])
if prior then
  local sep = string.find(prior, '|', 1, true)
  if string.sub(prior, sep + 1) == ARGV[9] then
    return {'REPLAY', string.sub(prior, 1, sep - 1)}
  end
  return {'CONFLICT'}
end

local meta = redis.call('HMGET', KEYS[1], 'status', 'sale_start', 'sale_end', 'max_per_user', 'queue')
if not meta[1] then
  return {'NOT_LOADED'}
end
local now = now_ms()
if meta[1] ~= 'published' or now < tonumber(meta[2]) or now >= tonumber(meta[3]) then
  return {'SALE_NOT_OPEN', meta[1], meta[2], meta[3], tostring(now)}
end

local zone = redis.call('HMGET', KEYS[2], 'available', 'show', 'price', 'held', 'ver', 'total', 'sold')
if not zone[1] then
  return {'NOT_LOADED'}
end
if zone[2] ~= ARGV[4] then
  return {'NOT_FOUND'}
end
local available = tonumber(zone[1])
if available < qty then
  return {'INSUFFICIENT_STOCK', tostring(qty), tostring(available)}
end

-- A queued event: the pass must be admitted and its window open (read
-- here), and unused (ZADD NX below, the first write: a pass buys one hold).
local pass_seq, pass_ends
if meta[5] == '1' then
  local pass = ARGV[10]
  if pass == '' then
    return {'QUEUE_PASS_REQUIRED', 'missing'}
  end
  if string.sub(pass, 1, 1) == '!' then
    return {'QUEUE_PASS_REQUIRED', string.sub(pass, 2)}
  end
  local sep = string.find(pass, ':', 1, true)
  pass_seq = string.sub(pass, sep + 1)
  local why
  pass_ends, why = pass_window(KEYS[8], KEYS[9], string.sub(pass, 1, sep - 1), tonumber(pass_seq), now)
  if not pass_ends then
    return {'QUEUE_PASS_REQUIRED', why}
  end
end

local limit = tonumber(meta[4])
local mine = tonumber(redis.call('GET', KEYS[3]) or '0')
if mine + qty > limit then
  return {'MAX_PER_USER_EXCEEDED', tostring(limit), tostring(mine)}
end

if pass_seq and redis.call('ZADD', KEYS[10], 'NX', pass_ends, pass_seq) == 0 then
  return {'QUEUE_PASS_REQUIRED', 'used'}
end

-- The zone's counters were read above (the script runs alone): write them
-- in one HSET, and the stream entry from the values at hand instead of
-- reading the hold and the zone back (emit in lib.lua writes the same fields).
local avail = available - qty
local held = tonumber(zone[4] or '0') + qty
local zver = tonumber(zone[5] or '0') + 1
redis.call('HSET', KEYS[2], 'available', avail, 'held', held, 'ver', zver)
redis.call('INCRBY', KEYS[3], qty)
local expires = now + tonumber(ARGV[7])
redis.call('HSET', KEYS[5], 'id', ARGV[1], 'user', ARGV[2], 'event', ARGV[3], 'show', ARGV[4],
  'zone', ARGV[5], 'qty', qty, 'unit', zone[3], 'status', 'reserved', 'exp', expires,
  'created', now, 'idem', ARGV[8], 'ver', 1)
redis.call('ZADD', KEYS[6], expires, ARGV[1])
redis.call('SET', KEYS[4], ARGV[1] .. '|' .. ARGV[9], 'EX', tonumber(ARGV[11]))
redis.call('XADD', KEYS[7], '*', 'kind', 'reserved', 'at', now,
  'id', ARGV[1], 'user', ARGV[2], 'event', ARGV[3], 'show', ARGV[4], 'zone', ARGV[5], 'qty', qty, 'unit', zone[3],
  'status', 'reserved', 'exp', expires, 'created', now, 'confirmed', '', 'cancelled', '',
  'idem', ARGV[8], 'ver', 1, 'cause', '', 'wl', '',
  'ztotal', zone[6], 'zavailable', avail, 'zheld', held, 'zsold', zone[7] or '0', 'zver', zver, 'tp', ARGV[12] or '')
return {'OK', ARGV[1], tostring(expires), zone[3], tostring(now)}
