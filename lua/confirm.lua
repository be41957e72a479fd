-- confirm.lua: turn a live hold into a purchase (after payment).
-- uses: lib.lua
--
-- KEYS[1] hold   KEYS[2] expiry   KEYS[3] stream   KEYS[4] meta
-- ARGV[1] key prefix of the event ("<P>{ev:E}:")   ARGV[2] booking id
-- ARGV[3] owner user id ("" for the system, e.g. the saga)
-- ARGV[4] W3C traceparent of the call ("" or absent when not traced), kept in the stream entry
--
-- Returns:
--   {"OK", now}                     confirmed now
--   {"ALREADY", "confirmed"}        it was confirmed before (confirm is idempotent)
--   {"NOT_LOADED"}                  the event's inventory is absent or being rebuilt
--   {"NOT_FOUND"}                   no such hold, or another user's
--   {"GONE", status, cause}         expired, cancelled or refunded before the confirmation;
--                                   a hold past its deadline that the sweeper has not
--                                   reached yet is expired here and answers {"GONE","expired"};
--                                   a hold of a cancelled event is released here and answers
--                                   {"GONE","cancelled","event_cancelled"}: a cancelled event
--                                   sells nothing, whenever the money arrives
--   {"NOT_ON_SALE", status}         the event is not published (a publish that failed put it
--                                   back to draft): nothing of it is confirmed; the hold is
--                                   left to expire or be released, and the payment is refunded

local event = redis.call('HGET', KEYS[4], 'status')
if not event then
  return {'NOT_LOADED'}
end
local f = redis.call('HMGET', KEYS[1], 'status', 'user', 'exp', 'zone', 'qty', 'cause')
if not f[1] or (ARGV[3] ~= '' and f[2] ~= ARGV[3]) then
  return {'NOT_FOUND'}
end
if f[1] == 'confirmed' then
  return {'ALREADY', 'confirmed'}
end
if f[1] ~= 'reserved' then
  return {'GONE', f[1], f[6] or ''}
end
local now = now_ms()
if event == 'cancelled' then
  release(ARGV[1], KEYS[1], KEYS[2], KEYS[3], 'cancelled', now, ARGV[4], 'event_cancelled')
  return {'GONE', 'cancelled', 'event_cancelled'}
end
if event ~= 'published' then
  return {'NOT_ON_SALE', event}
end
if now >= tonumber(f[3]) then
  release(ARGV[1], KEYS[1], KEYS[2], KEYS[3], 'expired', now, ARGV[4], 'expired')
  return {'GONE', 'expired', 'expired'}
end
local zone = ARGV[1] .. 'zone:' .. f[4]
local q = tonumber(f[5])
redis.call('HINCRBY', zone, 'held', -q)
redis.call('HINCRBY', zone, 'sold', q)
redis.call('HINCRBY', zone, 'ver', 1)
count_live(KEYS[4], KEYS[2], -1)
redis.call('ZREM', KEYS[2], ARGV[2]) -- a waitlist offer's or a rebuilt hold's own entry
redis.call('HSET', KEYS[1], 'status', 'confirmed', 'confirmed', now)
redis.call('HINCRBY', KEYS[1], 'ver', 1)
emit(KEYS[3], KEYS[1], zone, 'confirmed', now, ARGV[4])
return {'OK', tostring(now)}
