import { randomBytes, randomUUID } from 'node:crypto';
import * as http from 'node:http';
import { isIPv4 } from 'node:net';
import type { DevDnsInstance, Registry } from './registry';

// The Cloud Map data and control plane operations the dev server answers, over the AWS JSON 1.1 protocol
// that @aws-sdk/client-servicediscovery speaks: `POST /`, `Content-Type: application/x-amz-json-1.1`,
// `X-Amz-Target: Route53AutoNaming_v20170314.<Operation>`, a JSON object in and out; errors are HTTP 4xx/5xx
// with `x-amzn-ErrorType` and `{"__type", "message"}` (the SDK turns `__type` into its named exception).
// A dev server: SigV4 signatures and credentials are accepted without being checked.

/** The operations answered; any other `X-Amz-Target` is `UnknownOperationException`. */
export type CloudMapOperation =
  | 'DiscoverInstances'
  | 'DiscoverInstancesRevision'
  | 'RegisterInstance'
  | 'DeregisterInstance'
  | 'UpdateInstanceCustomHealthStatus';

const OPERATIONS: readonly CloudMapOperation[] = [
  'DiscoverInstances',
  'DiscoverInstancesRevision',
  'RegisterInstance',
  'DeregisterInstance',
  'UpdateInstanceCustomHealthStatus',
];

/** The service's JSON 1.1 target prefix (its Smithy service shape). */
const TARGET_PREFIX = 'Route53AutoNaming_v20170314.';
const CONTENT_TYPE = 'application/x-amz-json-1.1';
/** Largest request body read; Cloud Map's own inputs are far smaller (attributes ≤ 5,000 characters). */
export const MAX_REQUEST_BYTES = 64 * 1024;
/** Cloud Map's MaxResults range, and what it returns when MaxResults is left out. */
const MAX_RESULTS_LIMIT = 1000;
const DEFAULT_MAX_RESULTS = 100;
const HEALTH_STATUSES = ['HEALTHY', 'UNHEALTHY', 'ALL', 'HEALTHY_OR_ELSE_ALL'] as const;
type HealthFilter = (typeof HEALTH_STATUSES)[number];

/**
 * What an injected fault makes a call answer:
 * - `throttle`: 400 `RequestLimitExceeded`, as Cloud Map answers over its request quota;
 * - `server-error`: `status` (default 500) `InternalFailure`, which the SDK retries as transient;
 * - `stall`: no answer at all (the request stays open until the client gives up or the server closes);
 * - `delay`: the real answer, `ms` late;
 * - `respond`: this exact status (default 200) and body, e.g. garbage JSON or instances without attributes.
 */
export type CloudMapFault =
  | { kind: 'throttle' }
  | { kind: 'server-error'; status?: number }
  | { kind: 'stall' }
  | { kind: 'delay'; ms: number }
  | { kind: 'respond'; status?: number; body: string };

/** Which calls a fault applies to. */
export interface CloudMapFaultScope {
  /** How many calls it answers, then it is spent. @default Infinity (every call until clearFaults()) */
  count?: number;
  /** Only calls of these operations. @default every operation */
  operations?: CloudMapOperation[];
}

/** Counters since construction, so tests can assert how hard a client uses the API. */
export interface CloudMapApiStats {
  /** HTTP requests received, whatever they were. */
  requests: number;
  /** Calls per known operation (`X-Amz-Target`), counted whether answered, failed or faulted. */
  byOperation: Record<CloudMapOperation, number>;
  /** Error answers by `__type` (`ServiceNotFound`, `RequestLimitExceeded`, `InternalFailure`...). */
  byError: Record<string, number>;
  /** Calls answered (or stalled, or delayed) by an injected fault. */
  faulted: number;
}

/** Settings of a {@link CloudMapApi}. */
export interface CloudMapApiOptions {
  /** Address to listen on. @default '127.0.0.1' */
  host?: string;
  /** TCP port; 0 = OS-assigned. @default 0 */
  port?: number;
}

interface FaultRule {
  fault: CloudMapFault;
  remaining: number;
  operations: readonly CloudMapOperation[] | undefined;
}

/** An AWS JSON 1.1 error answer. */
class ApiError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

type Input = Record<string, unknown>;

/**
 * The Cloud Map API (a subset) over HTTP, fed by the same {@link Registry} as the dev DNS server, so a task
 * registered on either side shows on both. Built and owned by `DevDnsServer` (option `api`).
 */
