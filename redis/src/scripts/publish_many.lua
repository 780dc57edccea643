-- publish_many(producer, waits, KEY, PAYLOAD, KEY, PAYLOAD, ...): puts the items on sale in
-- the order given, as many as the producer has room for; answers how many, whether the
-- market is closed, and whether it registered the caller as waiting (`waits` as `register`
-- and `withdraw`, in the prelude, take it; it registers when the producer is left full).
local producer, waits = tonumber(ARGV[3]), tonumber(ARGV[4])
local figures = redis.call('HMGET', meta, 'producers', 'capacity')
if producer < 0 or producer >= tonumber(figures[1]) then
  return finish({'unknown'})
end
local shelf = prefix .. 'shelf'
local room = tonumber(figures[2]) - tonumber(redis.call('HGET', shelf, producer) or '0')
withdraw(producer, waits)
local offered = (#ARGV - 5) / 2
local count = math.max(0, math.min(offered, room))
if count > 0 then
  redis.call('HINCRBY', shelf, producer, count)
  -- The places are taken: tokens left for them would wake publishers for nothing.
  trim(prefix .. 'room:' .. producer, math.min(room - count, waiters(producer)))
  redis.call('HINCRBY', meta, 'on_shelves', count)
  -- One push and one ring per product, in the order the products first appear.
  local keys, entries = {}, {}
  for i = 0, count - 1 do
    local key = ARGV[5 + 2 * i]
    if not entries[key] then
      entries[key] = {}
      keys[#keys + 1] = key
    end
    local list = entries[key]
    list[#list + 1] = producer .. '|' .. ARGV[6 + 2 * i]
  end
  for _, key in ipairs(keys) do
    local on_sale = push_all('RPUSH', prefix .. 'q:' .. key, entries[key])
    ring(prefix .. 'bell:' .. key, on_sale, #entries[key])
  end
end
local closed_now = closed()
local registered = 0
if count < offered or (count >= room and waits >= 4) then
  registered = register(producer, waits, closed_now)
end
return finish({'ok', count, closed_now and 1 or 0, registered})
