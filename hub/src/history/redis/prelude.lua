-- What the scripts below share. One stream of the hub's history is two keys:
--   KEYS[1], its events: a Redis stream whose entry ids are the offsets (OFFSET-0), each entry holding
--            `t` (when it was recorded, by Redis's clock, in ms) and `e` (the event, as the hub encoded it);
--   KEYS[2], its position: a hash of `epoch`, `top` (the last offset given out) and `t` (the last time).
-- Offsets follow each other without a gap from the oldest event kept to `top`.
local events, position = KEYS[1], KEYS[2]

local function id(offset)
  return string.format('%d-0', offset)
end

local function now_ms()
  local time = redis.call('TIME')
  return tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
end

-- The stream's epoch and last offset. A stream Redis does not know (never used, expired, lost) or that
-- must start over (`fresh`: its history has a hole) starts at offset 0 of `new_epoch`, and is forgotten
-- after `idle_ttl` ms unless an event is recorded.
local function open(new_epoch, fresh, idle_ttl)
  local current = redis.call('HMGET', position, 'epoch', 'top')
  if current[1] and not fresh then
    return current[1], tonumber(current[2])
  end
  redis.call('DEL', events)
  redis.call('HSET', position, 'epoch', new_epoch, 'top', 0, 't', 0)
  redis.call('PEXPIRE', position, idle_ttl)
  return new_epoch, 0
end

-- Drops the events recorded before `deadline` and returns the offset of the oldest one kept (`top + 1`
-- when none is). Times never decrease from one offset to the next, so a binary search finds the first
-- event to keep: at most 17 lookups for the largest --history-size.
local function expire(top, deadline)
  local oldest = redis.call('XRANGE', events, '-', '+', 'COUNT', 1)[1]
  if not oldest then
    return top + 1
  end
  local first = tonumber(string.match(oldest[1], '^%d+'))
  if tonumber(oldest[2][2]) >= deadline then
    return first
  end
  -- Events before `low` are expired; `high` is kept, or past the last one.
  local low, high = first + 1, top + 1
  while low < high do
    local middle = math.floor((low + high) / 2)
    local entry = redis.call('XRANGE', events, id(middle), id(middle))[1]
    if tonumber(entry[2][2]) < deadline then
      low = middle + 1
    else
      high = middle
    end
  end
  redis.call('XTRIM', events, 'MINID', id(low))
  return low
end
