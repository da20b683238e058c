/**
 * What test:load and test:soak share: a gateway and two workers as processes of their own on a fresh PostgreSQL
 * database and Redis prefix (loopback only), tenants with a deployment each, and timed calls counted per route.
 */
import { createDistributedEnv, createTempDir, freePort, kill, launch, waitUntil, type Proc } from '@app/testing';
import { readdirSync, readFileSync } from 'fs';

export type Json = Record<string, any>;

export const IRIS = (units: number) =>
  `network Load {\n  input: (4,)\n  layers:\n    Dense(${units}, activation="relu")\n    Output(3, "softmax")\n  loss: "sparse_categorical_crossentropy"\n  optimizer: Adam(learning_rate=0.05)\n}`;
export const IRIS_SAMPLE = [5.1, 3.5, 1.4, 0.2];
const REQUEST_TIMEOUT_MS = 30_000;

export interface Tenant {
  key: string;
  trains: string[];
  compiles: string[];
  /** Its own deployment's predict path (the expensive budget is per tenant). */
  predict: string;
}

export interface RouteStats {
  ms: number[];
  ok: number;
  limited: number;
  client: number;
  server: number;
  network: number;
}

export class Cluster {
  readonly stats = new Map<string, RouteStats>();
  readonly tenants: Tenant[] = [];

  gateway!: Proc;
  readonly workers: Proc[] = [];

  private constructor(
    readonly base: string,
    private readonly gatewayEnv: Record<string, string>,
    private readonly workerEnv: Record<string, string>,
    private readonly dispose: () => Promise<void>,
  ) {}

  /**
   * Starts the processes, waits for a live worker, creates `tenants` tenants each with a trained, deployed model.
   * `storagePath`: the artifact store's directory (a size-limited mount, say); a temporary one by default.
   */
  static async start(tenants: number, gatewayEnv: Record<string, string>, options: { storagePath?: string; workerEnv?: Record<string, string> } = {}): Promise<Cluster> {
    const env = await createDistributedEnv();
    const storage = options.storagePath ? undefined : await createTempDir('neural-reliability-');
    const port = await freePort();
    const common = { DATABASE_URL: env.databaseUrl, REDIS_URL: env.redisUrl, REDIS_KEY_PREFIX: env.redisPrefix, STORAGE_PATH: options.storagePath ?? storage!.path, LOG_LEVEL: 'warn', WORKER_TRAINING_CONCURRENCY: '1' };
    const cluster: Cluster = new Cluster(
      `http://127.0.0.1:${port}`,
      { ...common, API_PORT: String(port), API_HOST: '127.0.0.1', AUTH_FAILURE_LIMIT: '100000', ...gatewayEnv },
      { ...common, ...options.workerEnv },
      async () => {
        for (const p of [cluster.gateway, ...cluster.workers]) if (p) await kill(p);
        await env.dispose();
        await storage?.remove();
      },
    );
    cluster.gateway = launch('apps/gateway/src/main.ts', cluster.gatewayEnv);
    cluster.workers.push(launch('apps/worker/src/main.ts', cluster.workerEnv), launch('apps/worker/src/main.ts', cluster.workerEnv));
    try {
      await waitUntil(() => fetch(`${cluster.base}/health`).then((r) => r.json() as Promise<Json>, () => ({})), (h) => h.services?.worker === 'healthy', 120_000, 'the gateway and a worker');
      for (let i = 0; i < tenants; i++) {
        const k = await cluster.call('setup', 'demo_api_key_12345', 'POST', '/auth/keys', { name: `reliability ${i}`, scopes: ['read', 'write'] });
        if (k.status !== 201) throw new Error(`could not create a key: ${k.status} ${JSON.stringify(k.json)}`);
        cluster.tenants.push({ key: k.json!.key, trains: [], compiles: [], predict: '' });
      }
      for (const t of cluster.tenants) {
        const j = await cluster.call('setup', t.key, 'POST', '/jobs/train', { dsl_code: IRIS(8), backend: 'tensorflow', dataset: 'Iris', training_config: { epochs: 5 } });
        if (j.status !== 202) throw new Error(`could not train: ${j.status} ${JSON.stringify(j.json)}`);
        t.trains.push(j.json!.job_id);
      }
      for (const t of cluster.tenants) {
        const done = await waitUntil(async () => (await cluster.call('setup', t.key, 'GET', `/jobs/${t.trains[0]}`)).json!, (j) => ['completed', 'failed'].includes(j.status), 180_000, 'the models to predict with');
        const dep = await cluster.call('setup', t.key, 'POST', '/deployments/', { model_id: done.model_id, deployment_name: 'load' });
        if (dep.status !== 201) throw new Error(`could not deploy: ${dep.status} ${JSON.stringify(dep.json)}`);
        t.predict = `/deployments/${dep.json!.deployment_id}/predict`;
      }
      for (const t of cluster.tenants) await waitUntil(async () => (await cluster.call('setup', t.key, 'GET', t.predict.replace('/predict', ''))).json!, (d) => d.status === 'deployed', 60_000, 'the deployments');
      return cluster;
    } catch (err) {
      await cluster.close();
      throw err;
    }
  }

  close(): Promise<void> {
    return this.dispose();
  }

  /** SIGKILLs the gateway and starts another on the same port; resolves once it answers /health/live. */
  async restartGateway(): Promise<void> {
    await kill(this.gateway);
    this.gateway = launch('apps/gateway/src/main.ts', this.gatewayEnv);
    await waitUntil(() => fetch(`${this.base}/health/live`).then((r) => r.status, () => 0), (s) => s === 200, 120_000, 'the new gateway');
  }

