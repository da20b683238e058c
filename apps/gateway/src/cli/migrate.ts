import { loadConfigOrExit } from '@app/config';
import { dataSourceOptions, MIGRATIONS_TABLE, openDataSource } from '@app/persistence';

/**
 * `npm run db:migrate` (`migrate` in the image): applies pending migrations to the configured database and exits,
 * for a release step (the Kubernetes Job) ahead of the new gateways and workers. They migrate at boot as well, under
 * the same advisory lock, so running this is an ordering choice, not a requirement.
 */
async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const dataSource = await openDataSource(dataSourceOptions(config));
  try {
    const applied: Array<{ name: string }> = await dataSource.query(`SELECT name FROM ${MIGRATIONS_TABLE} ORDER BY id`);
    console.log(`database schema is current: ${applied.length} migrations applied, the last ${applied.at(-1)?.name ?? '(none)'}`);
  } finally {
    await dataSource.destroy();
  }
}

main().catch((err: unknown) => {
  console.error(`migration failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
