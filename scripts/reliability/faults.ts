/**
 * `npm run test:faults`: faults injected while trainings run, against a gateway and two workers on PostgreSQL and
 * Redis, with the artifact store on a size-limited tmpfs mount. In turn: a worker SIGKILLed mid-training three
 * times; Redis shut down and restarted (losing every queue entry); PostgreSQL stopped and started; the gateway
 * SIGKILLed under an open event stream and restarted; webhook receivers that fail and that hang; the artifact store's
 * disk filled. After each: the outage showed in /health while it lasted and /health recovered, requests during it were
 * answered promptly (a 503, never a hang or a 500), and every accepted job reached a final state — completed exactly
 * once (one model, one history without repeated epochs) or failed with a reason — with its experiment in the same state.
 * NEEDS root on this machine: it stops and starts the system's PostgreSQL and Redis, and mounts a tmpfs. Exits 1 when
 * a bound is broken.
 */
import { waitUntil } from '@app/testing';
import { execSync } from 'child_process';
import { mkdtempSync, readdirSync, rmSync } from 'fs';
import { createServer, type Server } from 'http';
import { tmpdir } from 'os';
import { join } from 'path';
import { Cluster, IRIS_SAMPLE, type Json, runScript, verdict } from './harness';

const MNIST = 'network Digits {\n  input: (28, 28, 1)\n  layers:\n    Flatten()\n    Dense(32, activation="relu")\n    Output(10, "softmax")\n  loss: "sparse_categorical_crossentropy"\n  optimizer: Adam(learning_rate=0.003)\n}';
const TRAIN = (extra: Json = {}) => ({ dsl_code: MNIST, backend: 'tensorflow', dataset: 'MNIST', training_config: { epochs: 5, train_samples: 8000 }, seed: 1, ...extra });
const FAST = { JOB_STALL_TIMEOUT: '4', RECONCILE_INTERVAL: '1', WEBHOOK_BACKOFF_MS: '200', WEBHOOK_TIMEOUT_MS: '1000', RATE_LIMIT_REQUESTS: '100000', RATE_LIMIT_EXPENSIVE_REQUESTS: '100000' };
const PROMPT_MS = 15_000;
const FINAL = ['completed', 'failed', 'cancelled'];
const PG = readdirSync('/etc/postgresql')[0];

const failures: string[] = [];
const log: string[] = [];
const note = (line: string) => {
  log.push(line);
  console.log(line);
};
const check = (ok: boolean, what: string) => {
  if (!ok) failures.push(what);
  note(`  ${ok ? 'ok  ' : 'FAIL'} ${what}`);
};
const sh = (cmd: string) => execSync(cmd, { stdio: 'ignore' });

