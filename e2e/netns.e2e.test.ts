import { execFileSync } from 'node:child_process';
import path from 'node:path';

/**
 * Faults loopback cannot show, made real in a private network namespace (see fixtures/netns-probe.js):
 * a DNS server with no route (ENETUNREACH) first in DNS_SERVERS, and DNS records pointing at the EC2
 * instance metadata addresses, where trap listeners count every connection. Needs root (CI runs as root).
 */
describe('service A in a network namespace with an unroutable DNS server and metadata traps', () => {
  interface ProbeResult {
    probeError?: string;
    aAliveDuringRequests: boolean;
    aExit: { code: number | null; signal: string | null };
    statuses: Record<string, number>;
    servedBy: Record<string, number>;
    trapHitsThroughA: { v4: number; v6: number };
    trapHitsControl: { v4: number; v6: number };
    endpoints: string[] | null;
    rejected: Array<{ target: string; reason: string }> | null;
    unreachableAttempts: number;
    aLogTail: string;
  }
  let result: ProbeResult;

  beforeAll(() => {
    if (process.getuid?.() !== 0) {
      throw new Error('this suite needs root for `unshare -n` (CI runs as root): run npm test as root');
    }
    const out = execFileSync(
      'unshare',
      ['-n', process.execPath, path.join(__dirname, 'fixtures', 'netns-probe.js')],
      {
        timeout: 60_000,
        encoding: 'utf8',
      },
    );
    result = JSON.parse(out.trim().split('\n').pop()!) as ProbeResult;
    if (result.probeError) throw new Error(`probe failed: ${result.probeError}`);
  }, 90_000);

  it('when the first DNS server has no route, then A starts, answers every request, and exits 0 on SIGTERM', () => {
    expect(result.aAliveDuringRequests).toBe(true);
    expect(result.statuses).toEqual({ 200: 40 });
    expect(result.servedBy).toEqual({ good: 40 });
    expect(result.unreachableAttempts).toBeGreaterThan(0); // the fault was really met
    expect(result.aExit).toEqual({ code: 0, signal: null });
  });

  it('when records point at 169.254.169.254, fd00:ec2::254 or ::ffff:169.254.169.254, then A never dials them', () => {
    expect(result.trapHitsThroughA).toEqual({ v4: 0, v6: 0 });
    expect(result.endpoints).toHaveLength(1);
    expect(result.rejected?.map((r) => r.target)).toEqual([
      'imds4.service_b.ecs.internal',
      'imds6.service_b.ecs.internal',
      'mapped.service_b.ecs.internal',
    ]);
  });

  it('when the address policy is off (control), then the same records do reach the traps', () => {
    expect(result.trapHitsControl.v4).toBeGreaterThan(0);
    expect(result.trapHitsControl.v6).toBeGreaterThan(0);
  });
});
