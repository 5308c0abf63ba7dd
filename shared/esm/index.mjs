// ESM entry of @ecs-srv/shared: the CommonJS build's exports by name (one implementation, so `instanceof`
// holds whichever way a module was loaded). shared/test/package.test.ts keeps this list equal to the build's.
import cjs from '../dist/index.js';

export const {
  DiscoveryError,
  isDiscoveryError,
  UpstreamError,
  classifyError,
  SrvResolver,
  CloudMapSource,
  CloudMapApiError,
  EndpointCaller,
  callWithDeadline,
  EndpointHealth,
  formatServer,
  parseServerList,
} = cjs;
export default cjs;
