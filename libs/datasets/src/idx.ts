import { createReadStream } from 'fs';
import { pipeline } from 'stream';
import { createGunzip } from 'zlib';
import { DatasetFileError } from './dataset.errors';

export const IDX_IMAGES_MAGIC = 0x00000803;
export const IDX_LABELS_MAGIC = 0x00000801;

/** Images of an IDX3 file, pixels scaled from 0..255 to [0, 1], row-major, one image after another. */
export interface IdxImages {
  count: number;
  rows: number;
  cols: number;
  pixels: Float32Array;
}

/** What the caller knows the file must hold; a mismatch is an error naming the file. */
export interface IdxImageExpectation {
  count: number;
  rows: number;
  cols: number;
}

const BYTE_TO_UNIT = Float32Array.from({ length: 256 }, (_, i) => i / 255);

/**
 * Reads an IDX3 image file (`.gz` is gunzipped on the fly). The bytes are decoded straight into one Float32Array as
 * they stream in, so the raw file is never held in memory next to the result.
 */
export async function readIdxImages(file: string, expect: IdxImageExpectation): Promise<IdxImages> {
  const pixels = new Float32Array(expect.count * expect.rows * expect.cols);
  await decodeIdx(file, 16, IDX_IMAGES_MAGIC, (header) => {
    const [count, rows, cols] = [header.readUInt32BE(4), header.readUInt32BE(8), header.readUInt32BE(12)];
    if (count !== expect.count || rows !== expect.rows || cols !== expect.cols) {
      throw new DatasetFileError(
        file,
        `holds ${count} images of ${rows}x${cols}, expected ${expect.count} of ${expect.rows}x${expect.cols}`,
      );
    }
    return {
      bodyBytes: pixels.length,
      write(chunk, from, at) {
        for (let i = from; i < chunk.length; i++) pixels[at++] = BYTE_TO_UNIT[chunk[i]];
      },
    };
  });
  return { count: expect.count, rows: expect.rows, cols: expect.cols, pixels };
}

/** Reads an IDX1 label file into class indices, checking there are `count` of them, each below `numClasses`. */
export async function readIdxLabels(file: string, count: number, numClasses: number): Promise<Int32Array> {
  const labels = new Int32Array(count);
  await decodeIdx(file, 8, IDX_LABELS_MAGIC, (header) => {
    const found = header.readUInt32BE(4);
    if (found !== count) throw new DatasetFileError(file, `holds ${found} labels, expected ${count}`);
    return {
      bodyBytes: count,
      write(chunk, from, at) {
        for (let i = from; i < chunk.length; i++, at++) {
          if (chunk[i] >= numClasses) {
            throw new DatasetFileError(file, `label ${chunk[i]} of sample ${at} is outside 0..${numClasses - 1}`);
          }
          labels[at] = chunk[i];
        }
      },
    };
  });
  return labels;
}

interface IdxBody {
  bodyBytes: number;
  /** Consumes `chunk[from..]`, which are body bytes `at`, `at + 1`, ... */
  write(chunk: Buffer, from: number, at: number): void;
}

async function decodeIdx(
  file: string,
  headerBytes: number,
  magic: number,
  begin: (header: Buffer) => IdxBody,
): Promise<void> {
  const header = Buffer.alloc(headerBytes);
  let headerFill = 0;
  let body: IdxBody | null = null;
  let at = 0;
  const source = createReadStream(file, { highWaterMark: 1 << 20 });
  // pipeline forwards a read error into the gunzip stream, so the loop below sees every failure.
  const bytes = file.endsWith('.gz') ? pipeline(source, createGunzip({ chunkSize: 1 << 20 }), () => undefined) : source;
  try {
    for await (const chunk of bytes as AsyncIterable<Buffer>) {
      let from = 0;
      if (!body) {
        from = Math.min(headerBytes - headerFill, chunk.length);
        chunk.copy(header, headerFill, 0, from);
        headerFill += from;
        // The magic number first, so a short file of the wrong kind is reported as such rather than as truncated.
        const found = headerFill >= 4 ? header.readUInt32BE(0) : magic;
        if (found !== magic) {
          throw new DatasetFileError(file, `magic number 0x${hex(found)} is not 0x${hex(magic)}; not the expected IDX file`);
        }
        if (headerFill < headerBytes) continue;
        body = begin(header);
      }
      if (at + chunk.length - from > body.bodyBytes) {
        throw new DatasetFileError(file, `has more data than its header announces (${body.bodyBytes} bytes)`);
      }
      body.write(chunk, from, at);
      at += chunk.length - from;
    }
  } catch (error) {
    if (error instanceof DatasetFileError) throw error;
    throw new DatasetFileError(file, `cannot be read (${(error as Error).message})`);
  } finally {
    source.destroy();
  }
  if (!body) throw new DatasetFileError(file, `is truncated: ${headerFill} bytes, shorter than the ${headerBytes}-byte IDX header`);
  if (at < body.bodyBytes) {
    throw new DatasetFileError(file, `is truncated: ${at} of ${body.bodyBytes} data bytes after the header`);
  }
}

function hex(n: number): string {
  return n.toString(16).padStart(8, '0');
}
