-- add_to_cart(cart, key): moves the oldest item equal to the product from sale into the
-- cart, and frees a unit of its producer's capacity.
local cart, key = ARGV[3], ARGV[4]
if not is_open(cart) then
  pass_on(key)
  return finish({'unknown'})
end
local queue = prefix .. 'q:' .. key
local entry = redis.call('LPOP', queue)
if not entry then
  return finish({'unavailable', closed() and 1 or 0})
end
local producer = producer_of(entry)
local held = redis.call('HINCRBY', prefix .. 'shelf', producer, -1)
redis.call('HINCRBY', meta, 'on_shelves', -1)
redis.call('HINCRBY', meta, 'in_carts', 1)
redis.call('RPUSH', prefix .. 'cart:' .. cart, string.len(key) .. ':' .. key .. entry)
ring(prefix .. 'bell:' .. key, redis.call('LLEN', queue))
ring(prefix .. 'room:' .. producer, math.min(capacity() - held, waiters(producer)))
return finish({'ok'})
