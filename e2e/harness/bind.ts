import { execFile, execFileSync } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ManagedProcess } from './processes';

/** Where BIND's binaries live on Debian/Ubuntu when /usr/sbin is not on PATH (non-root users). */
const EXTRA_DIRS = ['/usr/sbin', '/usr/local/sbin', '/sbin', '/usr/bin', '/usr/local/bin'];

const INSTALL_HINT =
  'The e2e tests run a real BIND 9 server. Install it with:\n' +
  '  sudo apt-get update && sudo apt-get install -y bind9 bind9-dnsutils\n' +
  '(.ci/run does this in CI.)';

/** Absolute path of `name` on PATH or in the sbin directories, or a clear error saying how to install BIND. */
export function findExecutable(name: string): string {
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter).filter(Boolean), ...EXTRA_DIRS];
  for (const dir of dirs) {
    const candidate = path.join(dir, name);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      /* next */
    }
  }
  throw new Error(`\`${name}\` was not found on PATH or in ${EXTRA_DIRS.join(', ')}.\n${INSTALL_HINT}`);
}

/** Runs a program, resolving with stdout; rejects with its stderr. */
function run(file: string, args: readonly string[], input?: string, timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      file,
      args,
      { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (err)
          reject(new Error(`${path.basename(file)} ${args.join(' ')} failed: ${err.message}\n${stderr}`));
        else resolve(stdout);
      },
    );
    if (input !== undefined) child.stdin!.end(input);
  });
}

/** A port free for both TCP and UDP on `address` (named needs both). */
async function freePort(address: string): Promise<number> {
  for (let tries = 0; tries < 50; tries++) {
    const tcp = net.createServer();
    await new Promise<void>((resolve, reject) => {
      tcp.once('error', reject);
      tcp.listen(0, address, () => resolve());
    });
    const { port } = tcp.address() as net.AddressInfo;
    const udp = dgram.createSocket('udp4');
    const udpFree = await new Promise<boolean>((resolve) => {
      udp.once('error', () => resolve(false));
      udp.bind(port, address, () => resolve(true));
    });
    await new Promise<void>((resolve) => tcp.close(() => resolve()));
    await new Promise<void>((resolve) => {
      try {
        udp.close(() => resolve());
      } catch {
        resolve();
      }
    });
    if (udpFree) return port;
  }
  throw new Error(`no port free for both TCP and UDP on ${address}`);
}

/** One task's records as Cloud Map publishes them (owner `service_b.<zone>`, priority 1, weight 1). */
export interface TaskRecord {
  /** Task id: the first label of the SRV target. */
  id: string;
  address: string;
  port: number;
}

/** Options of `BindServer.start`. */
export interface BindOptions {
  /** Loopback address to listen on. Another one than 127.0.0.1 is added to `lo` (root) and removed at close. */
  address?: string;
  /** Directory for named's log. */
  logDir: string;
  /** Authoritative zone. @default 'ecs.internal' */
  zone?: string;
  /** TTL of the records registered (Cloud Map's default for the service). @default 10 */
  ttlSeconds?: number;
}

/**
 * A real BIND 9 `named`, started as a child process in the foreground (config, zone, journal and TSIG key in
 * a temp dir), authoritative for `ecs.internal` with `recursion no`, accepting RFC 2136 updates signed with
 * a per-run TSIG key; registrations and deregistrations go through `nsupdate`, checks through `dig`.
 */
export class BindServer {
  readonly zone: string;
  readonly ttlSeconds: number;
  private proc?: ManagedProcess;
  private restarts = 0;

  private constructor(
    readonly address: string,
    readonly port: number,
    readonly dir: string,
    private readonly logDir: string,
    private readonly addedAddress: boolean,
    options: BindOptions,
    private readonly bin: { named: string; nsupdate: string; dig: string },
  ) {
    this.zone = options.zone ?? 'ecs.internal';
    this.ttlSeconds = options.ttlSeconds ?? 10;
  }

