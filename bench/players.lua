-- The players benchmark's requests for wrk. Arguments (after `--`): path token queries_file
--   path     e.g. /v1/players or /bench/plain/v1/cases
--   queries  one query string a line (identifier=…&identifier=…), drawn at random
-- Every response that is not 2xx is counted; done() prints one BENCH line of JSON.

local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("seed", counter)
  table.insert(threads, thread)
end

local path
local queries = {}
local auth = {}
bad = 0

function init(args)
  path = args[1]
  auth = {["Authorization"] = "Bearer " .. args[2]}
  for line in io.lines(args[3]) do
    if line ~= "" then queries[#queries + 1] = line end
  end
  math.randomseed(os.time() * 1000 + seed)
end

function request()
  return wrk.format("GET", path .. "?" .. queries[math.random(#queries)], auth)
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    bad = bad + 1
  end
end

function done(summary, latency, requests)
  local non2xx = 0
  for _, thread in ipairs(threads) do
    non2xx = non2xx + thread:get("bad")
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"non2xx":%d,"socket_errors":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    non2xx, e.connect + e.read + e.write + e.timeout))
end
