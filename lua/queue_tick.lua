-- queue_tick.lua: one admission step of an event's virtual queue. Every
-- admitter replica may run it as often as it likes: a token bucket refilled
-- from Redis time (TIME) decides how many buyers enter, so the rate holds
-- whatever the number of replicas or their timing.
--
-- KEYS[1] booking meta (B{ev:E}:meta)   KEYS[2] line   KEYS[3] pre-queue
-- KEYS[4] admitted   KEYS[5] state
-- ARGV[1] admissions per second   ARGV[2] pass TTL (ms)
-- ARGV[3] pass key prefix (B{ev:E}:pass:, the key reserve.lua reads is that + user id)
-- ARGV[4] how long the queue keys outlive the sale (ms)
-- ARGV[5..] fresh random passes, one per buyer this step may admit at most
--
-- Returns (every element a string):
--   {"ENDED"}                  the sale is over or the event cancelled: stop ticking it
--   {"WAIT", waiting}          no inventory, no queue, or before the opening: nothing to do yet;
--                              waiting counts the line and the pre-queue
--   {"SHUFFLE"}                the sale opened and the pre-queue awaits its draw (queue_open.lua)
--   {"ADMITTED", n, waiting}   n buyers admitted now; waiting are still in line
-- Each admitted buyer gets SET <pass key> <pass> PX <TTL> and a place in the
-- admitted set (score = admission number, so the order is on record). A pass
-- that lapses unused is simply gone: the line moves on at the rate.

local meta = redis.call('HMGET', KEYS[1], 'status', 'sale_start', 'sale_end', 'queue')
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if meta[1] and (meta[1] ~= 'published' or now >= tonumber(meta[3])) then
  return {'ENDED'}
end
if not meta[1] or meta[4] ~= '1' or now < tonumber(meta[2]) then
  -- The bucket starts empty when admission (re)starts: no burst at opening.
  redis.call('HDEL', KEYS[5], 'ts', 'tokens')
  return {'WAIT', tostring(redis.call('ZCARD', KEYS[2]) + redis.call('ZCARD', KEYS[3]))}
end
local keep = tonumber(meta[3]) + tonumber(ARGV[4])
if redis.call('HGET', KEYS[5], 'opened') ~= '1' then
  if redis.call('ZCARD', KEYS[3]) > 0 then
    return {'SHUFFLE'}
  end
  redis.call('HSET', KEYS[5], 'opened', '1')
end

local rate = tonumber(ARGV[1])
local st = redis.call('HMGET', KEYS[5], 'tokens', 'ts')
local tokens, ts = tonumber(st[1]) or 0, tonumber(st[2])
if ts and now > ts then
  -- At most one second of admissions is banked while the line is empty.
  tokens = math.min(rate, tokens + (now - ts) * rate / 1000)
end
if not ts or now > ts then
  ts = now
end
local n = math.min(math.floor(tokens), #ARGV - 4)
local admitted = 0
if n > 0 then
  local popped = redis.call('ZPOPMIN', KEYS[2], n)
  admitted = #popped / 2
  if admitted > 0 then
    local first = redis.call('HINCRBY', KEYS[5], 'admitted', admitted) - admitted
    local ttl = tonumber(ARGV[2])
    for i = 1, admitted do
      local user = popped[2 * i - 1]
      redis.call('SET', ARGV[3] .. user, ARGV[4 + i], 'PX', ttl)
      redis.call('ZADD', KEYS[4], first + i, user)
    end
    redis.call('PEXPIREAT', KEYS[4], keep)
  end
end
redis.call('HSET', KEYS[5], 'tokens', tostring(tokens - admitted), 'ts', tostring(ts))
redis.call('PEXPIREAT', KEYS[5], keep)
return {'ADMITTED', tostring(admitted), tostring(redis.call('ZCARD', KEYS[2]))}
