import { QueueUnavailableError } from './queue.errors';

/** ioredis connection states in which a command would only wait in its offline queue. */
const OFFLINE = new Set(['reconnecting', 'close', 'end']);

/** Whether a command on `client` now would only wait for a reconnection (not the first connection). */
export const isRedisOffline = (client: { status: string }): boolean => OFFLINE.has(client.status);

/**
 * Runs a Redis call but gives up after `timeoutMs`: ioredis queues commands while it reconnects, so without this a
 * request (or a health probe) would hang for as long as Redis is away. While `client` is known to be disconnected the
 * call fails at once instead, so requests during an outage are not each held for the whole timeout. Failures become
 * QueueUnavailableError.
 */
export async function withRedisTimeout<T>(what: string, timeoutMs: number, work: () => Promise<T>, client: { status: string }): Promise<T> {
  if (isRedisOffline(client)) throw new QueueUnavailableError(`Redis is unreachable (connection ${client.status}; could not ${what})`);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new QueueUnavailableError(`Redis did not answer within ${timeoutMs} ms (${what})`)), timeoutMs);
  });
  try {
    return await Promise.race([work(), timeout]);
  } catch (err) {
    if (err instanceof QueueUnavailableError) throw err;
    throw new QueueUnavailableError(`could not ${what}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  } finally {
    clearTimeout(timer);
  }
}
