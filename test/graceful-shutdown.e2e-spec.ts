import { alive, childrenOf, createDistributedEnv, createTenantSession, freePort, kill, launch, type Proc, startGateway, type DistributedEnv, type TestGateway, until } from '@app/testing';
import { request as httpRequest, type IncomingMessage } from 'http';
import { connect } from 'net';
import { Client } from 'pg';
import request from 'supertest';

/**
 * SIGTERM is a graceful stop, sent to real OS processes: a worker hands its training back at the next batch (kept
 * checkpoint, attempt not used) and exits 0; exactly one other worker resumes it. A gateway refuses new connections,
 * ends its event streams, finishes the requests in flight and exits 0.
 */

const MODEL = 'Model Digits {\n  Input(shape=[28, 28, 1])\n  Conv2D(filters=8, kernel_size=3, activation=relu)\n  Dense(units=10, activation=softmax)\n}';
const TRAINING = { dsl_code: MODEL, backend: 'tensorflow', dataset: 'MNIST', training_config: { epochs: 6, batch_size: 32, train_samples: 4000, validation_split: 0.1 }, seed: 5 };
const WORKER_SHUTDOWN_TIMEOUT_MS = 20_000;
// No reconciler help: the job must come back through the hand-back alone.
const ENV = { JOB_STALL_TIMEOUT: '3600', RECONCILE_INTERVAL: '3600', JOB_MAX_ATTEMPTS: '1', WORKER_TRAINING_CONCURRENCY: '1', RATE_LIMIT_ENABLED: 'false' };

type Json = Record<string, any>;

/** The API does not show a job's attempt count; the database does. */
async function attemptsOf(databaseUrl: string, jobId: string): Promise<number> {
  const db = new Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    return (await db.query<{ attempts: number }>('SELECT attempts FROM jobs WHERE id = $1', [jobId])).rows[0].attempts;
  } finally {
    await db.end();
  }
}







describe('a SIGTERMed worker mid-training (distributed mode)', () => {
  let env: DistributedEnv;
  let gw: TestGateway;
  const workers: Proc[] = [];

  const startWorker = (): Proc => {
    const proc = launch('apps/worker/src/main.ts', {
      DATABASE_URL: env.databaseUrl,
      REDIS_URL: env.redisUrl,
      REDIS_KEY_PREFIX: env.redisPrefix,
      STORAGE_PATH: gw.storagePath,
      WORKER_SHUTDOWN_TIMEOUT_MS: String(WORKER_SHUTDOWN_TIMEOUT_MS),
      ...ENV,
    });
    workers.push(proc);
    return proc;
  };

  beforeAll(async () => {
    env = await createDistributedEnv();
    gw = await startGateway({ distributed: env, env: ENV });
  });

  afterAll(async () => {
    await Promise.all(workers.splice(0).map(kill));
    await gw?.close();
    await env?.dispose();
  });

  it('hands the job back at the next batch, exits 0, and exactly one other worker resumes it from the checkpoint', async () => {
    const session = await createTenantSession(gw);
    const get = async (path: string) => (await request(gw.url).get(path).set(session.headers)).body as Json;
    const first = startWorker();
    const { job_id: jobId, experiment_id: experimentId } = (await request(gw.url).post('/jobs/train').set(session.headers).send(TRAINING).expect(202)).body;

    const checkpointed = await until(() => get(`/experiments/${experimentId}`), (e) => e.epochs_completed >= 1, 90_000, 'a checkpointed epoch', [first]);
    expect(checkpointed.epochs_completed).toBeLessThan(6);
    const trainers = childrenOf(first.child.pid!);
    expect(trainers.length).toBeGreaterThanOrEqual(1);
    const sent = Date.now();
    first.child.kill('SIGTERM');
    const exit = await first.exited;
    const tookMs = Date.now() - sent;
    const firstLog = first.output.join('');
    expect(exit).toEqual({ code: 0, signal: null });
    expect(tookMs).toBeLessThan(WORKER_SHUTDOWN_TIMEOUT_MS);
    expect(trainers.filter(alive)).toEqual([]);
    const handedBack = firstLog.match(new RegExp(`train job ${jobId} handed back to the queue after epoch (\\d+)`, 'g')) ?? [];
    expect(handedBack).toHaveLength(1);
    const handedBackAfter = Number(/after epoch (\d+)/.exec(String(handedBack[0]))![1]);
    expect(handedBackAfter).toBeGreaterThanOrEqual(checkpointed.epochs_completed);
    console.log(`worker exited ${tookMs} ms after SIGTERM, job handed back after epoch ${handedBackAfter}`);

    // Back in the queue, not failed or cancelled, its attempt not used (JOB_MAX_ATTEMPTS is 1).
    const waiting = await get(`/jobs/${jobId}`);
    expect(waiting.status).toBe('pending');
    expect(await attemptsOf(env.databaseUrl, jobId)).toBe(0);
    expect((await get(`/experiments/${experimentId}`)).epochs_completed).toBe(handedBackAfter);

    // Two workers compete for it; one takes it.
    const next = [startWorker(), startWorker()];
    const done = await until(() => get(`/jobs/${jobId}`), (j) => ['completed', 'failed', 'cancelled'].includes(j.status), 180_000, 'the job to finish on another worker', next);
    expect(done).toMatchObject({ status: 'completed', progress: 100, current_epoch: 6 });
    expect(await attemptsOf(env.databaseUrl, jobId)).toBe(1);
    const exp = await get(`/experiments/${experimentId}`);
    expect(exp.status).toBe('completed');
    expect(exp.history.map((r: Json) => r.epoch)).toEqual([1, 2, 3, 4, 5, 6]);
    const log = (await request(gw.url).get(`/experiments/${experimentId}/artifacts/training.log`).set(session.headers).expect(200)).text;
    expect(log.match(/resuming after epoch \d+/g)).toEqual([`resuming after epoch ${handedBackAfter}`]);
    expect(log).toMatch(new RegExp(`epochs ${handedBackAfter + 1}\\.\\.6`));
    const models = (await get('/models')) as Json;
    expect(models.models.map((m: Json) => m.model_id)).toEqual([done.model_id]);
  });
});


