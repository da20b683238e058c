import { mkdtempSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { Readable } from 'stream';
import { DatasetFormatError } from './dataset.errors';
import { ingestDataset, type IngestOptions, loadIngestedDataset } from './ingest';

describe('ingestDataset', () => {
  let dir: string;
  let n = 0;
  const limits = { maxSamples: 1000, maxFeatures: 100 };
  const options = (over: Partial<IngestOptions> = {}): IngestOptions => ({ name: 'upload-1', outputPath: join(dir, `out-${++n}.nds`), limits, ...over });
  const file = (text: string, ext = 'csv') => {
    const path = join(dir, `in-${++n}.${ext}`);
    writeFileSync(path, text);
    return path;
  };
  const csv = (text: string, over: Partial<IngestOptions> = {}) => ingestDataset(file(text), 'csv', options(over));
  const json = (doc: unknown, over: Partial<IngestOptions> = {}) =>
    ingestDataset(file(typeof doc === 'string' ? doc : JSON.stringify(doc), 'json'), 'json', options(over));
  const fails = async (run: Promise<unknown>, message: string | RegExp) => {
    await expect(run).rejects.toBeInstanceOf(DatasetFormatError);
    await expect(run).rejects.toThrow(message);
  };

  beforeAll(() => (dir = mkdtempSync(join(tmpdir(), 'datasets-ingest-'))));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  describe('CSV', () => {
    it('takes integer labels ≥ 0 from a column named label as class indices, every other column as a feature', async () => {
      const result = await csv('a,Label,b\n1,0,2\n3,2,4\n5,1,6.5\n');
      expect(result.info).toMatchObject({
        name: 'upload-1',
        kind: 'upload',
        task: 'classification',
        sampleShape: [2],
        labelShape: [],
        numClasses: 3,
        trainSamples: 3,
        testSamples: 0,
        available: true,
      });
      expect(result.info.classNames).toBeUndefined();
      expect(result).toMatchObject({ featureNames: ['a', 'b'], labelColumn: 'Label' });
      const loaded = await loadIngestedDataset(result.path);
      expect(loaded.info).toEqual(result.info);
      expect(Array.from(loaded.train.x)).toEqual([1, 2, 3, 4, 5, 6.5]);
      expect(loaded.train.y).toBeInstanceOf(Int32Array);
      expect(Array.from(loaded.train.y)).toEqual([0, 2, 1]);
      expect(loaded.test).toBeNull();
    });

    it('names classes by their strings, sorted, when a label is not a number; the last column is the default label', async () => {
      const result = await csv('sepal,petal,species\n1,2,virginica\n3,4,setosa\n5,6,versicolor\n7,8,setosa\n');
      expect(result.labelColumn).toBe('species');
      expect(result.info).toMatchObject({ task: 'classification', numClasses: 3, classNames: ['setosa', 'versicolor', 'virginica'] });
      expect(Array.from((await loadIngestedDataset(result.path)).train.y)).toEqual([2, 0, 1, 0]);
    });

    it('treats fractional or negative numbers as regression targets (float32, labelShape [])', async () => {
      const result = await csv('x1,target\n1,0.5\n2,-1\n3,2\n');
      expect(result.info).toMatchObject({ task: 'regression', numClasses: null, labelShape: [] });
      const loaded = await loadIngestedDataset(result.path);
      expect(loaded.train.y).toBeInstanceOf(Float32Array);
      expect(Array.from(loaded.train.y)).toEqual([0.5, -1, 2]);
    });

    it('uses the labelColumn asked for, and refuses one that is not in the header', async () => {
      expect((await csv('p,q,r\n1,2,3\n4,5,6\n', { labelColumn: 'p' })).featureNames).toEqual(['q', 'r']);
      await fails(csv('p,q,r\n1,2,3\n4,5,6\n', { labelColumn: 'species' }), 'the label column "species" is not in the header (columns: p, q, r)');
    });

    it('reads quoted fields, a BOM, CRLF line ends, blank lines and a stream', async () => {
      const text = '\ufeff"width","height","kind"\r\n"1.5", 2 ,"big, round"\r\n\r\n3,"4e-1","small ""x"""\r\n';
      const result = await ingestDataset(Readable.from([text]), 'csv', options());
      expect(result.featureNames).toEqual(['width', 'height']);
      expect(result.info.classNames).toEqual(['big, round', 'small "x"']);
      expect(Array.from((await loadIngestedDataset(result.path)).train.x)).toEqual([1.5, 2, 3, Math.fround(0.4)]);
    });

    it('refuses a row with the wrong number of fields, naming its line', async () => {
      await fails(csv('a,b,label\n1,2,0\n3,4,1\n5,6\n'), 'line 4 has 2 fields but the header has 3');
    });

    it('refuses a non-numeric feature, naming the line and column', async () => {
      const run = csv('a,b,label\n1,2,0\n3,4,1\n5,NA,1\n');
      await fails(run, 'line 4, column "b": "NA" is not a number');
      await expect(run).rejects.toMatchObject({ location: { line: 4, column: 'b' } });
      await fails(csv('a,b,label\n1,0x10,0\n3,4,1\n'), 'line 2, column "b": "0x10" is not a number');
      await fails(csv('a,b,label\n1,,0\n3,4,1\n'), 'line 2, column "b": "" is not a number');
    });

    it('refuses an empty file, a header without samples, a single sample and a missing header', async () => {
      await fails(csv(''), 'the file is empty');
      await fails(csv('a,label\n'), 'the dataset has 0 samples; at least 2 are needed');
      await fails(csv('a,label\n1,0\n'), 'the dataset has 1 sample; at least 2 are needed');
      await fails(csv('1,2,0\n3,4,1\n'), 'holds numbers, not column names; a header row naming the columns is required');
      await fails(csv('a,label\n1,\n2,1\n'), 'line 2: the label column "label" is empty');
    });

    it('refuses more samples, features or classes than the limits, naming the limit and its value', async () => {
      const rows = Array.from({ length: 6 }, (_, i) => `${i},${i % 2}`).join('\n');
      await fails(csv(`a,label\n${rows}\n`, { limits: { maxSamples: 5, maxFeatures: 10 } }), 'the file has more than 5 samples (limit maxSamples = 5)');
      await fails(csv('a,b,c,label\n1,2,3,0\n', { limits: { maxSamples: 5, maxFeatures: 2 } }), 'the header has 3 feature columns, more than the limit (maxFeatures = 2)');
      await fails(
        csv('a,label\n1,0\n2,50\n', { limits: { maxSamples: 5, maxFeatures: 2, maxClasses: 10 } }),
        'the labels are class indices up to 50 (line 3), which means 51 classes, more than the limit (maxClasses = 10)',
      );
    });

    it('reports broken CSV syntax as a DatasetFormatError', async () => {
      await fails(csv('a,label\n1,"0\n2,1\n'), /not valid CSV: .*Quote Not Closed/);
    });

    it('streams a larger file into the right samples', async () => {
      const lines = ['f0,f1,f2,label'];
      for (let i = 0; i < 5000; i++) lines.push(`${i},${i / 4},${-i},${i % 7}`);
      const result = await csv(lines.join('\n'), { limits: { maxSamples: 5000, maxFeatures: 3 } });
      const loaded = await loadIngestedDataset(result.path);
      expect(loaded.train.count).toBe(5000);
      expect(Array.from(loaded.train.x.subarray(3 * 4999))).toEqual([4999, 4999 / 4, -4999]);
      expect(loaded.train.y[4999]).toBe(4999 % 7);
      expect(result.info.numClasses).toBe(7);
    });
  });

  describe('testSplit', () => {
    it('keeps a stratified test split at the end of the file, training samples first', async () => {
      const rows = [...Array.from({ length: 7 }, (_, i) => `${i},a`), ...Array.from({ length: 3 }, (_, i) => `${100 + i},b`)];
      const result = await csv(`v,label\n${rows.join('\n')}\n`, { testSplit: 0.3 });
      expect(result.info).toMatchObject({ trainSamples: 7, testSamples: 3, classNames: ['a', 'b'] });
      const loaded = await loadIngestedDataset(result.path);
      expect(Array.from(loaded.test!.x)).toEqual([3, 6, 102]);
      expect(Array.from(loaded.test!.y)).toEqual([0, 0, 1]);
      expect(Array.from(loaded.train.x)).toEqual([0, 1, 2, 4, 5, 100, 101]);
      expect(Array.from(loaded.train.y)).toEqual([0, 0, 0, 0, 0, 1, 1]);
      expect(loaded.train).toMatchObject({ count: 7, sampleShape: [1], labelShape: [] });
    });

    it('refuses a testSplit outside [0, 1) or one that leaves no training samples', async () => {
      await fails(csv('v,label\n1,0\n2,1\n', { testSplit: 1 }), 'testSplit must be a number from 0 up to (not including) 1, got 1');
      await fails(csv('v,label\n1,0\n2,0\n', { testSplit: 0.6 }), 'testSplit 0.6 puts all 2 samples in the test split and leaves none for training');
    });
  });

  describe('JSON', () => {
    it('takes nested arrays of one shape as samples of that shape', async () => {
      const image = (k: number) => Array.from({ length: 8 }, (_, r) => Array.from({ length: 8 }, (_, c) => k + r * 8 + c));
      const result = await json({ x: [image(0), image(100), image(200)], y: [0, 1, 1] });
      expect(result.info).toMatchObject({ sampleShape: [8, 8], task: 'classification', numClasses: 2 });
      expect(result.featureNames).toBeNull();
      const loaded = await loadIngestedDataset(result.path);
      expect(loaded.train.sampleShape).toEqual([8, 8]);
      expect(Array.from(loaded.train.x.subarray(64, 66))).toEqual([100, 101]);
      expect(loaded.train.x[3 * 64 - 1]).toBe(263);
    });

    it('takes numbers as samples of shape [1] and strings as class names', async () => {
      const result = await json({ x: [1, 2, 3], y: ['no', 'yes', 'no'] });
      expect(result.info).toMatchObject({ sampleShape: [1], classNames: ['no', 'yes'] });
    });

    it('takes arrays of numbers in y as target vectors', async () => {
      const result = await json({ x: [[1, 2], [3, 4]], y: [[0.5, 1, 2], [3, 4, 5.25]] });
      expect(result.info).toMatchObject({ task: 'regression', labelShape: [3], numClasses: null });
      const loaded = await loadIngestedDataset(result.path);
      expect(loaded.train.labelShape).toEqual([3]);
      expect(Array.from(loaded.train.y)).toEqual([0.5, 1, 2, 3, 4, 5.25]);
    });

    it('names the first sample whose shape differs from x[0], or the first bad element', async () => {
      const x = Array.from({ length: 20 }, () => [1, 2, 3, 4]);
      x[17] = [1, 2, 3];
      const y = new Array(20).fill(0);
      const run = json({ x, y });
      await fails(run, 'x[17] has shape [3] but x[0] has [4]');
      await expect(run).rejects.toMatchObject({ location: { index: 17 } });
      await fails(json({ x: [[[1, 2], [3, 4]], [[1, 2], [3]]], y: [0, 1] }), 'x[1][1] has 1 items where x[0] has 2 items; every sample must have shape [2, 2]');
      await fails(json({ x: [[1, 2], [3, 'a']], y: [0, 1] }), 'x[1][1] is "a", not a number');
      await fails(json({ x: [1, [2]], y: [0, 1] }), 'x[1] has shape [1] but x[0] has a number');
    });

    it('refuses mismatched labels, bad label values and documents of the wrong form', async () => {
      await fails(json({ x: [1, 2, 3], y: [0, 1] }), 'x has 3 samples but y has 2 labels');
      await fails(json({ x: [1, 2], y: [0, null] }), 'y[1] is null; a label must be a number, a string or an array of numbers');
      await fails(json({ x: [1, 2], y: [[1, 2], [3]] }), 'y[1] has 1 values but y[0] has 2');
      await fails(json({ x: [1, 2], y: [[1], 2] }), 'y[1] is 2 but y[0] is an array of 1 numbers');
      await fails(json([1, 2]), 'a JSON upload must be an object {"x": [...], "y": [...]}');
      await fails(json('{"x": [1, 2], "y": [0, 1'), /not valid JSON/);
      await fails(json(''), 'the file is empty');
    });

    it('refuses more samples or values per sample than the limits', async () => {
      const small = { limits: { maxSamples: 2, maxFeatures: 3 } };
      await fails(json({ x: [1, 2, 3], y: [0, 1, 0] }, small), 'x has 3 samples, more than the limit (maxSamples = 2)');
      await fails(json({ x: [[[1, 2], [3, 4]], [[1, 2], [3, 4]]], y: [0, 1] }, small), 'each sample has 4 values (shape [2, 2]), more than the limit (maxFeatures = 3)');
    });

    it('stores float32 values bit-exactly', async () => {
      const values = [-0, 1e-40, 3.4028234663852886e38, 0.1, 1 / 3, -123456.789, 16777217];
      // Written by hand because JSON.stringify turns -0 into 0.
      const text = `{"x": [${values.map((v) => `[${Object.is(v, -0) ? '-0' : v}, ${-v}]`).join(', ')}], "y": [${values.map((_, i) => i).join(', ')}]}`;
      const result = await json(text);
      const { x } = (await loadIngestedDataset(result.path)).train;
      const expected = Float32Array.from(values.flatMap((v) => [v, -v]));
      expect(new Uint32Array(x.buffer, x.byteOffset, x.length)).toEqual(new Uint32Array(expected.buffer));
    });
  });
});
