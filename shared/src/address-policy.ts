import { BlockList, isIP } from 'node:net';

/**
 * Addresses a discovered endpoint may never have unless allowed: link-local (169.254.0.0/16 holds the
 * instance metadata service and the ECS agent's endpoints; fe80::/10), unspecified, multicast and
 * broadcast. A poisoned or mistyped record must not turn the client into a metadata-credential fetcher.
 */
const REFUSED = new BlockList();
REFUSED.addSubnet('169.254.0.0', 16, 'ipv4');
REFUSED.addSubnet('0.0.0.0', 8, 'ipv4');
REFUSED.addSubnet('224.0.0.0', 4, 'ipv4');
REFUSED.addAddress('255.255.255.255', 'ipv4');
REFUSED.addSubnet('fe80::', 10, 'ipv6');
REFUSED.addSubnet('ff00::', 8, 'ipv6');
REFUSED.addAddress('::', 'ipv6');

/** True when `address` is a valid IP outside the refused ranges above. */
export function isAllowedAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return false;
  return !REFUSED.check(address, family === 4 ? 'ipv4' : 'ipv6');
}