/** Resolves with the error code of a new TCP connection to the port, or 'connected'. */
function tryConnect(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}

describe('a SIGTERMed gateway process (distributed mode)', () => {
  let env: DistributedEnv;
  let gw: TestGateway;
  let proc: Proc | undefined;

  beforeAll(async () => {
    env = await createDistributedEnv();
    gw = await startGateway({ distributed: env, env: ENV });
  });

  afterAll(async () => {
    if (proc) await kill(proc);
    await gw?.close();
    await env?.dispose();
  });

  it('refuses new connections, ends event streams, finishes the request in flight, then exits 0', async () => {
    const session = await createTenantSession(gw);
    // No worker runs: the job stays pending and its event stream would stay open forever.
    const { job_id: jobId } = (await request(gw.url).post('/jobs/train').set(session.headers).send(TRAINING).expect(202)).body;
    const port = await freePort();
    proc = launch('apps/gateway/src/main.ts', {
      DATABASE_URL: env.databaseUrl,
      REDIS_URL: env.redisUrl,
      REDIS_KEY_PREFIX: env.redisPrefix,
      STORAGE_PATH: gw.storagePath,
      API_HOST: '127.0.0.1',
      API_PORT: String(port),
      GATEWAY_SHUTDOWN_TIMEOUT_MS: '15000',
      ...ENV,
    });
    const url = `http://127.0.0.1:${port}`;
    await until(async () => (await request(url).get('/health')).status, (s) => s === 200, 60_000, 'the gateway to start', [proc]);

    const stream = await new Promise<IncomingMessage>((resolve, reject) => {
      httpRequest(`${url}/jobs/${jobId}/events`, { headers: { ...session.headers, Accept: 'text/event-stream' } }, resolve).on('error', reject).end();
    });
    expect(stream.statusCode).toBe(200);
    let events = '';
    stream.on('data', (c: Buffer) => (events += c.toString()));
    const streamEnded = new Promise<'end' | 'aborted'>((resolve) => {
      stream.once('end', () => resolve('end'));
      stream.once('aborted', () => resolve('aborted'));
      stream.once('error', () => resolve('aborted'));
    });
    await until(async () => events, (e) => e.includes('event: job'), 10_000, 'the first event');

    // A request in flight: its headers are in, its body is still coming.
    const body = JSON.stringify({ dsl_code: 'Model Tiny {\n  Input(shape=[4])\n  Dense(units=3, activation=softmax)\n}', backend: 'tensorflow' });
    const slow = httpRequest(`${url}/compile/sync`, { method: 'POST', agent: false, headers: { ...session.headers, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) } });
    const slowResponse = new Promise<{ status: number; text: string }>((resolve, reject) => {
      slow.on('response', (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode!, text }));
      });
      slow.on('error', reject);
    });
    slow.write(body.slice(0, 10));
    await new Promise((r) => slow.once('socket', (s) => (s.connecting ? s.once('connect', r) : r(undefined))));

    const exited = proc.exited;
    const sent = Date.now();
    proc.child.kill('SIGTERM');
    await until(() => tryConnect(port), (code) => code === 'ECONNREFUSED', 5_000, 'new connections to be refused', [proc]);
    expect(await streamEnded).toBe('end');
    const streamEndedMs = Date.now() - sent;
    expect(proc.child.exitCode).toBeNull();

    slow.end(body.slice(10));
    const answer = await slowResponse;
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.text).model_id).toEqual(expect.any(String));
    expect(await exited).toEqual({ code: 0, signal: null });
    console.log(`gateway: stream ended ${streamEndedMs} ms and the process exited ${Date.now() - sent} ms after SIGTERM`);
    // The job itself is untouched: still pending for a worker to take.
    expect((await request(gw.url).get(`/jobs/${jobId}`).set(session.headers).expect(200)).body.status).toBe('pending');
  });
});
