import { BlockList, isIP } from 'node:net';

/**
 * Addresses a discovered endpoint may never have unless allowed: link-local (169.254.0.0/16 holds the
 * instance metadata service and the ECS agent's endpoints; fe80::/10), unspecified, multicast,
 * reserved (240.0.0.0/4) and broadcast. A poisoned or mistyped record must not turn the client into a metadata-credential fetcher.
 */
const REFUSED = new BlockList();
REFUSED.addSubnet('fe80::', 10, 'ipv6');
REFUSED.addSubnet('ff00::', 8, 'ipv6');
REFUSED.addAddress('::', 'ipv6');

/** True when `address` is a valid IP outside the refused ranges above. */
export function isAllowedAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return false;
  // IPv4 (what Cloud Map publishes in bridge mode) by its first octets: BlockList.check allocates a
  // SocketAddress per call, which showed in the cold-lookup profile.
  if (family === 4) return isAllowedIPv4(address);
  return !REFUSED.check(address, 'ipv6');
}

function isAllowedIPv4(address: string): boolean {
  const dot = address.indexOf('.');
  const first = Number(address.slice(0, dot));
  if (first === 0 || first >= 224) return false; // 0.0.0.0/8, multicast 224/4, 240/4 incl. broadcast
  if (first === 169 && address.startsWith('169.254.')) return false; // link-local, instance metadata
  return true;
}
