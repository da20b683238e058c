import type { MixedList } from 'typeorm';
import { InitialSchemaPostgres1764288000000 } from './postgres/1764288000000-initial-schema';
import { TrainingPostgres1764979200000 } from './postgres/1764979200000-training';
import { DeploymentsPostgres1765152000000 } from './postgres/1765152000000-deployments';
import { SecurityPostgres1765238400000 } from './postgres/1765238400000-security';
import { SweepsPostgres1765411200000 } from './postgres/1765411200000-sweeps';
import { InitialSchemaSqlite1764288000000 } from './sqlite/1764288000000-initial-schema';
import { TrainingSqlite1764979200000 } from './sqlite/1764979200000-training';
import { DeploymentsSqlite1765152000000 } from './sqlite/1765152000000-deployments';
import { SecuritySqlite1765238400000 } from './sqlite/1765238400000-security';
import { SweepsSqlite1765411200000 } from './sqlite/1765411200000-sweeps';

// Listed as classes, not globs, so they load the same under jest, tsx and `nest build` output.
/** Committed PostgreSQL migrations, oldest first. */
export const POSTGRES_MIGRATIONS: MixedList<Function> = [InitialSchemaPostgres1764288000000, TrainingPostgres1764979200000, DeploymentsPostgres1765152000000, SecurityPostgres1765238400000, SweepsPostgres1765411200000];
/** Committed SQLite migrations, oldest first. */
export const SQLITE_MIGRATIONS: MixedList<Function> = [InitialSchemaSqlite1764288000000, TrainingSqlite1764979200000, DeploymentsSqlite1765152000000, SecuritySqlite1765238400000, SweepsSqlite1765411200000];
