import { DEMO_API_KEY } from '@app/config';
import { createTempDir, createTenantSession, createThrowawayPostgres, type GatewayCluster, startGateway, startGateways, type TenantSession, type TestGateway } from '@app/testing';
import type { LoggerService } from '@nestjs/common';
import { execFile } from 'child_process';
import { resolve } from 'path';
import request from 'supertest';
import { promisify } from 'util';

const TINY = { dsl_code: 'network Tiny {\n  input: (4,)\n  layers:\n    Dense(units=3, activation="softmax")\n}', backend: 'tensorflow' };

/** Creates a key through the API with `admin`'s key; returns the 201 body. */
async function createKey(gw: TestGateway, admin: TenantSession, body: Record<string, unknown>): Promise<Record<string, any>> {
  const res = await request(gw.url).post('/auth/keys').set(admin.headers).send(body);
  expect([res.status, res.body]).toEqual([201, expect.anything()]);
  return res.body;
}

const as = (key: string) => ({ 'X-API-Key': key });

describe('API keys, scopes and the audit log (embedded gateway, real HTTP)', () => {
  let gw: TestGateway;
  let admin: TenantSession;

  beforeAll(async () => {
    gw = await startGateway();
    admin = await createTenantSession(gw, 'operator', ['admin']);
  });
  afterAll(() => gw?.close());

  it('an administrator creates a key: shown once, in a tenant of its own, stored as a hash', async () => {
    const created = await createKey(gw, admin, { name: 'ci pipeline' });
    expect(created).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      key: expect.stringMatching(/^nk_[A-Za-z0-9_-]{43}$/),
      prefix: created.key.slice(0, 8),
      name: 'ci pipeline',
      scopes: ['read', 'write'],
      tenant_id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      created_at: expect.stringMatching(/Z$/),
      last_used_at: null,
      revoked_at: null,
    });
    expect(created.tenant_id).not.toBe(admin.tenantId);
    const listed = await request(gw.url).get('/auth/keys').set(as(created.key)).expect(200);
    expect(listed.body).toMatchObject({ total: 1, skip: 0, limit: 100 });
    expect(listed.body.keys[0]).toMatchObject({ id: created.id, prefix: created.prefix, tenant_id: created.tenant_id });
    expect(JSON.stringify(listed.body)).not.toContain(created.key);
    expect(listed.body.keys[0]).not.toHaveProperty('key');
  });

  it('keys of different tenants see nothing of each other; a key added to a tenant sees all of it', async () => {
    const one = await createKey(gw, admin, { name: 'one' });
    const two = await createKey(gw, admin, { name: 'two' });
    const model = await request(gw.url).post('/compile/sync').set(as(one.key)).send(TINY).expect(200);
    await request(gw.url).get(`/models/${model.body.model_id}`).set(as(two.key)).expect(404);
    expect((await request(gw.url).get('/models').set(as(two.key)).expect(200)).body.total).toBe(0);
    const sibling = await createKey(gw, admin, { name: 'one-readonly', scopes: ['read'], tenant_id: one.tenant_id });
    expect(sibling).toMatchObject({ tenant_id: one.tenant_id, scopes: ['read'] });
    await request(gw.url).get(`/models/${model.body.model_id}`).set(as(sibling.key)).expect(200);
    expect((await request(gw.url).get('/auth/keys').set(as(sibling.key)).expect(200)).body.keys.map((k: { id: string }) => k.id)).toEqual([sibling.id, one.id]);
  });

  it('refuses bad key requests with a 422 naming the field, and key creation without admin with a 403', async () => {
    const bad = await request(gw.url).post('/auth/keys').set(admin.headers).send({ name: '../etc', scopes: ['read', 'root'], tenant_id: 'nope' }).expect(422);
    expect(bad.body.errors.map((e: { field: string }) => e.field).sort()).toEqual(['name', 'scopes', 'tenant_id']);
    const unknownTenant = await request(gw.url).post('/auth/keys').set(admin.headers).send({ name: 'x', tenant_id: '00000000-0000-4000-8000-000000000000' }).expect(422);
    expect(unknownTenant.body.errors).toEqual([{ field: 'tenant_id', message: expect.stringMatching(/no tenant/) }]);
    const writer = await createKey(gw, admin, { name: 'writer' });
    const refused = await request(gw.url).post('/auth/keys').set(as(writer.key)).send({ name: 'mine' }).expect(403);
    expect(refused.body).toMatchObject({ status: 403, code: 'insufficient_scope', detail: expect.stringMatching(/needs the "admin" scope/) });
  });

  it('enforces scopes on every kind of route: read, predict, write and admin', async () => {
    const reader = await createKey(gw, admin, { name: 'reader', scopes: ['read'] });
    const predictor = await createKey(gw, admin, { name: 'predictor', scopes: ['predict'], tenant_id: reader.tenant_id });
    const writer = await createKey(gw, admin, { name: 'writer', scopes: ['write'], tenant_id: reader.tenant_id });
    const model = await request(gw.url).post('/compile/sync').set(as(writer.key)).send(TINY).expect(200);
    await request(gw.url).get('/models').set(as(reader.key)).expect(200);
    await request(gw.url).get(`/models/${model.body.model_id}`).set(as(reader.key)).expect(200);
    await request(gw.url).post('/auth/token').set(as(reader.key)).expect(200);
    for (const [method, path] of [
      ['post', '/compile/sync'],
      ['post', '/jobs/train'],
      ['delete', `/models/${model.body.model_id}`],
      ['post', '/auth/webhook-secret'],
      ['post', '/deployments/00000000-0000-4000-8000-000000000000/predict'],
    ] as const) {
      const res = await request(gw.url)[method](path).set(as(reader.key)).send({});
      expect([method, path, res.status, res.body.code]).toEqual([method, path, 403, 'insufficient_scope']);
    }
    await request(gw.url).get('/models').set(as(predictor.key)).expect(403);
    // Scope first, then existence: a predict key reaches the route, which knows no such deployment.
    await request(gw.url).post('/deployments/00000000-0000-4000-8000-000000000000/predict').set(as(predictor.key)).send({ instances: [[1, 2, 3, 4]] }).expect(404);
    await request(gw.url).get('/audit').set(as(writer.key)).expect(403);
    await request(gw.url).delete(`/models/${model.body.model_id}`).set(as(writer.key)).expect(204);
    // A token carries its key's scopes.
    const { body: token } = await request(gw.url).post('/auth/token').set(as(reader.key)).expect(200);
    expect(token.scopes).toEqual(['read']);
    await request(gw.url).post('/compile/sync').set('Authorization', `Bearer ${token.access_token}`).send(TINY).expect(403);
  });

  it('revokes a key at once; another tenant cannot revoke it, an administrator can revoke any', async () => {
    const victim = await createKey(gw, admin, { name: 'victim' });
    const other = await createKey(gw, admin, { name: 'other' });
    const notFound = await request(gw.url).delete(`/auth/keys/${victim.id}`).set(as(other.key)).expect(404);
    expect(notFound.body.code).toBe('not_found');
    await request(gw.url).get('/models').set(as(victim.key)).expect(200);
    await request(gw.url).delete(`/auth/keys/${victim.id}`).set(as(victim.key)).expect(204);
    await request(gw.url).get('/models').set(as(victim.key)).expect(401);
    await request(gw.url).delete(`/auth/keys/${victim.id}`).set(admin.headers).expect(404);
    await request(gw.url).delete(`/auth/keys/${other.id}`).set(admin.headers).expect(204);
    await request(gw.url).get('/models').set(as(other.key)).expect(401);
    const listed = await request(gw.url).get(`/auth/keys?tenant_id=${other.tenant_id}`).set(admin.headers).expect(200);
    expect(listed.body.keys).toEqual([expect.objectContaining({ id: other.id, revoked_at: expect.stringMatching(/Z$/) })]);
    await request(gw.url).delete('/auth/keys/not-a-uuid').set(admin.headers).expect(404);
    // An administrator key sharing a tenant with ordinary keys is out of their reach.
    const adminInTenant = await createKey(gw, admin, { name: 'tenant admin', scopes: ['admin'], tenant_id: victim.tenant_id });
    const writer = await createKey(gw, admin, { name: 'tenant writer', tenant_id: victim.tenant_id });
    const refused = await request(gw.url).delete(`/auth/keys/${adminInTenant.id}`).set(as(writer.key)).expect(403);
    expect(refused.body.detail).toMatch(/Only an administrator key/);
    await request(gw.url).get('/auth/keys').set(as(adminInTenant.key)).expect(200);
  });

  it('records last use of a key', async () => {
    const used = await createKey(gw, admin, { name: 'used' });
    await request(gw.url).get('/models').set(as(used.key)).expect(200);
    let lastUsed: string | null = null;
    for (let i = 0; i < 50 && !lastUsed; i++) {
      lastUsed = (await request(gw.url).get('/auth/keys').set(as(used.key)).expect(200)).body.keys[0].last_used_at;
    }
    expect(new Date(lastUsed!).getTime()).toBeGreaterThanOrEqual(new Date(used.created_at).getTime());
  });

  it('keeps an audit log of key changes, failed and refused authentications and deletes, for administrators only', async () => {
    const before = new Date().toISOString();
    const key = await createKey(gw, admin, { name: 'audited', scopes: ['read'] });
    await request(gw.url).get('/models').set(as(`${key.key}x`)).expect(401);
    await request(gw.url).post('/compile/sync').set(as(key.key)).send(TINY).expect(403);
    const writer = await createKey(gw, admin, { name: 'audited-writer', tenant_id: key.tenant_id });
    const model = await request(gw.url).post('/compile/sync').set(as(writer.key)).send(TINY).expect(200);
    await request(gw.url).delete(`/models/${model.body.model_id}`).set(as(writer.key)).expect(204);
    await request(gw.url).delete(`/auth/keys/${key.id}`).set(as(writer.key)).expect(204);
    await request(gw.url).post('/auth/webhook-secret').set(as(writer.key)).expect(200);

    const res = await request(gw.url).get(`/audit?since=${before}`).set(admin.headers).expect(200);
    const events = res.body.events as Array<Record<string, any>>;
    const byAction = (action: string) => events.filter((e) => e.action === action);
    expect(byAction('api_key.created').map((e) => e.target_id)).toEqual(expect.arrayContaining([key.id, writer.id]));
    expect(byAction('api_key.created').find((e) => e.target_id === key.id)).toMatchObject({ tenant_id: admin.tenantId, actor_key_id: admin.apiKeyId, ip: expect.any(String), request_id: expect.any(String), details: { key_tenant_id: key.tenant_id, scopes: ['read'], prefix: key.prefix } });
    expect(byAction('auth.failed')[0]).toMatchObject({ tenant_id: null, actor_key_id: null, details: { route: 'GET /models', key_prefix: key.prefix } });
    expect(byAction('auth.forbidden')[0]).toMatchObject({ tenant_id: key.tenant_id, actor_key_id: key.id, details: { route: 'POST /compile/sync', required_scope: 'write' } });
    expect(byAction('model.deleted')[0]).toMatchObject({ tenant_id: key.tenant_id, actor_key_id: writer.id, target_type: 'model', target_id: model.body.model_id });
    expect(byAction('api_key.revoked')[0]).toMatchObject({ target_id: key.id, actor_key_id: writer.id });
    expect(byAction('webhook_secret.rotated')[0]).toMatchObject({ target_id: key.tenant_id });
    for (const secret of [key.key, writer.key, admin.apiKey]) expect(JSON.stringify(res.body)).not.toContain(secret);
    expect(events.map((e) => e.created_at)).toEqual([...events.map((e) => e.created_at)].sort().reverse());

    const filtered = await request(gw.url).get(`/audit?action=model.deleted&tenant_id=${key.tenant_id}`).set(admin.headers).expect(200);
    expect(filtered.body).toMatchObject({ total: 1, events: [{ target_id: model.body.model_id }] });
    await request(gw.url).get('/audit?since=yesterday').set(admin.headers).expect(422);
    await request(gw.url).get('/audit').set(as(writer.key)).expect(403);
  });

  it('the development demo key is an administrator', async () => {
    const created = await request(gw.url).post('/auth/keys').set('X-API-Key', DEMO_API_KEY).send({ name: 'from-demo' }).expect(201);
    expect(created.body.scopes).toEqual(['read', 'write']);
  });
});

