-- tally(group, member): adds a member to a group (once, however often it is told) and
-- answers how many distinct members the group has.
local group = prefix .. 'tally:' .. ARGV[3]
redis.call('SADD', group, ARGV[4])
return finish({'ok', redis.call('SCARD', group)})
