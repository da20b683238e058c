import { AppConfig } from '@app/config';
import { DataSource, DataSourceOptions } from 'typeorm';
import { Dialect, entitySchemas } from './entities';
import { POSTGRES_MIGRATIONS, SQLITE_MIGRATIONS } from './migrations';

/** Name of TypeORM's bookkeeping table of applied migrations. */
export const MIGRATIONS_TABLE = 'typeorm_migrations';
/** How long a SQLite writer waits for another one's lock before failing with SQLITE_BUSY. */
export const SQLITE_BUSY_TIMEOUT_MS = 5000;
// Arbitrary but fixed: every process of the platform takes this advisory lock while migrating PostgreSQL.
const MIGRATION_LOCK_KEY = 7_340_112_001;

/** PostgreSQL when `DATABASE_URL` is set, otherwise the embedded SQLite file. */
export function dialectOf(config: AppConfig): Dialect {
  return config.database.url ? 'postgres' : 'sqlite';
}

/**
 * TypeORM options for the configured database: entities and the dialect's committed migrations listed explicitly,
 * migrations run on initialize, never `synchronize`, logging off. SQLite gets WAL, a busy timeout and foreign keys
 * (TypeORM turns those on for every SQLite connection).
 */
export function dataSourceOptions(config: AppConfig): DataSourceOptions {
  const common = { logging: false, synchronize: false, migrationsRun: true, migrationsTableName: MIGRATIONS_TABLE } as const;
  if (dialectOf(config) === 'postgres') {
    return {
      ...common,
      type: 'postgres',
      url: config.database.url,
      entities: entitySchemas('postgres'),
      migrations: POSTGRES_MIGRATIONS,
      applicationName: 'neural-platform',
    };
  }
  return {
    ...common,
    type: 'better-sqlite3',
    database: config.database.sqlitePath,
    enableWAL: true,
    timeout: SQLITE_BUSY_TIMEOUT_MS,
    entities: entitySchemas('sqlite'),
    migrations: SQLITE_MIGRATIONS,
  };
}

/**
 * Opens a data source and brings its schema up to date. On PostgreSQL the migrations run under an advisory lock,
 * because TypeORM's own runner would let two processes starting together (gateways, workers) both apply them.
 */
export async function openDataSource(options: DataSourceOptions): Promise<DataSource> {
  const dataSource = new DataSource({ ...options, migrationsRun: false });
  await dataSource.initialize();
  try {
    if (options.migrationsRun !== false) await migrate(dataSource);
  } catch (error) {
    await dataSource.destroy();
    throw error;
  }
  return dataSource;
}

/** Applies pending migrations (serialised across processes on PostgreSQL). */
export async function migrate(dataSource: DataSource): Promise<void> {
  if (dataSource.options.type !== 'postgres') {
    await dataSource.runMigrations({ transaction: 'all' });
    return;
  }
  const lockRunner = dataSource.createQueryRunner();
  await lockRunner.connect();
  try {
    await lockRunner.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    try {
      await dataSource.runMigrations({ transaction: 'all' });
    } finally {
      await lockRunner.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
    }
  } finally {
    await lockRunner.release();
  }
}
