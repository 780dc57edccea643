-- access(): the first command the market runs that the login may not (an ACL that denies
-- it), with the key it was checked on, or nothing when it may run them all. A script denied
-- a command midway keeps what it wrote before, half applying its operation (a publish denied
-- its doorbell's LPUSH leaves the item on sale, while its caller is told it failed), so a
-- login is checked for every command before it makes or joins the market, on every kind of
-- key it is used on: an ACL's key patterns (`~`, or `%R~` for reads only) may allow a
-- command on one kind and not another. A kind whose names end in an id or a product's key
-- is checked on one name (`room:0`, `q:`): patterns that tell such names apart are not.
-- Redis before 7.0 cannot tell (no redis.acl_check_cmd): such a login is taken unchecked.
-- KEYS[1] is the market's `meta` hash. Every command a script or the client runs is here
-- (`scripts::tests` fails when one is not). The client's delete (SCAN, then DEL on every key
-- under the prefix) is not checked: denied SCAN, it fails before it deletes anything.
if not redis.acl_check_cmd then
  return false
end
local meta = KEYS[1]
local prefix = string.sub(meta, 1, -5)
local function key(kind)
  return prefix .. kind
end
local ops, shelf, waiting, claims = key('ops'), key('shelf'), key('waiting'), key('claims')
local open, closing, queue, bell = key('open'), key('closing'), key('q:'), key('bell:')
local room, cart, tally = key('room:0'), key('cart:0'), key('tally:')
local uses = {
  {'EXISTS', meta}, {'HGET', meta, 'f'}, {'HMGET', meta, 'f'}, {'HSET', meta, 'f', 'v'},
  {'HSETNX', meta, 'f', 'v'}, {'HINCRBY', meta, 'f', '1'},
  {'HGET', ops, 'f'}, {'HSET', ops, 'f', 'v'}, {'HDEL', ops, 'f'},
  {'HGET', shelf, 'f'}, {'HINCRBY', shelf, 'f', '1'},
  {'HGET', waiting, 'f'}, {'HINCRBY', waiting, 'f', '1'}, {'HDEL', waiting, 'f'},
  {'HGET', claims, 'f'}, {'HSET', claims, 'f', 'v'},
  {'SADD', open, 'm'}, {'SREM', open, 'm'}, {'SISMEMBER', open, 'm'}, {'SCARD', open},
  {'SADD', tally, 'm'}, {'SCARD', tally},
  {'LPOP', queue}, {'LLEN', queue}, {'RPUSH', queue, 'v'},
  {'RPUSH', cart, 'v'}, {'LRANGE', cart, '0', '-1'}, {'LSET', cart, '0', 'v'},
  {'LREM', cart, '1', 'v'}, {'DEL', cart},
  {'LPUSH', closing, 'v'},
  {'LPUSH', bell, 'v'}, {'LTRIM', bell, '0', '-1'}, {'DEL', bell},
  {'LPUSH', room, 'v'}, {'LTRIM', room, '0', '-1'}, {'DEL', room},
  {'BLPOP', bell, closing, '1'}, {'BLPOP', room, closing, '1'},
}
for _, use in ipairs(uses) do
  if not redis.acl_check_cmd(unpack(use)) then
    return {use[1], use[2]}
  end
end
return false
