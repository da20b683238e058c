import { randomUUID } from 'crypto';
import { openTestDatabase, TEST_DIALECTS, TestDatabase } from '../../../testing/src/database';
import { CreateModelInput, ModelsRepository } from './models.repository';
import { TenantsRepository } from './tenants.repository';

const summary = {
  name: 'MyModel',
  input_shape: [null, 28, 28, 1],
  output_shape: [null, 10],
  layers: [{ type: 'Dense', output_shape: [null, 10], params: 7850 }],
  total_params: 7850,
  trainable_params: 7850,
};

describe.each(TEST_DIALECTS)('ModelsRepository on %s', (dialect) => {
  let db: TestDatabase;
  let models: ModelsRepository;
  let tenants: TenantsRepository;
  beforeAll(async () => {
    db = await openTestDatabase(dialect);
    models = new ModelsRepository(db.dataSource);
    tenants = new TenantsRepository(db.dataSource);
  });
  afterAll(() => db.close());

  const input = (tenantId: string, over: Partial<CreateModelInput> = {}): CreateModelInput => ({
    tenantId,
    name: 'MyModel',
    backend: 'tensorflow',
    dsl: 'Model MyModel {\n  Input(shape=[28, 28, 1])\n}',
    summary,
    warnings: [{ line: 1, column: 1, message: 'unused' }],
    artifactKey: `${tenantId}/x/model.py`,
    sizeBytes: 1234,
    contentType: 'text/x-python',
    filename: 'MyModel.py',
    ...over,
  });

  it('creates a model (with a caller-chosen id or a new one) and reads it back', async () => {
    const tenantId = (await tenants.create('m')).id;
    const id = randomUUID();
    const jobId = randomUUID();
    const created = await models.create(input(tenantId, { id, jobId }));
    expect(created.id).toBe(id);
    const found = await models.findForTenant(tenantId, id);
    expect(found).toMatchObject({ ...input(tenantId), id, jobId, summary, sizeBytes: 1234 });
    expect(found!.createdAt).toBeInstanceOf(Date);
    const generated = await models.create(input(tenantId));
    expect(generated.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(generated.jobId).toBeNull();
    expect(await models.findForTenant(tenantId, 'x/../y')).toBeNull();
  });

  it('lists newest first, paged, filtered by backend and exact name', async () => {
    const tenantId = (await tenants.create('list')).id;
    const a = await models.create(input(tenantId, { name: 'A', backend: 'tensorflow' }));
    const b = await models.create(input(tenantId, { name: 'B', backend: 'onnx', contentType: 'application/octet-stream' }));
    const c = await models.create(input(tenantId, { name: 'A', backend: 'pytorch' }));
    const all = await models.list(tenantId, { skip: 0, limit: 100 });
    expect(all.total).toBe(3);
    expect(all.items.map((m) => m.id)).toEqual([c.id, b.id, a.id]);
    expect((await models.list(tenantId, { skip: 2, limit: 5 })).items.map((m) => m.id)).toEqual([a.id]);
    expect(await models.list(tenantId, { skip: 0, limit: 100, backend: 'onnx' })).toMatchObject({ total: 1, items: [{ id: b.id }] });
    expect((await models.list(tenantId, { skip: 0, limit: 100, name: 'A' })).items.map((m) => m.id)).toEqual([c.id, a.id]);
    expect((await models.list(tenantId, { skip: 0, limit: 100, name: 'A', backend: 'tensorflow' })).items.map((m) => m.id)).toEqual([a.id]);
    expect(await models.list(tenantId, { skip: 0, limit: 100, name: 'a' })).toEqual({ items: [], total: 0 });
  });

  it('keeps tenants apart', async () => {
    const a = (await tenants.create('a')).id;
    const b = (await tenants.create('b')).id;
    const model = await models.create(input(a));
    expect(await models.findForTenant(b, model.id)).toBeNull();
    expect(await models.list(b, { skip: 0, limit: 100 })).toEqual({ items: [], total: 0 });
    expect(await models.delete(b, model.id)).toBeNull();
    expect(await models.findForTenant(a, model.id)).not.toBeNull();
  });

  it('deletes once and returns the deleted row', async () => {
    const tenantId = (await tenants.create('del')).id;
    const model = await models.create(input(tenantId));
    const [first, second] = await Promise.all([models.delete(tenantId, model.id), models.delete(tenantId, model.id)]);
    expect([first, second].filter(Boolean)).toHaveLength(1);
    expect((first ?? second)!.artifactKey).toBe(model.artifactKey);
    expect(await models.findForTenant(tenantId, model.id)).toBeNull();
    expect(await models.delete(tenantId, model.id)).toBeNull();
  });
});
