//! The Lua scripts of the Redis session store: each read-modify-write is one script, atomic
//! and one round trip. A script that ends a session, changes its authentication or marks an
//! account changed also adds the account to the invalidation stream (`invalidating!`, the
//! replicas' cue to forget what they hold of it) and returns the entry's id.

/// A script that invalidates: `$body` may call `invalidate(stream, account)`, which adds the
/// entry (trimming entries older than a minute) and returns its id.
macro_rules! invalidating {
    ($body:literal) => {
        concat!(
            r"
local function invalidate(stream, account)
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  return redis.call('XADD', stream, 'MINID', '~', tostring(now - 60000), '*', 'a', account)
end
",
            $body
        )
    };
}

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

/// KEYS: session, stream; ARGV: the session's new `auth`. Returns `{1, entry, account}` when
/// the session exists, else `{0}`.
pub(super) const SET_AUTH: &str = invalidating!(
    r"
local account = redis.call('HGET', KEYS[1], 'account')
if account then
  redis.call('HSET', KEYS[1], 'auth', ARGV[1])
  return {1, invalidate(KEYS[2], account), account}
end
return {0}
"
);

/// KEYS: presented, next, stream; ARGV: prefix, now (ms), grace (ms), next (hex). Returns {0}
/// unknown, {1, sid, account, expires, auth} rotated, {2, sid, account, entry} reused (the
/// session ended), {3, sid, account, expires, auth, used} replayed (a token spent less than
/// the grace ago for `next`, which is still current). `auth` is `''` for a session from
/// before it was recorded.
pub(super) const ROTATE: &str = invalidating!(
    r"
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
  return {2, sid, account, invalidate(KEYS[3], account)}
end
redis.call('SET', KEYS[1], sid .. ' s ' .. ARGV[2] .. ' ' .. ARGV[4], 'KEEPTTL')
redis.call('SET', KEYS[2], sid .. ' c', 'PXAT', expires)
redis.call('HSET', session, 'used', ARGV[2])
return {1, sid, account, expires, auth}
"
);

/// KEYS: copy; ARGV: what the reader saw there (`''` for nothing), the copy, its lifetime (ms).
pub(super) const KEEP_COPY: &str = r"
if (redis.call('GET', KEYS[1]) or '') == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0
";

/// KEYS: session, the account's set, stream; ARGV: account, session. Returns `{1, entry}`
/// when the session was the account's and has ended, else `{0}`.
pub(super) const REVOKE: &str = invalidating!(
    r"
if redis.call('HGET', KEYS[1], 'account') == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.call('SREM', KEYS[2], ARGV[2])
  return {1, invalidate(KEYS[3], ARGV[1])}
end
return {0}
"
);

/// KEYS: the account's set, stream; ARGV: prefix, the session to spare (or `''`), account.
/// Returns `{sessions ended, entry}`.
pub(super) const REVOKE_ALL: &str = invalidating!(
    r"
local ended = 0
for _, sid in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if sid ~= ARGV[2] then
    ended = ended + redis.call('DEL', ARGV[1] .. 's:' .. sid)
    redis.call('SREM', KEYS[1], sid)
  end
end
return {ended, invalidate(KEYS[2], ARGV[3])}
"
);

/// KEYS: copy, stream; ARGV: the mark, its lifetime (ms), account. Marks the account changed
/// (see the store's keys). Returns the entry.
pub(super) const DROP_COPY: &str = invalidating!(
    r"
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return invalidate(KEYS[2], ARGV[3])
"
);

/// KEYS: replicas, stream, epoch; ARGV: replica, a fresh epoch. A replica joins: the epoch
/// (set to ARGV[2] when there is none: a new or emptied Redis) and the stream's last entry id,
/// from which it reads, recorded as its position. Returns `{epoch, position}`.
pub(super) const JOIN: &str = r"
redis.call('SET', KEYS[3], ARGV[2], 'NX')
local epoch = redis.call('GET', KEYS[3])
local last = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', 1)
local position = '0-0'
if last[1] then position = last[1][1] end
local t = redis.call('TIME')
redis.call('HSET', KEYS[1], ARGV[1], position .. ' ' .. (tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)))
return {epoch, position}
";

/// KEYS: replicas, epoch; ARGV: replica, position, epoch. Records the replica's position and
/// the time (Redis's) of this beat; returns 0, recording nothing, when the epoch is not the
/// one it joined in (Redis was emptied: it must join again).
pub(super) const BEAT: &str = r"
if redis.call('GET', KEYS[2]) ~= ARGV[3] then return 0 end
local t = redis.call('TIME')
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. ' ' .. (tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)))
return 1
";

/// KEYS: replicas; ARGV: an entry id, the horizon (ms). Returns how many replicas that beat
/// within the horizon have not yet applied the entry; forgets replicas silent for an hour.
pub(super) const BEHIND: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local want_ms, want_seq = string.match(ARGV[1], '^(%d+)-(%d+)$')
want_ms, want_seq = tonumber(want_ms), tonumber(want_seq)
local behind = 0
local replicas = redis.call('HGETALL', KEYS[1])
for i = 1, #replicas, 2 do
  local at_ms, at_seq, beat = string.match(replicas[i + 1], '^(%d+)-(%d+) (%d+)$')
  if beat then
    local age = now - tonumber(beat)
    at_ms, at_seq = tonumber(at_ms), tonumber(at_seq)
    if age < tonumber(ARGV[2]) and (at_ms < want_ms or (at_ms == want_ms and at_seq < want_seq)) then
      behind = behind + 1
    elseif age > 3600000 then
      redis.call('HDEL', KEYS[1], replicas[i])
    end
  else
    redis.call('HDEL', KEYS[1], replicas[i])
  end
end
return behind
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
