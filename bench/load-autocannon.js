// The load generator when wrk is not installed: autocannon in its own process (not in the bench's),
// printing the same LOADJSON line as bench/wrk-report.lua. Args: url seconds connections timeoutSeconds.
'use strict';

const autocannon = require('autocannon');

const [url, seconds, connections, timeout] = process.argv.slice(2);
autocannon(
  { url, duration: Number(seconds), connections: Number(connections), timeout: Number(timeout) },
  (err, r) => {
    if (err) {
      console.error(err);
      process.exit(1);
    }
    const line = {
      requests: r.requests.total,
      durationUs: Math.round(r.duration * 1e6),
      connect: 0,
      read: r.errors,
      write: 0,
      status: r.non2xx,
      timeout: r.timeouts,
      p50Us: Math.round(r.latency.p50 * 1000),
      p99Us: Math.round(r.latency.p99 * 1000),
      maxUs: Math.round(r.latency.max * 1000),
    };
    process.stdout.write(`LOADJSON ${JSON.stringify(line)}\n`);
  },
);
