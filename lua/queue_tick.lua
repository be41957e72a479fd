-- queue_tick.lua: one admission step of an event's waiting room: moves the
-- event's one cursor ("admitted up to") at the admission rate, under the cap
-- of active shoppers, while seats are left. No per-buyer work: a buyer is
-- admitted when the cursor passes their ticket's sequence. Every admitter
-- replica may run it as often as it likes: a token bucket refilled from
-- Redis time decides how far the cursor moves, so the rate holds whatever
-- the number of replicas or their timing.
-- uses: lib.lua
--
-- KEYS[1] booking meta (B{ev:E}:meta)   KEYS[2] gate (B{ev:E}:gate)
-- KEYS[3] admission ticks (B{ev:E}:gate:ticks)   KEYS[4] used passes (B{ev:E}:gate:used)
-- KEYS[5] tickets (Q{ev:E}:tickets), for its expiry
-- ARGV[1] admissions per second   ARGV[2] cap on active shoppers (0: none)
-- ARGV[3] shopping window of a pass (ms)   ARGV[4] how long the queue keys outlive the sale (ms)
-- ARGV[5] a fresh draw key (hex), kept by the opening
--
-- The gate (HASH) holds: epoch, joins (tickets issued), cursor, cursor_at (ms of
-- its last move), floor (sequences up to it have no window left), opened,
-- drawn + draw (the opening's permutation of the pre-queue: services/platform/
-- ticket), tokens + ts (the bucket), soldout, active (admitted, window open,
-- pass unused), rate, cap, window, updated (ms of this step), leave (the
-- share of active shoppers who leave each second, smoothed) and its span in
-- progress (span_at: ms of its start, left: shoppers who left in it, busy:
-- shopper-milliseconds in it), keep (the
-- keys' expiry), bound (set when the line starts, queue_join.lua: its used
-- passes are recorded with their buyer, lib.lua's pass_window). Whether the
-- sale is over is not kept: it is the booking meta's to say (status,
-- sale_end), which the organizer may change.
--
-- Each step: the windows that ended leave the count of active shoppers (the
-- floor moves); the shoppers who left since the last step (used their pass,
-- or their window ended: active fell) are counted, and every PACE_SPAN the
-- span's departures per shopper and second update leave, from which the
-- queue tells how fast the line moves once the cap is reached (its Pace:
-- cap x leave, lines.go); sold out is no zone with a seat on sale: every zone's
-- available = 0, or its show started (the zones of the event are meta's
-- "zones"); at the sale's start the pre-queue is drawn
-- once (its tickets' join numbers 1..drawn get their sequences from the draw
-- key; later joins continue the count); then the cursor moves by the
-- bucket's whole tokens, at most to the last ticket, not at all while sold
-- out, and not past the cap. Each move is recorded in the ticks (its
-- window's end, the cursor after it), where reserve.lua finds a pass's
-- window.
--
-- A step after the sale's end (or while the event is not published) moves
-- nothing and keeps the line as it is: the organizer may extend the sale or
-- put the event on sale again, and the same line, with its waiting tickets
-- in their order, moves again from the first step after that. The bucket is
-- emptied, as at the opening, so admission restarts without a burst.
--
-- Returns (every element a string):
--   {"IDLE"}                   no inventory in Redis, or nobody ever joined
--   {"CLOSED"}                 the event is cancelled (final), or the sale is over and its
--                              line gone (nobody ever joined, or the keys expired)
--   {"ENDED", waiting}         the sale is over, or the event is not published: nothing moves,
--                              and waiting tickets are left (the sale may reopen)
--   {"WAIT", waiting}          no queue, or before the opening: nothing to admit yet
--   {"ADMITTED", n, waiting}   the cursor moved by n; waiting tickets are left

-- How long a span of departures lasts (ms): leave is updated once per span,
-- half the old value and half the span's, so it follows a change within
-- a few spans.
local PACE_SPAN = 5000

local meta = redis.call('HMGET', KEYS[1], 'status', 'sale_start', 'sale_end', 'queue', 'zones')
if not meta[1] then
  return {'IDLE'}
end
local now = now_ms()
if meta[1] ~= 'published' or now >= tonumber(meta[3]) then
  local e = redis.call('HMGET', KEYS[2], 'epoch', 'joins', 'cursor')
  if meta[1] == 'cancelled' or not e[1] then
    return {'CLOSED'}
  end
  redis.call('HDEL', KEYS[2], 'tokens', 'ts', 'span_at', 'left', 'busy')
  redis.call('HSET', KEYS[2], 'updated', now)
  return {'ENDED', tostring(tonumber(e[2] or '0') - tonumber(e[3] or '0'))}
end
local g = redis.call('HMGET', KEYS[2], 'epoch', 'joins', 'cursor', 'floor', 'opened', 'tokens', 'ts', 'keep',
  'active', 'updated', 'span_at', 'left', 'busy', 'leave')
if not g[1] then
  return {'IDLE'}
end
local joins, cursor, floor = tonumber(g[2] or '0'), tonumber(g[3] or '0'), tonumber(g[4] or '0')
local rate, cap, window = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])

