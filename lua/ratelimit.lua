-- ratelimit.lua: take tokens from one token bucket, atomically, for the
-- edge's rate limits (shared by every edge replica) and auth's limits per
-- e-mail address.
--
-- KEYS[1] the bucket: HASH  t = tokens left (may be fractional),
--                           ts = last update, microseconds of Redis TIME
-- ARGV[1] capacity: the most tokens the bucket holds (the burst), > 0
-- ARGV[2] refill rate in tokens per second, > 0 (5 per minute = 0.083333...)
-- ARGV[3] cost: tokens this request takes (1)
--
-- Returns {allowed, remaining, retry_after_ms}:
--   allowed          1 when the tokens were taken, 0 when not (then nothing changes)
--   remaining        whole tokens left after this request
--   retry_after_ms   0 when allowed; else milliseconds until cost tokens are back
--
-- Time comes from Redis (TIME), never from the caller, so replicas whose
-- clocks differ share one bucket fairly. An absent key is a full bucket; the
-- key expires once the bucket would be full again, so idle clients cost no
-- memory.

local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])

local b = redis.call('HMGET', KEYS[1], 't', 'ts')
local tokens = tonumber(b[1])
local ts = tonumber(b[2])
if tokens == nil or ts == nil then
  tokens = capacity
  ts = now
end
if now > ts then
  tokens = math.min(capacity, tokens + (now - ts) * rate / 1000000)
  ts = now
end

if tokens < cost then
  return {0, math.floor(tokens), math.ceil((cost - tokens) * 1000 / rate)}
end

tokens = tokens - cost
redis.call('HSET', KEYS[1], 't', tostring(tokens), 'ts', string.format('%d', ts))
redis.call('PEXPIRE', KEYS[1], math.ceil((capacity - tokens) * 1000 / rate) + 1000)
return {1, math.floor(tokens), 0}
