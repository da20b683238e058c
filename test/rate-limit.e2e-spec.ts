import { ApiKeysRepository } from '@app/persistence';
import { Controller, Get, Module } from '@nestjs/common';
import { randomUUID } from 'crypto';
import Redis from 'ioredis';
import request from 'supertest';
import { createTenantSession, type DistributedEnv, type GatewayCluster, startGateway, startGateways, type TenantSession, type TestGateway } from '@app/testing';

const PROBLEM = /^application\/problem\+json/;
const SCOPES = ['read', 'write', 'predict'];
const TINY = 'network Tiny {\n  input: (28, 28, 1)\n  layers:\n    Flatten()\n    Output(units=10, activation="softmax")\n  loss: "sparse_categorical_crossentropy"\n  optimizer: Adam(learning_rate=0.001)\n}';

/** A second API key of the session's tenant. */
async function secondKey(gw: TestGateway, session: TenantSession): Promise<Record<string, string>> {
  const { plaintextKey } = await gw.get(ApiKeysRepository).create(session.tenantId, 'second key', SCOPES);
  return { [gw.config.auth.apiKeyHeader]: plaintextKey };
}

/** One request to each kind of expensive route, chosen by `i`; the guard counts it whatever the body makes of it. */
function expensive(gw: TestGateway, headers: Record<string, string>, i: number): request.Test {
  const calls = [
    () => request(gw.url).post('/compile/sync').send({ dsl_code: TINY, backend: 'tensorflow' }),
    () => request(gw.url).post('/jobs/train').send({}),
    () => request(gw.url).post(`/deployments/${randomUUID()}/predict`).send({ instances: [[0]] }),
    () => request(gw.url).post('/compile').send({}),
  ];
  return calls[i % calls.length]().set(headers);
}

const expensiveHeaders = (res: request.Response) => ({
  limit: res.headers['x-ratelimit-limit-expensive'],
  remaining: res.headers['x-ratelimit-remaining-expensive'],
  reset: res.headers['x-ratelimit-reset-expensive'],
});

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
    expect(limited.body.detail).toContain('request budget of this API key, 3 per 60 s');
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
  let cluster: GatewayCluster;
  let env: DistributedEnv;
  let a: TestGateway;
  let b: TestGateway;

  beforeAll(async () => {
    cluster = await startGateways(2, { RATE_LIMIT_REQUESTS: '5', RATE_LIMIT_PERIOD: '60', RATE_LIMIT_EXPENSIVE_REQUESTS: '3', RATE_LIMIT_EXPENSIVE_PERIOD: '60' });
    ({ distributed: env, gateways: [a, b] } = cluster);
  });
  afterAll(async () => {
    await cluster?.close();
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

  it('shares the expensive budget of a tenant across gateways and keys, in Redis keys that expire with their window', async () => {
    const session = await createTenantSession(a, 'shared-expensive', SCOPES);
    const other = await secondKey(a, session);
    const remaining: string[] = [];
    for (const [i, [gw, headers]] of ([[a, session.headers], [b, other], [a, other]] as const).entries()) {
      const res = await expensive(gw, headers, i);
      expect(res.status).not.toBe(429);
      remaining.push(res.headers['x-ratelimit-remaining-expensive']);
    }
    expect(remaining).toEqual(['2', '1', '0']);
    for (const [gw, headers] of [[b, session.headers], [a, other]] as const) {
      const res = await expensive(gw, headers, 0);
      expect(res.status).toBe(429);
      expect(expensiveHeaders(res)).toEqual({ limit: '3', remaining: '0', reset: res.headers['retry-after'] });
      expect(res.body.detail).toContain('expensive-route budget');
    }

    const redis = new Redis(env.redisUrl);
    try {
      const keys = await redis.keys(`${env.redisPrefix}:ratelimit:*`);
      expect(keys.some((k) => k.includes(`expensive:tenant:${session.tenantId}`))).toBe(true);
      // Every counter and block carries a TTL no longer than its window: nothing stays behind once clients go away.
      for (const key of keys) {
        const ttl = await redis.pttl(key);
        expect(ttl).toBeGreaterThan(0);
        expect(ttl).toBeLessThanOrEqual(60_000);
      }
    } finally {
      redis.disconnect();
    }
  });
});

