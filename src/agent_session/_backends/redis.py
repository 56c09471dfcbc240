"""The Lua scripts of the Redis store: every write is one atomic script, one round trip
(on a Redis Cluster, two: the session's, then the index's).

Layout, for a store with key prefix ``P``:

- ``P{tag}:meta``: a hash per session: ``id``, ``created``, ``updated``, ``expires``
  (epoch seconds, ``''`` = never), ``ttl`` (the session's own TTL in seconds, ``''`` =
  none), ``version``, ``count``, ``size`` and ``labels`` (JSON).
- ``P{tag}:msgs``: a list per session, the messages in wire form, oldest first.
  Both keys share the hash tag ``{tag}`` (see ``AsyncRedisStore._keys``), so a session
  lives in one slot of a Redis Cluster.
- ``P{}index:ids`` (zset, score 0: lex order for ``iter_sessions``), ``P{}index:updated``
  (zset scored by ``updated_at`` for ``find_sessions``), ``P{}index:expiry`` (zset
  scored by ``expires_at`` for ``purge_expired``), ``P{}index:labels`` (hash id ->
  labels JSON of labelled sessions, so their label sets can be cleaned even after
  Redis reclaimed the session) and ``P{}label:<byte length of key>:<key>=<value>``
  (a set of ids per label pair; the length makes the name unambiguous).

On a Redis Cluster the index keys are ``P{P}index:ids``, ``P{P}index:updated``,
``P{P}index:expiry``, ``P{P}index:state`` (a hash: id -> ``<updated>|<version>|<labels
JSON>`` of the write the index shows) and ``P{P}label:...``: the prefix is their hash
tag, so the whole index is one slot, apart from the sessions' slots. The session
scripts then get ``''`` as the key prefix and leave the index alone; ``INDEX`` applies
what they replied, as a second call (``docs/redis-cluster.md``).

Every key is ``P`` followed by ``{``, and a prefix holds no brace: so the keys of a
store whose prefix extends this one's (``app:`` and ``app:nested:``) never match
``P{*``, and ``clear`` removes this store's keys only (issue 7, defect 3).

Expiry is decided with the store's clock: ``now`` is an argument, never Redis's
``TIME``. Every write also sets ``PEXPIRE`` on both session keys to the session's TTL
in milliseconds, i.e. the time it has left, measured by Redis's own clock, so Redis
reclaims the keys when the session ends even if the store's clock is a test's fake
clock far from real time (an absolute ``PEXPIREAT`` at a fake time would delete at
once or never).

A Lua error does not undo the writes a script already made, so each script checks
everything (and decodes every stored JSON it needs) before its first write, the types
of the session's two keys included: a key of another type, written behind the store's
back, would make a command fail halfway (``WRONGTYPE``); the script replies
``wrongtype|meta|<type>`` or ``wrongtype|msgs|<type>`` instead (issue 7, defect 6).
Replies are one ``|``-separated string (cheaper to send and parse than an array),
except ``LOAD``'s, which is an array of message bodies. Numbers cross as strings;
floats are written with ``%.17g`` so no digit is lost.
"""

from __future__ import annotations

import functools
import importlib
import inspect
from typing import Any

from . import DriverInfo, import_driver

__all__ = [
    "APPEND",
    "DELETE",
    "INDEX",
    "LOAD",
    "POP",
    "SAVE",
    "TOUCH",
    "aredis_driver",
    "client_options",
    "redis_driver",
]


def _errors(exceptions: Any) -> tuple[type[BaseException], ...]:
    # RedisClusterException is no RedisError: a cluster client raises it when it finds
    # no node to ask (every startup node unreachable, a slot no node serves).
    return (exceptions.RedisError, exceptions.RedisClusterException, OSError)


# The loaders come as an async/sync pair so the generated sync half picks the blocking
# driver by the renamed name (scripts/unasync.py).
def aredis_driver() -> DriverInfo:
    """``redis.asyncio`` and the exceptions that mean the backend failed."""
    module = import_driver("redis.asyncio", "redis", "RedisStore")
    exceptions = import_driver("redis.exceptions", "redis", "RedisStore")
    return module, _errors(exceptions)


