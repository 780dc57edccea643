-- claim(claimant, names...): claims every name for the claimant, all or none. A name that
-- another claimant holds is answered, and nothing is claimed, so that of two claimants
-- racing for overlapping names one wins them all and the other holds none of them. A name
-- stays claimed until the market is deleted: a claimant that went away cannot be told
-- from one still at work.
local claims = prefix .. 'claims'
local claimant = ARGV[3]
for i = 4, #ARGV - 1 do
  local holder = redis.call('HGET', claims, ARGV[i])
  if holder and holder ~= claimant then
    return finish({'taken', ARGV[i]})
  end
end
for i = 4, #ARGV - 1 do
  redis.call('HSET', claims, ARGV[i], claimant)
end
return finish({'ok'})
