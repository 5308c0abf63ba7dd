import {
  DiscoveryError,
  NEXT_SERVER_CODES,
  RCODE_TO_CODE,
  networkCode,
  type AttemptRecord,
  type DiscoveryErrorCode,
} from '../errors';
import { buildQuery, isTruncated, type Query, type Question, type Reply } from './message';
import { formatServer, type DnsServer } from './servers';
import { tcpTransport } from './tcp';
import { AttemptError, type Transport, type WireStats } from './transport';
import { udpTransport } from './udp';

/** How a reply travelled. */
export type TransportName = 'udp' | 'tcp';

/** A usable reply (NOERROR or NXDOMAIN) and where it came from. */
export interface ExchangeResult {
  reply: Reply;
  server: DnsServer;
  transport: TransportName;
  /** Time from the first send to this reply, ms. */
  elapsedMs: number;
}

/** Limits and servers of one exchange. */
export interface ExchangeOptions {
  /** Servers in order of preference; attempts rotate over them. */
  servers: readonly DnsServer[];
  /** Time one attempt (one server, one transport) may take, ms. */
  attemptTimeoutMs: number;
  /** Attempts in all, across servers. */
  attempts: number;
  /** Absolute deadline (clock ms) after which no attempt starts and running ones are cut. */
  deadline: number;
  /** Cancels the exchange: it rejects with ECANCELLED. */
  signal?: AbortSignal;
}

/** Observes every attempt, for metrics: rcode (or failure reason) and transport. */
export type AttemptObserver = (event: {
  question: Question;
  server: DnsServer;
  transport: TransportName;
  outcome: string;
}) => void;

/** Dependencies of the exchanger, injectable for tests. */
export interface ExchangerDeps {
  now: () => number;
  udp?: Transport;
  tcp?: Transport;
  onAttempt?: AttemptObserver;
}

/** What a failed attempt means for the caller: network failures keep their own errno. */
function failureCode(err: AttemptError): DiscoveryErrorCode {
  switch (err.reason) {
    case 'timeout':
      return 'ETIMEOUT';
    case 'refused':
      return 'ECONNREFUSED';
    case 'closed':
      return 'EOF';
    case 'network':
      return networkCode(err.errno);
    case 'aborted':
      return 'ECANCELLED';
    case 'bad-response':
      return 'EBADRESP';
  }
}

/**
 * One DNS exchange: UDP first, the same query over TCP when the reply is truncated (RFC 7766 §5), the next
 * server on silence, refusal or a server-side rcode (RFC 1035 §7.2), within a per-attempt timeout, a total
 * number of attempts and an overall deadline. Resolves with NOERROR/NXDOMAIN replies; throws DiscoveryError.
 */
export class Exchanger {
  /** Wire counters (dropped spoofs and garbage). */
  readonly stats: WireStats = { dropped: 0 };
  private readonly udp: Transport;
  private readonly tcp: Transport;

  constructor(private readonly deps: ExchangerDeps) {
    this.udp = deps.udp ?? udpTransport(this.stats);
    this.tcp = deps.tcp ?? tcpTransport(this.stats);
  }

