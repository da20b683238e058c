import { InlineQueueDriver, QueueDriver } from '@app/queue';
import { createTenantSession, jobFinished, startPlatform, type TenantSession, type TestGateway, type TestPlatform } from '@app/testing';
import { createServer as createHttpServer, type IncomingMessage } from 'http';
import { createServer } from 'net';
import request from 'supertest';

const TINY_DSL = 'network Tiny {\n  input: (4,)\n  layers:\n    Dense(3)\n    Output(2)\n}\n';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses the Prometheus text format 0.0.4 into samples; throws on a line that is neither a comment nor a sample. */
function parsePrometheus(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: \d+)?$/.exec(line);
    if (!m) throw new Error(`not a Prometheus sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, k, v] of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[k] = v.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    // Prometheus reads NaN in any case (prom-client writes "Nan").
    const value = m[3] === '+Inf' ? Infinity : m[3] === '-Inf' ? -Infinity : Number(m[3]);
    if (Number.isNaN(value) && !/^nan$/i.test(m[3])) throw new Error(`bad sample value: ${line}`);
    samples.push({ name: m[1], labels, value });
  }
  return samples;
}

/** The value of the one sample named `name` whose labels include `labels`, or undefined. */
function valueOf(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const found = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (found.length > 1) throw new Error(`${found.length} samples of ${name} match ${JSON.stringify(labels)}`);
  return found[0]?.value;
}

async function scrape(gw: TestGateway, admin: TenantSession): Promise<Sample[]> {
  const res = await request(gw.url).get('/metrics').set(admin.headers).expect(200);
  expect(res.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
  return parsePrometheus(res.text);
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function compileJob(gw: TestGateway, session: TenantSession): Promise<void> {
  const res = await request(gw.url).post('/compile').set(session.headers).send({ dsl_code: TINY_DSL, backend: 'onnx' }).expect(202);
  const job = await jobFinished(gw.url, session.headers, res.body.job_id, 30_000);
  expect(job.status).toBe('completed');
}

describe.each(['embedded', 'distributed'] as const)('metrics and the queue dashboard, %s mode', (mode) => {
  let platform: TestPlatform;
  let gw: TestGateway;
  let admin: TenantSession;
  let user: TenantSession;
  let workerMetricsPort: number;

  beforeAll(async () => {
    workerMetricsPort = await freePort();
    platform = await startPlatform(mode, { WORKER_METRICS_PORT: String(workerMetricsPort) });
    gw = platform.gw;
    admin = await createTenantSession(gw, 'metrics-admin', ['read', 'write', 'admin']);
    user = await createTenantSession(gw, 'metrics-user');
  }, 60_000);
  afterAll(() => platform?.close());

  it.each(['/metrics', '/admin/queues', '/admin/queues/api/queues'])('%s: 401 without credentials, 403 without the admin scope', async (path) => {
    const anonymous = await request(gw.url).get(path).expect(401);
    expect(anonymous.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(anonymous.body).toMatchObject({ status: 401, code: 'unauthorized' });
    const forbidden = await request(gw.url).get(path).set(user.headers).expect(403);
    expect(forbidden.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(forbidden.body).toMatchObject({ status: 403, detail: expect.stringContaining('"admin"') });
  });

  it('counts requests by route template and status, never by raw URL', async () => {
    const before = await scrape(gw, admin);
    const jobRoute = { method: 'GET', route: '/jobs/:job_id', status: '404' };
    const base = valueOf(before, 'neural_http_requests_total', jobRoute) ?? 0;
    const ids = ['00000000-0000-4000-8000-000000000001', '00000000-0000-4000-8000-000000000002', '00000000-0000-4000-8000-000000000003'];
    for (const id of ids) await request(gw.url).get(`/jobs/${id}`).set(user.headers).expect(404);
    await request(gw.url).get('/no/such/route/abc').set(user.headers).expect(404);
    await request(gw.url).get('/no/such/route/xyz').set(user.headers).expect(404);
    const after = await scrape(gw, admin);
    expect(valueOf(after, 'neural_http_requests_total', jobRoute)).toBe(base + 3);
    expect(valueOf(after, 'neural_http_request_duration_seconds_count', jobRoute)).toBe(base + 3);
    expect(valueOf(after, 'neural_http_request_duration_seconds_bucket', { ...jobRoute, le: '+Inf' })).toBe(base + 3);
    expect(valueOf(after, 'neural_http_requests_total', { method: 'GET', route: '/metrics', status: '200' })).toBeGreaterThanOrEqual(1);
    // The 403s of the previous test are labelled with the route too.
    expect(valueOf(after, 'neural_http_requests_total', { method: 'GET', route: '/metrics', status: '403' })).toBe(1);
    expect(valueOf(after, 'neural_http_requests_total', { method: 'GET', route: 'unmatched', status: '404' })).toBeGreaterThanOrEqual(2);
    const routes = new Set(after.filter((s) => s.name === 'neural_http_requests_total').map((s) => s.labels.route));
    for (const route of routes) expect(route).not.toMatch(/00000000-|abc|xyz/);
  });

  it('reports queue depth per queue and state, and process metrics', async () => {
    const samples = await scrape(gw, admin);
    for (const queue of ['compile', 'train', 'deploy', 'webhook']) {
      for (const state of ['waiting', 'active', 'delayed', 'failed']) expect(valueOf(samples, 'neural_queue_depth', { queue, state })).toBeGreaterThanOrEqual(0);
    }
    expect(valueOf(samples, 'neural_process_cpu_user_seconds_total')).toBeGreaterThan(0);
    expect(valueOf(samples, 'neural_process_resident_memory_bytes')).toBeGreaterThan(0);
  });

  it('records the duration of a finished compile job by type and outcome', async () => {
    await compileJob(gw, user);
    const labels = { type: 'compile', outcome: 'completed' };
    let samples: Sample[];
    if (mode === 'embedded') {
      // The gateway ran the job; its handler (and the observation after it) has returned once the queue is idle.
      await (gw.get(QueueDriver) as InlineQueueDriver).onIdle();
      samples = await scrape(gw, admin);
    } else {
      // The worker ran it and serves its own metrics; the observation follows the row update by one read.
      const deadline = Date.now() + 10_000;
      for (;;) {
        samples = parsePrometheus((await request(`http://127.0.0.1:${workerMetricsPort}`).get('/metrics').expect(200)).text);
        if ((valueOf(samples, 'neural_job_duration_seconds_count', labels) ?? 0) >= 1 || Date.now() > deadline) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      // The gateway ran no job: no duration there.
      expect(valueOf(await scrape(gw, admin), 'neural_job_duration_seconds_count', labels)).toBeUndefined();
    }
    expect(valueOf(samples, 'neural_job_duration_seconds_count', labels)).toBe(1);
    expect(valueOf(samples, 'neural_job_duration_seconds_bucket', { ...labels, le: '+Inf' })).toBe(1);
    const sum = valueOf(samples, 'neural_job_duration_seconds_sum', labels)!;
    expect(sum).toBeGreaterThan(0);
    expect(sum).toBeLessThan(30);
  }, 60_000);

  if (mode === 'embedded') {
    it('counts webhook deliveries by outcome', async () => {
      const events: string[] = [];
      let sawCompleted!: () => void;
      const completed = new Promise<void>((resolve) => (sawCompleted = resolve));
      const receiver = createHttpServer((req: IncomingMessage, res) => {
        const event = String(req.headers['x-neural-event']);
        events.push(event);
        req.resume().on('end', () => {
          res.writeHead(event.endsWith('completed') ? 500 : 204).end();
          if (event.endsWith('completed')) sawCompleted();
        });
      });
      await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
      try {
        const before = await scrape(gw, admin);
        const base = (outcome: string) => valueOf(before, 'neural_webhook_deliveries_total', { outcome }) ?? 0;
        const webhookUrl = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/hook`;
        const res = await request(gw.url).post('/compile').set(user.headers).send({ dsl_code: TINY_DSL, backend: 'onnx', webhook_url: webhookUrl }).expect(202);
        await jobFinished(gw.url, user.headers, res.body.job_id, 30_000);
        await completed;
        await (gw.get(QueueDriver) as InlineQueueDriver).onIdle();
        const after = await scrape(gw, admin);
        // `started` answered 204: delivered; `completed` answered 500: retried later.
        expect(events).toEqual(['started', 'completed']);
        expect(valueOf(after, 'neural_webhook_deliveries_total', { outcome: 'delivered' })).toBe(base('delivered') + 1);
        expect(valueOf(after, 'neural_webhook_deliveries_total', { outcome: 'retry' })).toBe(base('retry') + 1);
      } finally {
        await new Promise<void>((resolve) => receiver.close(() => resolve()));
      }
    }, 60_000);

    it('records training throughput, train and deploy durations, and predict latency per deployment', async () => {
      const until = async (read: () => Promise<Record<string, any>>, done: (v: Record<string, any>) => boolean): Promise<Record<string, any>> => {
        const deadline = Date.now() + 120_000;
        for (;;) {
          const v = await read();
          if (done(v)) return v;
          if (Date.now() > deadline) throw new Error(`still ${JSON.stringify(v).slice(0, 200)}`);
          await new Promise((r) => setTimeout(r, 100));
        }
      };
      const model = 'Model Tiny {\n  Input(shape=[28, 28, 1])\n  Flatten()\n  Dense(units=10, activation=softmax)\n}';
      const train = await request(gw.url)
        .post('/jobs/train')
        .set(user.headers)
        .send({ dsl_code: model, backend: 'tensorflow', dataset: 'MNIST', training_config: { epochs: 2, batch_size: 64, train_samples: 640, validation_split: 0.1 }, seed: 1 })
        .expect(202);
      const trained = await jobFinished(gw.url, user.headers, train.body.job_id, 120_000);
      expect(trained.status).toBe('completed');
      const created = await request(gw.url).post('/deployments/').set(user.headers).send({ model_id: trained.model_id, deployment_name: 'metrics-tiny' }).expect(201);
      const deploymentId: string = created.body.deployment_id;
      expect((await jobFinished(gw.url, user.headers, created.body.job_id, 60_000)).status).toBe('completed');
      await until(async () => (await request(gw.url).get(`/deployments/${deploymentId}`).set(user.headers).expect(200)).body, (d) => d.ready_replicas === 1);
      const instance = Array.from({ length: 28 }, () => Array.from({ length: 28 }, () => [0.5]));
      for (let i = 0; i < 3; i++) await request(gw.url).post(`/deployments/${deploymentId}/predict`).set(user.headers).send({ instances: [instance] }).expect(200);
      await (gw.get(QueueDriver) as InlineQueueDriver).onIdle();

      const samples = await scrape(gw, admin);
      // 2 epochs of ~576 training samples each (640 less the validation split).
      expect(valueOf(samples, 'neural_training_samples_total')).toBeGreaterThanOrEqual(2 * 500);
      expect(valueOf(samples, 'neural_training_samples_per_second')).toBeGreaterThan(0);
      expect(valueOf(samples, 'neural_job_duration_seconds_count', { type: 'train', outcome: 'completed' })).toBe(1);
      expect(valueOf(samples, 'neural_job_duration_seconds_count', { type: 'deploy', outcome: 'completed' })).toBe(1);
      expect(valueOf(samples, 'neural_predict_duration_seconds_count', { deployment: deploymentId })).toBe(3);
      expect(valueOf(samples, 'neural_http_requests_total', { method: 'POST', route: '/deployments/:deployment_id/predict', status: '200' })).toBe(3);

      await request(gw.url).delete(`/deployments/${deploymentId}`).set(user.headers).expect(204);
      expect(valueOf(await scrape(gw, admin), 'neural_predict_duration_seconds_count', { deployment: deploymentId })).toBeUndefined();
    }, 180_000);

    it('/admin/queues answers 404 for an admin: the dashboard needs Bull (distributed mode)', async () => {
      for (const path of ['/admin/queues', '/admin/queues/api/queues']) {
        const res = await request(gw.url).get(path).set(admin.headers).expect(404);
        expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
        expect(res.body.detail).toContain('distributed mode (Redis)');
      }
    });
  } else {
    it('/admin/queues serves Bull Board, its assets and its API to an admin', async () => {
      const page = await request(gw.url).get('/admin/queues').set(admin.headers).expect(200);
      expect(page.headers['content-type']).toMatch(/^text\/html/);
      expect(page.text).toContain('<base href="/admin/queues/"');
      expect(page.headers['x-powered-by']).toBeUndefined();
      const csp = page.headers['content-security-policy'];
      expect(csp).toContain("script-src 'self'");
      // Every script the page loads comes from the dashboard's own static path, which CSP's 'self' allows.
      const scripts = [...page.text.matchAll(/<script[^>]*\ssrc="([^"]+)"/g)].map((m) => m[1]);
      expect(scripts.length).toBeGreaterThan(0);
      for (const src of scripts) {
        expect(src).toMatch(/^static\//);
        const asset = await request(gw.url).get(`/admin/queues/${src}`).set(admin.headers).expect(200);
        expect(asset.headers['content-type']).toMatch(/javascript/);
      }
      const api = await request(gw.url).get('/admin/queues/api/queues').set(admin.headers).expect(200);
      expect((api.body.queues as Array<{ name: string; readOnlyMode: boolean }>).map((q) => q.name).sort()).toEqual(['compile', 'deploy', 'hpo', 'train', 'webhook']);
      expect(api.body.queues.every((q: { readOnlyMode: boolean }) => q.readOnlyMode)).toBe(true);
      const missing = await request(gw.url).get('/admin/queues/api/nothing-here').set(admin.headers).expect(404);
      expect(missing.headers['content-type']).toMatch(/^application\/problem\+json/);
    });
  }
});
