import { promises as dns } from 'node:dns';
import { SocketAddress, isIP } from 'node:net';

/** A DNS server to ask: address and port. */
export interface DnsServer {
  host: string;
  port: number;
  /** 4 or 6. */
  family: 4 | 6;
}

/**
 * Parses `ip`, `ip:port`, `[ipv6]` or `[ipv6]:port` (port defaults to 53).
 * @throws {TypeError} naming the bad entry.
 */
export function parseServer(spec: string): DnsServer {
  const s = spec.trim();
  let host = s;
  let port = 53;
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(s);
  const v4WithPort = /^([^:]+):(\d+)$/.exec(s);
  if (bracketed) {
    host = bracketed[1]!;
    if (bracketed[2] !== undefined) port = Number(bracketed[2]);
  } else if (v4WithPort) {
    host = v4WithPort[1]!;
    port = Number(v4WithPort[2]);
  }
  const family = isIP(host);
  if (family === 0)
    throw new TypeError(`DNS server "${spec}" is not an IP address (expected ip, ip:port or [ipv6]:port)`);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new TypeError(`DNS server "${spec}" has an invalid port (expected 1-65535)`);
  }
  // Canonical form (RFC 5952): replies are matched on their source address, which the kernel reports
  // canonically, so `0:0:0:0:0:0:0:1` must become `::1` or every reply from it would be dropped.
  const canonical = family === 6 ? new SocketAddress({ address: host, family: 'ipv6' }).address : host;
  return { host: canonical, port, family: family as 4 | 6 };
}

/** `server` with its host in canonical form (a server given as an object skips `parseServer`). @throws {TypeError} */
export function canonicalServer(server: DnsServer): DnsServer {
  return parseServer(formatServer(server));
}

/** Parses a comma-separated list such as `DNS_SERVERS`. @throws {TypeError} on an empty list or a bad entry. */
export function parseServerList(list: string): DnsServer[] {
  const entries = list
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e !== '');
  if (entries.length === 0) throw new TypeError('the DNS server list is empty');
  return entries.map(parseServer);
}

/**
 * The system's resolvers as Node read them from /etc/resolv.conf at start-up (on ECS in bridge mode: the
 * host's resolvers, i.e. the VPC resolver).
 */
export function systemServers(): DnsServer[] {
  return new dns.Resolver().getServers().map(parseServer);
}

/** `host:port`, with brackets for IPv6. */
export function formatServer(server: DnsServer): string {
  return server.family === 6 ? `[${server.host}]:${server.port}` : `${server.host}:${server.port}`;
}
