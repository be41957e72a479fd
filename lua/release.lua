-- release.lua: cancel a booking and give its seats back at once.
-- uses: lib.lua
--
-- KEYS[1] hold   KEYS[2] expiry   KEYS[3] stream   KEYS[4] meta
-- ARGV[1] key prefix of the event ("<P>{ev:E}:")   ARGV[2] booking id
-- ARGV[3] owner user id ("" for the system)
-- ARGV[4] what a confirmed booking becomes: "" to refuse (holds only), "refunded"
--         (money went back) or "cancelled" (the refund policy returned nothing)
-- ARGV[5] W3C traceparent of the call ("" or absent when not traced), kept in the stream entry
-- ARGV[6] why: buyer, event_cancelled or system
--
-- Returns:
--   {"OK", status, now}      released; status is "cancelled" (was a hold) or ARGV[4]
--   {"ALREADY", status}      it had already ended (cancelled, expired or refunded): nothing changes
--   {"NOT_LOADED"}           the event's inventory is absent or being rebuilt
--   {"NOT_FOUND"}            no such booking, or another user's
--   {"CONFLICT", status}     confirmed, and ARGV[4] is ""

if redis.call('EXISTS', KEYS[4]) == 0 then
  return {'NOT_LOADED'}
end
local f = redis.call('HMGET', KEYS[1], 'status', 'user')
if not f[1] or (ARGV[3] ~= '' and f[2] ~= ARGV[3]) then
  return {'NOT_FOUND'}
end
local now = now_ms()
if f[1] == 'reserved' then
  release(ARGV[1], KEYS[1], KEYS[2], KEYS[3], 'cancelled', now, ARGV[5], ARGV[6])
  return {'OK', 'cancelled', tostring(now)}
end
if f[1] == 'confirmed' then
  if ARGV[4] ~= 'refunded' and ARGV[4] ~= 'cancelled' then
    return {'CONFLICT', 'confirmed'}
  end
  release(ARGV[1], KEYS[1], KEYS[2], KEYS[3], ARGV[4], now, ARGV[5], ARGV[6])
  return {'OK', ARGV[4], tostring(now)}
end
return {'ALREADY', f[1]}
