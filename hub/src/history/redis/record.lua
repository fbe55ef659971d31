
-- Records one event at the stream's next offset and announces it to every hub in the same step, so
-- that hubs receive each stream's events in offset order.
-- ARGV: epoch for a new stream, '1' to start over, events kept, TTL in ms, channel, the announcement's
-- head (who receives it), the event. Returns {offset, epoch}.
local size, ttl, channel, head, event = ARGV[3], tonumber(ARGV[4]), ARGV[5], ARGV[6], ARGV[7]
local epoch, top = open(ARGV[1], ARGV[2] == '1', ttl)
local now = math.max(now_ms(), tonumber(redis.call('HGET', position, 't')) or 0)
local offset = top + 1
redis.call('XADD', events, 'MAXLEN', size, id(offset), 't', now, 'e', event)
redis.call('HSET', position, 'top', offset, 't', now)
expire(offset, now - ttl)
redis.call('PEXPIRE', events, ttl)
-- The position outlives the events by a TTL, as a lone hub's idle streams do: a client that saw the
-- last event can still learn that it missed nothing.
redis.call('PEXPIRE', position, 2 * ttl)
redis.call('PUBLISH', channel, cmsgpack.pack(offset, epoch) .. head .. event)
return {offset, epoch}
