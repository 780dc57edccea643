-- publish_many(producer, KEY, PAYLOAD, KEY, PAYLOAD, ...): puts the items on sale in the
-- order given, as many as the producer has room for; answers how many, and whether the
-- market is closed.
local producer = tonumber(ARGV[3])
local figures = redis.call('HMGET', meta, 'producers', 'capacity')
if producer < 0 or producer >= tonumber(figures[1]) then
  return finish({'unknown'})
end
local shelf = prefix .. 'shelf'
local room = tonumber(figures[2]) - tonumber(redis.call('HGET', shelf, producer) or '0')
local offered = (#ARGV - 4) / 2
local count = math.max(0, math.min(offered, room))
if count > 0 then
  redis.call('HINCRBY', shelf, producer, count)
  -- The places are taken: tokens left for them would wake publishers for nothing.
  trim(prefix .. 'room:' .. producer, room - count)
  redis.call('HINCRBY', meta, 'on_shelves', count)
  -- One push and one ring per product, in the order the products first appear.
  local keys, entries = {}, {}
  for i = 0, count - 1 do
    local key = ARGV[4 + 2 * i]
    if not entries[key] then
      entries[key] = {}
      keys[#keys + 1] = key
    end
    local list = entries[key]
    list[#list + 1] = producer .. '|' .. ARGV[5 + 2 * i]
  end
  for _, key in ipairs(keys) do
    local on_sale = push_all('RPUSH', prefix .. 'q:' .. key, entries[key])
    ring(prefix .. 'bell:' .. key, on_sale, #entries[key])
  end
end
return finish({'ok', count, closed() and 1 or 0})
