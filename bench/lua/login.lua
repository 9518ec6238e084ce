-- POST /auth as the seeded accounts {prefix}{n}@example.com, n in 1..count, in turn; with a
-- rate (requests per second for this wrk thread) it offers that steady rate instead of as many
-- as the server answers: the login flood. Each request takes the next free slot of one
-- schedule shared by the thread's connections, so the rate holds whatever the answers take,
-- as long as some connection is free to send.
-- Arguments: <prefix> <count> <password> <wrk-threads> [rate]
package.path = os.getenv("GATEHOUSE_BENCH_LUA") .. "/?.lua;" .. package.path
require "report"

local ffi = require "ffi"
ffi.cdef [[
  typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
  int clock_gettime(int clock, bench_timespec *now);
]]
local clock = ffi.new("bench_timespec")

local function now_ms()
  ffi.C.clock_gettime(1, clock) -- CLOCK_MONOTONIC
  return tonumber(clock.tv_sec) * 1000 + tonumber(clock.tv_nsec) / 1e6
end

local prefix, count, password, interval, next_slot, n

function init(args)
  prefix, count, password = args[1], tonumber(args[2]), args[3]
  local rate = tonumber(args[5] or "0")
  interval = rate > 0 and 1000 / rate or 0
  n = thread_id
  sent = 0
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  sent = sent + 1
  n = n % count + 1
  local body = string.format('{"email":"%s%d@example.com","password":"%s"}', prefix, n, password)
  return wrk.format(nil, nil, nil, body)
end

if os.getenv("GATEHOUSE_BENCH_DELAY") then
  -- Milliseconds until this request's slot.
  function delay()
    local now = now_ms()
    local slot = math.max(next_slot or now, now)
    next_slot = slot + interval
    return math.floor(slot - now)
  end
end

function response(status)
  note(status)
end
