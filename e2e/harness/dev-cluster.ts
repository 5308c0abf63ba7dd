import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DevDnsServer } from '@ecs-srv/dev-server';
import { startTaskProcess, type DiscoveryView, type Task } from './cluster';
import { getJson } from './http';
import { OUTPUT_DIR, killAllChildren, startNodeService, type NodeService } from './processes';

/** The SRV name (and Cloud Map service `service_b` in namespace `ecs.internal`) A discovers. */
export const DEV_SRV_NAME = 'service_b.ecs.internal';

/** One name of A's `GET /discovery`, with the fields the Cloud Map source adds. */
export type DevNameView = DiscoveryView['names'][number] & {
  source?: 'dns' | 'cloudmap';
  revision?: number;
  lastPoll?: string;
};

/** A service A process (DNS or Cloud Map API source) and the way to read its discovery view. */
export interface DevServiceA extends NodeService {
  source: 'dns' | 'cloudmap';
  discovery(): Promise<DevNameView | undefined>;
}

/**
 * ECS + Cloud Map played locally without BIND: the project's dev server (`@ecs-srv/dev-server`) in the test
 * process, answering DNS (Route 53 MULTIVALUE: at most 8 random records) and the Cloud Map API from one set
 * of registrations; B tasks as real processes on their own loopback addresses (127.0.10.x, as `Cluster`
 * does); A processes on either source. Registration is the dev server's `register`/`deregister` (what
 * ECS's service registry integration does through `RegisterInstance`/`DeregisterInstance`).
 */
export class DevCluster {
  readonly tasks: Task[] = [];
  readonly services: DevServiceA[] = [];
  private nextAddress = 1;

  private constructor(
    readonly dev: DevDnsServer,
    readonly logDir: string,
  ) {}

  /** Starts the dev server (DNS + API on 127.0.0.1, OS-assigned ports); logs go to test-output/e2e/<name>/. */
  static async start(name: string): Promise<DevCluster> {
    const logDir = path.join(OUTPUT_DIR, name);
    fs.rmSync(logDir, { recursive: true, force: true });
    fs.mkdirSync(logDir, { recursive: true });
    const dev = new DevDnsServer({ host: '127.0.0.1', port: 0, api: true });
    await dev.start();
    return new DevCluster(dev, logDir);
  }

  /** `ip:port` of the dev server's DNS side. */
  get dnsServer(): string {
    return `127.0.0.1:${this.dev.address.port}`;
  }

  /** Tasks that are registered and running. */
  get live(): Task[] {
    return this.tasks.filter((t) => t.registered && t.proc.running);
  }

  /** Starts `count` B tasks, 8 at a time (a 2-core machine), registering them unless told not to. */
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
    if (options.register ?? true) this.register(started);
    return started;
  }

  /** Registers tasks with the dev server (DNS and API at once; each registration moves the revision). */
  register(tasks: readonly Task[]): void {
    for (const t of tasks) {
      this.dev.register(t.id, t.address, t.port);
      t.registered = true;
    }
  }

  /** Deregisters tasks (DNS and API at once). */
  deregister(tasks: readonly Task[]): void {
    for (const t of tasks) {
      this.dev.deregister(t.id);
      t.registered = false;
    }
  }

  /** Starts a service A on `source`; the Cloud Map one gets the dev API endpoint and dummy credentials. */
  async startServiceA(
    name: string,
    source: 'dns' | 'cloudmap',
    env: Record<string, string> = {},
  ): Promise<DevServiceA> {
    const sourceEnv: Record<string, string> =
      source === 'cloudmap'
        ? {
            DISCOVERY_SOURCE: 'cloudmap',
            AWS_ENDPOINT_URL_SERVICEDISCOVERY: this.dev.api.endpoint,
            AWS_REGION: 'us-east-1',
            // Always set: the SDK's default chain must never reach for instance metadata.
            AWS_ACCESS_KEY_ID: 'e2e-dummy',
            AWS_SECRET_ACCESS_KEY: 'e2e-dummy',
            AWS_EC2_METADATA_DISABLED: 'true',
          }
        : { DISCOVERY_SOURCE: 'dns', DNS_SERVERS: this.dnsServer };
    const svc = await startNodeService(
      name,
      'service-a',
      { HOST: '127.0.0.1', SERVICE_B_SRV: DEV_SRV_NAME, ...sourceEnv, ...env },
      this.logDir,
    );
    const a: DevServiceA = {
      ...svc,
      source,
      discovery: async () => {
        const view = await getJson<{ names: DevNameView[] }>(`${svc.url}/discovery`);
        return view.names.find((n) => n.name === DEV_SRV_NAME);
      },
    };
    this.services.push(a);
    return a;
  }

  /**
   * Waits (bounded) until A's view is `fresh` with exactly the live registered tasks (the API source; DNS
   * answers only 8), polling /discovery without sending traffic (the Cloud Map source polls on its own).
   */
  async converge(a: DevServiceA, timeoutMs = 15_000): Promise<void> {
    const want = this.live.map((t) => t.key).sort();
    const deadline = Date.now() + timeoutMs;
    let have: string[] = [];
    let state = '';
    while (Date.now() < deadline) {
      const view = await a.discovery();
      have = (view?.endpoints ?? []).map((e) => e.key).sort();
      state = view?.state ?? 'absent';
      if (state === 'fresh' && JSON.stringify(have) === JSON.stringify(want)) return;
      await sleep(100);
    }
    throw new Error(
      `A's endpoints did not converge in ${timeoutMs} ms (state ${state}): want ${want.join(',')}, have ${have.join(',')}`,
    );
  }

  /** Stops every process (A, B tasks) and the dev server. */
  async close(): Promise<void> {
    await Promise.all([...this.services, ...this.tasks].map((s) => s.proc.stop('SIGKILL')));
    await this.dev.close();
    await killAllChildren();
  }

  private async startTask(drainDelayMs: number): Promise<Task> {
    const task = await startTaskProcess(this.nextAddress++, drainDelayMs, this.logDir);
    this.tasks.push(task);
    return task;
  }
}
