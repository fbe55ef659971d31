-- A hub says it is alive, and learns which hubs are not.
--   KEYS[1]: every hub with users in rooms: a sorted set of hub -> its last heartbeat, in ms by Redis's clock.
--   ARGV[1]: this hub; ARGV[2]: how long a hub may stay silent before it counts as gone, in ms.
-- Returns {listed, gone}: 1 when this hub was not listed (its first heartbeat, or another hub took it for
-- gone meanwhile), and the hubs silent for longer than allowed.
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local listed = redis.call('ZADD', KEYS[1], now, ARGV[1])
return {listed, redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))}
