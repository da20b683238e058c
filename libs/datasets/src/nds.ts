import { randomBytes } from 'crypto';
import { mkdir, open, rename, rm } from 'fs/promises';
import { endianness } from 'os';
import { basename, dirname, join } from 'path';
import { DatasetFileError } from './dataset.errors';

/** `N` `D` `S` NUL: the first four bytes of every NDS file. */
export const NDS_MAGIC = Buffer.from('NDS\0', 'latin1');
export const NDS_VERSION = 1;
/** The fixed part before the JSON header: magic, version (u32 LE), header length (u32 LE). */
const PREAMBLE_BYTES = 12;
/** Larger than any sane header (class names included); a bigger value means the file is not ours. */
const MAX_HEADER_BYTES = 16 << 20;

/** The JSON header of an NDS file. */
export interface NdsHeader {
  name: string;
  task: 'classification' | 'regression';
  description: string;
  source: string;
  /** Samples in the file; the first `trainCount` are the training split, the remaining `testCount` the test split. */
  count: number;
  trainCount: number;
  testCount: number;
  sampleShape: number[];
  labelShape: number[];
  labelType: 'int32' | 'float32';
  numClasses: number | null;
  classNames: string[] | null;
  /** CSV column names of the features, in order; null for JSON uploads. */
  featureNames: string[] | null;
  /** The CSV column the labels came from; null for JSON uploads. */
  labelColumn: string | null;
}

/** An NDS file in memory: `x` and `y` are views into one buffer holding the whole file. */
export interface NdsContent {
  header: NdsHeader;
  x: Float32Array;
  y: Int32Array | Float32Array;
}

/**
 * Writes an NDS ("neural dataset") file:
 *
 * | offset        | bytes              | content                                                          |
 * |---------------|--------------------|------------------------------------------------------------------|
 * | 0             | 4                  | magic `NDS\0`                                                    |
 * | 4             | 4                  | format version, uint32 little-endian (1)                         |
 * | 8             | 4                  | H = byte length of the JSON header, uint32 little-endian         |
 * | 12            | H                  | {@link NdsHeader} as UTF-8 JSON                                  |
 * | 12 + H        | 0..7               | zero padding, so the samples start at a multiple of 8            |
 * | X             | count × S × 4      | samples, float32 little-endian, row-major (S = prod(sampleShape)) |
 * | X + count·S·4 | count × L × 4      | labels, int32 or float32 little-endian (L = prod(labelShape))    |
 *
 * Both arrays start at multiples of 4, so a reader views them in place instead of copying. Samples are written in
 * `order` (train first, then test); the file is written beside `path` and renamed over it, so a reader never sees
 * half a file.
 */
