import { IdempotencyKeysRepository } from '@app/persistence';
import { createTenantSession, jobFinished, startGateway, startPlatform, type TenantSession, type TestGateway, type TestPlatform } from '@app/testing';
import { randomUUID } from 'crypto';
import request from 'supertest';
import { requestFingerprint } from '../apps/gateway/src/common/idempotency/request-fingerprint';

const IRIS_MODEL = 'network Flowers {\n  input: (4,)\n  layers:\n    Dense(units=8, activation="relu")\n    Output(units=3, activation="softmax")\n  loss: "sparse_categorical_crossentropy"\n  optimizer: Adam(learning_rate=0.05)\n}';
const TRAIN = { dsl_code: IRIS_MODEL, backend: 'tensorflow', dataset: 'Iris', training_config: { epochs: 1, batch_size: 32 }, seed: 1 };

type Json = Record<string, any>;

const finished = (url: string, headers: Record<string, string>, jobId: string, timeoutMs = 60_000) => jobFinished(url, headers, jobId, timeoutMs);

/** One create route that takes an `Idempotency-Key`. */
interface Route {
  name: string;
  path: string;
  /** What the interceptor names the route (method and the route's path pattern). */
  route: string;
  status: number;
  /** A valid body for the tenant; each call a new one where the route needs unique values. */
  body(s?: TenantSession): Json;
  /** A body the route refuses (validation or the service). */
  invalid(): Json;
  idOf(body: Json): string;
  /** How many resources the route created for the session so far. */
  count(gw: TestGateway, s: TenantSession): Promise<number>;
}

