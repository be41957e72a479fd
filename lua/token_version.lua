-- token_version.lua: the token version a new access token of one user
-- carries (services/platform/authn, Revocations.Version).
--
-- KEYS[1] the user's version: STRING, milliseconds of Redis TIME (P{tv}:u:<user id>)
-- ARGV[1] how long the version must be kept, ms (the access-token lifetime and
--         some margin): a token never outlives it
--
-- Returns the version, as a string. A user without one gets Redis TIME now:
-- larger than any version the user had (the key outlives every token of an
-- older version), so no revocation still in force can apply to the new
-- token. Reading extends the key's life to ARGV[1].

local v = redis.call('GET', KEYS[1])
if not v then
  local t = redis.call('TIME')
  v = string.format('%d', tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000))
end
redis.call('SET', KEYS[1], v, 'PX', ARGV[1])
return v