def redis_driver() -> DriverInfo:
    """``redis`` (blocking) and the exceptions that mean the backend failed."""
    module = import_driver("redis", "redis", "RedisStore")
    exceptions = import_driver("redis.exceptions", "redis", "RedisStore")
    return module, _errors(exceptions)


@functools.cache
def client_options(driver: Any) -> dict[str, Any]:
    """The options that name the store's clients to Redis (``CLIENT SETINFO``), ready-made.

    Without them, redis-py 7.1+ reads its version from the package metadata (files on
    disk) for every new connection: on the event loop, in the async flavour. Older
    redis-py read it once, at import, and take no ``driver_info``.
    """
    if "driver_info" not in inspect.signature(driver.Redis.__init__).parameters:
        return {}
    from .. import __version__  # here: the package is fully imported by the first store

    redis = importlib.import_module("redis")
    info = importlib.import_module("redis.driver_info").DriverInfo(lib_version=redis.__version__)
    return {"driver_info": info.add_upstream_driver("agent-session", __version__)}


# `now` never before the session's last write or expiry change (its ``updated``, and
# ``expires - ttl``): a write that read the clock, then waited on its way here, must
# not move the session's time, and so its expiry, backwards (issue 7, defect 1).
_CLAMP = r"""
local function clamp(now, updated, expires, ttl)
  local t, moved = tonumber(now), false
  if updated and updated ~= '' and tonumber(updated) > t then
    t, moved = tonumber(updated), true
  end
  if expires and expires ~= '' and ttl and ttl ~= '' then
    local last = tonumber(expires) - tonumber(ttl)
    if last > t then t, moved = last, true end
  end
  if moved then return string.format('%.17g', t) end
  return now
end
"""

# The longest physical expiry set (ms, ~31,700 years): PEXPIRE fails on numbers near
# 2^63, and a failing command in the middle of a script would leave it half done.
_MAX_MS = "1e15"

# ARGV of config: "<default ttl>|<max messages>|<max session bytes>|<key prefix>"
_CONFIG = r"""
local dttl, max_m, max_b, P = string.match(ARGV[5], '^([^|]*)|([^|]*)|([^|]*)|(.*)$')
"""

# Remove a live or expired session and every index entry of it. Needs meta, msgs,
# sid, P and `oldlabels_t` (its decoded labels, or nil).
_WIPE = r"""
redis.call('DEL', meta, msgs)
if P ~= '' then
  redis.call('ZREM', P .. '{}index:ids', sid)
  redis.call('ZREM', P .. '{}index:updated', sid)
  redis.call('ZREM', P .. '{}index:expiry', sid)
  if oldlabels_t then
    for k, v in pairs(oldlabels_t) do
      redis.call('SREM', P .. '{}label:' .. #k .. ':' .. k .. '=' .. v, sid)
    end
    redis.call('HDEL', P .. '{}index:labels', sid)
  end
end
"""

# Set Redis's own expiry of both keys and the expiry index from `ttl` (new) and
# `oldttl` (before this write). Needs meta, msgs, sid, P, ttl, oldttl, expires.
_EXPIRY = r"""
if ttl ~= '' then
  local ms = math.ceil(tonumber(ttl) * 1000)
  if ms > MAX_MS then ms = MAX_MS end
  redis.call('PEXPIRE', meta, ms)
  redis.call('PEXPIRE', msgs, ms)
  if P ~= '' then redis.call('ZADD', P .. '{}index:expiry', expires, sid) end
elseif oldttl ~= '' then
  redis.call('PERSIST', meta)
  redis.call('PERSIST', msgs)
  if P ~= '' then redis.call('ZREM', P .. '{}index:expiry', sid) end
end
""".replace("MAX_MS", _MAX_MS)

_EXPIRES = r"""
local expires = ''
if ttl ~= '' then expires = string.format('%.17g', tonumber(now) + tonumber(ttl)) end
"""

