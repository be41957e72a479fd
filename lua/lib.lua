-- lib.lua: helpers shared by the booking scripts. Not a script on its own:
-- lua.Script prepends it to every script that says "-- uses: lib.lua".
--
-- Key layout of one event E (every key shares the hash tag {ev:E}, so one
-- script touches one Redis Cluster slot); P is the configured prefix:
--   P{ev:E}:meta       HASH   status, sale_start, sale_end (ms), max_per_user, queue (0|1), loaded (ms),
--                             zones (the event's zone ids, comma-separated), live (the number
--                             of live holds: every script that makes or ends one moves it),
--                             dropped (ids of zones the catalog deleted, comma-separated:
--                             drop_zones.lua; a refresh never writes them back)
--   P{ev:E}:zone:Z     HASH   total, available, held, sold, price (cents), show, ver,
--                             starts (ms: the show's start, from which its seats are off sale;
--                             absent on a zone loaded before the field existed: no such limit)
--   P{ev:E}:hold:B     HASH   one booking: id, user, event, show, zone, qty, unit (cents),
--                             status, exp, created, confirmed, cancelled (ms), idem, ver,
--                             cause (why it ended: buyer, expired, event_cancelled, system, support),
--                             wl ("1" when the hold is a waitlist offer), wlseq (an offer's: the
--                             join sequence of the waitlist entry it took its buyer from)
--   P{ev:E}:expiry     ZSET   hold ids -> deadline (ms); the sweeper releases the live ones when
--                             due. A member is one hold's id, or the ids of a reserve batch's
--                             holds, space-separated (they share the deadline): ending a hold
--                             early removes a member of its own id only, so a batch's member
--                             stays until its deadline and the sweeper skips its ended holds
--   P{ev:E}:user:U     STRING seats user U holds or bought for the event
--   P{ev:E}:idem:U:K   STRING "<booking id>|<fingerprint>" of user U's Idempotency-Key K
--   P{ev:E}:gate       HASH   the event's waiting room as reserve checks a queue pass against it
--                             (written by the queue: services/queue): epoch, joins, cursor
--                             ("admitted up to"), floor (sequences whose window ended), bound
--                             (used passes name their buyer: pass_window), ...
--   P{ev:E}:gate:ticks ZSET   admission steps: member = end of their shopping window (ms),
--                             score = the cursor after the step
--   P{ev:E}:gate:used  ZSET   passes used by a reserve: member = "<sequence>:<user id>" (the
--                             sequence alone on a line without the gate's "bound": pass_window),
--                             score = window end
--   P{ev:E}:wl:Z       ZSET   zone Z's waitlist: user id -> join sequence (the line's order)
--   P{ev:E}:wlq:Z      HASH   zone Z's waitlist: user id -> seats wanted
--   P{ev:E}:wl:seq     STRING the event's last waitlist join sequence
--   P{ev:E}:wl:ids     STRING a counter of the offers made (offer_waitlist's booking ids)
--                             The lines are durable in Postgres (booking's waitlist_entries, one
--                             row per buyer and zone, moved forward by join sequence): booking
--                             records each join once its script answered, each end (leave,
--                             close, forget; an offer through the stream's wlseq, an entry
--                             dropped for the per-user limit through wldrop), and a
--                             rebuild (load.lua) writes the lines back from the rows still waiting.
--   P{ev:E}:wl:rec     STRING "1": every place of the event's lines has its row in Postgres: load.lua's
--                             whole write sets it (the lines come from the rows), and booking's pass
--                             over the places taken before the rows existed, once per event
--   P{ev:E}:stream     STREAM every state change, relayed to Kafka (consumer group "relay"):
--                             one entry per change (emit below), and one per reserve batch
--                             for all its new holds (reserve.lua); an entry's tp (a hold
--                             line's last field) is the W3C traceparent of the call that
--                             made the change ('' if untraced), sent on as the Kafka record's header;
--                             an entry into an empty stream is PUBLISHed on the stream's own
--                             name (notice below), which the relays listen to
--   meta also keeps offer_ttl (ms), the life of a waitlist offer (written by waitlist_join.lua).
-- Invariant per zone, after every script: available + held + sold = total, available >= 0
-- (a waitlist offer is a hold: its seats count as held).

-- How long a finished hold record stays in Redis (its history is in Postgres).
local FINISHED_TTL_MS = 86400000

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- notice tells the relays that stream, empty until the entry just added,
-- has something to relay: a PUBLISH on a channel named as the stream, which
-- every relay listens to (relay.go). A relay then reads only the streams
-- that have entries, so its idle cost does not grow with the events loaded.
-- Into a stream that is not empty no notice is needed: the relay that read
-- its entries goes on reading it, and a relay's scan finds the rest.
local function notice(stream)
  if redis.call('XLEN', stream) == 1 then
    redis.call('PUBLISH', stream, '')
  end
end

-- emit appends the booking's whole state and its zone's counters to the
-- stream, so a consumer can apply entries in any order by version
-- (reserve.lua writes one entry for all the new holds of a batch, kind
-- "holds", packed: see there; the relay fills in what follows). tp is
-- the caller's traceparent, nil or '' when it was not traced; the field is
-- always written, so every entry has the same fields (Redis then stores
-- the field names once per stream node). dropped ('' or nil when none) are
-- the places offer_waitlist dropped from the zone's line in the step that
-- released this booking ("<user>:<join sequence>", comma-separated): the
-- persister ends their records.
local function emit(stream, hold, zone, kind, at, tp, dropped)
  local h = redis.call('HMGET', hold, 'id', 'user', 'event', 'show', 'zone', 'qty', 'unit', 'status',
    'exp', 'created', 'confirmed', 'cancelled', 'idem', 'ver', 'cause', 'wl', 'wlseq')
  local z = redis.call('HMGET', zone, 'total', 'available', 'held', 'sold', 'ver')
  redis.call('XADD', stream, '*', 'kind', kind, 'at', at,
    'id', h[1], 'user', h[2], 'event', h[3], 'show', h[4], 'zone', h[5], 'qty', h[6], 'unit', h[7],
    'status', h[8], 'exp', h[9] or '', 'created', h[10], 'confirmed', h[11] or '', 'cancelled', h[12] or '',
    'idem', h[13], 'ver', h[14], 'cause', h[15] or '', 'wl', h[16] or '', 'wlseq', h[17] or '',
    'wldrop', dropped or '',
    'ztotal', z[1], 'zavailable', z[2], 'zheld', z[3], 'zsold', z[4], 'zver', z[5], 'tp', tp or '')
  notice(stream)
end

-- count_live moves the event's count of live holds (meta's live) by delta;
-- call it before the script changes the expiry set. An event loaded by a
-- release before the count existed has none yet: every expiry entry then
-- is one hold, so the count starts from them.
local function count_live(meta, expiry, delta)
  if redis.call('HEXISTS', meta, 'live') == 0 then
    redis.call('HSET', meta, 'live', redis.call('ZCARD', expiry))
  end
  redis.call('HINCRBY', meta, 'live', delta)
