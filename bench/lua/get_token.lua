-- GET wrk's URL with `Authorization: Bearer <token>`, each thread cycling through its share
-- of the access tokens in the file named by the first argument. With a third argument, each
-- request also carries the headers a proxy in front of that host names the request with (for
-- gatehouse's /auth/forward at a protected resource's rule).
-- Arguments: <tokens-file> <wrk-threads> [<forwarded host>]
package.path = os.getenv("GATEHOUSE_BENCH_LUA") .. "/?.lua;" .. package.path
require "report"

local requests, next_one = {}, 1

function init(args)
  for _, token in ipairs(my_lines(args[1], thread_id, tonumber(args[2]))) do
    local headers = { ["Authorization"] = "Bearer " .. token }
    if args[3] then
      headers["X-Forwarded-Proto"] = "https"
      headers["X-Forwarded-Host"] = args[3]
      headers["X-Forwarded-Uri"] = "/tools"
    end
    table.insert(requests, wrk.format("GET", wrk.path, headers))
  end
  if #requests == 0 then error("no tokens for thread " .. thread_id) end
end

function request()
  local r = requests[next_one]
  next_one = next_one % #requests + 1
  return r
end
