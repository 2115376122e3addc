-- wrk script: GET every tile of a list in turn, as a browser asks (Accept-Encoding: gzip).
-- TILES names a file of "z,x,y" lines; PREFIX the path before /z/x/y; SUFFIX what follows.
local tiles, i = {}, 0
local prefix = os.getenv("PREFIX") or "/tiles/grid"
local suffix = os.getenv("SUFFIX") or ".mvt"
for line in io.lines(os.getenv("TILES")) do
  local z, x, y = line:match("(%d+),(%d+),(%d+)")
  if z then tiles[#tiles + 1] = string.format("%s/%s/%s/%s%s", prefix, z, x, y, suffix) end
end
wrk.headers["Accept-Encoding"] = "gzip"
setup = function(thread)
  thread:set("offset", math.random(#tiles))
end
request = function()
  i = i + 1
  return wrk.format("GET", tiles[(i + (offset or 0)) % #tiles + 1])
end
done = function(summary, latency, requests)
  io.write(string.format("latency_p50_ms %.3f\nlatency_p99_ms %.3f\nrequests %d\nbytes %d\nnon2xx %d\n",
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, summary.requests, summary.bytes,
    summary.errors.status))
end
