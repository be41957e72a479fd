-- queue_status.lua: one buyer's place in an event's virtual queue; joins the
-- line when asked. The queue keys share the booking engine's hash tag
-- {ev:E}, so this script reads the event's meta and the buyer's pass in the
-- same slot (see services/queue for the layout).
--
-- KEYS[1] booking meta (B{ev:E}:meta)   KEYS[2] line   KEYS[3] pre-queue
-- KEYS[4] admitted   KEYS[5] state   KEYS[6] the buyer's pass (B{ev:E}:pass:U)
-- ARGV[1] user id   ARGV[2] "1" to join, "0" to look only
-- ARGV[3] how long the queue keys outlive the sale (ms)
--
-- Returns (every element a string) the first that applies:
--   {"NOT_LOADED"}                          no inventory in Redis (not published, or being rebuilt)
--   {"SALE_NOT_OPEN", status, start, end, now}  not published, or the sale has ended (ms)
--   {"OPEN"}                                the event has no queue: reserve needs no pass
--   {"WAITING", position, total, now}       in line: 1-based place among those waiting
--   {"ADMITTED", pass, expires at (ms)}     admitted and the pass is live
--   {"PRE", total, opens at (ms), now}      joined before the sale opened: places are drawn at opening
--   {"EXPIRED"}                             admitted, but the pass lapsed unused (look only)
--   {"NONE"}                                not in the queue (look only)
-- A join that put the buyer in line (or pre-queue) appends "NEW". A buyer
-- whose pass expired joins again at the end of the line.

-- Buyers who join after the opening are ordered after every buyer drawn from
-- the pre-queue (whose scores are 1..P): their score is LATE + join number.
local LATE = 1099511627776

local meta = redis.call('HMGET', KEYS[1], 'status', 'sale_start', 'sale_end', 'queue')
if not meta[1] then
  return {'NOT_LOADED'}
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local sale_end = tonumber(meta[3])
if meta[1] ~= 'published' or now >= sale_end then
  return {'SALE_NOT_OPEN', meta[1], meta[2], meta[3], tostring(now)}
end
if meta[4] ~= '1' then
  return {'OPEN'}
end

local user = ARGV[1]
local rank = redis.call('ZRANK', KEYS[2], user)
if rank then
  return {'WAITING', tostring(rank + 1), tostring(redis.call('ZCARD', KEYS[2])), tostring(now)}
end
local pass = redis.call('GET', KEYS[6])
if pass then
  return {'ADMITTED', pass, tostring(now + redis.call('PTTL', KEYS[6]))}
end
local opens = tonumber(meta[2])
if redis.call('ZSCORE', KEYS[3], user) then
  return {'PRE', tostring(redis.call('ZCARD', KEYS[3])), tostring(opens), tostring(now)}
end
local was_admitted = redis.call('ZSCORE', KEYS[4], user)
if ARGV[2] ~= '1' then
  if was_admitted then
    return {'EXPIRED'}
  end
  return {'NONE'}
end

if was_admitted then
  redis.call('ZREM', KEYS[4], user)
end
local seq = redis.call('HINCRBY', KEYS[5], 'seq', 1)
local keep = sale_end + tonumber(ARGV[3])
redis.call('PEXPIREAT', KEYS[5], keep)
if now < opens and redis.call('HGET', KEYS[5], 'opened') ~= '1' then
  redis.call('ZADD', KEYS[3], seq, user)
  redis.call('PEXPIREAT', KEYS[3], keep)
  return {'PRE', tostring(redis.call('ZCARD', KEYS[3])), tostring(opens), tostring(now), 'NEW'}
end
redis.call('ZADD', KEYS[2], LATE + seq, user)
redis.call('PEXPIREAT', KEYS[2], keep)
return {'WAITING', tostring(redis.call('ZRANK', KEYS[2], user) + 1), tostring(redis.call('ZCARD', KEYS[2])), tostring(now), 'NEW'}
