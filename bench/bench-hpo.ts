/**
 * `npm run bench:hpo`: the sweep of test/hpo.e2e-spec.ts (6 grid trials over two HPO sites, parallelism 2) on a larger
 * MNIST slice, run by 1 and then by 2 worker processes (each training one job at a time) against one gateway, on
 * PostgreSQL and Redis. Wall time is from the submit to the sweep's completion; the workers are up and warm before.
 * Early stopping is off in the headline rows, so both runs train exactly the same epochs (which trials successive
 * halving prunes depends on the order they finish in); one pair of rows with it on follows.
 * The baseline, in the same run: the same six trainings straight in warm training processes (no gateway, queue,
 * database or coordinator), one at a time and two at a time — the speed-up this machine's two cores give two trainings
 * at all, which bounds what any number of workers can give.
 * `BENCH_SAMPLES` (default 60000, all of MNIST) sets the training slice, `BENCH_ROUNDS` (default 1) repeats the pair in 1-2, 2-1 order.
 */
import { SWEEP_MODEL } from '../test/hpo-sweep.fixture';
import { createDistributedEnv, createTenantSession, kill, launch, startGateway, waitUntil, type Proc } from '@app/testing';
import { WorkerHeartbeat } from '@app/queue';
import { DEFAULT_FASHION_MNIST_DIR } from '@app/datasets';
import { TrainingSandbox, type TrainTask } from '@app/training';
import { get as httpGet } from 'http';
import request from 'supertest';
import { readFileSync } from 'fs';
import { cpus, loadavg } from 'os';

const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 60000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 1);
const ENV = { WORKER_TRAINING_CONCURRENCY: '1', RATE_LIMIT_ENABLED: 'false', HPO_POLL_MS: '250', LOG_LEVEL: 'warn' };

interface Run {
  workers: number;
  earlyStopping: boolean;
  seconds: number;
  epochs: number;
  workersUsed: number;
  best: string;
}

async function sweep(workers: number, earlyStopping: boolean): Promise<Run> {
  const env = await createDistributedEnv();
  const gw = await startGateway({ distributed: env, env: ENV });
  const procs: Proc[] = [];
  try {
    for (let i = 0; i < workers; i++) {
      procs.push(launch('apps/worker/src/main.ts', { DATABASE_URL: env.databaseUrl, REDIS_URL: env.redisUrl, REDIS_KEY_PREFIX: env.redisPrefix, STORAGE_PATH: gw.storagePath, ...ENV }));
    }
    // Up and warm: every worker has announced the backend its training process started with.
    await waitUntil(() => gw.get(WorkerHeartbeat).workers(), (w) => w.length === workers && w.every((x) => x.trainingBackend !== null), 120_000, `${workers} warm workers`);
    const session = await createTenantSession(gw);
    const body = {
      dsl_code: SWEEP_MODEL,
      backend: 'tensorflow',
      dataset: 'MNIST',
      training_config: { train_samples: SAMPLES },
      seed: 11,
      search: { strategy: 'grid', metric: 'val_accuracy', parallelism: 2, early_stopping: { type: earlyStopping ? 'successive_halving' : 'none' } },
    };
    const t0 = performance.now();
    const { job_id: id } = (await request(gw.url).post('/jobs/hpo').set(session.headers).send(body).expect(202)).body;
    // The event stream ends when the sweep does: the end is seen at once, with no polling load on the machine.
    await new Promise<void>((resolve, reject) => httpGet(`${gw.url}/jobs/${id}/events`, { headers: session.headers }, (res) => res.resume().on('end', resolve).on('error', reject)).on('error', reject));
    const seconds = (performance.now() - t0) / 1000;
    const done = (await request(gw.url).get(`/jobs/${id}`).set(session.headers).expect(200)).body;
    if (done.status !== 'completed') throw new Error(`the sweep ended ${done.status}: ${JSON.stringify(done.error)}`);
    const board = done.sweep.leaderboard as Array<{ epochs: number; worker_id: string }>;
    const best = done.sweep.best;
    return {
      workers,
      earlyStopping,
      seconds,
      epochs: board.reduce((n, e) => n + e.epochs, 0),
      workersUsed: new Set(board.map((e) => e.worker_id)).size,
      best: `${Object.entries(best.params).map(([k, v]) => `${k}=${v}`).join(' ')} val_accuracy=${best.value.toFixed(4)}`,
    };
  } finally {
    await Promise.all(procs.map(kill));
    await gw.close();
    await env.dispose();
  }
}

