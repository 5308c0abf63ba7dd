import { DiscoveryError } from './errors';

/**
 * Waits for `work`, or rejects with ECANCELLED as soon as `signal` aborts (the work itself goes on: it
 * may be shared with other callers).
 */
export function abortable<T>(work: Promise<T>, signal: AbortSignal | undefined, name: string): Promise<T> {
  if (!signal) return work;
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(new DiscoveryError('ECANCELLED', name, 'aborted by the caller'));
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
