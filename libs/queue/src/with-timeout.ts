import { QueueUnavailableError } from './queue.errors';

/**
 * Runs a Redis call but gives up after `timeoutMs`: ioredis queues commands while it reconnects, so without this a
 * request (or a health probe) would hang for as long as Redis is away. Failures become QueueUnavailableError.
 */
export async function withRedisTimeout<T>(what: string, timeoutMs: number, work: () => Promise<T>): Promise<T> {
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
