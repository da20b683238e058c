import { CompileRequest } from '@app/contracts';
import { openTestDatabase, TEST_DIALECTS, TestDatabase } from '../../../testing/src/database';
import { JobsRepository } from './jobs.repository';
import { TenantsRepository } from './tenants.repository';

const request: CompileRequest = { dsl_code: 'Model M {\n  Input(shape=[4])\n  Dense(units=2)\n}', backend: 'pytorch', dataset: 'MNIST' };

describe.each(TEST_DIALECTS)('JobsRepository on %s', (dialect) => {
  let db: TestDatabase;
  let jobs: JobsRepository;
  let tenants: TenantsRepository;
  beforeAll(async () => {
    db = await openTestDatabase(dialect);
    jobs = new JobsRepository(db.dataSource);
    tenants = new TenantsRepository(db.dataSource);
  });
  afterAll(() => db.close());

  const tenant = async () => (await tenants.create(`t-${Math.random()}`)).id;

  it('creates a pending job and reads it back with its json input', async () => {
    const tenantId = await tenant();
    const job = await jobs.create({ tenantId, type: 'compile', input: request, webhookUrl: 'https://example.com/hook', totalEpochs: 5 });
    expect(job).toMatchObject({ tenantId, type: 'compile', status: 'pending', progress: 0, attempts: 0, totalEpochs: 5, webhookUrl: 'https://example.com/hook' });
    expect(job.createdAt).toEqual(job.updatedAt);
    const found = await jobs.findForTenant(tenantId, job.id);
    expect(found).toMatchObject({ id: job.id, input: request, result: null, error: null, metrics: null, startedAt: null, completedAt: null, currentEpoch: null });
    expect(found!.createdAt.getTime()).toBe(job.createdAt.getTime());
  });

  it('never shows a job to another tenant', async () => {
    const a = await tenant();
    const b = await tenant();
    const job = await jobs.create({ tenantId: a, type: 'compile', input: request });
    expect(await jobs.findForTenant(b, job.id)).toBeNull();
    expect(await jobs.list(b, { skip: 0, limit: 10 })).toEqual({ items: [], total: 0 });
    expect(await jobs.markCancelled(b, job.id)).toBe(false);
    expect((await jobs.findForTenant(a, job.id))!.status).toBe('pending');
    expect(await jobs.findForTenant(a, 'nope')).toBeNull();
  });

  it('lists newest first with paging and status/type filters', async () => {
    const tenantId = await tenant();
    const created = [];
    for (const type of ['compile', 'train', 'compile', 'deploy'] as const) created.push(await jobs.create({ tenantId, type, input: {} }));
    await jobs.markRunning(created[2].id);
    const all = await jobs.list(tenantId, { skip: 0, limit: 100 });
    expect(all.total).toBe(4);
    expect(all.items.map((j) => j.id)).toEqual(created.map((j) => j.id).reverse());
    const page = await jobs.list(tenantId, { skip: 1, limit: 2 });
    expect(page.total).toBe(4);
    expect(page.items.map((j) => j.id)).toEqual([created[2].id, created[1].id]);
    const compiles = await jobs.list(tenantId, { skip: 0, limit: 100, type: 'compile' });
    expect(compiles.items.map((j) => j.id)).toEqual([created[2].id, created[0].id]);
    const running = await jobs.list(tenantId, { skip: 0, limit: 100, status: 'running' });
    expect(running).toMatchObject({ total: 1, items: [{ id: created[2].id, status: 'running' }] });
    const pendingCompiles = await jobs.list(tenantId, { skip: 0, limit: 100, status: 'pending', type: 'compile' });
    expect(pendingCompiles.items.map((j) => j.id)).toEqual([created[0].id]);
  });

  it('runs the happy path pending → running → progress → completed, bumping updated_at each time', async () => {
    const tenantId = await tenant();
    const job = await jobs.create({ tenantId, type: 'train', input: {}, totalEpochs: 3 });
    const stamps = [job.updatedAt.getTime()];
    const read = async () => (await jobs.findForTenant(tenantId, job.id))!;

    expect(await jobs.markRunning(job.id)).toBe(true);
    let row = await read();
    expect(row).toMatchObject({ status: 'running', attempts: 1 });
    expect(row.startedAt).toBeInstanceOf(Date);
    stamps.push(row.updatedAt.getTime());

    expect(await jobs.markProgress(job.id, { progress: 40.4, currentEpoch: 2, metrics: { loss: 0.5, accuracy: 0.8 } })).toBe(true);
    row = await read();
    expect(row).toMatchObject({ progress: 40, currentEpoch: 2, metrics: { loss: 0.5, accuracy: 0.8 } });
    stamps.push(row.updatedAt.getTime());
    expect(await jobs.markProgress(job.id, { progress: 250 })).toBe(true);
    expect((await read()).progress).toBe(100);

    const modelId = '8f0c7a52-0d7e-4d4e-9d0e-0a4b8b0f6a11';
    expect(await jobs.markCompleted(job.id, { result: { model_id: modelId, nested: [1, { a: null }] }, modelId })).toBe(true);
    row = await read();
    expect(row).toMatchObject({ status: 'completed', progress: 100, modelId, result: { model_id: modelId, nested: [1, { a: null }] }, metrics: { loss: 0.5 } });
    expect(row.completedAt).toBeInstanceOf(Date);
    stamps.push(row.updatedAt.getTime());
    expect([...stamps].sort((x, y) => x - y)).toEqual(stamps);
    expect(new Set(stamps).size).toBe(stamps.length);

    expect(await jobs.markRunning(job.id)).toBe(false);
    expect(await jobs.markProgress(job.id, { progress: 10 })).toBe(false);
    expect(await jobs.markFailed(job.id, { code: 'x', detail: 'y' })).toBe(false);
    expect(await jobs.markCancelled(tenantId, job.id)).toBe(false);
    expect(await jobs.requeue(job.id)).toBe(false);
    expect((await read()).status).toBe('completed');
  });

  it('fails a job with a structured error, from pending or running', async () => {
    const tenantId = await tenant();
    const pending = await jobs.create({ tenantId, type: 'compile', input: request });
    expect(await jobs.markFailed(pending.id, { code: 'job_lost', detail: 'gone' })).toBe(true);
    const running = await jobs.create({ tenantId, type: 'compile', input: request });
    await jobs.markRunning(running.id);
    const error = { code: 'dsl_error', detail: 'bad layer', errors: [{ line: 2, column: 3, message: 'unknown layer', hint: 'Dense?' }] };
    expect(await jobs.markFailed(running.id, error)).toBe(true);
    expect(await jobs.findForTenant(tenantId, running.id)).toMatchObject({ status: 'failed', error, result: null });
    expect((await jobs.findForTenant(tenantId, pending.id))!.completedAt).toBeInstanceOf(Date);
    expect(await jobs.markCompleted(running.id, { result: {} })).toBe(false);
  });

  it('cancels pending and running jobs of the owner only, and a cancelled job cannot complete', async () => {
    const tenantId = await tenant();
    const job = await jobs.create({ tenantId, type: 'train', input: {} });
    await jobs.markRunning(job.id);
    expect(await jobs.markCancelled(tenantId, job.id)).toBe(true);
    expect(await jobs.markCompleted(job.id, { result: {} })).toBe(false);
    expect(await jobs.markProgress(job.id, { progress: 50 })).toBe(false);
    expect(await jobs.findForTenant(tenantId, job.id)).toMatchObject({ status: 'cancelled', result: null });
    expect(await jobs.markCancelled(tenantId, job.id)).toBe(false);
    const pending = await jobs.create({ tenantId, type: 'train', input: {} });
    expect(await jobs.markCancelled(tenantId, pending.id)).toBe(true);
    expect(await jobs.markRunning(pending.id)).toBe(false);
  });

  it('requeues a running job to pending and counts the next attempt', async () => {
    const tenantId = await tenant();
    const job = await jobs.create({ tenantId, type: 'train', input: {} });
    expect(await jobs.requeue(job.id)).toBe(false);
    await jobs.markRunning(job.id);
    await jobs.markProgress(job.id, { progress: 30, currentEpoch: 1 });
    expect(await jobs.requeue(job.id)).toBe(true);
    expect(await jobs.findForTenant(tenantId, job.id)).toMatchObject({ status: 'pending', progress: 0, currentEpoch: null, startedAt: null, attempts: 1 });
    expect(await jobs.markRunning(job.id)).toBe(true);
    expect((await jobs.findForTenant(tenantId, job.id))!.attempts).toBe(2);
  });

  it('hands a running job back to pending without using its attempt, keeping its progress', async () => {
    const tenantId = await tenant();
    const job = await jobs.create({ tenantId, type: 'train', input: {} });
    expect(await jobs.handBack(job.id)).toBe(false);
    await jobs.markRunning(job.id);
    await jobs.markProgress(job.id, { progress: 30, currentEpoch: 2 });
    expect(await jobs.handBack(job.id)).toBe(true);
    expect(await jobs.findForTenant(tenantId, job.id)).toMatchObject({ status: 'pending', progress: 30, currentEpoch: 2, startedAt: null, attempts: 0 });
    expect(await jobs.handBack(job.id)).toBe(false);
    expect(await jobs.markRunning(job.id)).toBe(true);
    expect((await jobs.findForTenant(tenantId, job.id))!.attempts).toBe(1);
  });

  it('lets exactly one of two concurrent markRunning calls win', async () => {
    const tenantId = await tenant();
    const other = await db.openAnother();
    const otherJobs = new JobsRepository(other);
    for (let i = 0; i < 5; i++) {
      const job = await jobs.create({ tenantId, type: 'compile', input: request });
      const results = await Promise.all([jobs.markRunning(job.id), otherJobs.markRunning(job.id), jobs.markRunning(job.id)]);
      expect(results.filter(Boolean)).toHaveLength(1);
      expect((await jobs.findForTenant(tenantId, job.id))!.attempts).toBe(1);
    }
  });

  it('finds stale pending and running jobs by updated_at, across tenants', async () => {
    const [a, b] = [await tenant(), await tenant()];
    const old = new Date(Date.now() - 3_600_000);
    const setUpdated = (id: string, at: Date) =>
      db.dataSource.createQueryBuilder().update('JobEntity').set({ updatedAt: at }).where('id = :id', { id }).execute();

    const stalePending = await jobs.create({ tenantId: a, type: 'compile', input: {} });
    const freshPending = await jobs.create({ tenantId: a, type: 'compile', input: {} });
    const staleRunning = await jobs.create({ tenantId: b, type: 'train', input: {} });
    const freshRunning = await jobs.create({ tenantId: b, type: 'train', input: {} });
    const oldFinished = await jobs.create({ tenantId: b, type: 'train', input: {} });
    await jobs.markRunning(staleRunning.id);
    await jobs.markRunning(freshRunning.id);
    await jobs.markFailed(oldFinished.id, { code: 'x', detail: 'y' });
    await setUpdated(stalePending.id, new Date(old.getTime() + 1));
    await setUpdated(staleRunning.id, old);
    await setUpdated(oldFinished.id, old);

    const ours = new Set([stalePending, freshPending, staleRunning, freshRunning, oldFinished].map((j) => j.id));
    const now = Date.now();
    const stale = (await jobs.findStale({ pendingOlderThan: new Date(now - 60_000), runningOlderThan: new Date(now - 60_000), limit: 1000 })).filter((j) => ours.has(j.id));
    expect(stale.map((j) => [j.id, j.status])).toEqual([
      [staleRunning.id, 'running'],
      [stalePending.id, 'pending'],
    ]);
    expect(stale[0]).toMatchObject({ tenantId: b, type: 'train', attempts: 1 });

    // A pending bound in the future catches every pending job, the running bound still only the stale one.
    const wide = (await jobs.findStale({ pendingOlderThan: new Date(now + 60_000), runningOlderThan: new Date(now - 60_000), limit: 1000 })).filter((j) => ours.has(j.id));
    expect(wide.map((j) => j.id).sort()).toEqual([stalePending.id, freshPending.id, staleRunning.id].sort());

    // Progress is a sign of life: the running job is no longer stale.
    await jobs.markProgress(staleRunning.id, { progress: 10 });
    const after = (await jobs.findStale({ pendingOlderThan: new Date(now - 60_000), runningOlderThan: new Date(Date.now() - 60_000) })).filter((j) => ours.has(j.id));
    expect(after.map((j) => j.id)).toEqual([stalePending.id]);
  });
});
