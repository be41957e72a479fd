-- ratelimit_sync.lua: reconcile token buckets that edge replicas decide in
-- their own memory (the reserve and general limits) with the shared ones: each
-- replica sends what it took from each bucket since its last sync, and
-- learns what is left for every replica together.
--
-- KEYS[i] a bucket: HASH t = tokens left (may be fractional, or negative:
--         replicas that together took more than was left between two syncs
--         owe it, and the refill pays it back), ts = last update,
--         microseconds of Redis TIME; every key of one call shares a hash tag
-- ARGV[1] capacity: the most tokens a bucket holds (the burst), > 0
-- ARGV[2] refill rate in tokens per second, > 0
-- ARGV[2 + i] tokens taken from KEYS[i] since the replica's last sync, >= 0
--
-- Returns the tokens left in each bucket after the debit, in KEYS order, as
-- strings. An absent key is a full bucket; a key expires once its bucket
-- would be full again, as ratelimit.lua's do. Time comes from Redis (TIME).

local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])

local out = {}
for i, key in ipairs(KEYS) do
  local b = redis.call('HMGET', key, 't', 'ts')
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
  tokens = math.max(tokens - tonumber(ARGV[2 + i]), -capacity)
  redis.call('HSET', key, 't', tostring(tokens), 'ts', string.format('%d', ts))
  redis.call('PEXPIRE', key, math.ceil((capacity - tokens) * 1000 / rate) + 1000)
  out[i] = tostring(tokens)
end
return out
