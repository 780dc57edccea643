-- publish(producer, key, payload): puts the item on sale unless its producer is full.
local producer, key, payload = tonumber(ARGV[3]), ARGV[4], ARGV[5]
if not is_producer(producer) then
  return finish({'unknown'})
end
local shelf = prefix .. 'shelf'
local held = tonumber(redis.call('HGET', shelf, producer) or '0')
if held >= capacity() then
  return finish({'full', closed() and 1 or 0})
end
redis.call('HINCRBY', shelf, producer, 1)
redis.call('HINCRBY', meta, 'on_shelves', 1)
local queue = prefix .. 'q:' .. key
local on_sale = redis.call('RPUSH', queue, producer .. '|' .. payload)
ring(prefix .. 'bell:' .. key, on_sale)
return finish({'ok'})