# Read and check a session's keys before anything is written: a Lua error does not
# undo the writes a script already made (issue 7, defects 2 and 6). ``read_meta(meta,
# msgs)`` returns ``f`` (each field's string, and ``f.labels_t``, the decoded labels
# or nil) or nil when the session does not exist, and the script's reply for damage,
# if any: ``wrongtype|<meta or msgs>|<type>`` for a key of another type, else
# ``corrupt|<field>`` for the first missing or malformed field.
_READ = r"""
local function wrong_type(meta, msgs)
  local t = redis.call('TYPE', meta)['ok']
  if t ~= 'hash' and t ~= 'none' then return 'wrongtype|meta|' .. t end
  t = redis.call('TYPE', msgs)['ok']
  if t ~= 'list' and t ~= 'none' then return 'wrongtype|msgs|' .. t end
  return nil
end
local FIELDS = {'created', 'updated', 'expires', 'ttl', 'version', 'count', 'size', 'labels'}
local function number_ok(v, optional, whole)
  if optional and v == '' then return true end
  -- Whole numbers in plain digits: what the store writes, and what Python's int() reads.
  if whole then return string.match(v, '^%d+$') ~= nil end
  local n = tonumber(v)
  return n ~= nil and n == n and n ~= math.huge and n ~= -math.huge
end
local function labels_of(v)
  if v == '{}' then return nil, true end
  local ok, t = pcall(cjson.decode, v)
  if not ok or type(t) ~= 'table' then return nil, false end
  for k, x in pairs(t) do
    if type(k) ~= 'string' or type(x) ~= 'string' then return nil, false end
  end
  return t, true
end
local function read_meta(key, msgs)
  local wrong = wrong_type(key, msgs)
  if wrong then return nil, wrong end
  local m = redis.call('HMGET', key, unpack(FIELDS))
  local f, present = {}, false
  for i, name in ipairs(FIELDS) do
    if m[i] then f[name], present = m[i], true end
  end
  if not present then return nil, nil end
  for i, name in ipairs(FIELDS) do
    local v = m[i]
    if not v then return nil, 'corrupt|' .. name end
    if name == 'labels' then
      local t, ok = labels_of(v)
      if not ok then return nil, 'corrupt|' .. name end
      f.labels_t = t
    elseif not number_ok(v, name == 'expires' or name == 'ttl',
                         name == 'version' or name == 'count' or name == 'size') then
      return nil, 'corrupt|' .. name
    end
  end
  return f, nil
end
"""

_PUSH = r"""
for i = FIRST, #ARGV, 1000 do
  redis.call('RPUSH', msgs, unpack(ARGV, i, math.min(i + 999, #ARGV)))
end
"""

_OK = r"""
return 'ok|' .. created .. '|' .. now .. '|' .. expires .. '|' .. count .. '|' .. size .. '|'
  .. (version + 1) .. '|' .. labels
"""

