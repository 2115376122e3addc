-- wrk script: GET /api/assign at random points over the demo city (WGS84).
math.randomseed(20231)
request = function()
  local lon = 113.447 + math.random() * 0.223
  local lat = 34.605 + math.random() * 0.255
  return wrk.format("GET", string.format("/api/assign?lon=%.6f&lat=%.6f", lon, lat))
end
