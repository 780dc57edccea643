-- add_many_to_cart(cart, key, wanted): moves up to `wanted` of the oldest items equal to
-- the product from sale into the cart, in order, and frees a unit of each one's producer's
-- capacity; answers how many, and whether the market is closed.
local cart, key, wanted = ARGV[3], ARGV[4], tonumber(ARGV[5])
if not is_open(cart) then
  pass_on(key)
  return finish({'unknown'})
end
local queue = prefix .. 'q:' .. key
local entries = wanted > 0 and redis.call('LPOP', queue, wanted)
if not entries then
  return finish({'ok', 0, closed() and 1 or 0})
end
local head = string.len(key) .. ':' .. key
local lines, producers, freed = {}, {}, {}
for i, entry in ipairs(entries) do
  lines[i] = head .. entry
  local producer = producer_of(entry)
  if not freed[producer] then
    freed[producer] = 0
    producers[#producers + 1] = producer
  end
  freed[producer] = freed[producer] + 1
end
push_all('RPUSH', prefix .. 'cart:' .. cart, lines)
redis.call('HINCRBY', meta, 'on_shelves', -#entries)
redis.call('HINCRBY', meta, 'in_carts', #entries)
ring(prefix .. 'bell:' .. key, redis.call('LLEN', queue))
local limit = capacity()
for _, producer in ipairs(producers) do
  local held = redis.call('HINCRBY', prefix .. 'shelf', producer, -freed[producer])
  ring(prefix .. 'room:' .. producer, math.min(limit - held, waiters(producer)), freed[producer])
end
return finish({'ok', #entries, closed() and 1 or 0})
