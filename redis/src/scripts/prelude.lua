-- Shared opening of every operation script.
--
-- KEYS[1] is the market's `meta` hash; every other key of the market shares its prefix and
-- so its hash tag (one Redis Cluster slot per market). ARGV[1] and ARGV[2] name the
-- operation: the lane (one client connection's lifetime identity) and its sequence number.
-- A lane runs one operation at a time, so remembering each lane's last result is enough to
-- answer a retry of that operation without applying it twice. The last ARGV is the tag of
-- the market the handle joined.
local meta = KEYS[1]
local prefix = string.sub(meta, 1, -5)
local lane, seq = ARGV[1], ARGV[2]
local ops = prefix .. 'ops'

-- A market lost (deleted, or with a server that kept no data) and created again under the
-- same name has another tag: the old handles' ids would name its producers and carts.
if redis.call('HGET', meta, 'tag') ~= ARGV[#ARGV] then
  return {'nomarket'}
end

if lane ~= '' then
  local last = redis.call('HGET', ops, lane)
  if last then
    local sep = string.find(last, '|', 1, true)
    local recorded = string.sub(last, 1, sep - 1)
    if recorded == seq then
      return cjson.decode(string.sub(last, sep + 1))
    end
    -- A lane's numbers only grow, so a lower one is a copy of an operation the lane has
    -- moved past (sent on a connection given up for broken, arriving after its retry):
    -- it was answered or reported lost already, and applying it would apply it twice.
    if tonumber(recorded) > tonumber(seq) then
      return {'stale'}
    end
  end
end

-- Records `result` as the lane's last and returns it.
local function finish(result)
  if lane ~= '' then
    redis.call('HSET', ops, lane, seq .. '|' .. cjson.encode(result))
  end
  return result
end

-- Pushes `values` onto list `list` from the end `side` ('LPUSH' or 'RPUSH') in one call
-- per thousand (a call's arguments come from a Lua stack of bounded size); answers the
-- list's length.
local function push_all(side, list, values)
  local length = 0
  for first = 1, #values, 1000 do
    length = redis.call(side, list, unpack(values, first, math.min(first + 999, #values)))
  end
  return length
end

-- Keeps at most `count` tokens on a doorbell list: one per waiter that may succeed now.
local function trim(bell, count)
  if count > 0 then
    redis.call('LTRIM', bell, 0, count - 1)
  else
    redis.call('DEL', bell)
  end
end

-- Pushes `tokens` (1 unless given) on a doorbell, one per item or place the caller made
-- available, keeping at most `count`.
local function ring(bell, count, tokens)
  tokens = math.min(tokens or 1, count)
  if tokens > 0 then
    local ones = {}
    for i = 1, tokens do
      ones[i] = '1'
    end
    -- Trimming is needed only past the count; most rings stay within it.
    if push_all('LPUSH', bell, ones) > count then
      trim(bell, count)
    end
  else
    trim(bell, count)
  end
end

-- Rings the doorbell of product `key` again for the items of it on sale: a waiter whose
-- cart was ordered while it slept may have popped a token meant for one of them, and
-- leaves without it.
local function pass_on(key)
  ring(prefix .. 'bell:' .. key, redis.call('LLEN', prefix .. 'q:' .. key))
end

-- Publishers waiting for room from `producer`: registered by a waiting publish that found
-- it full, withdrawn by that publisher's next try (one that dies first stays counted, which
-- costs at most a token per dead waiter while the producer has room: docs/design.md). Its
-- room doorbell holds no more tokens than this: a place freed with nobody waiting rings
-- nobody, so the doorbell does not grow by a token for each take while the producer has
-- room to spare.
local function waiters(producer)
  return tonumber(redis.call('HGET', prefix .. 'waiting', producer) or '0')
end

-- `waits`, a caller's flags: 1 registers it as waiting when it finds `producer` full (and
-- the market open, else it will not wait); 2 withdraws the registration of its previous
-- try; 4 (batches) says it has more products than this call offers, so it waits when this
-- call leaves the producer full even if every product offered went on sale.
local function withdraw(producer, waits)
  if math.floor(waits / 2) % 2 == 1
    and redis.call('HINCRBY', prefix .. 'waiting', producer, -1) <= 0 then
    redis.call('HDEL', prefix .. 'waiting', producer)
  end
end

-- Registers the caller as waiting for room from `producer` if `waits` asks it; answers 1
-- if it did.
local function register(producer, waits, closed_now)
  if waits % 2 == 1 and not closed_now then
    redis.call('HINCRBY', prefix .. 'waiting', producer, 1)
    return 1
  end
  return 0
end

local function capacity()
  return tonumber(redis.call('HGET', meta, 'capacity'))
end

local function is_producer(producer)
  local count = tonumber(redis.call('HGET', meta, 'producers') or '0')
  return producer >= 0 and producer < count
end

local function is_open(cart)
  return redis.call('SISMEMBER', prefix .. 'open', cart) == 1
end

local function closed()
  return redis.call('HGET', meta, 'closed') == '1'
end

-- An item on sale is "PRODUCER|PAYLOAD"; in a cart it is "KEYLEN:KEY" followed by that.
local function producer_of(entry)
  local sep = string.find(entry, '|', 1, true)
  return tonumber(string.sub(entry, 1, sep - 1))
end
