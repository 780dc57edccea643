-- remove_from_cart(cart, key): gives the first item in the cart equal to the product back
-- to its producer (even past its capacity) and to sale.
local cart, key = ARGV[3], ARGV[4]
if not is_open(cart) then
  return finish({'unknown'})
end
local lines = prefix .. 'cart:' .. cart
local wanted = string.len(key) .. ':' .. key
local items = redis.call('LRANGE', lines, 0, -1)
for index, line in ipairs(items) do
  if string.sub(line, 1, string.len(wanted)) == wanted then
    local entry = string.sub(line, string.len(wanted) + 1)
    local sep = string.find(entry, '|', 1, true)
    local producer = sep and tonumber(string.sub(entry, 1, sep - 1))
    -- A line without the market's shape (another client's write) fails the call before
    -- anything is written: Redis would keep the line's removal, with the line in no list.
    if not producer then
      return redis.error_reply('ERR line ' .. index .. ' of cart ' .. cart
        .. ' is not the market\'s (no producer and |)')
    end
    -- LSET then LREM of a marker no item can equal removes exactly this position.
    redis.call('LSET', lines, index - 1, '')
    redis.call('LREM', lines, 1, '')
    local held = redis.call('HINCRBY', prefix .. 'shelf', producer, 1)
    -- The place is taken again: tokens left for it would wake publishers for nothing.
    trim(prefix .. 'room:' .. producer, math.min(capacity() - held, waiters(producer)))
    redis.call('HINCRBY', meta, 'on_shelves', 1)
    redis.call('HINCRBY', meta, 'in_carts', -1)
    local queue = prefix .. 'q:' .. key
    local on_sale = redis.call('RPUSH', queue, entry)
    ring(prefix .. 'bell:' .. key, on_sale)
    return finish({'ok'})
  end
end
return finish({'notincart'})
