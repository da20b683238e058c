import { execFile } from 'child_process';
import { mkdtemp, readFile, rm, writeFile } from 'fs/promises';
import { tmpdir } from 'os';
import { join, resolve } from 'path';
import { promisify } from 'util';

const ROOT = resolve(__dirname, '../../..');
const SCHEMA = join(ROOT, 'libs/sdk/src/schema.ts');

/** Runs scripts/generate-sdk.ts as CI does (a child process: openapi-typescript's ESM dependencies need plain node). */
async function generate(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)('node', ['-r', './scripts/register-ts.js', 'scripts/generate-sdk.ts', ...args], { cwd: ROOT });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

describe('scripts/generate-sdk.ts', () => {
  let dir: string;
  beforeAll(async () => (dir = await mkdtemp(join(tmpdir(), 'neural-sdk-'))));
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('the committed schema.ts is up to date with openapi.json and says it is generated', async () => {
    expect(await generate('--check')).toMatchObject({ code: 0, stdout: expect.stringContaining('up to date') });
    expect(await readFile(SCHEMA, 'utf8')).toMatch(/^\/\*\*\n \* Generated from openapi.json by openapi-typescript: `npm run sdk:generate`/);
  });

  it('--check exits 1 on a stale or missing file, and passes once regenerated', async () => {
    const spec = JSON.parse(await readFile(join(ROOT, 'openapi.json'), 'utf8'));
    spec.paths['/sdk-check-probe'] = { get: { operationId: 'probe', responses: { 204: { description: 'nothing' } } } };
    const specFile = join(dir, 'openapi.json');
    const target = join(dir, 'schema.ts');
    await writeFile(specFile, JSON.stringify(spec));
    await writeFile(target, await readFile(SCHEMA, 'utf8'));

    expect(await generate('--check', `--spec=${specFile}`, `--target=${target}`)).toMatchObject({ code: 1, stderr: expect.stringMatching(/stale.*npm run sdk:generate/) });
    expect((await generate('--check', `--spec=${specFile}`, `--target=${join(dir, 'missing.ts')}`)).code).toBe(1);
    expect((await generate(`--spec=${specFile}`, `--target=${target}`)).code).toBe(0);
    expect(await readFile(target, 'utf8')).toContain('"/sdk-check-probe"');
    expect((await generate('--check', `--spec=${specFile}`, `--target=${target}`)).code).toBe(0);
  });
});
