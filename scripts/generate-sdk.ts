/**
 * Writes libs/sdk/src/schema.ts, the SDK's types, from the committed openapi.json with openapi-typescript (offline:
 * the document is read from disk), or with `--check` fails when the committed types differ from what it produces now.
 *
 *   npm run sdk:generate
 *   npm run sdk:check
 *
 * `--spec=<file>` and `--target=<file>` read and write other files (the generator's own test).
 */
import { readFile, writeFile } from 'fs/promises';
import openapiTS, { astToString } from 'openapi-typescript';
import { resolve } from 'path';

const SPEC = resolve(__dirname, '..', 'openapi.json');
export const SCHEMA_TARGET = resolve(__dirname, '..', 'libs', 'sdk', 'src', 'schema.ts');

const HEADER = [
  '/**',
  ' * Generated from openapi.json by openapi-typescript: `npm run sdk:generate` (scripts/generate-sdk.ts). Do not edit;',
  ' * change the gateway, run `npm run openapi:export`, then regenerate.',
  ' */',
  '',
].join('\n');

/** The text schema.ts should have for the given OpenAPI document (JSON text). */
export async function renderSchema(specText: string): Promise<string> {
  const ast = await openapiTS(JSON.parse(specText), {
    // Free-form objects (metrics, results, plans) are `type: object` with no properties: unknown values, not none.
    emptyObjectsUnknown: true,
  });
  return `${HEADER}\n${astToString(ast)}`;
}

/** 0 when the target is (now, or already with `check`) up to date, 1 when `check` finds it stale. */
export async function generateSdk(options: { check?: boolean; spec?: string; target?: string } = {}): Promise<number> {
  const target = options.target ?? SCHEMA_TARGET;
  const text = await renderSchema(await readFile(options.spec ?? SPEC, 'utf8'));
  if (!options.check) {
    await writeFile(target, text);
    console.log(`wrote ${target}`);
    return 0;
  }
  const committed = await readFile(target, 'utf8').catch(() => '');
  if (committed === text) {
    console.log('libs/sdk/src/schema.ts is up to date');
    return 0;
  }
  console.error('libs/sdk/src/schema.ts is stale (openapi.json changed): run `npm run sdk:generate` and commit the result');
  return 1;
}

if (require.main === module) {
  const arg = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  generateSdk({ check: process.argv.includes('--check'), spec: arg('spec'), target: arg('target') }).then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
