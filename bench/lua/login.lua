-- POST /auth as the seeded accounts {prefix}{n}@example.com, n in 1..count, in turn; with a
-- delay (milliseconds per connection between requests) it offers a steady rate instead of
-- as many as the server answers: the login flood.
-- Arguments: <prefix> <count> <password> <wrk-threads> [delay-ms]
package.path = os.getenv("GATEHOUSE_BENCH_LUA") .. "/?.lua;" .. package.path
require "report"

local prefix, count, password, pause, n

function init(args)
  prefix, count, password = args[1], tonumber(args[2]), args[3]
  pause = tonumber(args[5] or "0")
  n = thread_id
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  n = n % count + 1
  local body = string.format('{"email":"%s%d@example.com","password":"%s"}', prefix, n, password)
  return wrk.format(nil, nil, nil, body)
end

if os.getenv("GATEHOUSE_BENCH_DELAY") then
  function delay() return pause end
end

function response(status)
  note(status)
end
