import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';

/**
 * HTTP servers on 127.0.0.1 that fail the way real tasks in a VPC do, each counting what reached it.
 * Every server is closed (with its connections) by `close()`.
 */
export interface FaultyServer {
  port: number;
  /** Requests whose handler ran (for the exec-then-destroy server: executions). */
  hits: number;
  /** Request ids (`x-request-id`) whose handler ran, in order. */
  ids: string[];
  /** Body sizes (bytes) of the requests a healthy task answered, in order. */
  bodies: number[];
  /** Connections accepted so far. */
  connections: number;
  /** Connections open now. */
  open(): Promise<number>;
  close(): Promise<void>;
}

async function listen(server: net.Server): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

function track(server: http.Server | net.Server, port: number): FaultyServer {
  const sockets = new Set<net.Socket>();
  const state: FaultyServer = {
    port,
    hits: 0,
    ids: [],
    bodies: [],
    connections: 0,
    open: () => new Promise((resolve) => server.getConnections((_e, n) => resolve(n))),
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
  server.on('connection', (socket: net.Socket) => {
    state.connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  return state;
}

/** An HTTP server whose requests are answered by `handler` after being counted. */
export async function httpServer(
  handler: (req: http.IncomingMessage, res: http.ServerResponse, state: FaultyServer) => void,
): Promise<FaultyServer> {
  const server = http.createServer();
  const state = track(server, await listen(server));
  server.on('request', (req, res) => {
    state.hits++;
    state.ids.push(String(req.headers['x-request-id'] ?? ''));
    handler(req, res, state);
  });
  return state;
}

/** A healthy task: answers JSON `{instance}` at once. */
export function healthyTask(instance: string): Promise<FaultyServer> {
  return httpServer((req, res, state) => {
    let size = 0;
    req.on('data', (chunk: Buffer) => (size += chunk.length));
    req.on('end', () => {
      if (req.method !== 'GET') state.bodies.push(size);
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ instance }));
    });
  });
}

/** A wedged task: accepts the connection, reads the request, never answers. */
export function wedgedTask(): Promise<FaultyServer> {
  return httpServer((req) => req.resume());
}

/**
 * The keep-alive race made deterministic: the first request on each connection is answered (so the
 * client pools the socket); every later one on it is executed (counted in `hits` and `ids`), and then
 * the connection is destroyed before any response byte goes out, as when a server closes an idle
 * keep-alive socket just as the client reuses it. `destroyed` counts those executions.
 */
export async function executeThenDestroyTask(): Promise<FaultyServer & { destroyed: number }> {
  const served = new WeakSet<object>();
  const state = Object.assign(
    await httpServer((req, res) => {
      req.resume();
      req.on('end', () => {
        if (!served.has(req.socket)) {
          served.add(req.socket);
          res.setHeader('content-type', 'application/json');
          res.end(JSON.stringify({ instance: 'dropper' }));
          return;
        }
        state.destroyed++;
        req.socket.destroy();
      });
    }),
    { destroyed: 0 },
  );
  return state;
}

/** A task that sends its headers, then drips one body byte every `everyMs` and never finishes. */
export function drippingTask(everyMs = 50): Promise<FaultyServer> {
  return httpServer((req, res) => {
    req.resume();
    res.writeHead(200, { 'content-type': 'application/json' });
    res.write('{"instance":"');
    const timer = setInterval(() => res.write('a'), everyMs);
    res.on('close', () => clearInterval(timer));
  });
}

/** A task that answers a JSON body of `bytes` bytes. */
export function hugeBodyTask(bytes: number): Promise<FaultyServer> {
  const body = Buffer.from(JSON.stringify({ instance: 'huge', pad: 'x'.repeat(Math.max(0, bytes - 30)) }));
  return httpServer((req, res) => {
    req.resume();
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
    res.end(body);
  });
}

/** A port on 127.0.0.1 that refuses connections (bound, then closed). */
export async function refusedPort(): Promise<number> {
  const server = net.createServer();
  const port = await listen(server);
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * A vanished instance: a listening socket whose accept queue is full (backlog 0, filled, never
 * accepted), so the kernel drops further SYNs and a connect hangs until the client's own timeout.
 * Node's servers always accept, so a small Python process holds the socket.
 */
export async function blackholePort(): Promise<{ port: number; close: () => Promise<void> }> {
  const script = [
    'import socket, sys',
    "s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(0)",
    'port = s.getsockname()[1]',
    'fill = []',
    'for _ in range(3):',
    '    c = socket.socket(); c.setblocking(False)',
    '    try: c.connect(("127.0.0.1", port))',
    '    except BlockingIOError: pass',
    '    fill.append(c)',
    'import time; time.sleep(0.1)',
    'print(port, flush=True)',
    'sys.stdin.read()',
  ].join('\n');
  let child: ChildProcess;
  try {
    child = spawn('python3', ['-c', script], { stdio: ['pipe', 'pipe', 'inherit'] });
  } catch (err) {
    throw new Error(`python3 is needed for the full-accept-queue server: ${(err as Error).message}`);
  }
  const port = await new Promise<number>((resolve, reject) => {
    child.once('error', (err) =>
      reject(new Error(`python3 is needed (apt-get install python3): ${err.message}`)),
    );
    child.stdout!.once('data', (chunk: Buffer) => resolve(Number(chunk.toString().trim())));
  });
  return {
    port,
    close: async () => {
      child.stdin!.end();
      if (child.exitCode === null) await once(child, 'exit');
    },
  };
}
