-- wrk script: every request comes "from" a random public IPv4 address via
-- X-Forwarded-For (the gateway and nginx both trust loopback), so the GeoIP
-- path resolves a different client each time.
math.randomseed(20261127)
request = function()
  local ip = math.random(1, 223) .. "." .. math.random(0, 255) .. "." ..
             math.random(0, 255) .. "." .. math.random(1, 254)
  return wrk.format("GET", nil, { ["X-Forwarded-For"] = ip })
end
