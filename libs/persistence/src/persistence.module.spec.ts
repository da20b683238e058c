import { Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { DataSource } from 'typeorm';
import { loadConfig } from '@app/config';
import { AppConfigModule } from '@app/config';
import { createTempDir, createThrowawayPostgres, TEST_DIALECTS } from '../../testing/src/database';
import { MIGRATIONS_TABLE } from './data-source';
import { PersistenceModule } from './persistence.module';
import { ApiKeysRepository, hashApiKey } from './repositories/api-keys.repository';
import { JobsRepository } from './repositories/jobs.repository';
import { ModelsRepository } from './repositories/models.repository';
import { TenantsRepository } from './repositories/tenants.repository';

@Module({ imports: [PersistenceModule.forRoot()] })
class FeatureA {}
@Module({ imports: [PersistenceModule.forRoot()] })
class FeatureB {}

describe.each(TEST_DIALECTS)('PersistenceModule on %s', (dialect) => {
  it('opens one migrated data source from APP_CONFIG and provides the repositories', async () => {
    const dir = await createTempDir();
    const pg = dialect === 'postgres' ? await createThrowawayPostgres() : undefined;
    const config = loadConfig({ NODE_ENV: 'test', STORAGE_PATH: dir.path });
    if (pg) config.database = { ...config.database, url: pg.url };
    const moduleRef = await Test.createTestingModule({ imports: [AppConfigModule.forRoot(config), FeatureA, FeatureB, PersistenceModule.forRoot()] }).compile();
    try {
      expect(moduleRef.get(DataSource, { strict: false, each: true })).toHaveLength(1);
      const dataSource = moduleRef.get(DataSource);
      expect(dataSource.isInitialized).toBe(true);
      expect(dataSource.options.type).toBe(dialect === 'postgres' ? 'postgres' : 'better-sqlite3');
      expect(await dataSource.query(`SELECT name FROM ${MIGRATIONS_TABLE}`)).toHaveLength(5);
      const tenants = moduleRef.get(TenantsRepository);
      const keys = moduleRef.get(ApiKeysRepository);
      expect(moduleRef.get(JobsRepository)).toBeInstanceOf(JobsRepository);
      expect(moduleRef.get(ModelsRepository)).toBeInstanceOf(ModelsRepository);
      const tenant = await tenants.create('via nest');
      const { plaintextKey } = await keys.create(tenant.id, 'k');
      expect(await moduleRef.get(ApiKeysRepository).findActiveByHash(hashApiKey(plaintextKey))).toMatchObject({ tenantId: tenant.id });
    } finally {
      await moduleRef.close();
      await pg?.drop();
      await dir.remove();
    }
  });
});