describe('production: ADMIN_API_KEY, no demo key, no secret in the logs', () => {
  it('boots with the administrator key from the environment and never logs it', async () => {
    const adminKey = `adm_${'k'.repeat(40)}`;
    const lines: string[] = [];
    const capture = (...args: unknown[]) => void lines.push(args.map(String).join(' '));
    const logger: LoggerService = { log: capture, error: capture, warn: capture, debug: capture, verbose: capture, fatal: capture };
    const env = { NODE_ENV: 'production', SECRET_KEY: 'a-production-secret-0123456789', ADMIN_API_KEY: adminKey };
    const gw = await startGateway({ env, logger });
    try {
      await request(gw.url).get('/models').set(as(DEMO_API_KEY)).expect(401);
      const created = await request(gw.url).post('/auth/keys').set(as(adminKey)).send({ name: 'first tenant' }).expect(201);
      await request(gw.url).get('/models').set(as(created.body.key)).expect(200);
      const keys = await request(gw.url).get('/auth/keys').set(as(adminKey)).expect(200);
      expect(keys.body.keys.map((k: { name: string }) => k.name)).toEqual(['first tenant', 'ADMIN_API_KEY']);
      expect(lines.join('\n')).toMatch(/administrator key from ADMIN_API_KEY/);
      for (const secret of [adminKey, env.SECRET_KEY, created.body.key]) expect(lines.join('\n')).not.toContain(secret);
    } finally {
      await gw.close();
    }
  });
});

