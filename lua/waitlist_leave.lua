-- waitlist_leave.lua: take a user off a zone's waitlist.
--
-- KEYS[1] waitlist (zset)   KEYS[2] waitlist quantities (hash)
-- ARGV[1] user id
--
-- Returns 1 when the user was on it, 0 when not (an offer already made
-- stays: it is a hold the buyer cancels like any other).

local n = redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
return n
