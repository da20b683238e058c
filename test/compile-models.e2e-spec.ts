import { ArtifactStore } from '@app/storage';
import { createTenantSession, jobFinished, startPlatform, type TenantSession, type TestGateway, type TestPlatform } from '@app/testing';
import request from 'supertest';

const SEED_BODY = {
  dsl_code: 'Model MyModel {\n  Input(shape=[28, 28, 1])\n  Conv2D(filters=32, kernel_size=3, activation=relu)\n  Dense(units=10, activation=softmax)\n}',
  backend: 'tensorflow',
  dataset: 'MNIST',
};
const MNIST = `network MNISTClassifier {
  input: (28, 28, 1)
  layers:
    Conv2D(filters=32, kernel_size=(3,3), activation="relu")
    MaxPooling2D(pool_size=(2,2))
    Flatten()
    Dense(units=128, activation="relu")
    Dropout(rate=0.5)
    Output(units=10, activation="softmax")
  loss: "sparse_categorical_crossentropy"
  optimizer: Adam(learning_rate=0.001)
}`;
const BROKEN = 'network Broken {\n  input: (28, 28, 1)\n  layers:\n    Dropout(1.5)\n    Desne(3)\n}';

const finished = (url: string, headers: Record<string, string>, jobId: string, timeoutMs = 30_000) => jobFinished(url, headers, jobId, timeoutMs);

