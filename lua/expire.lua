-- expire.lua: release every hold of one event whose deadline has passed.
-- uses: lib.lua
--
-- KEYS[1] expiry   KEYS[2] stream   KEYS[3] meta
-- ARGV[1] key prefix of the event ("<P>{ev:E}:")   ARGV[2] most holds to release in one call
--
-- Returns the number of due entries handled (call again while it equals ARGV[2]);
-- 0 while the event's inventory is absent or being rebuilt (nothing may change then).
-- Safe to run from every replica at once: each hold is released exactly once,
-- because the status check and the release happen in the same atomic step.

if redis.call('EXISTS', KEYS[3]) == 0 then
  return 0
end
local now = now_ms()
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[2]))
for _, id in ipairs(due) do
  local hold = ARGV[1] .. 'hold:' .. id
  if redis.call('HGET', hold, 'status') == 'reserved' then
    release(ARGV[1], hold, KEYS[1], KEYS[2], 'expired', now)
  else
    redis.call('ZREM', KEYS[1], id)
  end
end
return #due
