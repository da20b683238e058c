import { WorkerCapabilities } from '@app/queue';
import { findPython } from '@app/training';
import request from 'supertest';
import { version } from '../package.json';
import { createDistributedEnv, type DistributedEnv, startGateway, startTcpProxy, type TcpProxy, type TestGateway } from '@app/testing';

function installedTrainingBackend(): string {
  for (const [pkg, backend] of [['@tensorflow/tfjs-node', 'tensorflow'], ['@tensorflow/tfjs-backend-wasm', 'wasm']]) {
    try {
      require.resolve(pkg);
      return backend;
    } catch {
      // not installed
    }
  }
  return 'cpu';
}

function expectRecent(timestamp: string): void {
  expect(timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  expect(Math.abs(Date.parse(timestamp) - Date.now())).toBeLessThan(60_000);
}

describe('system routes, embedded mode', () => {
  let gw: TestGateway;

  beforeAll(async () => {
    gw = await startGateway();
  });
  afterAll(() => gw?.close());

  it('GET / describes the API', async () => {
    const res = await request(gw.url).get('/').expect(200);
    expect(res.body).toMatchObject({
      name: 'Neural DSL Platform',
      version,
      mode: 'embedded',
      links: { docs: '/docs', redoc: '/redoc', openapi: '/openapi.json', health: '/health' },
    });
    expect(res.body.dsl_layer_types).toBeGreaterThan(50);
  });

  it('GET /health probes SQLite and the in-process queue and worker; Redis is disabled', async () => {
    const res = await request(gw.url).get('/health').expect(200);
    const { pytorch, ...rest } = res.body;
    // Known once the worker has looked for it (next test).
    expect(pytorch === null || typeof pytorch === 'string').toBe(true);
    expect(rest).toEqual({
      status: 'healthy',
      version,
      timestamp: expect.any(String),
      mode: 'embedded',
      training_backend: installedTrainingBackend(),
      services: { api: 'healthy', database: 'healthy', redis: 'disabled', queue: 'healthy', worker: 'healthy' },
    });
    expectRecent(res.body.timestamp);
  });

  it('GET /health reports the backend the training processes loaded and the workers’ PyTorch', async () => {
    await gw.get(WorkerCapabilities).ready;
    const res = await request(gw.url).get('/health').expect(200);
    // tfjs-node cannot install here, so the training processes run on WebAssembly.
    expect(res.body.training_backend).toBe('wasm');
    expect(res.body.pytorch).toBe((await findPython())?.torchVersion ?? null);
  });

  it('GET /health/live and /health/ready', async () => {
    const live = await request(gw.url).get('/health/live').expect(200);
    expect(live.body).toEqual({ status: 'alive', uptime_seconds: expect.any(Number) });
    const ready = await request(gw.url).get('/health/ready').expect(200);
    expect(ready.body).toEqual({ status: 'ready', services: { database: 'healthy', queue: 'healthy' } });
  });

  it('serves the OpenAPI document, Swagger UI at /docs and at /redoc', async () => {
    const spec = await request(gw.url).get('/openapi.json').expect(200);
    expect(spec.headers['content-type']).toMatch(/^application\/json/);
    const doc = spec.body;
    expect(doc.openapi).toMatch(/^3\./);
    expect(doc.components.securitySchemes).toEqual({
      api_key: { type: 'apiKey', in: 'header', name: 'X-API-Key', description: 'An API key' },
      bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'A token from POST /auth/token' },
    });
    expect(doc.paths['/health'].get.security).toEqual([]);
    expect(doc.paths['/health'].get.responses['429']).toBeUndefined();
    expect(doc.paths['/auth/token'].post.security).toEqual([{ api_key: [] }]);
    expect(doc.paths['/auth/token'].post.responses['401'].content['application/problem+json'].schema).toEqual({ $ref: '#/components/schemas/Problem' });
    expect(doc.paths['/auth/token'].post.responses['429']).toBeDefined();
    expect(doc.components.schemas.Problem.required).toEqual(['status', 'code', 'title', 'detail', 'request_id']);
    expect(JSON.stringify(doc)).not.toContain('x-neural-');

    for (const path of ['/docs', '/redoc']) {
      const html = await request(gw.url).get(path).expect(200);
      expect(html.headers['content-type']).toMatch(/^text\/html/);
      expect(html.text).toContain('swagger-ui');
    }
    const init = await request(gw.url).get('/docs/swagger-ui-init.js').expect(200);
    expect(init.text).toContain('/auth/token');
    await request(gw.url).get('/docs/swagger-ui-bundle.js').expect(200);
  });
});

describe('system routes, distributed mode', () => {
  let env: DistributedEnv;
  let proxy: TcpProxy;
  let gw: TestGateway;

  beforeAll(async () => {
    env = await createDistributedEnv();
    // The gateway reaches PostgreSQL through a proxy the test can cut, as if the database went away.
    proxy = await startTcpProxy(env.databaseUrl);
    gw = await startGateway({ distributed: { ...env, databaseUrl: proxy.url }, logger: false });
  });
  afterAll(async () => {
    await gw?.close();
    await proxy?.close();
    await env?.dispose();
  });

  it('GET /health probes PostgreSQL, Redis and Bull; no worker is running, which does not make the API unhealthy', async () => {
    const res = await request(gw.url).get('/health').expect(200);
    expect(res.body).toMatchObject({
      status: 'healthy',
      mode: 'distributed',
      services: { api: 'healthy', database: 'healthy', redis: 'healthy', queue: 'healthy', worker: 'unhealthy' },
    });
    expectRecent(res.body.timestamp);
    await request(gw.url).get('/health/ready').expect(200);
  });

  it('answers 503 when PostgreSQL becomes unreachable, and stays live', async () => {
    await proxy.close();
    const res = await request(gw.url).get('/health').expect(503);
    expect(res.body).toMatchObject({
      status: 'unhealthy',
      services: { api: 'healthy', database: 'unhealthy', redis: 'healthy', queue: 'healthy' },
    });
    const ready = await request(gw.url).get('/health/ready').expect(503);
    expect(ready.body).toEqual({ status: 'not_ready', services: { database: 'unhealthy', queue: 'healthy' } });
    await request(gw.url).get('/health/live').expect(200);
  });
});
