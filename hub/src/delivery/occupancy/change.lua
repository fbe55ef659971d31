-- Counts users in and out of one room for the whole cluster, in one step for a batch of one hub's changes.
--   KEYS[1]: the room's users: a hash of user -> how many hubs have sockets of that user in the room;
--   KEYS[2]: the users one hub has in the room: a set (the hub whose changes these are).
--   ARGV: pairs of an operation ('+': the hub has the user in the room now, '-': no longer) and a user.
-- Returns {codes, left}: for each pair, 0 (nothing changed for the cluster), 1 (the user came), 2 (the
-- user came into an empty room), -1 (the user went), -2 (the user went and the room is empty now); and
-- how many users the hub still has in the room.
-- The set makes every operation idempotent: a hub may say again what it already said.
local users, mine = KEYS[1], KEYS[2]
local codes = {}
for i = 1, #ARGV, 2 do
  local op, user = ARGV[i], ARGV[i + 1]
  local code = 0
  if op == '+' then
    if redis.call('SADD', mine, user) == 1 and redis.call('HINCRBY', users, user, 1) == 1 then
      code = (redis.call('HLEN', users) == 1) and 2 or 1
    end
  elseif redis.call('SREM', mine, user) == 1 then
    if redis.call('HINCRBY', users, user, -1) <= 0 then
      redis.call('HDEL', users, user)
      code = (redis.call('HLEN', users) == 0) and -2 or -1
    end
  end
  codes[#codes + 1] = code
end
return {codes, redis.call('SCARD', mine)}