export class CloudMapApi {
  readonly #registry: Registry;
  readonly #zone: string;
  readonly #host: string;
  readonly #port: number;
  readonly #server: http.Server;
  readonly #rules: FaultRule[] = [];
  readonly #timers = new Set<NodeJS.Timeout>();
  #stats: CloudMapApiStats = {
    requests: 0,
    byOperation: Object.fromEntries(OPERATIONS.map((op) => [op, 0])) as Record<CloudMapOperation, number>,
    byError: {},
    faulted: 0,
  };
  #address: { host: string; port: number } | undefined;

  /** @throws {TypeError} naming the first invalid option. */
  constructor(registry: Registry, zone: string, options: CloudMapApiOptions = {}) {
    const { host = '127.0.0.1', port = 0 } = options;
    if (typeof host !== 'string' || host === '') {
      throw new TypeError(`api.host must be a non-empty string, got ${JSON.stringify(host)}`);
    }
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new TypeError(`api.port must be an integer in 0..65535, got ${String(port)}`);
    }
    this.#registry = registry;
    this.#zone = zone;
    this.#host = host;
    this.#port = port;
    this.#server = http.createServer((req, res) => this.#onRequest(req, res));
    // Slow or hostile clients: bounded header and request times, as any server should have.
    this.#server.headersTimeout = 10_000;
    this.#server.requestTimeout = 30_000;
    this.#server.on('clientError', (_error, socket) => socket.destroy());
  }

  /** Starts listening; resolves with the bound address. */
  async listen(): Promise<{ host: string; port: number }> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen({ port: this.#port, host: this.#host }, () => {
        this.#server.off('error', reject);
        resolve();
      });
    });
    const { port } = this.#server.address() as { port: number };
    this.#address = { host: this.#host, port };
    return { ...this.#address };
  }

  /**
   * The bound address.
   * @throws {Error} before listen() has resolved or after close().
   */
  get address(): { host: string; port: number } {
    if (this.#address === undefined) throw new Error('the Cloud Map API is not listening');
    return { ...this.#address };
  }

  /**
   * The endpoint to give the SDK (`endpoint`, or `AWS_ENDPOINT_URL_SERVICEDISCOVERY`), e.g.
   * `http://127.0.0.1:49152`. The client must also set `disableHostPrefix: true`, or it dials
   * `data-127.0.0.1` for DiscoverInstances (the operation's `data-` host prefix in the AWS model).
   */
  get endpoint(): string {
    const { host, port } = this.address;
    return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  }

  /**
   * Makes the next `count` calls (of `operations`) answer with `fault`. Rules apply in the order given;
   * a call takes the first that matches.
   * @throws {TypeError} on an unknown fault kind, a bad count, status or delay, or an unknown operation.
   */
  inject(fault: CloudMapFault, scope: CloudMapFaultScope = {}): void {
    const { count = Infinity, operations } = scope;
    if (!(count === Infinity || (Number.isInteger(count) && count > 0))) {
      throw new TypeError(`count must be a positive integer or Infinity, got ${String(count)}`);
    }
    if (operations !== undefined && !operations.every((op) => OPERATIONS.includes(op))) {
      throw new TypeError(`operations must be among ${OPERATIONS.join(', ')}`);
    }
    switch (fault?.kind) {
      case 'throttle':
      case 'stall':
        break;
      case 'server-error':
        if (fault.status !== undefined && !(Number.isInteger(fault.status) && fault.status >= 500)) {
          throw new TypeError(`status must be an integer ≥ 500, got ${String(fault.status)}`);
        }
        break;
      case 'delay':
        if (!Number.isFinite(fault.ms) || fault.ms < 0) {
          throw new TypeError(`ms must be a non-negative number, got ${String(fault.ms)}`);
        }
        break;
      case 'respond':
        if (typeof fault.body !== 'string') throw new TypeError('body must be a string');
        if (fault.status !== undefined && !(Number.isInteger(fault.status) && fault.status >= 200)) {
          throw new TypeError(`status must be an integer ≥ 200, got ${String(fault.status)}`);
        }
        break;
      default:
        throw new TypeError(`unknown fault kind ${JSON.stringify((fault as { kind?: unknown })?.kind)}`);
    }
    this.#rules.push({ fault: { ...fault }, remaining: count, operations: operations && [...operations] });
  }

  /** Removes every injected fault (stalled calls stay stalled until the client or close() ends them). */
  clearFaults(): void {
    this.#rules.length = 0;
  }

  /** A snapshot of the counters. */
  stats(): CloudMapApiStats {
    const s = this.#stats;
    return { ...s, byOperation: { ...s.byOperation }, byError: { ...s.byError } };
  }

  /** Stops listening and cuts every connection, stalled ones included; idempotent. */
  async close(): Promise<void> {
    this.#address = undefined;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    if (!this.#server.listening) return;
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#server.closeAllConnections();
    await closed;
  }

  #onRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    this.#stats.requests++;
    res.on('error', () => undefined); // a client that went away: nothing to answer
    try {
      this.#route(req, res);
    } catch {
      // A bug must cost one answer, never the process.
      if (!res.headersSent) this.#fail(res, new ApiError('InternalFailure', 'internal error', 500));
      else res.destroy();
    }
  }

  #route(req: http.IncomingMessage, res: http.ServerResponse): void {
    if ((req.url ?? '/').split('?')[0] !== '/') {
      return this.#reject(req, res, new ApiError('UnknownOperationException', 'not found', 404));
    }
    if (req.method !== 'POST') {
      res.setHeader('Allow', 'POST');
      return this.#reject(req, res, new ApiError('UnknownOperationException', 'only POST', 405));
    }
    const target = String(req.headers['x-amz-target'] ?? '');
    const name = target.startsWith(TARGET_PREFIX) ? target.slice(TARGET_PREFIX.length) : '';
    const operation = OPERATIONS.find((op) => op === name);
    if (operation === undefined) {
      const shown = JSON.stringify(target.slice(0, 100));
      return this.#reject(req, res, new ApiError('UnknownOperationException', `unknown target ${shown}`));
    }
    this.#stats.byOperation[operation]++;
    const type = String(req.headers['content-type'] ?? '')
      .split(';')[0]!
      .trim()
      .toLowerCase();
    if (type !== CONTENT_TYPE) {
      const error = new ApiError('InvalidInput', `Content-Type must be ${CONTENT_TYPE}`);
      return this.#reject(req, res, error);
    }
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > MAX_REQUEST_BYTES) return this.#reject(req, res, tooLarge());

    const chunks: Buffer[] = [];
    let size = 0;
    let rejected = false;
    req.on('error', () => undefined);
    req.on('data', (chunk: Buffer) => {
      if (rejected) return;
      size += chunk.length;
      if (size > MAX_REQUEST_BYTES) {
        rejected = true;
        this.#reject(req, res, tooLarge());
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (!rejected) this.#call(operation, Buffer.concat(chunks), res);
    });
  }

  /** Answers an error before the body is read, and closes the connection rather than read the rest. */
  #reject(req: http.IncomingMessage, res: http.ServerResponse, error: ApiError): void {
    res.setHeader('Connection', 'close');
    this.#fail(res, error);
    req.resume();
  }

  #call(operation: CloudMapOperation, body: Buffer, res: http.ServerResponse): void {
    const rule = this.#rules.find((r) => r.operations === undefined || r.operations.includes(operation));
    if (rule !== undefined) {
      this.#stats.faulted++;
      rule.remaining--;
      if (rule.remaining <= 0) this.#rules.splice(this.#rules.indexOf(rule), 1);
      const { fault } = rule;
      switch (fault.kind) {
        case 'throttle':
          return this.#fail(res, new ApiError('RequestLimitExceeded', 'Rate exceeded'));
        case 'server-error':
          return this.#fail(res, new ApiError('InternalFailure', 'injected fault', fault.status ?? 500));
        case 'stall':
          return; // never answered; close() cuts the connection
        case 'respond':
          res.writeHead(fault.status ?? 200, { 'Content-Type': CONTENT_TYPE, ...requestId() });
          res.end(fault.body);
          return;
        case 'delay': {
          const timer = setTimeout(() => {
            this.#timers.delete(timer);
            this.#answer(operation, body, res);
          }, fault.ms);
          this.#timers.add(timer);
          res.on('close', () => {
            clearTimeout(timer);
            this.#timers.delete(timer);
          });
          return;
        }
      }
    }
    this.#answer(operation, body, res);
  }

  #answer(operation: CloudMapOperation, body: Buffer, res: http.ServerResponse): void {
    if (res.destroyed) return;
    let output: unknown;
    try {
      output = this.#run(operation, parseInput(body));
    } catch (error) {
      if (error instanceof ApiError) return this.#fail(res, error);
      throw error;
    }
    res.writeHead(200, { 'Content-Type': CONTENT_TYPE, ...requestId() });
    res.end(JSON.stringify(output));
  }

  #fail(res: http.ServerResponse, error: ApiError): void {
    this.#stats.byError[error.type] = (this.#stats.byError[error.type] ?? 0) + 1;
    res.writeHead(error.status, {
      'Content-Type': CONTENT_TYPE,
      'x-amzn-ErrorType': error.type,
      ...requestId(),
    });
    res.end(JSON.stringify({ __type: error.type, message: error.message }));
  }

  #run(operation: CloudMapOperation, input: Input): unknown {
    switch (operation) {
      case 'DiscoverInstances':
        return this.#discover(input);
      case 'DiscoverInstancesRevision': {
        const { revision } = this.#service(input);
        return { InstancesRevision: revision };
      }
      case 'RegisterInstance':
        return this.#register(input);
      case 'DeregisterInstance': {
        const { service, instanceId } = this.#instance(input);
        this.#registry.deregister(instanceId, service);
        return { OperationId: operationId() };
      }
      case 'UpdateInstanceCustomHealthStatus': {
        const { service, instanceId } = this.#instance(input);
        const status = string(input, 'Status', 16);
        if (status !== 'HEALTHY' && status !== 'UNHEALTHY') {
          throw new ApiError('InvalidInput', 'Status must be HEALTHY or UNHEALTHY');
        }
        this.#registry.setHealth(instanceId, status === 'HEALTHY', service);
        return {};
      }
    }
  }

  /** NamespaceName + ServiceName → the service and its revision, or NamespaceNotFound/ServiceNotFound. */
  #service(input: Input): { namespace: string; service: string; revision: number } {
    const namespace = string(input, 'NamespaceName', 1024);
    const service = string(input, 'ServiceName', 127);
    if (!this.#registry.isZone(namespace)) {
      throw new ApiError('NamespaceNotFound', `Namespace ${JSON.stringify(namespace)} not found.`);
    }
    const revision = this.#registry.revision(service);
    if (revision === undefined) {
      throw new ApiError('ServiceNotFound', `Service ${JSON.stringify(service)} not found.`);
    }
    return { namespace, service, revision };
  }

  #discover(input: Input): unknown {
    const { service, revision } = this.#service(input);
    const maxResults = input.MaxResults ?? DEFAULT_MAX_RESULTS;
    if (!Number.isInteger(maxResults) || (maxResults as number) < 1) {
      throw new ApiError('InvalidInput', `MaxResults must be an integer in 1..${MAX_RESULTS_LIMIT}`);
    }
    if ((maxResults as number) > MAX_RESULTS_LIMIT) {
      throw new ApiError('InvalidInput', `MaxResults must be an integer in 1..${MAX_RESULTS_LIMIT}`);
    }
    const health = (input.HealthStatus ?? 'HEALTHY') as HealthFilter;
    if (!HEALTH_STATUSES.includes(health)) {
      throw new ApiError('InvalidInput', `HealthStatus must be one of ${HEALTH_STATUSES.join(', ')}`);
    }
    const query = stringMap(input, 'QueryParameters');
    const optional = stringMap(input, 'OptionalParameters');

    const matches = (instance: DevDnsInstance, filter: Record<string, string>) => {
      const attributes = attributesOf(instance);
      return Object.entries(filter).every(([key, value]) => attributes[key] === value);
    };
    let instances = this.#registry.instances(service).filter((i) => matches(i, query));
    // OptionalParameters narrow the result only when some instance matches them all; else they are ignored.
    const narrowed = instances.filter((i) => matches(i, optional));
    if (narrowed.length > 0) instances = narrowed;
    const healthy = instances.filter((i) => i.healthy);
    if (health === 'HEALTHY') instances = healthy;
    else if (health === 'UNHEALTHY') instances = instances.filter((i) => !i.healthy);
    else if (health === 'HEALTHY_OR_ELSE_ALL' && healthy.length > 0) instances = healthy;

    return {
      Instances: instances.slice(0, maxResults as number).map((i) => ({
        InstanceId: i.instanceId,
        NamespaceName: this.#zone,
        ServiceName: service,
        HealthStatus: i.healthy ? 'HEALTHY' : 'UNHEALTHY',
        Attributes: attributesOf(i),
      })),
      InstancesRevision: revision,
    };
  }

  /** ServiceId (the service name, locally) + InstanceId → both, or ServiceNotFound/InstanceNotFound. */
  #instance(input: Input): { service: string; instanceId: string } {
    const service = string(input, 'ServiceId', 255);
    const instanceId = string(input, 'InstanceId', 64);
    if (this.#registry.revision(service) === undefined) {
      throw new ApiError('ServiceNotFound', `Service ${JSON.stringify(service)} not found.`);
    }
    const known = this.#registry
      .instances(service)
      .some((i) => i.instanceId.toLowerCase() === instanceId.toLowerCase());
    if (!known) throw new ApiError('InstanceNotFound', `Instance ${JSON.stringify(instanceId)} not found.`);
    return { service, instanceId };
  }

  #register(input: Input): unknown {
    const service = string(input, 'ServiceId', 255);
    const instanceId = string(input, 'InstanceId', 64);
    if (input.CreatorRequestId !== undefined) string(input, 'CreatorRequestId', 64);
    if (this.#registry.revision(service) === undefined) {
      throw new ApiError('ServiceNotFound', `Service ${JSON.stringify(service)} not found.`);
    }
    const attributes = stringMap(input, 'Attributes', true);
    const { AWS_INSTANCE_IPV4: ip, AWS_INSTANCE_PORT: port, ...custom } = attributes;
    // A service with an SRV record (what ECS bridge mode registers) needs both, as Cloud Map requires.
    if (ip === undefined || !isIPv4(ip)) {
      throw new ApiError('InvalidInput', 'Attributes.AWS_INSTANCE_IPV4 must be an IPv4 address');
    }
    if (port === undefined || !/^\d{1,5}$/.test(port)) {
      throw new ApiError('InvalidInput', 'Attributes.AWS_INSTANCE_PORT must be a port number');
    }
    try {
      this.#registry.register(instanceId, ip, Number(port), service, custom);
    } catch (error) {
      throw new ApiError('InvalidInput', (error as Error).message);
    }
    return { OperationId: operationId() };
  }
}

