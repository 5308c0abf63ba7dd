import { DiscoveryError, SrvResolver } from '@ecs-srv/shared';
import fc from 'fast-check';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Cluster, type Task } from './harness/cluster';
import {
  HostileDns,
  NAME,
  poisons,
  reachesLegit,
  type Plan,
  type TcpStep,
  type UdpStep,
} from './harness/hostile-dns';
import { request } from './harness/http';
import { OUTPUT_DIR, startNodeService } from './harness/processes';
import { report } from './harness/report';

/** Every code a DiscoveryError may carry (README). */
const CODES = [
  'ENOTFOUND',
  'ENODATA',
  'ESERVFAIL',
  'EREFUSED',
  'EFORMERR',
  'ENOTIMP',
  'ETIMEOUT',
  'EBADRESP',
  'ECONNREFUSED',
  'EOF',
  'ECANCELLED',
];

const udpStep: fc.Arbitrary<UdpStep> = fc.oneof(
  fc.constant({ kind: 'wrong-id' as const }),
  fc.record({ kind: fc.constant('wrong-question' as const), variant: fc.nat(5) }),
  fc.constant({ kind: 'spoof' as const }),
  fc.constant({ kind: 'loop' as const }),
  fc.constant({ kind: 'huge-counts' as const }),
  fc.record({ kind: fc.constant('random' as const), bytes: fc.uint8Array({ maxLength: 600 }) }),
  fc.record({
    kind: fc.constant('mutated' as const),
    edits: fc.array(fc.tuple(fc.nat(), fc.nat(255)), { minLength: 1, maxLength: 8 }),
  }),
  fc.record({ kind: fc.constant('truncated' as const), cut: fc.nat() }),
  fc.record({
    kind: fc.constant('poison' as const),
    poison: fc.array(fc.nat(12), { minLength: 1, maxLength: 6 }),
    withLegit: fc.boolean(),
  }),
  fc.constant({ kind: 'tc' as const }),
);

const tcpStep: fc.Arbitrary<TcpStep> = fc.oneof(
  fc.constant({ kind: 'wrong-id' as const }),
  fc.record({ kind: fc.constant('wrong-question' as const), variant: fc.nat(5) }),
  fc.record({ kind: fc.constant('garbage' as const), bytes: fc.uint8Array({ maxLength: 300 }) }),
  fc.constant({ kind: 'lying-length' as const }),
);

const plan: fc.Arbitrary<Plan> = fc.record({
  udp: fc.array(udpStep, { maxLength: 5 }),
  udpFinal: fc.oneof(
    { weight: 4, arbitrary: fc.constant(true) },
    { weight: 1, arbitrary: fc.constant(false) },
  ),
  tcp: fc.array(tcpStep, { maxLength: 3 }),
  tcpFinal: fc.oneof(
    { weight: 4, arbitrary: fc.constant(true) },
    { weight: 1, arbitrary: fc.constant(false) },
  ),
  additionals: fc.boolean(),
  aAnswer: fc.constantFrom<Plan['aAnswer']>('legit', 'legit', 'poison', 'silent'),
});

