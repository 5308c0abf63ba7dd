import { spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { EXIT, main } from '../src/cli/srv-lookup';
import { ScriptedDns, cloudMapRecords, reply, soa } from './helpers/scripted-dns';

const NAME = 'service_b.ecs.internal';
const TASKS: Array<[string, string, number]> = [
  ['0f3c9a5be1d24c1e9a4b7d3f2a1c00e1', '10.0.1.23', 49153],
  ['7a1b2c3d4e5f60718293a4b5c6d7e8f9', '10.0.1.24', 49154],
];

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(
    args,
    (s) => (out += s),
    (s) => (err += s),
  );
  return { code, out, err };
}

describe('srv-lookup CLI', () => {
  let dns: ScriptedDns | undefined;
  afterEach(async () => {
    await dns?.close();
    dns = undefined;
  });

  it('when endpoints exist, then it prints records, addresses and their source, TTL, transport and exits 0', async () => {
    const { srv, a } = cloudMapRecords(TASKS);
    dns = await new ScriptedDns((q) => {
      if (q.questions[0]!.type === 'SRV') return reply(q, { answers: srv, additionals: [a[0]!] });
      return reply(q, { answers: a.filter((r) => r.name === q.questions[0]!.name) });
    }).start();
    const { code, out } = await run([NAME, '--server', dns.address]);
    expect(code).toBe(EXIT.found);
    expect(out).toMatch(/2 endpoint\(s\) from 127\.0\.0\.1:\d+ over UDP/);
    expect(out).toMatch(/10\.0\.1\.23\s+additional\s+10/);
    expect(out).toMatch(/10\.0\.1\.24\s+A query\s+10/);
  });

  it('when --json is given, then the output parses and lists the RFC 2782 order', async () => {
    const { srv, a } = cloudMapRecords(TASKS);
    dns = await new ScriptedDns((q) => reply(q, { answers: srv, additionals: a })).start();
    const { code, out } = await run([NAME, '-s', dns.address, '--json']);
    expect(code).toBe(0);
    const parsed = JSON.parse(out);
    expect(parsed).toMatchObject({ name: NAME, transport: 'udp', ttlSeconds: 10 });
    expect(parsed.rfc2782Order).toHaveLength(2);
    expect(parsed.endpoints[0]).toMatchObject({ address: '10.0.1.23', addressSource: 'additional' });
  });

  it('when the name does not exist, then it says so and exits 2', async () => {
    dns = await new ScriptedDns((q) => reply(q, { rcode: 'NXDOMAIN', authorities: [soa()] })).start();
    const { code, err } = await run([NAME, '--server', dns.address]);
    expect(code).toBe(EXIT.none);
    expect(err).toMatch(/no endpoints.*ENOTFOUND/);
  });

  it('when the server fails or stays silent, then it exits 1 with the reason', async () => {
    dns = await new ScriptedDns(() => undefined).start();
    const { code, err } = await run([NAME, '--server', dns.address, '--timeout', '300']);
    expect(code).toBe(EXIT.error);
    expect(err).toMatch(/ETIMEOUT/);
  });

  it('when arguments are wrong, then usage goes to stderr and it exits 1', async () => {
    expect((await run([])).code).toBe(1);
    expect((await run([NAME, '--server', 'not-an-ip'])).err).toMatch(/not an IP address/);
    expect((await run([NAME, '--timeout', 'soon'])).code).toBe(1);
    expect((await run([NAME, '--bogus'])).err).toMatch(/usage/);
  });

  it('when run as the installed command, then the process exit code follows the outcome', async () => {
    dns = await new ScriptedDns((q) => reply(q, { rcode: 'NXDOMAIN', authorities: [soa()] })).start();
    const child = spawn(path.resolve(__dirname, '../bin/srv-lookup.js'), [NAME, '--server', dns.address], {
      stdio: 'ignore',
    });
    const [code] = await once(child, 'exit');
    expect(code).toBe(2);
  });
});