  /** Asks `question`, preferring `options.servers[0]`. @throws {DiscoveryError} */
  async exchange(question: Question, options: ExchangeOptions): Promise<ExchangeResult> {
    const started = this.deps.now();
    const failed: AttemptRecord[] = [];
    let last: DiscoveryError | undefined;
    for (let attempt = 0; attempt < options.attempts; attempt++) {
      const remainingMs = options.deadline - this.deps.now();
      if (remainingMs <= 0) break;
      const server = options.servers[attempt % options.servers.length]!;
      let transport: TransportName = 'udp';
      try {
        const { reply, via } = await this.ask(server, question, options);
        transport = via;
        const code = RCODE_TO_CODE[reply.rcode];
        if (reply.rcode === 'NOERROR' || code === 'ENOTFOUND') {
          return { reply, server, transport, elapsedMs: this.deps.now() - started };
        }
        last = new DiscoveryError(
          code ?? 'EBADRESP',
          question.name,
          `${formatServer(server)} answered ${reply.rcode} to ${question.type}`,
        );
      } catch (err) {
        if (!(err instanceof AttemptError)) throw err;
        transport = err.transport ?? transport;
        last = new DiscoveryError(
          failureCode(err),
          question.name,
          `${question.type} query to ${formatServer(server)}: ${err.message}`,
          { cause: err },
        );
        if (last.code === 'ECANCELLED') throw last;
      }
      failed.push({ server: formatServer(server), transport, code: last.code });
      if (!NEXT_SERVER_CODES.has(last.code)) break;
    }
    if (!last) {
      throw new DiscoveryError(
        'ETIMEOUT',
        question.name,
        `no ${question.type} answer before the lookup deadline`,
        {
          attempts: failed,
        },
      );
    }
    if (failed.length <= 1) {
      throw new DiscoveryError(last.code, question.name, stripCode(last), {
        cause: last.cause,
        attempts: failed,
      });
    }
    // Every attempt's outcome, not only the last one: "timeout here, no route there" is the diagnosis.
    const story = failed.map((f) => `${f.server} ${f.transport} ${f.code}`).join('; ');
    throw new DiscoveryError(
      last.code,
      question.name,
      `${question.type} query failed on every attempt (${story}); last: ${stripCode(last)}`,
      { cause: last.cause, attempts: failed },
    );
  }

  /**
   * One attempt at one server: UDP, then TCP when truncated (RFC 7766 §5); after a FORMERR to a query with
   * EDNS, the same query once more without it (RFC 6891 §7: the server may not implement EDNS).
   */
  private async ask(
    server: DnsServer,
    question: Question,
    options: ExchangeOptions,
  ): Promise<{ reply: Reply; via: TransportName }> {
    let edns = true;
    for (;;) {
      const query = buildQuery(question, { edns });
      let via: TransportName = 'udp';
      let reply = await this.send(this.udp, server, query, question, via, this.timeoutFor(options), options);
      if (isTruncated(reply)) {
        via = 'tcp';
        reply = await this.send(this.tcp, server, query, question, via, this.timeoutFor(options), options);
      }
      if (reply.rcode === 'FORMERR' && edns && !hasOpt(reply)) {
        edns = false;
        continue;
      }
      return { reply, via };
    }
  }

  /** The time the next send may take: one attempt's allowance, within the overall deadline. */
  private timeoutFor(options: ExchangeOptions): number {
    const remainingMs = options.deadline - this.deps.now();
    if (remainingMs <= 0) throw new AttemptError('timeout', 'deadline reached before the next send');
    return Math.min(options.attemptTimeoutMs, remainingMs);
  }

  private async send(
    transport: Transport,
    server: DnsServer,
    query: Query,
    question: Question,
    name: TransportName,
    timeoutMs: number,
    options: ExchangeOptions,
  ): Promise<Reply> {
    try {
      const reply = await transport(server, query, { timeoutMs, signal: options.signal });
      this.deps.onAttempt?.({ question, server, transport: name, outcome: reply.rcode });
      return reply;
    } catch (err) {
      const outcome = err instanceof AttemptError ? err.reason : 'error';
      this.deps.onAttempt?.({ question, server, transport: name, outcome });
      if (err instanceof AttemptError) err.transport = name;
      throw err;
    }
  }
}

/** True when a reply carries an OPT record: the server speaks EDNS, so a FORMERR is about something else. */
function hasOpt(reply: Reply): boolean {
  return reply.additionals.some((a) => a.type === 'OPT');
}

/** A DiscoveryError's message without the " (CODE name)" suffix its constructor adds. */
function stripCode(err: DiscoveryError): string {
  const suffix = ` (${err.code} ${err.hostname})`;
  return err.message.endsWith(suffix) ? err.message.slice(0, -suffix.length) : err.message;
}
