-- drop_zones.lua: take zones off a loaded event's inventory when nothing was
-- ever reserved from any of them (version, held and sold all zero): a show
-- or zone the organizer removes, or one the catalog's snapshot no longer
-- has. All or none.
--
-- KEYS[1] meta   KEYS[2..] the zones
-- ARGV[1..] the zones' ids, in the order of KEYS[2..]
--
-- Returns {"RESERVED", zone id}, touching nothing, when a zone was reserved
-- from; else {"OK"}: the zones' keys are gone, and so are their ids from
-- meta's zones (what the queue's admitter reads). A zone without a key
-- counts as dropped.

for i = 2, #KEYS do
  local z = redis.call('HMGET', KEYS[i], 'ver', 'held', 'sold')
  if z[1] and not (z[1] == '0' and z[2] == '0' and z[3] == '0') then
    return {'RESERVED', ARGV[i - 1]}
  end
end
local gone = {}
for i = 2, #KEYS do
  redis.call('DEL', KEYS[i])
  gone[ARGV[i - 1]] = true
end
local ids = redis.call('HGET', KEYS[1], 'zones')
if ids then
  local kept = {}
  for id in string.gmatch(ids, '[^,]+') do
    if not gone[id] then
      kept[#kept + 1] = id
    end
  end
  redis.call('HSET', KEYS[1], 'zones', table.concat(kept, ','))
end
return {'OK'}
