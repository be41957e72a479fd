-- queue_join.lua: buyers' queue tickets for one event: each joins the line
-- (one identity, one place: joining again answers the same ticket), or
-- looks its ticket up. O(1) per buyer: one counter and one hash field,
-- whatever the line's length. The queue service coalesces the concurrent
-- joins of an event into one call (platform/groupcommit; a call of one
-- when idle), decided in order, each exactly as if it had run alone after
-- the ones before it. The ticket itself is signed in Go from the entry
-- this answers.
-- uses: lib.lua
--
-- Keys of event E (hash tag {ev:E}, one Cluster slot; see services/queue):
-- KEYS[1] booking meta (B{ev:E}:meta)   KEYS[2] gate (B{ev:E}:gate)
-- KEYS[3] tickets (Q{ev:E}:tickets: user id -> entry)
-- KEYS[4] admission ticks (B{ev:E}:gate:ticks)   KEYS[5] used passes (B{ev:E}:gate:used):
--         a new line starts without those of a line before it
-- ARGV[1] a fresh random epoch, kept when the line has none yet
-- ARGV[2] how long the queue keys outlive the sale (ms)
-- ARGV[3] a fresh draw key (hex), kept when a join opens the line
-- then per buyer i (from 0), base a = 3 + 3*i:
--   ARGV[a+1] user id
--   ARGV[a+2] "join", "look" (never writes), "renew": a new place at the end
--             of the line in place of the entry ARGV[a+3] (whose pass was used or
--             whose window ended); when the stored entry is not ARGV[a+3] any more
--             (another call renewed it), that one is answered; or "claim": the
--             user shows the signed ticket of entry ARGV[a+3], which the line does
--             not count (see below)
--   ARGV[a+3] renew, claim: the entry ("" otherwise)
--
-- A join before the sale's start is in the pre-queue. The first join or
-- admission step at or after the start opens the line (queue_tick.lua does
-- the same): the pre-queue is every ticket issued so far, drawn with the key
-- then kept; later joins are first come, first served.
--
-- An entry is "<number>:<pre>:<issued at ms>:<epoch>": pre is 1 for a join
-- before the opening, when number is the join number the opening's draw
-- turns into a sequence (services/platform/ticket), else 0 and number is the
-- sequence. An entry of another epoch (the gate was lost) counts as none.
--
-- A claim is for a ticket a Redis crash forgot (AOF, appendfsync everysec:
-- the last second of joins is lost, the counter goes back, the entry is
-- gone). The user's stored entry, when there is one, is answered. Else the
-- ticket is entered again at its own number, the counter raised to it when
-- it is past it: a join after the opening (its sequence), or a pre-queue
-- join while the opening's draw may still cover it (not drawn yet, or
-- within it). A pre-queue ticket past the draw cannot be drawn any more: it
-- gets a new place at the end of the line, as a join now would. A ticket of
-- another epoch is answered {"NONE"}. (The signature was checked in Go.)
--
-- Returns one answer per buyer, in order, each (every element a string) the
-- first that applies (time comes from Redis, one reading for the call):
--   {"NOT_LOADED"}                              no inventory in Redis
--   {"SALE_NOT_OPEN", status, start, end, now}  not published, or the sale has ended (ms)
--   {"OPEN"}                                    the event has no queue: reserve needs no pass
--   {"NONE"}                                    look: the user has no ticket; claim: the
--                                               ticket is not of this line
--   {"TICKET", entry, new (0|1), wake (0|1)}    the user's ticket; wake is 1 when this join
--                                               found nobody waiting: the caller puts the event
--                                               on the admitters' list (services/queue)

local meta = redis.call('HMGET', KEYS[1], 'status', 'sale_start', 'sale_end', 'queue')
local now = now_ms()
local sale_end = tonumber(meta[3])
local refused
if not meta[1] then
  refused = {'NOT_LOADED'}
elseif meta[1] ~= 'published' or now >= sale_end then
  refused = {'SALE_NOT_OPEN', meta[1], meta[2], meta[3], tostring(now)}
elseif meta[4] ~= '1' then
  refused = {'OPEN'}
end

-- The gate, read once for the call and kept as this script writes it (the
-- cursor only moves between calls).
local gate
local function ticket(user, mode, old)
  if not gate then
    gate = redis.call('HMGET', KEYS[2], 'epoch', 'opened', 'cursor', 'drawn')
  end
  local g = gate
  local epoch = g[1]
  local entry = redis.call('HGET', KEYS[3], user)
  if entry and (not epoch or string.sub(entry, -#epoch - 1) ~= ':' .. epoch) then
    entry = nil
  end
  if mode == 'look' then
    if entry then
      return {'TICKET', entry, '0', '0'}
    end
    return {'NONE'}
  end
  if entry and (mode == 'join' or entry ~= old) then
    return {'TICKET', entry, '0', '0'}
  end

  local keep = sale_end + tonumber(ARGV[2])
  if mode == 'claim' then
    local n, p, ep = string.match(old, '^(%d+):([01]):%d+:(%d+)$')
    if not n or not epoch or ep ~= epoch then
      return {'NONE'}
    end
    n = tonumber(n)
    if p == '0' or g[2] ~= '1' or n <= tonumber(g[4] or '0') then
      if n > tonumber(redis.call('HGET', KEYS[2], 'joins') or '0') then
        redis.call('HSET', KEYS[2], 'joins', n)
      end
      redis.call('HSET', KEYS[3], user, old)
      redis.call('PEXPIREAT', KEYS[3], keep)
      local wake = '0'
      if n > tonumber(g[3] or '0') then
        wake = '1'
      end
      return {'TICKET', old, '1', wake}
    end
  end
  if not epoch then
    -- A new line: the admission steps and used passes of the one before
    -- it (its gate expired or was lost) are not its own. Its used passes
    -- name their buyer (bound: lib.lua's pass_window).
    redis.call('DEL', KEYS[4], KEYS[5])
    epoch = ARGV[1]
    redis.call('HSET', KEYS[2], 'epoch', epoch, 'bound', '1')
    redis.call('PEXPIREAT', KEYS[2], keep)
    g[1] = epoch
  end
  local pre = '0'
  if g[2] ~= '1' then
    if now < tonumber(meta[2]) then
      pre = '1'
    else
      g[4] = redis.call('HGET', KEYS[2], 'joins') or '0'
      redis.call('HSET', KEYS[2], 'opened', '1', 'drawn', g[4], 'draw', ARGV[3])
      g[2] = '1'
    end
  end
  local n = redis.call('HINCRBY', KEYS[2], 'joins', 1)
  entry = n .. ':' .. pre .. ':' .. now .. ':' .. epoch
  if redis.call('HSET', KEYS[3], user, entry) == 1 and n == 1 then
    redis.call('PEXPIREAT', KEYS[3], keep)
  end
  local wake = '0'
  if n - 1 <= tonumber(g[3] or '0') then
    wake = '1'
  end
  return {'TICKET', entry, '1', wake}
end

local out = {}
for i = 0, (#ARGV - 3) / 3 - 1 do
  local a = 3 + 3 * i
  out[i + 1] = refused or ticket(ARGV[a + 1], ARGV[a + 2], ARGV[a + 3])
end
return out
