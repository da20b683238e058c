import { mkdtempSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { gzipSync } from 'zlib';
import { DatasetFileError } from './dataset.errors';
import { IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC, readIdxImages, readIdxLabels } from './idx';

function imagesFile(count: number, rows: number, cols: number, pixels: number[], magic = IDX_IMAGES_MAGIC): Buffer {
  const header = Buffer.alloc(16);
  header.writeUInt32BE(magic, 0);
  header.writeUInt32BE(count, 4);
  header.writeUInt32BE(rows, 8);
  header.writeUInt32BE(cols, 12);
  return Buffer.concat([header, Buffer.from(pixels)]);
}

function labelsFile(labels: number[], count = labels.length): Buffer {
  const header = Buffer.alloc(8);
  header.writeUInt32BE(IDX_LABELS_MAGIC, 0);
  header.writeUInt32BE(count, 4);
  return Buffer.concat([header, Buffer.from(labels)]);
}

describe('IDX reader', () => {
  let dir: string;
  const file = (name: string, bytes: Buffer) => {
    const path = join(dir, name);
    writeFileSync(path, bytes);
    return path;
  };
  const pixels = [0, 255, 51, 102, 1, 2, 3, 4];
  const expect2x2 = { count: 2, rows: 2, cols: 2 };

  beforeAll(() => (dir = mkdtempSync(join(tmpdir(), 'datasets-idx-'))));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('decodes plain and gzipped images to [0, 1] float32, byte for byte after the 16-byte header', async () => {
    const bytes = imagesFile(2, 2, 2, pixels);
    for (const path of [file('img', bytes), file('img.gz', gzipSync(bytes))]) {
      const images = await readIdxImages(path, expect2x2);
      expect(images).toMatchObject(expect2x2);
      expect(Array.from(images.pixels)).toEqual(pixels.map((p) => Math.fround(p / 255)));
    }
  });

  it('reads labels as Int32Array', async () => {
    const labels = await readIdxLabels(file('lab', labelsFile([3, 0, 9])), 3, 10);
    expect(labels).toBeInstanceOf(Int32Array);
    expect(Array.from(labels)).toEqual([3, 0, 9]);
  });

  it('rejects a file of the wrong kind by its magic number, naming the file', async () => {
    const path = file('labels-as-images', labelsFile([1, 2]));
    await expect(readIdxImages(path, expect2x2)).rejects.toThrow(DatasetFileError);
    await expect(readIdxImages(path, expect2x2)).rejects.toThrow(`${path}: magic number 0x00000801 is not 0x00000803`);
  });

  it('rejects truncated data, a truncated header and a truncated gzip stream', async () => {
    const whole = imagesFile(2, 2, 2, pixels);
    await expect(readIdxImages(file('short', whole.subarray(0, 20)), expect2x2)).rejects.toThrow(
      /short: is truncated: 4 of 8 data bytes after the header/,
    );
    await expect(readIdxImages(file('header', whole.subarray(0, 10)), expect2x2)).rejects.toThrow(/header: is truncated: 10 bytes/);
    const gz = gzipSync(whole);
    await expect(readIdxImages(file('cut.gz', gz.subarray(0, gz.length - 6)), expect2x2)).rejects.toThrow(/cut\.gz: cannot be read/);
  });

  it('rejects trailing bytes and counts or sizes other than expected', async () => {
    await expect(readIdxImages(file('long', imagesFile(2, 2, 2, [...pixels, 7])), expect2x2)).rejects.toThrow(
      /long: has more data than its header announces/,
    );
    await expect(readIdxImages(file('three', imagesFile(3, 2, 2, [...pixels, 1, 2, 3, 4])), expect2x2)).rejects.toThrow(
      /three: holds 3 images of 2x2, expected 2 of 2x2/,
    );
    await expect(readIdxLabels(file('labcount', labelsFile([1, 2], 5)), 2, 10)).rejects.toThrow(/labcount: holds 5 labels, expected 2/);
  });

  it('rejects a label outside the class range and a missing file', async () => {
    await expect(readIdxLabels(file('lab12', labelsFile([1, 12])), 2, 10)).rejects.toThrow(/label 12 of sample 1 is outside 0\.\.9/);
    await expect(readIdxLabels(join(dir, 'absent'), 2, 10)).rejects.toThrow(/absent: cannot be read \(ENOENT/);
  });
});
