import { BlockList, SocketAddress, isIP } from 'node:net';

/**
 * Addresses a discovered endpoint may never have unless allowed: link-local (169.254.0.0/16 holds the
 * EC2 instance metadata service, the Amazon DNS server and the ECS agent's endpoints; fe80::/10), AWS's
 * IPv6 service addresses on Nitro (fd00:ec2::/32: metadata at fd00:ec2::254, DNS at ::253, time at ::123),
 * unspecified, multicast, reserved (240.0.0.0/4) and broadcast. A poisoned or mistyped record must not
 * turn the client into a metadata-credential fetcher.
 */
const REFUSED_V6 = new BlockList();
REFUSED_V6.addSubnet('fe80::', 10, 'ipv6');
REFUSED_V6.addSubnet('ff00::', 8, 'ipv6');
REFUSED_V6.addSubnet('fd00:ec2::', 32, 'ipv6');
// IPv4-compatible addresses (deprecated, RFC 4291 §2.5.5.1) and the unspecified address: never a task
// (::1 inside it is loopback, allowed below).
REFUSED_V6.addSubnet('::', 96, 'ipv6');

/** IPv6 prefixes that carry an IPv4 address in their last 32 bits: judged by that IPv4 address. */
const V4_IN_V6 = [
  { prefix: '::ffff:', block: subnet('::ffff:0:0', 96) }, // IPv4-mapped (RFC 4291 §2.5.5.2)
  { prefix: '::ffff:0:', block: subnet('::ffff:0:0:0', 96) }, // IPv4-translated (RFC 2765 §2.1)
  { prefix: '64:ff9b::', block: subnet('64:ff9b::', 96) }, // NAT64 well-known prefix (RFC 6052)
  { prefix: '64:ff9b:1:', block: subnet('64:ff9b:1::', 48) }, // local-use NAT64 (RFC 8215)
];

function subnet(address: string, prefix: number): BlockList {
  const list = new BlockList();
  list.addSubnet(address, prefix, 'ipv6');
  return list;
}

/**
 * The address to dial for a discovered `address`, or undefined when it is refused or not an IP at all.
 * IPv4-mapped IPv6 addresses (`::ffff:169.254.169.254`) are turned into their IPv4 form first, so the
 * policy sees what the kernel would dial; NAT64 addresses are judged by the IPv4 address they embed.
 */
export function dialableAddress(address: string): string | undefined {
  const family = isIP(address);
  if (family === 4) return isAllowedIPv4(address) ? address : undefined;
  if (family !== 6) return undefined;
  const canonical = new SocketAddress({ address, family: 'ipv6' }).address;
  for (const { prefix, block } of V4_IN_V6) {
    if (!block.check(canonical, 'ipv6')) continue;
    const v4 = embeddedIPv4(canonical);
    if (v4 === undefined || !isAllowedIPv4(v4)) return undefined;
    return prefix === '::ffff:' ? v4 : canonical;
  }
  if (canonical === '::1') return canonical; // loopback, allowed as 127.0.0.0/8 is (local runs)
  return REFUSED_V6.check(canonical, 'ipv6') ? undefined : canonical;
}

/** True when `address` is a valid IP outside the refused ranges above. */
export function isAllowedAddress(address: string): boolean {
  return dialableAddress(address) !== undefined;
}

/** The IPv4 address in the last 32 bits of a canonical IPv6 address. */
function embeddedIPv4(canonical: string): string | undefined {
  const tail = canonical.slice(canonical.lastIndexOf(':') + 1);
  if (isIP(tail) === 4) return tail; // written dotted (::ffff:1.2.3.4)
  // Written as hex groups (64:ff9b::a9fe:a9fe): the last two groups.
  const groups = canonical.split(':');
  const hi = parseInt(groups.at(-2) || '0', 16);
  const lo = parseInt(groups.at(-1) || '0', 16);
  if (!Number.isFinite(hi) || !Number.isFinite(lo)) return undefined;
  return [hi >> 8, hi & 255, lo >> 8, lo & 255].join('.');
}

function isAllowedIPv4(address: string): boolean {
  // By its first octets: BlockList.check allocates a SocketAddress per call, which showed in the
  // cold-lookup profile (IPv4 is what Cloud Map publishes in bridge mode).
  const dot = address.indexOf('.');
  const first = Number(address.slice(0, dot));
  if (first === 0 || first >= 224) return false; // 0.0.0.0/8, multicast 224/4, 240/4 incl. broadcast
  if (first === 169 && address.startsWith('169.254.')) return false; // link-local, instance metadata
  return true;
}
