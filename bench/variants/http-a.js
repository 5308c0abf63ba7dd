// service-a calling B at a fixed URL through a bare node:http keep-alive Agent (no axios): the baseline
// for the HTTP client's overhead. Everything else is the product's: the same runService (config checks,
// pino-http request logger, Prometheus metrics), app and routes; only how B is reached differs.
// Env: as service-a with SERVICE_B_URL set (PORT, HOST, LOG_LEVEL…).
'use strict';

const http = require('node:http');
const { UpstreamError } = require('../../shared/dist');
const { runService } = require('../../shared/kit/dist');
const { createApp } = require('../../service-a/dist/app');
const { loadConfig } = require('../../service-a/dist/config');
const { ServiceBClient } = require('../../service-a/dist/service-b-client');

const base = new URL(process.env.SERVICE_B_URL);
const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });

function send(config) {
  const body = config.data === undefined ? undefined : JSON.stringify(config.data);
  const headers = { ...config.headers, accept: 'application/json' };
  if (body !== undefined) {
    headers['content-type'] = 'application/json';
    headers['content-length'] = Buffer.byteLength(body);
  }
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: base.hostname, port: base.port, path: config.url, method: config.method, headers, agent },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          if (res.statusCode < 200 || res.statusCode >= 300) {
            reject(new UpstreamError('bad-response', 'EUPSTREAMSTATUS', base.host, `HTTP ${res.statusCode}`));
            return;
          }
          try {
            resolve({ data: JSON.parse(Buffer.concat(chunks).toString()), endpoint: base.host });
          } catch (err) {
            reject(new UpstreamError('bad-response', 'EBADUPSTREAM', base.host, 'bad JSON', { cause: err }));
          }
        });
      },
    );
    req.setTimeout(5000, () => req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
    req.on('error', (err) =>
      reject(
        new UpstreamError(
          err.code === 'ETIMEDOUT' ? 'timeout' : 'unreachable',
          err.code ?? 'EUPSTREAM',
          base.host,
          err.message,
        ),
      ),
    );
    req.end(body);
  });
}

runService({
  service: 'service-a',
  loadConfig,
  setup: ({ state, logger, metrics, requestLogger }) => ({
    app: createApp({
      state,
      logger,
      serviceB: new ServiceBClient(send),
      discovery: () => ({ mode: 'node-http', url: base.href, names: [] }),
      metrics,
      requestLogger,
    }),
    close: () => agent.destroy(),
  }),
});
