import { loadBuiltinDataset } from '@app/datasets';
import { ModelsRepository } from '@app/persistence';
import { ArtifactStore } from '@app/storage';
import { loadTfjsModel } from '@app/dsl/train';
import { createTenantSession, startGateway, startPlatform, type TenantSession, type TestGateway, type TestPlatform, waitUntil } from '@app/testing';
import * as tf from '@tensorflow/tfjs';
import { createServer, type Server } from 'http';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { Deployment } from 'kubernetes-models/apps/v1';
import { Service } from 'kubernetes-models/v1';
import type { AddressInfo } from 'net';
import request from 'supertest';
import { parseAllDocuments } from 'yaml';

const MODEL = 'Model Digits {\n  Input(shape=[28, 28, 1])\n  Conv2D(filters=8, kernel_size=3, activation=relu)\n  MaxPooling2D(pool_size=2)\n  Dense(units=10, activation=softmax)\n}';
const TRAINING = { epochs: 1, batch_size: 32, train_samples: 3000, validation_split: 0.1 };
const SAMPLE = 784;

type Json = Record<string, any>;


function binary(r: request.Test): request.Test {
  return r.buffer(true).parse((res, cb) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('end', () => cb(null, Buffer.concat(chunks)));
  });
}

/** Each sample of `x` (flat float32, SAMPLE values each) from `start` as nested [28][28][1] arrays. */
function nested(x: Float32Array, start: number, count: number): number[][][][] {
  return Array.from({ length: count }, (_, n) => Array.from({ length: 28 }, (_, r) => Array.from({ length: 28 }, (_, c) => [x[(start + n) * SAMPLE + r * 28 + c]])));
}

const base64 = (x: Float32Array, start: number, count: number): string => Buffer.from(x.buffer, x.byteOffset + start * SAMPLE * 4, count * SAMPLE * 4).toString('base64');

async function hookReceiver(): Promise<{ url: string; events: () => string[]; close(): Promise<void> }> {
  const bodies: Json[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c));
    req.on('end', () => {
      bodies.push(JSON.parse(body));
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, events: () => bodies.map((b) => b.event), close: () => new Promise((r) => server.close(() => r())) };
}