# KEYS: 1 meta, 2 msgs. ARGV: 1 now, 2 session id, 3 ttl ('D' = keep the session's own
# or take the default, 'N' = none, else seconds), 4 expected version ('' = any),
# 5 config, 6 labels JSON ('' = keep), 7 the payload bytes of the messages (what
# size_bytes counts: the stored bodies also hold ids and times), 8.. message bodies.
# Reply: 'ok|created|updated|expires|count|size|version|labels', 'conflict|<version>',
# 'limit|messages|<count>' / 'limit|bytes|<size>', 'corrupt|<field>' or
# 'wrongtype|<meta or msgs>|<type>'.
SAVE = (
    _CLAMP
    + _READ
    + r"""
local meta, msgs, now, sid = KEYS[1], KEYS[2], ARGV[1], ARGV[2]
"""
    + _CONFIG
    + r"""
local f, bad = read_meta(meta, msgs)
if bad then return bad end
local version, created, ttl, oldttl, oldlabels = 0, now, dttl, '', '{}'
local oldlabels_t = nil
local expired = false
if f then
  now = clamp(now, f.updated, f.expires, f.ttl)
  oldlabels_t = f.labels_t
  expired = f.expires ~= '' and tonumber(f.expires) <= tonumber(now)
  if not expired then
    version, created, ttl, oldttl, oldlabels = tonumber(f.version), f.created, f.ttl, f.ttl,
      f.labels
  end
end
if ARGV[4] ~= '' and tonumber(ARGV[4]) ~= version then return 'conflict|' .. version end
local count, size = #ARGV - 7, tonumber(ARGV[7])
if max_m ~= '' and count > tonumber(max_m) then return 'limit|messages|' .. count end
if max_b ~= '' and size > tonumber(max_b) then return 'limit|bytes|' .. size end
-- Checked: now write. An expired session is wiped first and starts anew.
if expired then
"""
    + _WIPE
    + r"""
  oldlabels_t = nil
end
if ARGV[3] == 'N' then ttl = '' elseif ARGV[3] ~= 'D' then ttl = ARGV[3] end
"""
    + _EXPIRES
    + r"""
local labels = ARGV[6]
if labels == '' then labels = oldlabels end
if labels ~= oldlabels and P ~= '' then
  if oldlabels_t then
    for k, v in pairs(oldlabels_t) do
      redis.call('SREM', P .. '{}label:' .. #k .. ':' .. k .. '=' .. v, sid)
    end
  end
  for k, v in pairs(cjson.decode(labels)) do
    redis.call('SADD', P .. '{}label:' .. #k .. ':' .. k .. '=' .. v, sid)
  end
  if labels == '{}' then
    redis.call('HDEL', P .. '{}index:labels', sid)
  else
    redis.call('HSET', P .. '{}index:labels', sid, labels)
  end
end
if version > 0 then redis.call('DEL', msgs) end
"""
    + _PUSH.replace("FIRST", "8")
    + r"""
redis.call('HSET', meta, 'id', sid, 'created', created, 'updated', now, 'expires', expires,
           'ttl', ttl, 'version', version + 1, 'count', count, 'size', size, 'labels', labels)
if P ~= '' then
  if version == 0 then redis.call('ZADD', P .. '{}index:ids', 0, sid) end
  redis.call('ZADD', P .. '{}index:updated', now, sid)
end
"""
    + _EXPIRY
    + _OK
)

# KEYS: 1 meta, 2 msgs. ARGV: 1 now, 2 session id, 3 ttl, 4 expected version, 5 config,
# 6 the messages' payload bytes, 7.. message bodies. Reply as SAVE's. The hot path: one
# HMGET, RPUSH, HSET and ZADD, plus two PEXPIRE and a ZADD when the session has a TTL.
APPEND = (
    _CLAMP
    + _READ
    + r"""
local meta, msgs, now, sid = KEYS[1], KEYS[2], ARGV[1], ARGV[2]
"""
    + _CONFIG
    + r"""
local f, bad = read_meta(meta, msgs)
if bad then return bad end
local version, count, size, created, labels, ttl, oldttl = 0, 0, 0, now, '{}', dttl, ''
local expired = false
if f then
  now = clamp(now, f.updated, f.expires, f.ttl)
  expired = f.expires ~= '' and tonumber(f.expires) <= tonumber(now)
  if not expired then
    version, count, size = tonumber(f.version), tonumber(f.count), tonumber(f.size)
    created, ttl, oldttl, labels = f.created, f.ttl, f.ttl, f.labels
  end
end
if ARGV[4] ~= '' and tonumber(ARGV[4]) ~= version then return 'conflict|' .. version end
count = count + #ARGV - 6
size = size + tonumber(ARGV[6])
if max_m ~= '' and count > tonumber(max_m) then return 'limit|messages|' .. count end
if max_b ~= '' and size > tonumber(max_b) then return 'limit|bytes|' .. size end
-- Checked: now write. An expired session is wiped first and starts anew.
if expired then
  local oldlabels_t = f.labels_t
"""
    + _WIPE
    + r"""
end
if ARGV[3] == 'N' then ttl = '' elseif ARGV[3] ~= 'D' then ttl = ARGV[3] end
"""
    + _EXPIRES
    + _PUSH.replace("FIRST", "7")
    + r"""
if version == 0 then
  redis.call('HSET', meta, 'id', sid, 'created', created, 'updated', now, 'expires', expires,
             'ttl', ttl, 'version', 1, 'count', count, 'size', size, 'labels', labels)
  if P ~= '' then redis.call('ZADD', P .. '{}index:ids', 0, sid) end
else
  redis.call('HSET', meta, 'updated', now, 'expires', expires, 'ttl', ttl,
             'version', version + 1, 'count', count, 'size', size)
end
if P ~= '' then redis.call('ZADD', P .. '{}index:updated', now, sid) end
"""
    + _EXPIRY
    + _OK
)

