import { createTempDir, freePort, launch, type Proc, type TempDir } from '@app/testing';
import request from 'supertest';

/** The gateway as `npm start` runs it, with LOG_FORMAT=json: its log is JSON lines that say who did what, and no secret. */

const DEMO_KEY = 'demo_api_key_12345';
const DSL = 'network LoggedModel {\n  input: (4,)\n  layers:\n    Dense(units=3, activation="softmax")\n}';


describe('structured logs (a real gateway process)', () => {
  let dir: TempDir;
  let gateway: Proc;
  let url: string;
  const lines: string[] = [];

  beforeAll(async () => {
    dir = await createTempDir();
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    gateway = launch('apps/gateway/src/main.ts', { NODE_ENV: 'development', STORAGE_PATH: dir.path, API_HOST: '127.0.0.1', API_PORT: String(port), LOG_FORMAT: 'json' });
    // Whole lines of stdout, for parsing.
    let buffered = '';
    gateway.child.stdout!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const complete = buffered.split('\n');
      buffered = complete.pop()!;
      lines.push(...complete.filter(Boolean));
    });
    const deadline = Date.now() + 60_000;
    while (!lines.some((l) => l.includes('listening on'))) {
      if (Date.now() > deadline || gateway.child.exitCode !== null) throw new Error(`the gateway did not start:\n${gateway.output.join('')}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }, 90_000);

  afterAll(async () => {
    if (gateway && gateway.child.exitCode === null) {
      gateway.child.kill('SIGTERM');
      await gateway.exited;
    }
    await dir?.remove();
  });

  /** The "request completed" line of the request with this id, once the gateway wrote it. */
  async function completed(requestId: string): Promise<Record<string, any>> {
    for (let i = 0; i < 100; i++) {
      const line = lines.find((l) => l.includes(`"request_id":"${requestId}"`) && l.includes('request completed'));
      if (line) return JSON.parse(line);
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`no log line for request ${requestId}`);
  }

  it('writes one JSON line per request with its id, route, status, duration and the caller', async () => {
    await request(url).get('/models/?limit=1').set('X-API-Key', DEMO_KEY).set('X-Request-Id', 'log-test-1').expect(200);
    const line = await completed('log-test-1');
    expect(line).toMatchObject({ level: 30, msg: 'request completed', req: { method: 'GET', path: '/models/' }, res: { status: 200 }, route: '/models', tenant_id: expect.stringMatching(/^[0-9a-f-]{36}$/), api_key_id: expect.stringMatching(/^[0-9a-f-]{36}$/), duration_ms: expect.any(Number) });
    await request(url).get('/jobs/00000000-0000-4000-8000-000000000000').set('X-API-Key', DEMO_KEY).set('X-Request-Id', 'log-test-2').expect(404);
    expect(await completed('log-test-2')).toMatchObject({ route: '/jobs/:job_id', res: { status: 404 } });
    await request(url).get('/models/').set('X-API-Key', 'nk_not_a_key_at_all').set('X-Request-Id', 'log-test-3').expect(401);
    const refused = await completed('log-test-3');
    expect(refused).toMatchObject({ res: { status: 401 } });
    expect(refused).not.toHaveProperty('tenant_id');
    // Startup lines are JSON too, with the component as context.
    expect(lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l)).find((l) => l.context === 'Gateway')).toMatchObject({ msg: expect.stringMatching(/listening on/) });
  });

  it("tags every line a job writes with its job_id", async () => {
    const { body } = await request(url).post('/compile/').set('X-API-Key', DEMO_KEY).send({ dsl_code: DSL, backend: 'onnx' }).expect(202);
    let line: Record<string, any> | undefined;
    for (let i = 0; i < 200 && !line; i++) {
      const found = lines.find((l) => l.includes(`"job_id":"${body.job_id}"`) && l.includes('handled in'));
      if (found) line = JSON.parse(found);
      else await new Promise((r) => setTimeout(r, 25));
    }
    expect(line).toMatchObject({ level: 30, job_id: body.job_id, queue: 'compile', context: 'Jobs' });
  });

  it('never logs keys, tokens, DSL sources or query strings', async () => {
    const { body } = await request(url).post('/auth/token').set('X-API-Key', DEMO_KEY).set('X-Request-Id', 'log-test-4').expect(200);
    await request(url).post('/compile/sync').set('Authorization', `Bearer ${body.access_token}`).set('X-Request-Id', 'log-test-5').send({ dsl_code: DSL, backend: 'tensorflow' }).expect(200);
    await request(url).get('/models/?name=secret-query-value').set('X-API-Key', DEMO_KEY).set('X-Request-Id', 'log-test-6').expect(200);
    await completed('log-test-6');
    const log = lines.join('\n');
    for (const secret of [DEMO_KEY, body.access_token, 'LoggedModel', 'secret-query-value', 'nk_not_a_key_at_all']) expect(log).not.toContain(secret);
  });
});
