-- load.lua: load an event's inventory, or refresh its sale settings.
-- uses: lib.lua
--
-- KEYS[1] meta   KEYS[2] expiry   KEYS[3] stream
-- ARGV[1] key prefix of the event ("<P>{ev:E}:")
-- ARGV[2] status   ARGV[3] sale start (ms)   ARGV[4] sale end (ms)
-- ARGV[5] max per user   ARGV[6] queue enabled (0|1)
-- ARGV[7] number of zones Z, then 9 values per zone:
--         zone id, show id, total, available, held, sold, price (cents), version,
--         the show's start (ms; "0" when the snapshot has none: the zone gets no
--         starts field, and its seats sell for as long as the event's window)
-- then the number of live bookings H (holds and purchases), then 13 values each:
--         booking id, user id, event id, show id, zone id, quantity, unit (cents),
--         status (reserved or confirmed), expires at (ms), created at (ms),
--         confirmed at (ms, 0 for a hold), idempotency key, version
--         (a purchase gets its record back too, so a later refund can release it)
-- (versions continue those Postgres holds, so the persister keeps applying
-- changes in order after a rebuild)
-- then the number of users U, then 2 values per user: user id, seats held or bought
-- then the number of idempotency records I, then 5 values per record:
--         user id, idempotency key, booking id, request fingerprint, TTL (s)
-- then the life of a waitlist offer (ms; "0": offer_waitlist's default), the event's last waitlist join
-- sequence, the number of waiting entries W, then 4 values per entry:
--         zone id, user id, join sequence, seats wanted
--         (booking's waitlist_entries still waiting: the zones' lines)
--
-- When the event's meta exists, only the sale settings (ARGV[2..6]; a
-- cancelled status is final and kept), the
-- zone ids and each existing zone's show start (starts: a zone loaded before
-- the field existed gets it at the next refresh) are updated: counters and
-- holds are never overwritten while inventory is live. A zone of the
-- arguments that the last load did not
-- have (meta's zones), never reserved from (version 0, every seat
-- available) and without a key is written then: a show or zone the
-- organizer added to the event on sale (extra dates, released seats). A
-- zone the last load had and whose key is gone was lost, not added: it is
-- left to the rebuild. A zone the catalog deleted (meta's dropped,
-- drop_zones.lua) is never written back, nor listed in meta's zones.
-- When it does not (first publish, or a rebuild after Redis lost the keys),
-- everything is written from the arguments, which the caller read from
-- Postgres after the stream relay and the persister had drained, the
-- zones' waitlists too: each line as it was (same order, same quantities;
-- the join sequence goes on from the last one), but for a zone whose show
-- has started (a line that is served nothing; reading a place closes it).
-- Seats available beside a line are then offered to it as a return would
-- (offer_waitlist), so no reserve takes them from the buyers waiting; and
-- wl:rec marks the lines recorded (every place has its row).
-- The waitlist's values are read only here: a refresh never touches a line.
--
-- Returns {"UPDATED"} or {"LOADED", zones, holds, now (ms), then per zone
-- whose line's offers dropped entries (the per-user limit): zone id, the
-- entries ("<user>:<join sequence>", comma-separated)}, for the caller to
-- end their records; {"INVALID", reason} when a zone's counters do not add
-- up (available + held + sold must equal total).

