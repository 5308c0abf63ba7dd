// service-a as the seed does discovery: an SRV query and an A query through node:dns on every request,
// the first SRV record taken. Same app, routes and axios set-up as the product; only discovery differs.
// Env: PORT, DNS_SERVERS (ip:port), SERVICE_B_SRV.
'use strict';

const axios = require('axios');
const { promises: dns } = require('node:dns');
const http = require('node:http');
const { toUpstreamError } = require('../../shared/dist/axios');
const { startServer } = require('../../shared/kit/dist');
const { createApp } = require('../../service-a/dist/app');
const { ServiceBClient } = require('../../service-a/dist/service-b-client');

const resolver = new dns.Resolver({ timeout: 1000, tries: 2 });
resolver.setServers(process.env.DNS_SERVERS.split(','));
const name = process.env.SERVICE_B_SRV ?? 'service_b.ecs.internal';
const instance = axios.create({
  httpAgent: new http.Agent({ keepAlive: true, maxSockets: 256 }),
  maxRedirects: 0,
  proxy: false,
  timeout: 5000,
});

async function send(config) {
  const [first] = await resolver.resolveSrv(name);
  const [ip] = await resolver.resolve4(first.name);
  const endpoint = `${ip}:${first.port}`;
  try {
    return { data: (await instance.request({ ...config, baseURL: `http://${endpoint}` })).data, endpoint };
  } catch (err) {
    throw toUpstreamError(err, endpoint);
  }
}

const state = { draining: false };
const app = createApp({
  state,
  logger: { error: (obj) => console.error(obj) },
  serviceB: new ServiceBClient(send),
  discovery: () => ({ mode: 'naive' }),
});
void startServer(app, { port: Number(process.env.PORT ?? 0), host: '127.0.0.1', state });