describe('the expensive budget (embedded gateway)', () => {
  let gw: TestGateway;

  beforeAll(async () => {
    gw = await startGateway({ env: { RATE_LIMIT_REQUESTS: '100', RATE_LIMIT_EXPENSIVE_REQUESTS: '3', RATE_LIMIT_EXPENSIVE_PERIOD: '60' } });
  });
  afterAll(() => gw?.close());

  it('is shared by all keys of a tenant, leaves cheap routes alone and other tenants unaffected, and says so in its 429', async () => {
    const acme = await createTenantSession(gw, 'acme', SCOPES);
    const acme2 = await secondKey(gw, acme);

    for (let i = 0; i < 4; i++) {
      const cheap = await request(gw.url).get('/jobs').set(acme.headers).expect(200);
      expect(expensiveHeaders(cheap)).toEqual({ limit: undefined, remaining: undefined, reset: undefined });
    }

    const compiled = await expensive(gw, acme.headers, 0).expect(200);
    expect(expensiveHeaders(compiled)).toMatchObject({ limit: '3', remaining: '2' });
    expect(Number(compiled.headers['x-ratelimit-reset-expensive'])).toBeGreaterThan(0);
    // The per-key budget counts the expensive request too.
    expect(compiled.headers['x-ratelimit-remaining']).toBe('95');

    const trained = await expensive(gw, acme2, 1).expect(422);
    expect(trained.headers['x-ratelimit-remaining-expensive']).toBe('1');
    expect(trained.headers['x-ratelimit-remaining']).toBe('99');
    const predicted = await expensive(gw, acme.headers, 2).expect(404);
    expect(predicted.headers['x-ratelimit-remaining-expensive']).toBe('0');

    const limited = await expensive(gw, acme2, 3);
    expect(limited.status).toBe(429);
    expect(limited.headers['content-type']).toMatch(PROBLEM);
    expect(limited.body).toMatchObject({ status: 429, code: 'rate_limited', title: 'Too Many Requests' });
    const retryAfter = Number(limited.headers['retry-after']);
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(expensiveHeaders(limited)).toEqual({ limit: '3', remaining: '0', reset: String(retryAfter) });
    expect(limited.headers['retry-after-expensive']).toBe(String(retryAfter));
    expect(limited.body.detail).toBe(
      `Too many requests: the expensive-route budget (compile, train, predict) of this tenant, 3 per 60 s shared by all of its API keys, is used up; retry after ${retryAfter} seconds.`,
    );
    // The key's own budget was not what ran out, and its headers still say so.
    expect(limited.headers['x-ratelimit-limit']).toBe('100');
    expect(limited.headers['x-ratelimit-remaining']).toBe('98');

    for (const headers of [acme.headers, acme2]) {
      expect((await expensive(gw, headers, 0)).status).toBe(429);
      await request(gw.url).get('/jobs').set(headers).expect(200);
    }

    const other = await createTenantSession(gw, 'other', SCOPES);
    const res = await expensive(gw, other.headers, 0).expect(200);
    expect(res.headers['x-ratelimit-remaining-expensive']).toBe('2');
  });
});

describe('TRUST_PROXY', () => {
  const anonymous = (gw: TestGateway, forwardedFor: string) => request(gw.url).get('/').set('X-Forwarded-For', forwardedFor);

  it('is off by default: X-Forwarded-For does not give an anonymous caller a fresh bucket', async () => {
    const gw = await startGateway({ env: { RATE_LIMIT_REQUESTS: '2' } });
    try {
      expect(gw.config.http.trustProxy).toBe(false);
      await anonymous(gw, '198.51.100.1').expect(200);
      await anonymous(gw, '198.51.100.1').expect(200);
      expect((await anonymous(gw, '198.51.100.2')).status).toBe(429);
      expect((await request(gw.url).get('/')).status).toBe(429);
    } finally {
      await gw.close();
    }
  });

  it('set to the proxy, limits per client address behind it, which a client cannot spoof by prepending its own', async () => {
    const gw = await startGateway({ env: { RATE_LIMIT_REQUESTS: '2', TRUST_PROXY: 'loopback' } });
    try {
      await anonymous(gw, '198.51.100.1').expect(200);
      await anonymous(gw, '198.51.100.1').expect(200);
      expect((await anonymous(gw, '198.51.100.1')).status).toBe(429);
      // The proxy appends the address it saw: only the entries before it are the client's to choose.
      expect((await anonymous(gw, '203.0.113.9, 198.51.100.1')).status).toBe(429);
      await anonymous(gw, '198.51.100.2').expect(200);
    } finally {
      await gw.close();
    }
  });
});

