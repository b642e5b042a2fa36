-- wrk script for bench/http_bench.py: each connection signs in users one after another,
-- begin (POST /v1/auth) -> read the code from the sink -> verify, and counts the outcomes.
-- Run with as many threads as connections (-t N -c N): wrk's request()/response() hooks
-- are per thread, so one connection per thread keeps each sign-in's three steps in order.
-- Arguments after "--": API key, number of users, number of threads, user id prefix, first
-- user (rounds start at different users, so no user gets more than its 5 codes per 5 min).

local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
  table.insert(threads, thread)
end

function init(args)
  api_key, nusers, nthreads, prefix = args[1], tonumber(args[2]), tonumber(args[3]), args[4]
  first = tonumber(args[5] or "0")
  headers = { ["Authorization"] = "Bearer " .. api_key, ["Content-Type"] = "application/json" }
  user = (first + id - 1) % nusers
  step = "begin"
  ok, denied, refused, missing = 0, 0, 0, 0
  first_refusal = ""
end

local function phone(n)
  return string.format("%%2B1425%03d%04d", 200 + math.floor(n / 10000), n % 10000)
end

local function next_user()
  user = (user + nthreads) % nusers
  step = "begin"
end

function request()
  if step == "begin" then
    return wrk.format("POST", "/v1/auth", headers, '{"user_id":"' .. prefix .. user .. '"}')
  elseif step == "sink" then
    return wrk.format("GET", "/v1/sink/messages?limit=1&to=" .. phone(user), headers)
  end
  return wrk.format("POST", "/v1/auth/" .. auth_id .. "/verify", headers,
    '{"code":"' .. code .. '"}')
end

function response(status, _, body)
  if step == "begin" then
    if status == 201 then
      auth_id = body:match('"auth_id":"([^"]+)"')
      step = "sink"
    else
      refused = refused + 1
      if first_refusal == "" then first_refusal = status .. " " .. body:sub(1, 300) end
      next_user()
    end
  elseif step == "sink" then
    code = body:match('"code":"(%d+)"')
    if code then step = "verify" else missing = missing + 1; next_user() end
  else
    if body:find('"result":"success"', 1, true) then ok = ok + 1 else denied = denied + 1 end
    next_user()
  end
end

function done(summary, latency, requests)
  local totals = { ok = 0, denied = 0, refused = 0, missing = 0 }
  for _, thread in ipairs(threads) do
    for key, _ in pairs(totals) do totals[key] = totals[key] + thread:get(key) end
  end
  io.write(string.format("MFALAB ok=%d denied=%d refused=%d missing=%d\n",
    totals.ok, totals.denied, totals.refused, totals.missing))
  for _, thread in ipairs(threads) do
    local first = thread:get("first_refusal")
    if first ~= "" then io.write("MFALAB first refusal: " .. first .. "\n"); break end
  end
end
