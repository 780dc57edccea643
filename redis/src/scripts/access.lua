-- access(): the first command the market runs that the login may not (an ACL that denies
-- it), or nothing when it may run them all. A script denied a command midway keeps what it
-- wrote before, half applying its operation (a publish denied its doorbell's LPUSH leaves
-- the item on sale, while its caller is told it failed), so a login is checked for every
-- command before it makes or joins the market, each on a key of the kind it is used on.
-- Redis before 7.0 cannot tell (no redis.acl_check_cmd): such a login is taken unchecked.
-- KEYS[1] is the market's `meta` hash.
if not redis.acl_check_cmd then
  return false
end
local meta = KEYS[1]
local prefix = string.sub(meta, 1, -5)
local list, hash, set = prefix .. 'q:', prefix .. 'ops', prefix .. 'open'
local uses = {
  {'EXISTS', meta}, {'HGET', hash, 'f'}, {'HMGET', hash, 'f'}, {'HSET', hash, 'f', 'v'},
  {'HSETNX', hash, 'f', 'v'}, {'HINCRBY', hash, 'f', '1'}, {'HDEL', hash, 'f'},
  {'LLEN', list}, {'LRANGE', list, '0', '-1'}, {'LPUSH', list, 'v'}, {'RPUSH', list, 'v'},
  {'LPOP', list}, {'LSET', list, '0', 'v'}, {'LREM', list, '1', 'v'},
  {'LTRIM', list, '0', '-1'}, {'DEL', list}, {'BLPOP', list, prefix .. 'closing', '1'},
  {'SADD', set, 'm'}, {'SREM', set, 'm'}, {'SISMEMBER', set, 'm'}, {'SCARD', set},
}
for _, use in ipairs(uses) do
  if not redis.acl_check_cmd(unpack(use)) then
    return use[1]
  end
end
return false
