-- The two-step login of accounts with an authenticator app: POST /auth with the password
-- (403 mfa_required, carrying the mfa_token), then POST /auth/mfa with that token and the app's
-- code: one login is one 403 and one 200. Each thread drives one connection (run it with as
-- many threads as connections), so every answer belongs to the thread's last request. The
-- codes come from a file of "email code" lines that bench.py writes for the current time step;
-- each thread takes its own lines and uses each account once (a code is never accepted twice),
-- so a run needs at least as many accounts as it completes logins: past that, the codes are
-- refused (401) and show as errors.
-- Arguments: <codes-file> <password> <wrk-threads>
package.path = os.getenv("GATEHOUSE_BENCH_LUA") .. "/?.lua;" .. package.path
require "report"

local accounts, password, at, code, pending

function init(args)
  accounts = my_lines(args[1], thread_id, tonumber(args[3]))
  password = args[2]
  at = 0
  sent = 0
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  sent = sent + 1
  if pending then
    local body = string.format('{"mfa_token":"%s","code":"%s"}', pending, code)
    pending = nil
    return wrk.format(nil, "/auth/mfa", nil, body)
  end
  at = at % #accounts + 1
  local email
  email, code = accounts[at]:match("^(%S+) (%d+)$")
  return wrk.format(nil, "/auth", nil, string.format('{"email":"%s","password":"%s"}', email, password))
end

function response(status, headers, body)
  note(status)
  if status == 403 then
    pending = body:match('"mfa_token":"([^"]+)"')
  end
end
