-- expire.lua: release every hold of one event whose deadline has passed, or
-- (mode "cancel", once the event is cancelled) every live hold of the event.
-- uses: lib.lua
--
-- KEYS[1] expiry   KEYS[2] stream   KEYS[3] meta
-- ARGV[1] key prefix of the event ("<P>{ev:E}:")
-- ARGV[2] about how many holds one call looks at (it finishes the expiry entry it is in, so at
--         most this plus a reserve batch less one): a call keeps Redis busy for a bounded time
-- ARGV[3] mode: "expire" (due holds become expired) or "cancel" (every live hold becomes
--         cancelled, cause event_cancelled; refused unless the event's status is cancelled)
--
-- Returns the number of holds looked at (call again while it is at least
-- ARGV[2]); an expiry entry is one hold or a reserve batch's holds (lib.lua);
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
local most = tonumber(ARGV[2])
-- Every entry holds at least one hold, so fewer than most holds looked at
-- means every due entry was handled.
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', upto, 'LIMIT', 0, most)
local seen = 0
for _, member in ipairs(due) do
  if seen >= most then
    break
  end
  for id in string.gmatch(member, '[^ ]+') do
    seen = seen + 1
    local hold = ARGV[1] .. 'hold:' .. id
    if redis.call('HGET', hold, 'status') == 'reserved' then
      release(ARGV[1], hold, KEYS[1], KEYS[2], to, now, nil, cause)
    end
  end
  redis.call('ZREM', KEYS[1], member)
end
return seen