# KEYS: 1 meta, 2 msgs. ARGV: 1 now, 2 session id, 3 key prefix, 4 mode, 5 body, 6 its
# payload bytes, 7 expected version ('' = any).
# Mode 'peek' writes nothing and replies 'top|<newest body>'; mode 'pop' removes the
# newest message only if it is still ``body`` (which the caller decoded: a message it
# cannot decode is never removed) and replies 'ok', else 'top|<newest body>' again.
# Other replies: 'empty', 'missing', 'expired|<expires_at>', 'conflict|<version>',
# 'corrupt|<field>', 'wrongtype|<meta or msgs>|<type>' or
# 'lost' (the meta counts messages the list does not hold: evicted by a maxmemory
# policy).
POP = (
    _CLAMP
    + _READ
    + r"""
local meta, msgs, now, sid, P = KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3]
local f, bad = read_meta(meta, msgs)
if bad then return bad end
if not f then return 'missing' end
now = clamp(now, f.updated, f.expires, f.ttl)
if f.expires ~= '' and tonumber(f.expires) <= tonumber(now) then return 'expired|' .. f.expires end
if ARGV[7] ~= '' and tonumber(ARGV[7]) ~= tonumber(f.version) then
  return 'conflict|' .. f.version
end
local count = tonumber(f.count)
if count == 0 then return 'empty' end
if redis.call('LLEN', msgs) ~= count then return 'lost' end
local body = redis.call('LINDEX', msgs, -1)
if ARGV[4] ~= 'pop' or body ~= ARGV[5] then return 'top|' .. body end
redis.call('RPOP', msgs)
local ttl, oldttl = f.ttl, f.ttl
"""
    + _EXPIRES
    + r"""
local size = tonumber(f.size) - tonumber(ARGV[6])
redis.call('HSET', meta, 'updated', now, 'expires', expires, 'version', tonumber(f.version) + 1,
           'count', count - 1, 'size', size)
if P ~= '' then redis.call('ZADD', P .. '{}index:updated', now, sid) end
"""
    + _EXPIRY
    + r"""
if P ~= '' then return 'ok' end
return 'ok|' .. f.created .. '|' .. now .. '|' .. expires .. '|' .. (count - 1) .. '|' .. size
  .. '|' .. (tonumber(f.version) + 1) .. '|' .. f.labels
"""
)

# KEYS: 1 meta, 2 msgs. ARGV: 1 now, 2 session id, 3 ttl ('D' | 'N' | seconds),
# 4 key prefix. Reply: as SAVE's 'ok|...' (version unchanged), 'missing',
# 'expired|<expires_at>', 'corrupt|<field>' or 'wrongtype|<meta or msgs>|<type>'.
TOUCH = (
    _CLAMP
    + _READ
    + r"""
local meta, msgs, now, sid, P = KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[4]
local f, bad = read_meta(meta, msgs)
if bad then return bad end
if not f then return 'missing' end
now = clamp(now, f.updated, f.expires, f.ttl)
if f.expires ~= '' and tonumber(f.expires) <= tonumber(now) then return 'expired|' .. f.expires end
local ttl, oldttl = f.ttl, f.ttl
if ARGV[3] == 'N' then ttl = '' elseif ARGV[3] ~= 'D' then ttl = ARGV[3] end
"""
    + _EXPIRES
    + r"""
redis.call('HSET', meta, 'expires', expires, 'ttl', ttl)
"""
    + _EXPIRY
    + r"""
return 'ok|' .. f.created .. '|' .. f.updated .. '|' .. expires .. '|' .. f.count .. '|'
  .. f.size .. '|' .. f.version .. '|' .. f.labels
"""
)

