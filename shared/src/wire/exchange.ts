import { DiscoveryError, NEXT_SERVER_CODES, RCODE_TO_CODE, type DiscoveryErrorCode } from '../errors';
import { buildQuery, isTruncated, type Question, type Reply } from './message';
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

/** What failing attempts mean for the caller. */
const FAILURE_CODES: Record<AttemptError['reason'], DiscoveryErrorCode> = {
  timeout: 'ETIMEOUT',
  refused: 'ECONNREFUSED',
  closed: 'EOF',
  network: 'ECONNREFUSED',
  aborted: 'ECANCELLED',
  'bad-response': 'EBADRESP',
};

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
    let lastError: DiscoveryError | undefined;
    for (let attempt = 0; attempt < options.attempts; attempt++) {
      const remainingMs = options.deadline - this.deps.now();
      if (remainingMs <= 0) break;
      const server = options.servers[attempt % options.servers.length]!;
      const timeoutMs = Math.min(options.attemptTimeoutMs, remainingMs);
      try {
        const query = buildQuery(question);
        let transport: TransportName = 'udp';
        let reply = await this.send(this.udp, server, query, question, transport, timeoutMs, options.signal);
        if (isTruncated(reply)) {
          transport = 'tcp';
          const tcpTimeoutMs = Math.min(options.attemptTimeoutMs, options.deadline - this.deps.now());
          if (tcpTimeoutMs <= 0) throw new AttemptError('timeout', 'deadline reached before the TCP retry');
          reply = await this.send(this.tcp, server, query, question, transport, tcpTimeoutMs, options.signal);
        }
        const code = RCODE_TO_CODE[reply.rcode];
        if (reply.rcode !== 'NOERROR' && code !== 'ENOTFOUND') {
          lastError = new DiscoveryError(
            code ?? 'EBADRESP',
            question.name,
            `${formatServer(server)} answered ${reply.rcode} to ${question.type}`,
          );
          if (NEXT_SERVER_CODES.has(lastError.code)) continue;
          throw lastError;
        }
        return { reply, server, transport, elapsedMs: this.deps.now() - started };
      } catch (err) {
        if (err instanceof DiscoveryError) throw err;
        if (!(err instanceof AttemptError)) throw err;
        const code = FAILURE_CODES[err.reason];
        lastError = new DiscoveryError(
          code,
          question.name,
          `${question.type} query to ${formatServer(server)}: ${err.message}`,
          {
            cause: err,
          },
        );
        if (code === 'ECANCELLED') throw lastError;
      }
    }
    throw (
      lastError ??
      new DiscoveryError('ETIMEOUT', question.name, `no ${question.type} answer before the lookup deadline`)
    );
  }

  private async send(
    transport: Transport,
    server: DnsServer,
    query: ReturnType<typeof buildQuery>,
    question: Question,
    name: TransportName,
    timeoutMs: number,
    signal: AbortSignal | undefined,
  ): Promise<Reply> {
    try {
      const reply = await transport(server, query, { timeoutMs, signal });
      this.deps.onAttempt?.({ question, server, transport: name, outcome: reply.rcode });
      return reply;
    } catch (err) {
      const outcome = err instanceof AttemptError ? err.reason : 'error';
      this.deps.onAttempt?.({ question, server, transport: name, outcome });
      throw err;
    }
  }
}
