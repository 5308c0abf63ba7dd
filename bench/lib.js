// Helpers shared by `npm run bench` (run.js) and `npm run soak` (soak.js): processes on loopback, CPU
// pinning, the load generator in its own process (wrk, else autocannon), /proc readings, HAProxy.
'use strict';

const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');

/** Every child we start, killed (SIGKILL) if the bench itself exits early. */
const children = [];
process.on('exit', () => children.forEach((c) => c.exitCode === null && c.kill('SIGKILL')));
// Node skips 'exit' when a signal ends the process: exit on them, so that children and CPU groups go too.
for (const [signal, code] of [
  ['SIGINT', 130],
  ['SIGTERM', 143],
  ['SIGHUP', 129],
]) {
  process.once(signal, () => process.exit(code));
}

function onPath(command) {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

/** Clock ticks per second of /proc/<pid>/stat's utime/stime (USER_HZ, 100 on Linux). */
const CLK_TCK = (() => {
  const out = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  const n = Number(out.stdout?.trim());
  return Number.isInteger(n) && n > 0 ? n : 100;
})();

/**
 * CPU placement on a machine with ≥ 2 cores: the measured A process alone on CPU 0; B tasks, HAProxy,
 * the load generator and this script on CPU 1. A's figures then do not depend on how the scheduler
 * shares cores with the load generator. Without `taskset` or with one core: no pinning.
 */
const PINNING = os.cpus().length >= 2 && onPath('taskset') && process.env.BENCH_PIN !== '0';
const CPU_A = '0';
const CPU_REST = '1';

/** [command, args] for `command args` on `cpu` (when pinning). */
function pinned(cpu, command, args) {
  return PINNING ? ['taskset', ['-c', cpu, command, ...args]] : [command, args];
}

/** Moves this process to the "rest" CPU (when pinning). */
function pinSelf() {
  if (PINNING) spawnSync('taskset', ['-a', '-cp', CPU_REST, String(process.pid)], { stdio: 'ignore' });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A port the OS just handed out (closed again at once: a tiny race, fine on loopback). */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

/** Polls `url` until it answers 2xx; throws after `timeoutMs` or when `child` exits. */
async function waitHttp(url, child, name, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode}`);
    if (Date.now() > deadline) throw new Error(`${name} did not answer ${url}`);
    const up = await fetch(url, { signal: AbortSignal.timeout(1000) }).then(
      (r) => r.ok,
      () => false,
    );
    if (up) return;
    await sleep(50);
  }
}

/**
 * Starts `node <file>` (a path from the repository root) on a free port with LOG_LEVEL=warn (no
 * per-request logging), pinned to `cpu`, and waits for /healthz. Returns { child, port, pid }.
 */
async function launch(file, env, cpu = CPU_REST) {
  const port = await freePort();
  const [command, args] = pinned(cpu, process.execPath, [path.join(ROOT, file)]);
  const child = spawn(command, args, {
    env: { PATH: process.env.PATH, LOG_LEVEL: 'warn', HOST: '127.0.0.1', ...env, PORT: String(port) },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  children.push(child);
  await waitHttp(`http://127.0.0.1:${port}/healthz`, child, file);
  return { child, port, pid: child.pid };
}

/** Sends SIGTERM and waits (bounded) for the exit. */
async function stop(child, timeoutMs = 20_000) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  await exited;
  clearTimeout(timer);
}

/** The load generator in use: wrk when installed, else autocannon in a child process. */
const LOAD_GENERATOR = onPath('wrk') ? 'wrk' : 'autocannon';

/**
 * Loads `url` (GET) for `seconds` with `connections` keep-alive connections from a separate process.
 * Resolves with { requests, seconds, rps, p50, p99 (ms), failed, errors: {...} }.
 */