  /** SIGKILLs worker `i` (its training processes die with it) and starts a new one in its place. */
  async replaceWorker(i: number): Promise<void> {
    await kill(this.workers[i]);
    this.workers[i] = launch('apps/worker/src/main.ts', this.workerEnv);
  }

  /** Forgets the counts so far (the setup's, a warm-up's). */
  resetStats(): void {
    this.stats.clear();
  }

  private record(route: string, ms: number, status: number | 'network'): void {
    const s = this.stats.get(route) ?? { ms: [], ok: 0, limited: 0, client: 0, server: 0, network: 0 };
    this.stats.set(route, s);
    if (status === 'network') s.network++;
    else {
      s.ms.push(ms);
      if (status < 400) s.ok++;
      else if (status === 429) s.limited++;
      else if (status < 500) s.client++;
      else s.server++;
    }
  }

  /** One timed request, counted under `route`; status 0 for a network error or a timeout. */
  async call(route: string, key: string, method: string, path: string, body?: unknown): Promise<{ status: number; json: Json | null }> {
    const t0 = performance.now();
    try {
      const res = await fetch(`${this.base}${path}`, {
        method,
        headers: { 'X-API-Key': key, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
      const text = await res.text();
      this.record(route, performance.now() - t0, res.status);
      return { status: res.status, json: text && res.headers.get('content-type')?.includes('json') ? (JSON.parse(text) as Json) : null };
    } catch {
      this.record(route, performance.now() - t0, 'network');
      return { status: 0, json: null };
    }
  }

  /** Follows a job's event stream to its end (or 15 s, a job still running), timed as one operation. */
  async watch(key: string, jobId: string): Promise<void> {
    const route = 'GET /jobs/{id}/events';
    const t0 = performance.now();
    try {
      const res = await fetch(`${this.base}/jobs/${jobId}/events`, { headers: { 'X-API-Key': key }, signal: AbortSignal.timeout(15_000) });
      await res.text();
      this.record(route, performance.now() - t0, res.status);
    } catch (err) {
      this.record(route, performance.now() - t0, (err as Error).name === 'TimeoutError' ? 200 : 'network');
    }
  }

  /** The per-route table (markdown) of what was counted, without setup and checks; and the broken bounds. */
  report(wallSeconds: number, maxP99Ms: number): { lines: string[]; failures: string[]; total: number } {
    const routes = [...this.stats.entries()].filter(([r]) => !['setup', 'settle', 'check'].includes(r)).sort(([a], [b]) => a.localeCompare(b));
    const lines = ['| route | requests | req/s | 2xx/3xx | 429 | other 4xx | 5xx | network/timeout | p50 ms | p99 ms |', '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |'];
    const failures: string[] = [];
    let total = 0;
    for (const [route, s] of routes) {
      const n = s.ms.length + s.network;
      total += n;
      lines.push(`| ${route} | ${n} | ${(n / wallSeconds).toFixed(1)} | ${s.ok} | ${s.limited} | ${s.client} | ${s.server} | ${s.network} | ${pct(s.ms, 50).toFixed(1)} | ${pct(s.ms, 99).toFixed(1)} |`);
      if (s.server) failures.push(`${route}: ${s.server} answers 5xx`);
      if (s.network) failures.push(`${route}: ${s.network} network errors or timeouts`);
      if (route !== 'GET /jobs/{id}/events' && pct(s.ms, 99) > maxP99Ms) failures.push(`${route}: p99 ${pct(s.ms, 99).toFixed(0)} ms over ${maxP99Ms} ms`);
    }
    return { lines, failures, total };
  }
}

export function pct(xs: number[], p: number): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

/**
 * Resident memory (MB) and open file descriptors (sockets, files, pipes) of each of `pids` with all its descendants
 * (a worker's training processes, a gateway's sandboxes), from /proc; `procs` is how many processes that was.
 */
export function footprints(pids: number[]): Array<{ rssMb: number; fds: number; procs: number }> {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // pid (comm) state ppid …: comm may hold spaces and parentheses, so read after the last ')'.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      /* exited while listed */
    }
  }
  return pids.map((pid) => {
    let rssKb = 0;
    let fds = 0;
    let procs = 0;
    for (const queue = [pid]; queue.length; ) {
      const p = queue.pop()!;
      queue.push(...(children.get(p) ?? []));
      try {
        rssKb += Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${p}/status`, 'utf8'))?.[1] ?? 0);
        fds += readdirSync(`/proc/${p}/fd`).length;
        procs++;
      } catch {
        /* exited while sampled */
      }
    }
    return { rssMb: rssKb / 1024, fds, procs };
  });
}

/** Prints the verdict: the broken bounds (and exit code 1), or `passed`. */
export function verdict(failures: string[], passed: string): void {
  if (failures.length) {
    console.log(`\nFAILED — ${failures.length} broken bound(s):\n${failures.slice(0, 50).map((f) => `  - ${f}`).join('\n')}`);
    process.exitCode = 1;
  } else console.log(`\nPASSED — ${passed}`);
}

/** Runs a reliability script to its exit code (1 on a thrown error, with its stack). */
export function runScript(main: () => Promise<void>): void {
  main().then(
    () => process.exit(process.exitCode ?? 0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
