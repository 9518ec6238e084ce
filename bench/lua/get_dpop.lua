-- GET wrk's URL as a proxy asks gatehouse about a request to a protected resource, with a
-- DPoP-bound token and a proof of its key: each line of the file named by the first argument is
-- `<token> <proof>`, each thread sends its share of them once each, in order (a proof is taken
-- once; were they to run out, the repeats would be refused and counted as errors).
-- Arguments: <lines-file> <wrk-threads> <forwarded host>
package.path = os.getenv("GATEHOUSE_BENCH_LUA") .. "/?.lua;" .. package.path
require "report"

local requests, next_one = {}, 1

function init(args)
  for _, line in ipairs(my_lines(args[1], thread_id, tonumber(args[2]))) do
    local token, proof = line:match("^(%S+) (%S+)$")
    local headers = {
      ["Authorization"] = "DPoP " .. token,
      ["DPoP"] = proof,
      ["X-Forwarded-Proto"] = "https",
      ["X-Forwarded-Host"] = args[3],
      ["X-Forwarded-Uri"] = "/tools",
    }
    table.insert(requests, wrk.format("GET", wrk.path, headers))
  end
  if #requests == 0 then error("no proofs for thread " .. thread_id) end
end

function request()
  local r = requests[next_one]
  next_one = next_one % #requests + 1
  return r
end