describe('failed authentications (AUTH_FAILURE_LIMIT)', () => {
  const bad = { 'X-API-Key': 'nk_not_a_key_of_ours_0000000000' };

  it('refuses an address with 429 after the limit, good key or not, until its window ends', async () => {
    const gw = await startGateway({ env: { AUTH_FAILURE_LIMIT: '3', AUTH_FAILURE_PERIOD: '2' } });
    try {
      const session = await createTenantSession(gw);
      for (let i = 0; i < 3; i++) await request(gw.url).get('/jobs').set(bad).expect(401);
      const blocked = await request(gw.url).get('/jobs').set(bad);
      expect(blocked.status).toBe(429);
      expect(blocked.headers['content-type']).toMatch(PROBLEM);
      expect(blocked.body).toMatchObject({ status: 429, code: 'rate_limited' });
      expect(blocked.body.detail).toMatch(/failed authentications from this address/);
      const retryAfter = Number(blocked.headers['retry-after']);
      expect(retryAfter).toBeGreaterThan(0);
      expect(retryAfter).toBeLessThanOrEqual(2);

      const good = await request(gw.url).get('/jobs').set(session.headers);
      expect(good.status).toBe(429);
      expect(Number(good.headers['retry-after'])).toBeGreaterThan(0);

      // The window's end is the behaviour under test: wait it out (at most the 2 s period).
      await new Promise((resolve) => setTimeout(resolve, Number(good.headers['retry-after']) * 1000));
      await request(gw.url).get('/jobs').set(session.headers).expect(200);
      await request(gw.url).get('/jobs').set(bad).expect(401);
    } finally {
      await gw.close();
    }
  });

  it('counts an IPv6 client per /64 (behind a trusted proxy)', async () => {
    const gw = await startGateway({ env: { AUTH_FAILURE_LIMIT: '3', AUTH_FAILURE_PERIOD: '60', TRUST_PROXY: 'loopback' } });
    try {
      const session = await createTenantSession(gw);
      const from = (address: string, headers: Record<string, string>) => request(gw.url).get('/jobs').set(headers).set('X-Forwarded-For', address);
      for (const address of ['2001:db8:1:2::a', '2001:db8:1:2::b', '2001:0db8:0001:0002:0000:0000:0000:000c']) await from(address, bad).expect(401);
      expect((await from('2001:db8:1:2::d', bad)).status).toBe(429);
      // A new address of the same /64 is refused before its (good) key is even checked; the next /64 is not.
      expect((await from('2001:db8:1:2:ffff::1', session.headers)).status).toBe(429);
      await from('2001:db8:1:3::1', session.headers).expect(200);
      await from('203.0.113.5', session.headers).expect(200);
    } finally {
      await gw.close();
    }
  });

  describe('across two gateways on one Redis', () => {
    let cluster: GatewayCluster;
    let env: DistributedEnv;
    let a: TestGateway;
    let b: TestGateway;

    beforeAll(async () => {
      cluster = await startGateways(2, { AUTH_FAILURE_LIMIT: '3', AUTH_FAILURE_PERIOD: '60' });
      ({ distributed: env, gateways: [a, b] } = cluster);
    });
    afterAll(() => cluster?.close());

    it('shares the count: failures through either gateway add up', async () => {
      const session = await createTenantSession(a);
      for (const gw of [a, b, a]) await request(gw.url).get('/jobs').set(bad).expect(401);
      const blocked = await request(b.url).get('/jobs').set(bad);
      expect(blocked.status).toBe(429);
      expect(Number(blocked.headers['retry-after'])).toBeGreaterThan(0);
      expect((await request(b.url).get('/jobs').set(session.headers)).status).toBe(429);

      const redis = new Redis(env.redisUrl);
      try {
        const key = `${env.redisPrefix}:ratelimit:authfail:127.0.0.1`;
        expect(await redis.get(key)).toBe('4');
        const ttl = await redis.pttl(key);
        expect(ttl).toBeGreaterThan(0);
        expect(ttl).toBeLessThanOrEqual(60_000);
      } finally {
        redis.disconnect();
      }
    });
  });
});