  /** Checks the binaries, writes config, zone and key, starts named and waits until it serves the zone. */
  static async start(options: BindOptions): Promise<BindServer> {
    const bin = {
      named: findExecutable('named'),
      nsupdate: findExecutable('nsupdate'),
      dig: findExecutable('dig'),
    };
    const keygen = findExecutable('tsig-keygen');
    const address = options.address ?? process.env.E2E_DNS_ADDRESS ?? '127.0.0.1';
    if (!/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(address)) {
      throw new Error(`E2E DNS address must be a loopback address (127.x.x.x), got ${address}`);
    }
    const addedAddress = ensureLoopbackAddress(address);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'e2e-bind-'));
    try {
      const port = await freePort(address);
      const zone = options.zone ?? 'ecs.internal';
      fs.writeFileSync(path.join(dir, 'tsig.key'), await run(keygen, ['-a', 'hmac-sha256', 'e2e-update']));
      fs.writeFileSync(path.join(dir, `${zone}.db`), zoneFile(zone, address));
      fs.writeFileSync(path.join(dir, 'named.conf'), namedConf(dir, zone, address, port));
      const server = new BindServer(address, port, dir, options.logDir, addedAddress, options, bin);
      await server.startNamed();
      return server;
    } catch (err) {
      fs.rmSync(dir, { recursive: true, force: true });
      if (addedAddress) removeLoopbackAddress(address);
      throw err;
    }
  }

  /** `address:port`, as DNS_SERVERS takes it. */
  get server(): string {
    return `${this.address}:${this.port}`;
  }

  /** The SRV owner name of service B. */
  get srvName(): string {
    return `service_b.${this.zone}`;
  }

  /** True while named runs. */
  get running(): boolean {
    return this.proc?.running ?? false;
  }

  /** named's pid (undefined when stopped). */
  get pid(): number | undefined {
    return this.proc?.running ? this.proc.pid : undefined;
  }

  /** Stops named by its pid (SIGTERM, SIGKILL after 5 s) and waits for the exit. */
  async stop(): Promise<void> {
    await this.proc?.stop('SIGTERM', 5000);
  }

  /** Starts named again on the same address, port and zone (the journal keeps the updates). */
  async restart(): Promise<void> {
    if (this.running) throw new Error('named is already running');
    this.restarts++;
    await this.startNamed();
  }

  /** Stops named, removes the temp dir and the loopback address if this harness added it. */
  async close(): Promise<void> {
    await this.stop();
    fs.rmSync(this.dir, { recursive: true, force: true });
    if (this.addedAddress) removeLoopbackAddress(this.address);
  }

  /** Sends one RFC 2136 update (all commands in one message) with nsupdate, signed with the TSIG key. */
  async update(commands: readonly string[]): Promise<void> {
    const script = [
      `server ${this.address} ${this.port}`,
      `zone ${this.zone}`,
      // service_b is not a legal host name: nsupdate would refuse the owner otherwise.
      'check-names no',
      ...commands,
      'send',
      '',
    ].join('\n');
    await run(this.bin.nsupdate, ['-k', path.join(this.dir, 'tsig.key'), '-t', '5', '-u', '2'], script);
  }

  /** Cloud Map registration: one SRV record at the service name and the target's A record, TTL 10. */
  register(tasks: readonly TaskRecord[]): Promise<void> {
    return this.update(
      tasks.flatMap((t) => [
        `update add ${this.srvName}. ${this.ttlSeconds} IN SRV 1 1 ${t.port} ${this.targetOf(t)}.`,
        `update add ${this.targetOf(t)}. ${this.ttlSeconds} IN A ${t.address}`,
      ]),
    );
  }

  /** Cloud Map deregistration: both records of each task go. */
  deregister(tasks: readonly TaskRecord[]): Promise<void> {
    return this.update(
      tasks.flatMap((t) => [
        `update delete ${this.srvName}. IN SRV 1 1 ${t.port} ${this.targetOf(t)}.`,
        `update delete ${this.targetOf(t)}. IN A`,
      ]),
    );
  }

  /** `<task id>.service_b.<zone>` */
  targetOf(task: Pick<TaskRecord, 'id'>): string {
    return `${task.id}.${this.srvName}`;
  }

  /** Runs `dig @server -p port …args` and returns its output. */
  dig(args: readonly string[]): Promise<string> {
    return run(this.bin.dig, [`@${this.address}`, '-p', String(this.port), ...args]);
  }

  /**
   * What BIND serves for the SRV name over TCP, as `address:port` keys, found with dig alone (SRV over TCP,
   * then an A query per target): the reference the client's view is checked against.
   */
  async endpointsByDig(): Promise<string[]> {
    const srv = await this.dig(['+tcp', '+noall', '+answer', this.srvName, 'SRV']);
    const records = srv
      .split('\n')
      .map((line) => line.trim().split(/\s+/))
      .filter((f) => f[3] === 'SRV')
      .map((f) => ({ port: Number(f[6]), target: f[7]!.replace(/\.$/, '').toLowerCase() }));
    if (records.length === 0) return [];
    const a = await this.dig(['+tcp', '+noall', '+answer', ...records.flatMap((r) => [r.target, 'A'])]);
    const addresses = new Map<string, string>();
    for (const line of a.split('\n')) {
      const f = line.trim().split(/\s+/);
      if (f[3] === 'A') addresses.set(f[0]!.replace(/\.$/, '').toLowerCase(), f[4]!);
    }
    return records
      .filter((r) => addresses.has(r.target))
      .map((r) => `${addresses.get(r.target)}:${r.port}`)
      .sort();
  }

  private async startNamed(): Promise<void> {
    const suffix = this.restarts === 0 ? '' : `-${this.restarts}`;
    this.proc = ManagedProcess.spawn(
      'named',
      this.bin.named,
      // -g: foreground, log to stderr; -4: IPv4 only; -n 1: one worker (a 2-core machine is shared).
      ['-g', '-4', '-n', '1', '-c', path.join(this.dir, 'named.conf')],
      { logFile: path.join(this.logDir, `named${suffix}.log`), cwd: this.dir },
    );
    try {
      await this.proc.waitForLine((line) => /\brunning$/.test(line.trim()), 15_000);
      const log = this.proc.log();
      if (!log.includes(`zone ${this.zone}/IN: loaded`))
        throw new Error(`named did not load ${this.zone}:\n${log}`);
    } catch (err) {
      await this.proc.stop('SIGKILL');
      throw err;
    }
  }
}

