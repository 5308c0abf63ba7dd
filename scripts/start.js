#!/usr/bin/env node
// `npm start`: the whole pair on this machine, no Docker. A Cloud Map-like DNS server on 127.0.0.1, three
// B tasks on OS-assigned ports (as bridge mode assigns dynamic host ports) registered in it Cloud Map
// style, and A on port 8080 discovering them through SRV. With DISCOVERY_SOURCE=cloudmap the same server
// also answers the Cloud Map API (same registrations) and A discovers through that instead, with dummy
// credentials and no AWS. Ctrl-C stops everything and exits 0.
'use strict';

const { spawn } = require('node:child_process');
const { randomBytes } = require('node:crypto');
const path = require('node:path');
const readline = require('node:readline');
const { DevDnsServer } = require('../shared/dev-server/dist');

const ROOT = path.resolve(__dirname, '..');
const B_COUNT = 3;
const A_PORT = process.env.PORT ?? '8080';
const SRV_NAME = 'service_b.ecs.internal';
const NAMESPACE = 'ecs.internal';
const CLOUDMAP_SERVICE = 'service_b';
/** Child log lines at or above this pino level are shown (warn); `VERBOSE=1` shows every line. */
const SHOW_LEVEL = process.env.VERBOSE ? 0 : 40;

const children = new Map(); // name → ChildProcess
let stopping = false;

function say(line) {
  process.stdout.write(`${line}\n`);
}

/** How long each child may take to report that it listens and answer `/readyz` 200. */
const START_TIMEOUT_MS = parseTimeout(process.env.START_TIMEOUT_MS, 30_000);
/** How A discovers B: `dns` (SRV records, the default) or `cloudmap` (the dev server's Cloud Map API). */
const SOURCE = parseSource(process.env.DISCOVERY_SOURCE);
const DNS_PORT = parsePort('DNS_PORT', process.env.DNS_PORT);
const CLOUDMAP_API_PORT = parsePort('CLOUDMAP_API_PORT', process.env.CLOUDMAP_API_PORT);

function parseSource(value) {
  if (value === undefined || value.trim() === '') return 'dns';
  if (value === 'dns' || value === 'cloudmap') return value;
  process.stderr.write(`npm start: DISCOVERY_SOURCE must be dns or cloudmap, got ${JSON.stringify(value)}\n`);
  process.exit(1);
}

function parsePort(name, value) {
  if (value === undefined || value.trim() === '') return 0;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write(
      `npm start: ${name} must be a port number (0..65535), got ${JSON.stringify(value)}\n`,
    );
    process.exit(1);
  }
  return port;
}

function parseTimeout(value, fallback) {
  if (value === undefined || value.trim() === '') return fallback;
  const ms = Number(value);
  if (!Number.isInteger(ms) || ms <= 0) {
    process.stderr.write(
      `npm start: START_TIMEOUT_MS must be a positive number of milliseconds, got ${JSON.stringify(value)}\n`,
    );
    process.exit(1);
  }
  return ms;
}

/**
 * Starts `node <main>` as `name`; resolves with `{host, port}` once it is ready. Readiness does not depend
 * on the log level: the service reports where it listens over the IPC channel (announceListening in the
 * service kit), then `/readyz` must answer 200, all within START_TIMEOUT_MS.
 */