describe.each(['embedded', 'distributed'] as const)('compile, jobs and models over HTTP (%s mode)', (mode) => {
  let gw: TestGateway;
  let platform: TestPlatform;
  let a: TenantSession;
  let b: TenantSession;
  const demo = { 'X-API-Key': 'demo_api_key_12345' };

  beforeAll(async () => {
    platform = await startPlatform(mode, { RATE_LIMIT_ENABLED: 'false' });
    gw = platform.gw;
    a = await createTenantSession(gw);
    b = await createTenantSession(gw);
  });

  afterAll(async () => {
    await platform?.close();
  });

  it("runs the seed's compile example verbatim (POST /compile/ with the demo key) to a completed job and a model", async () => {
    const res = await request(gw.url).post('/compile/').set(demo).set('Content-Type', 'application/json').send(JSON.stringify(SEED_BODY)).expect(202);
    expect(res.body).toEqual({ job_id: expect.any(String), status: 'pending', message: expect.any(String) });
    const job = await finished(gw.url, demo, res.body.job_id);
    expect(job).toMatchObject({ type: 'compile', status: 'completed', progress: 100, error: null, model_id: expect.any(String) });
    expect(Date.parse(job.created_at)).toBeLessThanOrEqual(Date.parse(job.started_at));
    expect(Date.parse(job.started_at)).toBeLessThanOrEqual(Date.parse(job.completed_at));
    expect(job.result).toMatchObject({ model_id: job.model_id, backend: 'tensorflow', status: 'completed', download_url: `/models/${job.model_id}/download` });
    expect(job.result.summary).toMatchObject({ name: 'MyModel', input_shape: [null, 28, 28, 1], output_shape: [null, 10], total_params: 216650 });
    expect(job.result.warnings[0].message).toContain('a Flatten was inserted');
    expect(job.result.compiled_code).toContain('def build_model(');
    const model = await request(gw.url).get(`/models/${job.model_id}`).set(demo).expect(200);
    expect(model.body).toMatchObject({ model_id: job.model_id, job_id: job.job_id, backend: 'tensorflow', dsl_code: SEED_BODY.dsl_code });
  });

  it.each(['tensorflow', 'pytorch', 'onnx'] as const)('POST /compile/sync %s answers the model and registers it', async (backend) => {
    const res = await request(gw.url).post('/compile/sync').set(a.headers).send({ dsl_code: MNIST, backend }).expect(200);
    expect(res.body).toMatchObject({ model_id: expect.any(String), backend, status: 'completed', warnings: [], download_url: `/models/${res.body.model_id}/download` });
    expect(res.body.summary).toMatchObject({ name: 'MNISTClassifier', total_params: 693962, trainable_params: 693962 });
    expect(res.body.summary.layers.map((l: { type: string }) => l.type)).toEqual(['Conv2D', 'MaxPooling2D', 'Flatten', 'Dense', 'Dropout', 'Output']);
    const file = await request(gw.url).get(res.body.download_url).set(a.headers).buffer(true).parse((r, cb) => {
      const chunks: Buffer[] = [];
      r.on('data', (c: Buffer) => chunks.push(c));
      r.on('end', () => cb(null, Buffer.concat(chunks)));
    }).expect(200);
    const body = file.body as Buffer;
    if (backend === 'onnx') {
      expect(res.body.compiled_code).toBeNull();
      expect(file.headers['content-type']).toBe('application/octet-stream');
      expect(file.headers['content-disposition']).toBe('attachment; filename="MNISTClassifier.onnx"');
      expect(body.length).toBeGreaterThan(693962 * 4);
    } else {
      expect(file.headers['content-type']).toMatch(/^text\/x-python/);
      expect(file.headers['content-disposition']).toBe('attachment; filename="MNISTClassifier.py"');
      expect(body.toString('utf8')).toBe(res.body.compiled_code);
    }
    const detail = await request(gw.url).get(`/models/${res.body.model_id}`).set(a.headers).expect(200);
    expect(detail.body).toMatchObject({ name: 'MNISTClassifier', backend, size_bytes: body.length, dsl_code: MNIST, job_id: null, total_params: 693962 });
  });

  it('answers DSL errors with 422 problem+json listing every error with line, column and hint', async () => {
    const res = await request(gw.url).post('/compile/sync').set(a.headers).send({ dsl_code: BROKEN, backend: 'pytorch' }).expect(422);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.body).toMatchObject({ status: 422, code: 'dsl_error', request_id: expect.any(String) });
    expect(res.body.errors).toEqual([
      { line: 4, column: 13, message: 'Dropout rate should be between 0 and 1, got 1.5' },
      { line: 5, column: 5, message: "Unknown layer type or undefined macro 'Desne'", hint: 'did you mean Dense?' },
    ]);
    const syntax = await request(gw.url).post('/compile/sync').set(a.headers).send({ dsl_code: 'Model MyModel {...}', backend: 'tensorflow' }).expect(422);
    expect(syntax.body.code).toBe('dsl_syntax_error');
    expect(syntax.body.errors[0]).toMatchObject({ line: 1, column: 16 });
  });

  it('fails an async job with the same diagnostics', async () => {
    const res = await request(gw.url).post('/compile').set(a.headers).send({ dsl_code: BROKEN, backend: 'onnx' }).expect(202);
    const job = await finished(gw.url, a.headers, res.body.job_id);
    expect(job).toMatchObject({ status: 'failed', model_id: null, result: null });
    expect(job.error).toMatchObject({ code: 'dsl_error', errors: [{ line: 4, column: 13 }, { line: 5, column: 5, hint: 'did you mean Dense?' }] });
  });

  it('validates the body field by field (422) and refuses malformed JSON (400)', async () => {
    const res = await request(gw.url).post('/compile/sync').set(a.headers).send({ dsl_code: '', backend: 'keras', dataset: '../etc' }).expect(422);
    expect(res.body.code).toBe('validation_error');
    expect(res.body.errors.map((e: { field: string }) => e.field).sort()).toEqual(['backend', 'dataset', 'dsl_code']);
    await request(gw.url).post('/compile/sync').set(a.headers).set('Content-Type', 'application/json').send('{"dsl_code": ').expect(400);
  });

  it('lists models newest first with pagination and the backend filter, with and without the trailing slash', async () => {
    const s = await createTenantSession(gw);
    const ids: string[] = [];
    for (const backend of ['tensorflow', 'pytorch', 'pytorch']) {
      ids.push((await request(gw.url).post('/compile/sync').set(s.headers).send({ dsl_code: MNIST, backend }).expect(200)).body.model_id);
    }
    const all = await request(gw.url).get('/models').set(s.headers).expect(200);
    expect(all.body).toMatchObject({ total: 3, skip: 0, limit: 100 });
    expect(all.body.models.map((m: { model_id: string }) => m.model_id)).toEqual([...ids].reverse());
    const page = await request(gw.url).get('/models/?backend=pytorch&skip=1&limit=1').set(s.headers).expect(200);
    expect(page.body).toMatchObject({ total: 2, skip: 1, limit: 1 });
    expect(page.body.models.map((m: { model_id: string }) => m.model_id)).toEqual([ids[1]]);
    await request(gw.url).get('/models?limit=0').set(s.headers).expect(422);
    await request(gw.url).get('/models?limit=1001').set(s.headers).expect(422);
    await request(gw.url).get('/models?backend=keras').set(s.headers).expect(422);
  });

  it("keeps each tenant's models and jobs invisible to other tenants", async () => {
    const made = await request(gw.url).post('/compile/sync').set(a.headers).send({ dsl_code: MNIST, backend: 'pytorch' }).expect(200);
    const job = await request(gw.url).post('/compile/').set(a.headers).send({ dsl_code: MNIST, backend: 'pytorch' }).expect(202);
    await request(gw.url).get(`/models/${made.body.model_id}`).set(b.headers).expect(404);
    await request(gw.url).get(`/models/${made.body.model_id}/download`).set(b.headers).expect(404);
    await request(gw.url).delete(`/models/${made.body.model_id}`).set(b.headers).expect(404);
    await request(gw.url).get(`/jobs/${job.body.job_id}`).set(b.headers).expect(404);
    await request(gw.url).delete(`/jobs/${job.body.job_id}`).set(b.headers).expect(404);
    const list = await request(gw.url).get('/models/').set(b.headers).expect(200);
    expect(list.body.models.map((m: { model_id: string }) => m.model_id)).not.toContain(made.body.model_id);
    await finished(gw.url, a.headers, job.body.job_id);
  });

  it('deletes a model and its stored file; a second delete is 404', async () => {
    const made = await request(gw.url).post('/compile/sync').set(a.headers).send({ dsl_code: MNIST, backend: 'onnx' }).expect(200);
    const id = made.body.model_id;
    const store = gw.get(ArtifactStore);
    const key = `${a.tenantId}/${id}/model.onnx`;
    expect(await store.exists(key)).toBe(true);
    await request(gw.url).delete(`/models/${id}`).set(a.headers).expect(204);
    expect(await store.exists(key)).toBe(false);
    await request(gw.url).get(`/models/${id}`).set(a.headers).expect(404);
    await request(gw.url).delete(`/models/${id}`).set(a.headers).expect(404);
  });

  it('answers unknown and malformed ids with 404, and a cancel of a finished job with 409', async () => {
    await request(gw.url).get('/jobs/00000000-0000-4000-8000-000000000000').set(a.headers).expect(404);
    const bad = await request(gw.url).get('/models/..%2F..%2Fetc%2Fpasswd').set(a.headers).expect(404);
    expect(bad.body.code).toBe('not_found');
    const job = await request(gw.url).post('/compile/').set(a.headers).send({ dsl_code: MNIST, backend: 'tensorflow' }).expect(202);
    await finished(gw.url, a.headers, job.body.job_id);
    const conflict = await request(gw.url).delete(`/jobs/${job.body.job_id}`).set(a.headers).expect(409);
    expect(conflict.body.code).toBe('conflict');
  });

  it('lists jobs with status and type filters', async () => {
    const s = await createTenantSession(gw);
    const ok = await request(gw.url).post('/compile/').set(s.headers).send({ dsl_code: MNIST, backend: 'tensorflow' }).expect(202);
    const ko = await request(gw.url).post('/compile/').set(s.headers).send({ dsl_code: BROKEN, backend: 'tensorflow' }).expect(202);
    await finished(gw.url, s.headers, ok.body.job_id);
    await finished(gw.url, s.headers, ko.body.job_id);
    const failed = await request(gw.url).get('/jobs/?status=failed&type=compile').set(s.headers).expect(200);
    expect(failed.body).toMatchObject({ total: 1, jobs: [{ job_id: ko.body.job_id, status: 'failed' }] });
    const all = await request(gw.url).get('/jobs').set(s.headers).expect(200);
    expect(all.body.jobs.map((j: { job_id: string }) => j.job_id)).toEqual([ko.body.job_id, ok.body.job_id]);
  });

  it('streams a job as Server-Sent Events until it finishes', async () => {
    const job = await request(gw.url).post('/compile/').set(a.headers).send({ dsl_code: MNIST, backend: 'pytorch' }).expect(202);
    const res = await request(gw.url).get(`/jobs/${job.body.job_id}/events`).set(a.headers).buffer(true).parse((r, cb) => {
      let text = '';
      r.on('data', (c: Buffer) => (text += c.toString()));
      r.on('end', () => cb(null, text));
    }).expect(200);
    expect(res.headers['content-type']).toMatch(/^text\/event-stream/);
    const events = (res.body as string).split('\n\n').filter((e) => e.includes('data:')).map((e) => JSON.parse(e.split('\n').find((l) => l.startsWith('data:'))!.slice(5)));
    expect(events.length).toBeGreaterThanOrEqual(1);
    expect(events[events.length - 1]).toMatchObject({ job_id: job.body.job_id, status: 'completed' });
  });
});
