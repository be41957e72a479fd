-- expire.lua: release every hold of one event whose deadline has passed, or
-- (mode "cancel", once the event is cancelled) every live hold of the event.
-- uses: lib.lua
--
-- KEYS[1] expiry   KEYS[2] stream   KEYS[3] meta
-- ARGV[1] key prefix of the event ("<P>{ev:E}:")   ARGV[2] most holds to release in one call
-- ARGV[3] mode: "expire" (due holds become expired) or "cancel" (every live hold becomes
--         cancelled, cause event_cancelled; refused unless the event's status is cancelled)
--
-- Returns the number of expiry entries handled (call again while it equals
-- ARGV[2]); an entry is one hold or a reserve batch's holds (lib.lua);
-- 0 while the event's inventory is absent or being rebuilt (nothing may change then).
-- Safe to run from every replica at once: each hold is released exactly once,
-- because the status check and the release happen in the same atomic step.

local status = redis.call('HGET', KEYS[3], 'status')
if not status then
  return 0
end
local now = now_ms()
local upto, to, cause = now, 'expired', 'expired'
if ARGV[3] == 'cancel' then
  if status ~= 'cancelled' then
    return 0
  end
  upto, to, cause = '+inf', 'cancelled', 'event_cancelled'
end
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', upto, 'LIMIT', 0, tonumber(ARGV[2]))
for _, member in ipairs(due) do
  for id in string.gmatch(member, '[^ ]+') do
    local hold = ARGV[1] .. 'hold:' .. id
    if redis.call('HGET', hold, 'status') == 'reserved' then
      release(ARGV[1], hold, KEYS[1], KEYS[2], to, now, nil, cause)
    end
  end
  redis.call('ZREM', KEYS[1], member)
end
return #due
