-- new_cart(): opens the next cart.
local cart = redis.call('HINCRBY', meta, 'carts', 1) - 1
redis.call('SADD', prefix .. 'open', cart)
return finish({'ok', cart})
