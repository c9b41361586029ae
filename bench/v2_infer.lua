-- wrk script for bench/serve: POST one fixed Open Inference Protocol V2 body.
--
-- Usage: wrk -t2 -c16 -d10s -s bench/v2_infer.lua URL -- BODY_FILE [HEADER_LENGTH]
--
-- The body is read once per thread from BODY_FILE. With HEADER_LENGTH it is a
-- binary tensor data request: its first HEADER_LENGTH bytes are the JSON header. Responses outside 2xx are
-- counted per thread, and done() prints one machine-readable line:
--   BENCH_RESULT {"requests":...,"rps":...,"p50_ms":...,...}

local threads = {}

-- Global in every thread's Lua state; done() reads it back with thread:get.
non2xx = 0

local function read_file(path)
  local f, err = io.open(path, "rb")
  if not f then
    error("v2_infer.lua: cannot open body file: " .. tostring(err))
  end
  local data = f:read("*a")
  f:close()
  return data
end

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  local path = args[1]
  if not path then
    error("v2_infer.lua: pass the body file after --")
  end
  wrk.method = "POST"
  if args[2] then
    wrk.headers["Content-Type"] = "application/octet-stream"
    wrk.headers["Inference-Header-Content-Length"] = args[2]
  else
    wrk.headers["Content-Type"] = "application/json"
  end
  wrk.body = read_file(path)
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
  end
end

function done(summary, latency, requests)
  local bad = 0
  for _, thread in ipairs(threads) do
    bad = bad + (thread:get("non2xx") or 0)
  end
  local seconds = summary.duration / 1e6
  local rps = 0
  if seconds > 0 then
    rps = summary.requests / seconds
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"duration_s":%.3f,"rps":%.2f,' ..
    '"p50_ms":%.3f,"p90_ms":%.3f,"p99_ms":%.3f,"mean_ms":%.3f,"max_ms":%.3f,' ..
    '"non2xx":%d,"connect_errors":%d,"read_errors":%d,"write_errors":%d,' ..
    '"timeouts":%d,"bytes":%d}\n',
    summary.requests, seconds, rps,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.mean / 1000, latency.max / 1000,
    bad, e.connect, e.read, e.write, e.timeout, summary.bytes))
end
