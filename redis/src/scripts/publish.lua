-- publish(producer, key, payload, waits): puts the item on sale unless its producer is
-- full; `waits` as `register` and `withdraw` (prelude) take it.
local producer, key, payload, waits = tonumber(ARGV[3]), ARGV[4], ARGV[5], tonumber(ARGV[6])
-- One read for the producer count and the capacity (is_producer and capacity() read them
-- one call each).
local figures = redis.call('HMGET', meta, 'producers', 'capacity')
if producer < 0 or producer >= tonumber(figures[1]) then
  return finish({'unknown'})
end
local shelf = prefix .. 'shelf'
local held = tonumber(redis.call('HGET', shelf, producer) or '0')
local limit = tonumber(figures[2])
withdraw(producer, waits)
if held >= limit then
  return finish({'full', register(producer, waits, closed())})
end
redis.call('HINCRBY', shelf, producer, 1)
-- The place is taken: a token left for it would wake a publisher for nothing.
trim(prefix .. 'room:' .. producer, math.min(limit - held - 1, waiters(producer)))
redis.call('HINCRBY', meta, 'on_shelves', 1)
local queue = prefix .. 'q:' .. key
local on_sale = redis.call('RPUSH', queue, producer .. '|' .. payload)
ring(prefix .. 'bell:' .. key, on_sale)
return finish({'ok'})
