-- forget_user.lua: take an account that is being deleted off the waitlists
-- of one event's zones, unless the event's live inventory counts seats of it
-- that are not bought (a hold: its payment may be on its way).
--
-- KEYS[1] the user's counter (seats held or bought in the event)
-- then per zone i (from 0): KEYS[2+2*i] waitlist (zset)   KEYS[3+2*i] waitlist quantities (hash)
-- ARGV[1] user id   ARGV[2] the seats the user bought in the event, as booking's records have them
--
-- Returns -1, touching nothing, when the counter is above the seats bought
-- (a hold, or a purchase the records do not show yet: ask again in a
-- moment); else the number of waitlists the user was taken off.

local counted = tonumber(redis.call('GET', KEYS[1]) or '0')
if counted > tonumber(ARGV[2]) then
  return -1
end
local left = 0
for i = 2, #KEYS, 2 do
  left = left + redis.call('ZREM', KEYS[i], ARGV[1])
  redis.call('HDEL', KEYS[i + 1], ARGV[1])
end
return left