local p = ARGV[1]
-- meta's zones (comma-separated ids) tell the queue's admitter which
-- counters say sold out; once the event is on sale, zones are only added.
local ids = {}
for z = 0, tonumber(ARGV[7]) - 1 do
  ids[#ids + 1] = ARGV[8 + z * 9]
end
local settings = {'status', ARGV[2], 'sale_start', ARGV[3], 'sale_end', ARGV[4],
  'max_per_user', ARGV[5], 'queue', ARGV[6], 'zones', table.concat(ids, ',')}
local i = 7
local zones = tonumber(ARGV[i])

if redis.call('EXISTS', KEYS[1]) == 1 then
  -- A cancelled event stays cancelled: a load whose snapshot was read
  -- before the cancellation may arrive after it.
  if redis.call('HGET', KEYS[1], 'status') == 'cancelled' then
    settings[2] = 'cancelled'
  end
  local had, all, dropped = {}, {}, {}
  local f = redis.call('HMGET', KEYS[1], 'zones', 'dropped')
  for id in string.gmatch(f[1] or '', '[^,]+') do
    had[id] = true
    all[#all + 1] = id
  end
  -- A zone the catalog deleted (drop_zones.lua, meta's dropped) stays
  -- gone: a snapshot read before the deletion may arrive after it.
  for id in string.gmatch(f[2] or '', '[^,]+') do
    dropped[id] = true
  end
  -- Zones are only added here (drop_zones.lua takes them away): a
  -- snapshot older than a zone added meanwhile keeps it.
  for _, id in ipairs(ids) do
    if not had[id] and not dropped[id] then
      all[#all + 1] = id
    end
  end
  settings[12] = table.concat(all, ',')
  for z = 0, zones - 1 do
    local b = i + 1 + z * 9
    local key = p .. 'zone:' .. ARGV[b]
    local exists = redis.call('EXISTS', key) == 1
    if not had[ARGV[b]] and not dropped[ARGV[b]] and ARGV[b + 7] == '0' and ARGV[b + 4] == '0' and ARGV[b + 5] == '0'
        and ARGV[b + 3] == ARGV[b + 2] and not exists then
      redis.call('HSET', key, 'show', ARGV[b + 1], 'total', ARGV[b + 2],
        'available', ARGV[b + 2], 'held', 0, 'sold', 0, 'price', ARGV[b + 6], 'ver', 0)
      exists = true
    end
    -- Not a counter: a zone's show start is the catalog's to say, and a
    -- lost zone (no key) is not recreated by it.
    if exists and ARGV[b + 8] ~= '0' then
      redis.call('HSET', key, 'starts', ARGV[b + 8])
    end
  end
  redis.call('HSET', KEYS[1], unpack(settings))
  return {'UPDATED'}
end

for z = 0, zones - 1 do
  local b = i + 1 + z * 9
  local total, available, held, sold = tonumber(ARGV[b + 2]), tonumber(ARGV[b + 3]), tonumber(ARGV[b + 4]), tonumber(ARGV[b + 5])
  if available < 0 or held < 0 or sold < 0 or available + held + sold ~= total then
    return {'INVALID', 'zone ' .. ARGV[b] .. ' counters do not add up'}
  end
end
local now = now_ms()
local starts = {}
for z = 0, zones - 1 do
  local b = i + 1 + z * 9
  local key = p .. 'zone:' .. ARGV[b]
  starts[ARGV[b]] = tonumber(ARGV[b + 8])
  redis.call('DEL', key, p .. 'wl:' .. ARGV[b], p .. 'wlq:' .. ARGV[b])
  redis.call('HSET', key, 'show', ARGV[b + 1], 'total', ARGV[b + 2],
    'available', ARGV[b + 3], 'held', ARGV[b + 4], 'sold', ARGV[b + 5], 'price', ARGV[b + 6], 'ver', ARGV[b + 7])
  if ARGV[b + 8] ~= '0' then
    redis.call('HSET', key, 'starts', ARGV[b + 8])
  end
end
i = i + 1 + zones * 9

local holds, live = tonumber(ARGV[i]), 0
for h = 0, holds - 1 do
  local b = i + 1 + h * 13
  local key = p .. 'hold:' .. ARGV[b]
  redis.call('DEL', key)
  redis.call('HSET', key, 'id', ARGV[b], 'user', ARGV[b + 1], 'event', ARGV[b + 2], 'show', ARGV[b + 3],
    'zone', ARGV[b + 4], 'qty', ARGV[b + 5], 'unit', ARGV[b + 6], 'status', ARGV[b + 7],
    'exp', ARGV[b + 8], 'created', ARGV[b + 9], 'idem', ARGV[b + 11], 'ver', ARGV[b + 12])
  if ARGV[b + 7] == 'confirmed' then
    redis.call('HSET', key, 'confirmed', ARGV[b + 10])
  else
    redis.call('ZADD', KEYS[2], ARGV[b + 8], ARGV[b])
    live = live + 1
  end
end
i = i + 1 + holds * 13

local users = tonumber(ARGV[i])
for u = 0, users - 1 do
  local b = i + 1 + u * 2
  redis.call('SET', p .. 'user:' .. ARGV[b], ARGV[b + 1])
end
i = i + 1 + users * 2

local records = tonumber(ARGV[i])
for r = 0, records - 1 do
  local b = i + 1 + r * 5
  redis.call('SET', p .. 'idem:' .. ARGV[b] .. ':' .. ARGV[b + 1], ARGV[b + 2] .. '|' .. ARGV[b + 3], 'EX', ARGV[b + 4])
end
i = i + 1 + records * 5

local offer_ttl, last, waiting = ARGV[i], tonumber(ARGV[i + 1]), tonumber(ARGV[i + 2])
local lines, restored = {}, {}
for w = 0, waiting - 1 do
  local b = i + 3 + w * 4
  local start = starts[ARGV[b]]
  if start and (start == 0 or now < start) then
    redis.call('ZADD', p .. 'wl:' .. ARGV[b], ARGV[b + 2], ARGV[b + 1])
    redis.call('HSET', p .. 'wlq:' .. ARGV[b], ARGV[b + 1], ARGV[b + 3])
    if not restored[ARGV[b]] then
      restored[ARGV[b]] = true
      lines[#lines + 1] = ARGV[b]
    end
  end
end
if last > tonumber(redis.call('GET', p .. 'wl:seq') or '0') then
  redis.call('SET', p .. 'wl:seq', ARGV[i + 1])
end
-- Every place of these lines has its row (they come from the rows): booking's
-- pass over the places taken before the rows existed skips the event.
redis.call('SET', p .. 'wl:rec', '1')

redis.call('HSET', KEYS[1], unpack(settings))
redis.call('HSET', KEYS[1], 'loaded', now, 'live', live)
if tonumber(offer_ttl) > 0 then
  redis.call('HSET', KEYS[1], 'offer_ttl', offer_ttl)
end
pcall(redis.call, 'XGROUP', 'CREATE', KEYS[3], 'relay', '0', 'MKSTREAM')
local answer = {'LOADED', zones, holds, now}
for _, zone in ipairs(lines) do
  local _, dropped = offer_waitlist(p, zone, KEYS[3], now, '')
  if dropped ~= '' then
    answer[#answer + 1] = zone
    answer[#answer + 1] = dropped
  end
end
return answer
