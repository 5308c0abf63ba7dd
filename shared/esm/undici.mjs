// ESM entry of @ecs-srv/shared/undici (see index.mjs).
import cjs from '../dist/undici.js';

export const { discoveryInterceptor } = cjs;
export default cjs;