async function main(): Promise<void> {
  const mount = mkdtempSync(join(tmpdir(), 'neural-faults-'));
  sh(`mount -t tmpfs -o size=256m tmpfs ${mount}`);
  let c: Cluster | undefined;
  const receivers: Server[] = [];
  const accepted: string[] = [];
  try {
    c = await Cluster.start(1, FAST, { storagePath: mount, workerEnv: FAST });
    const key = c.tenants[0].key;
    accepted.push(c.tenants[0].trains[0]);
    const get = async (path: string) => (await c!.call('fault', key, 'GET', path)).json ?? {};
    const submit = async (extra: Json = {}) => {
      const r = await c!.call('fault', key, 'POST', '/jobs/train', TRAIN(extra));
      if (r.status === 202) accepted.push(r.json!.job_id);
      return r;
    };
    const settle = async (ids: string[], what: string) => {
      for (const id of ids) await waitUntil(() => get(`/jobs/${id}`), (j) => FINAL.includes(j.status), 240_000, `${what}: job ${id} to finish`).catch((e: Error) => failures.push(e.message.split('\n')[0]));
    };
    /** Opens a job's event stream: its status once the first `job` event has arrived (0 if none did). */
    const firstEvent = async (id: string) => {
      const ctl = new AbortController();
      const timer = setTimeout(() => ctl.abort(), PROMPT_MS);
      try {
        const res = await fetch(`${c!.base}/jobs/${id}/events`, { headers: { 'X-API-Key': key }, signal: ctl.signal });
        const reader = res.body!.getReader();
        for (let text = ''; !/event: job/.test(text); ) {
          const { value, done } = await reader.read();
          if (done) return { status: /event: job/.test(text) ? res.status : 0 };
          text += Buffer.from(value).toString();
        }
        return { status: res.status };
      } catch {
        return { status: 0 };
      } finally {
        clearTimeout(timer);
        ctl.abort();
      }
    };
    const health = () => fetch(`${c!.base}/health`, { signal: AbortSignal.timeout(PROMPT_MS) }).then(async (r) => ({ status: r.status, body: (await r.json()) as Json }), () => ({ status: 0, body: {} as Json }));
    /** A request during an outage: answered within PROMPT_MS, with one of `ok` statuses. */
    const prompt = async (what: string, run: () => Promise<{ status: number }>, ok: number[]) => {
      const t0 = performance.now();
      const r = await run();
      const ms = performance.now() - t0;
      check(ok.includes(r.status) && ms < PROMPT_MS, `${what}: answered ${r.status} in ${ms.toFixed(0)} ms (expected ${ok.join(' or ')} within ${PROMPT_MS} ms)`);
    };

    note('\n1. a worker SIGKILLed mid-training, three times');
    const batch = [];
    for (let i = 0; i < 4; i++) batch.push((await submit({ seed: 10 + i })).json!.job_id as string);
    for (let k = 0; k < 3; k++) {
      // A training past its second epoch on a live worker (a killed worker's job still shows it until it is requeued).
      const onLive = (j: Json) => (j.current_epoch ?? 0) >= 2 && c!.workers.some((w) => String(j.worker_id ?? '').includes(`-${w.child.pid}-`));
      const running = await waitUntil(async () => ((await get('/jobs?status=running&type=train&limit=50')).jobs ?? []) as Json[], (js) => js.some(onLive), 120_000, 'a training past its second epoch on a live worker');
      const victim = running.find(onLive)!;
      const i = c.workers.findIndex((w) => victim.worker_id.includes(`-${w.child.pid}-`));
      await c.replaceWorker(i);
      note(`  killed worker ${i} (pid in ${victim.worker_id}) during epoch ${victim.current_epoch} of job ${victim.job_id.slice(0, 8)}`);
    }
    await settle(batch, 'after the worker kills');

    note('\n2. Redis shut down (its data lost) and restarted');
    const beforeRedis = (await submit({ seed: 20 })).json!.job_id as string;
    sh('redis-cli -h 127.0.0.1 -p 6379 shutdown nosave || true');
    const down = await waitUntil(health, (h) => h.status === 503, PROMPT_MS, 'health to report Redis down').catch(() => ({ status: -1, body: {} as Json }));
    check(down.status === 503 && down.body.services?.redis === 'unhealthy', `/health answers 503 with redis unhealthy during the outage (got ${down.status}, redis ${down.body.services?.redis})`);
    await prompt('POST /jobs/train during the Redis outage', () => submit({ seed: 21 }), [202, 503]);
    await prompt('GET /jobs during the Redis outage', () => c!.call('fault', key, 'GET', '/jobs?limit=5'), [200]);
    await prompt('GET /jobs/{id}/events during the Redis outage (its first event)', () => firstEvent(beforeRedis), [200]);
    await prompt('POST /deployments/{id}/predict during the Redis outage', () => c!.call('fault', key, 'POST', c!.tenants[0].predict, { instances: [IRIS_SAMPLE] }), [200]);
    sh('redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no');
    const up = await waitUntil(health, (h) => h.status === 200, 60_000, 'health to recover').catch(() => ({ status: -1, body: {} }));
    check(up.status === 200, '/health recovers after Redis is back');
    await settle([beforeRedis, ...accepted.slice(-1)], 'after the Redis restart');

    note('\n3. PostgreSQL stopped and started');
    const beforePg = (await submit({ seed: 30 })).json!.job_id as string;
    await waitUntil(() => get(`/jobs/${beforePg}`), (j) => j.status === 'running', 60_000, 'the job to run');
    sh(`pg_ctlcluster --skip-systemctl-redirect ${PG} main stop -m fast`);
    try {
      const pgDown = await waitUntil(health, (h) => h.status === 503, PROMPT_MS, 'health to report the database down').catch(() => ({ status: -1, body: {} as Json }));
      check(pgDown.status === 503 && pgDown.body.services?.database === 'unhealthy', `/health answers 503 with database unhealthy during the outage (got ${pgDown.status}, database ${pgDown.body.services?.database})`);
      await prompt('GET /jobs during the database outage', () => c!.call('fault', key, 'GET', '/jobs?limit=5'), [503]);
      await prompt('POST /jobs/train during the database outage', () => c!.call('fault', key, 'POST', '/jobs/train', TRAIN({ seed: 31 })), [503]);
      await new Promise((r) => setTimeout(r, 3000));
    } finally {
      sh(`pg_ctlcluster --skip-systemctl-redirect ${PG} main start`);
    }
    const pgUp = await waitUntil(health, (h) => h.status === 200, 60_000, 'health to recover').catch(() => ({ status: -1, body: {} }));
    check(pgUp.status === 200, '/health recovers after PostgreSQL is back');
    await settle([beforePg], 'after the PostgreSQL restart');

    note('\n4. the gateway SIGKILLed under an open event stream, and restarted');
    const underStream = (await submit({ seed: 40 })).json!.job_id as string;
    await waitUntil(() => get(`/jobs/${underStream}`), (j) => j.status === 'running', 60_000, 'the job to run');
    const stream = fetch(`${c.base}/jobs/${underStream}/events`, { headers: { 'X-API-Key': key } }).then((r) => r.text()).then(
      () => 'ended',
      () => 'broken',
    );
    await new Promise((r) => setTimeout(r, 500));
    const t0 = performance.now();
    await c.restartGateway();
    const outcome = await Promise.race([stream, new Promise((r) => setTimeout(() => r('hung'), PROMPT_MS))]);
    check(outcome !== 'hung', `the open event stream ended when its gateway died (${outcome}); a new gateway answered ${((performance.now() - t0) / 1000).toFixed(1)} s later`);
    await settle([underStream], 'after the gateway restart');

    note('\n5. webhook receivers that fail and that hang');
    let failing = 0;
    const listen = (handler: (res: import('http').ServerResponse) => void) =>
      new Promise<string>((resolve) => {
        const s = createServer((req, res) => req.resume().on('end', () => handler(res)));
        receivers.push(s);
        s.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(s.address() as { port: number }).port}/hook`));
      });
    const flaky = await listen((res) => res.writeHead(failing++ < 3 ? 500 : 204).end());
    const hanging = await listen(() => undefined);
    const timed = performance.now();
    const hooked = [(await submit({ seed: 50, webhook_url: flaky })).json!.job_id as string, (await submit({ seed: 51, webhook_url: hanging })).json!.job_id as string];
    await settle(hooked, 'with failing webhooks');
    note(`  both trainings finished ${((performance.now() - timed) / 1000).toFixed(1)} s after submit`);
    const flakyLog = ((await get(`/jobs/${hooked[0]}/webhooks`)).deliveries ?? []) as Json[];
    await waitUntil(async () => ((await get(`/jobs/${hooked[0]}/webhooks`)).deliveries ?? []) as Json[], (ds) => ds.some((d) => d.event === 'completed' && d.status === 'delivered'), 60_000, 'the flaky receiver to get the completed event').catch(() => undefined);
    const flakyNow = ((await get(`/jobs/${hooked[0]}/webhooks`)).deliveries ?? []) as Json[];
    check(flakyNow.some((d) => d.status === 'delivered' && d.attempts >= 2), `a receiver failing its first 3 answers still got its events, retried (${flakyNow.map((d) => `${d.event}:${d.status}×${d.attempts}`).join(' ')})`);
    const hangLog = ((await get(`/jobs/${hooked[1]}/webhooks`)).deliveries ?? []) as Json[];
    check(hangLog.length > 0 && hangLog.every((d) => d.status !== 'delivered') && hangLog.some((d) => d.attempts >= 1 && /no answer|time/i.test(d.last_error ?? '')), `a hanging receiver's deliveries time out and are retried without holding the job (${hangLog.map((d) => `${d.event}:${d.status}×${d.attempts} ${d.last_error ?? ''}`).join('; ')})`);
    void flakyLog;

    note('\n6. the artifact store\'s disk full');
    sh(`fallocate -l $(( $(df --output=avail -B1 ${mount} | tail -1) - 4096 )) ${join(mount, 'filler')} || dd if=/dev/zero of=${join(mount, 'filler')} bs=1M status=none || true`);
    const full = (await submit({ seed: 60 })).json!.job_id as string;
    await settle([full], 'with the disk full');
    const fullJob = await get(`/jobs/${full}`);
    check(fullJob.status === 'failed' && fullJob.error?.code === 'storage_full', `a training on a full disk fails with a reason (${fullJob.status}: ${fullJob.error?.code} ${fullJob.error?.detail ?? ''})`);
    rmSync(join(mount, 'filler'), { force: true });
    const after = (await submit({ seed: 61 })).json!.job_id as string;
    await settle([after], 'after the disk is freed');
    check((await get(`/jobs/${after}`)).status === 'completed', 'the next training completes once space is back');

    note('\nevery accepted job');
    const models = ((await get('/models?limit=1000')).models ?? []) as Json[];
    for (const id of accepted) {
      const job = await get(`/jobs/${id}`);
      if (!FINAL.includes(job.status)) {
        failures.push(`job ${id} is still ${job.status}`);
        continue;
      }
      const exp = await get(`/experiments/${job.experiment_id}`);
      if (exp.status !== job.status) failures.push(`job ${id} is ${job.status}, its experiment ${exp.status}`);
      const epochs = ((exp.history ?? []) as Json[]).map((r) => r.epoch as number);
      if (new Set(epochs).size !== epochs.length || epochs.some((e, i) => e !== i + 1)) failures.push(`job ${id}: history epochs ${epochs.join(',')} (an epoch recorded twice or missing)`);
      const mine = models.filter((m) => m.job_id === id).length;
      if (job.status === 'completed' && mine !== 1) failures.push(`job ${id} completed with ${mine} models registered (run twice to completion?)`);
      if (job.status !== 'completed' && mine !== 0) failures.push(`job ${id} ${job.status} but has ${mine} models`);
    }
    const states = await Promise.all(accepted.map(async (id) => (await get(`/jobs/${id}`)).status as string));
    note(`  ${accepted.length} accepted jobs: ${['completed', 'failed', 'cancelled'].map((s) => `${states.filter((x) => x === s).length} ${s}`).join(', ')}; each with its experiment in the same state, one model per completed job, no epoch recorded twice`);
  } finally {
    for (const s of receivers) s.close();
    // The system's services are left running whatever happened.
    try {
      sh(`pg_ctlcluster --skip-systemctl-redirect ${PG} main start`);
    } catch {
      /* already running */
    }
    try {
      sh('redis-cli -h 127.0.0.1 -p 6379 ping');
    } catch {
      sh('redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no');
    }
    await c?.close().catch(() => undefined);
    sh(`umount ${mount} || true`);
    rmSync(mount, { recursive: true, force: true });
  }
  verdict(failures, 'every outage reported and recovered, every request during one answered promptly, no job lost or run twice');
}

runScript(main);
