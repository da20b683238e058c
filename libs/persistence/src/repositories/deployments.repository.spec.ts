import { randomUUID } from 'crypto';
import { openTestDatabase, TEST_DIALECTS, TestDatabase } from '../../../testing/src/database';
import { DeploymentNameTakenError, DeploymentsRepository, type CreateDeploymentInput } from './deployments.repository';
import { TenantsRepository } from './tenants.repository';

describe.each(TEST_DIALECTS)('DeploymentsRepository on %s', (dialect) => {
  let db: TestDatabase;
  let deployments: DeploymentsRepository;
  let tenantId: string;
  let otherTenant: string;

  beforeAll(async () => {
    db = await openTestDatabase(dialect);
    deployments = new DeploymentsRepository(db.dataSource);
    const tenants = new TenantsRepository(db.dataSource);
    tenantId = (await tenants.create('serving')).id;
    otherTenant = (await tenants.create('other')).id;
  });
  afterAll(() => db.close());

  const input = (over: Partial<CreateDeploymentInput> = {}): CreateDeploymentInput => ({
    tenantId,
    name: `d-${randomUUID().slice(0, 8)}`,
    modelId: randomUUID(),
    experimentId: null,
    jobId: randomUUID(),
    backend: 'onnx',
    replicas: 1,
    config: { replicas: 1, memory_limit: '2Gi', cpu_limit: '1000m', port: 8000, health_check_path: '/health' },
    environment: { A: 'b' },
    ...over,
  });
  const serving = { modelKey: 'k/model.onnx', inputShape: [4], outputShape: [3], outputKind: 'softmax' as const };

  it('creates deploying rows with unique names per tenant', async () => {
    const d = await deployments.create(input({ name: 'same' }));
    expect(d).toMatchObject({ status: 'deploying', replicas: 1, modelKey: null, environment: { A: 'b' }, deployedAt: null });
    await expect(deployments.create(input({ name: 'same' }))).rejects.toBeInstanceOf(DeploymentNameTakenError);
    await expect(deployments.create(input({ name: 'same', tenantId: otherTenant }))).resolves.toMatchObject({ name: 'same' });
    expect(await deployments.findForTenant(otherTenant, d.id)).toBeNull();
    expect(await deployments.findForTenant(tenantId, 'not-a-uuid')).toBeNull();
  });

  it('goes deploying → deployed (or paused at 0 replicas) once, and scales only while serving', async () => {
    const d = await deployments.create(input());
    expect(await deployments.scale(tenantId, d.id, 2)).toBeNull();
    expect(await deployments.markDeployed(d.id, serving)).toBe(true);
    expect(await deployments.markDeployed(d.id, serving)).toBe(false);
    expect(await deployments.findForTenant(tenantId, d.id)).toMatchObject({ status: 'deployed', ...serving, deployedAt: expect.any(Date) });
    expect(await deployments.scale(otherTenant, d.id, 2)).toBeNull();
    expect(await deployments.scale(tenantId, d.id, 0)).toMatchObject({ status: 'paused', replicas: 0 });
    expect(await deployments.scale(tenantId, d.id, 3)).toMatchObject({ status: 'deployed', replicas: 3 });
    expect(await deployments.markFailed(d.id, { code: 'x', detail: 'y' })).toBe(false);

    const zero = await deployments.create(input({ replicas: 0 }));
    expect(await deployments.markDeployed(zero.id, serving)).toBe(true);
    expect((await deployments.findByIds([zero.id]))[0]).toMatchObject({ status: 'paused' });

    const failing = await deployments.create(input());
    expect(await deployments.markFailed(failing.id, { code: 'model_unavailable', detail: 'gone' })).toBe(true);
    expect(await deployments.markDeployed(failing.id, serving)).toBe(false);
    expect(await deployments.scale(tenantId, failing.id, 1)).toBeNull();
  });

  it('lists newest first with a status filter, finds serving rows across tenants, and deletes once', async () => {
    const tenant = (await new TenantsRepository(db.dataSource).create('lists')).id;
    const a = await deployments.create(input({ tenantId: tenant }));
    const b = await deployments.create(input({ tenantId: tenant }));
    await deployments.markDeployed(b.id, serving);
    expect((await deployments.list(tenant, { skip: 0, limit: 10 })).items.map((d) => d.id)).toEqual([b.id, a.id]);
    expect(await deployments.list(tenant, { skip: 0, limit: 10, status: 'deployed' })).toMatchObject({ total: 1, items: [{ id: b.id }] });
    expect((await deployments.findServing(1000)).map((d) => d.id)).toContain(b.id);
    expect((await deployments.findServing(1000)).map((d) => d.id)).not.toContain(a.id);
    expect(await deployments.delete(otherTenant, a.id)).toBeNull();
    expect(await deployments.delete(tenant, a.id)).toMatchObject({ id: a.id });
    expect(await deployments.delete(tenant, a.id)).toBeNull();
  });
});
