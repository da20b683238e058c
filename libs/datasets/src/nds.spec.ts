import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { DatasetFileError } from './dataset.errors';
import { type NdsHeader, readNds, writeNds } from './nds';

function header(over: Partial<NdsHeader> = {}): NdsHeader {
  return {
    name: 'u1',
    task: 'classification',
    description: 'test',
    source: 'upload (CSV)',
    count: 5,
    trainCount: 3,
    testCount: 2,
    sampleShape: [2, 3],
    labelShape: [],
    labelType: 'int32',
    numClasses: 3,
    classNames: ['a', 'b', 'c'],
    featureNames: null,
    labelColumn: null,
    ...over,
  };
}

/** Awkward float32 values: -0, a subnormal, the largest float32, an inexact decimal, a value float64 would round. */
const TRICKY = [-0, 1e-40, 3.4028234663852886e38, 0.1, 1 / 3, -123456.789];

describe('NDS files', () => {
  let dir: string;
  beforeAll(() => (dir = mkdtempSync(join(tmpdir(), 'datasets-nds-'))));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('round-trips samples and labels bit for bit, rows in the given order, as aligned views of one buffer', async () => {
    const x = Float32Array.from({ length: 30 }, (_, i) => TRICKY[i % TRICKY.length] * (i + 1));
    const y = Int32Array.from([0, 1, 2, 1, 0]);
    const order = [4, 0, 2, 1, 3];
    const path = join(dir, 'a.nds');
    const { bytes } = await writeNds(path, header(), x, y, order);

    const read = await readNds(path);
    expect(bytes).toBe(readFileSync(path).length);
    expect(read.header).toEqual(header());
    const expectedX = Float32Array.from(order.flatMap((r) => Array.from(x.subarray(r * 6, r * 6 + 6))));
    expect(new Uint32Array(read.x.buffer, read.x.byteOffset, read.x.length)).toEqual(new Uint32Array(expectedX.buffer));
    expect(Array.from(read.y)).toEqual(order.map((r) => y[r]));
    expect(read.y).toBeInstanceOf(Int32Array);
    expect(read.x.buffer).toBe(read.y.buffer);
    expect(read.x.byteOffset % 8).toBe(0);
    expect(readdirSync(dir)).toEqual(['a.nds']);
  });

  it('lays the file out as magic, version, header length, JSON header, padding, samples, labels', async () => {
    const path = join(dir, 'layout.nds');
    const x = Float32Array.from([1.5, -2]);
    const y = Float32Array.from([0.25, 4]);
    await writeNds(path, header({ count: 2, trainCount: 2, testCount: 0, sampleShape: [1], task: 'regression', labelType: 'float32', numClasses: null, classNames: null }), x, y);
    const file = readFileSync(path);
    expect(file.subarray(0, 4).toString('latin1')).toBe('NDS\0');
    expect(file.readUInt32LE(4)).toBe(1);
    const headerLength = file.readUInt32LE(8);
    expect(JSON.parse(file.toString('utf8', 12, 12 + headerLength)).count).toBe(2);
    const xStart = Math.ceil((12 + headerLength) / 8) * 8;
    expect(file.length).toBe(xStart + 16);
    expect([file.readFloatLE(xStart), file.readFloatLE(xStart + 4), file.readFloatLE(xStart + 8), file.readFloatLE(xStart + 12)]).toEqual([1.5, -2, 0.25, 4]);
  });

  it('rejects a file that is not NDS, one of another version, and one that is truncated', async () => {
    const good = join(dir, 'good.nds');
    await writeNds(good, header(), new Float32Array(30), new Int32Array(5));
    const bytes = readFileSync(good);

    const other = join(dir, 'other.csv');
    writeFileSync(other, 'a,b\n1,2\n');
    await expect(readNds(other)).rejects.toThrow(new DatasetFileError(other, 'is not an NDS dataset file (bad magic)'));

    const future = join(dir, 'future.nds');
    const changed = Buffer.from(bytes);
    changed.writeUInt32LE(2, 4);
    writeFileSync(future, changed);
    await expect(readNds(future)).rejects.toThrow(/future\.nds: has NDS version 2/);

    const cut = join(dir, 'cut.nds');
    writeFileSync(cut, bytes.subarray(0, bytes.length - 4));
    await expect(readNds(cut)).rejects.toThrow(/cut\.nds: is \d+ bytes but its header describes \d+; the file is damaged/);
  });
});