/**
 * Zone shaped like a Cloud Map private namespace: SOA with Route 53's defaults (negative TTL 86400, which the
 * client must cap), NS; services appear through dynamic updates.
 */
function zoneFile(zone: string, address: string): string {
  return [
    `$ORIGIN ${zone}.`,
    '$TTL 10',
    `@ 900 IN SOA ns.${zone}. hostmaster.${zone}. 1 7200 900 1209600 86400`,
    `@ 172800 IN NS ns.${zone}.`,
    `ns 172800 IN A ${address}`,
    '',
  ].join('\n');
}

function namedConf(dir: string, zone: string, address: string, port: number): string {
  return `
include "${dir}/tsig.key";
options {
  directory "${dir}";
  pid-file "${dir}/named.pid";
  session-keyfile "${dir}/session.key";
  managed-keys-directory "${dir}";
  listen-on port ${port} { ${address}; };
  listen-on-v6 { none; };
  recursion no;
  allow-query { 127.0.0.0/8; };
  allow-transfer { none; };
  dnssec-validation no;
  notify no;
  // Cloud Map's owner names (service_b) are not legal host names.
  check-names primary ignore;
};
controls { };
zone "${zone}" {
  type primary;
  file "${dir}/${zone}.db";
  // Only updates signed with this run's TSIG key (an update sent to 127.0.0.x leaves from that address).
  allow-update { key "e2e-update"; };
};
`;
}

/** Adds `address` to `lo` unless it is there already; true when this call added it (then remove it later). */
function ensureLoopbackAddress(address: string): boolean {
  if (address === '127.0.0.1') return false;
  const shown = execFileSync(findExecutable('ip'), ['-4', 'addr', 'show', 'dev', 'lo'], { encoding: 'utf8' });
  if (shown.includes(`inet ${address}/`)) return false;
  try {
    execFileSync(findExecutable('ip'), ['addr', 'add', `${address}/32`, 'dev', 'lo'], { stdio: 'pipe' });
  } catch (err) {
    throw new Error(
      `named listens only on addresses configured on an interface, and adding ${address} to lo failed ` +
        `(needs root): ${(err as Error).message}. Unset E2E_DNS_ADDRESS to use 127.0.0.1.`,
    );
  }
  return true;
}

function removeLoopbackAddress(address: string): void {
  try {
    execFileSync(findExecutable('ip'), ['addr', 'del', `${address}/32`, 'dev', 'lo'], { stdio: 'pipe' });
  } catch {
    /* already gone */
  }
}
