-- waitlist_leave.lua: take a user off a zone's waitlist.
-- uses: lib.lua
--
-- KEYS[1] meta   KEYS[2] waitlist (zset)   KEYS[3] waitlist quantities (hash)
-- KEYS[4] the event's join sequence
-- ARGV[1] user id
-- ARGV[2] a join sequence: take the user off only if this is the place's
--         ("0": whatever the place; a join that could not be recorded in
--         Postgres is taken back with its own, never a later one's)
--
-- Returns
--   {"NOT_LOADED"}           no inventory (not published, or being rebuilt): nothing changed
--   {"LEFT", seq, now}       the user was on it, at join sequence seq; now gone
--   {"NOT_ON", bound, now}   the user was not on it (or at another place, with ARGV[2]):
--                            no join of the user up to sequence bound (the event's last)
--                            is waiting, since a join is numbered and placed in one step
-- now is Redis's clock (ms). An offer already made stays: it is a hold the
-- buyer cancels like any other. The caller ends the entry's durable row
-- (waitlist_entries) up to seq, or bound.

if redis.call('EXISTS', KEYS[1]) == 0 then
  return {'NOT_LOADED'}
end
local now = tostring(now_ms())
local seq = redis.call('ZSCORE', KEYS[2], ARGV[1])
if not seq or (ARGV[2] ~= '0' and seq ~= ARGV[2]) then
  return {'NOT_ON', redis.call('GET', KEYS[4]) or '0', now}
end
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
return {'LEFT', seq, now}
