-- label(name, value): sets the market's label `name` unless it is set; answers the label.
-- The first writer wins, so processes that share a market agree on what it is for.
local field = 'label:' .. ARGV[3]
redis.call('HSETNX', meta, field, ARGV[4])
return finish({'ok', redis.call('HGET', meta, field)})