/** Busy and total CPU ticks of the machine so far (/proc/stat). */
function cpuTicks(): { busy: number; total: number } {
  const t = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1, 9).map(Number);
  const total = t.reduce((a, b) => a + b, 0);
  return { busy: total - t[3] - t[4], total };
}

/** The six grid points of the sweep, trained straight in `processes` warm training processes: wall seconds and the machine's mean busy CPUs. */
async function direct(processes: number): Promise<{ seconds: number; busyCpus: number }> {
  const points = [16, 64].flatMap((units) => [0.0001, 0.001, 0.01].map((lr) => ({ 'dense_1.units': units, 'optimizer.learning_rate': lr })));
  // One sandbox of one process per lane, each warm before the clock starts (as a worker's is).
  const sandboxes = Array.from({ length: processes }, () => new TrainingSandbox({ processes: 1, maxHeapMb: 4096, backend: 'auto' }));
  try {
    await Promise.all(sandboxes.map((x) => x.warmUp()));
    const t0 = performance.now();
    const ticks = cpuTicks();
    const queue = [...points];
    const lane = async (sandbox: TrainingSandbox) => {
      for (let p = queue.shift(); p; p = queue.shift()) {
        const task: TrainTask = {
          jobId: `bench-hpo-${JSON.stringify(p)}`,
          engine: 'tfjs',
          dsl: SWEEP_MODEL,
          trainingConfig: { train_samples: SAMPLES },
          limits: { maxEpochs: 1000, maxBatchSize: 4096 },
          dataset: { kind: 'builtin', name: 'MNIST', fashionMnistDir: DEFAULT_FASHION_MNIST_DIR },
          datasetName: 'MNIST',
          seed: 11,
          hpo: p,
        };
        const result = await sandbox.run(task, {});
        if (result.status !== 'completed') throw new Error(`${task.jobId} ended ${result.status}`);
      }
    };
    await Promise.all(sandboxes.map(lane));
    const after = cpuTicks();
    return { seconds: (performance.now() - t0) / 1000, busyCpus: ((after.busy - ticks.busy) / (after.total - ticks.total)) * cpus().length };
  } finally {
    await Promise.all(sandboxes.map((x) => x.close()));
  }
}

async function main(): Promise<void> {
  console.log(`bench:hpo — 6-trial grid sweep, ${SAMPLES} MNIST training samples × 4 epochs per trial, parallelism 2; ${cpus().length} CPUs, load ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  const runs: Run[] = [];
  for (let r = 0; r < ROUNDS; r++) for (const w of r % 2 === 0 ? [1, 2] : [2, 1]) runs.push(await sweep(w, false));
  for (const w of [1, 2]) runs.push(await sweep(w, true));
  const one = await direct(1);
  const two = await direct(2);
  console.log('\n| workers | early stopping | wall s | epochs trained | workers used | best trial |');
  console.log('| --- | --- | --- | --- | --- | --- |');
  for (const x of runs) console.log(`| ${x.workers} | ${x.earlyStopping ? 'successive halving' : 'off'} | ${x.seconds.toFixed(1)} | ${x.epochs} | ${x.workersUsed} | ${x.best} |`);
  const mean = (w: number, es: boolean) => {
    const xs = runs.filter((x) => x.workers === w && x.earlyStopping === es).map((x) => x.seconds);
    return xs.reduce((a, b) => a + b, 0) / xs.length;
  };
  console.log(`\nbaseline, the same 6 trainings straight in training processes: 1 at a time ${one.seconds.toFixed(1)} s (${one.busyCpus.toFixed(2)} CPUs busy), 2 at a time ${two.seconds.toFixed(1)} s (${two.busyCpus.toFixed(2)} CPUs busy)`);
  const platform = mean(1, false) / mean(2, false);
  const raw = one.seconds / two.seconds;
  console.log(`\nspeed-up with 2 workers, early stopping off (same work): ${platform.toFixed(2)}× (target ≥ 1.7×)`);
  console.log(`speed-up with 2 workers, successive halving on:       ${(mean(1, true) / mean(2, true)).toFixed(2)}× (the pruned epochs differ between the runs)`);
  console.log(`baseline speed-up of 2 trainings at once on this machine: ${raw.toFixed(2)}×; the sweep gets ${((platform / raw) * 100).toFixed(0)}% of it`);
  console.log(`sweep overhead with 1 worker: ${(mean(1, false) / one.seconds).toFixed(2)}× the straight trainings' time; with 2: ${(mean(2, false) / two.seconds).toFixed(2)}×`);
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
