"""The Lua scripts of the Redis store: each write is one atomic script, one round trip.

Per session a hash ``<prefix>{<tag>}:m`` (metadata) and a list ``<prefix>{<tag>}:l``
(messages in wire form, oldest first) share one hash tag. Indexes: a lex-sorted set
of ids (``<prefix>ids``), a set scored by ``updated_at`` (``<prefix>updated``), one
scored by ``expires_at`` (``<prefix>expiry``) and a set of ids per label pair.

Expiry is decided with the store's clock (``now`` is an argument); Redis's own
``PEXPIRE``, set to the session's TTL on every write, reclaims the keys later.
Numbers cross as strings formatted with ``%.17g`` so no digit of a float is lost.
"""

from __future__ import annotations

__all__ = ["APPEND", "DELETE", "LOAD", "POP", "SAVE", "TOUCH"]

# KEYS: 1 meta, 2 list, 3 ids index, 4 updated index, 5 expiry index
# Common ARGV: 1 now, 2 session id, 3 label-set key prefix
_PRELUDE = r"""
local now = tonumber(ARGV[1])
local sid = ARGV[2]
local label_prefix = ARGV[3]
local function num(x) return string.format('%.17g', x) end
-- A label's set: <prefix>label:<byte length of key>:<key>=<value> (unambiguous).
local function label_key(k, v) return label_prefix .. string.len(k) .. ':' .. k .. '=' .. v end
local function unindex_labels(labels)
  for k, v in pairs(cjson.decode(labels)) do redis.call('SREM', label_key(k, v), sid) end
end
local function index_labels(labels)
  for k, v in pairs(cjson.decode(labels)) do redis.call('SADD', label_key(k, v), sid) end
end
local function wipe(labels)
  redis.call('DEL', KEYS[1], KEYS[2])
  redis.call('ZREM', KEYS[3], sid)
  redis.call('ZREM', KEYS[4], sid)
  redis.call('ZREM', KEYS[5], sid)
  if labels then unindex_labels(labels) end
end
-- fields: 1 created 2 expires 3 ttl 4 version 5 count 6 size 7 labels
local m = redis.call('HMGET', KEYS[1], 'created', 'expires', 'ttl', 'version', 'count', 'size',
                     'labels')
local exists = m[1] ~= false
local expired = exists and m[2] ~= '' and tonumber(m[2]) <= now
local function expire_keys(ttl)
  if ttl == '' then
    redis.call('PERSIST', KEYS[1])
    redis.call('PERSIST', KEYS[2])
    redis.call('ZREM', KEYS[5], sid)
  else
    local ms = math.ceil(tonumber(ttl) * 1000)
    redis.call('PEXPIRE', KEYS[1], ms)
    redis.call('PEXPIRE', KEYS[2], ms)
  end
end
local function choose_ttl(arg, default_ttl, own)
  if arg == 'D' then
    if own ~= nil then return own end
    return default_ttl
  elseif arg == 'N' then
    return ''
  end
  return arg
end
local function expiry_of(ttl)
  if ttl == '' then return '' end
  return num(now + tonumber(ttl))
end
"""

# ARGV: 4 ttl arg ('D' | 'N' | seconds), 5 default ttl ('' = none), 6 expected version
# ('' = any), 7 max messages, 8 max bytes ('' = none), 9 labels JSON or '' (keep),
# 10.. message bodies.
SAVE = (
    _PRELUDE
    + r"""
local own = nil
if expired then wipe(m[7]); exists = false end
local version = 0
if exists then version = tonumber(m[4]); own = m[3] end
if ARGV[6] ~= '' and tonumber(ARGV[6]) ~= version then return {'conflict', tostring(version)} end
local count = #ARGV - 9
local size = 0
for i = 10, #ARGV do size = size + string.len(ARGV[i]) end
if ARGV[7] ~= '' and count > tonumber(ARGV[7]) then
  return {'limit', 'messages', tostring(count)}
end
if ARGV[8] ~= '' and size > tonumber(ARGV[8]) then return {'limit', 'bytes', tostring(size)} end
local ttl = choose_ttl(ARGV[4], ARGV[5], own)
local expires = expiry_of(ttl)
local created = ARGV[1]
local labels = ARGV[9]
if exists then
  created = m[1]
  if labels == '' then labels = m[7] else unindex_labels(m[7]) end
  redis.call('DEL', KEYS[2])
elseif labels == '' then
  labels = '{}'
end
if not exists or ARGV[9] ~= '' then index_labels(labels) end
for i = 10, #ARGV, 1000 do
  redis.call('RPUSH', KEYS[2], unpack(ARGV, i, math.min(i + 999, #ARGV)))
end
redis.call('HSET', KEYS[1], 'id', sid, 'created', created, 'updated', ARGV[1],
           'expires', expires, 'ttl', ttl, 'version', version + 1, 'count', count,
           'size', size, 'labels', labels)
redis.call('ZADD', KEYS[3], 0, sid)
redis.call('ZADD', KEYS[4], ARGV[1], sid)
if expires ~= '' then redis.call('ZADD', KEYS[5], expires, sid) end
expire_keys(ttl)
return {'ok', created, ARGV[1], expires, tostring(count), tostring(size),
        tostring(version + 1), labels}
"""
)

