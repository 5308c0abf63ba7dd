-- wrk's summary as one JSON line (bench/lib.js reads the line starting with LOADJSON).
done = function(summary, latency, _)
  local e = summary.errors
  io.write(string.format(
    'LOADJSON {"requests":%d,"durationUs":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,' ..
      '"p50Us":%d,"p99Us":%d,"maxUs":%d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
