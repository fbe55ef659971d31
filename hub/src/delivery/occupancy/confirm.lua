-- Keeps what a room's members were told in step with the room, whichever hub tells them.
--   KEYS[1]: the room's users (the hash of change.lua); KEYS[2]: the users the members were last told
--   are in the room (a set).
--   ARGV: pairs of a change about to be announced ('+': joined, '-': left) and a user.
-- Returns, for each pair, 1 when the change is to be announced: it is the user's state in the room now
-- and the members were told otherwise; else 0 (a later change on another hub undid it, or another hub
-- announced it already).
local users, told = KEYS[1], KEYS[2]
local keep = {}
for i = 1, #ARGV, 2 do
  local op, user = ARGV[i], ARGV[i + 1]
  local present = redis.call('HEXISTS', users, user) == 1
  local k = 0
  if op == '+' then
    if present and redis.call('SADD', told, user) == 1 then k = 1 end
  elseif not present and redis.call('SREM', told, user) == 1 then
    k = 1
  end
  keep[#keep + 1] = k
end
return keep
