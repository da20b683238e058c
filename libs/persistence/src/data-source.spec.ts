import { loadConfig } from '@app/config';
import { DataSource } from 'typeorm';
import { createThrowawayPostgres, openTestDatabase, TEST_DIALECTS, TestDatabase } from '../../testing/src/database';
import { dataSourceOptions, dialectOf, MIGRATIONS_TABLE, openDataSource } from './data-source';
import { TenantsRepository } from './repositories/tenants.repository';

describe('dataSourceOptions', () => {
  const config = loadConfig({ NODE_ENV: 'test', STORAGE_PATH: '/tmp/neural-options-test' });

  it('uses SQLite in the storage dir without DATABASE_URL, PostgreSQL with it', () => {
    expect(dialectOf(config)).toBe('sqlite');
    const sqlite = dataSourceOptions(config);
    expect(sqlite).toMatchObject({ type: 'better-sqlite3', database: '/tmp/neural-options-test/neural.db', enableWAL: true, synchronize: false, logging: false, migrationsRun: true });
    const pg = dataSourceOptions({ ...config, database: { ...config.database, url: 'postgres://u@h:5432/d' } });
    expect(pg).toMatchObject({ type: 'postgres', url: 'postgres://u@h:5432/d', synchronize: false, logging: false, migrationsRun: true });
    expect(pg.entities).toHaveLength(10);
    expect(pg.migrations).toHaveLength(5);
  });
});

describe.each(TEST_DIALECTS)('schema on %s', (dialect) => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await openTestDatabase(dialect);
  });
  afterAll(() => db.close());

  it('is exactly what the entities describe after the committed migrations', async () => {
    const log = await db.dataSource.driver.createSchemaBuilder().log();
    expect(log.upQueries.map((q) => q.query)).toEqual([]);
    const applied = await db.dataSource.query(`SELECT name FROM ${MIGRATIONS_TABLE}`);
    expect(applied).toHaveLength(5);
  });

  it('has every named index', async () => {
    const sql =
      dialect === 'postgres'
        ? `SELECT indexname AS name FROM pg_indexes WHERE schemaname = 'public'`
        : `SELECT name FROM sqlite_master WHERE type = 'index'`;
    const names = (await db.dataSource.query(sql)).map((r: { name: string }) => r.name);
    expect(names).toEqual(
      expect.arrayContaining([
        'uq_api_keys_key_hash',
        'idx_api_keys_tenant_id',
        'idx_jobs_tenant_created',
        'idx_jobs_tenant_status',
        'idx_jobs_tenant_type',
        'idx_jobs_status_updated',
        'idx_models_tenant_created',
        'idx_models_tenant_backend',
        'idx_models_tenant_name',
        'idx_experiments_tenant_created',
        'idx_experiments_tenant_name',
        'idx_experiments_tenant_status',
        'uq_experiments_job_id',
        'idx_experiments_sweep',
        'uq_jobs_sweep_trial',
        'uq_datasets_tenant_name',
        'idx_datasets_tenant_created',
        'idx_webhook_deliveries_tenant_job',
        'idx_webhook_deliveries_status_next',
        'uq_deployments_tenant_name',
        'idx_deployments_tenant_created',
        'idx_deployments_status',
        'idx_audit_events_created',
        'idx_audit_events_tenant_created',
        'idx_audit_events_action_created',
        'uq_idempotency_keys_tenant_key',
        'idx_idempotency_keys_expires',
      ]),
    );
  });

  it('reopening runs nothing and keeps the data', async () => {
    const tenant = await new TenantsRepository(db.dataSource).create('persist');
    const again = await db.openAnother();
    expect(await again.query(`SELECT name FROM ${MIGRATIONS_TABLE}`)).toHaveLength(5);
    expect(await new TenantsRepository(again).findById(tenant.id)).toMatchObject({ name: 'persist' });
  });

  it('enforces the api_keys → tenants foreign key', async () => {
    const insert = db.dataSource.query(
      `INSERT INTO api_keys (id, tenant_id, name, prefix, key_hash, scopes, created_at) VALUES ('00000000-0000-4000-8000-000000000001', '00000000-0000-4000-8000-000000000002', 'k', 'p', 'h', '[]', '2026-01-01 00:00:00')`,
    );
    await expect(insert).rejects.toThrow(/foreign key/i);
  });

  it('takes sweep jobs and pruned trials', async () => {
    const tenant = await new TenantsRepository(db.dataSource).create('sweeps');
    for (const [id, type, status] of [['00000000-0000-4000-8000-000000000011', 'hpo', 'running'], ['00000000-0000-4000-8000-000000000012', 'train', 'pruned']]) {
      await db.dataSource.query(`INSERT INTO jobs (id, tenant_id, type, status, input, created_at, updated_at) VALUES ('${id}', '${tenant.id}', '${type}', '${status}', '{}', '2026-01-01 00:00:00', '2026-01-01 00:00:00')`);
    }
    expect(await db.dataSource.query(`SELECT type, status FROM jobs WHERE tenant_id = '${tenant.id}' ORDER BY id`)).toEqual([{ type: 'hpo', status: 'running' }, { type: 'train', status: 'pruned' }]);
  });

  it('rejects a job status outside the contract', async () => {
    const insert = db.dataSource.query(
      `INSERT INTO jobs (id, tenant_id, type, status, input, created_at, updated_at) VALUES ('00000000-0000-4000-8000-000000000003', '00000000-0000-4000-8000-000000000002', 'compile', 'lost', '{}', '2026-01-01 00:00:00', '2026-01-01 00:00:00')`,
    );
    await expect(insert).rejects.toThrow(/check constraint|CHECK/i);
  });

  if (dialect === 'sqlite') {
    it('runs SQLite in WAL mode with foreign keys and a busy timeout', async () => {
      expect(await db.dataSource.query('PRAGMA journal_mode')).toEqual([{ journal_mode: 'wal' }]);
      expect(await db.dataSource.query('PRAGMA foreign_keys')).toEqual([{ foreign_keys: 1 }]);
      expect(await db.dataSource.query('PRAGMA busy_timeout')).toEqual([{ timeout: 5000 }]);
    });
  }
});

describe('migrations on PostgreSQL from processes starting together', () => {
  it('are applied once while both data sources open', async () => {
    const pg = await createThrowawayPostgres();
    const config = loadConfig({ NODE_ENV: 'test', STORAGE_PATH: '/tmp/neural-options-test' });
    config.database = { ...config.database, url: pg.url };
    const opened: DataSource[] = [];
    try {
      const results = await Promise.allSettled([0, 1, 2].map(() => openDataSource(dataSourceOptions(config))));
      for (const r of results) if (r.status === 'fulfilled') opened.push(r.value);
      expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled']);
      expect(await opened[0].query(`SELECT name FROM ${MIGRATIONS_TABLE}`)).toHaveLength(5);
    } finally {
      await Promise.all(opened.map((ds) => ds.destroy()));
      await pg.drop();
    }
  });
});
