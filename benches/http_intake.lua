-- wrk script: POST /api/cases, an inspector's report registered at once (so every request runs
-- the assignment, the duplicate search, the dispatch rules and one durable transaction), at
-- random points over the demo city, each with its own idempotency key.
-- TOKEN comes from the environment (a bearer token of demo_admin).
local token = os.getenv("TOKEN")
local counter = 0
local threads = {}
-- `tid` is a global: setup (in wrk's main Lua state) sets it in each thread's own state, where a
-- script-level local would shadow it and give every thread the same keys.
tid = 0

setup = function(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

init = function(args)
  math.randomseed(7919 + tid)
end

request = function()
  counter = counter + 1
  local lon = 113.50 + math.random() * 0.15
  local lat = 34.65 + math.random() * 0.17
  -- Sanitation categories merge near duplicates; illegal structures only suggest them.
  local cats = { "0101", "0102", "0201", "0401", "0501", "0602" }
  local cat = cats[math.random(#cats)]
  local body = string.format(
    '{"idempotency_key":"bench-%d-%d-%d","category":"%s","description":"基准测试上报","lon":%.6f,"lat":%.6f,"crs":"wgs84","register":true}',
    tid, counter, math.random(1, 1000000000), cat, lon, lat)
  return wrk.format("POST", "/api/cases", {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. token,
  }, body)
end

-- Count only acknowledged cases (201); anything else is reported.
created = 0
other = 0
response = function(status, headers, body)
  if status == 201 then
    created = created + 1
  else
    other = other + 1
    -- The first few refusals, so a run that refuses work says why.
    if other <= 3 then io.write(string.format("refused %d: %s\n", status, body)) end
  end
end

done = function(summary, latency, requests)
  local acked, refused = 0, 0
  for _, t in ipairs(threads) do
    acked = acked + t:get("created")
    refused = refused + t:get("other")
  end
  io.write(string.format("acknowledged %d\nrefused %d\nlatency_p50_ms %.2f\nlatency_p99_ms %.2f\n",
    acked, refused, latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
