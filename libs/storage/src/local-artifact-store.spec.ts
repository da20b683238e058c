import { existsSync } from 'fs';
import { readdir, readFile, writeFile } from 'fs/promises';
import { join } from 'path';
import { Readable } from 'stream';
import { createTempDir, TempDir } from '../../testing/src/database';
import { ArtifactNotFoundError, ArtifactTooLargeError, InvalidArtifactKeyError } from './artifact-store';
import { LocalArtifactStore } from './local-artifact-store';

const tenant = '6c1f1b1e-0f4e-4f53-a3a4-2f1d9f0c1a10';
const model = 'b8e9c1a2-2d3c-4e5f-8a9b-0c1d2e3f4a5b';

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks);
}

describe('LocalArtifactStore', () => {
  let dir: TempDir;
  let root: string;
  let store: LocalArtifactStore;
  beforeEach(async () => {
    dir = await createTempDir();
    root = join(dir.path, 'models');
    store = new LocalArtifactStore(root);
  });
  afterEach(() => dir.remove());

  it('puts, gets, streams, checks and deletes an artifact', async () => {
    const key = `${tenant}/${model}/model.py`;
    expect(await store.exists(key)).toBe(false);
    expect(await store.put(key, 'import torch\n# é\n')).toEqual({ size: Buffer.byteLength('import torch\n# é\n') });
    expect(await readFile(join(root, tenant, model, 'model.py'), 'utf8')).toBe('import torch\n# é\n');
    expect(await store.exists(key)).toBe(true);
    expect((await store.get(key)).toString('utf8')).toBe('import torch\n# é\n');
    expect((await readAll(store.stream(key))).toString('utf8')).toBe('import torch\n# é\n');

    const onnx = Buffer.from([0, 1, 2, 255, 254]);
    await store.put(`${tenant}/${model}/model.onnx`, onnx);
    expect(await store.get(`${tenant}/${model}/model.onnx`)).toEqual(onnx);

    await store.delete(key);
    expect(await store.exists(key)).toBe(false);
    expect(existsSync(join(root, tenant, model))).toBe(true);
    await store.delete(`${tenant}/${model}/model.onnx`);
    // Empty <tenant>/<model>/ directories go with their last file; the root stays.
    expect(existsSync(join(root, tenant))).toBe(false);
    expect(existsSync(root)).toBe(true);
    await expect(store.delete(key)).resolves.toBeUndefined();
  });

  it('reports a missing artifact as ArtifactNotFoundError from get and stream', async () => {
    await expect(store.get('a/missing.py')).rejects.toBeInstanceOf(ArtifactNotFoundError);
    await expect(readAll(store.stream('a/missing.py'))).rejects.toBeInstanceOf(ArtifactNotFoundError);
  });

  it.each([
    '',
    '/etc/passwd',
    '../secret',
    'a/../../secret',
    'a/..',
    '..',
    'a..b/c',
    'a/./b',
    '.hidden',
    'a/.tmp',
    'a//b',
    'a/',
    'a\\b',
    'a/b c',
    'C:/x',
    'a/%2e%2e/b',
    'ü',
    'a/b\0c',
    'x'.repeat(256),
    `a/${'x'.repeat(255)}/${'y'.repeat(255)}`,
  ])('refuses the key %j before touching the filesystem', async (key) => {
    await expect(store.put(key, 'x')).rejects.toBeInstanceOf(InvalidArtifactKeyError);
    await expect(store.get(key)).rejects.toBeInstanceOf(InvalidArtifactKeyError);
    await expect(store.exists(key)).rejects.toBeInstanceOf(InvalidArtifactKeyError);
    await expect(store.delete(key)).rejects.toBeInstanceOf(InvalidArtifactKeyError);
    expect(() => store.stream(key)).toThrow(InvalidArtifactKeyError);
    expect(existsSync(root)).toBe(false);
  });

  it('accepts keys made of safe segments', async () => {
    for (const key of ['a', 'A9/b-c_d.e/model.py', `${tenant}/${model}/MyModel.onnx`, 'z'.repeat(255), `${'x'.repeat(255)}/${'y'.repeat(255)}`]) {
      await store.put(key, key);
      expect((await store.get(key)).toString()).toBe(key);
    }
  });

  it('writes atomically: readers see the old or the new content, never a torn file, and no temp files remain', async () => {
    const key = `${tenant}/${model}/model.py`;
    const big = (c: string) => c.repeat(4 * 1024 * 1024);
    const versions = [big('a'), big('b'), big('c'), big('d')];
    await store.put(key, versions[0]);
    const reads: Promise<Buffer>[] = [];
    const writes = versions.slice(1).map((v) => store.put(key, v));
    for (let i = 0; i < 20; i++) reads.push(store.get(key));
    await Promise.all(writes);
    for (const content of await Promise.all(reads)) {
      expect(content.length).toBe(versions[0].length);
      expect(new Set(content.toString()).size).toBe(1);
    }
    expect(versions).toContain((await store.get(key)).toString());
    expect(await readdir(join(root, tenant, model))).toEqual(['model.py']);
  });

  it('leaves the previous content when a write fails, and cleans its temp file', async () => {
    const key = `${tenant}/${model}/model.py`;
    await store.put(key, 'v1');
    // A directory where the file should go makes the rename fail after the temp file was written.
    await store.put(`${tenant}/${model}/blocked/inner`, 'x');
    await expect(store.put(`${tenant}/${model}/blocked`, 'v2')).rejects.toThrow();
    expect((await store.get(key)).toString()).toBe('v1');
    expect((await readdir(join(root, tenant, model))).sort()).toEqual(['blocked', 'model.py']);
  });

  it('never serves a temp file or anything outside the root', async () => {
    await store.put('t/model.py', 'ok');
    await writeFile(join(root, 't', '.abc.tmp'), 'partial');
    await writeFile(join(dir.path, 'outside.txt'), 'secret');
    await expect(store.get('t/.abc.tmp')).rejects.toBeInstanceOf(InvalidArtifactKeyError);
    await expect(store.get('../outside.txt')).rejects.toBeInstanceOf(InvalidArtifactKeyError);
  });
});

