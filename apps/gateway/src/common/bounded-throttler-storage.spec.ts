import { BoundedThrottlerStorage } from './bounded-throttler-storage';

const TTL = 60_000;
const activeTimers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

describe('BoundedThrottlerStorage', () => {
  let storage: BoundedThrottlerStorage;
  afterEach(() => storage?.onApplicationShutdown());

  it('counts hits in a fixed window and blocks past the limit, like the Redis storage', async () => {
    storage = new BoundedThrottlerStorage({ maxBuckets: 10 });
    const hits = [];
    for (let i = 0; i < 4; i++) hits.push(await storage.increment('key:a', TTL, 3, TTL, 'default'));
    expect(hits.map((h) => [h.totalHits, h.isBlocked])).toEqual([
      [1, false],
      [2, false],
      [3, false],
      [4, true],
    ]);
    expect(hits[0].timeToExpire).toBe(60);
    expect(hits[3].timeToBlockExpire).toBe(60);
    // Another key, or the same key under another throttler, has its own bucket.
    expect(await storage.increment('key:b', TTL, 3, TTL, 'default')).toMatchObject({ totalHits: 1, isBlocked: false });
    expect(await storage.increment('key:a', TTL, 3, TTL, 'expensive')).toMatchObject({ totalHits: 1, isBlocked: false });
  });

  it('stays at its cap through 1,000,000 distinct keys, with one unref’d timer, and still limits', async () => {
    const before = activeTimers();
    storage = new BoundedThrottlerStorage({ maxBuckets: 1000 });
    let maxSize = 0;
    for (let i = 0; i < 1_000_000; i++) {
      await storage.increment(`ip:10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}-${i}`, TTL, 5, TTL, 'default');
      if (storage.size > maxSize) maxSize = storage.size;
    }
    expect(maxSize).toBe(1000);
    expect(storage.size).toBe(1000);
    expect(activeTimers()).toBe(before);

    for (let i = 0; i < 5; i++) await storage.increment('key:victim', TTL, 5, TTL, 'default');
    expect(await storage.increment('key:victim', TTL, 5, TTL, 'default')).toMatchObject({ isBlocked: true, totalHits: 6 });
  });

  it('drops the least recently used bucket first', async () => {
    storage = new BoundedThrottlerStorage({ maxBuckets: 3 });
    await storage.increment('a', TTL, 10, TTL, 'default');
    await storage.increment('b', TTL, 10, TTL, 'default');
    await storage.increment('c', TTL, 10, TTL, 'default');
    await storage.increment('a', TTL, 10, TTL, 'default'); // a is now the most recent: b goes next
    await storage.increment('d', TTL, 10, TTL, 'default');
    expect(storage.size).toBe(3);
    expect((await storage.increment('a', TTL, 10, TTL, 'default')).totalHits).toBe(3);
    expect((await storage.increment('b', TTL, 10, TTL, 'default')).totalHits).toBe(1);
  });

  describe('with the clock under test control', () => {
    beforeEach(() => jest.useFakeTimers({ now: new Date('2030-01-01T00:00:00Z') }));
    afterEach(() => jest.useRealTimers());

    it('starts a new window when the old one ends, and keeps a blocked key blocked for the block duration', async () => {
      storage = new BoundedThrottlerStorage({ maxBuckets: 10 });
      await storage.increment('k', 1000, 1, 5000, 'default');
      expect(await storage.increment('k', 1000, 1, 5000, 'default')).toMatchObject({ isBlocked: true, timeToBlockExpire: 5 });
      jest.setSystemTime(Date.now() + 2000);
      // The window is over but the block is not.
      expect(await storage.increment('k', 1000, 1, 5000, 'default')).toMatchObject({ totalHits: 1, isBlocked: true, timeToBlockExpire: 3 });
      jest.setSystemTime(Date.now() + 3000);
      expect(await storage.increment('k', 1000, 1, 5000, 'default')).toMatchObject({ totalHits: 1, isBlocked: false, timeToBlockExpire: 0 });
    });

    it('sweeps expired buckets with a single interval, however many keys there are', async () => {
      storage = new BoundedThrottlerStorage({ maxBuckets: 1000, sweepIntervalMs: 10_000 });
      for (let i = 0; i < 500; i++) await storage.increment(`short-${i}`, 5_000, 10, 5_000, 'default');
      await storage.increment('long', 60_000, 10, 60_000, 'default');
      expect(jest.getTimerCount()).toBe(1);
      jest.advanceTimersByTime(10_000);
      expect(storage.size).toBe(1);
      storage.onApplicationShutdown();
      expect(jest.getTimerCount()).toBe(0);
    });
  });
});
