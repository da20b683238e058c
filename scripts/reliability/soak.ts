/**
 * `npm run test:soak`: steady mixed load — SOAK_CLIENTS (20) clients doing reads, compiles, a training every
 * SOAK_TRAIN_EVERY_S (10) seconds, SSE watchers and predicts — for SOAK_SECONDS (3600; CI runs it for 180) against a
 * gateway and two workers, sampling the resident memory and open file descriptors of each with its child processes
 * (training processes, sandboxes) every SOAK_SAMPLE_S (5) seconds. The first SOAK_WARMUP_FRACTION (0.25) of the run
 * is warm-up (caches, JIT, pools filling); growth is the median of the last quarter of the samples minus the median of
 * the first quarter after warm-up. Exits 1 when a process (with its children) grew by more than SOAK_MAX_RSS_GROWTH_MB
 * (64) or SOAK_MAX_FD_GROWTH (32) descriptors, or on any 5xx, network error or timeout.
 */
import { cpus, loadavg } from 'os';
import { Cluster, footprints, IRIS, IRIS_SAMPLE, pct, type Json, runScript, verdict } from './harness';

const CLIENTS = Number(process.env.SOAK_CLIENTS ?? 20);
const SECONDS = Number(process.env.SOAK_SECONDS ?? 3600);
const SAMPLE_S = Number(process.env.SOAK_SAMPLE_S ?? 5);
const TRAIN_EVERY_S = Number(process.env.SOAK_TRAIN_EVERY_S ?? 10);
const WARMUP = Number(process.env.SOAK_WARMUP_FRACTION ?? 0.25);
const MAX_RSS_GROWTH_MB = Number(process.env.SOAK_MAX_RSS_GROWTH_MB ?? 64);
const MAX_FD_GROWTH = Number(process.env.SOAK_MAX_FD_GROWTH ?? 32);
const MAX_P99_MS = Number(process.env.SOAK_MAX_P99_MS ?? 10_000);

const median = (xs: number[]) => pct(xs, 50);

async function main(): Promise<void> {
  const c = await Cluster.start(2, { RATE_LIMIT_REQUESTS: '100000', RATE_LIMIT_EXPENSIVE_REQUESTS: '100000' });
  const failures: string[] = [];
  try {
    c.resetStats();
    const procs = [['gateway', c.gateway], ['worker 1', c.workers[0]], ['worker 2', c.workers[1]]] as const;
    const samples = new Map<string, Array<{ t: number; rssMb: number; fds: number; procs: number }>>(procs.map(([name]) => [name, []]));
    const t0 = performance.now();
    const deadline = Date.now() + SECONDS * 1000;
    const sampler = setInterval(() => {
      const t = (performance.now() - t0) / 1000;
      footprints(procs.map(([, p]) => p.child.pid!)).forEach((f, i) => samples.get(procs[i][0])!.push({ t, ...f }));
    }, SAMPLE_S * 1000);
    const trainer = setInterval(() => {
      const t = c.tenants[Math.floor(Math.random() * c.tenants.length)];
      void c.call('POST /jobs/train', t.key, 'POST', '/jobs/train', { dsl_code: IRIS(8), backend: 'tensorflow', dataset: 'Iris', training_config: { epochs: 3 } }).then((j) => {
        if (j.status === 202) t.trains.push((j.json as Json).job_id);
      });
    }, TRAIN_EVERY_S * 1000);
    const client = async (n: number) => {
      const t = c.tenants[n % c.tenants.length];
      while (Date.now() < deadline) {
        const r = Math.random();
        if (r < 0.2) await c.call('GET /jobs', t.key, 'GET', '/jobs?limit=20');
        else if (r < 0.35) await c.call('GET /experiments', t.key, 'GET', '/experiments?limit=20');
        else if (r < 0.45) await c.call('GET /models', t.key, 'GET', '/models?limit=20');
        else if (r < 0.55) await c.call('POST /compile/sync', t.key, 'POST', '/compile/sync', { dsl_code: IRIS(4 + (n % 29)), backend: 'onnx' });
        else if (r < 0.6) await c.watch(t.key, t.trains[t.trains.length - 1]);
        else await c.call('POST /deployments/{id}/predict', t.key, 'POST', t.predict, { instances: [IRIS_SAMPLE] });
        // Steady, not flat out: a think time keeps the load level for the whole run.
        await new Promise((r2) => setTimeout(r2, 20));
      }
    };
    await Promise.all(Array.from({ length: CLIENTS }, (_, i) => client(i)));
    clearInterval(sampler);
    clearInterval(trainer);
    const wall = (performance.now() - t0) / 1000;
    const { lines, failures: bounds, total } = c.report(wall, MAX_P99_MS);
    failures.push(...bounds);

    console.log(`\ntest:soak — ${CLIENTS} clients × ${SECONDS} s, a training every ${TRAIN_EVERY_S} s; gateway + 2 workers on PostgreSQL and Redis; ${cpus().length} CPUs, load ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
    console.log(`${total} requests in ${wall.toFixed(0)} s: ${(total / wall).toFixed(0)} req/s; ${c.tenants.reduce((n, t) => n + t.trains.length, 0)} trainings\n`);
    console.log(lines.join('\n'));
    console.log(`\nfootprint of each process with its children (training processes, sandboxes), sampled every ${SAMPLE_S} s; growth = median of the last quarter − median of the first quarter after the ${Math.round(WARMUP * 100)} % warm-up`);
    console.log('| process | processes | RSS start MB | RSS end MB | RSS growth MB (bound) | RSS max MB | fds start | fds end | fd growth (bound) |');
    console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
    for (const [name] of procs) {
      const all = samples.get(name)!;
      const steady = all.filter((s) => s.t >= WARMUP * wall);
      const q = Math.max(1, Math.floor(steady.length / 4));
      const first = steady.slice(0, q);
      const last = steady.slice(-q);
      if (first.length === 0) {
        failures.push(`${name}: no samples after the warm-up (run longer than ${SAMPLE_S / (1 - WARMUP)} s)`);
        continue;
      }
      const rssGrowth = median(last.map((s) => s.rssMb)) - median(first.map((s) => s.rssMb));
      const fdGrowth = median(last.map((s) => s.fds)) - median(first.map((s) => s.fds));
      console.log(
        `| ${name} | ${Math.min(...all.map((s) => s.procs))}–${Math.max(...all.map((s) => s.procs))} | ${median(first.map((s) => s.rssMb)).toFixed(0)} | ${median(last.map((s) => s.rssMb)).toFixed(0)} | ${rssGrowth.toFixed(1)} (≤ ${MAX_RSS_GROWTH_MB}) | ${Math.max(...all.map((s) => s.rssMb)).toFixed(0)} | ${median(first.map((s) => s.fds))} | ${median(last.map((s) => s.fds))} | ${fdGrowth} (≤ ${MAX_FD_GROWTH}) |`,
      );
      if (rssGrowth > MAX_RSS_GROWTH_MB) failures.push(`${name}: resident memory grew ${rssGrowth.toFixed(1)} MB (SOAK_MAX_RSS_GROWTH_MB ${MAX_RSS_GROWTH_MB})`);
      if (fdGrowth > MAX_FD_GROWTH) failures.push(`${name}: open descriptors grew by ${fdGrowth} (SOAK_MAX_FD_GROWTH ${MAX_FD_GROWTH})`);
    }
    verdict(failures, 'no growth beyond the bounds, no 5xx, no network error or timeout');
  } finally {
    await c.close();
  }
}

runScript(main);
