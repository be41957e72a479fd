-- token_bump.lua: ends the access tokens of one user issued so far, or
-- changes the role they carry (services/platform/authn, Revocations.Revoke
-- and Revocations.SetRole), atomically with the change feed every verifier
-- reads.
--
-- KEYS[1] the user's version: STRING, ms (P{tv}:u:<user id>)
-- KEYS[2] the change feed: STREAM of entries u (user id), v (the new version),
--         k (kind), r (role); trimmed to the entries younger than ARGV[4]
--         (older ones concern tokens that expired). Same hash tag {tv}: one slot.
-- ARGV[1] user id
-- ARGV[2] kind: "revoke" (tokens of an older version are dead: logout,
--         password reset) or "role" (they carry role ARGV[3] instead)
-- ARGV[3] the user's role now ('' for revoke)
-- ARGV[4] how long the version and the feed's entries are kept, ms
--
-- Returns the new version (a string): max(old + 1, Redis TIME in ms), so it
-- is above every token issued before, even within one millisecond, and a
-- user whose key expired starts from the clock, above any older version.

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local v = math.max(tonumber(redis.call('GET', KEYS[1]) or '0') + 1, now)
local vs = string.format('%d', v)
redis.call('SET', KEYS[1], vs, 'PX', ARGV[4])
redis.call('XADD', KEYS[2], 'MINID', '~', string.format('%d', now - tonumber(ARGV[4])), '*',
  'u', ARGV[1], 'v', vs, 'k', ARGV[2], 'r', ARGV[3])
return vs
