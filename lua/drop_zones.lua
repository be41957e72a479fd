-- drop_zones.lua: take zones off a loaded event's inventory when nothing was
-- ever reserved from any of them (version, held and sold all zero): a show
-- or zone the organizer removes, or one the catalog's snapshot no longer
-- has. All or none.
--
-- KEYS[1] meta   KEYS[2..] the zones
-- ARGV[1] "1": the catalog deleted the zones, for good: their ids join
--         meta's dropped, so that no later refresh (load.lua), whose
--         snapshot may have been read before the deletion, writes them back;
--         "0": they are only missing from a snapshot (a draft's), and a
--         later snapshot that has them again loads them
-- ARGV[2..] the zones' ids, in the order of KEYS[2..]
--
-- Returns {"RESERVED", zone id}, touching nothing, when a zone was reserved
-- from; else {"OK"}: the zones' keys are gone, and so are their ids from
-- meta's zones (what the queue's admitter reads). A zone without a key
-- counts as dropped.

for i = 2, #KEYS do
  local z = redis.call('HMGET', KEYS[i], 'ver', 'held', 'sold')
  if z[1] and not (z[1] == '0' and z[2] == '0' and z[3] == '0') then
    return {'RESERVED', ARGV[i]}
  end
end
local gone = {}
for i = 2, #KEYS do
  redis.call('DEL', KEYS[i])
  gone[ARGV[i]] = true
end
local f = redis.call('HMGET', KEYS[1], 'zones', 'dropped')
if f[1] then
  local kept = {}
  for id in string.gmatch(f[1], '[^,]+') do
    if not gone[id] then
      kept[#kept + 1] = id
    end
  end
  redis.call('HSET', KEYS[1], 'zones', table.concat(kept, ','))
end
if ARGV[1] == '1' and redis.call('EXISTS', KEYS[1]) == 1 then
  local dropped, seen = {}, {}
  for id in string.gmatch(f[2] or '', '[^,]+') do
    dropped[#dropped + 1] = id
    seen[id] = true
  end
  for i = 2, #KEYS do
    if not seen[ARGV[i]] then
      dropped[#dropped + 1] = ARGV[i]
      seen[ARGV[i]] = true
    end
  end
  redis.call('HSET', KEYS[1], 'dropped', table.concat(dropped, ','))
end
return {'OK'}
