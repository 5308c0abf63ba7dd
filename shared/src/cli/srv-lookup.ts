/**
 * `srv-lookup <name> [--server ip[:port]] [--json]`: what the discovery client sees for an SRV name, for
 * use on an ECS instance or in a container when discovery misbehaves. Exit 0 when endpoints were found,
 * 2 when the name has none (NXDOMAIN/NODATA), 1 on any other error.
 */
import { parseArgs } from 'node:util';
import { DiscoveryError } from '../errors';
import type { EndpointSet } from '../endpoint-set';
import { SrvResolver } from '../resolver';
import { rfc2782Order } from '../select';

const USAGE = `usage: srv-lookup <srv-name> [--server ip[:port]]... [--timeout ms] [--json]

  <srv-name>          e.g. service_b.ecs.internal
  --server, -s        DNS server to ask (repeatable, or a comma list); default: /etc/resolv.conf
  --timeout, -t       overall deadline in ms (default 4000)
  --json              machine-readable output
Exit: 0 endpoints found, 2 the name has none (NXDOMAIN/NODATA), 1 any other error.`;

/** Exit codes, as documented in README. */
export const EXIT = { found: 0, error: 1, none: 2 } as const;

/** Runs the CLI with `argv` (without node and script), writing to `out`/`err`; resolves with the exit code. */
export async function main(
  argv: string[],
  out: (s: string) => void = (s) => process.stdout.write(s),
  err: (s: string) => void = (s) => process.stderr.write(s),
): Promise<number> {
  let args;
  try {
    args = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        server: { type: 'string', short: 's', multiple: true },
        timeout: { type: 'string', short: 't' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (e) {
    err(`srv-lookup: ${(e as Error).message}\n${USAGE}\n`);
    return EXIT.error;
  }
  if (args.values.help) {
    out(`${USAGE}\n`);
    return EXIT.found;
  }
  const name = args.positionals[0];
  if (!name || args.positionals.length > 1) {
    err(`srv-lookup: expected exactly one SRV name\n${USAGE}\n`);
    return EXIT.error;
  }
  const timeout = args.values.timeout === undefined ? 4000 : Number(args.values.timeout);
  if (!Number.isInteger(timeout) || timeout <= 0) {
    err(`srv-lookup: --timeout must be a positive number of milliseconds\n`);
    return EXIT.error;
  }
  const servers = args.values.server?.flatMap((s) => s.split(',')).filter((s) => s.trim() !== '');

  let resolver: SrvResolver;
  try {
    resolver = new SrvResolver({ servers, lookupTimeoutMs: timeout });
  } catch (e) {
    err(`srv-lookup: ${(e as Error).message}\n`);
    return EXIT.error;
  }
  const started = process.hrtime.bigint();
  try {
    const set = await resolver.lookup(name);
    const elapsedMs = Number(process.hrtime.bigint() - started) / 1e6;
    out(args.values.json ? `${JSON.stringify(toJson(set, elapsedMs), null, 2)}\n` : toText(set, elapsedMs));
    return EXIT.found;
  } catch (e) {
    const elapsedMs = Number(process.hrtime.bigint() - started) / 1e6;
    const code = e instanceof DiscoveryError ? e.code : 'ERROR';
    const none = code === 'ENOTFOUND' || code === 'ENODATA';
    if (args.values.json)
      out(`${JSON.stringify({ name, error: { code, message: (e as Error).message }, elapsedMs })}\n`);
    else
      err(
        `srv-lookup: ${none ? 'no endpoints' : 'lookup failed'}: ${(e as Error).message} (${elapsedMs.toFixed(1)} ms)\n`,
      );
    return none ? EXIT.none : EXIT.error;
  } finally {
    resolver.close();
  }
}

function toJson(set: EndpointSet, elapsedMs: number) {
  return {
    name: set.name,
    server: set.server,
    transport: set.transport,
    elapsedMs: Math.round(elapsedMs * 1000) / 1000,
    ttlSeconds: set.ttlSeconds,
    endpoints: set.endpoints,
    rfc2782Order: rfc2782Order(set.endpoints, Math.random).map((e) => e.key),
    rejected: set.rejected,
  };
}

function toText(set: EndpointSet, elapsedMs: number): string {
  const order = rfc2782Order(set.endpoints, Math.random);
  const rows = order.map((e, i) => [
    String(i + 1),
    String(e.priority),
    String(e.weight),
    String(e.port),
    e.target,
    e.address,
    e.addressSource === 'additional' ? 'additional' : 'A query',
    String(e.ttlSeconds),
  ]);
  const header = ['order', 'prio', 'weight', 'port', 'target', 'address', 'address from', 'ttl'];
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  const line = (cells: string[]): string =>
    `  ${cells.map((cell, c) => cell.padEnd(widths[c]!)).join('  ')}`.trimEnd();
  const lines = [
    `${set.name}: ${set.endpoints.length} endpoint(s) from ${set.server} over ${set.transport.toUpperCase()} in ${elapsedMs.toFixed(1)} ms; effective TTL ${set.ttlSeconds} s`,
    line(header),
    ...rows.map(line),
    ...set.rejected.map((r) => `  refused: ${r.target}: ${r.reason}`),
    `(order: one RFC 2782 draw — lowest priority first, weighted within a priority)`,
  ];
  return `${lines.join('\n')}\n`;
}