describe.each(['embedded', 'distributed'] as const)('Idempotency-Key on create calls (%s mode)', (mode) => {
  let platform: TestPlatform;
  /** Two gateways on one database in distributed mode; the one gateway twice in embedded mode. */
  let gws: [TestGateway, TestGateway];
  let a: TenantSession;
  let b: TenantSession;
  /** A trained model of each tenant, by tenant id. */
  const models = new Map<string, string>();
  const env = { RATE_LIMIT_ENABLED: 'false', WORKER_TRAINING_CONCURRENCY: '1' };

  beforeAll(async () => {
    platform = await startPlatform(mode, env);
    const second = platform.distributed ? await startGateway({ distributed: platform.distributed, env }) : platform.gw;
    gws = [platform.gw, second];
    a = await createTenantSession(platform.gw);
    b = await createTenantSession(platform.gw);
    await Promise.all(
      [a, b].map(async (s) => {
        const train = await request(platform.gw.url).post('/jobs/train').set(s.headers).send(TRAIN).expect(202);
        const job = await finished(platform.gw.url, s.headers, train.body.job_id);
        expect(job.status).toBe('completed');
        models.set(s.tenantId, job.model_id);
      }),
    );
  });

  afterAll(async () => {
    if (gws?.[1] && gws[1] !== platform.gw) await gws[1].close();
    await platform?.close();
  });

  const jobCount = (type: string) => async (gw: TestGateway, s: TenantSession) => (await request(gw.url).get(`/jobs?type=${type}&limit=1`).set(s.headers).expect(200)).body.total as number;
  const routes: Route[] = [
    {
      name: 'POST /jobs/train',
      path: '/jobs/train',
      route: 'POST /jobs/train',
      status: 202,
      body: () => TRAIN,
      invalid: () => ({ ...TRAIN, dataset: 'NoSuchDataset' }),
      idOf: (body) => body.job_id,
      count: jobCount('train'),
    },
    {
      name: 'POST /compile/',
      path: '/compile/',
      route: 'POST /compile',
      status: 202,
      body: () => ({ dsl_code: IRIS_MODEL, backend: 'onnx' }),
      invalid: () => ({ dsl_code: IRIS_MODEL, backend: 'caffe' }),
      idOf: (body) => body.job_id,
      count: jobCount('compile'),
    },
    {
      name: 'POST /deployments/',
      path: '/deployments/',
      route: 'POST /deployments',
      status: 201,
      // 0 replicas: the deploy job runs, but no serving worker starts.
      body: (s = a) => ({ model_id: models.get(s.tenantId), deployment_name: `d-${randomUUID().slice(0, 8)}`, config: { replicas: 0 } }),
      invalid: () => ({ model_id: '00000000-0000-4000-8000-000000000000', deployment_name: 'nope', config: { replicas: 0 } }),
      idOf: (body) => body.deployment_id,
      count: async (gw, s) => (await request(gw.url).get('/deployments?limit=1').set(s.headers).expect(200)).body.total as number,
    },
  ];

  it('lets browsers send the key and read the replay header (CORS)', async () => {
    const origin = 'http://localhost:3000';
    const preflight = await request(gws[0].url).options('/jobs/train').set('Origin', origin).set('Access-Control-Request-Method', 'POST').set('Access-Control-Request-Headers', 'idempotency-key,content-type');
    expect(preflight.status).toBe(204);
    expect(preflight.headers['access-control-allow-headers']).toMatch(/Idempotency-Key/);
    const res = await request(gws[0].url).post('/compile/').set(a.headers).set('Origin', origin).send({ dsl_code: IRIS_MODEL, backend: 'onnx' }).expect(202);
    expect(res.headers['access-control-expose-headers']).toMatch(/(^|,)Idempotent-Replayed(,|$)/);
  });

  describe.each(routes)('$name', (r) => {
    const post = (gw: TestGateway, s: TenantSession, body: Json, key?: string, path = r.path) => {
      const req = request(gw.url).post(path).set(s.headers);
      if (key !== undefined) req.set('Idempotency-Key', key);
      return req.send(body);
    };

    it('answers a retry (also on another gateway, with or without the trailing slash) with the first answer and creates one resource', async () => {
      const before = await r.count(gws[0], a);
      const key = randomUUID();
      const body = r.body();
      const first = await post(gws[0], a, body, key).expect(r.status);
      expect(first.headers['idempotent-replayed']).toBeUndefined();
      const again = await post(gws[1], a, body, key).expect(r.status);
      expect(again.headers['idempotent-replayed']).toBe('true');
      expect(again.headers['content-type']).toMatch(/^application\/json/);
      expect(again.body).toEqual(first.body);
      const slashless = await post(gws[0], a, body, key, r.path.replace(/(.)\/$/, '$1')).expect(r.status);
      expect(r.idOf(slashless.body)).toBe(r.idOf(first.body));
      expect(await r.count(gws[1], a)).toBe(before + 1);
      // Without a key nothing changes: a second resource.
      const plain = await post(gws[0], a, r.body()).expect(r.status);
      expect(plain.headers['idempotent-replayed']).toBeUndefined();
      expect(r.idOf(plain.body)).not.toBe(r.idOf(first.body));
    });

    it('refuses the key for a different body or route with a 422, and keeps it apart per tenant', async () => {
      const key = randomUUID();
      const first = await post(gws[0], a, r.body(), key).expect(r.status);
      const before = await r.count(gws[0], a);
      const other = { ...r.body(), ...(r.name === 'POST /deployments/' ? { deployment_name: `other-${randomUUID().slice(0, 8)}` } : { backend: 'pytorch' }) };
      const reused = await post(gws[1], a, other, key).expect(422);
      expect(reused.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(reused.body).toMatchObject({ status: 422, code: 'idempotency_key_reused', detail: expect.stringMatching(/already used for a different request/) });
      const elsewhere = routes.find((o) => o !== r)!;
      const crossRoute = await post(gws[0], a, elsewhere.body(), key, elsewhere.path).expect(422);
      expect(crossRoute.body).toMatchObject({ code: 'idempotency_key_reused', detail: expect.stringContaining(r.route) });
      expect(await r.count(gws[0], a)).toBe(before);

      const theirs = await post(gws[1], b, r.body(b), key).expect(r.status);
      expect(theirs.headers['idempotent-replayed']).toBeUndefined();
      expect(r.idOf(theirs.body)).not.toBe(r.idOf(first.body));
    });

    it('creates exactly one resource for concurrent identical requests; the others replay it or get a 409', async () => {
      const before = await r.count(gws[0], a);
      const key = randomUUID();
      const body = r.body();
      const answers = await Promise.all(Array.from({ length: 5 }, (_, i) => post(gws[i % 2], a, body, key)));
      const ok = answers.filter((res) => res.status === r.status);
      const busy = answers.filter((res) => res.status === 409);
      expect(ok.length + busy.length).toBe(answers.length);
      expect(ok.length).toBeGreaterThanOrEqual(1);
      expect(new Set(ok.map((res) => r.idOf(res.body))).size).toBe(1);
      // The request that claimed the key answers fresh; every other 2xx is a replay.
      expect(ok.filter((res) => res.headers['idempotent-replayed'] === undefined)).toHaveLength(1);
      for (const res of busy) {
        expect(res.body).toMatchObject({ status: 409, code: 'idempotency_key_in_use' });
        expect(res.headers['retry-after']).toBe('1');
      }
      expect(await r.count(gws[1], a)).toBe(before + 1);
      const settled = await post(gws[1], a, body, key).expect(r.status);
      expect(r.idOf(settled.body)).toBe(r.idOf(ok[0].body));
    });

    it('answers 409 with Retry-After while the key is held, and takes over a claim abandoned past IDEMPOTENCY_LOCK_SECONDS', async () => {
      const keys = gws[0].get(IdempotencyKeysRepository);
      const body = r.body();
      const requestHash = requestFingerprint(r.route, body);
      const held = randomUUID();
      await keys.claim({ tenantId: a.tenantId, key: held, route: r.route, requestHash, lockSeconds: 60, ttlSeconds: 3600 });
      const busy = await post(gws[1], a, body, held).expect(409);
      expect(busy.headers['retry-after']).toBe('1');
      expect(busy.body).toMatchObject({ code: 'idempotency_key_in_use', detail: expect.any(String) });

      const before = await r.count(gws[0], a);
      const abandoned = randomUUID();
      await keys.claim({ tenantId: a.tenantId, key: abandoned, route: r.route, requestHash, lockSeconds: 60, ttlSeconds: 3600, now: new Date(Date.now() - 61_000) });
      const taken = await post(gws[1], a, body, abandoned).expect(r.status);
      expect(taken.headers['idempotent-replayed']).toBeUndefined();
      expect(await r.count(gws[0], a)).toBe(before + 1);
      expect((await post(gws[0], a, body, abandoned).expect(r.status)).headers['idempotent-replayed']).toBe('true');
    });

    it('does not remember a failed request: a retry with the same key runs afresh', async () => {
      const key = randomUUID();
      const before = await r.count(gws[0], a);
      const failed = await post(gws[0], a, r.invalid(), key).expect(422);
      expect(failed.body.code).not.toMatch(/^idempotency/);
      const again = await post(gws[1], a, r.invalid(), key).expect(422);
      expect(again.headers['idempotent-replayed']).toBeUndefined();
      expect(again.body.code).toBe(failed.body.code);
      const fixed = await post(gws[1], a, r.body(), key).expect(r.status);
      expect(fixed.headers['idempotent-replayed']).toBeUndefined();
      expect(await r.count(gws[0], a)).toBe(before + 1);
    });

    it('refuses an invalid key with a 422 naming the header, and takes one of 255 characters', async () => {
      const before = await r.count(gws[0], a);
      for (const bad of ['', 'two words', 'x'.repeat(256), 'caf\u00e9', 'tab\there']) {
        const res = await post(gws[0], a, r.body(), bad).expect(422);
        expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
        expect({ bad, body: res.body }).toMatchObject({ bad, body: { code: 'validation_error', errors: [{ field: 'Idempotency-Key', message: expect.any(String) }] } });
      }
      expect(await r.count(gws[0], a)).toBe(before);
      await post(gws[0], a, r.body(), `~${randomUUID()}${'k'.repeat(217)}!`).expect(r.status);
      expect(await r.count(gws[0], a)).toBe(before + 1);
    });
  });
});
