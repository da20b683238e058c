import { alive, childrenOf, createDistributedEnv, createTempDir, createTenantSession, freePort, kill, launch, type Proc, startGateway, type DistributedEnv, type TempDir, type TestGateway, until } from '@app/testing';
import request from 'supertest';

/**
 * A worker (or an embedded gateway) killed with SIGKILL in the middle of a training loses nothing: the job is not left
 * `running`, it resumes from its last epoch checkpoint on the next process that takes it, or fails with a reason once
 * its attempts are used up. The processes here are real OS processes, killed for real.
 */

const MODEL = 'Model Digits {\n  Input(shape=[28, 28, 1])\n  Conv2D(filters=8, kernel_size=3, activation=relu)\n  Dense(units=10, activation=softmax)\n}';
const TRAINING = { dsl_code: MODEL, backend: 'tensorflow', dataset: 'MNIST', training_config: { epochs: 6, batch_size: 32, train_samples: 4000, validation_split: 0.1 }, seed: 5 };
const FAST_RECOVERY = { JOB_STALL_TIMEOUT: '3', RECONCILE_INTERVAL: '1', WORKER_TRAINING_CONCURRENCY: '1', RATE_LIMIT_ENABLED: 'false' };

type Json = Record<string, any>;








/** Kills `victim` once the job has finished two epochs, and checks its training process went with it. */
async function killAfterTwoEpochs(url: string, headers: Record<string, string>, jobId: string, victim: Proc): Promise<Json> {
  // current_epoch is the epoch in progress; the experiment's epochs_completed counts checkpointed ones.
  const job = await until(async () => (await request(url).get(`/jobs/${jobId}`).set(headers)).body as Json, (j) => j.status === 'running' && j.current_epoch >= 2, 90_000, 'two epochs', victim);
  await until(async () => (await request(url).get(`/experiments/${job.experiment_id}`).set(headers)).body as Json, (e) => e.epochs_completed >= 2, 90_000, 'two checkpointed epochs', victim);
  const trainers = childrenOf(victim.child.pid!);
  expect(trainers.length).toBeGreaterThanOrEqual(1);
  await kill(victim);
  await until(async () => trainers.filter(alive), (left) => left.length === 0, 10_000, 'the training processes to die with their parent');
  return job;
}

async function expectResumed(url: string, headers: Record<string, string>, jobId: string, experimentId: string, proc?: Proc): Promise<void> {
  const done = await until(async () => (await request(url).get(`/jobs/${jobId}`).set(headers)).body as Json, (j) => ['completed', 'failed', 'cancelled'].includes(j.status), 120_000, 'the job to finish after the restart', proc);
  expect(done).toMatchObject({ status: 'completed', progress: 100, current_epoch: 6 });
  const exp = (await request(url).get(`/experiments/${experimentId}`).set(headers).expect(200)).body;
  expect(exp.status).toBe('completed');
  expect(exp.history.map((r: Json) => r.epoch)).toEqual([1, 2, 3, 4, 5, 6]);
  expect(exp.test_metrics.accuracy).toBeGreaterThan(0.7);
  const log = (await request(url).get(`/experiments/${experimentId}/artifacts/training.log`).set(headers).expect(200)).text;
  const resumedAfter = Number(/attempt 2: resuming after epoch (\d+)/.exec(log)?.[1]);
  expect(resumedAfter).toBeGreaterThanOrEqual(2);
  // The killed attempt's lines are kept, up to its last checkpoint, followed by the attempt that finished.
  expect(log.indexOf('attempt 1: starting')).toBeGreaterThanOrEqual(0);
  expect(log.indexOf('attempt 1: starting')).toBeLessThan(log.indexOf('attempt 2: resuming'));
  expect(log).toMatch(new RegExp(`epoch ${resumedAfter}/6`));
  expect(log).toMatch(new RegExp(`epochs ${resumedAfter + 1}\\.\\.6`));
}