end

-- How many entries at the head of a zone's waitlist one return of seats looks at.
local WAITLIST_SCAN = 200

-- offer_waitlist gives a zone's available seats to its waitlist, in line
-- order, as holds (waitlist offers) created for the waiting buyers: each
-- entry gets its whole quantity or waits (an entry whose group does not fit
-- the seats now available keeps its place, and the next entry that fits is
-- served); an entry that the per-user limit no longer allows is dropped.
-- An offer's hold keeps the join sequence of the entry it took (wlseq),
-- which its stream entries carry to the persister: it ends the entry's
-- durable row. A dropped entry's row ends too: the caller hands the drops
-- on (release: on the released booking's stream entry, wldrop; load.lua:
-- in its answer, which booking records), or a rebuild would put the entry
-- back in line. Runs only while the zone is on sale as reserve.lua decides
-- it (the event published, inside its sale window, and the zone's show not
-- started); a started show's line keeps its entries and gets nothing.
-- Returns the number of offers made and the entries dropped
-- ("<user>:<join sequence>", comma-separated; '' for none).
-- The offer's booking id is a UUID built from the event, the user, the time
-- and a counter, so two offers never share one.
local function offer_waitlist(prefix, zid, stream, now, tp)
  local wl = prefix .. 'wl:' .. zid
  if redis.call('EXISTS', wl) == 0 then
    return 0, ''
  end
  local meta = redis.call('HMGET', prefix .. 'meta', 'status', 'sale_start', 'sale_end', 'max_per_user', 'offer_ttl')
  if meta[1] ~= 'published' or now < tonumber(meta[2]) or now >= tonumber(meta[3]) then
    return 0, ''
  end
  local zone = prefix .. 'zone:' .. zid
  local z = redis.call('HMGET', zone, 'available', 'show', 'price', 'held', 'starts')
  local avail, held = tonumber(z[1]), tonumber(z[4])
  if avail < 1 or now >= (tonumber(z[5]) or math.huge) then
    return 0, ''
  end
  local dropped = {}
  local wlq = prefix .. 'wlq:' .. zid
  local ttl = tonumber(meta[5] or '600000')
  local limit = tonumber(meta[4])
  local event = string.match(prefix, '{ev:([^}]+)}')
  local made = 0
  local line = redis.call('ZRANGE', wl, 0, WAITLIST_SCAN - 1, 'WITHSCORES')
  for e = 1, #line, 2 do
    local u, seq = line[e], line[e + 1]
    local q = tonumber(redis.call('HGET', wlq, u) or '0')
    local ukey = prefix .. 'user:' .. u
    local mine = tonumber(redis.call('GET', ukey) or '0')
    if q < 1 or mine + q > limit then
      redis.call('ZREM', wl, u)
      redis.call('HDEL', wlq, u)
      dropped[#dropped + 1] = u .. ':' .. seq
    elseif q <= avail then
      local n = redis.call('INCR', prefix .. 'wl:ids')
      local h = redis.sha1hex(prefix .. u .. ':' .. now .. ':' .. n)
      local id = string.sub(h, 1, 8) .. '-' .. string.sub(h, 9, 12) .. '-5' .. string.sub(h, 14, 16) ..
        '-8' .. string.sub(h, 18, 20) .. '-' .. string.sub(h, 21, 32)
      local hold = prefix .. 'hold:' .. id
      avail, held = avail - q, held + q
      redis.call('HSET', zone, 'available', avail, 'held', held)
      redis.call('HINCRBY', zone, 'ver', 1)
      redis.call('INCRBY', ukey, q)
      redis.call('HSET', hold, 'id', id, 'user', u, 'event', event, 'show', z[2], 'zone', zid, 'qty', q,
        'unit', z[3], 'status', 'reserved', 'exp', now + ttl, 'created', now, 'idem', 'waitlist-' .. id,
        'ver', 1, 'wl', '1', 'wlseq', seq)
      count_live(prefix .. 'meta', prefix .. 'expiry', 1)
      redis.call('ZADD', prefix .. 'expiry', now + ttl, id)
      redis.call('ZREM', wl, u)
      redis.call('HDEL', wlq, u)
      emit(stream, hold, zone, 'offered', now, tp)
      made = made + 1
      if avail == 0 then
        break
      end
    end
  end
  return made, table.concat(dropped, ',')
end

-- release gives a hold's (or a purchase's) seats back to its zone and marks
-- the booking `to` (cancelled, expired or refunded) for `cause` (buyer,
-- expired, event_cancelled or system); tp as for emit. The seats go to the
-- zone's waitlist first (offer_waitlist), in the same atomic step; the
-- booking's stream entry comes after the offers' and carries the entries
-- the offers dropped (its zone counters are the zone's after the offers,
-- at the latest zone version: consumers keep the latest).
local function release(prefix, hold, expiry, stream, to, at, tp, cause)
  local f = redis.call('HMGET', hold, 'id', 'user', 'zone', 'qty', 'status')
  local q = tonumber(f[4])
  local zone = prefix .. 'zone:' .. f[3]
  local user = prefix .. 'user:' .. f[2]
  if f[5] == 'reserved' then
    redis.call('HINCRBY', zone, 'held', -q)
    count_live(prefix .. 'meta', expiry, -1)
  else
    redis.call('HINCRBY', zone, 'sold', -q)
  end
  redis.call('HINCRBY', zone, 'available', q)
  redis.call('HINCRBY', zone, 'ver', 1)
  if redis.call('DECRBY', user, q) <= 0 then
    redis.call('DEL', user)
  end
  redis.call('ZREM', expiry, f[1])
  redis.call('HSET', hold, 'status', to, 'cancelled', at, 'cause', cause)
  redis.call('HINCRBY', hold, 'ver', 1)
  local _, dropped = offer_waitlist(prefix, f[3], stream, at, tp)
  emit(stream, hold, zone, to, at, tp, dropped)
  redis.call('PEXPIRE', hold, FINISHED_TTL_MS)
