import diagnostics from 'node:diagnostics_channel';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { CloudMapApiError, type CloudMapApi } from '../src';
import { createSdkCloudMapApi } from '../src/cloudmap/sdk-api';

// createSdkCloudMapApi with the real AWS SDK v3 against a local server that speaks just enough of the
// AWS JSON 1.1 protocol (as shared/dev-server/src/cloudmap-api.ts does) and loses connections on purpose:
// a call whose keep-alive connection is reset before any answer is sent again, once, on a new connection;
// nothing else is.

const TARGET_PREFIX = 'Route53AutoNaming_v20170314.';
const CONTENT_TYPE = 'application/x-amz-json-1.1';
const REF = { namespace: 'ecs.internal', service: 'service_b' };
const QUERY = { ...REF, healthStatus: 'HEALTHY_OR_ELSE_ALL' as const, maxResults: 100 };
const INSTANCE = {
  InstanceId: 'task01',
  NamespaceName: 'ecs.internal',
  ServiceName: 'service_b',
  HealthStatus: 'HEALTHY',
  Attributes: { AWS_INSTANCE_IPV4: '10.0.1.1', AWS_INSTANCE_PORT: '49153' },
};
/** Longest any single wait in these tests may take. */
const WAIT_MS = 5000;

/** One request as the server saw it. */
interface Seen {
  /** 1, 2… over the server's life. */
  n: number;
  /** Which connection it came on (1, 2… in accept order). */
  connection: number;
  /** Its rank on that connection: 1 on a new connection, 2+ on a reused keep-alive one. */
  onConnection: number;
  operation: string;
}

/** What the server does with a request once its body is in. */
type Action =
  /** The operation's answer, once `after` (if any) has resolved. */
  | { kind: 'answer'; after?: Promise<void> }
  | { kind: 'error'; status: number; type: string }
  /** Destroys the connection without a byte of answer (the client sees `socket hang up`). */
  | { kind: 'reset' }
  /** Sends the head and part of the body, then destroys the connection. */
  | { kind: 'reset-mid-answer' }
  /** Never answers (until the client gives up or afterEach closes the server). */
  | { kind: 'hold' };

class ResettingServer {
  readonly seen: Seen[] = [];
  connections = 0;
  /** Decides each request's fate; answers by default. */
  plan: (req: Seen) => Action = () => ({ kind: 'answer' });
  revision = 7;
  readonly server: http.Server;
  readonly #perConnection = new WeakMap<Socket, { id: number; count: number }>();
  readonly #waiters: Array<() => void> = [];

