import { randomUUID } from 'crypto';
import { openTestDatabase, TEST_DIALECTS, TestDatabase } from '../../../testing/src/database';
import { DatasetNameTakenError, DatasetsRepository } from './datasets.repository';
import { ExperimentsRepository, type CreateExperimentInput } from './experiments.repository';
import { TenantsRepository } from './tenants.repository';
import { WebhookDeliveriesRepository } from './webhook-deliveries.repository';

describe.each(TEST_DIALECTS)('training repositories on %s', (dialect) => {
  let db: TestDatabase;
  let experiments: ExperimentsRepository;
  let datasets: DatasetsRepository;
  let deliveries: WebhookDeliveriesRepository;
  let tenants: TenantsRepository;
  let tenantId: string;

  beforeAll(async () => {
    db = await openTestDatabase(dialect);
    experiments = new ExperimentsRepository(db.dataSource);
    datasets = new DatasetsRepository(db.dataSource);
    deliveries = new WebhookDeliveriesRepository(db.dataSource);
    tenants = new TenantsRepository(db.dataSource);
    tenantId = (await tenants.create('training')).id;
  });
  afterAll(() => db.close());

  const experiment = (over: Partial<CreateExperimentInput> = {}): CreateExperimentInput => ({
    tenantId,
    name: 'sweep',
    jobId: randomUUID(),
    dsl: 'Model M {}',
    backend: 'tensorflow',
    engine: 'tfjs',
    dataset: 'MNIST',
    hyperparameters: { learning_rate: 0.001 },
    plan: { epochs: 2 },
    ...over,
  });

  it('stores an experiment and its JSON fields, finds it by job, and keeps tenants apart', async () => {
    const e = await experiments.create(experiment());
    expect(e).toMatchObject({ status: 'pending', history: [], artifacts: [], finalMetrics: null, modelId: null });
    const history = [{ epoch: 1, loss: 0.5, accuracy: 0.8, epoch_seconds: 1, samples_per_second: 10, learning_rate: 0.001 }];
    await experiments.update(e.id, { status: 'running', history, finalMetrics: { loss: 0.5, accuracy: 0.8 }, checkpointKey: 'k', checkpointEpoch: 1 });
    expect(await experiments.findByJob(e.jobId)).toMatchObject({ id: e.id, status: 'running', history, finalMetrics: { loss: 0.5, accuracy: 0.8 }, checkpointEpoch: 1 });
    const other = (await tenants.create('other')).id;
    expect(await experiments.findForTenant(other, e.id)).toBeNull();
    expect(await experiments.findManyForTenant(other, [e.id])).toEqual([]);
    expect(await experiments.findForTenant(tenantId, 'not-a-uuid')).toBeNull();
  });

  it('lists newest first, filters by name and status, and sorts by a final metric with the unmeasured last', async () => {
    const group = `group-${randomUUID().slice(0, 6)}`;
    const made = [];
    for (const [acc, status] of [[0.7, 'completed'], [null, 'failed'], [0.9, 'completed'], [0.8, 'completed']] as const) {
      const e = await experiments.create(experiment({ name: group }));
      await experiments.update(e.id, { status, finalMetrics: acc === null ? null : { val_accuracy: acc } });
      made.push(e.id);
    }
    const newest = await experiments.list(tenantId, { skip: 0, limit: 10, name: group });
    expect(newest.items.map((e) => e.id)).toEqual([...made].reverse());
    expect(newest.total).toBe(4);
    const best = await experiments.list(tenantId, { skip: 0, limit: 10, name: group, sortBy: 'val_accuracy', order: 'desc' });
    expect(best.items.map((e) => e.finalMetrics?.val_accuracy ?? null)).toEqual([0.9, 0.8, 0.7, null]);
    const worst = await experiments.list(tenantId, { skip: 0, limit: 2, name: group, sortBy: 'val_accuracy', order: 'asc' });
    expect(worst.items.map((e) => e.finalMetrics?.val_accuracy)).toEqual([0.7, 0.8]);
    expect(worst.total).toBe(4);
    expect((await experiments.list(tenantId, { skip: 0, limit: 10, name: group, status: 'failed' })).items.map((e) => e.id)).toEqual([made[1]]);
    await expect(experiments.list(tenantId, { skip: 0, limit: 10, sortBy: "x'); DROP TABLE experiments; --" })).rejects.toThrow(RangeError);
  });

  it('refuses a second dataset of the same name per tenant, also when two uploads race', async () => {
    const row = { tenantId, name: 'iris2', format: 'csv' as const, task: 'classification' as const, sampleShape: [4], labelShape: [], numClasses: 3, classNames: null, trainSamples: 120, testSamples: 30, sizeBytes: 10, rawKey: 'r', dataKey: 'd' };
    const first = await datasets.create(row);
    await expect(datasets.create(row)).rejects.toBeInstanceOf(DatasetNameTakenError);
    const raced = await Promise.allSettled([datasets.create({ ...row, name: 'race' }), datasets.create({ ...row, name: 'race' })]);
    expect(raced.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
    expect(await datasets.findByIdOrName(tenantId, 'iris2')).toMatchObject({ id: first.id, sampleShape: [4] });
    expect(await datasets.findByIdOrName(tenantId, first.id)).toMatchObject({ name: 'iris2' });
    expect(await datasets.findByIdOrName((await tenants.create('x')).id, 'iris2')).toBeNull();
    expect(await datasets.delete(tenantId, first.id)).toMatchObject({ id: first.id });
    expect(await datasets.delete(tenantId, first.id)).toBeNull();
  });

  it('records each webhook attempt once, even when two workers try the same attempt', async () => {
    const d = await deliveries.create({ tenantId, jobId: randomUUID(), event: 'completed', url: 'http://x/hook', payload: '{}', maxAttempts: 5 });
    expect(d).toMatchObject({ status: 'pending', attempts: 0, attemptLog: [] });
    const attempt = { attempt: 1, at: new Date().toISOString(), statusCode: 500, error: 'the receiver answered 500', durationMs: 3 };
    const retryAt = new Date(Date.now() + 1000);
    const both = await Promise.all([deliveries.recordAttempt(d.id, attempt, { result: 'retry', retryAt }), deliveries.recordAttempt(d.id, attempt, { result: 'retry', retryAt })]);
    expect(both.filter(Boolean)).toHaveLength(1);
    expect(await deliveries.recordAttempt(d.id, { ...attempt, attempt: 2, statusCode: 200, error: null }, { result: 'delivered' })).toBe(true);
    const after = (await deliveries.findById(d.id))!;
    expect(after).toMatchObject({ status: 'delivered', attempts: 2, lastStatusCode: 200, nextAttemptAt: null });
    expect(after.attemptLog.map((a) => a.statusCode)).toEqual([500, 200]);
    expect(after.deliveredAt).toBeInstanceOf(Date);
    expect(await deliveries.recordAttempt(d.id, { ...attempt, attempt: 3 }, { result: 'failed' })).toBe(false);
  });

  it('finds overdue pending deliveries only', async () => {
    const d = await deliveries.create({ tenantId, jobId: randomUUID(), event: 'started', url: 'http://x/hook', payload: '{}', maxAttempts: 5 });
    expect((await deliveries.findOverdue(new Date(Date.now() - 60_000))).map((x) => x.id)).not.toContain(d.id);
    expect((await deliveries.findOverdue(new Date(Date.now() + 60_000))).map((x) => x.id)).toContain(d.id);
  });

  it('creates a tenant’s webhook secret once and rotates it', async () => {
    const t = (await tenants.create('hooks')).id;
    const [s1, s2] = await Promise.all([tenants.webhookSecret(t), tenants.webhookSecret(t)]);
    expect(s1).toMatch(/^whsec_[A-Za-z0-9_-]{43}$/);
    expect(s2).toBe(s1);
    const rotated = await tenants.rotateWebhookSecret(t);
    expect(rotated).not.toBe(s1);
    expect(await tenants.webhookSecret(t)).toBe(rotated);
  });
});
