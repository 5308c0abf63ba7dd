import os from 'node:os';

/** Where the instance id came from, for the startup log. */
export type IdentitySource = 'INSTANCE_ID' | 'ecs-metadata' | 'hostname';

/** Minimal logger for identity resolution. */
export interface IdentityLogger {
  warn(obj: object, msg?: string): void;
}

/**
 * The identity B reports: `INSTANCE_ID`, else the ECS task id (last segment of TaskARN from the task
 * metadata endpoint v4), else `<hostname>-<pid>`. A metadata failure is logged and falls through.
 */
export async function resolveInstanceId(options: {
  instanceId?: string;
  metadataUri?: string;
  logger: IdentityLogger;
  /** @default 2000 */
  timeoutMs?: number;
}): Promise<{ instanceId: string; source: IdentitySource }> {
  if (options.instanceId) return { instanceId: options.instanceId, source: 'INSTANCE_ID' };
  if (options.metadataUri) {
    try {
      return {
        instanceId: await ecsTaskId(options.metadataUri, options.timeoutMs ?? 2000),
        source: 'ecs-metadata',
      };
    } catch (err) {
      options.logger.warn(
        { err, metadataUri: options.metadataUri },
        'ECS task metadata unavailable: using hostname-pid',
      );
    }
  }
  return { instanceId: `${os.hostname()}-${process.pid}`, source: 'hostname' };
}

/** Fetches `${uri}/task` and returns the task id (TaskARN `arn:aws:ecs:region:acct:task/cluster/<id>`). */
async function ecsTaskId(uri: string, timeoutMs: number): Promise<string> {
  const res = await fetch(`${uri.replace(/\/+$/, '')}/task`, { signal: AbortSignal.timeout(timeoutMs) });
  if (!res.ok) throw new Error(`task metadata answered HTTP ${res.status}`);
  const body = (await res.json()) as { TaskARN?: unknown };
  const arn = body.TaskARN;
  const id = typeof arn === 'string' ? arn.split('/').pop() : undefined;
  if (!id || !/^[A-Za-z0-9-]{1,128}$/.test(id))
    throw new Error(`task metadata has no usable TaskARN (${String(arn)})`);
  return id;
}
