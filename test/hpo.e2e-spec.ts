import { createDistributedEnv, createTenantSession, freePort, kill, launch, startGateway, until, type DistributedEnv, type Proc, type TenantSession, type TestGateway } from '@app/testing';
import { createServer, get as httpGet, type Server } from 'http';
import request from 'supertest';
import { SWEEP_MODEL } from './hpo-sweep.fixture';

/**
 * Sweeps across real worker processes on PostgreSQL and Redis: trials are train jobs any worker takes, successive
 * halving stops weak ones, the best trial's model is registered with its values written into the DSL and deploys.
 */

type Json = Record<string, any>;

const SWEEP = { dsl_code: SWEEP_MODEL, backend: 'tensorflow', dataset: 'MNIST', training_config: { train_samples: 3000 }, seed: 11, search: { strategy: 'grid', metric: 'val_accuracy', parallelism: 2 } };
const FAST = { JOB_STALL_TIMEOUT: '3', RECONCILE_INTERVAL: '1', WORKER_TRAINING_CONCURRENCY: '1', RATE_LIMIT_ENABLED: 'false', HPO_POLL_MS: '250' };
const FINISHED = ['completed', 'failed', 'cancelled'];

/** Collects the JSON bodies POSTed to it. */
async function webhookReceiver(): Promise<{ url: string; events: Json[]; server: Server }> {
  const events: Json[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      events.push(JSON.parse(body));
      res.writeHead(204).end();
    });
  });
  const port = await freePort();
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${port}/hook`, events, server };
}

/** The `event:` names of an SSE stream, until it ends. */
function streamEvents(url: string, headers: Record<string, string>): Promise<Array<{ event: string; data: Json }>> {
  return new Promise((resolve, reject) => {
    httpGet(url, { headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (text += c));
      res.on('end', () =>
        resolve(
          text
            .split('\n\n')
            .filter((b) => b.includes('data:'))
            .map((b) => ({ event: /^event: (.*)$/m.exec(b)?.[1] ?? 'message', data: JSON.parse(/^data: (.*)$/m.exec(b)![1]) })),
        ),
      );
      res.on('error', reject);
    }).on('error', reject);
  });
}

describe('hyperparameter sweeps across two worker processes', () => {
  let env: DistributedEnv;
  let gw: TestGateway;
  let session: TenantSession;
  const workers: Proc[] = [];
  const startWorker = (): Proc => {
    const proc = launch('apps/worker/src/main.ts', { DATABASE_URL: env.databaseUrl, REDIS_URL: env.redisUrl, REDIS_KEY_PREFIX: env.redisPrefix, STORAGE_PATH: gw.storagePath, ...FAST });
    workers.push(proc);
    return proc;
  };
  const job = async (id: string): Promise<Json> => (await request(gw.url).get(`/jobs/${id}`).set(session.headers).expect(200)).body;

  beforeAll(async () => {
    env = await createDistributedEnv();
    gw = await startGateway({ distributed: env, env: FAST });
    session = await createTenantSession(gw);
  });

  afterEach(async () => {
    await Promise.all(workers.splice(0).map(kill));
  });

  afterAll(async () => {
    await gw?.close();
    await env?.dispose();
  });

  it('runs a 6-trial sweep on both workers, prunes weak trials, and registers the best as a deployable model', async () => {
    const hooks = await webhookReceiver();
    try {
      const both = [startWorker(), startWorker()];
      const compiled = (await request(gw.url).post('/compile/sync').set(session.headers).send({ dsl_code: SWEEP_MODEL, backend: 'tensorflow' }).expect(200)).body;
      expect(compiled.summary.search_space).toEqual([
        { path: 'dense_1.units', kind: 'choice', values: [16, 64], default: 16, line: 5, column: 11 },
        { path: 'optimizer.learning_rate', kind: 'choice', values: [0.0001, 0.001, 0.01], default: 0.0001, line: 8, column: 33 },
      ]);

      const accepted = (await request(gw.url).post('/jobs/hpo').set(session.headers).send({ ...SWEEP, webhook_url: hooks.url }).expect(202)).body;
      expect(accepted).toMatchObject({ status: 'pending', total_trials: 6, warnings: [] });
      const stream = streamEvents(`${gw.url}/jobs/${accepted.job_id}/events`, session.headers);
      const done = await until(() => job(accepted.job_id), (j) => FINISHED.includes(j.status), 300_000, 'the sweep to finish', both);
      expect(done).toMatchObject({ type: 'hpo', status: 'completed', progress: 100 });

      const { sweep } = done;
      expect(sweep.counts).toMatchObject({ total: 6, pending: 0, running: 0, failed: 0, cancelled: 0 });
      expect(sweep.counts.completed + sweep.counts.pruned).toBe(6);
      // Early stopping stopped at least one weak trial before its last epoch.
      const pruned = sweep.leaderboard.filter((e: Json) => e.status === 'pruned');
      expect(pruned.length).toBeGreaterThanOrEqual(1);
      for (const p of pruned) {
        expect(p.epochs).toBeLessThan(4);
        expect(p.pruned_at_epoch).toBe(p.epochs);
      }
      // The reported best is the best completed trial of the leaderboard, and it is first.
      const completed = sweep.leaderboard.filter((e: Json) => e.status === 'completed');
      const max = Math.max(...completed.map((e: Json) => e.value));
      expect(sweep.best.value).toBe(max);
      expect(sweep.leaderboard[0]).toEqual(sweep.best);
      for (const e of completed) expect(e.epochs).toBe(4);
      expect(new Set(sweep.leaderboard.map((e: Json) => JSON.stringify(e.params))).size).toBe(6);

      // Each trial is a train job of its own; they ran on both workers.
      const trials = (await request(gw.url).get(`/jobs?sweep_id=${accepted.job_id}`).set(session.headers).expect(200)).body.jobs as Json[];
      expect(trials).toHaveLength(6);
      expect(new Set(trials.map((t) => t.worker_id)).size).toBe(2);
      for (const t of trials) expect(t).toMatchObject({ type: 'train', sweep_id: accepted.job_id, model_id: t.trial_index === sweep.best.trial ? done.model_id : null });
      const prunedJob = await job(pruned[0].job_id);
      expect(prunedJob).toMatchObject({ status: 'pruned', result: { pruned_at_epoch: pruned[0].pruned_at_epoch, reason: expect.stringContaining('successive halving') } });

      // Experiments are grouped under the sweep and compare across its trials.
      const experiments = (await request(gw.url).get(`/experiments?sweep_id=${accepted.job_id}`).set(session.headers).expect(200)).body;
      expect(experiments.total).toBe(6);
      expect(experiments.experiments.find((e: Json) => e.experiment_id === pruned[0].experiment_id).status).toBe('pruned');
      const compare = (await request(gw.url).get(`/experiments/${sweep.best.experiment_id}/compare?sweep_id=${accepted.job_id}`).set(session.headers).expect(200)).body;
      expect(Object.keys(compare.hyperparameter_differences)).toEqual(expect.arrayContaining(['dense_1.units', 'optimizer.learning_rate']));
      expect(Object.keys(compare.hyperparameter_differences['dense_1.units'])).toHaveLength(6);

      // The best trial's model: its values, a DSL with the HPO sites replaced, generated code with the chosen sizes.
      const model = (await request(gw.url).get(`/models/${done.model_id}`).set(session.headers).expect(200)).body;
      expect(model).toMatchObject({ sweep_id: accepted.job_id, experiment_id: sweep.best.experiment_id, hyperparameters: sweep.best.params, trained: true });
      const units = sweep.best.params['dense_1.units'];
      const lr = sweep.best.params['optimizer.learning_rate'];
      expect(model.dsl_code).not.toMatch(/HPO/);
      expect(model.dsl_code).toContain(`Dense(${units}, activation="relu")`);
      expect(model.dsl_code).toContain(`Adam(learning_rate=${lr})`);
      const code = (await request(gw.url).get(`/models/${done.model_id}/download?format=tensorflow`).set(session.headers).expect(200)).text;
      expect(code).toMatch(new RegExp(`Dense\\(units=${units},`));
      expect(code).not.toMatch(/hpo/i);
      const recompiled = (await request(gw.url).post('/compile/sync').set(session.headers).send({ dsl_code: model.dsl_code, backend: 'tensorflow' }).expect(200)).body;
      expect(recompiled.summary.search_space).toEqual([]);

      // ... and it deploys and predicts like any other model.
      const deployment = (await request(gw.url).post('/deployments/').set(session.headers).send({ model_id: done.model_id, deployment_name: 'sweep-best' }).expect(201)).body;
      await until(async () => (await request(gw.url).get(`/deployments/${deployment.deployment_id}`).set(session.headers)).body as Json, (d) => d.status !== 'deploying', 60_000, 'the deployment', both);
      const prediction = (await request(gw.url).post(`/deployments/${deployment.deployment_id}/predict`).set(session.headers).send({ instances: [Array.from({ length: 28 }, () => Array.from({ length: 28 }, () => [0]))] }).expect(200)).body;
      expect(prediction.predictions[0]).toHaveLength(10);

      // One `trial` event per finished trial on the stream, and the webhooks of the sweep.
      const events = await stream;
      expect(events.filter((e) => e.event === 'trial').map((e) => e.data.trial.trial).sort()).toEqual([0, 1, 2, 3, 4, 5]);
      await until(async () => hooks.events.map((e) => e.event), (names) => names.includes('completed'), 30_000, 'the completed webhook');
      const names = hooks.events.map((e) => e.event);
      expect(names[0]).toBe('started');
      expect(names.filter((n) => n === 'trial_finished')).toHaveLength(6);
      expect(hooks.events.find((e) => e.event === 'completed')!.data).toMatchObject({ model_id: done.model_id, best: { trial: sweep.best.trial } });
    } finally {
      hooks.server.close();
    }
  }, 420_000);

  it('DELETE cancels the sweep and its running trials, and launches no more', async () => {
    const w = [startWorker(), startWorker()];
    const slow = { ...SWEEP, training_config: { train_samples: 12000, epochs: 8 }, search: { ...SWEEP.search, early_stopping: { type: 'none' } } };
    const { job_id: id } = (await request(gw.url).post('/jobs/hpo').set(session.headers).send(slow).expect(202)).body;
    await until(() => job(id), (j) => j.sweep?.counts.running >= 1, 120_000, 'a running trial', w);
    const cancelled = (await request(gw.url).delete(`/jobs/${id}`).set(session.headers).expect(202)).body;
    expect(cancelled.status).toBe('cancelled');
    const trials = await until(
      async () => (await request(gw.url).get(`/jobs?sweep_id=${id}`).set(session.headers).expect(200)).body.jobs as Json[],
      (ts) => ts.every((t) => FINISHED.includes(t.status) || t.status === 'pruned'),
      30_000,
      'every trial to stop',
      w,
    );
    expect(trials.length).toBeLessThan(6);
    expect(trials.some((t) => t.status === 'cancelled')).toBe(true);
    for (const t of trials.filter((x) => x.status === 'cancelled')) {
      const e = (await request(gw.url).get(`/experiments/${t.experiment_id}`).set(session.headers).expect(200)).body;
      expect(e.status).toBe('cancelled');
    }
    // The coordinator saw the cancel: nothing is launched after it.
    await new Promise((r) => setTimeout(r, 2000));
    expect((await request(gw.url).get(`/jobs?sweep_id=${id}`).set(session.headers).expect(200)).body.total).toBe(trials.length);
    await request(gw.url).delete(`/jobs/${id}`).set(session.headers).expect(409);
  }, 240_000);

  it('a worker SIGKILLed mid-trial costs that trial one attempt, never the sweep', async () => {
    const first = startWorker();
    const body = { ...SWEEP, training_config: { train_samples: 6000, epochs: 6 }, search: { trials: 2, strategy: 'random', parallelism: 1, early_stopping: { type: 'none' } } };
    const { job_id: id } = (await request(gw.url).post('/jobs/hpo').set(session.headers).send(body).expect(202)).body;
    const running = await until(() => job(id), (j) => j.sweep?.leaderboard.some((e: Json) => e.status === 'running' && e.epochs >= 1), 120_000, 'a trial past its first epoch', first);
    const victim = running.sweep.leaderboard.find((e: Json) => e.status === 'running');
    await kill(first);
    const second = startWorker();
    const done = await until(() => job(id), (j) => FINISHED.includes(j.status), 240_000, 'the sweep to finish on the other worker', second);
    expect(done.status).toBe('completed');
    expect(done.sweep.counts).toMatchObject({ total: 2, completed: 2 });
    const trial = await job(victim.job_id);
    expect(trial).toMatchObject({ status: 'completed', current_epoch: 6 });
    const log = (await request(gw.url).get(`/experiments/${victim.experiment_id}/artifacts/training.log`).set(session.headers).expect(200)).text;
    expect(log).toMatch(/attempt 2: resuming after epoch \d/);
  }, 420_000);
});
