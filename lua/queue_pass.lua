-- queue_pass.lua: where an admitted ticket's pass stands, exactly: its
-- shopping window and whether a reserve used it (what the line's state,
-- read once per tick for everybody, cannot say of one buyer).
-- uses: lib.lua
--
-- KEYS[1] gate (B{ev:E}:gate)   KEYS[2] admission ticks   KEYS[3] used passes
-- ARGV[1] the ticket's epoch   ARGV[2] its sequence   ARGV[3] its user
--
-- Returns {"LIVE", window end (ms)}, {"USED", window end (ms)}: this user's
-- pass of the sequence was used (lib.lua, pass_window), or {reason} of
-- pass_window: "void", "waiting", "expired".

local ends, member_or_why = pass_window(KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3], now_ms())
if not ends then
  return {member_or_why}
end
if redis.call('ZSCORE', KEYS[3], member_or_why) then
  return {'USED', ends}
end
return {'LIVE', ends}
