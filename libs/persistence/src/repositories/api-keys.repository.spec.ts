import { openTestDatabase, TEST_DIALECTS, TestDatabase } from '../../../testing/src/database';
import { ApiKeysRepository, DEMO_TENANT_NAME, hashApiKey, TOUCH_INTERVAL_MS } from './api-keys.repository';
import { TenantsRepository } from './tenants.repository';

describe.each(TEST_DIALECTS)('TenantsRepository and ApiKeysRepository on %s', (dialect) => {
  let db: TestDatabase;
  let tenants: TenantsRepository;
  let keys: ApiKeysRepository;
  beforeAll(async () => {
    db = await openTestDatabase(dialect);
    tenants = new TenantsRepository(db.dataSource);
    keys = new ApiKeysRepository(db.dataSource);
  });
  afterAll(() => db.close());

  it('creates tenants with UUIDs and finds them', async () => {
    const tenant = await tenants.create('acme');
    expect(tenant.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(tenant.createdAt).toBeInstanceOf(Date);
    const found = await tenants.findById(tenant.id);
    expect(found).toEqual(tenant);
    expect(await tenants.findById('not-a-uuid')).toBeNull();
  });

  it('issues a random key, stores only its hash and finds it by hash', async () => {
    const tenant = await tenants.create('keys');
    const { entity, plaintextKey } = await keys.create(tenant.id, 'ci', ['models:read']);
    expect(plaintextKey).toMatch(/^nk_[A-Za-z0-9_-]{43}$/);
    expect(entity).toMatchObject({ tenantId: tenant.id, name: 'ci', prefix: plaintextKey.slice(0, 8), scopes: ['models:read'], lastUsedAt: null, revokedAt: null });
    expect(entity.keyHash).toBe(hashApiKey(plaintextKey));
    expect(entity.keyHash).toMatch(/^[0-9a-f]{64}$/);
    const rows = await db.dataSource.query(`SELECT * FROM api_keys WHERE id = ${dialect === 'postgres' ? '$1' : '?'}`, [entity.id]);
    expect(JSON.stringify(rows)).not.toContain(plaintextKey);
    const found = await keys.findActiveByHash(hashApiKey(plaintextKey));
    expect(found).toMatchObject({ id: entity.id, tenantId: tenant.id, scopes: ['models:read'] });
    expect(await keys.findActiveByHash(hashApiKey(`${plaintextKey}x`))).toBeNull();
    const second = await keys.create(tenant.id, 'other');
    expect(second.plaintextKey).not.toBe(plaintextKey);
    expect(second.entity.scopes).toEqual(['read', 'write']);
  });

  it('stores a chosen plaintext with createWithKey; the hash is unique', async () => {
    const tenant = await tenants.create('chosen');
    const entity = await keys.createWithKey(tenant.id, 'fixed', 'chosen_key_0001');
    expect(await keys.findActiveByHash(hashApiKey('chosen_key_0001'))).toMatchObject({ id: entity.id, prefix: 'chosen_k' });
    await expect(keys.createWithKey(tenant.id, 'again', 'chosen_key_0001')).rejects.toThrow();
  });

  it('revokes only the owner tenant keys, and a revoked key is not found', async () => {
    const a = await tenants.create('a');
    const b = await tenants.create('b');
    const { entity, plaintextKey } = await keys.create(a.id, 'to revoke');
    expect(await keys.revoke(b.id, entity.id)).toBeNull();
    expect(await keys.findActiveByHash(hashApiKey(plaintextKey))).not.toBeNull();
    const identity = { id: entity.id, tenantId: a.id, scopes: ['read', 'write'] };
    expect(await keys.findActiveIdentityByHash(hashApiKey(plaintextKey))).toEqual(identity);
    expect(await keys.findActiveIdentityById(entity.id)).toEqual(identity);
    expect(await keys.revoke(a.id, entity.id)).toMatchObject({ id: entity.id, revokedAt: expect.any(Date) });
    expect(await keys.revoke(a.id, entity.id)).toBeNull();
    expect(await keys.findActiveByHash(hashApiKey(plaintextKey))).toBeNull();
    expect(await keys.findActiveIdentityByHash(hashApiKey(plaintextKey))).toBeNull();
    expect(await keys.findActiveIdentityById(entity.id)).toBeNull();
    expect(await keys.listForTenant(b.id)).toEqual([]);
    const listed = await keys.listForTenant(a.id);
    expect(listed).toHaveLength(1);
    expect(listed[0].revokedAt).toBeInstanceOf(Date);
  });

  it('touch writes last_used_at at most once a minute, also across instances', async () => {
    const tenant = await tenants.create('touch');
    const { entity, plaintextKey } = await keys.create(tenant.id, 'touched');
    const t0 = new Date('2030-01-01T00:00:00.000Z');
    expect(await keys.touch(entity.id, t0)).toBe(true);
    expect(await keys.touch(entity.id, new Date(t0.getTime() + 30_000))).toBe(false);
    const otherProcess = new ApiKeysRepository(db.dataSource);
    expect(await otherProcess.touch(entity.id, new Date(t0.getTime() + 30_000))).toBe(false);
    expect((await keys.findActiveByHash(hashApiKey(plaintextKey)))!.lastUsedAt).toEqual(t0);
    const later = new Date(t0.getTime() + TOUCH_INTERVAL_MS + 1);
    expect(await keys.touch(entity.id, later)).toBe(true);
    expect((await keys.findActiveByHash(hashApiKey(plaintextKey)))!.lastUsedAt).toEqual(later);
    // The other instance checked at t0+30s: it skips the database until a minute after that check.
    expect(await otherProcess.touch(entity.id, new Date(later.getTime() + 1000))).toBe(false);
    expect(await otherProcess.touch(entity.id, new Date(later.getTime() + TOUCH_INTERVAL_MS))).toBe(true);
  });

  it('an administrator revokes any tenant key, and lists keys of one tenant or all', async () => {
    const a = await tenants.create('admin-a');
    const b = await tenants.create('admin-b');
    const ka = await keys.create(a.id, 'ka');
    const kb = await keys.create(b.id, 'kb', ['read']);
    expect((await keys.list(b.id, { skip: 0, limit: 10 })).items.map((k) => k.id)).toEqual([kb.entity.id]);
    const all = await keys.list(null, { skip: 0, limit: 1000 });
    expect(all.items.map((k) => k.id)).toEqual(expect.arrayContaining([ka.entity.id, kb.entity.id]));
    expect(all.items[0].id).toBe(kb.entity.id);
    expect(await keys.revoke(null, ka.entity.id)).toMatchObject({ id: ka.entity.id, tenantId: a.id });
  });

  it('ensureKey keeps an operator key scoped as configured', async () => {
    const plaintext = `admin_${dialect}_0123456789abcdef`;
    const first = await keys.ensureKey(plaintext, { tenantName: 'admin', keyName: 'admin key', scopes: ['admin'] });
    expect(first).toMatchObject({ scopes: ['admin'], name: 'admin key' });
    const again = await keys.ensureKey(plaintext, { tenantName: 'admin', keyName: 'admin key', scopes: ['read'] });
    expect(again).toMatchObject({ id: first.id, tenantId: first.tenantId, scopes: ['read'] });
  });

  it('ensureDemoKey creates the demo tenant and key once, even when called concurrently', async () => {
    const plaintext = `demo_${dialect}_12345`;
    const scopes = ['admin'];
    const [first, second] = await Promise.all([keys.ensureDemoKey(plaintext, scopes), new ApiKeysRepository(await db.openAnother()).ensureDemoKey(plaintext, scopes)]);
    expect(second.id).toBe(first.id);
    expect(first.keyHash).toBe(hashApiKey(plaintext));
    const tenant = await tenants.findById(first.tenantId);
    expect(tenant).toMatchObject({ name: DEMO_TENANT_NAME });
    expect(await keys.ensureDemoKey(plaintext, scopes)).toMatchObject({ id: first.id, tenantId: first.tenantId });
    expect(await keys.listForTenant(first.tenantId)).toHaveLength(1);
    const [{ n }] = await db.dataSource.query(`SELECT COUNT(*) AS n FROM tenants WHERE id = '${first.tenantId}'`);
    expect(Number(n)).toBe(1);
    expect(await keys.findActiveByHash(hashApiKey(plaintext))).toMatchObject({ id: first.id });
  });
});
