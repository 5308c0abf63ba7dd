/**
 * The axios integration, an entry point of its own so that `@ecs-srv/shared` does not load axios:
 * `import { SrvHttpClient } from '@ecs-srv/shared/axios'` (axios is an optional peer dependency).
 */
export { SrvHttpClient, toUpstreamError } from './http';
export { SRV_HOST, createUndiciAdapter } from './integrations/axios-undici-adapter';
export type { UndiciAdapterOptions } from './integrations/axios-undici-adapter';
export type { HttpClientStats, SrvHttpClientOptions, SrvRequestConfig } from './http';
export { AxiosFastPath } from './integrations/axios-fast-path';
