-- publish(producer, key, payload): puts the item on sale unless its producer is full.
local producer, key, payload = tonumber(ARGV[3]), ARGV[4], ARGV[5]
-- One read for the producer count and the capacity (is_producer and capacity() read them
-- one call each).
local figures = redis.call('HMGET', meta, 'producers', 'capacity')
if producer < 0 or producer >= tonumber(figures[1]) then
  return finish({'unknown'})
end
local shelf = prefix .. 'shelf'
local held = tonumber(redis.call('HGET', shelf, producer) or '0')
local limit = tonumber(figures[2])
if held >= limit then
  return finish({'full', closed() and 1 or 0})
end
redis.call('HINCRBY', shelf, producer, 1)
-- The place is taken: a token left for it would wake a publisher for nothing.
trim(prefix .. 'room:' .. producer, limit - held - 1)
redis.call('HINCRBY', meta, 'on_shelves', 1)
local queue = prefix .. 'q:' .. key
local on_sale = redis.call('RPUSH', queue, producer .. '|' .. payload)
ring(prefix .. 'bell:' .. key, on_sale)
return finish({'ok'})
