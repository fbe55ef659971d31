
-- Starts the stream over in a new epoch: its history has a hole (events this hub delivered while it
-- could not reach Redis). ARGV: the new epoch, TTL in ms.
open(ARGV[1], true, tonumber(ARGV[2]))
return 1