describe.each(['embedded', 'distributed'] as const)('deployments over HTTP (%s mode)', (mode) => {
  let platform: TestPlatform;
  let gw: TestGateway;
  let a: TenantSession;
  let b: TenantSession;
  let modelId: string;
  let experimentId: string;
  let tfModel: tf.LayersModel;
  let test: { x: Float32Array; y: ArrayLike<number>; count: number };
  const env = { RATE_LIMIT_ENABLED: 'false', SERVING_SYNC_INTERVAL_MS: '200', DEPLOYMENT_MAX_REPLICAS: '4', PREDICT_MAX_BATCH: '256' };

  const deploy = (headers: Json, body: Json) => request(gw.url).post('/deployments/').set(headers).send(body);
  const get = async (id: string): Promise<Json> => (await request(gw.url).get(`/deployments/${id}`).set(a.headers).expect(200)).body;
  const predict = (id: string, instances: unknown, headers: Json = a.headers) => request(gw.url).post(`/deployments/${id}/predict`).set(headers).send({ instances });

  beforeAll(async () => {
    platform = await startPlatform(mode, env);
    gw = platform.gw;
    a = await createTenantSession(gw);
    b = await createTenantSession(gw);
    const train = await request(gw.url).post('/jobs/train').set(a.headers).send({ dsl_code: MODEL, backend: 'tensorflow', dataset: 'MNIST', training_config: TRAINING, seed: 5 }).expect(202);
    const job = await waitUntil(
      async () => (await request(gw.url).get(`/jobs/${train.body.job_id}`).set(a.headers).expect(200)).body,
      (j) => ['completed', 'failed', 'cancelled'].includes(j.status),
      120_000,
    );
    expect(job.status).toBe('completed');
    modelId = job.model_id;
    experimentId = job.experiment_id;
    const art = async (name: string) => (await binary(request(gw.url).get(`/experiments/${experimentId}/artifacts/${name}`).set(a.headers)).expect(200)).body as Buffer;
    tfModel = await loadTfjsModel(tf, (await art('model.json')).toString('utf8'), new Uint8Array(await art('weights.bin')));
    const mnist = await loadBuiltinDataset('MNIST');
    test = { x: mnist.test!.x as Float32Array, y: mnist.test!.y as ArrayLike<number>, count: mnist.test!.count };
  });

  afterAll(async () => {
    await platform?.close();
  });

  it('refuses what cannot be deployed with a 422 that says why', async () => {
    const compiled = await request(gw.url).post('/compile/sync').set(a.headers).send({ dsl_code: MODEL, backend: 'onnx' }).expect(200);
    const cases: Array<[Json, RegExp, string]> = [
      [{ model_id: '00000000-0000-4000-8000-000000000000', deployment_name: 'x' }, /no model or experiment/, 'model_id'],
      [{ model_id: compiled.body.model_id, deployment_name: 'x' }, /never trained/, 'model_id'],
      [{ model_id: modelId, deployment_name: 'bad name!' }, /deployment_name/, 'deployment_name'],
      [{ model_id: modelId, deployment_name: 'x', config: { replicas: 5 } }, /at most 4 \(DEPLOYMENT_MAX_REPLICAS\)/, 'config.replicas'],
      [{ model_id: modelId, deployment_name: 'x', config: { memory_limit: 'lots' } }, /Kubernetes quantity/, 'config.memory_limit'],
      [{ model_id: modelId, deployment_name: 'x', config: { port: 70000 } }, /port/, 'config.port'],
      [{ model_id: modelId, deployment_name: 'x', config: { health_check_path: 'health' } }, /URL path/, 'config.health_check_path'],
      [{ model_id: modelId, deployment_name: 'x', environment: { MODEL_PATH: '/x' } }, /set by the model server/, 'environment.MODEL_PATH'],
      [{ model_id: modelId, deployment_name: 'x', environment: { '1BAD': 'v' } }, /variable name/, 'environment.1BAD'],
      [{ model_id: modelId, deployment_name: 'x', environment: { OK: 3 } }, /string/, 'environment.OK'],
      [{ model_id: modelId, deployment_name: 'x', backend: 'caffe' }, /backend/, 'backend'],
      [{ deployment_name: 'x' }, /model_id/, 'model_id'],
    ];
    for (const [body, message, field] of cases) {
      const res = await deploy(a.headers, body).expect(422);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      const entry = res.body.errors.find((e: Json) => e.field === field);
      expect({ body, entry }).toEqual({ body, entry: expect.objectContaining({ message: expect.stringMatching(message) }) });
    }
    // Another tenant's trained model does not exist for b.
    const foreign = await deploy(b.headers, { model_id: modelId, deployment_name: 'theirs' }).expect(422);
    expect(foreign.body.errors[0].message).toMatch(/no model or experiment/);
  });

  it('deploys, predicts like the trained model, scales 1→2→0→1 and deletes', async () => {
    const hook = await hookReceiver();
    try {
      const seedBody = {
        model_id: modelId,
        deployment_name: 'mnist-classifier',
        backend: 'tensorflow',
        config: { replicas: 1, memory_limit: '1Gi', cpu_limit: '500m', port: 8080, health_check_path: '/healthz' },
        environment: { LOG_LEVEL: 'info' },
        webhook_url: hook.url,
      };
      const created = await deploy(a.headers, seedBody).expect(201);
      expect(created.body).toMatchObject({
        deployment_name: 'mnist-classifier',
        model_id: modelId,
        experiment_id: experimentId,
        backend: 'tensorflow',
        runtime: 'onnxruntime',
        status: 'deploying',
        replicas: 1,
        config: { replicas: 1, memory_limit: '1Gi', cpu_limit: '500m', port: 8080, health_check_path: '/healthz' },
        environment: { LOG_LEVEL: 'info' },
        request_count: 0,
        error_count: 0,
        latency_p50_ms: null,
      });
      const id: string = created.body.deployment_id;
      expect(created.body.endpoint).toBe(`/deployments/${id}/predict`);
      // Names are unique per tenant (also when the model is named by its experiment); another tenant may reuse one.
      const clash = await deploy(a.headers, { model_id: experimentId, deployment_name: 'mnist-classifier' }).expect(409);
      expect(clash.body.detail).toMatch(/already exists/);

      // The deploy job: progress to the end, webhooks, and the deployment's status follows it.
      const job = await waitUntil(
        async () => (await request(gw.url).get(`/jobs/${created.body.job_id}`).set(a.headers).expect(200)).body,
        (j) => j.status === 'completed' || j.status === 'failed',
      );
      expect(job).toMatchObject({ type: 'deploy', status: 'completed', progress: 100, model_id: modelId, error: null });
      expect(job.result).toEqual({ deployment_id: id, model_id: modelId, status: 'deployed', endpoint: `/deployments/${id}/predict`, input_shape: [28, 28, 1], output_shape: [10] });
      await waitUntil(async () => hook.events(), (e) => e.includes('completed'));
      expect(hook.events()).toEqual(['started', 'completed']);
      const up = await waitUntil(() => get(id), (d) => d.ready_replicas === 1);
      expect(up).toMatchObject({ status: 'deployed', replicas: 1, input_shape: [28, 28, 1], output_shape: [10], output_kind: 'softmax' });
      expect(Date.parse(up.deployed_at)).toBeGreaterThanOrEqual(Date.parse(up.created_at));

      // Predictions equal the trained tfjs model's; classes are their argmax.
      const res = await predict(id, nested(test.x, 0, 3)).expect(200);
      expect(res.body).toEqual({ predictions: expect.any(Array), classes: expect.any(Array), model_id: modelId, latency_ms: expect.any(Number) });
      const expected = (tfModel.predict(tf.tensor4d(test.x.slice(0, 3 * SAMPLE), [3, 28, 28, 1])) as tf.Tensor).arraySync() as number[][];
      expect(res.body.predictions).toHaveLength(3);
      const diff = Math.max(...res.body.predictions.flatMap((p: number[], i: number) => p.map((v, j) => Math.abs(v - expected[i][j]))));
      expect(diff).toBeLessThan(1e-4);
      expect(res.body.classes).toEqual(expected.map((p) => p.indexOf(Math.max(...p))));
      // The same instances as base64 float32, one string per instance or one for the batch.
      const perInstance = await predict(id, [0, 1, 2].map((i) => base64(test.x, i, 1))).expect(200);
      expect(perInstance.body.predictions).toEqual(res.body.predictions);
      const whole = await predict(id, base64(test.x, 0, 3)).expect(200);
      expect(whole.body.predictions).toEqual(res.body.predictions);

      // Over the whole MNIST test set, the deployment scores what the experiment's own evaluation reported.
      const experiment = (await request(gw.url).get(`/experiments/${experimentId}`).set(a.headers).expect(200)).body;
      let correct = 0;
      for (let start = 0; start < test.count; start += 256) {
        const n = Math.min(256, test.count - start);
        const batch = await predict(id, base64(test.x, start, n)).expect(200);
        batch.body.classes.forEach((c: number, i: number) => (correct += c === test.y[start + i] ? 1 : 0));
      }
      expect(Math.abs(correct / test.count - experiment.test_metrics.accuracy)).toBeLessThanOrEqual(1 / test.count);

      // Wrong input: a 422 naming both shapes, never a 500.
      const wrong = await predict(id, [Array.from({ length: 28 }, () => Array(27).fill([0]))]).expect(422);
      expect(wrong.body.detail).toMatch(/\[28, 27, 1\]|\[28, 27\]/);
      expect(wrong.body.detail).toMatch(/\[28, 28, 1\]/);
      await predict(id, [[1, 2, 3]]).expect(422);
      expect((await predict(id, [Array.from({ length: 28 }, () => Array.from({ length: 28 }, () => ['x']))]).expect(422)).body.detail).toMatch(/finite number/);
      expect((await predict(id, Array.from({ length: 257 }, () => base64(test.x, 0, 1))).expect(422)).body.detail).toMatch(/at most 256/);
      expect((await predict(id, 'AAAA').expect(422)).body.detail).toMatch(/base64|bytes/);
      await predict(id, []).expect(422);
      await request(gw.url).post(`/deployments/${id}/predict`).set(a.headers).send({}).expect(422);
      await request(gw.url).post(`/deployments/${id}/predict`).set(a.headers).set('Content-Type', 'application/json').send('{"instances": [').expect(400);

      // Counts and latency since start, errors included (the last two bodies never reached the deployment).
      const counted = await get(id);
      expect(counted.request_count).toBe(3 + Math.ceil(test.count / 256) + 6);
      expect(counted.error_count).toBe(6);
      expect(counted.latency_p50_ms).toBeGreaterThan(0);
      expect(counted.latency_p99_ms).toBeGreaterThanOrEqual(counted.latency_p50_ms);

      // The whole batch as raw float32 bytes, the fastest form; other keys beside instances are refused.
      const raw = (body: Buffer) => request(gw.url).post(`/deployments/${id}/predict`).set(a.headers).set('Content-Type', 'application/octet-stream').send(body);
      const rawBatch = Buffer.from(test.x.buffer, test.x.byteOffset, 3 * SAMPLE * 4);
      expect((await raw(rawBatch).expect(200)).body.predictions).toEqual(res.body.predictions);
      expect((await raw(rawBatch.subarray(0, 100)).expect(422)).body.detail).toMatch(/100 bytes.*\[28, 28, 1\]/);
      expect((await request(gw.url).post(`/deployments/${id}/predict`).set(a.headers).send({ instances: base64(test.x, 0, 1), extra: 1 }).expect(422)).body.errors).toEqual([{ field: 'extra', message: 'property extra should not exist' }]);
      await request(gw.url).post(`/deployments/${id}/predict`).set(a.headers).send([1, 2]).expect(422);

      // Scale 1 → 2 (body) → 0 (?replicas= as in the seed) → 1.
      const two = await request(gw.url).post(`/deployments/${id}/scale`).set(a.headers).send({ replicas: 2 }).expect(200);
      expect(two.body).toMatchObject({ status: 'deployed', replicas: 2, ready_replicas: 2 });
      await Promise.all(Array.from({ length: 8 }, () => predict(id, base64(test.x, 0, 64)).expect(200)));
      const zero = await request(gw.url).post(`/deployments/${id}/scale?replicas=0`).set(a.headers).expect(200);
      expect(zero.body).toMatchObject({ status: 'paused', replicas: 0, ready_replicas: 0 });
      const paused = await predict(id, base64(test.x, 0, 1)).expect(503);
      expect(paused.body.detail).toMatch(/scaled to 0 replicas/);
      const one = await request(gw.url).post(`/deployments/${id}/scale`).set(a.headers).send({ replicas: 1 }).expect(200);
      expect(one.body).toMatchObject({ status: 'deployed', replicas: 1, ready_replicas: 1 });
      expect((await predict(id, nested(test.x, 0, 3)).expect(200)).body.predictions).toEqual(res.body.predictions);
      expect((await request(gw.url).post(`/deployments/${id}/scale`).set(a.headers).send({ replicas: 9 }).expect(422)).body.errors[0].field).toBe('replicas');
      await request(gw.url).post(`/deployments/${id}/scale`).set(a.headers).send({}).expect(422);
      await request(gw.url).post(`/deployments/${id}/scale`).set(a.headers).send({ replicas: -1 }).expect(422);

      // Kubernetes manifests, valid against the Kubernetes schemas.
      const yaml = await request(gw.url).get(`/deployments/${id}/manifests`).set(a.headers).expect(200);
      expect(yaml.headers['content-type']).toMatch(/^application\/yaml/);
      const docs = parseAllDocuments(yaml.text).map((d) => d.toJS());
      expect(docs.map((d) => d.kind)).toEqual(['Deployment', 'Service', 'HorizontalPodAutoscaler']);
      new Deployment(docs[0]).validate();
      new Service(docs[1]).validate();
      new HorizontalPodAutoscaler(docs[2]).validate();
      const container = docs[0].spec.template.spec.containers[0];
      expect(docs[0].spec.replicas).toBe(1);
      expect(container.resources.limits).toEqual({ memory: '1Gi', cpu: '500m' });
      expect(container.readinessProbe.httpGet).toMatchObject({ path: '/healthz', port: 8080 });
      expect(container.env).toEqual(expect.arrayContaining([{ name: 'LOG_LEVEL', value: 'info' }]));
      expect(docs[1].spec.ports[0].port).toBe(8080);
      expect(yaml.text).not.toContain(a.apiKey);
      // The file the manifests' init container fetches is the served model.
      const onnxFile = await binary(request(gw.url).get(`/deployments/${id}/model`).set(a.headers)).expect(200);
      const modelOnnx = await binary(request(gw.url).get(`/models/${modelId}/download?format=onnx`).set(a.headers)).expect(200);
      expect(Buffer.compare(onnxFile.body, modelOnnx.body)).toBe(0);

      // Lists: paginated, filtered by status.
      const list = (await request(gw.url).get('/deployments?status=deployed&limit=10').set(a.headers).expect(200)).body;
      expect(list).toMatchObject({ total: 1, skip: 0, limit: 10 });
      expect(list.deployments[0]).toMatchObject({ deployment_id: id, ready_replicas: 1 });
      expect((await request(gw.url).get('/deployments/?status=failed').set(a.headers).expect(200)).body.total).toBe(0);
      await request(gw.url).get('/deployments?status=gone').set(a.headers).expect(422);

      // Tenant isolation: another tenant sees nothing of it, on every route.
      expect((await request(gw.url).get('/deployments').set(b.headers).expect(200)).body).toMatchObject({ deployments: [], total: 0 });
      await request(gw.url).get(`/deployments/${id}`).set(b.headers).expect(404);
      await predict(id, base64(test.x, 0, 1), b.headers).expect(404);
      await request(gw.url).post(`/deployments/${id}/scale`).set(b.headers).send({ replicas: 2 }).expect(404);
      await request(gw.url).get(`/deployments/${id}/manifests`).set(b.headers).expect(404);
      await request(gw.url).get(`/deployments/${id}/model`).set(b.headers).expect(404);
      await request(gw.url).delete(`/deployments/${id}`).set(b.headers).expect(404);
      await request(gw.url).get(`/jobs/${created.body.job_id}`).set(b.headers).expect(404);
      await deploy(b.headers, { model_id: modelId, deployment_name: 'mnist-classifier' }).expect(422);
      expect((await get(id)).replicas).toBe(1);

      // Delete: serving stops, then 404 everywhere.
      await request(gw.url).delete(`/deployments/${id}`).set(a.headers).expect(204);
      await request(gw.url).get(`/deployments/${id}`).set(a.headers).expect(404);
      await predict(id, base64(test.x, 0, 1)).expect(404);
      await request(gw.url).delete(`/deployments/${id}`).set(a.headers).expect(404);
      await request(gw.url).get('/deployments/not-a-uuid').set(a.headers).expect(404);
    } finally {
      await hook.close();
    }
  });

  it('keeps serving when the model is deleted, and a deployment of 0 replicas starts paused', async () => {
    const train = await request(gw.url).post('/jobs/train').set(a.headers).send({ model_id: modelId, backend: 'tensorflow', dataset: 'MNIST', training_config: { ...TRAINING, train_samples: 500 }, seed: 1 }).expect(202);
    const job = await waitUntil(async () => (await request(gw.url).get(`/jobs/${train.body.job_id}`).set(a.headers).expect(200)).body, (j) => j.status === 'completed', 120_000);
    const created = await deploy(a.headers, { model_id: job.experiment_id, deployment_name: 'paused_at_start', config: { replicas: 0 } }).expect(201);
    const id = created.body.deployment_id;
    expect(created.body.model_id).toBe(job.model_id);
    await waitUntil(() => get(id), (d) => d.status !== 'deploying');
    expect(await get(id)).toMatchObject({ status: 'paused', replicas: 0, ready_replicas: 0 });
    await predict(id, base64(test.x, 0, 1)).expect(503);
    await request(gw.url).delete(`/models/${job.model_id}`).set(a.headers).expect(204);
    await request(gw.url).post(`/deployments/${id}/scale`).set(a.headers).send({ replicas: 1 }).expect(200);
    const res = await predict(id, base64(test.x, 0, 2)).expect(200);
    expect(res.body.predictions).toHaveLength(2);
    await request(gw.url).delete(`/deployments/${id}`).set(a.headers).expect(204);
  });

  it('fails a deployment whose model ONNX Runtime cannot load, with the reason on the deployment and its job', async () => {
    const iris = 'network Flowers {\n  input: (4,)\n  layers:\n    Dense(units=8, activation="relu")\n    Output(units=3, activation="softmax")\n}';
    const train = await request(gw.url).post('/jobs/train').set(a.headers).send({ dsl_code: iris, backend: 'tensorflow', dataset: 'Iris', training_config: { epochs: 1 } }).expect(202);
    const job = await waitUntil(async () => (await request(gw.url).get(`/jobs/${train.body.job_id}`).set(a.headers).expect(200)).body, (j) => j.status === 'completed', 60_000);
    const model = await gw.get(ModelsRepository).findForTenant(a.tenantId, job.model_id);
    await gw.get(ArtifactStore).put(model!.formats!.onnx.key, Buffer.from('not an onnx file'));
    const created = await deploy(a.headers, { model_id: job.model_id, deployment_name: 'broken' }).expect(201);
    const id = created.body.deployment_id;
    const failed = await waitUntil(() => get(id), (d) => d.status !== 'deploying');
    expect(failed).toMatchObject({ status: 'failed', ready_replicas: 0, error: { code: 'model_not_servable', detail: expect.stringMatching(/ONNX/) } });
    const deployJob = (await request(gw.url).get(`/jobs/${created.body.job_id}`).set(a.headers).expect(200)).body;
    expect(deployJob).toMatchObject({ type: 'deploy', status: 'failed', error: { code: 'model_not_servable' } });
    expect((await predict(id, [[1, 2, 3, 4]]).expect(409)).body.detail).toMatch(/failed/);
    await request(gw.url).post(`/deployments/${id}/scale`).set(a.headers).send({ replicas: 2 }).expect(409);
    await request(gw.url).get(`/deployments/${id}/manifests`).set(a.headers).expect(409);
    await request(gw.url).delete(`/deployments/${id}`).set(a.headers).expect(204);
  });

  if (mode === 'distributed') {
    it('any gateway serves any deployment, and follows scale and delete made on another', async () => {
      const created = await deploy(a.headers, { model_id: modelId, deployment_name: 'shared' }).expect(201);
      const id = created.body.deployment_id;
      await waitUntil(() => get(id), (d) => d.ready_replicas === 1);
      // Gateways share the artifact stores (a volume in production), as they share the database and Redis.
      const second = await startGateway({ distributed: platform.distributed!, env, storagePath: gw.storagePath });
      try {
        const viaSecond = await request(second.url).post(`/deployments/${id}/predict`).set(a.headers).send({ instances: base64(test.x, 0, 2) }).expect(200);
        expect((await predict(id, base64(test.x, 0, 2)).expect(200)).body.predictions).toEqual(viaSecond.body.predictions);
        await request(gw.url).post(`/deployments/${id}/scale`).set(a.headers).send({ replicas: 2 }).expect(200);
        await waitUntil(async () => (await request(second.url).get(`/deployments/${id}`).set(a.headers).expect(200)).body, (d) => d.ready_replicas === 2, 10_000);
        // Stats add up across gateways.
        expect((await get(id)).request_count).toBe(2);
        await request(gw.url).delete(`/deployments/${id}`).set(a.headers).expect(204);
        await waitUntil(async () => (await request(second.url).post(`/deployments/${id}/predict`).set(a.headers).send({ instances: base64(test.x, 0, 1) })).status, (s) => s === 404, 10_000);
      } finally {
        await second.close();
      }
    });
  }
});