end

-- pass_window checks a queue pass of user, the sequence seq (a string) of
-- the line epoch, at time now: admitted (seq <= cursor), and its shopping
-- window (the one of the admission step that passed it) still open. Returns
-- the window's end (ms, a string) and the pass's member in the used passes
-- (gate:used), or nil and why: 'void' (another epoch: the line was reset),
-- 'waiting' (not admitted yet) or 'expired'. Two reads: the gate, then the
-- first step at or after seq.
--
-- A used pass is "<seq>:<user>": a crash of Redis that loses its last
-- second of joins (appendfsync everysec) hands their join numbers out
-- again, so two buyers may hold passes of one sequence, each of them
-- theirs (the booking service checked the pass names the caller). A line
-- started before used passes named their buyer (its gate has no "bound",
-- services/queue) keeps recording them by sequence alone until it ends,
-- as the replicas of that release do.
local function pass_window(gate, ticks, epoch, seq, user, now)
  local g = redis.call('HMGET', gate, 'epoch', 'cursor', 'floor', 'bound')
  if not g[1] or g[1] ~= epoch then
    return nil, 'void'
  end
  local n = tonumber(seq)
  if n > tonumber(g[2] or '0') then
    return nil, 'waiting'
  end
  if n <= tonumber(g[3] or '0') then
    return nil, 'expired'
  end
  local w = redis.call('ZRANGEBYSCORE', ticks, n, '+inf', 'LIMIT', 0, 1)
  if not w[1] or tonumber(w[1]) <= now then
    return nil, 'expired'
  end
  if g[4] then
    return w[1], seq .. ':' .. user
  end
  return w[1], seq
end
