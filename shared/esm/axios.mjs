// ESM entry of @ecs-srv/shared/axios (see index.mjs).
import cjs from '../dist/axios.js';

export const { SrvHttpClient, toUpstreamError, createUndiciAdapter, SRV_HOST, AxiosFastPath } = cjs;
export default cjs;
