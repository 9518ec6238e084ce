-- POST /auth/refresh: each thread spends its share of the refresh tokens in the file named by
-- the first argument and queues the new one each answer carries; at the end the unspent ones
-- are written out, for the next run.
-- Arguments: <tokens-in> <wrk-threads>; the unspent tokens go to $GATEHOUSE_BENCH_REFRESH_OUT.
package.path = os.getenv("GATEHOUSE_BENCH_LUA") .. "/?.lua;" .. package.path
require "report"

queue = {}
local first, last = 1, 0

function init(args)
  for _, token in ipairs(my_lines(args[1], thread_id, tonumber(args[2]))) do
    last = last + 1
    queue[last] = token
  end
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  if first > last then error("refresh tokens ran out: prepare more sessions") end
  local token = queue[first]
  queue[first] = nil
  first = first + 1
  return wrk.format(nil, nil, nil, '{"refresh_token":"' .. token .. '"}')
end

function response(status, headers, body)
  note(status)
  local token = status == 200 and body:match('"refresh_token"%s*:%s*"([^"]+)"')
  if token then
    last = last + 1
    queue[last] = token
  end
end

function finish()
  local out = assert(io.open(os.getenv("GATEHOUSE_BENCH_REFRESH_OUT"), "w"))
  for _, thread in ipairs(wrk_threads) do
    local left = thread:get("queue")
    if type(left) == "table" then
      for _, token in pairs(left) do out:write(token, "\n") end
    end
  end
  out:close()
end
