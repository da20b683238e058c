import { compile } from '@app/dsl';
import { formatPredictions, ServingPool } from '@app/serving';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';

const ROOT = resolve(__dirname, '../../..');
const CONVNET = `network Convnet { input: (28, 28, 1) layers: Conv2D(8, (3,3), "relu") MaxPooling2D((2,2)) Flatten() Dense(16, "relu") Output(10, "softmax") }`;

interface Server {
  child: ChildProcess;
  port: number;
  stderr: string[];
  /** Resolves with the first stdout line matching. */
  logged: (pattern: RegExp) => Promise<string>;
  exit: Promise<number | null>;
}

function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const probe = createServer();
    probe.once('error', fail);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => done(port));
    });
  });
}

/** Spawns the server from sources; resolves once it logs that it serves, or with its exit when it stops first. */
async function startServer(env: Record<string, string>): Promise<Server & { started: boolean }> {
  const port = await freePort();
  const child = spawn(process.execPath, ['-r', './scripts/register-ts.js', 'apps/serve/src/main.ts'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOST: '127.0.0.1', PORT: String(port), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stderr: string[] = [];
  createInterface({ input: child.stderr! }).on('line', (line) => stderr.push(line));
  const stdout = createInterface({ input: child.stdout! });
  const logged = (pattern: RegExp) => new Promise<string>((done) => stdout.on('line', (line) => pattern.test(line) && done(line)));
  const exit = new Promise<number | null>((done) => child.once('close', (code) => done(code)));
  const started = await Promise.race([logged(/"msg":"serving"/).then(() => true), exit.then(() => false)]);
  return { child, port, stderr, logged, exit, started };
}

async function call(port: number, method: string, path: string, body?: string): Promise<{ status: number; type: string | null; json: any; headers: Headers }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { method, body, headers: body ? { 'Content-Type': 'application/json' } : undefined });
  const text = await res.text();
  return { status: res.status, type: res.headers.get('content-type'), json: text ? JSON.parse(text) : undefined, headers: res.headers };
}

function image(seed: number): number[][][] {
  let s = seed;
  const next = () => (s = (s * 1103515245 + 12345) % 2147483648) / 2147483648;
  return Array.from({ length: 28 }, () => Array.from({ length: 28 }, () => [next()]));
}