function load(url, { seconds, connections = 32, timeoutSeconds = 10 }) {
  const [command, args] =
    LOAD_GENERATOR === 'wrk'
      ? pinned(CPU_REST, 'wrk', [
          '-t1',
          `-c${connections}`,
          `-d${seconds}s`,
          `--timeout`,
          `${timeoutSeconds}s`,
          '-s',
          path.join(__dirname, 'wrk-report.lua'),
          url,
        ])
      : pinned(CPU_REST, process.execPath, [
          path.join(__dirname, 'load-autocannon.js'),
          url,
          String(seconds),
          String(connections),
          String(timeoutSeconds),
        ]);
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(child);
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    const killer = setTimeout(() => child.kill('SIGKILL'), (seconds + timeoutSeconds + 15) * 1000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(killer);
      const line = out.split('\n').find((l) => l.startsWith('LOADJSON '));
      if (code !== 0 || line === undefined) {
        reject(new Error(`${LOAD_GENERATOR} failed (exit ${code}): ${out.slice(-500)}`));
        return;
      }
      const r = JSON.parse(line.slice('LOADJSON '.length));
      const failed = r.connect + r.read + r.write + r.status + r.timeout;
      resolve({
        requests: r.requests,
        seconds: r.durationUs / 1e6,
        rps: r.requests / (r.durationUs / 1e6),
        p50: r.p50Us / 1000,
        p99: r.p99Us / 1000,
        failed,
        errors: { connect: r.connect, read: r.read, write: r.write, status: r.status, timeout: r.timeout },
      });
    });
  });
}

/** CPU time (user + system, every thread) a process has used so far, µs. */
function cpuMicros(pid) {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1e6) / CLK_TCK;
}

/**
 * CPU time the hypervisor gave to others while this VM wanted it (the `steal` column of /proc/stat, all
 * CPUs), seconds since boot; 0 where the kernel does not report it. Stolen time lands in whichever
 * process was running, so rounds with steal measure the host, not the variant.
 */
function stealSeconds() {
  try {
    const cpu = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/);
    return Number(cpu[8] ?? 0) / CLK_TCK;
  } catch {
    return 0;
  }
}

/** VmRSS and VmHWM (peak) of a process, MiB. */
function rss(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key) => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  return { rssMiB: round1(kb('VmRSS') / 1024), peakRssMiB: round1(kb('VmHWM') / 1024) };
}

/** Open file descriptors of a process and how many are sockets; TCP sockets by state (from /proc/net). */
function fds(pid) {
  const dir = `/proc/${pid}/fd`;
  const inodes = new Set();
  let open = 0;
  for (const fd of fs.readdirSync(dir)) {
    let target;
    try {
      target = fs.readlinkSync(`${dir}/${fd}`);
    } catch {
      continue; // closed meanwhile
    }
    open++;
    const m = /^socket:\[(\d+)\]$/.exec(target);
    if (m) inodes.add(m[1]);
  }
  // Columns of /proc/net/tcp: sl local rem st ... uid timeout inode (RFC-less, see proc(5)).
  const STATES = { '01': 'established', '06': 'timeWait', '08': 'closeWait', '0A': 'listen' };
  const tcp = {};
  for (const file of [`/proc/${pid}/net/tcp`, `/proc/${pid}/net/tcp6`]) {
    let text = '';
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length < 10 || !inodes.has(cols[9])) continue;
      const state = STATES[cols[3]] ?? `other`;
      tcp[state] = (tcp[state] ?? 0) + 1;
      // Which connections (local → remote port), to tell a leak from a connection someone still uses.
      if (state !== 'listen') {
        const port = (hex) => parseInt(hex.split(':')[1], 16);
        (tcp.connections ??= []).push(`${state} :${port(cols[1])}→:${port(cols[2])}`);
      }
    }
  }
  return { openFds: open, sockets: inodes.size, tcp };
}

