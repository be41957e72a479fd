-- queue_open.lua: the opening draw of an event's virtual queue, applied
-- exactly once. The admitter shuffles the pre-queue (buyers who joined before
-- the sale opened) with crypto/rand and passes the drawn order; this script
-- puts them at the head of the line in that order, ahead of everyone who
-- joined after the opening, and sets the state's "opened" flag, which guards
-- against a second draw by another admitter replica.
--
-- KEYS[1] booking meta (B{ev:E}:meta)   KEYS[2] line   KEYS[3] pre-queue   KEYS[4] state
-- ARGV[1] how long the queue keys outlive the sale (ms)
-- ARGV[2..] every pre-queue member, in drawn order
--
-- Returns (every element a string):
--   {"DONE"}         already opened (by this or another replica): nothing changed
--   {"EARLY"}        no inventory, or the sale has not opened by Redis time
--   {"STALE"}        the drawn members are not exactly the pre-queue: draw again
--   {"OPENED", n}    n buyers placed at the head of the line

if redis.call('HGET', KEYS[4], 'opened') == '1' then
  return {'DONE'}
end
local meta = redis.call('HMGET', KEYS[1], 'sale_start', 'sale_end')
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if not meta[1] or now < tonumber(meta[1]) then
  return {'EARLY'}
end
local n = #ARGV - 1
if redis.call('ZCARD', KEYS[3]) ~= n then
  return {'STALE'}
end
for i = 2, #ARGV do
  if not redis.call('ZSCORE', KEYS[3], ARGV[i]) then
    return {'STALE'}
  end
end
-- ZADD in chunks: Lua's unpack has a small stack.
local chunk = {}
for i = 1, n do
  chunk[#chunk + 1] = i
  chunk[#chunk + 1] = ARGV[i + 1]
  if #chunk >= 1000 or i == n then
    redis.call('ZADD', KEYS[2], unpack(chunk))
    chunk = {}
  end
end
local keep = tonumber(meta[2]) + tonumber(ARGV[1])
if n > 0 then
  redis.call('PEXPIREAT', KEYS[2], keep)
end
redis.call('DEL', KEYS[3])
redis.call('HSET', KEYS[4], 'opened', '1')
redis.call('PEXPIREAT', KEYS[4], keep)
return {'OPENED', tostring(n)}
