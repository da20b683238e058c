import { loadConfig } from '@app/config';
import { compile } from '@app/dsl';
import { DeploymentsRepository, TenantsRepository, type DeploymentEntity } from '@app/persistence';
import { LocalArtifactStore } from '@app/storage';
import { join } from 'path';
import { openTestDatabase, type TestDatabase } from '../../../../libs/testing/src/database';
import { DeploymentStats } from './deployment-stats';
import { ServingService } from './serving.service';

const SOURCE = 'network Tiny { input: (4,) layers: Dense(8, "relu") Output(3, "softmax") }';

describe('ServingService (SQLite, real ONNX Runtime pools)', () => {
  let db: TestDatabase;
  let repo: DeploymentsRepository;
  let store: LocalArtifactStore;
  let serving: ServingService;
  let tenantId: string;

  beforeAll(async () => {
    db = await openTestDatabase('sqlite');
    repo = new DeploymentsRepository(db.dataSource);
    store = new LocalArtifactStore(join(db.config.storage.root, 'deployments'));
    tenantId = (await new TenantsRepository(db.dataSource).create('serving')).id;
    // A long sync interval: these tests drive every change themselves.
    const config = loadConfig({ NODE_ENV: 'test', STORAGE_PATH: db.config.storage.root, SERVING_MAX_MODELS: '2', SERVING_SYNC_INTERVAL_MS: '60000' });
    serving = new ServingService(config, repo, store, new DeploymentStats(null));
  });

  afterAll(async () => {
    await serving.onApplicationShutdown();
    await db.close();
  });

  async function deployed(replicas = 1): Promise<DeploymentEntity> {
    const row = await repo.create({
      tenantId,
      name: `d-${Math.random().toString(36).slice(2, 10)}`,
      modelId: '00000000-0000-4000-8000-000000000001',
      experimentId: null,
      jobId: '00000000-0000-4000-8000-000000000002',
      backend: 'onnx',
      replicas,
      config: { replicas, memory_limit: '1Gi', cpu_limit: '1', port: 8000, health_check_path: '/health' },
      environment: {},
    });
    const key = `${tenantId}/${row.id}/model.onnx`;
    await store.put(key, Buffer.from(compile(SOURCE, { backend: 'onnx', seed: 3 }).onnx!));
    await repo.markDeployed(row.id, { modelKey: key, inputShape: [4], outputShape: [3], outputKind: 'softmax' });
    return (await repo.findByIds([row.id]))[0];
  }

  it('loads, resizes and unloads with the row, and ignores a row older than the one it applied', async () => {
    const row = await deployed(1);
    await serving.apply(row.id, row);
    expect(serving.readyReplicas(row.id)).toBe(1);
    const older = { ...row };
    const scaled = (await repo.scale(tenantId, row.id, 2))!;
    // A sync that read the row just before the scale lands after it: it must not undo the scale.
    await Promise.all([serving.apply(row.id, scaled), serving.apply(row.id, older)]);
    expect(serving.readyReplicas(row.id)).toBe(2);
    const paused = (await repo.scale(tenantId, row.id, 0))!;
    await serving.apply(row.id, paused);
    expect(serving.readyReplicas(row.id)).toBe(0);
    await expect(serving.predict(tenantId, row.id, { instances: [[1, 2, 3, 4]] })).rejects.toMatchObject({ status: 503 });
    await serving.apply(row.id, (await repo.scale(tenantId, row.id, 1))!);
    const out = await serving.predict(tenantId, row.id, { instances: [[1, 2, 3, 4]] });
    expect(out.predictions).toHaveLength(1);
    expect((out.predictions[0] as number[]).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    expect(out.classes).toHaveLength(1);
    await serving.forget(row.id);
    expect(serving.readyReplicas(row.id)).toBe(0);
  });

  it('keeps at most SERVING_MAX_MODELS loaded, unloading the least recently used, which loads again on use', async () => {
    const [x, y, z] = [await deployed(), await deployed(), await deployed()];
    await serving.apply(x.id, x);
    await serving.apply(y.id, y);
    await serving.predict(tenantId, x.id, { instances: [[0, 0, 0, 1]] });
    await serving.apply(z.id, z);
    expect([serving.readyReplicas(x.id), serving.readyReplicas(y.id), serving.readyReplicas(z.id)]).toEqual([1, 0, 1]);
    await serving.predict(tenantId, y.id, { instances: [[0, 1, 0, 0]] });
    expect(serving.readyReplicas(y.id)).toBe(1);
    expect(serving.readyReplicas(x.id) + serving.readyReplicas(z.id)).toBe(1);
  });

  it('answers 404 for another tenant and 422 naming both shapes for a wrong instance', async () => {
    const row = await deployed();
    await expect(serving.predict('00000000-0000-4000-8000-0000000000ff', row.id, { instances: [[1, 2, 3, 4]] })).rejects.toMatchObject({ status: 404 });
    await expect(serving.predict(tenantId, row.id, { instances: [[1, 2, 3]] })).rejects.toMatchObject({ status: 422, detail: expect.stringMatching(/\[3\].*\[4\]/) });
    expect(await serving.stats.get(row.id)).toMatchObject({ request_count: 1, error_count: 1, latency_p50_ms: null });
  });
});
