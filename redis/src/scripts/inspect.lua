-- inspect(what, arg): read-only figures: 'stats', 'shelf' (a producer's count, or nothing
-- for an unknown producer), 'available' (items equal to a product on sale), 'tally' (a
-- group's size), 'closed'.
local what, arg = ARGV[3], ARGV[4]
if what == 'stats' then
  local f = redis.call('HMGET', meta, 'producers', 'on_shelves', 'in_carts')
  return {'ok', tonumber(f[1]), redis.call('SCARD', prefix .. 'open'), tonumber(f[2]),
    tonumber(f[3])}
elseif what == 'shelf' then
  local producer = tonumber(arg)
  if not is_producer(producer) then
    return {'unknown'}
  end
  return {'ok', tonumber(redis.call('HGET', prefix .. 'shelf', producer) or '0')}
elseif what == 'tally' then
  return {'ok', redis.call('SCARD', prefix .. 'tally:' .. arg)}
elseif what == 'available' then
  return {'ok', redis.call('LLEN', prefix .. 'q:' .. arg)}
else
  return {'ok', closed() and 1 or 0}
end