# KEYS: 1 meta, 2 msgs. ARGV: 1 now, 2 session id, 3 key prefix, 4 mode, 5.. label
# set keys to drop the id from too when its meta is gone (stray entries that
# `index:labels` does not account for). Modes:
#   'delete'   remove the session, live or expired (even with malformed fields or a
#              meta key of the wrong type);
#   'purge'    remove it only if expired (a live one gets its expiry entry re-synced;
#              one whose expiry cannot be read leaves the expiry index);
#   'vanished' only drop index entries of a session whose keys are gone.
# Whatever the mode, a session whose meta is gone loses its index entries and label
# set memberships (known from `index:labels`) and any orphan message list.
# Reply: 1 a live session removed, 2 an expired one removed, 0 nothing removed.
#
# On a Redis Cluster (key prefix ARGV[3] given as ``''``) the script touches the
# session's own keys only, and replies what the index script (``INDEX``) then needs:
# 'gone' (no meta: any orphan message list removed), 'removed|<1 or 2>|<updated>|
# <version>' (the session removed; its last write's time and version, '' where
# unreadable) or 'live|<expires_at or ''>|<updated>|<version>' (nothing removed).
DELETE = (
    _READ
    + r"""
local meta, msgs, now, sid, P, mode = KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3], ARGV[4]
if P == '' then
  local kind = redis.call('TYPE', meta)['ok']
  if kind ~= 'hash' and kind ~= 'none' then
    if mode ~= 'delete' then return 'live|||' end
    redis.call('DEL', meta, msgs)
    return 'removed|1||'
  end
  local c = redis.call('HMGET', meta, 'created', 'expires', 'labels', 'updated', 'version')
  if not c[1] and not c[2] and not c[3] then
    redis.call('DEL', msgs)
    return 'gone'
  end
  local at = nil
  if c[2] and number_ok(c[2], false, false) then at = tonumber(c[2]) end
  local gone = at ~= nil and at <= tonumber(now)
  local tail = '|' .. (c[4] or '') .. '|' .. (c[5] or '')
  if mode == 'vanished' or (mode == 'purge' and not gone) then
    if at then return 'live|' .. c[2] .. tail end
    return 'live|' .. tail
  end
  redis.call('DEL', meta, msgs)
  if gone then return 'removed|2' .. tail end
  return 'removed|1' .. tail
end
local oldlabels_t = nil
local function indexed_labels()
  local labels = redis.call('HGET', P .. '{}index:labels', sid)
  if labels then oldlabels_t = labels_of(labels) end
end
local kind = redis.call('TYPE', meta)['ok']
if kind ~= 'hash' and kind ~= 'none' then
  -- Written behind the store's back: only delete removes it; nothing can be read.
  if mode == 'purge' then redis.call('ZREM', P .. '{}index:expiry', sid) end
  if mode ~= 'delete' then return 0 end
  indexed_labels()
"""
    + _WIPE
    + r"""
  return 1
end
local m = redis.call('HMGET', meta, 'created', 'expires', 'labels')
if not m[1] and not m[2] and not m[3] then
  indexed_labels()
"""
    + _WIPE
    + r"""
  for i = 5, #ARGV do redis.call('SREM', ARGV[i], sid) end
  return 0
end
-- A malformed expiry counts as never expiring: purge leaves it, delete removes it.
local at = nil
if m[2] and number_ok(m[2], false, false) then at = tonumber(m[2]) end
local expired = at ~= nil and at <= tonumber(now)
if mode == 'vanished' then return 0 end
if mode == 'purge' and not expired then
  if not at then
    redis.call('ZREM', P .. '{}index:expiry', sid)
  else
    redis.call('ZADD', P .. '{}index:expiry', at, sid)
  end
  return 0
end
if m[3] then oldlabels_t = labels_of(m[3]) end
if not oldlabels_t then indexed_labels() end
"""
    + _WIPE
    + r"""
if expired then return 2 end
return 1
"""
)

