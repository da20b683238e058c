/**
 * Writes the gateway's OpenAPI document to openapi.json at the repo root (keys sorted, so the file is stable), or with
 * `--check` fails when the committed copy differs from what the code produces now.
 *
 *   npm run openapi:export
 *   npm run openapi:check
 */
import 'reflect-metadata';
import { loadConfig } from '@app/config';
import { mkdtemp, readFile, rm, writeFile } from 'fs/promises';
import { tmpdir } from 'os';
import { join, resolve } from 'path';
import { createGateway } from '../apps/gateway/src/bootstrap';
import { buildOpenApiDocument } from '../apps/gateway/src/common/openapi';

const TARGET = resolve(__dirname, '..', 'openapi.json');

async function main(): Promise<number> {
  const check = process.argv.includes('--check');
  const storage = await mkdtemp(join(tmpdir(), 'neural-openapi-'));
  try {
    // Defaults only (the process environment is ignored), so every machine produces the same document.
    const config = loadConfig({ NODE_ENV: 'test', STORAGE_PATH: storage });
    const app = await createGateway(config, { logger: ['error'], runWorker: false });
    let text: string;
    try {
      text = `${JSON.stringify(buildOpenApiDocument(app, config), null, 2)}\n`;
    } finally {
      await app.close();
    }
    if (!check) {
      await writeFile(TARGET, text);
      console.log(`wrote ${TARGET}`);
      return 0;
    }
    const committed = await readFile(TARGET, 'utf8').catch(() => '');
    if (committed === text) {
      console.log('openapi.json is up to date');
      return 0;
    }
    console.error('openapi.json is stale: run `npm run openapi:export` and commit the result');
    return 1;
  } finally {
    await rm(storage, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
