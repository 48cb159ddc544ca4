-- wrk script: POST the same body on every request.
--   BODY_FILE=path/to/body.json CONTENT_TYPE='application/json; charset=utf-8' \
--     wrk -t1 -c200 -d10s --latency -s bench/wrk/post.lua http://127.0.0.1:8080/com.snowplowanalytics.snowplow/tp2
-- The body is read once at start-up (bench/collector.ts writes it from bench/lib/payloads.ts), so every
-- run sends byte-identical requests.
local path = os.getenv("BODY_FILE")
assert(path, "BODY_FILE is not set")
local f = assert(io.open(path, "rb"))
wrk.body = f:read("*a")
f:close()
wrk.method = "POST"
wrk.headers["Content-Type"] = os.getenv("CONTENT_TYPE") or "application/json; charset=utf-8"
