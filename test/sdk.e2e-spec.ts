import { createNeuralClient, JobTimeoutError, jobEvents, NeuralApiError, sseFrames, unwrap, waitForJob, type JobStreamEvent, type NeuralClient } from '@app/sdk';
import { createTenantSession, startGateway, type TenantSession, type TestGateway } from '@app/testing';
import { randomUUID } from 'crypto';
import { main } from '../examples/end-to-end';

const IRIS_MODEL = 'network Flowers {\n  input: (4,)\n  layers:\n    Dense(units=16, activation="relu")\n    Output(units=3, activation="softmax")\n  loss: "sparse_categorical_crossentropy"\n  optimizer: Adam(learning_rate=0.05)\n}';

/** A client whose every call answers `job` (status running unless given), for the helpers' timing rules. */
function fakeClient(status = 'running'): { client: NeuralClient; calls: () => number } {
  let calls = 0;
  const job = { job_id: randomUUID(), type: 'train', status, progress: 10 };
  const client = createNeuralClient({
    baseUrl: 'http://sdk.invalid',
    fetch: async () => {
      calls++;
      return new Response(JSON.stringify(job), { status: 200, headers: { 'content-type': 'application/json' } });
    },
  });
  return { client, calls: () => calls };
}

function streamOf(...chunks: string[]): ReadableStream<Uint8Array> {
  const bytes = chunks.map((c) => new TextEncoder().encode(c));
  return new ReadableStream({
    pull(controller) {
      const next = bytes.shift();
      if (next) controller.enqueue(next);
      else controller.close();
    },
  });
}

describe('SDK helpers (no server)', () => {
  it('waitForJob gives up after timeoutMs with JobTimeoutError', async () => {
    const { client, calls } = fakeClient();
    const started = Date.now();
    const err = await waitForJob(client, 'j1', { timeoutMs: 120, intervalMs: 20 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(JobTimeoutError);
    expect(err).toMatchObject({ jobId: 'j1', timeoutMs: 120, lastStatus: 'running' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(100);
    expect(calls()).toBeGreaterThan(2);
  });

  it('waitForJob stops at once when its signal aborts, and answers a finished job on the first read', async () => {
    const controller = new AbortController();
    const waiting = waitForJob(fakeClient().client, 'j1', { intervalMs: 10_000, signal: controller.signal });
    setTimeout(() => controller.abort(new Error('stop')), 20);
    await expect(waiting).rejects.toThrow('stop');
    const done = fakeClient('failed');
    await expect(waitForJob(done.client, 'j2')).resolves.toMatchObject({ status: 'failed' });
    expect(done.calls()).toBe(1);
  });

  it('sseFrames parses frames split across chunks, CRLF, comments and multi-line data', async () => {
    const frames = [];
    for await (const f of sseFrames(streamOf(': hello\n\nid: 1\nevent: job\nda', 'ta: {"a":\r\ndata: 1}\r\n\r\nevent: epoch\ndata: 2\n\ndata: tail'))) frames.push(f);
    expect(frames).toEqual([
      { event: 'job', data: '{"a":\n1}' },
      { event: 'epoch', data: '2' },
      { event: 'message', data: 'tail' },
    ]);
  });
});

describe('SDK against the gateway (embedded mode)', () => {
  let gw: TestGateway;
  let session: TenantSession;
  let client: NeuralClient;

  beforeAll(async () => {
    gw = await startGateway();
    session = await createTenantSession(gw);
    client = createNeuralClient({ baseUrl: gw.url, apiKey: session.apiKey });
  });
  afterAll(() => gw?.close());

  it('turns a 404 into NeuralApiError with the problem fields', async () => {
    const err = await waitForJob(client, randomUUID()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NeuralApiError);
    expect(err).toMatchObject({ status: 404, code: expect.any(String), title: expect.any(String), detail: expect.stringMatching(/.+/), requestId: expect.any(String) });
    await expect(jobEvents(client, randomUUID()).next()).rejects.toMatchObject({ name: 'NeuralApiError', status: 404 });
  });

  it('turns a 422 into NeuralApiError with its positioned errors, and a 401 without a key', async () => {
    const err = (await unwrap(client.POST('/compile/sync', { body: { dsl_code: 'network Broken {', backend: 'tensorflow' } })).catch((e: unknown) => e)) as NeuralApiError;
    expect(err).toBeInstanceOf(NeuralApiError);
    expect(err.status).toBe(422);
    expect(err.errors?.[0]).toMatchObject({ line: expect.any(Number), column: expect.any(Number), message: expect.any(String) });
    const anonymous = createNeuralClient({ baseUrl: gw.url });
    await expect(unwrap(anonymous.GET('/jobs'))).rejects.toMatchObject({ status: 401, code: 'unauthorized' });
  });

  it('jobEvents ends by itself when the job finishes, its last event the finished job', async () => {
    const { job_id } = await unwrap(client.POST('/compile', { body: { dsl_code: IRIS_MODEL, backend: 'tensorflow' } }));
    const events: JobStreamEvent[] = [];
    for await (const e of jobEvents(client, job_id)) events.push(e);
    expect(events[0].event).toBe('job');
    expect(events.at(-1)).toMatchObject({ event: 'job', data: { job_id, status: 'completed' } });
    expect(await waitForJob(client, job_id, { timeoutMs: 1000 })).toMatchObject({ status: 'completed' });
  });

  it('runs examples/end-to-end.ts: compile, train watching epochs, deploy, predict', async () => {
    const lines: string[] = [];
    const result = await main({ baseUrl: gw.url, apiKey: session.apiKey, epochs: 10, log: (l) => lines.push(l) });
    expect(result.epochs).toHaveLength(10);
    expect(result.epochs.at(-1)).toMatchObject({ loss: expect.any(Number), accuracy: expect.any(Number) });
    // One typical flower per species, in class order, after 10 epochs of a deterministic (seeded) run.
    expect(result.classes).toEqual([0, 1, 2]);
    expect(lines.some((l) => l.startsWith('  epoch 10/10'))).toBe(true);
    const gone = await client.GET('/deployments/{deployment_id}', { params: { path: { deployment_id: result.deploymentId } } });
    expect(gone.response.status).toBe(404);
  });
});
