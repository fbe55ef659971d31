
-- Reads the stream's position and the events asked for, dropping expired ones first.
-- ARGV: epoch for a new stream, '1' to start over, TTL in ms, 'last', 'after' or 'page', then for 'last'
-- the number of events, for 'after' and 'page' the offset and epoch the reader has ('' for a page without
-- epoch); and the most events to return.
-- Returns {epoch, top, recovered (1, 0, or -1 when not asked), {offset, event, offset, event, ...}}.
-- A page reads from the oldest event kept when its offset and epoch do not continue.
local ttl, limit = tonumber(ARGV[3]), tonumber(ARGV[7])
local epoch, top = open(ARGV[1], ARGV[2] == '1', ttl)
local first = expire(top, now_ms() - ttl)
local from, recovered = nil, -1
if ARGV[4] == 'last' then
  from = math.max(first, top - tonumber(ARGV[5]) + 1)
elseif ARGV[4] == 'after' then
  local after = tonumber(ARGV[5])
  if ARGV[6] == epoch and after <= top and after + 1 >= first then
    from, recovered = after + 1, 1
  else
    recovered = 0
  end
else
  local after = tonumber(ARGV[5])
  if ARGV[6] == '' then
    from = math.max(after + 1, first)
  elseif ARGV[6] == epoch and after <= top and after + 1 >= first then
    from, recovered = after + 1, 1
  else
    from, recovered = first, 0
  end
end
local found = {}
if from and from <= top and limit > 0 then
  for _, entry in ipairs(redis.call('XRANGE', events, id(from), '+', 'COUNT', limit)) do
    found[#found + 1] = tonumber(string.match(entry[1], '^%d+'))
    found[#found + 1] = entry[2][4]
  end
end
return {epoch, top, recovered, found}
