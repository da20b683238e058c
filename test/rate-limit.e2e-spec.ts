import { Controller, Get, Module } from '@nestjs/common';
import Redis from 'ioredis';
import request from 'supertest';
import { createDistributedEnv, createTenantSession, type DistributedEnv, startGateway, type TenantSession, type TestGateway } from '@app/testing';

const PROBLEM = /^application\/problem\+json/;

@Controller('test-rate')
class PingController {
  @Get('ping')
  ping() {
    return { pong: true };
  }
}

@Module({ controllers: [PingController] })
class PingModule {}

describe('rate limiting (embedded gateway, in-memory counters)', () => {
  let gw: TestGateway;
  let alice: TenantSession;
  let bob: TenantSession;

  beforeAll(async () => {
    gw = await startGateway({ env: { RATE_LIMIT_REQUESTS: '3', RATE_LIMIT_PERIOD: '60' }, imports: [PingModule] });
    alice = await createTenantSession(gw, 'alice');
    bob = await createTenantSession(gw, 'bob');
  });
  afterAll(() => gw?.close());

  it('counts every route against one budget per key, with X-RateLimit-* on each answer and a 429 past it', async () => {
    const first = await request(gw.url).post('/auth/token').set(alice.headers).expect(200);
    expect(first.headers['x-ratelimit-limit']).toBe('3');
    expect(first.headers['x-ratelimit-remaining']).toBe('2');
    const reset = Number(first.headers['x-ratelimit-reset']);
    expect(reset).toBeGreaterThan(0);
    expect(reset).toBeLessThanOrEqual(60);

    // A bearer token of the same key shares the key's budget.
    const second = await request(gw.url).get('/test-rate/ping').set('Authorization', `Bearer ${first.body.access_token}`).expect(200);
    expect(second.headers['x-ratelimit-remaining']).toBe('1');
    const third = await request(gw.url).post('/auth/token').set(alice.headers).expect(200);
    expect(third.headers['x-ratelimit-remaining']).toBe('0');

    const limited = await request(gw.url).post('/auth/token').set(alice.headers);
    expect(limited.status).toBe(429);
    expect(limited.headers['content-type']).toMatch(PROBLEM);
    expect(limited.body).toMatchObject({ status: 429, code: 'rate_limited', title: 'Too Many Requests' });
    const retryAfter = Number(limited.headers['retry-after']);
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(limited.body.detail).toContain(`retry after ${retryAfter} seconds`);
    expect(limited.headers['x-ratelimit-limit']).toBe('3');
    expect(limited.headers['x-ratelimit-remaining']).toBe('0');
    expect(limited.headers['x-ratelimit-reset']).toBe(String(retryAfter));
    expect(limited.body.request_id).toBe(limited.headers['x-request-id']);
  });

  it('gives another key its own budget', async () => {
    const res = await request(gw.url).post('/auth/token').set(bob.headers).expect(200);
    expect(res.headers['x-ratelimit-remaining']).toBe('2');
  });

  it('limits anonymous callers per IP on public routes, but never the health probes', async () => {
    for (let i = 0; i < 3; i++) await request(gw.url).get('/').expect(200);
    const limited = await request(gw.url).get('/');
    expect(limited.status).toBe(429);
    for (let i = 0; i < 10; i++) {
      for (const path of ['/health', '/health/live', '/health/ready']) {
        const res = await request(gw.url).get(path).expect(200);
        expect(res.headers['x-ratelimit-limit']).toBeUndefined();
      }
    }
    await request(gw.url).get('/openapi.json').expect(200);
  });
});

describe('RATE_LIMIT_ENABLED=false', () => {
  it('sends no X-RateLimit-* headers and never answers 429', async () => {
    const gw = await startGateway({ env: { RATE_LIMIT_ENABLED: 'false', RATE_LIMIT_REQUESTS: '1' } });
    try {
      const session = await createTenantSession(gw);
      for (let i = 0; i < 4; i++) {
        const res = await request(gw.url).post('/auth/token').set(session.headers).expect(200);
        expect(res.headers['x-ratelimit-limit']).toBeUndefined();
      }
    } finally {
      await gw.close();
    }
  });
});

describe('rate limiting across two gateways on one Redis (distributed mode)', () => {
  let env: DistributedEnv;
  let a: TestGateway;
  let b: TestGateway;

  beforeAll(async () => {
    env = await createDistributedEnv();
    const limits = { RATE_LIMIT_REQUESTS: '5', RATE_LIMIT_PERIOD: '60' };
    a = await startGateway({ distributed: env, env: limits });
    b = await startGateway({ distributed: env, env: limits });
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await env?.dispose();
  });

  it('shares one budget per key: requests through either gateway count against it', async () => {
    expect(a.url).not.toBe(b.url);
    const session = await createTenantSession(a, 'shared');
    const remaining: string[] = [];
    for (const gw of [a, b, a, b, a]) {
      const res = await request(gw.url).post('/auth/token').set(session.headers).expect(200);
      remaining.push(res.headers['x-ratelimit-remaining']);
    }
    expect(remaining).toEqual(['4', '3', '2', '1', '0']);
    for (const gw of [b, a]) {
      const res = await request(gw.url).post('/auth/token').set(session.headers);
      expect(res.status).toBe(429);
      expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
    }

    // The counters live under the environment's own prefix, not in either process.
    const redis = new Redis(env.redisUrl);
    try {
      const keys = await redis.keys(`${env.redisPrefix}:ratelimit:*`);
      expect(keys.some((k) => k.includes(`key:${session.apiKeyId}`))).toBe(true);
    } finally {
      redis.disconnect();
    }

    const other = await createTenantSession(b, 'other');
    const res = await request(a.url).post('/auth/token').set(other.headers).expect(200);
    expect(res.headers['x-ratelimit-remaining']).toBe('4');
  });
});
