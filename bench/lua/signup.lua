-- POST /user with a new email address every time: {run}-{thread}-{counter}@example.com.
-- Arguments: <run-id> <wrk-threads>
package.path = os.getenv("GATEHOUSE_BENCH_LUA") .. "/?.lua;" .. package.path
require "report"

local run, n = "", 0

function init(args)
  run = args[1]
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  n = n + 1
  local body = string.format(
    '{"email":"su-%s-%d-%d@example.com","password":"quiet-harbour-lantern-42"}', run, thread_id, n)
  return wrk.format(nil, nil, nil, body)
end

function response(status)
  note(status)
end