function launch(name, main, env) {
  const child = spawn(process.execPath, [path.join(ROOT, main)], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    // Own process group: Ctrl-C reaches only this script, which then stops the children in order.
    detached: true,
  });
  children.set(name, child);
  const recent = []; // its last lines, for the error message when it never gets ready
  const remember = (line) => {
    recent.push(line);
    if (recent.length > 10) recent.shift();
  };
  const onLine = (line) => {
    remember(line);
    let record;
    try {
      record = JSON.parse(line);
    } catch {
      say(`[${name}] ${line}`);
      return;
    }
    if (record.level >= SHOW_LEVEL || record.msg === 'endpoint set changed')
      say(`[${name}] ${describe(record)}`);
  };
  readline.createInterface({ input: child.stdout }).on('line', onLine);
  readline.createInterface({ input: child.stderr }).on('line', (line) => {
    remember(line);
    say(`[${name}] ${line}`);
  });

  let settled = false;
  return new Promise((resolve, reject) => {
    const fail = (why) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      const tail = recent.length ? `; its last output:\n  ${recent.join('\n  ')}` : '; it printed nothing';
      reject(new Error(`${name} ${why}${tail}`));
    };
    const timer = setTimeout(
      () => fail(`was not ready within ${START_TIMEOUT_MS} ms (START_TIMEOUT_MS)`),
      START_TIMEOUT_MS,
    );
    child.on('message', (message) => {
      if (settled || message?.type !== 'listening' || typeof message.port !== 'number') return;
      const host = ['0.0.0.0', '::', ''].includes(message.host) ? '127.0.0.1' : message.host;
      waitReady(host, message.port, () => settled).then(
        () => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          if (child.connected) child.disconnect();
          resolve({ host, port: message.port });
        },
        (err) => fail(err.message),
      );
    });
    child.on('exit', (code, signal) => {
      children.delete(name);
      fail(`exited (${signal ?? code}) before it was ready`);
      if (!stopping) onUnexpectedExit(name, code, signal);
    });
  });
}

