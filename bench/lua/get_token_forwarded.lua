-- GET wrk's URL (gatehouse's /auth/forward) with `Authorization: Bearer <token>` and the
-- headers a proxy in front of the host names the request with, each thread cycling through
-- its share of the tokens in the file named by the first argument.
-- Arguments: <tokens-file> <wrk-threads> <forwarded host>
package.path = os.getenv("GATEHOUSE_BENCH_LUA") .. "/?.lua;" .. package.path
require "report"

local requests, next_one = {}, 1

function init(args)
  local forwarded = { ["X-Forwarded-Proto"] = "https", ["X-Forwarded-Host"] = args[3], ["X-Forwarded-Uri"] = "/tools" }
  for _, token in ipairs(my_lines(args[1], thread_id, tonumber(args[2]))) do
    local headers = { ["Authorization"] = "Bearer " .. token }
    for name, value in pairs(forwarded) do headers[name] = value end
    table.insert(requests, wrk.format("GET", wrk.path, headers))
  end
  if #requests == 0 then error("no tokens for thread " .. thread_id) end
end

function request()
  local r = requests[next_one]
  next_one = next_one % #requests + 1
  return r
end
