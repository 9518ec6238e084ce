-- Shared by every scenario script: numbers each wrk thread (so threads can split a file of
-- tokens between them), counts answers by status, and prints one JSON summary line at the end.
-- The scenario script sets `arg_threads` from its arguments and calls `note(status)` from
-- `response()` when it wants statuses counted, and may define `finish()`, run after the summary.

wrk_threads = {}
local threads = wrk_threads

function setup(thread)
  thread:set("thread_id", #threads)
  table.insert(threads, thread)
end

statuses = {}

function note(status)
  statuses[status] = (statuses[status] or 0) + 1
end

-- The lines of `path` that belong to thread `id` of `count`.
function my_lines(path, id, count)
  local mine, n = {}, 0
  for line in io.lines(path) do
    if line ~= "" then
      if n % count == id then table.insert(mine, line) end
      n = n + 1
    end
  end
  return mine
end

function done(summary, latency, requests)
  local counted = {}
  for _, thread in ipairs(threads) do
    local seen = thread:get("statuses")
    if type(seen) == "table" then
      for status, n in pairs(seen) do counted[status] = (counted[status] or 0) + n end
    end
  end
  local parts = {}
  for status, n in pairs(counted) do table.insert(parts, string.format('"%d":%d', status, n)) end
  -- Requests sent, answered or not, where the script counts them in `sent`.
  local sent = 0
  for _, thread in ipairs(threads) do
    local n = thread:get("sent")
    if type(n) == "number" then sent = sent + n end
  end
  local e = summary.errors
  io.write(string.format(
    '\nWRK_JSON {"requests":%d,"sent":%d,"duration_us":%d,'
      .. '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},'
      .. '"latency_us":{"p50":%d,"p99":%d,"p999":%d,"max":%d,"mean":%.1f},"statuses":{%s}}\n',
    summary.requests, sent, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency:percentile(99.9), latency.max, latency.mean,
    table.concat(parts, ",")))
  if finish then finish() end
end
