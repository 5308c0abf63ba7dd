/**
 * The undici integration (fetch), an entry point of its own: `import { discoveryInterceptor } from
 * '@ecs-srv/shared/undici'` (undici ≥ 7 is an optional peer dependency).
 */
export { discoveryInterceptor } from './integrations/undici';
export type { DiscoveryInterceptorOptions } from './integrations/undici';
