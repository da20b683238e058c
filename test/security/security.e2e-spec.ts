import { API_SCOPES } from '@app/contracts';
import { bruteForceAttacks, credentialAttacks, scopeAttacks } from './support/attacks-auth';
import { bodyAttacks, codeInjectionAttacks, traversalAttacks } from './support/attacks-input';
import { fuzzAttacks } from './support/attacks-fuzz';
import { headerAttacks, ssrfAttacks } from './support/attacks-network';
import { crossTenantAttacks } from './support/attacks-tenants';
import { startFixture, type Fixture } from './support/fixture';
import { formatFailures, Ledger } from './support/ledger';

/** Operations the gateway had when this suite was written; the live document may only grow. */
const EXPECTED_ROUTES = [
  'GET /',
  'GET /health',
  'GET /health/live',
  'GET /health/ready',
  'POST /auth/token',
  'POST /auth/keys',
  'GET /auth/keys',
  'DELETE /auth/keys/{key_id}',
  'GET /auth/webhook-secret',
  'POST /auth/webhook-secret',
  'GET /audit',
  'POST /compile',
  'POST /compile/sync',
  'GET /datasets',
  'POST /datasets',
  'GET /datasets/{dataset_id}',
  'DELETE /datasets/{dataset_id}',
  'GET /deployments',
  'POST /deployments',
  'GET /deployments/{deployment_id}',
  'DELETE /deployments/{deployment_id}',
  'GET /deployments/{deployment_id}/manifests',
  'GET /deployments/{deployment_id}/model',
  'POST /deployments/{deployment_id}/predict',
  'POST /deployments/{deployment_id}/scale',
  'GET /experiments',
  'GET /experiments/{experiment_id}',
  'DELETE /experiments/{experiment_id}',
  'GET /experiments/{experiment_id}/artifacts/{artifact_name}',
  'GET /experiments/{experiment_id}/compare',
  'GET /jobs',
  'POST /jobs/train',
  'POST /jobs/hpo',
  'GET /jobs/{job_id}',
  'DELETE /jobs/{job_id}',
  'GET /jobs/{job_id}/events',
  'GET /jobs/{job_id}/webhooks',
  'GET /models',
  'GET /models/{model_id}',
  'DELETE /models/{model_id}',
  'GET /models/{model_id}/download',
];
const PUBLIC_ROUTES = ['GET /', 'GET /health', 'GET /health/live', 'GET /health/ready'];
const WEBHOOK_ROUTES = ['POST /compile', 'POST /jobs/train', 'POST /jobs/hpo', 'POST /deployments'];
const FUZZ_COUNT = 5000;

describe('security: every route under attack (embedded gateway, real HTTP)', () => {
  let fx: Fixture;
  let ledger: Ledger;

  beforeAll(async () => {
    fx = await startFixture();
    ledger = new Ledger(() => fx.gw.url, fx.ctx);
  }, 180_000);

  afterAll(async () => {
    if (ledger) process.stdout.write(`\n${ledger.summary()}\n`);
    if (fx?.unknownParams.size) process.stdout.write(`security: no fixture ids for path parameters ${[...fx.unknownParams].join(', ')} (attacked with random ids)\n`);
    await fx?.close();
  });

  /** Fails with every failing request of the classes. */
  function expectNoFailures(...classes: string[]): void {
    const failures = classes.flatMap((cls) => ledger.failuresOf(cls));
    const tried = classes.reduce((n, cls) => n + ledger.countOf(cls), 0);
    if (failures.length) throw new Error(`${failures.length} failing ${classes.join(' and ')} attacks (of ${tried}):\n${formatFailures(failures)}`);
    for (const cls of classes) expect([cls, ledger.countOf(cls) > 0]).toEqual([cls, true]);
  }

  it('takes its route inventory from the running gateway: every expected route, each non-public one with x-required-scope', () => {
    const ids = fx.routes.map((r) => r.id);
    expect(ids.length).toBeGreaterThanOrEqual(EXPECTED_ROUTES.length);
    expect(ids).toEqual(expect.arrayContaining(EXPECTED_ROUTES));
    const unscoped = fx.routes.filter((r) => !r.isPublic && !API_SCOPES.includes(r.scope as never)).map((r) => r.id);
    expect(unscoped).toEqual([]);
    expect(fx.routes.filter((r) => r.isPublic).map((r) => r.id).sort()).toEqual([...PUBLIC_ROUTES].sort());
    const withWebhook = fx.routes.filter((r) => r.bodySchema?.properties?.webhook_url).map((r) => r.id);
    expect(withWebhook).toEqual(expect.arrayContaining(WEBHOOK_ROUTES));
  });

  it('refuses missing, invalid, expired, forged and revoked credentials on every non-public route with a 401', async () => {
    await credentialAttacks(fx, ledger);
    expectNoFailures('credentials');
  });

  it('blocks an address guessing keys and a key flooding requests with 429s, whatever X-Forwarded-For says', async () => {
    await bruteForceAttacks(fx, ledger);
    expectNoFailures('brute-force');
  });

  it('refuses a key without the scope a route declares with a 403 insufficient_scope, and lets one with it through', async () => {
    await scopeAttacks(fx, ledger);
    expectNoFailures('scope');
  });

  it('isolates tenants on every route: the other tenant gets 404 (never 403), lists never show it, and nothing it tries changes anything', async () => {
    await crossTenantAttacks(fx, ledger);
    expectNoFailures('cross-tenant');
  });

  it('answers traversal, glob, encoded, NUL, overlong and unicode values in every path parameter and name field with a 4xx, never a file or another tenant', async () => {
    await traversalAttacks(fx, ledger);
    expectNoFailures('traversal');
  });

  it('never turns DSL strings into code that runs: Lambda bodies and quote breakouts are refused or stay inert', async () => {
    await codeInjectionAttacks(fx, ledger);
    expectNoFailures('code-injection');
  });

  it('refuses bodies over the limits with a 413 and malformed ones with a 400 or 422 on every route', async () => {
    await bodyAttacks(fx, ledger);
    expectNoFailures('oversized', 'malformed');
  });

  it('refuses private, loopback, link-local, metadata, encoded-IP and non-http webhook targets with a 422 on every route taking webhook_url', async () => {
    await ssrfAttacks(fx, ledger);
    expectNoFailures('ssrf');
  });

  it('never reflects injected headers or smuggled requests, and answers CORS for the configured origin only', async () => {
    await headerAttacks(fx, ledger);
    expectNoFailures('header-injection');
  });

  it('survives a seeded fuzzing pass of random and mutated requests over the live route inventory', async () => {
    const seed = Number(process.env.SECURITY_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
    const count = Number(process.env.SECURITY_FUZZ_COUNT ?? FUZZ_COUNT);
    process.stdout.write(`\nsecurity: fuzzing ${count} requests with seed ${seed} (replay: SECURITY_FUZZ_SEED=${seed})\n`);
    await fuzzAttacks(fx, ledger, { seed, count, concurrency: 8 });
    expectNoFailures('fuzz');
  }, 180_000);
});
