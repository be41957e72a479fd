-- drop_zone.lua: delete a zone of a loaded event that the catalog's
-- snapshot no longer has, when nothing was ever reserved from it.
--
-- KEYS[1] the zone
--
-- Returns 1 when the zone was deleted, 0 when it was kept (a hold or a
-- purchase moved its version) or did not exist.

local z = redis.call('HMGET', KEYS[1], 'ver', 'held', 'sold')
if z[1] == '0' and z[2] == '0' and z[3] == '0' then
  return redis.call('DEL', KEYS[1])
end
return 0