describe('the command-line tools: npm run keys:create, npm run db:migrate', () => {
  const root = resolve(__dirname, '..');
  const run = (script: string, args: string[], env: Record<string, string>) =>
    promisify(execFile)(process.execPath, ['-r', './scripts/register-ts.js', script, ...args], { cwd: root, env: { ...process.env, ...env } });
  const cli = (args: string[], env: Record<string, string>) => run('apps/gateway/src/cli/create-key.ts', args, env);

  it('db:migrate brings an empty PostgreSQL database to the current schema and exits; again, it changes nothing', async () => {
    const pg = await createThrowawayPostgres();
    try {
      const env = { DATABASE_URL: pg.url, REDIS_URL: 'redis://127.0.0.1:6379', NODE_ENV: 'test' };
      const first = await run('apps/gateway/src/cli/migrate.ts', [], env);
      expect(first.stdout).toMatch(/schema is current: 5 migrations applied, the last SweepsPostgres/);
      const again = await run('apps/gateway/src/cli/migrate.ts', [], env);
      expect(again.stdout).toBe(first.stdout);
      await expect(run('apps/gateway/src/cli/migrate.ts', [], { ...env, DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' })).rejects.toMatchObject({ code: 1, stderr: expect.stringMatching(/migration failed/) });
    } finally {
      await pg.drop();
    }
  });

  it('creates the first administrator key of a production database, which then manages keys over the API', async () => {
    const dir = await createTempDir();
    const env = { NODE_ENV: 'production', SECRET_KEY: 'a-production-secret-0123456789', STORAGE_PATH: dir.path, DATABASE_URL: '', REDIS_URL: '' };
    try {
      const { stdout } = await cli(['--admin', '--json'], env);
      const created = JSON.parse(stdout);
      expect(created).toMatchObject({ key: expect.stringMatching(/^nk_/), name: 'admin', scopes: ['admin'] });
      const human = await cli(['--name', 'reporting', '--scopes', 'read', '--tenant-id', created.tenant_id], env);
      expect(human.stdout).toMatch(/Created key .* \(read\) in tenant .*\n\n  nk_/);
      await expect(cli(['--scopes', 'root'], env)).rejects.toMatchObject({ code: 2, stderr: expect.stringMatching(/unknown scope root/) });

      const gw = await startGateway({ storagePath: dir.path, env });
      try {
        const keys = await request(gw.url).get('/auth/keys').set(as(created.key)).expect(200);
        expect(keys.body.keys.map((k: { name: string; tenant_id: string }) => [k.name, k.tenant_id])).toEqual([
          ['reporting', created.tenant_id],
          ['admin', created.tenant_id],
        ]);
        await request(gw.url).post('/auth/keys').set(as(created.key)).send({ name: 'first customer' }).expect(201);
        const audit = await request(gw.url).get('/audit?action=api_key.created').set(as(created.key)).expect(200);
        expect(audit.body.events.map((e: { details: { by?: string } }) => e.details.by ?? 'api')).toEqual(['api', 'cli', 'cli']);
      } finally {
        await gw.close();
      }
    } finally {
      await dir.remove();
    }
  });
});

describe('revocation across two gateways (distributed mode)', () => {
  let cluster: GatewayCluster;
  let one: TestGateway;
  let two: TestGateway;

  beforeAll(async () => {
    cluster = await startGateways(2);
    [one, two] = cluster.gateways;
  });
  afterAll(() => cluster?.close());

  it('a key revoked on one gateway, and its token, are refused by the other on the next request', async () => {
    const admin = await createTenantSession(one, 'operator', ['admin']);
    const created = await createKey(one, admin, { name: 'roaming' });
    const { body: token } = await request(two.url).post('/auth/token').set(as(created.key)).expect(200);
    await request(two.url).get('/models').set(as(created.key)).expect(200);
    await request(two.url).get('/models').set('Authorization', `Bearer ${token.access_token}`).expect(200);
    await request(one.url).delete(`/auth/keys/${created.id}`).set(admin.headers).expect(204);
    await request(two.url).get('/models').set(as(created.key)).expect(401);
    await request(two.url).get('/models').set('Authorization', `Bearer ${token.access_token}`).expect(401);
  });
});