/** A few gauges from a service's Prometheus /metrics (prom-client's default process metrics). */
async function metrics(port) {
  // A connection of its own, closed after the answer: a keep-alive one would count among A's sockets.
  const text = await new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/metrics', agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve(body));
    });
    req.setTimeout(5000, () => req.destroy(new Error('/metrics timed out')));
    req.on('error', reject);
  });
  const value = (name) => {
    const m = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+-]+)$`, 'm').exec(text);
    return m ? Number(m[1]) : undefined;
  };
  return {
    heapUsedMiB: round1((value('nodejs_heap_size_used_bytes') ?? 0) / 2 ** 20),
    activeHandles: value('nodejs_active_handles_total'),
  };
}

const HAPROXY = onPath('haproxy');

/**
 * HAProxy as a sidecar in front of B: an HTTP frontend on a free port, one backend filled from the SRV
 * records of `srvName` (which must be an RFC 2782 name: HAProxy asks SRV only for names starting with
 * '_') through a `resolvers` section pointing at `dnsAddress`. One thread, pinned to `cpu`. Resolves with
 * { child, pid, port } once it forwards a request.
 */
async function startHaproxy({ srvName, dnsAddress, slots = 8, dir, cpu = CPU_REST }) {
  const port = await freePort();
  const config = [
    'global',
    '  nbthread 1',
    '  maxconn 4096',
    '  log stderr format raw local0 warning',
    'defaults',
    '  mode http',
    '  log global',
    '  option dontlognull',
    '  timeout connect 1s',
    '  timeout client 30s',
    '  timeout server 5s',
    '  timeout http-keep-alive 30s',
    // The same retry rules as our client: another task after a connection failure.
    '  retries 2',
    '  option redispatch 1',
    'resolvers dev',
    `  nameserver ns1 ${dnsAddress}`,
    '  accepted_payload_size 1232',
    '  hold valid 10s',
    'frontend fe',
    `  bind 127.0.0.1:${port}`,
    '  default_backend be',
    'backend be',
    '  balance roundrobin',
    `  server-template b ${slots} ${srvName} resolvers dev init-addr none`,
    '',
  ].join('\n');
  const file = path.join(dir, 'haproxy.cfg');
  fs.writeFileSync(file, config);
  const [command, args] = pinned(cpu, 'haproxy', ['-f', file, '-db']);
  const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  children.push(child);
  let log = '';
  child.stderr.on('data', (d) => (log = (log + d).slice(-4000)));
  try {
    await waitHttp(`http://127.0.0.1:${port}/v1/whoami`, child, 'haproxy', 10_000);
  } catch (err) {
    throw new Error(`${err.message}\n${log}`);
  }
  return { child, pid: child.pid, port };
}

/**
 * CPU groups of equal weight, as ECS gives each task its CPU share: processes in one group share what the
 * group gets, so two groups on one core get half of it each whatever the number of processes in them.
 * Made under the cgroup v1 `cpu` hierarchy, or cgroup v2 where it is delegated; undefined when neither is
 * writable (not root, no controller). `add(name, pid)` moves a whole process; `remove()` puts them back
 * and deletes the groups.
 */
function cpuGroups(names) {
  const roots = [
    { dir: '/sys/fs/cgroup/cpu', weightFile: 'cpu.shares', weight: '1024' },
    { dir: '/sys/fs/cgroup', weightFile: 'cpu.weight', weight: '100' },
  ];
  for (const root of roots) {
    if (!fs.existsSync(path.join(root.dir, 'cgroup.procs'))) continue;
    const made = [];
    try {
      for (const name of names) {
        const dir = path.join(root.dir, `ecs-srv-bench-${process.pid}-${name}`);
        fs.mkdirSync(dir);
        made.push(dir);
        fs.writeFileSync(path.join(dir, root.weightFile), root.weight);
      }
    } catch {
      try {
        for (const dir of made) fs.rmdirSync(dir);
      } catch {
        // left for the OS; empty groups cost nothing
      }
      continue;
    }
    const dirOf = Object.fromEntries(names.map((n, i) => [n, made[i]]));
    const groups = {
      add(name, pid) {
        fs.writeFileSync(path.join(dirOf[name], 'cgroup.procs'), String(pid));
      },
      remove() {
        for (const dir of made) {
          let pids = [];
          try {
            pids = fs.readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean);
          } catch {
            continue; // already gone
          }
          for (const pid of pids) {
            try {
              fs.writeFileSync(path.join(root.dir, 'cgroup.procs'), pid);
            } catch {
              // exited meanwhile
            }
          }
          try {
            fs.rmdirSync(dir);
          } catch {
            // a process still on its way out: the group is empty soon and costs nothing
          }
        }
      },
    };
    process.on('exit', () => groups.remove());
    return groups;
  }
  return undefined;
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function percentile(values, p) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function round1(x) {
  return Math.round(x * 10) / 10;
}

function round2(x) {
  return Math.round(x * 100) / 100;
}

function machine() {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
    loadAverage: os.loadavg().map(round2),
  };
}

module.exports = {
  CPU_A,
  CPU_REST,
  HAPROXY,
  LOAD_GENERATOR,
  PINNING,
  ROOT,
  children,
  cpuGroups,
  cpuMicros,
  fds,
  freePort,
  launch,
  load,
  machine,
  median,
  metrics,
  percentile,
  pinSelf,
  pinned,
  round1,
  round2,
  rss,
  sleep,
  startHaproxy,
  stealSeconds,
  stop,
};
