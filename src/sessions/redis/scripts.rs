//! The Lua scripts of the Redis session store: each read-modify-write is one script, atomic
//! and one round trip.

pub(super) const CREATE: &str = r"
redis.call('HSET', KEYS[1], 'account', ARGV[1], 'created', ARGV[2], 'used', ARGV[2], 'expires', ARGV[3],
           'ua', ARGV[4], 'ip', ARGV[5], 'auth', ARGV[8])
redis.call('PEXPIREAT', KEYS[1], ARGV[3])
redis.call('SADD', KEYS[2], ARGV[6])
-- The account's set lives as long as its longest session: only ever extend it.
local ttl = redis.call('PTTL', KEYS[2])
if ttl == -1 or (ttl >= 0 and tonumber(ARGV[7]) + ttl < tonumber(ARGV[3])) then
  redis.call('PEXPIREAT', KEYS[2], ARGV[3])
end
redis.call('SET', KEYS[3], ARGV[6] .. ' c', 'PXAT', ARGV[3])
return 1
";

pub(super) const TOUCH: &str = r"
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('HSET', KEYS[1], 'used', ARGV[1])
end
return 1
";

/// KEYS: session; ARGV: the session's new `auth`. Returns 1 when the session exists.
pub(super) const SET_AUTH: &str = r"
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('HSET', KEYS[1], 'auth', ARGV[1])
  return 1
end
return 0
";

/// KEYS: presented, next; ARGV: prefix, now (ms), grace (ms), next (hex). Returns {0} unknown,
/// {1, sid, account, expires, auth} rotated, {2, sid, account} reused, {3, sid, account,
/// expires, auth, used} replayed (a token spent less than the grace ago for `next`, which is
/// still current). `auth` is `''` for a session from before it was recorded.
pub(super) const ROTATE: &str = r"
local value = redis.call('GET', KEYS[1])
if not value then return {0} end
local sid, state, rest = string.match(value, '^(%S+) (%a)(.*)$')
if not sid then return {0} end
local session = ARGV[1] .. 's:' .. sid
local fields = redis.call('HMGET', session, 'account', 'expires', 'used', 'auth')
local account, expires, used, auth = fields[1], fields[2], fields[3], fields[4] or ''
if not account or tonumber(expires) <= tonumber(ARGV[2]) then return {0} end
if state ~= 'c' then
  local spent, successor = string.match(rest, '^ (%d+) (%x+)$')
  local grace = tonumber(ARGV[3])
  if spent and successor == ARGV[4] and grace > 0 and tonumber(ARGV[2]) - tonumber(spent) < grace
     and redis.call('GET', KEYS[2]) == sid .. ' c' then
    return {3, sid, account, expires, auth, used}
  end
  redis.call('DEL', session)
  redis.call('SREM', ARGV[1] .. 'a:' .. account, sid)
  return {2, sid, account}
end
redis.call('SET', KEYS[1], sid .. ' s ' .. ARGV[2] .. ' ' .. ARGV[4], 'KEEPTTL')
redis.call('SET', KEYS[2], sid .. ' c', 'PXAT', expires)
redis.call('HSET', session, 'used', ARGV[2])
return {1, sid, account, expires, auth}
";

/// KEYS: copy; ARGV: what the reader saw there (`''` for nothing), the copy, its lifetime (ms).
pub(super) const KEEP_COPY: &str = r"
if (redis.call('GET', KEYS[1]) or '') == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0
";

pub(super) const REVOKE: &str = r"
if redis.call('HGET', KEYS[1], 'account') == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.call('SREM', KEYS[2], ARGV[2])
  return 1
end
return 0
";

pub(super) const REVOKE_ALL: &str = r"
local ended = 0
for _, sid in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if sid ~= ARGV[2] then
    ended = ended + redis.call('DEL', ARGV[1] .. 's:' .. sid)
    redis.call('SREM', KEYS[1], sid)
  end
end
return ended
";

/// Returns a flat list: for each live session, id, created, used, expires, ua, ip.
pub(super) const LIST: &str = r"
local out = {}
for _, sid in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local f = redis.call('HMGET', ARGV[1] .. 's:' .. sid, 'created', 'used', 'expires', 'ua', 'ip', 'auth')
  if f[1] and tonumber(f[3]) > tonumber(ARGV[2]) then
    table.insert(out, sid); table.insert(out, f[1]); table.insert(out, f[2]); table.insert(out, f[3])
    table.insert(out, f[4] or ''); table.insert(out, f[5] or ''); table.insert(out, f[6] or '')
  elseif not f[1] then
    redis.call('SREM', KEYS[1], sid)
  end
end
return out
";
