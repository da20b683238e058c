/**
 * `npm run bench:api`: the gateway (embedded mode, its real middleware, auth and database) and a bare `node:http`
 * server answering the same JSON, side by side on loopback, loaded by autocannon for GET /health, GET /models/ with
 * an API key and with a bearer token, and POST /compile/sync (the MNIST model). Prints requests/s and p99 latency of
 * each, and the ratio.
 */
import autocannon from 'autocannon';
import { readFileSync } from 'fs';
import { createServer, type Server } from 'http';
import { mkdtempSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { loadConfig } from '@app/config';
import { createGateway } from '../apps/gateway/src/bootstrap';

const KEY = 'demo_api_key_12345';
const DURATION = Number(process.env.BENCH_SECONDS ?? 5);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10);

interface Target {
  name: string;
  method: 'GET' | 'POST';
  path: string;
  body?: string;
  /** Credentials; the demo API key when absent. */
  auth?: Record<string, string>;
}

async function load(port: number, t: Target): Promise<{ rps: number; p99: number; non2xx: number }> {
  const r = await autocannon({
    url: `http://127.0.0.1:${port}${t.path}`,
    method: t.method,
    body: t.body,
    headers: { 'content-type': 'application/json', ...(t.auth ?? { 'x-api-key': KEY }) },
    connections: CONNECTIONS,
    duration: DURATION,
  });
  return { rps: r.requests.average, p99: r.latency.p99, non2xx: r.non2xx };
}

async function main(): Promise<void> {
  const mnist = readFileSync(join(__dirname, '..', 'libs', 'dsl', 'fixtures', 'examples', 'mnist.neural'), 'utf8');
  const config = loadConfig({ ...process.env, NODE_ENV: 'development', STORAGE_PATH: mkdtempSync(join(tmpdir(), 'bench-api-')), RATE_LIMIT_ENABLED: 'false', DATABASE_URL: '', REDIS_URL: '', API_PORT: '0' });
  const app = await createGateway(config, { logger: false });
  await app.listen(0, '127.0.0.1');
  const gatewayPort = (app.getHttpServer().address() as { port: number }).port;

  const token = (await (await fetch(`http://127.0.0.1:${gatewayPort}/auth/token`, { method: 'POST', headers: { 'x-api-key': KEY } })).json()) as { access_token: string };
  const targets: Target[] = [
    { name: 'GET /health', method: 'GET', path: '/health' },
    { name: 'GET /models/ (authenticated)', method: 'GET', path: '/models/?limit=10' },
    { name: 'GET /models/ (bearer token)', method: 'GET', path: '/models/?limit=10', auth: { authorization: `Bearer ${token.access_token}` } },
    { name: 'POST /compile/sync (MNIST, tensorflow)', method: 'POST', path: '/compile/sync', body: JSON.stringify({ dsl_code: mnist, backend: 'tensorflow', dataset: 'MNIST' }) },
  ];
  // The bare server answers each route with the body the gateway gave for it, so both send the same bytes.
  const bodies = new Map<string, string>();
  for (const t of targets) {
    const res = await fetch(`http://127.0.0.1:${gatewayPort}${t.path}`, { method: t.method, body: t.body, headers: { 'content-type': 'application/json', ...(t.auth ?? { 'x-api-key': KEY }) } });
    if (!res.ok) throw new Error(`${t.name}: gateway answered ${res.status} ${await res.text()}`);
    bodies.set(`${t.method} ${t.path.split('?')[0]}`, await res.text());
  }
  const bare: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = bodies.get(`${req.method} ${(req.url ?? '').split('?')[0]}`);
      res.writeHead(body ? 200 : 404, { 'content-type': 'application/json' });
      res.end(body ?? '{}');
    });
  });
  await new Promise<void>((r) => bare.listen(0, '127.0.0.1', r));
  const barePort = (bare.address() as { port: number }).port;

  console.log(`node ${process.version}, ${CONNECTIONS} connections, ${DURATION} s per run, ${new Date().toISOString()}`);
  console.log('| route | gateway req/s | gateway p99 ms | bare node:http req/s | bare p99 ms | gateway / bare req/s |');
  console.log('| --- | --- | --- | --- | --- | --- |');
  for (const t of targets) {
    const g = await load(gatewayPort, t);
    const b = await load(barePort, t);
    if (g.non2xx) throw new Error(`${t.name}: ${g.non2xx} non-2xx answers from the gateway`);
    console.log(`| ${t.name} | ${g.rps.toFixed(0)} | ${g.p99} | ${b.rps.toFixed(0)} | ${b.p99} | ${(g.rps / b.rps).toFixed(3)} |`);
  }
  await app.close();
  bare.close();
}

void main();