/** Polls `/readyz` until it answers 200 or `givenUp()` (the start timeout fired). */
async function waitReady(host, port, givenUp) {
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}/readyz`;
  while (!givenUp()) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      await res.body?.cancel();
      if (res.status === 200) return;
    } catch {
      // not accepting yet: try again
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** One readable line for a child's pino record. */
function describe(record) {
  const parts = [record.msg];
  if (record.added?.length) parts.push(`+${record.added.join(' +')}`);
  if (record.removed?.length) parts.push(`-${record.removed.join(' -')}`);
  if (record.err) parts.push(typeof record.err === 'string' ? record.err : record.err.message);
  return parts.join('  ');
}

let dns;
function onUnexpectedExit(name, code, signal) {
  say(`[${name}] exited unexpectedly (${signal ?? `code ${code}`})`);
  // A B task that died leaves Cloud Map once its health check fails; here at once.
  const task = name.startsWith('service-b ') ? name.slice('service-b '.length) : undefined;
  if (task && dns) dns.deregister(task);
  if (name === 'service-a') void stop(1);
}

async function stop(code) {
  if (stopping) return;
  stopping = true;
  say('\nstopping…');
  // A first (no new calls to B), then the B tasks (they drain), then DNS.
  await stopChild('service-a');
  await Promise.all([...children.keys()].map(stopChild));
  if (dns) reportUse(dns);
  await dns?.close();
  say('stopped');
  process.exit(code);
}

/** SIGTERM, then SIGKILL if the child has not exited after its drain and close grace. */
function stopChild(name) {
  const child = children.get(name);
  if (!child) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

process.on('SIGINT', () => void stop(0));
process.on('SIGTERM', () => void stop(0));
// Last resort if this script dies on an error: never leave children running.
process.on('exit', () => {
  for (const child of children.values()) child.kill('SIGKILL');
});

/** What the dev server answered while it ran: shows that A used the source it was given, and how often. */
function reportUse(server) {
  const { queries } = server.stats();
  say(`dev DNS answered ${queries} ${queries === 1 ? 'query' : 'queries'}`);
  if (SOURCE !== 'cloudmap') return;
  const { byOperation, byError } = server.api.stats();
  const calls = Object.entries(byOperation)
    .filter(([, n]) => n > 0)
    .map(([op, n]) => `${op} ${n}`);
  const errors = Object.entries(byError).map(([type, n]) => `${type} ${n}`);
  say(
    `dev Cloud Map API calls: ${calls.join(', ') || 'none'}${errors.length ? `; errors: ${errors.join(', ')}` : ''}`,
  );
}

/**
 * A's environment for the chosen source. For `cloudmap`: the SDK's standard endpoint override pointed at
 * the dev server, a Region, and dummy credentials when none are set (the dev server checks no signature;
 * set ones are only used to sign, and the secret never leaves this machine).
 */
function discoveryEnv(dnsServer) {
  if (SOURCE === 'dns') return { DNS_SERVERS: dnsServer, SERVICE_B_SRV: SRV_NAME };
  const env = {
    SERVICE_B_SRV: SRV_NAME,
    DISCOVERY_SOURCE: 'cloudmap',
    CLOUDMAP_NAMESPACE: NAMESPACE,
    CLOUDMAP_SERVICE,
    AWS_ENDPOINT_URL_SERVICEDISCOVERY: dns.api.endpoint,
    AWS_REGION: process.env.AWS_REGION || process.env.AWS_DEFAULT_REGION || 'us-east-1',
  };
  if (!process.env.AWS_ACCESS_KEY_ID || !process.env.AWS_SECRET_ACCESS_KEY) {
    Object.assign(env, { AWS_ACCESS_KEY_ID: 'dev', AWS_SECRET_ACCESS_KEY: 'dev' });
  }
  return env;
}

async function main() {
  const api = SOURCE === 'cloudmap' ? { host: '127.0.0.1', port: CLOUDMAP_API_PORT } : false;
  dns = new DevDnsServer({ host: '127.0.0.1', port: DNS_PORT, api });
  const dnsAddress = await dns.start();
  const dnsServer = `${dnsAddress.host}:${dnsAddress.port}`;

  const tasks = [];
  for (let i = 0; i < B_COUNT; i++) {
    const taskId = randomBytes(16).toString('hex'); // shaped like an ECS task id
    const name = `service-b ${taskId}`;
    const record = await launch(name, 'service-b/dist/main.js', {
      PORT: '0',
      HOST: '127.0.0.1',
      INSTANCE_ID: taskId,
      DRAIN_DELAY_MS: '1000',
    });
    dns.register(taskId, '127.0.0.1', record.port);
    tasks.push({ taskId, port: record.port });
  }

  const aEnv = discoveryEnv(dnsServer);
  const a = await launch('service-a', 'service-a/dist/main.js', { PORT: A_PORT, ...aEnv });

  say('');
  say(
    `dev DNS (Cloud Map-like)  ${dnsServer}   zone ${NAMESPACE}, SRV ${SRV_NAME}, TTL 10 s, at most 8 records`,
  );
  if (SOURCE === 'cloudmap') {
    say(
      `dev Cloud Map API         ${dns.api.endpoint}   namespace ${NAMESPACE}, service ${CLOUDMAP_SERVICE}, same tasks`,
    );
  }
  for (const t of tasks) say(`service-b task             127.0.0.1:${t.port}   ${t.taskId}.${SRV_NAME}`);
  const shown =
    SOURCE === 'cloudmap'
      ? `DISCOVERY_SOURCE=cloudmap AWS_ENDPOINT_URL_SERVICEDISCOVERY=${aEnv.AWS_ENDPOINT_URL_SERVICEDISCOVERY} AWS_REGION=${aEnv.AWS_REGION}`
      : `DNS_SERVERS=${dnsServer}`;
  say(`service-a                 http://localhost:${a.port}   ${shown}`);
  say('');
  say('Try:');
  say(`  for i in $(seq 10); do curl -s localhost:${a.port}/api/whoami; echo; done`);
  say(
    `  curl -s -XPOST localhost:${a.port}/api/echo -H 'content-type: application/json' -d '{"message":"hi"}'`,
  );
  say(`  curl -s localhost:${a.port}/discovery`);
  say(`  dig @${dnsAddress.host} -p ${dnsAddress.port} SRV ${SRV_NAME}`);
  if (SOURCE === 'cloudmap') {
    say(
      `  curl -s ${dns.api.endpoint} -H 'content-type: application/x-amz-json-1.1' -H 'x-amz-target: Route53AutoNaming_v20170314.DiscoverInstances' -d '{"NamespaceName":"${NAMESPACE}","ServiceName":"${CLOUDMAP_SERVICE}"}'`,
    );
  }
  say('Ctrl-C stops everything.');
}

main().catch((err) => {
  say(`npm start failed: ${err.message}`);
  void stop(1);
});
