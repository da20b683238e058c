/**
 * `npm run test:load`: a gateway and two workers (each its own process) on a fresh PostgreSQL database and Redis
 * prefix, on loopback, under LOAD_CLIENTS (200) concurrent clients for LOAD_SECONDS (60) spread over LOAD_TENANTS (10)
 * tenants: reads, compiles, training submits (at most LOAD_MAX_TRAINS accepted), SSE watchers of those jobs and
 * predicts on each tenant's own deployment. Prints throughput, p50/p99 per route and errors by kind (429s apart), then
 * waits for every accepted job to finish and checks the records agree: each train job has its experiment in the same
 * final state, a completed one its registered model with a downloadable ONNX file and every listed artifact, each
 * compile its model, and no tenant has an experiment without its job or a job it was not answered for. Exits 1 when a
 * bound is broken: any 5xx, network error or timeout, a job not finished within LOAD_SETTLE_SECONDS (300), an
 * inconsistent record, or a p99 over LOAD_MAX_P99_MS (10000).
 */
import { waitUntil } from '@app/testing';
import { cpus, loadavg } from 'os';
import { Cluster, IRIS, IRIS_SAMPLE, runScript, verdict } from './harness';

const CLIENTS = Number(process.env.LOAD_CLIENTS ?? 200);
const SECONDS = Number(process.env.LOAD_SECONDS ?? 60);
const TENANTS = Number(process.env.LOAD_TENANTS ?? 10);
const MAX_TRAINS = Number(process.env.LOAD_MAX_TRAINS ?? 50);
const SETTLE_SECONDS = Number(process.env.LOAD_SETTLE_SECONDS ?? 300);
const MAX_P99_MS = Number(process.env.LOAD_MAX_P99_MS ?? 10_000);
/** Per tenant and minute: high enough that predicts mostly answer, low enough that compile floods meet 429s. */
const EXPENSIVE_PER_MINUTE = Number(process.env.LOAD_EXPENSIVE_PER_MINUTE ?? 300);
const FINAL = ['completed', 'failed', 'cancelled'];