# KEYS: 1 meta, 2 msgs. ARGV: 1 now, 2 session id, 3 last ('' = all), 4 sliding ('1'
# restarts the TTL), 5 key prefix, 6 with metadata ('1': every field checked and
# replied, for ``load_with_metadata``: messages and metadata of one moment).
# Reply: {'ok|<size_bytes>|<message count>', body, ...} (with metadata:
# {'ok|<size>|<count>|<created>|<updated>|<expires>|<version>|<labels>', body, ...}),
# {'missing'}, {'expired', expires_at}, {'corrupt', field} or
# {'wrongtype|<meta or msgs>|<type>'}.
LOAD = (
    _CLAMP
    + _READ
    + r"""
local meta, msgs, now, sid, P = KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[5]
local m, f
if ARGV[6] == '1' then
  local bad
  f, bad = read_meta(meta, msgs)
  if bad then return {bad} end
  if not f then return {'missing'} end
  m = {f.expires, f.ttl, f.size, f.count, f.updated}
else
  local wrong = wrong_type(meta, msgs)
  if wrong then return {wrong} end
  m = redis.call('HMGET', meta, 'expires', 'ttl', 'size', 'count', 'updated')
  if not m[1] and not m[2] and not m[3] and not m[4] then return {'missing'} end
  local names = {'expires', 'ttl', 'size', 'count', 'updated'}
  for i = 1, 5 do
    if not m[i] or not number_ok(m[i], i <= 2, i == 3 or i == 4) then
      return {'corrupt', names[i]}
    end
  end
end
if m[1] ~= '' and tonumber(m[1]) <= tonumber(now) then return {'expired', m[1]} end
local bodies
if ARGV[3] == '' then
  bodies = redis.call('LRANGE', msgs, 0, -1)
elseif ARGV[3] == '0' then
  bodies = {}
else
  bodies = redis.call('LRANGE', msgs, -tonumber(ARGV[3]), -1)
end
local slid = m[1]
if ARGV[4] == '1' and m[2] ~= '' then
  now = clamp(now, m[5], m[1], m[2])
  local ttl, oldttl = m[2], m[2]
"""
    + _EXPIRES
    + r"""
  redis.call('HSET', meta, 'expires', expires)
"""
    + _EXPIRY
    + r"""
  slid = expires
end
local head = 'ok|' .. m[3] .. '|' .. m[4]
if f then
  head = head .. '|' .. f.created .. '|' .. f.updated .. '|' .. slid .. '|' .. f.version .. '|'
    .. f.labels
end
table.insert(bodies, 1, head)
return bodies
"""
)

