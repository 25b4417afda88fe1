"""The Lua scripts of the Redis backplane (see `redis_backplane`): each is one atomic step.

Every script starts with `_LUA_COMMON` (the keys of one room, and how a frame
is numbered and appended to the room's stream).
"""

# Shared by every script. KEYS: the room's presence set, counter, stream and
# per-sender message numbers. ARGV[1..5]: the highest seq this worker saw in
# the room, the stream's length, the counter's and the stream's TTL (seconds),
# the presence TTL (milliseconds). Numbers given to Redis are formatted with
# %d: Redis turns Lua numbers into strings with too few digits otherwise.
_LUA_COMMON = """
local presence, counter, stream, sent = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local floor, maxlen = tonumber(ARGV[1]), ARGV[2]
local seq_ttl, stream_ttl, presence_ttl = ARGV[3], ARGV[4], tonumber(ARGV[5])

local function int(n) return string.format('%d', n) end

-- Redis's clock, in microseconds and in milliseconds.
local function clock()
  local t = redis.call('TIME')
  local us = tonumber(t[1]) * 1000000 + tonumber(t[2])
  return us, math.floor(us / 1000)
end

-- Number `body` (a frame without seq and prev) as the room's next frame and
-- append it to the room's stream, under the id `<seq>-0`. Same format as
-- frames.numbered.
local function append(body)
  local last = redis.call('GET', counter)
  local seq, prev
  if last then
    seq, prev = tonumber(last) + 1, last
  else
    -- A new counter (a new room, or Redis lost it): start from the clock, above
    -- what this worker saw and above the stream, so that seq never goes back.
    seq, prev = math.max(clock(), floor + 1), 'null'
    local top = redis.call('XREVRANGE', stream, '+', '-', 'COUNT', 1)[1]
    if top then seq = math.max(seq, tonumber(string.match(top[1], '^%d+')) + 1) end
  end
  local id = int(seq)
  redis.call('SET', counter, id, 'EX', seq_ttl)
  redis.call('XADD', stream, 'MAXLEN', '~', maxlen, id .. '-0',
    'f', '{"seq":' .. id .. ',"prev":' .. prev .. ',' .. string.sub(body, 2), 'p', prev)
  redis.call('EXPIRE', stream, stream_ttl)
  return id
end

-- A JSON array of the names in `list` (cjson would encode an empty table as {}).
local function names(list)
  local out = {}
  for i, name in ipairs(list) do out[i] = cjson.encode(name) end
  return '[' .. table.concat(out, ',') .. ']'
end

-- Append a `presence` frame (same format as frames.presence_body), if it says anything.
local function announce(room, joined, left, ms)
  if #joined == 0 and #left == 0 then return end
  append('{"type":"presence","room":' .. cjson.encode(room) .. ',"sender":"server","ts":'
    .. int(ms) .. ',"data":null,"joined":' .. names(joined) .. ',"left":' .. names(left) .. '}')
end
"""

# ARGV[6]: the frame without seq and prev; ARGV[7]: the sender; ARGV[8]: the
# sender's message number (0: not a numbered message). Returns the frame's
# seq, or nil for a retry of a message already published.
PUBLISH_SCRIPT = (
    _LUA_COMMON
    + """
if ARGV[8] ~= '0' then
  if tonumber(ARGV[8]) <= tonumber(redis.call('HGET', sent, ARGV[7]) or '0') then
    return false
  end
  redis.call('HSET', sent, ARGV[7], ARGV[8])
  redis.call('EXPIRE', sent, stream_ttl)
end
return append(ARGV[6])
"""
)

# ARGV[6]: the newcomer; ARGV[7]: the room's limit. Admits it only while the
# room has fewer live members (a retry of its own admission is admitted
# again). Returns the room's last seq (where to start reading), nil if full.
ADMIT_SCRIPT = (
    _LUA_COMMON
    + """
local _, now = clock()
if not redis.call('ZSCORE', presence, ARGV[6]) then
  if redis.call('ZCOUNT', presence, '(' .. int(now), '+inf') >= tonumber(ARGV[7]) then
    return false
  end
end
redis.call('ZADD', presence, int(now + presence_ttl), ARGV[6])
redis.call('PEXPIRE', presence, int(2 * presence_ttl))
return redis.call('GET', counter) or '0'
"""
)

# ARGV[6]: who leaves. Removes it from the presence set (its leave is announced
# in the next `presence` frame, see `presence`). Returns 1 if it was there: a
# member is announced as gone once, by its own worker or by the one that
# expired it (HEARTBEAT_SCRIPT), never by both.
LEAVE_SCRIPT = (
    _LUA_COMMON
    + """
if redis.call('ZREM', presence, ARGV[6]) == 0 then return 0 end
redis.call('HDEL', sent, ARGV[6])
return 1
"""
)

# ARGV[6]: the room; ARGV[7]: '1' to drop expired members; ARGV[8..]: this
# worker's members. Refreshes them (announcing again those that were missing),
# then drops the expired ones, and announces both in one `presence` frame.
# Returns {announced again, expired}.
HEARTBEAT_SCRIPT = (
    _LUA_COMMON
    + """
local room = ARGV[6]
local _, now = clock()
local back = {}
for i = 8, #ARGV do
  if redis.call('ZADD', presence, int(now + presence_ttl), ARGV[i]) == 1 then
    back[#back + 1] = ARGV[i]
  end
end
redis.call('PEXPIRE', presence, int(2 * presence_ttl))
local gone = {}
if ARGV[7] == '1' then
  gone = redis.call('ZRANGEBYSCORE', presence, '-inf', int(now))
  for _, member in ipairs(gone) do
    redis.call('ZREM', presence, member)
    redis.call('HDEL', sent, member)
  end
end
announce(room, back, gone, now)
return {#back, #gone}
"""
)

# The live members of the room, on Redis's clock.
MEMBERS_SCRIPT = (
    _LUA_COMMON
    + """
local _, now = clock()
return redis.call('ZRANGEBYSCORE', presence, '(' .. int(now), '+inf')
"""
)