export async function writeNds(
  path: string,
  header: NdsHeader,
  x: Float32Array,
  y: Int32Array | Float32Array,
  order?: ArrayLike<number>,
): Promise<{ bytes: number }> {
  assertLittleEndian();
  const sampleSize = product(header.sampleShape);
  const labelSize = product(header.labelShape);
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const dataStart = align8(PREAMBLE_BYTES + json.length);
  const preamble = Buffer.alloc(dataStart);
  NDS_MAGIC.copy(preamble, 0);
  preamble.writeUInt32LE(NDS_VERSION, 4);
  preamble.writeUInt32LE(json.length, 8);
  json.copy(preamble, PREAMBLE_BYTES);

  await mkdir(dirname(path), { recursive: true });
  const temp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await open(temp, 'wx', 0o644);
  let bytes = 0;
  try {
    const write = async (chunk: Uint8Array) => {
      await handle.write(chunk, 0, chunk.length);
      bytes += chunk.length;
    };
    await write(preamble);
    await writeRows(write, x, sampleSize, header.count, order);
    await writeRows(write, y, labelSize, header.count, order);
    await handle.datasync();
  } catch (error) {
    await handle.close();
    await rm(temp, { force: true });
    throw error;
  }
  await handle.close();
  try {
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
  return { bytes };
}

/** Reads an NDS file written by {@link writeNds}; anything else (or a truncated file) is a DatasetFileError. */
export async function readNds(path: string): Promise<NdsContent> {
  assertLittleEndian();
  const handle = await open(path, 'r');
  let buffer: ArrayBuffer;
  try {
    const size = (await handle.stat()).size;
    // A buffer of our own starts at offset 0, so the typed-array views below are always aligned.
    buffer = new ArrayBuffer(size);
    const bytes = new Uint8Array(buffer);
    for (let filled = 0; filled < size; ) {
      const { bytesRead } = await handle.read(bytes, filled, size - filled, filled);
      if (bytesRead === 0) throw new DatasetFileError(path, 'changed size while being read');
      filled += bytesRead;
    }
  } finally {
    await handle.close();
  }
  const bytes = Buffer.from(buffer);
  if (bytes.length < PREAMBLE_BYTES || !bytes.subarray(0, 4).equals(NDS_MAGIC)) {
    throw new DatasetFileError(path, 'is not an NDS dataset file (bad magic)');
  }
  const version = bytes.readUInt32LE(4);
  if (version !== NDS_VERSION) throw new DatasetFileError(path, `has NDS version ${version}; this reader knows ${NDS_VERSION}`);
  const headerBytes = bytes.readUInt32LE(8);
  if (headerBytes > MAX_HEADER_BYTES || PREAMBLE_BYTES + headerBytes > bytes.length) {
    throw new DatasetFileError(path, 'is truncated inside its header');
  }
  let header: NdsHeader;
  try {
    header = JSON.parse(bytes.toString('utf8', PREAMBLE_BYTES, PREAMBLE_BYTES + headerBytes)) as NdsHeader;
  } catch {
    throw new DatasetFileError(path, 'has a header that is not valid JSON');
  }
  assertHeader(path, header);
  const xStart = align8(PREAMBLE_BYTES + headerBytes);
  const xLength = header.count * product(header.sampleShape);
  const yStart = xStart + xLength * 4;
  const yLength = header.count * product(header.labelShape);
  const expected = yStart + yLength * 4;
  if (bytes.length !== expected) {
    throw new DatasetFileError(path, `is ${bytes.length} bytes but its header describes ${expected}; the file is damaged`);
  }
  const x = new Float32Array(buffer, xStart, xLength);
  const y = header.labelType === 'int32' ? new Int32Array(buffer, yStart, yLength) : new Float32Array(buffer, yStart, yLength);
  return { header, x, y };
}

/** Writes `count` rows of `rowSize` values in `order`, in chunks of about 1 MB. */
async function writeRows(
  write: (chunk: Uint8Array) => Promise<void>,
  values: Float32Array | Int32Array,
  rowSize: number,
  count: number,
  order?: ArrayLike<number>,
): Promise<void> {
  if (!order) {
    const bytes = new Uint8Array(values.buffer, values.byteOffset, count * rowSize * 4);
    for (let at = 0; at < bytes.length; at += 1 << 20) await write(bytes.subarray(at, at + (1 << 20)));
    return;
  }
  const rowsPerChunk = Math.max(1, Math.floor((1 << 18) / Math.max(1, rowSize)));
  const chunk = new (values.constructor as Float32ArrayConstructor | Int32ArrayConstructor)(rowsPerChunk * rowSize);
  for (let first = 0; first < count; first += rowsPerChunk) {
    const rows = Math.min(rowsPerChunk, count - first);
    for (let r = 0; r < rows; r++) {
      const from = order[first + r] * rowSize;
      chunk.set(values.subarray(from, from + rowSize), r * rowSize);
    }
    await write(new Uint8Array(chunk.buffer, 0, rows * rowSize * 4));
  }
}

function assertHeader(path: string, h: NdsHeader): void {
  const isShape = (s: unknown) => Array.isArray(s) && s.every((d) => Number.isInteger(d) && d > 0);
  const ok =
    typeof h === 'object' &&
    h !== null &&
    typeof h.name === 'string' &&
    (h.task === 'classification' || h.task === 'regression') &&
    Number.isInteger(h.count) &&
    Number.isInteger(h.trainCount) &&
    Number.isInteger(h.testCount) &&
    h.trainCount >= 0 &&
    h.testCount >= 0 &&
    h.trainCount + h.testCount === h.count &&
    isShape(h.sampleShape) &&
    isShape(h.labelShape) &&
    (h.labelType === 'int32' || h.labelType === 'float32');
  if (!ok) throw new DatasetFileError(path, 'has an NDS header with missing or inconsistent fields');
}

function assertLittleEndian(): void {
  // The arrays are stored little-endian and viewed in place; a big-endian host would need byte swapping.
  if (endianness() !== 'LE') throw new Error('NDS files can only be read and written on little-endian hosts');
}

export function product(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function align8(n: number): number {
  return Math.ceil(n / 8) * 8;
}