function tooLarge(): ApiError {
  return new ApiError('InvalidInput', `request body is over ${MAX_REQUEST_BYTES} bytes`, 413);
}

function requestId(): Record<string, string> {
  return { 'x-amzn-RequestId': randomUUID() };
}

/** Cloud Map operation ids look like this: 32 random characters, a dash, 8 more. */
function operationId(): string {
  return `${randomBytes(16).toString('hex')}-${randomBytes(4).toString('hex')}`;
}

/** The request body as a JSON object; InvalidInput for anything else. */
function parseInput(body: Buffer): Input {
  let value: unknown;
  try {
    value = body.length === 0 ? {} : JSON.parse(body.toString('utf8'));
  } catch {
    throw new ApiError('InvalidInput', 'the request body is not valid JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ApiError('InvalidInput', 'the request body must be a JSON object');
  }
  return value as Input;
}

/** A required string member of 1..maxLength characters. */
function string(input: Input, key: string, maxLength: number): string {
  const value = input[key];
  if (typeof value !== 'string' || value.length === 0 || value.length > maxLength) {
    throw new ApiError('InvalidInput', `${key} must be a string of 1..${maxLength} characters`);
  }
  return value;
}

/** A map of string to string (Cloud Map's attribute maps: keys ≤ 255, values ≤ 1024 characters). */
function stringMap(input: Input, key: string, required = false): Record<string, string> {
  const value = input[key];
  if (value === undefined && !required) return {};
  const bad = () => new ApiError('InvalidInput', `${key} must be a map of strings`);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw bad();
  const entries = Object.entries(value);
  if (entries.length > 30 + 2) throw bad();
  for (const [k, v] of entries) {
    if (k.length === 0 || k.length > 255 || typeof v !== 'string' || v.length > 1024) throw bad();
  }
  return Object.fromEntries(entries) as Record<string, string>;
}

/** An instance's attributes as DiscoverInstances returns them: the address pair plus custom ones. */
function attributesOf(instance: DevDnsInstance): Record<string, string> {
  return {
    ...instance.attributes,
    AWS_INSTANCE_IPV4: instance.ip,
    AWS_INSTANCE_PORT: String(instance.port),
  };
}
