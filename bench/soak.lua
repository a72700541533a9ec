-- wrk script for bench/soak.sh: a fixed mix of requests, each answer checked against what
-- its kind may answer, counted per kind and status.
--
--   wrk ... -s bench/soak.lua URL -- TOKEN JOB_ID     (results go to the file $SOAK_RESULTS)
--
-- Kinds (share of requests):
--   health  40%  GET /health                                  -> 200 with "status":"ok"
--   job     40%  GET /jobs/JOB_ID with the token              -> 200 with the job's record
--   unauth  15%  a protected route without a valid token      -> 401
--   submit   5%  POST /execute of a short fake-CLI job        -> 202, 409 (busy) or 429 (queue full)
-- Every request carries X-Request-Id "soak-KIND", which the service echoes, so each answer
-- is matched to the kind of its request (wrk's response() does not say which request it was).

local kinds = {"health", "job", "unauth", "submit"}
local allowed = {
  health = {[200] = true},
  job = {[200] = true},
  unauth = {[401] = true},
  submit = {[202] = true, [409] = true, [429] = true},
}
-- One cycle of 20 requests, interleaved so every connection sees every kind.
local cycle = {"health", "job", "health", "job", "unauth", "health", "job", "health", "job", "submit",
               "health", "job", "unauth", "health", "job", "health", "job", "unauth", "health", "job"}

-- Thread state (each wrk thread has its own Lua state; done() reads these via thread:get).
counts = {}     -- "KIND STATUS" -> answers
bad_body = {}   -- KIND -> answers with an allowed status but not the expected body
local requests, unauth_requests, position, unauth_position = {}, {}, 0, 0
local body_marker = {}

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  local token, job_id = args[1], args[2]
  local function with(headers, kind)
    headers["X-Request-Id"] = "soak-" .. kind
    return headers
  end
  local job_path = "/jobs/" .. job_id
  requests.health = wrk.format("GET", "/health", with({}, "health"))
  requests.job = wrk.format("GET", job_path, with({Authorization = "Bearer " .. token}, "job"))
  requests.submit = wrk.format("POST", "/execute",
    with({Authorization = "Bearer " .. token, ["Content-Type"] = "application/json"}, "submit"),
    '{"prompt":"soak\\nFAKE:sleep=0.05","agent":"soak-agent"}')
  -- The ways in without a valid token, in turn. The refused POST leaves its body unread,
  -- so the service must close that connection cleanly (wrk then reconnects).
  unauth_requests = {
    wrk.format("GET", job_path, with({}, "unauth")),
    wrk.format("GET", job_path, with({Authorization = "Bearer wrong-" .. token}, "unauth")),
    wrk.format("GET", "/jobs?limit=5", with({Authorization = "Basic c29hazpzb2Fr"}, "unauth")),
    wrk.format("POST", "/execute",
      with({Authorization = "Bearer x" .. token, ["Content-Type"] = "application/json"}, "unauth"),
      '{"prompt":"should never run","agent":"soak-agent"}'),
  }
  body_marker = {health = '"status":"ok"', job = '"job_id":"' .. job_id .. '"', submit = '"job_id"'}
  for _, kind in ipairs(kinds) do bad_body[kind] = 0 end
end

function request()
  position = position % #cycle + 1
  local kind = cycle[position]
  if kind == "unauth" then
    unauth_position = unauth_position % #unauth_requests + 1
    return unauth_requests[unauth_position]
  end
  return requests[kind]
end

function response(status, headers, body)
  local kind = (headers["X-Request-Id"] or ""):match("^soak%-(%a+)$") or "unknown"
  local key = kind .. " " .. status
  counts[key] = (counts[key] or 0) + 1
  local marker = body_marker[kind]
  if marker and (status == 200 or status == 202) and not body:find(marker, 1, true) then
    bad_body[kind] = bad_body[kind] + 1
  end
end

-- Writes "KEY VALUE..." lines for soak.sh: per kind and status "status KIND CODE N OK|BAD",
-- "bad_body KIND N", wrk's totals, socket errors and latency percentiles (microseconds).
function done(summary, latency, _)
  local total, bodies = {}, {}
  for _, thread in ipairs(threads) do
    for key, n in pairs(thread:get("counts")) do total[key] = (total[key] or 0) + n end
    for kind, n in pairs(thread:get("bad_body")) do bodies[kind] = (bodies[kind] or 0) + n end
  end
  local out = assert(io.open(assert(os.getenv("SOAK_RESULTS"), "SOAK_RESULTS unset"), "w"))
  local keys = {}
  for key in pairs(total) do table.insert(keys, key) end
  table.sort(keys)
  for _, key in ipairs(keys) do
    local kind, code = key:match("^(%S+) (%d+)$")
    local ok = allowed[kind] and allowed[kind][tonumber(code)]
    out:write(string.format("status %s %s %d %s\n", kind, code, total[key], ok and "OK" or "BAD"))
  end
  for _, kind in ipairs(kinds) do
    out:write(string.format("bad_body %s %d\n", kind, bodies[kind] or 0))
  end
  out:write(string.format("requests %d\nduration_us %d\n", summary.requests, summary.duration))
  for _, name in ipairs({"connect", "read", "write", "timeout"}) do
    out:write(string.format("socket_%s %d\n", name, summary.errors[name]))
  end
  for _, p in ipairs({50, 90, 99, 99.9}) do
    out:write(string.format("latency_p%s_us %d\n", p, latency:percentile(p)))
  end
  out:write(string.format("latency_max_us %d\n", latency.max))
  out:close()
end
