-- The event-feed benchmark's requests for wrk. Arguments (after `--`): requests_file
--   requests  one request a line: path<TAB>token<TAB>if-none-match (may be empty), drawn at random,
--             so each request comes from one of many pollers (distinct tokens).
-- 2xx and 304 are good answers; anything else is counted. done() prints one BENCH line of JSON.

local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("seed", counter)
  table.insert(threads, thread)
end

local requests = {}
bad = 0
not_modified = 0

function init(args)
  for line in io.lines(args[1]) do
    local path, token, etag = line:match("^([^\t]*)\t([^\t]*)\t?(.*)$")
    if path then
      local headers = {["Authorization"] = "Bearer " .. token}
      if etag ~= "" then headers["If-None-Match"] = etag end
      requests[#requests + 1] = wrk.format("GET", path, headers)
    end
  end
  math.randomseed(os.time() * 1000 + seed)
end

function request()
  return requests[math.random(#requests)]
end

function response(status, headers, body)
  if status == 304 then
    not_modified = not_modified + 1
  elseif status < 200 or status > 299 then
    bad = bad + 1
  end
end

function done(summary, latency, requests)
  local non2xx, n304 = 0, 0
  for _, thread in ipairs(threads) do
    non2xx = non2xx + thread:get("bad")
    n304 = n304 + thread:get("not_modified")
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"bad":%d,"not_modified":%d,"socket_errors":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    non2xx, n304, e.connect + e.read + e.write + e.timeout))
end
