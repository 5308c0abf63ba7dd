import { dialableAddress } from '../address-policy';
import { RejectionLog, type Endpoint } from '../records';
import { invalidNameReason, printable } from '../wire/message';
import type { CloudMapInstance, ServiceRef } from './api';

/** What makes an instance usable (see CloudMapSourceOptions). */
export interface InstancePolicy {
  allowUnsafeAddresses: boolean;
  /** At most this many instances are used. */
  maxInstances: number;
}

/**
 * Instances as endpoints: `AWS_INSTANCE_IPV4` (else `AWS_INSTANCE_IPV6`) and `AWS_INSTANCE_PORT` (the
 * dynamic host port in bridge mode), under the same address policy as DNS (no link-local, metadata,
 * multicast…). Malformed instances are refused and reported. The API has no priority or weight: every
 * instance gets priority 1, weight 1 (equal shares). The target is the name DNS would publish for the
 * instance, `<instance id>.<service>.<namespace>`, so the `Host` header is the same whichever source.
 */
export function endpointsFromInstances(
  instances: readonly CloudMapInstance[],
  ref: ServiceRef,
  policy: InstancePolicy,
  ttlSeconds: number,
): { endpoints: Endpoint[]; rejected: RejectionLog } {
  const rejected = new RejectionLog();
  const endpoints: Endpoint[] = [];
  const seen = new Set<string>();
  for (const instance of instances) {
    const id = String(instance.instanceId);
    const raw = instance.attributes.AWS_INSTANCE_IPV4 ?? instance.attributes.AWS_INSTANCE_IPV6;
    const portText = instance.attributes.AWS_INSTANCE_PORT;
    if (raw === undefined) {
      rejected.add(id, 'no AWS_INSTANCE_IPV4 attribute');
      continue;
    }
    const port = Number(portText);
    if (portText === undefined || !/^\d{1,5}$/.test(portText) || port < 1 || port > 65535) {
      rejected.add(id, `AWS_INSTANCE_PORT ${printable(String(portText), 20)} is not a port`);
      continue;
    }
    const address = policy.allowUnsafeAddresses ? raw : dialableAddress(raw);
    if (address === undefined) {
      rejected.add(id, `address ${printable(raw, 45)} is refused (not an IP, or in a refused range)`);
      continue;
    }
    const key = address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
    if (seen.has(key)) continue;
    if (endpoints.length === policy.maxInstances) {
      rejected.add(id, 'over the instance cap');
      continue;
    }
    seen.add(key);
    const dnsName = `${id}.${ref.service}.${ref.namespace}`.toLowerCase();
    endpoints.push({
      key,
      // An id that cannot be a host name (Cloud Map allows `/`, `:`, `@`…) is not put in a Host header.
      target:
        invalidNameReason(dnsName) === undefined ? dnsName : address.includes(':') ? `[${address}]` : address,
      address,
      port,
      priority: 1,
      weight: 1,
      ttlSeconds,
      addressSource: 'api',
    });
  }
  return { endpoints, rejected };
}
