import { loadTfjsModel } from '@app/dsl/train';
import { createTenantSession, jobFinished, runOnnx, startGateway, startPlatform, type TenantSession, type TestGateway, type TestPlatform, waitUntil } from '@app/testing';
import * as tf from '@tensorflow/tfjs';
import { createHmac } from 'crypto';
import { unzipSync } from 'fflate';
import { createServer, type Server } from 'http';
import type { AddressInfo } from 'net';
import request from 'supertest';

/** The seed's training example, verbatim: its `dsl_code` is a placeholder, so the answer is a positioned 422. */
const SEED_TRAIN_BODY = {
  dsl_code: 'Model MyModel {...}',
  backend: 'tensorflow',
  dataset: 'MNIST',
  training_config: { epochs: 10, batch_size: 32, learning_rate: 0.001 },
  experiment_name: 'my_experiment',
  webhook_url: 'https://your-webhook-url.com/notify',
};
/** The seed's compile model: Conv2D straight into Dense (a Flatten is inserted). Smaller filters keep CI fast. */
const SEED_MODEL = 'Model MyModel {\n  Input(shape=[28, 28, 1])\n  Conv2D(filters=8, kernel_size=3, activation=relu)\n  Dense(units=10, activation=softmax)\n}';
const IRIS_MODEL = 'network Flowers {\n  input: (4,)\n  layers:\n    Dense(units=16, activation="relu")\n    Output(units=3, activation="softmax")\n  loss: "sparse_categorical_crossentropy"\n  optimizer: Adam(learning_rate=0.05)\n}';
const SMALL_MNIST = { epochs: 2, batch_size: 32, train_samples: 2000, validation_split: 0.1 };

type Json = Record<string, any>;

const finished = (url: string, headers: Record<string, string>, jobId: string, timeoutMs = 90_000) => jobFinished(url, headers, jobId, timeoutMs);

/** The whole SSE stream of a job (it ends when the job finishes), parsed into `{event, data}`. */
async function stream(url: string, headers: Record<string, string>, jobId: string): Promise<Array<{ event: string; data: Json }>> {
  const res = await request(url)
    .get(`/jobs/${jobId}/events`)
    .set(headers)
    .buffer(true)
    .parse((r, cb) => {
      let text = '';
      r.on('data', (c: Buffer) => (text += c.toString()));
      r.on('end', () => cb(null, text));
    })
    .expect(200);
  expect(res.headers['content-type']).toMatch(/^text\/event-stream/);
  return (res.body as string)
    .split('\n\n')
    .filter((block) => block.includes('data:'))
    .map((block) => {
      const lines = block.split('\n');
      return { event: lines.find((l) => l.startsWith('event:'))?.slice(6).trim() ?? 'message', data: JSON.parse(lines.find((l) => l.startsWith('data:'))!.slice(5)) };
    });
}

function binary(r: request.Test): request.Test {
  return r.buffer(true).parse((res, cb) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('end', () => cb(null, Buffer.concat(chunks)));
  });
}

/** A local webhook receiver: answers 500 to the first `failFirst` deliveries, then 200. */
async function webhookReceiver(failFirst = 0): Promise<{ url: string; received: Array<{ headers: Json; body: string }>; close(): Promise<void> }> {
  const received: Array<{ headers: Json; body: string }> = [];
  let calls = 0;
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c));
    req.on('end', () => {
      calls++;
      received.push({ headers: req.headers, body });
      res.writeHead(calls <= failFirst ? 500 : 200).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, received, close: () => new Promise((r) => server.close(() => r())) };
}