# The index of a store on a Redis Cluster, in one slot of its own: every index key is
# ``B`` = ``P{P}`` (the prefix, then the prefix as hash tag) followed by
# ``index:ids``, ``index:updated``, ``index:expiry``, ``index:state`` (a hash: id ->
# ``<updated>|<version>|<labels JSON>`` of the newest write the index reflects) or
# ``label:<byte length of key>:<key>=<value>``. The session scripts run on the
# session's slot and leave the index alone (their prefix argument is ``''``); this
# script then applies what they replied.
#
# KEYS: 1 ``B .. 'index:state'`` (routes the call). ARGV: 1 ``B``, then records of six
# fields: op, session id, a, b, c, d. Ops:
#   'sync'      a updated, b version, c expires_at ('' = none), d labels JSON: make the
#               index show this state, if it is newer (by updated, then version) than
#               the one it shows (a write's index update that arrives late, after a
#               newer one's, changes nothing); the same state again updates the expiry
#               only (``touch`` moves nothing else).
#   'drop_le'   a updated, b version ('' = any), d JSON list of more label set keys:
#               remove the session from the index unless it shows a newer state (of a
#               session written again since it was removed).
#   'drop_if'   a the state the caller read before it found the session gone ('' =
#               none), d as above: remove the session from the index if the state is
#               still that one (a write in between makes it newer: nothing removed).
#   'expiry_le' a updated, b version, c expires_at: re-score the session's expiry
#               entry unless the index shows a newer state (``purge_expired`` found
#               the session live).
# Reply: how many records changed the index.
INDEX = r"""
local B = ARGV[1]
local IDS, UPD, EXP, ST = B .. 'index:ids', B .. 'index:updated', B .. 'index:expiry',
  B .. 'index:state'
local function label_key(k, v) return B .. 'label:' .. #k .. ':' .. k .. '=' .. v end
local function labels_t(text)
  local out = {}
  if not text or text == '' or text == '{}' then return out end
  local ok, t = pcall(cjson.decode, text)
  if not ok or type(t) ~= 'table' then return out end
  for k, v in pairs(t) do
    if type(k) == 'string' and type(v) == 'string' then out[k] = v end
  end
  return out
end
local function parse(st)
  if not st then return nil, nil, nil end
  local u, v, l = string.match(st, '^([^|]*)|([^|]*)|(.*)$')
  return tonumber(u), tonumber(v), l
end
-- True if the index shows a state no newer than (u, v) (or none, or an unreadable one).
local function not_newer(st, u, v)
  local su, sv = parse(st)
  if not su or not sv or not u or not v then return true end
  return su < u or (su == u and sv <= v)
end
local function drop(sid, st, extra)
  local _, _, l = parse(st)
  for k, v in pairs(labels_t(l)) do redis.call('SREM', label_key(k, v), sid) end
  if extra ~= '' then
    local ok, keys = pcall(cjson.decode, extra)
    if ok and type(keys) == 'table' then
      for _, key in ipairs(keys) do
        if type(key) == 'string' and string.sub(key, 1, #B) == B then
          redis.call('SREM', key, sid)
        end
      end
    end
  end
  redis.call('ZREM', IDS, sid)
  redis.call('ZREM', UPD, sid)
  redis.call('ZREM', EXP, sid)
  redis.call('HDEL', ST, sid)
end
local function expiry(sid, at)
  if at ~= '' then redis.call('ZADD', EXP, at, sid) else redis.call('ZREM', EXP, sid) end
end
local changed = 0
for i = 2, #ARGV - 5, 6 do
  local op, sid, a, b, c, d = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4],
    ARGV[i + 5]
  local st = redis.call('HGET', ST, sid)
  if op == 'sync' then
    local u, v = tonumber(a), tonumber(b)
    local su, sv, sl = parse(st)
    local newer = not su or not sv or u > su or (u == su and v > sv)
    if newer then
      redis.call('ZADD', IDS, 0, sid)
      redis.call('ZADD', UPD, a, sid)
      if sl ~= d then
        local old, new = labels_t(sl), labels_t(d)
        for k, x in pairs(old) do
          if new[k] ~= x then redis.call('SREM', label_key(k, x), sid) end
        end
        for k, x in pairs(new) do
          if old[k] ~= x then redis.call('SADD', label_key(k, x), sid) end
        end
      end
      redis.call('HSET', ST, sid, a .. '|' .. b .. '|' .. d)
    end
    if newer or (u == su and v == sv) then
      expiry(sid, c)
      changed = changed + 1
    end
  elseif op == 'drop_le' then
    if a == '' or b == '' or not_newer(st, tonumber(a), tonumber(b)) then
      drop(sid, st, d)
      changed = changed + 1
    end
  elseif op == 'drop_if' then
    if (st or '') == a then
      drop(sid, st, d)
      changed = changed + 1
    end
  elseif op == 'expiry_le' then
    if a == '' or b == '' or not_newer(st, tonumber(a), tonumber(b)) then
      expiry(sid, c)
      changed = changed + 1
    end
  end
end
return changed
"""
