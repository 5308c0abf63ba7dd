/** The Cloud Map-like dev DNS server: `import { DevDnsServer } from '@ecs-srv/dev-server'`. */
export { DevDnsServer } from './server';
export { loadDevServerConfig } from './main';
export type { DevServerConfig, DevServerRegistration } from './main';
export type { DevDnsQueryEvent, DevDnsServerEvents, DevDnsServerOptions, DevDnsStats } from './server';
export type { DevDnsInstance } from './registry';
export type {
  CloudMapApi as DevCloudMapApi,
  CloudMapApiOptions as DevCloudMapApiOptions,
  CloudMapApiStats as DevCloudMapApiStats,
  CloudMapFault as DevCloudMapFault,
  CloudMapFaultScope as DevCloudMapFaultScope,
  CloudMapOperation as DevCloudMapOperation,
} from './cloudmap-api';
export type { Transport as DevDnsTransport } from './respond';