  constructor(keepAliveTimeoutMs = 30_000) {
    this.server = http.createServer((req, res) => this.#onRequest(req, res));
    this.server.keepAliveTimeout = keepAliveTimeoutMs;
    this.server.on('connection', (socket: Socket) => {
      this.#perConnection.set(socket, { id: ++this.connections, count: 0 });
    });
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Resolves once `count` requests have arrived (bounded). */
  async requests(count: number): Promise<void> {
    await bounded(
      new Promise<void>((resolve) => {
        const check = (): void => {
          if (this.seen.length >= count) resolve();
          else this.#waiters.push(check);
        };
        check();
      }),
      `${count} requests at the server (saw ${this.seen.length})`,
    );
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
  }

  #onRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    const conn = this.#perConnection.get(req.socket)!;
    conn.count++;
    const target = String(req.headers['x-amz-target'] ?? '');
    const seen: Seen = {
      n: this.seen.length + 1,
      connection: conn.id,
      onConnection: conn.count,
      operation: target.startsWith(TARGET_PREFIX) ? target.slice(TARGET_PREFIX.length) : target,
    };
    this.seen.push(seen);
    const action = this.plan(seen);
    res.on('error', () => undefined);
    req.on('error', () => undefined);
    req.resume();
    req.on('end', () => {
      this.#act(seen, action, req, res);
      for (const wake of this.#waiters.splice(0)) wake();
    });
  }

  #act(seen: Seen, action: Action, req: http.IncomingMessage, res: http.ServerResponse): void {
    switch (action.kind) {
      case 'reset':
        req.socket.destroy();
        return;
      case 'hold':
        return;
      case 'error':
        res.writeHead(action.status, { 'Content-Type': CONTENT_TYPE, 'x-amzn-ErrorType': action.type });
        res.end(JSON.stringify({ __type: action.type, message: 'Rate exceeded' }));
        return;
      case 'reset-mid-answer': {
        const body = JSON.stringify({ InstancesRevision: this.revision });
        res.writeHead(200, { 'Content-Type': CONTENT_TYPE, 'Content-Length': String(body.length) });
        res.write(body.slice(0, 5));
        setTimeout(() => req.socket.destroy(), 20);
        return;
      }
      case 'answer': {
        if (action.after !== undefined) {
          const after = action.after;
          void after.then(() => this.#act(seen, { kind: 'answer' }, req, res));
          return;
        }
        const body =
          seen.operation === 'DiscoverInstances'
            ? { Instances: [INSTANCE], InstancesRevision: this.revision }
            : { InstancesRevision: this.revision };
        res.writeHead(200, { 'Content-Type': CONTENT_TYPE });
        res.end(JSON.stringify(body));
      }
    }
  }
}

/** `promise`, or a rejection naming `what` after WAIT_MS. */
async function bounded<T>(promise: Promise<T>, what: string, ms = WAIT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The call's rejection (bounded); fails the test if it resolves. */
async function failureOf(promise: Promise<unknown>, what: string): Promise<CloudMapApiError> {
  const outcome = await bounded(
    promise.then(
      (value) => ({ ok: true as const, value }),
      (error: unknown) => ({ ok: false as const, error }),
    ),
    what,
  );
  if (outcome.ok) throw new Error(`${what} resolved with ${JSON.stringify(outcome.value)}`);
  expect(outcome.error).toBeInstanceOf(CloudMapApiError);
  return outcome.error as CloudMapApiError;
}

const signal = (): AbortSignal => new AbortController().signal;

describe('createSdkCloudMapApi when a connection is lost', () => {
  let server: ResettingServer;
  let api: CloudMapApi;
  let endpoint: string;
  const cleanups: Array<() => void> = [];

  const start = async (keepAliveTimeoutMs?: number): Promise<void> => {
    server = new ResettingServer(keepAliveTimeoutMs);
    endpoint = await server.listen();
    api = createSdkCloudMapApi({
      region: 'us-east-1',
      endpoint,
      credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'dummy' },
      env: {},
    });
  };

  afterEach(async () => {
    for (const cleanup of cleanups.splice(0)) cleanup();
    // The API has no close(): closing the server destroys every connection its agents hold (the idle
    // ones are unref'd anyway).
    await server?.close();
  });

  it('when a reused keep-alive connection is reset as DiscoverInstancesRevision arrives on it, then it is sent again once on a new connection and succeeds', async () => {
    await start();
    server.plan = (req) => (req.onConnection >= 2 ? { kind: 'reset' } : { kind: 'answer' });

    await expect(bounded(api.discoverInstancesRevision(REF, signal()), 'call 1')).resolves.toBe(7);
    server.revision = 8;
    await expect(bounded(api.discoverInstancesRevision(REF, signal()), 'call 2')).resolves.toBe(8);

    expect(server.seen.map(({ connection, onConnection }) => ({ connection, onConnection }))).toEqual([
      { connection: 1, onConnection: 1 }, // answered
      { connection: 1, onConnection: 2 }, // reset, no answer
      { connection: 2, onConnection: 1 }, // the retry, on a new connection
    ]);
    expect(server.seen.every((r) => r.operation === 'DiscoverInstancesRevision')).toBe(true);
  });

  it('when a reused keep-alive connection is reset as DiscoverInstances arrives on it, then it is sent again once and succeeds', async () => {
    await start();
    server.plan = (req) => (req.onConnection >= 2 ? { kind: 'reset' } : { kind: 'answer' });

    await bounded(api.discoverInstances(QUERY, signal()), 'call 1');
    const out = await bounded(api.discoverInstances(QUERY, signal()), 'call 2');

    expect(out).toEqual({
      instances: [{ instanceId: 'task01', attributes: INSTANCE.Attributes, healthStatus: 'HEALTHY' }],
      revision: 7,
    });
    expect(server.seen.map((r) => [r.operation, r.connection, r.onConnection])).toEqual([
      ['DiscoverInstances', 1, 1],
      ['DiscoverInstances', 1, 2],
      ['DiscoverInstances', 2, 1],
    ]);
  });

  it('when every idle connection in the pool is stale, then the retry opens a new one rather than take another stale one', async () => {
    await start();
    // Two calls at once on two connections, answered once both are in; any later request on either
    // connection is reset.
    let bothIn: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (bothIn = resolve));
    server.plan = (req) => {
      if (req.onConnection >= 2) return { kind: 'reset' };
      if (req.n === 2) bothIn();
      return req.n <= 2 ? { kind: 'answer', after: gate } : { kind: 'answer' };
    };
    await bounded(
      Promise.all([
        api.discoverInstancesRevision(REF, signal()),
        api.discoverInstancesRevision(REF, signal()),
      ]),
      'two concurrent calls',
    );
    expect(server.seen.map((r) => r.connection)).toEqual([1, 2]);

    await expect(bounded(api.discoverInstancesRevision(REF, signal()), 'the call')).resolves.toBe(7);

    // One idle connection reset when reused; the retry on a third, new one (not on the other idle one).
    expect(server.seen.slice(2).map((r) => [r.connection, r.onConnection])).toEqual([
      [expect.any(Number), 2],
      [3, 1],
    ]);
  });

  it('when the API answers 500, then the call fails at once and is not sent again', async () => {
    await start();
    server.plan = () => ({ kind: 'error', status: 500, type: 'InternalFailure' });

    const error = await failureOf(api.discoverInstancesRevision(REF, signal()), 'the call');

    expect(error).toMatchObject({ failure: 'failed', awsName: 'InternalFailure' });
    expect(error.message).toContain('HTTP 500');
    expect(server.seen).toHaveLength(1);
  });

  it.each(['ThrottlingException', 'RequestLimitExceeded'])(
    'when the API answers 400 %s, then the call fails as throttled and is not sent again',
    async (type) => {
      await start();
      server.plan = () => ({ kind: 'error', status: 400, type });

      const error = await failureOf(api.discoverInstancesRevision(REF, signal()), 'the call');

      expect(error).toMatchObject({ failure: 'throttled', awsName: type });
      expect(server.seen).toHaveLength(1);
    },
  );

  it('when the connection is reset again on the retry, then the call fails with the mapped error after exactly 2 requests', async () => {
    await start();
    server.plan = () => ({ kind: 'reset' });

    const error = await failureOf(api.discoverInstancesRevision(REF, signal()), 'the call');

    // Mapped by toApiError as before: in Node the SDK's `TimeoutError` (its name for ECONNRESET) is a
    // 'timeout'; under jest Node's errors are of another realm, which the SDK's retry middleware turns
    // into a plain "AWS SDK error wrapper for TimeoutError: socket hang up", a 'failed'.
    expect(['timeout', 'failed']).toContain(error.failure);
    expect(error.message).toContain('socket hang up');
    expect(server.seen.map((r) => r.connection)).toEqual([1, 2]);
  });

  it('when the connection is lost after the answer has begun, then the call fails and is not sent again', async () => {
    await start();
    server.plan = (req) => (req.n === 2 ? { kind: 'reset-mid-answer' } : { kind: 'answer' });
    await bounded(api.discoverInstancesRevision(REF, signal()), 'call 1');

    const error = await failureOf(api.discoverInstancesRevision(REF, signal()), 'call 2');

    expect(error.failure).toBe('failed');
    expect(error.message).toMatch(/aborted[\s\S]*Deserialization error/); // Node's IncomingMessage 'aborted'
    expect(server.seen).toHaveLength(2);
  });

  it('when the caller aborts while the request is in flight, then the call fails as aborted and is not sent again', async () => {
    await start();
    server.plan = () => ({ kind: 'hold' });
    const controller = new AbortController();

    const pending = api.discoverInstancesRevision(REF, controller.signal);
    await server.requests(1);
    controller.abort();
    const error = await failureOf(pending, 'the aborted call');

    expect(error).toMatchObject({ failure: 'aborted', awsName: 'AbortError' });
    await new Promise((resolve) => setTimeout(resolve, 100)); // a retry would have arrived by now
    expect(server.seen).toHaveLength(1);
  });

  it('when the signal is already aborted, then nothing is sent', async () => {
    await start();
    const controller = new AbortController();
    controller.abort();

    const error = await failureOf(api.discoverInstancesRevision(REF, controller.signal), 'the call');

    expect(error.failure).toBe('aborted');
    expect(server.seen).toHaveLength(0);
  });

  it('when the caller aborts just as the connection is reset, then the call is not sent again and fails with the reset', async () => {
    await start();
    server.plan = () => ({ kind: 'reset' });
    const controller = new AbortController();
    // The abort lands right after Node has reported the reset to the SDK, before the wrapper sees it.
    const onStart = (message: unknown): void => {
      const { request } = message as { request: http.ClientRequest };
      request.once('error', () => process.nextTick(() => controller.abort()));
    };
    diagnostics.subscribe('http.client.request.start', onStart);
    cleanups.push(() => diagnostics.unsubscribe('http.client.request.start', onStart));

    const error = await failureOf(api.discoverInstancesRevision(REF, controller.signal), 'the call');

    expect(controller.signal.aborted).toBe(true);
    // The reset itself (mapped as in the test above), not the 'aborted' of a retry sent after the abort.
    expect(['timeout', 'failed']).toContain(error.failure);
    expect(error.message).toContain('socket hang up');
    expect(server.seen).toHaveLength(1);
  });

  it('when the server announces a keep-alive timeout, then an idle connection is closed before it and the next call opens a new one', async () => {
    // Node's server sends `Keep-Alive: timeout=2`; the agent drops the idle socket 1 s before that.
    await start(2000);
    await bounded(api.discoverInstancesRevision(REF, signal()), 'call 1');
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await bounded(api.discoverInstancesRevision(REF, signal()), 'call 2');

    expect(server.seen.map((r) => [r.connection, r.onConnection])).toEqual([
      [1, 1],
      [2, 1],
    ]);
  });

  it('when calls follow each other well within the idle limit, then they share one connection', async () => {
    await start();
    for (let i = 0; i < 3; i++) await bounded(api.discoverInstancesRevision(REF, signal()), `call ${i}`);
    expect(server.seen.map((r) => r.connection)).toEqual([1, 1, 1]);
  });
});
