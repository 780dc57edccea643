-- close(): marks the market closed and rings the closing bell; each waiter that hears it
-- rings it again, so every waiter, however many, wakes.
redis.call('HSET', meta, 'closed', 1)
redis.call('LPUSH', prefix .. 'closing', '1')
return finish({'ok'})
