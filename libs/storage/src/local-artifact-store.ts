import { randomBytes } from 'crypto';
import { createReadStream, createWriteStream } from 'fs';
import { mkdir, open, rename, rm, rmdir, stat, unlink, readFile } from 'fs/promises';
import { dirname, join, relative, resolve, sep } from 'path';
import { PassThrough, Transform } from 'stream';
import { pipeline } from 'stream/promises';
import { ArtifactNotFoundError, ArtifactStore, ArtifactTooLargeError, assertValidArtifactKey, InvalidArtifactKeyError } from './artifact-store';

/**
 * Artifacts as files under `root`. A write goes to a temp file in the target directory, is flushed, then renamed
 * over the target, so a reader sees the old content or the new, never a partial file. Temp names start with a dot,
 * which no valid key can, so they are never served.
 */
export class LocalArtifactStore extends ArtifactStore {
  readonly root: string;

  constructor(root: string) {
    super();
    this.root = resolve(root);
  }

  async put(key: string, data: Buffer | string): Promise<{ size: number }> {
    const target = this.pathOf(key);
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    // A concurrent delete may prune the directory between mkdir and rename; one more round recreates it.
    for (let attempt = 0; ; attempt++) {
      try {
        await mkdir(dirname(target), { recursive: true });
        await this.writeAtomically(target, bytes);
        return { size: bytes.length };
      } catch (error) {
        if (attempt >= 2 || (error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      }
    }
  }

  async putStream(key: string, source: NodeJS.ReadableStream, options: { maxBytes?: number } = {}): Promise<{ size: number }> {
    const target = this.pathOf(key);
    await mkdir(dirname(target), { recursive: true });
    const temp = join(dirname(target), `.${randomBytes(8).toString('hex')}.tmp`);
    let size = 0;
    const limit = options.maxBytes ?? Infinity;
    const counter = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        size += chunk.length;
        done(size > limit ? new ArtifactTooLargeError(limit) : null, chunk);
      },
    });
    try {
      const out = createWriteStream(temp, { flags: 'wx', mode: 0o644 });
      await pipeline(source, counter, out);
      const handle = await open(temp, 'r+');
      try {
        await handle.datasync();
      } finally {
        await handle.close();
      }
      await rename(temp, target);
      return { size };
    } catch (error) {
      await rm(temp, { force: true });
      throw error;
    }
  }

  async get(key: string): Promise<Buffer> {
    try {
      return await readFile(this.pathOf(key));
    } catch (error) {
      throw notFound(error, key);
    }
  }

  stream(key: string): NodeJS.ReadableStream {
    const out = new PassThrough();
    const source = createReadStream(this.pathOf(key));
    source.on('error', (error) => out.destroy(notFound(error, key)));
    return source.pipe(out);
  }

  async delete(key: string): Promise<void> {
    const target = this.pathOf(key);
    try {
      await unlink(target);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    await this.pruneEmptyParents(dirname(target));
  }

  async exists(key: string): Promise<boolean> {
    try {
      return (await stat(this.pathOf(key))).isFile();
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw error;
    }
  }

  async size(key: string): Promise<number | null> {
    try {
      const info = await stat(this.pathOf(key));
      return info.isFile() ? info.size : null;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
  }

  localPath(key: string): string {
    return this.pathOf(key);
  }

  /** The file of a key; refuses keys that are malformed or (belt and braces) resolve outside the root. */
  private pathOf(key: string): string {
    assertValidArtifactKey(key);
    const path = join(this.root, ...key.split('/'));
    const rel = relative(this.root, path);
    if (!rel || rel.startsWith('..') || rel.split(sep).includes('..')) throw new InvalidArtifactKeyError(key);
    return path;
  }

  private async writeAtomically(target: string, bytes: Buffer): Promise<void> {
    const temp = join(dirname(target), `.${randomBytes(8).toString('hex')}.tmp`);
    const handle = await open(temp, 'wx', 0o644);
    try {
      await handle.writeFile(bytes);
      await handle.datasync();
    } finally {
      await handle.close();
    }
    try {
      await rename(temp, target);
    } catch (error) {
      await rm(temp, { force: true });
      throw error;
    }
  }

  /** Removes now-empty directories between the deleted file and the root (e.g. `<tenant>/<model>/`). */
  private async pruneEmptyParents(dir: string): Promise<void> {
    while (dir !== this.root && dir.startsWith(this.root + sep)) {
      try {
        await rmdir(dir);
      } catch {
        return;
      }
      dir = dirname(dir);
    }
  }
}

function notFound(error: unknown, key: string): Error {
  return (error as NodeJS.ErrnoException).code === 'ENOENT' ? new ArtifactNotFoundError(key) : (error as Error);
}