# ARGV: 4 ttl arg, 5 default ttl, 6 expected version, 7 max messages, 8 max bytes,
# 9.. message bodies.
APPEND = (
    _PRELUDE
    + r"""
if expired then wipe(m[7]); exists = false end
local version, count, size, created, labels, own = 0, 0, 0, ARGV[1], '{}', nil
if exists then
  version = tonumber(m[4]); count = tonumber(m[5]); size = tonumber(m[6])
  created = m[1]; labels = m[7]; own = m[3]
end
if ARGV[6] ~= '' and tonumber(ARGV[6]) ~= version then return {'conflict', tostring(version)} end
local added = #ARGV - 8
for i = 9, #ARGV do size = size + string.len(ARGV[i]) end
count = count + added
if ARGV[7] ~= '' and count > tonumber(ARGV[7]) then
  return {'limit', 'messages', tostring(count)}
end
if ARGV[8] ~= '' and size > tonumber(ARGV[8]) then return {'limit', 'bytes', tostring(size)} end
local ttl = choose_ttl(ARGV[4], ARGV[5], own)
local expires = expiry_of(ttl)
for i = 9, #ARGV, 1000 do
  redis.call('RPUSH', KEYS[2], unpack(ARGV, i, math.min(i + 999, #ARGV)))
end
redis.call('HSET', KEYS[1], 'id', sid, 'created', created, 'updated', ARGV[1],
           'expires', expires, 'ttl', ttl, 'version', version + 1, 'count', count,
           'size', size, 'labels', labels)
if not exists then redis.call('ZADD', KEYS[3], 0, sid) end
redis.call('ZADD', KEYS[4], ARGV[1], sid)
if expires ~= '' then redis.call('ZADD', KEYS[5], expires, sid) end
expire_keys(ttl)
return {'ok', created, ARGV[1], expires, tostring(count), tostring(size),
        tostring(version + 1), labels}
"""
)

POP = (
    _PRELUDE
    + r"""
if not exists then return {'missing'} end
if expired then return {'expired', m[2]} end
if tonumber(m[5]) == 0 then return {'empty'} end
local body = redis.call('RPOP', KEYS[2])
local ttl = m[3]
local expires = expiry_of(ttl)
redis.call('HSET', KEYS[1], 'updated', ARGV[1], 'expires', expires,
           'version', tonumber(m[4]) + 1, 'count', tonumber(m[5]) - 1,
           'size', tonumber(m[6]) - string.len(body))
redis.call('ZADD', KEYS[4], ARGV[1], sid)
if expires ~= '' then redis.call('ZADD', KEYS[5], expires, sid) end
expire_keys(ttl)
return {'ok', body}
"""
)

# ARGV: 4 ttl arg, 5 default ttl
TOUCH = (
    _PRELUDE
    + r"""
if not exists then return {'missing'} end
if expired then return {'expired', m[2]} end
local ttl = choose_ttl(ARGV[4], ARGV[5], m[3])
local expires = expiry_of(ttl)
redis.call('HSET', KEYS[1], 'expires', expires, 'ttl', ttl)
if expires ~= '' then redis.call('ZADD', KEYS[5], expires, sid) end
expire_keys(ttl)
return {'ok', expires}
"""
)

# ARGV: 4 only_if_expired ('1': purge, leave a live session alone)
# Returns 1: a live session removed, 2: an expired one removed, 0: nothing.
DELETE = (
    _PRELUDE
    + r"""
if not exists then
  redis.call('ZREM', KEYS[3], sid)
  redis.call('ZREM', KEYS[4], sid)
  redis.call('ZREM', KEYS[5], sid)
  return 0
end
if ARGV[4] == '1' and not expired then return 0 end
wipe(m[7])
if expired then return 2 end
return 1
"""
)

# ARGV: 4 last ('' = all), 5 sliding ('1' restarts the TTL)
LOAD = (
    _PRELUDE
    + r"""
if not exists then return {'missing'} end
if expired then return {'expired', m[2]} end
local bodies
if ARGV[4] == '' then
  bodies = redis.call('LRANGE', KEYS[2], 0, -1)
elseif tonumber(ARGV[4]) == 0 then
  bodies = {}
else
  bodies = redis.call('LRANGE', KEYS[2], -tonumber(ARGV[4]), -1)
end
if ARGV[5] == '1' and m[3] ~= '' then
  local expires = expiry_of(m[3])
  redis.call('HSET', KEYS[1], 'expires', expires)
  redis.call('ZADD', KEYS[5], expires, sid)
  expire_keys(m[3])
end
local reply = {'ok', m[6]}
for i = 1, #bodies do reply[#reply + 1] = bodies[i] end
return reply
"""
)
