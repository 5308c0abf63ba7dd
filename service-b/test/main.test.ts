import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';

// Runs the built entry point (npm test builds first), as the container CMD does.
const MAIN = path.resolve(__dirname, '../dist/main.js');

function startB(env: Record<string, string>): {
  child: ChildProcess;
  port: Promise<number>;
  output: () => string;
} {
  const child = spawn(process.execPath, [MAIN], {
    env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const port = new Promise<number>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const m = /"port":(\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.stderr!.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.on('exit', (code) => reject(new Error(`service-b exited with ${code}: ${out}`)));
  });
  return { child, port, output: () => out };
}

describe('service-b main', () => {
  const children: ChildProcess[] = [];
  afterEach(() => {
    for (const child of children.splice(0))
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });

  it('when SIGTERM arrives, then /readyz turns 503 at once, requests are served through the drain, and it exits 0', async () => {
    const b = startB({ INSTANCE_ID: 'b-main', DRAIN_DELAY_MS: '3000', LOG_LEVEL: 'info' });
    children.push(b.child);
    const base = `http://127.0.0.1:${await b.port}`;
    expect((await fetch(`${base}/readyz`)).status).toBe(200);

    const exited = once(b.child, 'exit');
    b.child.kill('SIGTERM');
    // Wait for the process to log that it began shutting down, then probe.
    while (!b.output().includes('shutting down')) await new Promise((r) => setTimeout(r, 20));
    expect((await fetch(`${base}/readyz`)).status).toBe(503);
    const whoami = await fetch(`${base}/v1/whoami`);
    expect(whoami.status).toBe(200);
    expect(((await whoami.json()) as { instance: string }).instance).toBe('b-main');

    const [code] = await exited;
    expect(code).toBe(0);
  });

  it('when the environment is invalid, then it exits 1 with a readable message naming the variable', async () => {
    const child = spawn(process.execPath, [MAIN], {
      env: { PATH: process.env.PATH ?? '', PORT: 'eighty', DRAIN_DELAY_MS: 'soon' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let err = '';
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    const [code] = await once(child, 'exit');
    expect(code).toBe(1);
    expect(err).toMatch(/PORT/);
    expect(err).toMatch(/DRAIN_DELAY_MS/);
    expect(err).not.toMatch(/\n\s+at /);
  });
});