describe('LocalArtifactStore streaming', () => {
  let dir: TempDir;
  let store: LocalArtifactStore;
  beforeEach(async () => {
    dir = await createTempDir();
    store = new LocalArtifactStore(join(dir.path, 'root'));
  });
  afterEach(() => dir.remove());

  it('streams a source to a file, reports its size and local path', async () => {
    const chunks = Array.from({ length: 50 }, (_, i) => Buffer.alloc(10_000, i));
    const { size } = await store.putStream('t/d/raw.csv', Readable.from(chunks), { maxBytes: 1_000_000 });
    expect(size).toBe(500_000);
    expect(await store.size('t/d/raw.csv')).toBe(500_000);
    expect(await readFile(store.localPath('t/d/raw.csv'))).toEqual(Buffer.concat(chunks));
    expect(await store.size('t/d/absent')).toBeNull();
  });

  it('refuses more than maxBytes and leaves neither the file nor a temp file', async () => {
    const source = Readable.from(Array.from({ length: 20 }, () => Buffer.alloc(1000, 1)));
    await expect(store.putStream('t/d/raw.csv', source, { maxBytes: 5000 })).rejects.toBeInstanceOf(ArtifactTooLargeError);
    expect(await store.exists('t/d/raw.csv')).toBe(false);
    expect(await readdir(join(dir.path, 'root', 't', 'd'))).toEqual([]);
  });

  it('stores nothing when the source fails midway', async () => {
    async function* failing() {
      yield Buffer.from('a,b\n1,2\n');
      throw new Error('client went away');
    }
    await expect(store.putStream('t/d/raw.csv', Readable.from(failing()))).rejects.toThrow('client went away');
    expect(await store.exists('t/d/raw.csv')).toBe(false);
    expect(await readdir(join(dir.path, 'root', 't', 'd'))).toEqual([]);
  });
});
