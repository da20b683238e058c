import { loadConfigOrExit } from '@app/config';
import { API_SCOPES, type ApiScope, DEFAULT_SCOPES } from '@app/contracts';
import { ApiKeysRepository, AuditEventsRepository, dataSourceOptions, openDataSource, TenantsRepository } from '@app/persistence';
import { parseArgs } from 'util';
import { KEY_NAME } from '../auth/dto/api-key.dto';

const USAGE = `Creates an API key in the configured database and prints it (the only time it is shown).

  npm run keys:create -- --admin                      an administrator key in a new tenant
  npm run keys:create -- --name ci --scopes read      a read-only key in a new tenant
  npm run keys:create -- --name ci --tenant-id <id>   a key in an existing tenant

Options: --name <name> (default "admin" or "cli key"), --scopes <a,b> (${API_SCOPES.join(', ')}; default ${DEFAULT_SCOPES.join(',')}),
         --admin (same as --scopes admin), --tenant-id <uuid>, --json (print the key as JSON)`;

function fail(message: string): never {
  console.error(`${message}\n\n${USAGE}`);
  process.exit(2);
}

const parse = () =>
  parseArgs({
    options: { admin: { type: 'boolean' }, name: { type: 'string' }, scopes: { type: 'string' }, 'tenant-id': { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    strict: true,
  }).values;

/** `npm run keys:create`: how the first administrator key of a production deployment comes to exist (or ADMIN_API_KEY). */
async function main(): Promise<void> {
  let args: ReturnType<typeof parse>;
  try {
    args = parse();
  } catch (err) {
    fail(err instanceof Error ? err.message : String(err));
  }
  if (args.help) {
    console.log(USAGE);
    return;
  }
  const scopes = (args.admin ? ['admin'] : args.scopes ? args.scopes.split(',').map((s) => s.trim()) : [...DEFAULT_SCOPES]) as ApiScope[];
  const unknown = scopes.filter((s) => !(API_SCOPES as readonly string[]).includes(s));
  if (unknown.length || !scopes.length) fail(`unknown scope ${unknown.join(', ') || '(none given)'}`);
  const name = args.name ?? (args.admin ? 'admin' : 'cli key');
  if (!KEY_NAME.test(name)) fail('--name must be 1 to 100 letters, digits, spaces or ._- and start with a letter or digit');

  const config = loadConfigOrExit();
  const dataSource = await openDataSource(dataSourceOptions(config));
  try {
    const tenants = new TenantsRepository(dataSource);
    const tenantId = args['tenant-id'];
    if (tenantId && !(await tenants.findById(tenantId))) fail(`no tenant with id ${tenantId} exists`);
    const tenant = tenantId ?? (await tenants.create(name)).id;
    const { entity, plaintextKey } = await new ApiKeysRepository(dataSource).create(tenant, name, scopes);
    await new AuditEventsRepository(dataSource).record({
      action: 'api_key.created',
      tenantId: tenant,
      targetType: 'api_key',
      targetId: entity.id,
      details: { key_tenant_id: tenant, new_tenant: !tenantId, name, prefix: entity.prefix, scopes: entity.scopes, by: 'cli' },
    });
    const created = { id: entity.id, key: plaintextKey, prefix: entity.prefix, name, scopes: entity.scopes, tenant_id: tenant, created_at: entity.createdAt.toISOString() };
    if (args.json) console.log(JSON.stringify(created));
    else console.log(`Created key ${entity.id} (${scopes.join(', ')}) in tenant ${tenant}. It is shown only now:\n\n  ${plaintextKey}\n`);
  } finally {
    await dataSource.destroy();
  }
}

main().catch((err: unknown) => {
  console.error(`could not create the key: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
