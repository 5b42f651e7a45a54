-- One benchmark operation for wrk. Arguments (after `--`): op token prefix ids_file
--   op      patch | get | list | list3 (the list, on a project whose cases all have 3 files)
--   prefix  /v1 (the API) or a comparator's prefix, /bench/…/v1
-- Every response that is not 2xx is counted; done() prints one BENCH line of JSON.

local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("seed", counter)
  table.insert(threads, thread)
end

local op, prefix
local ids = {}
local auth = {}
local statuses = {"open", "closed", "archived"}
bad = 0

function init(args)
  op, prefix = args[1], args[3]
  auth = {["Authorization"] = "Bearer " .. args[2], ["Content-Type"] = "application/json"}
  for line in io.lines(args[4]) do
    if line ~= "" then ids[#ids + 1] = line end
  end
  math.randomseed(os.time() * 1000 + seed)
end

function request()
  if op == "list" or op == "list3" then
    return wrk.format("GET", prefix .. "/cases?limit=50", auth)
  end
  local path = prefix .. "/cases/" .. ids[math.random(#ids)]
  if op == "get" then
    return wrk.format("GET", path, auth)
  end
  local field = math.random(3)
  local body
  if field == 1 then
    body = '{"title":"Bench title ' .. math.random(1000000) .. '"}'
  elseif field == 2 then
    body = '{"description":"Bench description ' .. math.random(1000000) .. '\\nsecond line"}'
  else
    body = '{"status":"' .. statuses[math.random(3)] .. '"}'
  end
  return wrk.format("PATCH", path, auth, body)
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
