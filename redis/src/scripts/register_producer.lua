-- register_producer(): the next producer index.
return finish({'ok', redis.call('HINCRBY', meta, 'producers', 1) - 1})
