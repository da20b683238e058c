import { open } from 'node:fs/promises';
import { endianness } from 'node:os';

/** The typed arrays `writeNpy` stores, with their NumPy dtypes. */
export type NpyData = Float32Array | Int32Array | BigInt64Array;

const MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 0x01, 0x00]);

function descr(data: NpyData): '<f4' | '<i4' | '<i8' {
  if (data instanceof Float32Array) return '<f4';
  if (data instanceof Int32Array) return '<i4';
  return '<i8';
}

/**
 * The NumPy v1.0 header for a C-ordered little-endian array: magic, version, header length, and the header dict padded
 * with spaces to a multiple of 64 bytes in total (so the data is aligned, as numpy writes it).
 */
export function npyHeader(dtype: '<f4' | '<i4' | '<i8', shape: readonly number[]): Buffer {
  const dims = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  const dict = `{'descr': '${dtype}', 'fortran_order': False, 'shape': ${dims}, }`;
  const unpadded = MAGIC.length + 2 + dict.length + 1;
  const padded = Math.ceil(unpadded / 64) * 64;
  const text = dict + ' '.repeat(padded - unpadded) + '\n';
  if (text.length > 0xffff) throw new Error(`npy header of ${text.length} bytes does not fit format version 1.0`);
  const len = Buffer.alloc(2);
  len.writeUInt16LE(text.length);
  return Buffer.concat([MAGIC, len, Buffer.from(text, 'latin1')]);
}

/**
 * Writes `data` as a NumPy `.npy` file (format 1.0, C order): `<f4` for Float32Array, `<i4` for Int32Array, `<i8` for
 * BigInt64Array. `shape` must hold exactly `data.length` elements. The data is written straight from the typed
 * array's memory, without a copy.
 */
export async function writeNpy(path: string, data: NpyData, shape: readonly number[]): Promise<void> {
  if (!shape.every((d) => Number.isInteger(d) && d >= 0)) throw new Error(`npy shape must be non-negative integers, got [${shape.join(', ')}]`);
  const size = shape.reduce((a, b) => a * b, 1);
  if (size !== data.length) throw new Error(`npy shape [${shape.join(', ')}] holds ${size} elements but the data has ${data.length}`);
  // The dtype says little-endian and the bytes are the host's; every platform Node ships for is little-endian.
  if (endianness() !== 'LE') throw new Error('writeNpy needs a little-endian host');
  const file = await open(path, 'w');
  try {
    await file.write(npyHeader(descr(data), shape));
    await file.write(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  } finally {
    await file.close();
  }
}
