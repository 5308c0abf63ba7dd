import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { BindServer } from './bind';
import { request, getJson } from './http';
import { OUTPUT_DIR, killAllChildren, startNodeService, type NodeService } from './processes';

/** `GET /discovery` as service A answers it. */
export interface DiscoveryView {
  srvName: string;
  dnsServers: string[];
  names: Array<{
    name: string;
    state: 'fresh' | 'stale' | 'grace' | 'negative' | 'failed' | 'empty';
    stale: boolean;
    ttlSeconds?: number;
    ttlLeftSeconds?: number;
    lastRefresh?: string;
    server?: string;
    transport?: 'udp' | 'tcp';
    endpoints: Array<{
      key: string;
      target: string;
      address: string;
      port: number;
      priority: number;
      weight: number;
      ttlSeconds: number;
      addressSource: 'additional' | 'query';
      health: { status: 'healthy' | 'ejected'; consecutiveFailures: number; ejectedUntil?: string };
    }>;
    rejected: Array<{ target: string; reason: string }>;
    lastError?: { code: string; message: string; at: string };
  }>;
}

/** A B task: a real `node service-b/dist/main.js` on its own loopback "instance" address. */
export interface Task extends NodeService {
  /** ECS-style task id (32 hex digits): INSTANCE_ID and the first label of its SRV target. */
  id: string;
  address: string;
  /** `address:port`, as A's endpoint keys read. */
  key: string;
  registered: boolean;
}

/** A service A process and the way to read its discovery view. */
export interface ServiceA extends NodeService {
  discovery(): Promise<DiscoveryView['names'][number] | undefined>;
}

/**
 * ECS + Cloud Map played locally: a real BIND for the namespace, B tasks as real processes on their own
 * loopback addresses (bridge mode: each task a host port on some instance), registered and deregistered
 * through RFC 2136 updates, and A processes pointed at BIND.
 */
export class Cluster {
  readonly tasks: Task[] = [];
  readonly services: ServiceA[] = [];
  private nextAddress = 1;

  private constructor(
    readonly dns: BindServer,
    readonly logDir: string,
  ) {}

  /** Starts BIND; logs go to test-output/e2e/<name>/. */
  static async start(name: string): Promise<Cluster> {
    const logDir = path.join(OUTPUT_DIR, name);
    fs.rmSync(logDir, { recursive: true, force: true });
    fs.mkdirSync(logDir, { recursive: true });
    const dns = await BindServer.start({ logDir });
    return new Cluster(dns, logDir);
  }

  /** Tasks that are registered and running. */
  get live(): Task[] {
    return this.tasks.filter((t) => t.registered && t.proc.running);
  }

  /** Starts `count` B tasks (a few at a time: this is a 2-core machine), registering them unless told not to. */
  async launchTasks(
    count: number,
    options: { drainDelayMs?: number; register?: boolean } = {},
  ): Promise<Task[]> {
    const started: Task[] = [];
    for (let i = 0; i < count; i += 8) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(8, count - i) }, () => this.startTask(options.drainDelayMs ?? 15_000)),
      );
      started.push(...batch);
    }
    if (options.register ?? true) await this.register(started);
    return started;
  }

  /** Registers tasks in one RFC 2136 update. */
  async register(tasks: readonly Task[]): Promise<void> {
    if (tasks.length === 0) return;
    await this.dns.register(tasks);
    for (const t of tasks) t.registered = true;
  }

  /** Deregisters tasks in one RFC 2136 update. */
  async deregister(tasks: readonly Task[]): Promise<void> {
    if (tasks.length === 0) return;
    await this.dns.deregister(tasks);
    for (const t of tasks) t.registered = false;
  }

  /**
   * Stops tasks as ECS does on a scale-in or deployment: deregistration and SIGTERM at the same moment (ECS
   * does not wait for the DNS TTL). Resolves once both are sent; the tasks drain and exit on their own.
   */
  async stopTasksLikeEcs(tasks: readonly Task[]): Promise<void> {
    await Promise.all([this.deregister(tasks), ...tasks.map(async (t) => t.proc.kill('SIGTERM'))]);
  }

  /** Starts a service A pointed at BIND, with extra environment. */
  async startServiceA(name: string, env: Record<string, string> = {}): Promise<ServiceA> {
    const svc = await startNodeService(
      name,
      'service-a',
      { HOST: '127.0.0.1', DNS_SERVERS: this.dns.server, SERVICE_B_SRV: this.dns.srvName, ...env },
      this.logDir,
    );
    const a: ServiceA = {
      ...svc,
      discovery: async () => {
        const view = await getJson<DiscoveryView>(`${svc.url}/discovery`);
        return view.names.find((n) => n.name === this.dns.srvName);
      },
    };
    this.services.push(a);
    return a;
  }

  /**
   * Uses A (the client refreshes on use) until its endpoint set is exactly the live registered tasks, or
   * fails after `timeoutMs` naming the difference.
   */
  async converge(a: ServiceA, timeoutMs = 20_000): Promise<void> {
    const want = this.live.map((t) => t.key).sort();
    const deadline = Date.now() + timeoutMs;
    let have: string[] = [];
    while (Date.now() < deadline) {
      await request(`${a.url}/api/whoami`).catch(() => undefined);
      const view = await a.discovery();
      have = (view?.endpoints ?? []).map((e) => e.key).sort();
      if (view?.state === 'fresh' && JSON.stringify(have) === JSON.stringify(want)) return;
      await sleep(200);
    }
    throw new Error(
      `A's endpoints did not converge in ${timeoutMs} ms: want ${want.join(',')}, have ${have.join(',')}`,
    );
  }

  /** Stops every process (A, B tasks, named) and removes BIND's temp dir. */
  async close(): Promise<void> {
    await Promise.all([...this.services, ...this.tasks].map((s) => s.proc.stop('SIGKILL')));
    await this.dns.close();
    await killAllChildren();
  }

  private async startTask(drainDelayMs: number): Promise<Task> {
    const task = await startTaskProcess(this.nextAddress++, drainDelayMs, this.logDir);
    this.tasks.push(task);
    return task;
  }
}

/** Polls `check` every `intervalMs` until it returns a value or `timeoutMs` passes (then undefined). */
export async function pollUntil<T>(
  check: () => Promise<T | undefined>,
  timeoutMs: number,
  intervalMs = 200,
): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await check();
    if (value !== undefined) return value;
    await sleep(intervalMs);
  }
  return undefined;
}

/**
 * Starts B task number `n` as a real process on its own loopback "EC2 instance" address (127.0.10.1,
 * 127.0.10.2 …: all of 127/8 is local on Linux), logging to `logDir`. Not registered anywhere yet.
 */
export async function startTaskProcess(n: number, drainDelayMs: number, logDir: string): Promise<Task> {
  const address = `127.0.${10 + Math.floor((n - 1) / 250)}.${((n - 1) % 250) + 1}`;
  const id = randomBytes(16).toString('hex');
  const svc = await startNodeService(
    `b-${String(n).padStart(2, '0')}-${id.slice(0, 6)}`,
    'service-b',
    { HOST: address, INSTANCE_ID: id, DRAIN_DELAY_MS: String(drainDelayMs) },
    logDir,
  );
  return { ...svc, id, address, key: `${address}:${svc.port}`, registered: false };
}