local keep = tonumber(meta[3]) + tonumber(ARGV[4])
if g[8] ~= tostring(keep) then
  for i = 2, 5 do
    redis.call('PEXPIREAT', KEYS[i], keep)
  end
end

-- Windows that ended: the floor follows, and so do the used passes.
local moved = false
for _ = 1, 1000 do
  local due = redis.call('ZRANGE', KEYS[3], 0, 0, 'WITHSCORES')
  if not due[1] or tonumber(due[1]) > now then
    break
  end
  floor = math.max(floor, tonumber(due[2]))
  redis.call('ZREM', KEYS[3], due[1])
  moved = true
end
if moved then
  redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now)
end
local active = math.max(0, cursor - floor - redis.call('ZCARD', KEYS[4]))

-- Sold out when no zone has a seat on sale: available, and its show not
-- started (reserve.lua refuses a started show's seats, so they count for
-- nothing); an event loaded before zones were listed in meta is never taken
-- for sold out.
local soldout = 0
if meta[5] then
  soldout = 1
  local prefix = string.sub(KEYS[1], 1, -5) -- B{ev:E}: (KEYS[1] ends in "meta")
  for zone in string.gmatch(meta[5], '[^,]+') do
    local z = redis.call('HMGET', prefix .. 'zone:' .. zone, 'available', 'starts')
    if tonumber(z[1] or '0') > 0 and now < (tonumber(z[2]) or math.huge) then
      soldout = 0
      break
    end
  end
end

local state = {'floor', floor, 'soldout', soldout, 'active', active, 'rate', rate, 'cap', cap,
  'window', window, 'updated', now, 'keep', keep}
if meta[4] ~= '1' or now < tonumber(meta[2]) then
  -- The bucket starts empty when admission (re)starts: no burst at opening;
  -- the span of departures starts then too.
  redis.call('HDEL', KEYS[2], 'tokens', 'ts', 'span_at', 'left', 'busy')
  redis.call('HSET', KEYS[2], unpack(state))
  return {'WAIT', tostring(joins - cursor)}
end
if g[5] ~= '1' then
  -- The opening: the pre-queue is every ticket issued so far.
  redis.call('HSET', KEYS[2], 'opened', '1', 'drawn', joins, 'draw', ARGV[5])
end

-- Departures: active after the last step, less active now, left; each
-- shopper active then counts the time since (a step that is not the first
-- of a span: span_at is set).
local span_at, left, busy = tonumber(g[11]), tonumber(g[12]) or 0, tonumber(g[13]) or 0
local before, last = tonumber(g[9]), tonumber(g[10])
if not span_at then
  span_at, left, busy = now, 0, 0
elseif before and last and now > last then
  left = left + math.max(0, before - active)
  busy = busy + before * (now - last)
end
if now - span_at >= PACE_SPAN then
  if busy > 0 then
    local measured = left * 1000 / busy
    local leave = tonumber(g[14])
    if leave then
      measured = (leave + measured) / 2
    end
    state[#state + 1], state[#state + 2] = 'leave', tostring(measured)
  end
  span_at, left, busy = now, 0, 0
end
state[#state + 1], state[#state + 2] = 'span_at', span_at
state[#state + 1], state[#state + 2] = 'left', left
state[#state + 1], state[#state + 2] = 'busy', busy

local tokens, ts = tonumber(g[6]) or 0, tonumber(g[7])
if ts and now > ts then
  -- At most one second of admissions is banked.
  tokens = math.min(rate, tokens + (now - ts) * rate / 1000)
end
if not ts or now > ts then
  ts = now
end
local n = math.min(math.floor(tokens), joins - cursor)
if soldout == 1 then
  n, tokens = 0, 0
end
if cap > 0 then
  n = math.min(n, cap - active)
end
if n > 0 then
  cursor = cursor + n
  active = active + n
  tokens = tokens - n
  redis.call('ZADD', KEYS[3], cursor, now + window)
  redis.call('PEXPIREAT', KEYS[3], keep)
  state[#state + 1], state[#state + 2] = 'cursor', cursor
  state[#state + 1], state[#state + 2] = 'cursor_at', now
  state[6] = active
else
  n = 0
end
state[#state + 1], state[#state + 2] = 'tokens', tostring(tokens)
state[#state + 1], state[#state + 2] = 'ts', ts
redis.call('HSET', KEYS[2], unpack(state))
return {'ADMITTED', tostring(n), tostring(joins - cursor)}