describe('hostile DNS answers', () => {
  it('when a hostile server mixes spoofs, bad IDs and questions, undecodable, lying and poisoned packets into its answers, then the client never crashes or hangs, never takes a spoof and never returns a refused endpoint', async () => {
    const legit = [
      { id: '0f3c9a5be1d24c1e9a4b7d3f2a1c00e1', address: '10.0.1.23', port: 49153 },
      { id: '7a1b2c3d4e5f60718293a4b5c6d7e8f9', address: '10.0.1.40', port: 32768 },
      { id: 'c0ffee00c0ffee00c0ffee00c0ffee00', address: '10.0.2.7', port: 61000 },
    ];
    const legitKeys = legit.map((t) => `${t.address}:${t.port}`).sort();
    // Spoofed and poisoned records point here; no run may ever return it.
    const trap = { address: '10.66.66.66', port: 4444 };
    const dns = await new HostileDns(legit, trap).start();
    const outcomes: Record<string, number> = {};
    let runs = 0;
    try {
      await fc.assert(
        fc.asyncProperty(plan, async (p) => {
          runs++;
          dns.plan = p;
          const resolver = new SrvResolver({
            servers: [dns.address],
            attemptTimeoutMs: 150,
            attempts: 2,
            lookupTimeoutMs: 600,
          });
          try {
            const outcome = await Promise.race([
              resolver.resolve(NAME).then(
                (set) => ({ set }),
                (err: unknown) => ({ err }),
              ),
              sleep(5000).then(() => ({ hang: true as const })),
            ]);
            expect(outcome).not.toHaveProperty('hang');
            if ('err' in outcome) {
              expect(outcome.err).toBeInstanceOf(DiscoveryError);
              expect(CODES).toContain((outcome.err as DiscoveryError).code);
              outcomes[(outcome.err as DiscoveryError).code] =
                (outcomes[(outcome.err as DiscoveryError).code] ?? 0) + 1;
              expect(reachesLegit(p)).toBe(false);
            } else if ('set' in outcome) {
              const keys = outcome.set.endpoints.map((e) => e.key).sort();
              // Only what the real answer holds: never the trap, never a refused address or foreign target.
              for (const e of outcome.set.endpoints) {
                expect(legitKeys).toContain(e.key);
                expect(e.target.endsWith(`.${NAME}`)).toBe(true);
              }
              if (reachesLegit(p)) expect(keys).toEqual(legitKeys);
              outcomes.endpoints = (outcomes.endpoints ?? 0) + 1;
            }
          } finally {
            resolver.close();
          }
        }),
        { numRuns: 150 },
      );
    } finally {
      await dns.close();
      report('hostile DNS (in-process client)', undefined, { runs, outcomes });
    }
  }, 180_000);

  describe('through the real service A', () => {
    let cluster: Cluster;
    let task: Task;
    let canary: net.Server;
    let canaryHits = 0;

    beforeAll(async () => {
      cluster = await Cluster.start('hostile-dns');
      task = (await cluster.launchTasks(1, { drainDelayMs: 0, register: false }))[0]!;
      canary = net.createServer((socket) => {
        canaryHits++;
        socket.destroy();
      });
      await new Promise<void>((resolve) => canary.listen(0, '127.0.0.2', resolve));
    }, 60_000);

    afterAll(async () => {
      await new Promise<void>((resolve) => canary?.close(() => resolve()));
      await cluster?.close();
    }, 30_000);

    it('when A is pointed at a hostile DNS server, then it stays up, answers 200 from the real task or 503 with a code, and never calls a spoofed or refused endpoint', async () => {
      const trap = { address: '127.0.0.2', port: (canary.address() as net.AddressInfo).port };
      const dns = await new HostileDns(
        [{ id: task.id, address: task.address, port: task.port }],
        trap,
      ).start();
      const statuses: Record<string, number> = {};
      let runs = 0;
      try {
        await fc.assert(
          fc.asyncProperty(plan, async (p) => {
            dns.plan = p;
            const a = await startNodeService(
              `service-a-${runs++}`,
              'service-a',
              {
                HOST: '127.0.0.1',
                DNS_SERVERS: dns.address,
                SERVICE_B_SRV: NAME,
                DNS_TIMEOUT_MS: '200',
                DNS_ATTEMPTS: '2',
                DNS_LOOKUP_TIMEOUT_MS: '800',
              },
              path.join(OUTPUT_DIR, 'hostile-dns'),
            );
            try {
              for (let i = 0; i < 4; i++) {
                const res = await request(`${a.url}/api/whoami`);
                const key = `${res.status} ${(res.json as { code?: string }).code ?? ''}`.trim();
                statuses[key] = (statuses[key] ?? 0) + 1;
                if (res.status === 200) {
                  expect((res.json as { endpoint: string }).endpoint).toBe(task.key);
                } else {
                  expect(res.status).toBe(503);
                  expect(CODES).toContain((res.json as { code: string }).code);
                }
              }
              const view = (await request(`${a.url}/discovery`)).json as {
                names: Array<{ endpoints: Array<{ key: string }> }>;
              };
              for (const n of view.names) for (const e of n.endpoints) expect(e.key).toBe(task.key);
              expect(a.proc.running).toBe(true);
              expect(canaryHits).toBe(0);
            } finally {
              await a.proc.stop('SIGKILL');
            }
          }),
          { numRuns: 12 },
        );
      } finally {
        await dns.close();
        report('hostile DNS (service A process)', undefined, {
          runs,
          statuses,
          canaryHits,
          poisonKinds: poisons(trap).length,
        });
      }
    }, 180_000);
  });
});
