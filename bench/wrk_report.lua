-- wrk script used by bench/run.py: sets the method/body from the environment, counts 2xx and
-- non-2xx answers in every thread, and prints one JSON line (prefixed BENCH_JSON) from done().
-- Latencies are wrk's own (microseconds), taken from latency:percentile().

local method = os.getenv("BENCH_METHOD")
if method and method ~= "" then wrk.method = method end
local body = os.getenv("BENCH_BODY")
if body and body ~= "" then wrk.body = body end

-- BENCH_BODIES: several bodies, one per line, sent in turn (a cart add that must not hit its own
-- per-line limit rotates over many SKUs)
local bodies = {}
local many = os.getenv("BENCH_BODIES")
if many and many ~= "" then
  for line in string.gmatch(many, "[^\n]+") do table.insert(bodies, line) end
end
local sent = 0
if #bodies > 0 then
  function request()
    sent = sent + 1
    return wrk.format(nil, nil, nil, bodies[(sent % #bodies) + 1])
  end
end

-- per-thread counters (every thread loads this script into its own Lua state)
ok_2xx = 0
non_2xx = 0
first_non_2xx = 0

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function response(status, headers, body)
  if status >= 200 and status < 300 then
    ok_2xx = ok_2xx + 1
  else
    non_2xx = non_2xx + 1
    if first_non_2xx == 0 then first_non_2xx = status end
  end
end

function done(summary, latency, requests)
  local ok, bad, first = 0, 0, 0
  for _, thread in ipairs(threads) do
    ok = ok + thread:get("ok_2xx")
    bad = bad + thread:get("non_2xx")
    local status = thread:get("first_non_2xx")
    if first == 0 and status ~= 0 then first = status end
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,"ok_2xx":%d,"non_2xx":%d,' ..
    '"first_non_2xx":%d,"p50_us":%d,"p95_us":%d,"p99_us":%d,"mean_us":%.1f,"max_us":%d,' ..
    '"socket_errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d}}\n',
    summary.requests, summary.duration, summary.bytes, ok, bad, first,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.mean, latency.max,
    e.connect, e.read, e.write, e.timeout))
end