describe('a SIGKILLed worker mid-training (distributed mode)', () => {
  let env: DistributedEnv;
  let gw: TestGateway;
  const workers: Proc[] = [];

  const startWorker = (extra: Record<string, string> = {}): Proc => {
    const proc = launch('apps/worker/src/main.ts', {
      DATABASE_URL: env.databaseUrl,
      REDIS_URL: env.redisUrl,
      REDIS_KEY_PREFIX: env.redisPrefix,
      STORAGE_PATH: gw.storagePath,
      ...FAST_RECOVERY,
      ...extra,
    });
    workers.push(proc);
    return proc;
  };

  beforeAll(async () => {
    env = await createDistributedEnv();
    gw = await startGateway({ distributed: env, env: FAST_RECOVERY });
  });

  afterEach(async () => {
    // A worker left alive would recover the next test's job itself.
    await Promise.all(workers.splice(0).map(kill));
  });

  afterAll(async () => {
    await gw?.close();
    await env?.dispose();
  });

  it('resumes from the last epoch checkpoint on the next worker', async () => {
    const session = await createTenantSession(gw);
    const first = startWorker();
    const { job_id: jobId, experiment_id: experimentId } = (await request(gw.url).post('/jobs/train').set(session.headers).send(TRAINING).expect(202)).body;
    await killAfterTwoEpochs(gw.url, session.headers, jobId, first);
    const orphaned = (await request(gw.url).get(`/jobs/${jobId}`).set(session.headers).expect(200)).body;
    expect(orphaned.status).toBe('running');
    const second = startWorker();
    await expectResumed(gw.url, session.headers, jobId, experimentId, second);
    const job = (await request(gw.url).get(`/jobs/${jobId}`).set(session.headers).expect(200)).body;
    expect(job.result.model_id).toBe(job.model_id);
  });

  it('fails the job with a reason when the lost worker used its last attempt', async () => {
    const session = await createTenantSession(gw);
    const first = startWorker({ JOB_MAX_ATTEMPTS: '1' });
    const { job_id: jobId, experiment_id: experimentId } = (await request(gw.url).post('/jobs/train').set(session.headers).send(TRAINING).expect(202)).body;
    await killAfterTwoEpochs(gw.url, session.headers, jobId, first);
    const second = startWorker({ JOB_MAX_ATTEMPTS: '1' });
    const failed = await until(async () => (await request(gw.url).get(`/jobs/${jobId}`).set(session.headers)).body as Json, (j) => j.status === 'failed', 60_000, 'the job to be failed', second);
    expect(failed.error).toMatchObject({ code: 'job_lost', detail: expect.stringContaining('attempts') });
    const exp = (await request(gw.url).get(`/experiments/${experimentId}`).set(session.headers).expect(200)).body;
    expect(exp).toMatchObject({ status: 'failed', error: { code: 'job_lost' } });
    expect(exp.history.length).toBeGreaterThanOrEqual(2);
  });
});

describe('the embedded service SIGKILLed mid-training', () => {
  let storage: TempDir;
  let service: Proc | undefined;

  beforeAll(async () => {
    storage = await createTempDir('neural-embedded-kill-');
  });

  afterAll(async () => {
    if (service) await kill(service);
    await storage?.remove();
  });

  it('resumes the training from its checkpoint when the service starts again', async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const start = () => launch('apps/gateway/src/main.ts', { STORAGE_PATH: storage.path, API_HOST: '127.0.0.1', API_PORT: String(port), ...FAST_RECOVERY });
    const headers = { 'X-API-Key': 'demo_api_key_12345' };
    service = start();
    await until(async () => (await request(url).get('/health')).status, (s) => s === 200, 60_000, 'the service to start', service);
    const { job_id: jobId, experiment_id: experimentId } = (await request(url).post('/jobs/train').set(headers).send(TRAINING).expect(202)).body;
    await killAfterTwoEpochs(url, headers, jobId, service);
    service = start();
    await until(async () => (await request(url).get('/health')).status, (s) => s === 200, 60_000, 'the service to restart', service);
    await expectResumed(url, headers, jobId, experimentId, service);
  });
});
