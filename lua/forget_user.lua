-- forget_user.lua: take an account that is being deleted off the waitlists
-- of one event's zones, unless the event's live inventory counts seats of it
-- that are not bought (a hold: its payment may be on its way).
-- uses: lib.lua
--
-- KEYS[1] the user's counter (seats held or bought in the event)
-- then per zone i (from 0): KEYS[2+2*i] waitlist (zset)   KEYS[3+2*i] waitlist quantities (hash)
-- ARGV[1] user id   ARGV[2] the seats the user bought in the event, as booking's records have them
--
-- Returns {"UNPAID"}, touching nothing, when the counter is above the seats
-- bought (a hold, or a purchase the records do not show yet: ask again in a
-- moment); else {"OK", now, then per waitlist the user was taken off: the
-- zone's index i, the place's join sequence}. now is Redis's clock (ms); the
-- caller ends the places' durable rows (waitlist_entries).

local counted = tonumber(redis.call('GET', KEYS[1]) or '0')
if counted > tonumber(ARGV[2]) then
  return {'UNPAID'}
end
local out = {'OK', tostring(now_ms())}
for i = 2, #KEYS, 2 do
  local seq = redis.call('ZSCORE', KEYS[i], ARGV[1])
  if seq then
    redis.call('ZREM', KEYS[i], ARGV[1])
    out[#out + 1] = tostring(i / 2 - 1)
    out[#out + 1] = seq
  end
  redis.call('HDEL', KEYS[i + 1], ARGV[1])
end
return out
