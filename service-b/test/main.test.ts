import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import http from 'node:http';
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

  it('when started with an IPC channel, then it reports where it listens even at LOG_LEVEL=warn', async () => {
    const child = spawn(process.execPath, [MAIN], {
      env: {
        PATH: process.env.PATH ?? '',
        HOST: '127.0.0.1',
        PORT: '0',
        LOG_LEVEL: 'warn',
        INSTANCE_ID: 'ipc',
      },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    children.push(child);
    let out = '';
    child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    const [message] = (await Promise.race([
      once(child, 'message'),
      once(child, 'exit').then(() => Promise.reject(new Error(`exited before announcing: ${out}`))),
    ])) as [{ type: string; service: string; host: string; port: number }];
    expect(message).toEqual({
      type: 'listening',
      service: 'service-b',
      host: '127.0.0.1',
      port: expect.any(Number),
    });
    expect((await fetch(`http://127.0.0.1:${message.port}/readyz`)).status).toBe(200);
    expect(out).not.toMatch(/listening on/);
  });

  it('when a request carries cookies and credentials, then its log line has them redacted', async () => {
    const b = startB({ INSTANCE_ID: 'b-redact', LOG_LEVEL: 'info' });
    children.push(b.child);
    const res = await fetch(`http://127.0.0.1:${await b.port}/v1/whoami`, {
      headers: {
        cookie: 'session=cookie-s3cret',
        authorization: 'Bearer token-s3cret',
        'proxy-authorization': 'Basic proxy-s3cret',
        'x-request-id': 'redact-1',
      },
    });
    expect(res.status).toBe(200);
    const deadline = Date.now() + 10_000;
    let line: string | undefined;
    while (
      !(line = b
        .output()
        .split('\n')
        .find((l) => l.includes('"redact-1"') && l.includes('"res"')))
    ) {
      if (Date.now() > deadline) throw new Error(`no request log line:\n${b.output()}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(b.output()).not.toMatch(/s3cret/);
    const headers = (JSON.parse(line) as { req: { headers: Record<string, string> } }).req.headers;
    expect(headers).toMatchObject({
      cookie: '[Redacted]',
      authorization: '[Redacted]',
      'proxy-authorization': '[Redacted]',
    });
  });

  it('when SIGTERM arrives during a keep-alive request, then the response says Connection: close, the process closes the connection and exits 0 without forcing', async () => {
    const b = startB({ INSTANCE_ID: 'b-inflight', DRAIN_DELAY_MS: '0', LOG_LEVEL: 'info' });
    children.push(b.child);
    const port = await b.port;
    const agent = new http.Agent({ keepAlive: true });
    try {
      // A POST whose body is still being sent when SIGTERM arrives: in flight at the signal.
      const req = http.request({
        port,
        host: '127.0.0.1',
        method: 'POST',
        path: '/v1/echo',
        agent,
        headers: {
          'content-type': 'application/json',
          'content-length': '18',
        },
      });
      const socketClosed = new Promise<void>((resolve) =>
        req.on('socket', (s) => s.once('close', () => resolve())),
      );
      const response = new Promise<http.IncomingMessage>((resolve, reject) => {
        req.on('response', resolve);
        req.on('error', reject);
      });
      req.write('{"message":');
      await new Promise<void>((resolve) =>
        req.on('socket', (s) => (s.connecting ? s.once('connect', resolve) : resolve())),
      );
      const exited = once(b.child, 'exit');
      b.child.kill('SIGTERM');
      const deadline = Date.now() + 10_000;
      while (!b.output().includes('shutting down')) {
        if (Date.now() > deadline)
          throw new Error(
            `no shutdown line (exit ${b.child.exitCode} ${b.child.signalCode}):\n${b.output()}`,
          );
        await new Promise((r) => setTimeout(r, 20));
      }
      req.end('"late"}');
      const res = await response;
      let body = '';
      for await (const chunk of res) body += String(chunk);
      expect(res.statusCode).toBe(200);
      expect(JSON.parse(body)).toEqual({ message: 'late', instance: 'b-inflight' });
      expect(res.headers.connection).toBe('close');
      await socketClosed;
      const [code] = await exited;
      expect(code).toBe(0);
      expect(b.output()).not.toMatch(/still in flight after the close timeout/);
    } finally {
      agent.destroy();
    }
  });
});
