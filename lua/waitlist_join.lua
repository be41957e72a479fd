-- waitlist_join.lua: put a user on a zone's waitlist for a quantity of seats.
-- uses: lib.lua
--
-- KEYS[1] meta   KEYS[2] zone   KEYS[3] user counter   KEYS[4] waitlist (zset)
-- KEYS[5] waitlist quantities (hash)   KEYS[6] the event's join sequence
-- ARGV[1] user id   ARGV[2] show id   ARGV[3] quantity   ARGV[4] offer TTL (ms)
--
-- A queued event needs no queue pass here: the waitlist is a line of its
-- own, and its seats are offered only to it (offer_waitlist in lib.lua), so
-- the waiting room admits nobody for them.
--
-- Returns {status, ...}; the first failing check answers:
--   {"NOT_LOADED"}                         no inventory (not published, or being rebuilt)
--   {"SALE_NOT_OPEN", status, start, end, now}  not on sale (ms)
--   {"NOT_FOUND"}                          the zone belongs to another show
--   {"SALE_NOT_OPEN", status, start, end, now, show start}  the zone's show has started (ms):
--                                          nothing of it will be offered (as reserve.lua)
--   {"ALREADY", position, waiting, quantity, seq, now}  the user is on this waitlist already (any
--                                          quantity), at join sequence seq
--   {"AVAILABLE", available}               enough seats are available: reserve them instead
--   {"EXCEEDS_ZONE", total}                more seats than the zone has in all: never served
--   {"MAX_PER_USER_EXCEEDED", limit, current}  seats held or bought + quantity above the limit
--   {"OK", position, waiting, seq, now}    joined: position is 1-based, waiting the line's length,
--                                          seq the join's sequence (its score: the line's order)
-- now is Redis's clock (ms). The caller records the entry in Postgres
-- (waitlist_entries) with seq, and takes it off again (waitlist_leave.lua
-- with seq) when it cannot.

local meta = redis.call('HMGET', KEYS[1], 'status', 'sale_start', 'sale_end', 'max_per_user')
if not meta[1] then
  return {'NOT_LOADED'}
end
local now = now_ms()
if meta[1] ~= 'published' or now < tonumber(meta[2]) or now >= tonumber(meta[3]) then
  return {'SALE_NOT_OPEN', meta[1], meta[2], meta[3], tostring(now)}
end
local zone = redis.call('HMGET', KEYS[2], 'available', 'show', 'starts', 'total')
if not zone[1] then
  return {'NOT_LOADED'}
end
if zone[2] ~= ARGV[2] then
  return {'NOT_FOUND'}
end
if zone[3] and now >= tonumber(zone[3]) then
  return {'SALE_NOT_OPEN', meta[1], meta[2], meta[3], tostring(now), zone[3]}
end
local rank = redis.call('ZRANK', KEYS[4], ARGV[1])
if rank then
  return {'ALREADY', tostring(rank + 1), tostring(redis.call('ZCARD', KEYS[4])), redis.call('HGET', KEYS[5], ARGV[1]) or '0',
    redis.call('ZSCORE', KEYS[4], ARGV[1]), tostring(now)}
end
local qty = tonumber(ARGV[3])
if tonumber(zone[1]) >= qty then
  return {'AVAILABLE', zone[1]}
end
-- An entry no return can ever fit would wait forever, near the head of
-- the line that offer_waitlist scans.
if zone[4] and qty > tonumber(zone[4]) then
  return {'EXCEEDS_ZONE', zone[4]}
end
local limit = tonumber(meta[4])
local mine = tonumber(redis.call('GET', KEYS[3]) or '0')
if mine + qty > limit then
  return {'MAX_PER_USER_EXCEEDED', tostring(limit), tostring(mine)}
end
local seq = redis.call('INCR', KEYS[6])
redis.call('ZADD', KEYS[4], seq, ARGV[1])
redis.call('HSET', KEYS[5], ARGV[1], qty)
redis.call('HSET', KEYS[1], 'offer_ttl', ARGV[4])
local waiting = redis.call('ZCARD', KEYS[4])
return {'OK', tostring(waiting), tostring(waiting), tostring(seq), tostring(now)}
