// service-a calling B at a fixed URL through a bare node:http keep-alive Agent (no axios): the baseline
// for the HTTP client's overhead. Everything else is the product's: the same runService (config checks,
// pino-http request logger, Prometheus metrics), app and routes; only how B is reached differs.
//
// It keeps the contract the axios path keeps, as a user writing it by hand would have to: the whole
// exchange within UPSTREAM_TIMEOUT_MS (→ 504), the call cancelled when A's caller goes away (the route's
// signal), a body larger than UPSTREAM_MAX_RESPONSE_BYTES refused, no compression asked for, a non-2xx
// or unparseable answer → 502. Without those it would be cheaper only by doing less.
// Env: as service-a with SERVICE_B_URL set (PORT, HOST, LOG_LEVEL…).
'use strict';

const http = require('node:http');
const { UpstreamError } = require('../../shared/dist');
const { runService } = require('../../shared/kit/dist');
const { createApp } = require('../../service-a/dist/app');
const { loadConfig } = require('../../service-a/dist/config');
const { ServiceBClient } = require('../../service-a/dist/service-b-client');

const base = new URL(process.env.SERVICE_B_URL);
const agent = new http.Agent({ keepAlive: true, maxSockets: 256, scheduling: 'lifo' });

function makeSend({ timeoutMs, maxResponseBytes }) {
  return (config) => {
    const body = config.data === undefined ? undefined : JSON.stringify(config.data);
    const headers = { ...config.headers, accept: 'application/json', 'accept-encoding': 'identity' };
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = Buffer.byteLength(body);
    }
    return new Promise((resolve, reject) => {
      let settled = false;
      const fail = (kind, code, message, cause) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        reject(new UpstreamError(kind, code, base.host, message, cause && { cause }));
      };
      const req = http.request(
        {
          host: base.hostname,
          port: base.port,
          path: config.url,
          method: config.method,
          headers,
          agent,
          signal: config.signal,
        },
        (res) => {
          const chunks = [];
          let size = 0;
          res.on('data', (c) => {
            size += c.length;
            if (size > maxResponseBytes) {
              fail('bad-response', 'ERESPONSETOOLARGE', `more than ${maxResponseBytes} bytes`);
              req.destroy();
            } else chunks.push(c);
          });
          res.on('end', () => {
            if (res.statusCode < 200 || res.statusCode >= 300) {
              fail('bad-response', 'EUPSTREAMSTATUS', `HTTP ${res.statusCode}`);
              return;
            }
            let data;
            try {
              data = JSON.parse(Buffer.concat(chunks).toString());
            } catch (err) {
              fail('bad-response', 'EBADUPSTREAM', 'bad JSON', err);
              return;
            }
            settled = true;
            clearTimeout(timer);
            resolve({ data, endpoint: base.host });
          });
          res.on('error', (err) => fail('unreachable', err.code ?? 'EUPSTREAM', err.message, err));
        },
      );
      const timer = setTimeout(() => {
        fail('timeout', 'ETIMEDOUT', `no answer within ${timeoutMs} ms`);
        req.destroy();
      }, timeoutMs);
      req.on('error', (err) => {
        if (err.name === 'AbortError') fail('cancelled', 'ECANCELLED', 'the caller left', err);
        else fail('unreachable', err.code ?? 'EUPSTREAM', err.message, err);
      });
      req.end(body);
    });
  };
}

runService({
  service: 'service-a',
  loadConfig,
  setup: ({ config, state, logger, metrics, requestLogger }) => ({
    app: createApp({
      state,
      logger,
      serviceB: new ServiceBClient(
        makeSend({
          timeoutMs: config.UPSTREAM_TIMEOUT_MS,
          maxResponseBytes: config.UPSTREAM_MAX_RESPONSE_BYTES,
        }),
      ),
      discovery: () => ({ mode: 'node-http', url: base.href, names: [] }),
      metrics,
      requestLogger,
    }),
    close: () => agent.destroy(),
  }),
});