async function main(): Promise<void> {
  const c = await Cluster.start(TENANTS, { RATE_LIMIT_REQUESTS: '100000', RATE_LIMIT_EXPENSIVE_REQUESTS: String(EXPENSIVE_PER_MINUTE) });
  const failures: string[] = [];
  try {
    c.resetStats();
    const { tenants } = c;
    let accepted = tenants.length;
    const deadline = Date.now() + SECONDS * 1000;
    const t0 = performance.now();
    const client = async (n: number) => {
      const t = tenants[n % tenants.length];
      while (Date.now() < deadline) {
        const r = Math.random();
        if (r < 0.12) await c.call('GET /jobs', t.key, 'GET', '/jobs?limit=20');
        else if (r < 0.24) await c.call('GET /experiments', t.key, 'GET', '/experiments?limit=20');
        else if (r < 0.36) await c.call('GET /models', t.key, 'GET', '/models?limit=20');
        else if (r < 0.42) await c.call('GET /jobs/{id}', t.key, 'GET', `/jobs/${t.trains[Math.floor(Math.random() * t.trains.length)]}`);
        else if (r < 0.5) await c.call('GET /health', t.key, 'GET', '/health');
        else if (r < 0.62) {
          const res = await c.call('POST /compile/sync', t.key, 'POST', '/compile/sync', { dsl_code: IRIS(4 + (n % 29)), backend: n % 2 ? 'pytorch' : 'onnx' });
          if (res.status === 200) t.compiles.push(res.json!.model_id);
        } else if (r < 0.66 && accepted < MAX_TRAINS) {
          accepted++;
          const j = await c.call('POST /jobs/train', t.key, 'POST', '/jobs/train', { dsl_code: IRIS(4 + (n % 13)), backend: 'tensorflow', dataset: 'Iris', training_config: { epochs: 3 }, seed: n });
          if (j.status === 202) t.trains.push(j.json!.job_id);
          else accepted--;
        } else if (r < 0.7) await c.watch(t.key, t.trains[t.trains.length - 1]);
        else await c.call('POST /deployments/{id}/predict', t.key, 'POST', t.predict, { instances: [IRIS_SAMPLE] });
      }
    };
    await Promise.all(Array.from({ length: CLIENTS }, (_, i) => client(i)));
    const wall = (performance.now() - t0) / 1000;
    const { lines, failures: bounds, total } = c.report(wall, MAX_P99_MS);
    failures.push(...bounds);

    // Every accepted job reaches a final state.
    const settleStart = performance.now();
    for (const t of tenants) {
      for (const id of t.trains) {
        const left = SETTLE_SECONDS * 1000 - (performance.now() - settleStart);
        await waitUntil(async () => (await c.call('settle', t.key, 'GET', `/jobs/${id}`)).json ?? {}, (j) => FINAL.includes(j.status), Math.max(1000, left), `job ${id}`).catch(() =>
          failures.push(`train job ${id} not finished within ${SETTLE_SECONDS} s`),
        );
      }
    }
    const settled = (performance.now() - settleStart) / 1000;

    // The records agree.
    let trains = 0;
    let compiles = 0;
    for (const t of tenants) {
      for (const id of t.trains) {
        trains++;
        const job = (await c.call('check', t.key, 'GET', `/jobs/${id}`)).json!;
        const exp = await c.call('check', t.key, 'GET', `/experiments/${job.experiment_id}`);
        if (exp.status !== 200) {
          failures.push(`train job ${id}: its experiment ${job.experiment_id} answers ${exp.status}`);
          continue;
        }
        if (exp.json!.status !== job.status) failures.push(`train job ${id} is ${job.status} but its experiment is ${exp.json!.status}`);
        if (job.status !== 'completed') continue;
        if (!job.model_id || exp.json!.model_id !== job.model_id) failures.push(`train job ${id}: model ${job.model_id}, its experiment's ${exp.json!.model_id}`);
        const onnx = await fetch(`${c.base}/models/${job.model_id}/download?format=onnx`, { headers: { 'X-API-Key': t.key } });
        if (onnx.status !== 200 || (await onnx.arrayBuffer()).byteLength < 100) failures.push(`train job ${id}: model ${job.model_id}'s ONNX file answers ${onnx.status}`);
        const artifacts = (exp.json!.artifacts ?? []) as Array<{ name: string }>;
        if (!artifacts.some((a) => a.name === 'model.onnx')) failures.push(`experiment ${job.experiment_id} completed without model.onnx`);
        for (const a of artifacts) {
          const res = await fetch(`${c.base}/experiments/${job.experiment_id}/artifacts/${a.name}`, { headers: { 'X-API-Key': t.key } });
          await res.arrayBuffer();
          if (res.status !== 200) failures.push(`experiment ${job.experiment_id}: artifact ${a.name} answers ${res.status}`);
        }
      }
      for (const id of t.compiles) {
        compiles++;
        const m = await c.call('check', t.key, 'GET', `/models/${id}`);
        if (m.status !== 200) failures.push(`compiled model ${id} answers ${m.status}`);
      }
      const jobs = (await c.call('check', t.key, 'GET', '/jobs?type=train&limit=1000')).json!;
      const exps = (await c.call('check', t.key, 'GET', '/experiments?limit=1000')).json!;
      if (jobs.total !== t.trains.length) failures.push(`a tenant has ${jobs.total} train jobs but was answered 202 for ${t.trains.length}`);
      if (exps.total !== jobs.total) failures.push(`a tenant has ${exps.total} experiments for ${jobs.total} train jobs`);
    }

    console.log(`\ntest:load — ${CLIENTS} clients × ${SECONDS} s over ${TENANTS} tenants; gateway + 2 workers on PostgreSQL and Redis; ${cpus().length} CPUs, load ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
    console.log(`${total} requests in ${wall.toFixed(1)} s: ${(total / wall).toFixed(0)} req/s (expensive routes limited to ${EXPENSIVE_PER_MINUTE} per tenant and minute)\n`);
    console.log(lines.join('\n'));
    console.log(`\n${trains} training jobs accepted (${tenants.length} before the load), all final ${settled.toFixed(1)} s after it; ${trains} train jobs and ${compiles} compiled models checked against their experiments, models, files and artifacts`);
    verdict(failures, `no 5xx, no network error or timeout, every job final, every record consistent, every p99 under ${MAX_P99_MS} ms`);
  } finally {
    await c.close();
  }
}

runScript(main);