describe('apps/serve', () => {
  let dir: string;
  let modelPath: string;
  let model: Uint8Array;
  let pool: ServingPool;
  let server: Server;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'serve-spec-'));
    model = compile(CONVNET, { backend: 'onnx', seed: 4 }).onnx!;
    modelPath = join(dir, 'convnet.onnx');
    writeFileSync(modelPath, model);
    const [started] = await Promise.all([
      startServer({ MODEL_PATH: modelPath, SERVING_REPLICAS: '2', OUTPUT_KIND: 'softmax', PREDICT_MAX_BATCH: '32', BODY_LIMIT_BYTES: String(1 << 20), HEALTH_CHECK_PATH: '/healthz' }),
      ServingPool.start({ model, replicas: 1 }).then((p) => (pool = p)),
    ]);
    server = started;
    if (!started.started) throw new Error(`the server did not start:\n${started.stderr.join('\n')}`);
  });

  afterAll(async () => {
    await pool?.close();
    if (server && server.child.exitCode === null) {
      server.child.kill('SIGKILL');
      await server.exit;
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('reports healthy once its replicas are warm', async () => {
    expect(await call(server.port, 'GET', '/healthz')).toMatchObject({ status: 200, type: 'application/json', json: { status: 'ok', ready_replicas: 2 } });
  });

  it('predicts over HTTP what the pool predicts in-process, for nested arrays and base64', async () => {
    const instances = [image(1), image(2), image(3)];
    const flat = Float32Array.from(instances.flat(3));
    const { output, dims } = await pool.predict(flat.slice(), 3);
    const expected = formatPredictions(output, dims, 'softmax');

    const nested = await call(server.port, 'POST', '/predict', JSON.stringify({ instances }));
    expect(nested.status).toBe(200);
    expect(nested.json.predictions).toEqual(expected.predictions);
    expect(nested.json.classes).toEqual(expected.classes);
    expect(typeof nested.json.latency_ms).toBe('number');

    const b64 = Buffer.from(flat.buffer).toString('base64');
    const whole = await call(server.port, 'POST', '/predict', JSON.stringify({ instances: b64 }));
    expect(whole.json.predictions).toEqual(expected.predictions);
    const perInstance = await call(server.port, 'POST', '/predict', JSON.stringify({ instances: [0, 1, 2].map((i) => Buffer.from(flat.buffer, i * 3136, 3136).toString('base64')) }));
    expect(perInstance.json.predictions).toEqual(expected.predictions);
  });

  it('answers bad requests with problem+json', async () => {
    const wrongShape = await call(server.port, 'POST', '/predict', JSON.stringify({ instances: [image(1), image(2).slice(0, 27)] }));
    expect(wrongShape).toMatchObject({
      status: 422,
      type: 'application/problem+json',
      json: {
        status: 422,
        code: 'validation_error',
        title: 'Unprocessable Entity',
        detail: 'instances[1] has shape [27, 28, 1] but the model takes [28, 28, 1]',
        errors: [{ field: 'instances[1]', message: 'instances[1] has shape [27, 28, 1] but the model takes [28, 28, 1]' }],
      },
    });
    expect(wrongShape.json.request_id).toBe(wrongShape.headers.get('x-request-id'));
    expect((await call(server.port, 'POST', '/predict', JSON.stringify({ instances: Array(33).fill(image(1)) }))).json.detail).toBe(
      'at most 32 instances per request (got 33); split the batch',
    );
    expect((await call(server.port, 'POST', '/predict', JSON.stringify([1, 2]))).json).toMatchObject({ status: 422, errors: [{ field: '(body)' }] });

    const malformed = await call(server.port, 'POST', '/predict', '{"instances": [');
    expect(malformed).toMatchObject({ status: 400, type: 'application/problem+json', json: { status: 400, code: 'malformed_json' } });
    const tooLarge = await call(server.port, 'POST', '/predict', JSON.stringify({ instances: 'A'.repeat(1 << 21) }));
    expect(tooLarge).toMatchObject({ status: 413, json: { code: 'payload_too_large' } });
    expect(await call(server.port, 'GET', '/models')).toMatchObject({ status: 404, type: 'application/problem+json', json: { code: 'not_found' } });
    const wrongMethod = await call(server.port, 'GET', '/predict');
    expect(wrongMethod).toMatchObject({ status: 405, json: { code: 'method_not_allowed' } });
    expect(wrongMethod.headers.get('allow')).toBe('POST');
    expect((await call(server.port, 'DELETE', '/healthz')).status).toBe(405);
  });

  it('on SIGTERM finishes the request in flight, then exits 0', async () => {
    const body = JSON.stringify({ instances: [image(5)] });
    const answer = new Promise<{ status: number; connection?: string; text: string }>((done, fail) => {
      const req = request(
        { host: '127.0.0.1', port: server.port, method: 'POST', path: '/predict', headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body), Expect: '100-continue' } },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (text += c));
          res.on('end', () => done({ status: res.statusCode!, connection: res.headers.connection, text }));
        },
      );
      req.on('error', fail);
      // "100 Continue" means the server holds the request: only then stop it, and send the body once it is draining.
      req.on('continue', () => {
        void server.logged(/"msg":"shutting down"/).then(() => req.end(body));
        server.child.kill('SIGTERM');
      });
      req.flushHeaders();
    });
    const res = await answer;
    expect(res.status).toBe(200);
    expect(res.connection).toBe('close');
    expect(JSON.parse(res.text).predictions).toHaveLength(1);
    expect(await server.exit).toBe(0);
  });

  it.each([
    ['without MODEL_PATH', {}, /MODEL_PATH is required: the path of the \.onnx model to serve/],
    ['with a missing file', { MODEL_PATH: '/nonexistent/model.onnx' }, /MODEL_PATH=\/nonexistent\/model\.onnx cannot be read: ENOENT/],
    ['with a file that is not a model', { MODEL_PATH: __filename }, /MODEL_PATH=.*main\.spec\.ts: the file is not an ONNX model/],
    ['with bad settings', { MODEL_PATH: __filename, SERVING_REPLICAS: '0', PREDICT_MAX_BATCH: 'lots', OUTPUT_KIND: 'probabilities' }, /OUTPUT_KIND=probabilities must be one of softmax, sigmoid, raw \(default raw\)\n {2}SERVING_REPLICAS=0 must be an integer from 1 to 64 \(default 1\)\n {2}PREDICT_MAX_BATCH=lots must be an integer >= 1 \(default 256\)/],
  ])('exits 1 %s, saying why', async (_, env, message) => {
    const run = await startServer(env as Record<string, string>);
    expect(run.started).toBe(false);
    expect(await run.exit).toBe(1);
    expect(run.stderr.join('\n')).toMatch(message);
  });
});
