import { AppConfig, loadConfig } from '@app/config';
import { dataSourceOptions, openDataSource } from '@app/persistence';
import { randomBytes } from 'crypto';
import { mkdtemp, rm } from 'fs/promises';
import { tmpdir } from 'os';
import { join } from 'path';
import { Client } from 'pg';
import { DataSource } from 'typeorm';

/** Both dialects, for `describe.each(TEST_DIALECTS)`. */
export const TEST_DIALECTS = ['postgres', 'sqlite'] as const;
export type TestDialect = (typeof TEST_DIALECTS)[number];

/**
 * The PostgreSQL server the tests create their databases on, as a URL whose database is only used to run
 * CREATE/DROP DATABASE. Override with `TEST_POSTGRES_ADMIN_URL`.
 */
export function postgresAdminUrl(): string {
  return process.env.TEST_POSTGRES_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
}

/** The Redis the tests use. Override with `TEST_REDIS_URL`. */
export function testRedisUrl(): string {
  return process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
}

export interface ThrowawayPostgres {
  /** `neural_test_<random>` */
  name: string;
  url: string;
  /** Drops the database, closing whatever connections are still open on it. */
  drop(): Promise<void>;
}

/** Creates an empty PostgreSQL database with a random name; call `drop()` in `afterAll`. */
export async function createThrowawayPostgres(): Promise<ThrowawayPostgres> {
  const name = `neural_test_${randomBytes(6).toString('hex')}`;
  await adminQuery(`CREATE DATABASE "${name}"`);
  const url = new URL(postgresAdminUrl());
  url.pathname = `/${name}`;
  return { name, url: url.toString(), drop: () => adminQuery(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`) };
}

async function adminQuery(sql: string): Promise<void> {
  const client = new Client({ connectionString: postgresAdminUrl() });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

export interface TempDir {
  path: string;
  remove(): Promise<void>;
}

/** A fresh directory under the OS temp dir (a STORAGE_PATH, a SQLite file's home, an artifact root). */
export async function createTempDir(prefix = 'neural-test-'): Promise<TempDir> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

export interface TestDatabase {
  dialect: TestDialect;
  /** A test config pointing at this database (STORAGE_PATH in a temp dir; `database.url` set for PostgreSQL). */
  config: AppConfig;
  /** Opened through `openDataSource`, so the committed migrations have run. */
  dataSource: DataSource;
  /** Opens another data source on the same database (a second process, as far as locking goes). */
  openAnother(): Promise<DataSource>;
  /** Closes every data source opened here, then drops the database / removes the temp dir. */
  close(): Promise<void>;
}

/**
 * A migrated, empty database of the given dialect: a throw-away PostgreSQL database, or a SQLite file in a temp
 * dir. The config is for persistence only: its `mode` stays `embedded`, as no Redis is involved.
 */
export async function openTestDatabase(dialect: TestDialect): Promise<TestDatabase> {
  const dir = await createTempDir();
  const pg = dialect === 'postgres' ? await createThrowawayPostgres() : undefined;
  const config = loadConfig({ NODE_ENV: 'test', STORAGE_PATH: dir.path });
  if (pg) config.database = { ...config.database, url: pg.url };
  const opened: DataSource[] = [];
  const open = async () => {
    const ds = await openDataSource(dataSourceOptions(config));
    opened.push(ds);
    return ds;
  };
  try {
    const dataSource = await open();
    return {
      dialect,
      config,
      dataSource,
      openAnother: open,
      close: async () => {
        await Promise.all(opened.filter((ds) => ds.isInitialized).map((ds) => ds.destroy()));
        await pg?.drop();
        await dir.remove();
      },
    };
  } catch (error) {
    await pg?.drop();
    await dir.remove();
    throw error;
  }
}
