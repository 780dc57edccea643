-- place_order(cart): the cart's items in the order added; the cart is spent.
local cart = ARGV[3]
if not is_open(cart) then
  return finish({'unknown'})
end
local lines = prefix .. 'cart:' .. cart
local items = redis.call('LRANGE', lines, 0, -1)
redis.call('DEL', lines)
redis.call('SREM', prefix .. 'open', cart)
if #items > 0 then
  redis.call('HINCRBY', meta, 'in_carts', -#items)
end
local result = {'ok'}
for _, line in ipairs(items) do
  local colon = string.find(line, ':', 1, true)
  local key_len = colon and tonumber(string.sub(line, 1, colon - 1))
  local entry = key_len and string.sub(line, colon + 1 + key_len)
  local sep = entry and string.find(entry, '|', 1, true)
  -- A line without the market's shape (another client's write) goes back whole rather than
  -- failing the script after the cart is spent: the client holds what does not decode.
  result[#result + 1] = sep and string.sub(entry, sep + 1) or line
end
return finish(result)
