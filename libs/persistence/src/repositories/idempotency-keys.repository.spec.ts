import { randomUUID } from 'crypto';
import { openTestDatabase, TEST_DIALECTS, TestDatabase } from '../../../testing/src/database';
import { type IdempotencyClaimInput, IdempotencyKeysRepository } from './idempotency-keys.repository';
import { TenantsRepository } from './tenants.repository';

describe.each(TEST_DIALECTS)('IdempotencyKeysRepository on %s', (dialect) => {
  let db: TestDatabase;
  let keys: IdempotencyKeysRepository;
  let tenantId: string;
  let otherTenant: string;

  beforeAll(async () => {
    db = await openTestDatabase(dialect);
    keys = new IdempotencyKeysRepository(db.dataSource);
    const tenants = new TenantsRepository(db.dataSource);
    tenantId = (await tenants.create('idempotent')).id;
    otherTenant = (await tenants.create('other')).id;
  });
  afterAll(() => db.close());

  const input = (over: Partial<IdempotencyClaimInput> = {}): IdempotencyClaimInput => ({
    tenantId,
    key: `k-${randomUUID()}`,
    route: 'POST /jobs/train',
    requestHash: 'a'.repeat(64),
    lockSeconds: 60,
    ttlSeconds: 3600,
    ...over,
  });
  const claimedId = async (claim: Promise<Awaited<ReturnType<IdempotencyKeysRepository['claim']>>>): Promise<string> => {
    const c = await claim;
    if (c.outcome !== 'claimed') throw new Error(`expected a claim, got the row ${JSON.stringify(c.row)}`);
    return c.id;
  };

  it('claims a key once per tenant, then shows the pending row, then the completed answer', async () => {
    const req = input();
    const id = await claimedId(keys.claim(req));
    expect(await keys.claim({ ...req, requestHash: 'b'.repeat(64) })).toEqual({ outcome: 'existing', row: expect.objectContaining({ id, state: 'pending', requestHash: 'a'.repeat(64), responseBody: null }) });
    await claimedId(keys.claim({ ...req, tenantId: otherTenant }));

    const body = { job_id: randomUUID(), nested: { list: [1, 'two', null] } };
    expect(await keys.complete(id, { status: 202, body }, 3600)).toBe(true);
    expect(await keys.complete(id, { status: 202, body }, 3600)).toBe(false);
    expect(await keys.release(id)).toBe(false);
    const again = await keys.claim(req);
    expect(again).toEqual({ outcome: 'existing', row: expect.objectContaining({ id, state: 'completed', responseStatus: 202, responseBody: body, route: 'POST /jobs/train' }) });
  });

  it('releases a pending claim so the key can be claimed afresh', async () => {
    const req = input();
    const id = await claimedId(keys.claim(req));
    expect(await keys.release(id)).toBe(true);
    expect(await keys.find(tenantId, req.key)).toBeNull();
    const next = await claimedId(keys.claim(req));
    expect(next).not.toBe(id);
  });

  it('takes over an abandoned pending claim, and the old claimant can no longer complete or release it', async () => {
    const start = new Date();
    const req = input({ lockSeconds: 30 });
    const first = await claimedId(keys.claim({ ...req, now: start }));
    expect(await keys.claim({ ...req, now: new Date(start.getTime() + 29_000) })).toMatchObject({ outcome: 'existing', row: { id: first } });
    const second = await claimedId(keys.claim({ ...req, requestHash: 'c'.repeat(64), now: new Date(start.getTime() + 31_000) }));
    expect(second).not.toBe(first);
    expect(await keys.complete(first, { status: 202, body: {} }, 3600)).toBe(false);
    expect(await keys.release(first)).toBe(false);
    expect(await keys.find(tenantId, req.key)).toMatchObject({ id: second, state: 'pending', requestHash: 'c'.repeat(64) });
  });

  it('ignores an expired completed row: the key is claimed again', async () => {
    const start = new Date();
    const req = input({ ttlSeconds: 60 });
    const first = await claimedId(keys.claim({ ...req, now: start }));
    expect(await keys.complete(first, { status: 201, body: { a: 1 } }, 60, start)).toBe(true);
    expect(await keys.claim({ ...req, now: new Date(start.getTime() + 59_000) })).toMatchObject({ outcome: 'existing', row: { state: 'completed' } });
    const second = await claimedId(keys.claim({ ...req, now: new Date(start.getTime() + 61_000) }));
    expect(await keys.find(tenantId, req.key)).toMatchObject({ id: second, state: 'pending', responseStatus: null, responseBody: null });
  });

  it('lets exactly one of many concurrent claims win, also from another connection', async () => {
    const other = new IdempotencyKeysRepository(await db.openAnother());
    const req = input();
    const claims = await Promise.all(Array.from({ length: 8 }, (_, i) => (i % 2 ? other : keys).claim(req)));
    const won = claims.filter((c) => c.outcome === 'claimed');
    expect(won).toHaveLength(1);
    const winner = (won[0] as { id: string }).id;
    expect(claims.filter((c) => c.outcome === 'existing').map((c) => (c as { row: { id: string } }).row.id)).toEqual(Array(7).fill(winner));
  });

  it('prunes expired rows only', async () => {
    const start = new Date();
    const old = input({ ttlSeconds: 1 });
    const live = input({ ttlSeconds: 3600 });
    await keys.claim({ ...old, now: new Date(start.getTime() - 5_000) });
    await keys.claim({ ...live, now: start });
    expect(await keys.pruneExpired(start)).toBeGreaterThanOrEqual(1);
    expect(await keys.find(tenantId, old.key)).toBeNull();
    expect(await keys.find(tenantId, live.key)).not.toBeNull();
  });
});
