import type { JobEvent } from '@app/contracts';
import { randomUUID } from 'crypto';
import { execFileSync } from 'child_process';
import { freePort, testRedisUrl } from '@app/testing';
import { MemoryJobEventBus, RedisJobEventBus, type JobEventBus } from './job-event-bus';

const status = (jobId: string, s: 'running' | 'completed'): JobEvent => ({ type: 'status', job_id: jobId, status: s, at: new Date().toISOString() });

function received(bus: JobEventBus, jobId: string): Promise<{ events: JobEvent[]; stop: () => Promise<void> }> {
  const events: JobEvent[] = [];
  return bus.subscribe(jobId, (e) => events.push(e)).then((stop) => ({ events, stop }));
}

async function until(check: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('MemoryJobEventBus', () => {
  it('delivers a job’s events to its subscribers only, until they unsubscribe', async () => {
    const bus = new MemoryJobEventBus();
    const a = await received(bus, 'a');
    const b = await received(bus, 'b');
    await bus.publish(status('a', 'running'));
    await a.stop();
    await bus.publish(status('a', 'completed'));
    expect(a.events.map((e) => e.type === 'status' && e.status)).toEqual(['running']);
    expect(b.events).toEqual([]);
  });
});

describe('RedisJobEventBus (real Redis)', () => {
  const prefix = `test-events-${randomUUID().slice(0, 8)}`;
  it('carries events between two processes’ buses, one channel per job', async () => {
    const producer = new RedisJobEventBus(testRedisUrl(), prefix);
    const gateway = new RedisJobEventBus(testRedisUrl(), prefix);
    try {
      const jobId = randomUUID();
      const first = await received(gateway, jobId);
      const second = await received(gateway, jobId);
      const other = await received(gateway, randomUUID());
      await producer.publish(status(jobId, 'running'));
      await producer.publish({ type: 'epoch', job_id: jobId, progress: 50, epoch: 1, total_epochs: 2, metrics: { loss: 0.5 }, at: new Date().toISOString() });
      await until(() => first.events.length === 2 && second.events.length === 2);
      expect(first.events[1]).toMatchObject({ type: 'epoch', metrics: { loss: 0.5 } });
      await first.stop();
      await producer.publish(status(jobId, 'completed'));
      await until(() => second.events.length === 3);
      expect(first.events).toHaveLength(2);
      expect(other.events).toEqual([]);
    } finally {
      await producer.close();
      await gateway.close();
    }
  });

  it('subscribes while Redis is away without failing, and every channel carries events again once it is back', async () => {
    // A Redis of this test's own, so it can be stopped and started again on the same port.
    const port = await freePort();
    const start = () => execFileSync('redis-server', ['--daemonize', 'yes', '--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no']);
    const stop = () => execFileSync('redis-cli', ['-p', String(port), 'shutdown', 'nosave']);
    start();
    const url = `redis://127.0.0.1:${port}`;
    const gateway = new RedisJobEventBus(url, prefix);
    const producer = new RedisJobEventBus(url, prefix);
    try {
      const [earlier, later] = [randomUUID(), randomUUID()];
      const before = await received(gateway, earlier);
      stop();
      await until(() => (gateway as unknown as { subscriber: { status: string } }).subscriber.status !== 'ready', 5000);
      const during = await received(gateway, later);
      start();
      // Both channels, the one subscribed before the outage and the one subscribed during it, carry events again.
      for (const deadline = Date.now() + 10_000; !(before.events.length && during.events.length) && Date.now() < deadline; ) {
        await producer.publish(status(earlier, 'running'));
        await producer.publish(status(later, 'running'));
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(before.events[0]).toMatchObject({ job_id: earlier, status: 'running' });
      expect(during.events[0]).toMatchObject({ job_id: later, status: 'running' });
    } finally {
      await producer.close();
      await gateway.close();
      try {
        stop();
      } catch {
        /* already stopped */
      }
    }
  }, 30_000);

  it('publish does not throw when Redis is unreachable', async () => {
    const bus = new RedisJobEventBus('redis://127.0.0.1:1', prefix);
    await expect(bus.publish(status(randomUUID(), 'running'))).resolves.toBeUndefined();
    await bus.close();
  });
});
