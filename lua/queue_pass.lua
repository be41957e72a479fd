-- queue_pass.lua: where an admitted ticket's pass stands, exactly: its
-- shopping window and whether a reserve used it (what the line's state,
-- read once per tick for everybody, cannot say of one buyer).
-- uses: lib.lua
--
-- KEYS[1] gate (B{ev:E}:gate)   KEYS[2] admission ticks   KEYS[3] used passes
-- ARGV[1] the ticket's epoch   ARGV[2] its sequence
--
-- Returns {"LIVE", window end (ms)}, {"USED", window end (ms)}, or
-- {reason} of pass_window (lib.lua): "void", "waiting", "expired".

local ends, why = pass_window(KEYS[1], KEYS[2], ARGV[1], tonumber(ARGV[2]), now_ms())
if not ends then
  return {why}
end
if redis.call('ZSCORE', KEYS[3], ARGV[2]) then
  return {'USED', ends}
end
return {'LIVE', ends}
