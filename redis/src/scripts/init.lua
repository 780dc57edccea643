-- init(tag, capacity): creates the market if it does not exist; answers its tag and
-- capacity either way, so every process sees the one the first created.
-- ARGV[1..2] are unused (no lane): creating twice is harmless.
local meta = KEYS[1]
if redis.call('EXISTS', meta) == 0 then
  redis.call('HSET', meta, 'tag', ARGV[3], 'capacity', ARGV[4], 'producers', 0, 'carts', 0,
    'on_shelves', 0, 'in_carts', 0, 'closed', 0)
end
local fields = redis.call('HMGET', meta, 'tag', 'capacity')
return {fields[1], tonumber(fields[2])}
