import type { EntitySchemaColumnOptions } from 'typeorm';

/** The SQL dialects the platform runs on: PostgreSQL (distributed mode) and SQLite via better-sqlite3 (embedded). */
export type Dialect = 'postgres' | 'sqlite';

/** Column definitions whose SQL type depends on the dialect; everything else is written once in the schemas. */
export interface DialectColumns {
  uuid(options?: Partial<EntitySchemaColumnOptions>): EntitySchemaColumnOptions;
  json(options?: Partial<EntitySchemaColumnOptions>): EntitySchemaColumnOptions;
  timestamp(options?: Partial<EntitySchemaColumnOptions>): EntitySchemaColumnOptions;
}

export function dialectColumns(dialect: Dialect): DialectColumns {
  const pg = dialect === 'postgres';
  return {
    uuid: (options) => (pg ? { type: 'uuid', ...options } : { type: 'varchar', length: 36, ...options }),
    json: (options) => ({ type: pg ? 'jsonb' : 'simple-json', ...options }),
    timestamp: (options) => ({ type: pg ? 'timestamptz' : 'datetime', ...options }),
  };
}

/** `CHECK (<column> IN ('a', 'b'))` for a closed set of values taken from libs/contracts. */
export function oneOf(column: string, values: readonly string[]): string {
  return `"${column}" IN (${values.map((v) => `'${v}'`).join(', ')})`;
}