describe.each(['embedded', 'distributed'] as const)('training over HTTP (%s mode)', (mode) => {
  let gw: TestGateway;
  let platform: TestPlatform;
  let a: TenantSession;
  let b: TenantSession;
  const demo = { 'X-API-Key': 'demo_api_key_12345' };
  const settings = { RATE_LIMIT_ENABLED: 'false', WEBHOOK_BACKOFF_MS: '50', WORKER_TRAINING_CONCURRENCY: '2' };

  beforeAll(async () => {
    platform = await startPlatform(mode, settings);
    gw = platform.gw;
    a = await createTenantSession(gw);
    b = await createTenantSession(gw);
  });

  afterAll(async () => {
    await platform?.close();
  });

  it("answers the seed's train example verbatim with a positioned 422 (its dsl_code is a placeholder)", async () => {
    const res = await request(gw.url).post('/jobs/train').set(demo).set('Content-Type', 'application/json').send(JSON.stringify(SEED_TRAIN_BODY)).expect(422);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.body).toMatchObject({ status: 422, code: 'dsl_syntax_error' });
    expect(res.body.errors[0]).toMatchObject({ line: 1, column: expect.any(Number), message: expect.any(String) });
  });

  it('trains the seed model on real MNIST: live progress, signed webhooks, experiment, artifacts and a registered model', async () => {
    const hook = await webhookReceiver(1);
    try {
      const res = await request(gw.url)
        .post('/jobs/train')
        .set(a.headers)
        .send({ ...SEED_TRAIN_BODY, dsl_code: SEED_MODEL, training_config: { ...SMALL_MNIST, learning_rate: 0.001 }, webhook_url: hook.url, seed: 11 })
        .expect(202);
      expect(res.body).toEqual({ job_id: expect.any(String), experiment_id: expect.any(String), status: 'pending', message: expect.any(String) });
      const { job_id: jobId, experiment_id: experimentId } = res.body;
      const pending = await request(gw.url).get(`/jobs/${jobId}`).set(a.headers).expect(200);
      expect(pending.body).toMatchObject({ type: 'train', experiment_id: experimentId, total_epochs: 2 });

      const events = await stream(gw.url, a.headers, jobId);
      const types = new Set(events.map((e) => e.event));
      expect([...types]).toEqual(expect.arrayContaining(['job', 'progress', 'epoch']));
      const epochs = events.filter((e) => e.event === 'epoch').map((e) => e.data);
      expect(epochs.map((e) => e.epoch)).toEqual([1, 2]);
      expect(epochs[1].metrics).toEqual(expect.objectContaining({ loss: expect.any(Number), accuracy: expect.any(Number), val_loss: expect.any(Number), val_accuracy: expect.any(Number) }));
      const progress = events.filter((e) => e.event === 'progress').map((e) => e.data.progress as number);
      expect(progress.length).toBeGreaterThan(1);
      expect([...progress].sort((x, y) => x - y)).toEqual(progress);
      expect(events[events.length - 1]).toMatchObject({ event: 'job', data: { job_id: jobId, status: 'completed', progress: 100 } });

      const job = await finished(gw.url, a.headers, jobId);
      expect(job).toMatchObject({ status: 'completed', progress: 100, current_epoch: 2, total_epochs: 2, error: null, experiment_id: experimentId });
      expect(job.metrics.val_accuracy).toBeGreaterThan(0.7);
      expect(job.result).toMatchObject({ experiment_id: experimentId, model_id: job.model_id, download_url: `/models/${job.model_id}/download` });
      expect(job.result.test_metrics.accuracy).toBeGreaterThan(0.7);

      const exp = (await request(gw.url).get(`/experiments/${experimentId}`).set(a.headers).expect(200)).body;
      expect(exp).toMatchObject({ experiment_id: experimentId, name: 'my_experiment', status: 'completed', job_id: jobId, model_id: job.model_id, engine: 'tfjs', compute_backend: 'wasm', dataset: 'MNIST', seed: 11, epochs_completed: 2 });
      expect(exp.hyperparameters).toMatchObject({ epochs: 2, batch_size: 32, learning_rate: 0.001, optimizer: 'Adam', loss: 'categorical_crossentropy' });
      expect(exp.history).toHaveLength(2);
      for (const row of exp.history) {
        expect(Object.keys(row)).toEqual(expect.arrayContaining(['epoch', 'loss', 'accuracy', 'val_loss', 'val_accuracy', 'epoch_seconds', 'samples_per_second', 'learning_rate']));
        expect(row.samples_per_second).toBeGreaterThan(0);
      }
      expect(exp.final_metrics).toEqual(Object.fromEntries(Object.entries(exp.history[1]).filter(([k]) => !['epoch', 'epoch_seconds', 'samples_per_second', 'learning_rate'].includes(k))));
      expect(exp.best_metrics.val_accuracy).toBe(Math.max(...exp.history.map((r: Json) => r.val_accuracy)));
      expect(exp.best_metrics.loss).toBe(Math.min(...exp.history.map((r: Json) => r.loss)));
      expect(exp.test_metrics.accuracy).toBeGreaterThan(0.7);
      expect(exp.artifacts.map((x: Json) => x.name).sort()).toEqual(['metrics.csv', 'model.json', 'model.onnx', 'model_pytorch.py', 'model_tensorflow.py', 'training.log', 'weights.bin']);

      // Artifacts: the tfjs model and the ONNX file predict alike; the CSV has a row per epoch; the log tells the story.
      const art = (name: string) => binary(request(gw.url).get(`/experiments/${experimentId}/artifacts/${name}`).set(a.headers)).expect(200);
      const modelJson = (await art('model.json')).body.toString('utf8');
      const weights = (await art('weights.bin')).body as Buffer;
      const onnxFile = await art('model.onnx');
      expect(onnxFile.headers['content-type']).toBe('application/octet-stream');
      expect(onnxFile.headers['content-disposition']).toBe('attachment; filename="model.onnx"');
      const model = await loadTfjsModel(tf, modelJson, new Uint8Array(weights));
      const x = Float32Array.from({ length: 2 * 784 }, (_, i) => (i % 29) / 29);
      const expected = (model.predict(tf.tensor4d(x, [2, 28, 28, 1])) as tf.Tensor).dataSync();
      const got = runOnnx([{ id: 'm', bytes: new Uint8Array(onnxFile.body), inputs: { input: { dims: [2, 28, 28, 1], data: x } } }]).m;
      expect(got.error).toBeUndefined();
      expect(Math.max(...got.data.map((v, i) => Math.abs(v - expected[i])))).toBeLessThan(1e-4);
      const csv = (await art('metrics.csv')).body.toString('utf8').trim().split('\n');
      expect(csv[0].split(',')).toEqual(expect.arrayContaining(['epoch', 'loss', 'accuracy', 'val_loss', 'val_accuracy']));
      expect(csv).toHaveLength(3);
      const log = (await art('training.log')).body.toString('utf8');
      expect(log).toMatch(/training on wasm/);
      expect(log).toMatch(/epoch 2\/2/);
      expect((await art('model_pytorch.py')).headers['content-type']).toMatch(/^text\/x-python/);
      await request(gw.url).get(`/experiments/${experimentId}/artifacts/..%2F..%2Fetc%2Fpasswd`).set(a.headers).expect(404);
      await request(gw.url).get(`/experiments/${experimentId}/artifacts/checkpoint.bin`).set(a.headers).expect(404);

      // The trained model under /models/, in every form.
      const registered = (await request(gw.url).get(`/models/${job.model_id}`).set(a.headers).expect(200)).body;
      expect(registered).toMatchObject({ name: 'MyModel', backend: 'tensorflow', trained: true, experiment_id: experimentId, job_id: jobId });
      expect(registered.formats.sort()).toEqual(['code', 'onnx', 'pytorch', 'tensorflow', 'tfjs']);
      const onnxDownload = await binary(request(gw.url).get(`/models/${job.model_id}/download?format=onnx`).set(a.headers)).expect(200);
      expect(Buffer.compare(onnxDownload.body, onnxFile.body)).toBe(0);
      const tfjsZip = await binary(request(gw.url).get(`/models/${job.model_id}/download?format=tfjs`).set(a.headers)).expect(200);
      expect(tfjsZip.headers['content-type']).toBe('application/zip');
      expect(Object.keys(unzipSync(new Uint8Array(tfjsZip.body))).sort()).toEqual(['model.json', 'weights.bin']);
      const code = await request(gw.url).get(`/models/${job.model_id}/download`).set(a.headers).expect(200);
      expect(code.text).toContain('def build_model(');
      await request(gw.url).get(`/models/${job.model_id}/download?format=pytorch_weights`).set(a.headers).expect(404);
      await request(gw.url).get(`/models/${job.model_id}/download?format=caffe`).set(a.headers).expect(422);

      // Webhooks: started, progress, completed, each signed with the tenant's secret; the first attempt failed and was retried.
      const deliveries = await waitUntil(
        async () => (await request(gw.url).get(`/jobs/${jobId}/webhooks`).set(a.headers).expect(200)).body.deliveries as Json[],
        (ds) => ds.length > 0 && ds.every((d) => d.status !== 'pending'),
      );
      expect(deliveries.map((d) => d.event)).toEqual(expect.arrayContaining(['started', 'progress', 'completed']));
      expect(deliveries.every((d) => d.status === 'delivered')).toBe(true);
      const retried = deliveries.find((d) => d.attempts > 1)!;
      expect(retried.attempt_log.map((t: Json) => t.status_code)).toEqual([500, 200]);
      const secret = (await request(gw.url).get('/auth/webhook-secret').set(a.headers).expect(200)).body.webhook_secret;
      for (const r of hook.received) {
        expect(r.headers['x-neural-signature']).toBe(`sha256=${createHmac('sha256', secret).update(r.body).digest('hex')}`);
        expect(r.headers['x-neural-event']).toBe(JSON.parse(r.body).event);
      }
      const completed = JSON.parse(hook.received.find((r) => JSON.parse(r.body).event === 'completed')!.body);
      expect(completed).toEqual({
        job_id: jobId,
        event: 'completed',
        status: 'completed',
        data: { experiment_id: experimentId, model_id: job.model_id, final_metrics: exp.final_metrics, test_metrics: exp.test_metrics },
        timestamp: expect.stringMatching(/Z$/),
      });
      expect(new Set(hook.received.map((r) => r.headers['x-neural-delivery'])).size).toBe(deliveries.length);

      // Nothing of it is visible to another tenant.
      for (const path of [`/jobs/${jobId}`, `/jobs/${jobId}/webhooks`, `/jobs/${jobId}/events`, `/experiments/${experimentId}`, `/experiments/${experimentId}/artifacts/model.onnx`, `/models/${job.model_id}`]) {
        await request(gw.url).get(path).set(b.headers).expect(404);
      }
      expect((await request(gw.url).get('/experiments').set(b.headers).expect(200)).body.experiments).toEqual([]);
      await request(gw.url).delete(`/experiments/${experimentId}`).set(b.headers).expect(404);
    } finally {
      await hook.close();
    }
  });

  it('compares experiments and sorts them by a metric', async () => {
    const submit = async (lr: number) => (await request(gw.url).post('/jobs/train').set(a.headers).send({ dsl_code: IRIS_MODEL, backend: 'onnx', dataset: 'iris', experiment_name: 'flowers', training_config: { epochs: 15, batch_size: 16, learning_rate: lr }, seed: 3 }).expect(202)).body;
    const [fast, slow] = [await submit(0.05), await submit(0.0001)];
    await finished(gw.url, a.headers, fast.job_id);
    await finished(gw.url, a.headers, slow.job_id);
    const cmp = (await request(gw.url).get(`/experiments/${fast.experiment_id}/compare?compare_with=${slow.experiment_id}`).set(a.headers).expect(200)).body;
    expect(cmp.experiments.map((e: Json) => e.experiment_id)).toEqual([fast.experiment_id, slow.experiment_id]);
    expect(cmp.hyperparameter_differences).toEqual({ learning_rate: { [fast.experiment_id]: 0.05, [slow.experiment_id]: 0.0001 } });
    expect(cmp.best.val_accuracy.goal).toBe('max');
    expect(cmp.best.loss).toMatchObject({ experiment_id: fast.experiment_id, goal: 'min' });
    expect(cmp.experiments[0].history).toHaveLength(15);
    const same = (await request(gw.url).get(`/experiments/${fast.experiment_id}/compare?ids=${slow.experiment_id}`).set(a.headers).expect(200)).body;
    expect(same.best).toEqual(cmp.best);
    await request(gw.url).get(`/experiments/${fast.experiment_id}/compare?compare_with=00000000-0000-4000-8000-000000000000`).set(a.headers).expect(404);
    await request(gw.url).get(`/experiments/${fast.experiment_id}/compare`).set(a.headers).expect(422);
    await request(gw.url).get(`/experiments/${fast.experiment_id}/compare?compare_with=${slow.experiment_id}`).set(b.headers).expect(404);

    const sorted = (await request(gw.url).get('/experiments/?name=flowers&sort_by=loss&order=asc').set(a.headers).expect(200)).body;
    expect(sorted.experiments.map((e: Json) => e.experiment_id)).toEqual([fast.experiment_id, slow.experiment_id]);
    const byStatus = (await request(gw.url).get('/experiments?status_filter=completed&limit=1').set(a.headers).expect(200)).body;
    expect(byStatus).toMatchObject({ total: expect.any(Number), skip: 0, limit: 1 });
    expect(byStatus.experiments).toHaveLength(1);
    const trainJobs = (await request(gw.url).get('/jobs?type=train&status=completed').set(a.headers).expect(200)).body;
    expect(trainJobs.jobs.every((j: Json) => j.type === 'train' && j.status === 'completed')).toBe(true);
  });

  it('cancels a running training within a batch and keeps the metrics of the epochs it finished', async () => {
    const hook = await webhookReceiver();
    try {
      const res = await request(gw.url)
        .post('/jobs/train')
        .set(a.headers)
        .send({ dsl_code: SEED_MODEL, backend: 'tensorflow', dataset: 'MNIST', training_config: { epochs: 100, batch_size: 32, train_samples: 1500, validation_split: 0.1 }, webhook_url: hook.url })
        .expect(202);
      const { job_id: jobId, experiment_id: experimentId } = res.body;
      await waitUntil(async () => (await request(gw.url).get(`/jobs/${jobId}`).set(a.headers)).body, (j) => j.current_epoch >= 1 && j.metrics !== null);
      const cancelled = await request(gw.url).delete(`/jobs/${jobId}`).set(a.headers).expect(202);
      expect(cancelled.body).toMatchObject({ job_id: jobId, status: 'cancelled' });
      const exp = await waitUntil(async () => (await request(gw.url).get(`/experiments/${experimentId}`).set(a.headers)).body, (e) => e.status === 'cancelled' && e.artifacts.length > 0);
      expect(exp.history.length).toBeGreaterThanOrEqual(1);
      expect(exp.history.length).toBeLessThan(10);
      expect(exp.final_metrics).toEqual(expect.objectContaining({ loss: expect.any(Number), accuracy: expect.any(Number) }));
      expect(exp.artifacts.map((x: Json) => x.name).sort()).toEqual(['metrics.csv', 'training.log']);
      const job = (await request(gw.url).get(`/jobs/${jobId}`).set(a.headers).expect(200)).body;
      expect(job).toMatchObject({ status: 'cancelled', result: null, model_id: null });
      expect(job.metrics).toEqual(expect.objectContaining({ loss: expect.any(Number) }));
      await request(gw.url).delete(`/jobs/${jobId}`).set(a.headers).expect(409);
      const events = await waitUntil(async () => hook.received.map((r) => JSON.parse(r.body).event as string), (ev) => ev.includes('cancelled'));
      expect(events).toContain('started');
      // The worker is free again: its training process took the cancel, not a kill.
      const next = (await request(gw.url).post('/jobs/train').set(a.headers).send({ dsl_code: IRIS_MODEL, backend: 'tensorflow', dataset: 'Iris', training_config: { epochs: 2 } }).expect(202)).body;
      expect((await finished(gw.url, a.headers, next.job_id)).status).toBe('completed');
    } finally {
      await hook.close();
    }
  });

  it('cancels a pending job at once: its experiment is cancelled and nothing runs', async () => {
    const res = await request(gw.url).post('/jobs/train').set(a.headers).send({ dsl_code: SEED_MODEL, backend: 'tensorflow', dataset: 'MNIST', training_config: { epochs: 100, train_samples: 3000 } }).expect(202);
    const { job_id: jobId, experiment_id: experimentId } = res.body;
    await request(gw.url).delete(`/jobs/${jobId}`).set(a.headers).expect(202);
    const exp = (await request(gw.url).get(`/experiments/${experimentId}`).set(a.headers).expect(200)).body;
    expect(exp.status).toBe('cancelled');
    await request(gw.url).delete(`/experiments/${experimentId}`).set(a.headers).expect(204);
    await request(gw.url).get(`/experiments/${experimentId}`).set(a.headers).expect(404);
    await request(gw.url).delete(`/experiments/${experimentId}`).set(a.headers).expect(404);
  });

  it('uploads a CSV dataset, lists it with the built-ins, trains on it, and deletes it', async () => {
    // Three classes by which quadrant-ish region a point lies in: learnable, not linearly trivial.
    const rows = ['x1,x2,label'];
    let s = 5;
    const rand = () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648) * 2 - 1;
    for (let i = 0; i < 600; i++) {
      const [x1, x2] = [rand(), rand()];
      rows.push(`${x1.toFixed(4)},${x2.toFixed(4)},${x1 > 0.3 ? 'east' : x2 > 0 ? 'north' : 'south'}`);
    }
    const up = await request(gw.url).post('/datasets').set(a.headers).field('name', 'regions').field('test_split', '0.2').attach('file', Buffer.from(rows.join('\n')), 'regions.csv').expect(201);
    expect(up.body).toMatchObject({ name: 'regions', kind: 'upload', task: 'classification', sample_shape: [2], num_classes: 3, class_names: ['east', 'north', 'south'], train_samples: 480, test_samples: 120, format: 'csv' });
    const id = up.body.dataset_id;
    const list = (await request(gw.url).get('/datasets').set(a.headers).expect(200)).body;
    expect(list.datasets.map((d: Json) => d.name)).toEqual(['MNIST', 'FashionMNIST', 'Iris', 'regions']);
    expect(list.datasets[0]).toMatchObject({ kind: 'builtin', sample_shape: [28, 28, 1], num_classes: 10, train_samples: 60000, test_samples: 10000, available: true });
    expect((await request(gw.url).get('/datasets').set(b.headers).expect(200)).body.datasets.map((d: Json) => d.name)).toEqual(['MNIST', 'FashionMNIST', 'Iris']);
    await request(gw.url).get(`/datasets/${id}`).set(b.headers).expect(404);
    await request(gw.url).post('/jobs/train').set(b.headers).send({ dsl_code: 'network R {\n  input: (2,)\n  layers:\n    Dense(16, activation="relu")\n    Output(3, activation="softmax")\n}', backend: 'tensorflow', dataset: id }).expect(422);

    const model = 'network R {\n  input: (2,)\n  layers:\n    Dense(32, activation="relu")\n    Dense(32, activation="relu")\n    Output(3, activation="softmax")\n  loss: "sparse_categorical_crossentropy"\n  optimizer: Adam(learning_rate=0.02)\n  metrics: ["accuracy"]\n}';
    const job = (await request(gw.url).post('/jobs/train').set(a.headers).send({ dsl_code: model, backend: 'tensorflow', dataset: 'regions', training_config: { epochs: 40, batch_size: 32, validation_split: 0 }, seed: 1 }).expect(202)).body;
    const done = await finished(gw.url, a.headers, job.job_id);
    expect(done.status).toBe('completed');
    expect(done.result.test_metrics.accuracy).toBeGreaterThan(0.85);

    const json = { x: Array.from({ length: 40 }, (_, i) => [[i % 2, 1 - (i % 2)], [0.5, i / 40]]), y: Array.from({ length: 40 }, (_, i) => (i % 2 ? 'odd' : 'even')) };
    const fromJson = await request(gw.url).post('/datasets').set(a.headers).field('name', 'pairs').attach('file', Buffer.from(JSON.stringify(json)), 'pairs.json').expect(201);
    expect(fromJson.body).toMatchObject({ format: 'json', sample_shape: [2, 2], num_classes: 2, class_names: ['even', 'odd'], train_samples: 40, test_samples: 0 });
    const pairs = (await request(gw.url).post('/jobs/train').set(a.headers).send({ dsl_code: 'network P {\n  input: (2, 2)\n  layers:\n    Flatten()\n    Output(2, activation="softmax")\n}', backend: 'tensorflow', dataset: fromJson.body.dataset_id, training_config: { epochs: 30, validation_split: 0 } }).expect(202)).body;
    expect((await finished(gw.url, a.headers, pairs.job_id)).status).toBe('completed');
    await request(gw.url).delete(`/datasets/${fromJson.body.dataset_id}`).set(a.headers).expect(204);

    await request(gw.url).post('/datasets').set(a.headers).field('name', 'regions').attach('file', Buffer.from(rows.join('\n')), 'again.csv').expect(409);
    const bad = await request(gw.url).post('/datasets').set(a.headers).field('name', 'broken').attach('file', Buffer.from('a,b,label\n1,2,x\n3,oops,y\n'), 'broken.csv').expect(422);
    expect(bad.body).toMatchObject({ code: 'dataset_format_error' });
    expect(bad.body.errors[0]).toMatchObject({ field: 'file', line: 3 });
    await request(gw.url).post('/datasets').set(a.headers).field('name', 'MNIST').attach('file', Buffer.from(rows.join('\n')), 'x.csv').expect(422);
    await request(gw.url).post('/datasets').set(a.headers).send({ name: 'json-body' }).expect(415);
    expect((await request(gw.url).get('/datasets').set(a.headers).expect(200)).body.datasets.map((d: Json) => d.name)).toEqual(['MNIST', 'FashionMNIST', 'Iris', 'regions']);

    await request(gw.url).delete(`/datasets/${id}`).set(b.headers).expect(404);
    await request(gw.url).delete(`/datasets/${id}`).set(a.headers).expect(204);
    await request(gw.url).get(`/datasets/${id}`).set(a.headers).expect(404);
    await request(gw.url).delete(`/datasets/${id}`).set(a.headers).expect(404);
  });

  it('refuses what cannot be trained with a 422 a person can act on', async () => {
    const post = (body: Json) => request(gw.url).post('/jobs/train').set(a.headers).send({ backend: 'tensorflow', dataset: 'MNIST', ...body });
    const unknown = await post({ dsl_code: SEED_MODEL, dataset: 'CIFAR-10' }).expect(422);
    expect(unknown.body).toMatchObject({ code: 'unknown_dataset' });
    expect(unknown.body.detail).toMatch(/Available: MNIST, FashionMNIST, Iris/);
    const shapes = await post({ dsl_code: 'Model Big {\n  Input(shape=[32, 32, 3])\n  Conv2D(filters=4, kernel_size=3)\n  Dense(10, activation=softmax)\n}' }).expect(422);
    expect(shapes.body).toMatchObject({ code: 'dataset_mismatch' });
    expect(shapes.body.detail).toMatch(/\(32, 32, 3\).*\(28, 28, 1\)/);
    const classes = await post({ dsl_code: 'Model Five {\n  Input(shape=[28, 28, 1])\n  Dense(5, activation=softmax)\n}' }).expect(422);
    expect(classes.body.code).toBe('dataset_mismatch');
    const untrainable = await post({ dsl_code: 'network Odd {\n  input: (28, 28, 1)\n  layers:\n    Flatten()\n    QuantumLayer(units=4)\n    Output(10, activation="softmax")\n}' }).expect(422);
    expect(untrainable.body.code).toBe('dsl_error');
    expect(untrainable.body.errors[0]).toMatchObject({ line: 5, message: expect.stringContaining('QuantumLayer') });
    const config = await post({ dsl_code: SEED_MODEL, training_config: { optimizer: 'adamm', epochs: 1_000_000 } }).expect(422);
    expect(config.body.code).toBe('validation_error');
    expect(config.body.errors.map((e: Json) => e.field).sort()).toEqual(['training_config.epochs', 'training_config.optimizer']);
    expect(config.body.errors.find((e: Json) => e.field === 'training_config.optimizer').message).toMatch(/Adam/);
    const fields = await post({ dsl_code: SEED_MODEL, training_config: { epochs: 0, batch_size: 'big', validation_split: 1.5 }, seed: -1 }).expect(422);
    expect(fields.body.errors.map((e: Json) => e.field).sort()).toEqual(['seed', 'training_config.batch_size', 'training_config.epochs', 'training_config.validation_split']);
    await post({}).expect(422);
    await post({ dsl_code: SEED_MODEL, model_id: '00000000-0000-4000-8000-000000000000' }).expect(422);
    await post({ model_id: '00000000-0000-4000-8000-000000000000' }).expect(422);
    await post({ dsl_code: SEED_MODEL, webhook_url: 'ftp://example.com/x' }).expect(422);
    await post({ dsl_code: SEED_MODEL, training_config: { train_samples: 70000 } }).expect(422);
    const jobs = (await request(gw.url).get('/jobs?type=train&status=pending').set(a.headers).expect(200)).body;
    expect(jobs.jobs).toEqual([]);
  });

  it('sends a failure webhook with a message a person can read, never a stack trace or a path', async () => {
    const hook = await webhookReceiver();
    try {
      const res = await request(gw.url).post('/compile/').set(a.headers).send({ dsl_code: 'Model Bad {\n  Input(shape=[4])\n  Dense(units=0)\n}', backend: 'pytorch', webhook_url: hook.url }).expect(202);
      const failed = await waitUntil(async () => hook.received.map((r) => JSON.parse(r.body)), (bodies) => bodies.length >= 2);
      const payload = failed.find((f) => f.event === 'failed');
      expect(payload).toMatchObject({ job_id: res.body.job_id, status: 'failed', data: { error: { code: 'dsl_error', message: expect.stringMatching(/^line 3, column \d+: /) } } });
      expect(JSON.stringify(payload)).not.toMatch(/\s+at\s|\/work\/|node_modules|\.ts:/);
      expect(failed.map((f) => f.event).sort()).toEqual(['failed', 'started']);
    } finally {
      await hook.close();
    }
  });

  it('trains a registered model by model_id', async () => {
    const compiled = (await request(gw.url).post('/compile/sync').set(a.headers).send({ dsl_code: IRIS_MODEL, backend: 'tensorflow' }).expect(200)).body;
    const res = (await request(gw.url).post('/jobs/train').set(a.headers).send({ model_id: compiled.model_id, backend: 'tensorflow', dataset: 'Iris', training_config: { epochs: 20 } }).expect(202)).body;
    const job = await finished(gw.url, a.headers, res.job_id);
    expect(job.status).toBe('completed');
    expect(job.model_id).not.toBe(compiled.model_id);
    await request(gw.url).post('/jobs/train').set(b.headers).send({ model_id: compiled.model_id, backend: 'tensorflow', dataset: 'Iris' }).expect(422);
  });

  if (mode === 'embedded') {
    it('trains with PyTorch for backend pytorch: the generated module, the same progress, metrics and artifacts', async () => {
      const res = (await request(gw.url).post('/jobs/train').set(a.headers).send({ dsl_code: IRIS_MODEL, backend: 'pytorch', dataset: 'Iris', training_config: { epochs: 15, batch_size: 16 }, seed: 2 }).expect(202)).body;
      const events = await stream(gw.url, a.headers, res.job_id);
      expect(events.filter((e) => e.event === 'epoch')).toHaveLength(15);
      const job = await finished(gw.url, a.headers, res.job_id);
      expect(job.status).toBe('completed');
      const exp = (await request(gw.url).get(`/experiments/${res.experiment_id}`).set(a.headers).expect(200)).body;
      expect(exp).toMatchObject({ engine: 'pytorch', compute_backend: expect.stringMatching(/^torch \d/), epochs_completed: 15 });
      expect(exp.history[14].val_accuracy).toBeGreaterThan(0.6);
      expect(exp.test_metrics.accuracy).toBeGreaterThan(0.6);
      expect(exp.artifacts.map((x: Json) => x.name)).toEqual(expect.arrayContaining(['weights.pt', 'model.onnx', 'model_pytorch.py', 'model.json', 'weights.bin']));
      const model = (await request(gw.url).get(`/models/${job.model_id}`).set(a.headers).expect(200)).body;
      expect(model).toMatchObject({ backend: 'pytorch', trained: true });
      expect(model.formats).toEqual(expect.arrayContaining(['code', 'onnx', 'tfjs', 'pytorch_weights']));
      const code = await request(gw.url).get(`/models/${job.model_id}/download`).set(a.headers).expect(200);
      expect(code.text).toContain('import torch');
    });

    it('refuses backend pytorch with a 422 where PyTorch is absent', async () => {
      const noTorch = await startGateway({ env: { RATE_LIMIT_ENABLED: 'false', PYTHON_BIN: '/nonexistent/python3' } });
      try {
        const session = await createTenantSession(noTorch);
        const res = await request(noTorch.url).post('/jobs/train').set(session.headers).send({ dsl_code: IRIS_MODEL, backend: 'pytorch', dataset: 'Iris' }).expect(422);
        expect(res.body).toMatchObject({ code: 'engine_unavailable', detail: expect.stringContaining('PyTorch') });
        const health = (await request(noTorch.url).get('/health').expect(200)).body;
        expect(health.pytorch).toBeNull();
      } finally {
        await noTorch.close();
      }
    });

    it('refuses an upload over the size limit with 413 and keeps nothing', async () => {
      const small = await startGateway({ env: { RATE_LIMIT_ENABLED: 'false', DATASET_MAX_UPLOAD_BYTES: '2048' } });
      try {
        const session = await createTenantSession(small);
        const big = 'a,label\n' + Array.from({ length: 1000 }, (_, i) => `${i},${i % 2}`).join('\n');
        const res = await request(small.url).post('/datasets').set(session.headers).field('name', 'big').attach('file', Buffer.from(big), 'big.csv').expect(413);
        expect(res.body.detail).toMatch(/DATASET_MAX_UPLOAD_BYTES/);
        expect((await request(small.url).get('/datasets').set(session.headers).expect(200)).body.total).toBe(3);
      } finally {
        await small.close();
      }
    });
  }
});
