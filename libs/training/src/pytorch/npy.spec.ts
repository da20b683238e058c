import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeNpy } from './npy';
import { SYSTEM_PYTHON } from './python';

describe('writeNpy', () => {
  const dir = mkdtempSync(join(tmpdir(), 'npy-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes files numpy loads with the same dtype, shape, C order and values', async () => {
    const cases = {
      f4: { data: Float32Array.from([1.5, -2, 3.25, 0, 1e-8, -7]), shape: [2, 3] },
      i4: { data: Int32Array.from([0, -1, 2147483647, -2147483648]), shape: [4] },
      i8: { data: BigInt64Array.from([0n, 9007199254740993n, -5n, 42n, 7n, 8n]), shape: [3, 1, 2] },
      scalar: { data: Float32Array.from([0.1]), shape: [] },
      empty: { data: new Float32Array(0), shape: [0, 5] },
    };
    for (const [name, c] of Object.entries(cases)) await writeNpy(join(dir, `${name}.npy`), c.data, c.shape);
    const probe = [
      'import json, sys, numpy as np',
      'out = {}',
      'for name in sys.argv[2:]:',
      '    a = np.load("%s/%s.npy" % (sys.argv[1], name), allow_pickle=False)',
      '    out[name] = [a.dtype.str, list(a.shape), bool(a.flags.c_contiguous), [str(v) for v in a.reshape(-1).tolist()] if a.dtype.kind == "i" else a.reshape(-1).tolist()]',
      'print(json.dumps(out))',
    ].join('\n');
    const loaded = JSON.parse(execFileSync(SYSTEM_PYTHON, ['-c', probe, dir, ...Object.keys(cases)], { encoding: 'utf8' }));
    expect(loaded).toEqual({
      f4: ['<f4', [2, 3], true, Array.from(cases.f4.data)],
      i4: ['<i4', [4], true, ['0', '-1', '2147483647', '-2147483648']],
      i8: ['<i8', [3, 1, 2], true, ['0', '9007199254740993', '-5', '42', '7', '8']],
      scalar: ['<f4', [], true, [Math.fround(0.1)]],
      empty: ['<f4', [0, 5], true, []],
    });
  });

  it('pads the header so the data starts on a 64-byte boundary', async () => {
    for (const shape of [[1], [12, 34, 56], [...Array(30).fill(1), 3]]) {
      const path = join(dir, 'aligned.npy');
      await writeNpy(path, new Float32Array(shape.reduce((a, b) => a * b, 1)), shape);
      const bytes = readFileSync(path);
      expect(bytes.subarray(0, 8)).toEqual(Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]));
      const start = 10 + bytes.readUInt16LE(8);
      expect(start % 64).toBe(0);
      expect(bytes[start - 1]).toBe(0x0a);
      expect(bytes.length - start).toBe(4 * shape.reduce((a, b) => a * b, 1));
    }
  });

  it('refuses a shape that does not hold the data', async () => {
    await expect(writeNpy(join(dir, 'bad.npy'), new Float32Array(5), [2, 3])).rejects.toThrow('npy shape [2, 3] holds 6 elements but the data has 5');
    await expect(writeNpy(join(dir, 'bad.npy'), new Float32Array(2), [-1, -2])).rejects.toThrow('npy shape must be non-negative integers');
  });
});
