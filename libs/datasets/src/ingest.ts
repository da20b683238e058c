import { createReadStream } from 'fs';
import { readFile } from 'fs/promises';
import { pipeline } from 'stream';
import { parse as parseCsvStream } from 'csv-parse';
import { DatasetError, DatasetFormatError, type DatasetFormatLocation } from './dataset.errors';
import { type NdsHeader, product, readNds, writeNds } from './nds';
import { splitIndices } from './split';
import type { DatasetInfo, LoadedDataset } from './types';
import type { TensorData } from '@app/dsl/train/types';

export type UploadFormat = 'csv' | 'json';

/** Most classes an upload may have unless `limits.maxClasses` says otherwise. */
export const DEFAULT_MAX_CLASSES = 1000;

export interface IngestLimits {
  maxSamples: number;
  /** Values per sample: CSV feature columns, or the product of a JSON sample's shape. */
  maxFeatures: number;
  /** Distinct classes (string labels) or largest class index + 1; default {@link DEFAULT_MAX_CLASSES}. */
  maxClasses?: number;
}

export interface IngestOptions {
  /** The dataset's name in its DatasetInfo (an upload id). */
  name: string;
  /** Where the NDS file is written (atomically; parent directories are created). */
  outputPath: string;
  /** CSV only: the label column; default a column named label, target, class or y (any case), else the last. */
  labelColumn?: string;
  /** Fraction of the samples kept as the test split, 0 ≤ testSplit < 1; default 0. */
  testSplit?: number;
  limits: IngestLimits;
}

/** An upload turned into an NDS file. */
export interface IngestedDataset {
  info: DatasetInfo;
  /** The NDS file, `opts.outputPath`. */
  path: string;
  bytes: number;
  /** CSV feature column names in sample order; null for JSON. */
  featureNames: string[] | null;
  /** The CSV column the labels were taken from; null for JSON. */
  labelColumn: string | null;
}

/** Parsed samples before the split: `x` may be longer than `count × prod(sampleShape)` (growth slack). */
interface ParsedUpload {
  count: number;
  x: Float32Array;
  sampleShape: number[];
  labels: EncodedLabels;
  featureNames: string[] | null;
  labelColumn: string | null;
}

interface EncodedLabels {
  task: 'classification' | 'regression';
  y: Int32Array | Float32Array;
  labelShape: number[];
  numClasses: number | null;
  classNames: string[] | null;
}

const LABEL_COLUMN_NAMES = ['label', 'target', 'class', 'y'];
const NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const MAX_CLASS_INDEX = 0x7fffffff;

/**
 * Validates an uploaded CSV or JSON dataset and writes it as an NDS file (see {@link writeNds}) at `opts.outputPath`,
 * the training split first, then the test split chosen by {@link splitIndices} (stratified for classification).
 *
 * Labels: all non-negative integers are class indices (numClasses = largest + 1); any non-numeric value makes every
 * label a class name (classes sorted by UTF-16 code units, classNames recorded); other numbers (fractions, negative
 * values) are regression targets. JSON labels may also be arrays of numbers (target vectors, labelShape [k]).
 * CSV is parsed as a stream; JSON (`{"x": [...], "y": [...]}`, bounded in size by the caller) is parsed whole.
 * Every problem with the data is a DatasetFormatError naming the line and column, or the sample index.
 */
export async function ingestDataset(
  input: NodeJS.ReadableStream | string,
  format: UploadFormat,
  opts: IngestOptions,
): Promise<IngestedDataset> {
  const testSplit = opts.testSplit ?? 0;
  if (!(typeof testSplit === 'number' && testSplit >= 0 && testSplit < 1)) {
    throw new DatasetFormatError(`testSplit must be a number from 0 up to (not including) 1, got ${testSplit}`);
  }
  const maxClasses = opts.limits.maxClasses ?? DEFAULT_MAX_CLASSES;
  let parsed: ParsedUpload;
  if (format === 'csv') parsed = await parseCsv(input, opts, maxClasses);
  else if (format === 'json') parsed = await parseJson(input, opts, maxClasses);
  else throw new DatasetFormatError(`unknown upload format ${JSON.stringify(format)}; use csv or json`);

  const { count, labels } = parsed;
  const split = splitIndices(count, testSplit, labels.task === 'classification' ? labels.y : undefined);
  if (split.train.length === 0) {
    throw new DatasetFormatError(
      `testSplit ${testSplit} puts all ${count} samples in the test split and leaves none for training; use a smaller testSplit`,
    );
  }
  const header: NdsHeader = {
    name: opts.name,
    task: labels.task,
    description: describeUpload(format, parsed),
    source: `upload (${format.toUpperCase()})`,
    count,
    trainCount: split.train.length,
    testCount: split.test.length,
    sampleShape: parsed.sampleShape,
    labelShape: labels.labelShape,
    labelType: labels.y instanceof Int32Array ? 'int32' : 'float32',
    numClasses: labels.numClasses,
    classNames: labels.classNames,
    featureNames: parsed.featureNames,
    labelColumn: parsed.labelColumn,
  };
  const order = split.test.length ? [...split.train, ...split.test] : undefined;
  const { bytes } = await writeNds(opts.outputPath, header, parsed.x, labels.y, order);
  return {
    info: infoFromHeader(header),
    path: opts.outputPath,
    bytes,
    featureNames: parsed.featureNames,
    labelColumn: parsed.labelColumn,
  };
}

/**
 * Reads an NDS file written by {@link ingestDataset}, with the train/test split as stored. `x` and `y` of both
 * splits are views into one buffer holding the file, so nothing is copied. Not cached: the caller decides.
 */
export async function loadIngestedDataset(path: string): Promise<LoadedDataset> {
  const { header, x, y } = await readNds(path);
  const sampleSize = product(header.sampleShape);
  const labelSize = product(header.labelShape);
  const part = (first: number, count: number): TensorData => ({
    x: x.subarray(first * sampleSize, (first + count) * sampleSize),
    y: y.subarray(first * labelSize, (first + count) * labelSize),
    count,
    sampleShape: [...header.sampleShape],
    labelShape: [...header.labelShape],
  });
  return {
    info: infoFromHeader(header),
    train: part(0, header.trainCount),
    test: header.testCount > 0 ? part(header.trainCount, header.testCount) : null,
  };
}

function infoFromHeader(h: NdsHeader): DatasetInfo {
  return {
    name: h.name,
    kind: 'upload',
    task: h.task,
    sampleShape: [...h.sampleShape],
    labelShape: [...h.labelShape],
    numClasses: h.numClasses,
    ...(h.classNames && { classNames: [...h.classNames] }),
    trainSamples: h.trainCount,
    testSamples: h.testCount,
    available: true,
    description: h.description,
    source: h.source,
  };
}

function describeUpload(format: UploadFormat, p: ParsedUpload): string {
  const l = p.labels;
  const labels =
    l.task === 'classification'
      ? `${l.numClasses} classes`
      : l.labelShape.length
        ? `target vectors of ${l.labelShape[0]}`
        : 'scalar targets';
  const samples =
    format === 'csv'
      ? `${p.count} samples of ${p.sampleShape[0]} features, label column ${JSON.stringify(p.labelColumn)}`
      : `${p.count} samples of shape [${p.sampleShape.join(', ')}]`;
  return `Uploaded ${format.toUpperCase()}: ${samples}; ${labels}.`;
}

async function parseCsv(input: NodeJS.ReadableStream | string, opts: IngestOptions, maxClasses: number): Promise<ParsedUpload> {
  const { maxSamples, maxFeatures } = opts.limits;
  const source = typeof input === 'string' ? createReadStream(input) : input;
  const parser = parseCsvStream({ bom: true, trim: true, skip_empty_lines: true, relax_column_count: true, info: true });
  // pipeline forwards a read error into the parser (seen by the loop) and destroys the source when the loop stops early.
  pipeline(source, parser, () => undefined);

  let columns: string[] | null = null;
  let labelIndex = -1;
  let featureIndices: number[] = [];
  let x = new Float32Array(0);
  let filled = 0;
  const rawLabels: string[] = [];
  const labelLines: number[] = [];
  try {
    for await (const { record, info } of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
      const line = info.lines;
      if (!columns) {
        columns = record;
        labelIndex = findLabelColumn(columns, opts.labelColumn);
        featureIndices = columns.map((_, i) => i).filter((i) => i !== labelIndex);
        if (featureIndices.length > maxFeatures) {
          throw new DatasetFormatError(
            `the header has ${featureIndices.length} feature columns, more than the limit (maxFeatures = ${maxFeatures})`,
            { line },
          );
        }
        x = new Float32Array(Math.min(maxSamples, 1024) * featureIndices.length);
        continue;
      }
      if (record.length !== columns.length) {
        throw new DatasetFormatError(`line ${line} has ${record.length} fields but the header has ${columns.length}`, { line });
      }
      if (rawLabels.length === maxSamples) {
        throw new DatasetFormatError(`the file has more than ${maxSamples} samples (limit maxSamples = ${maxSamples})`, { line });
      }
      if (filled + featureIndices.length > x.length) {
        const grown = new Float32Array(Math.min(x.length * 2, maxSamples * featureIndices.length));
        grown.set(x);
        x = grown;
      }
      for (const c of featureIndices) {
        const value = toNumber(record[c]);
        if (value === null) {
          throw new DatasetFormatError(
            `line ${line}, column ${JSON.stringify(columns[c])}: ${show(record[c])} is not a number (every column but the label must be numeric)`,
            { line, column: columns[c] },
          );
        }
        x[filled++] = value;
      }
      const label = record[labelIndex];
      if (label === '') {
        throw new DatasetFormatError(`line ${line}: the label column ${JSON.stringify(columns[labelIndex])} is empty`, {
          line,
          column: columns[labelIndex],
        });
      }
      rawLabels.push(label);
      labelLines.push(line);
    }
  } catch (error) {
    if (error instanceof DatasetError) throw error;
    const csvError = error as { code?: string; message: string; lines?: number };
    if (csvError.code && /^(CSV_|INVALID_)/.test(csvError.code)) {
      throw new DatasetFormatError(`not valid CSV: ${csvError.message}`, { line: csvError.lines });
    }
    throw error;
  }
  if (!columns) throw new DatasetFormatError('the file is empty; a CSV upload needs a header row and at least 2 samples');
  assertEnoughSamples(rawLabels.length);
  const labels = encodeScalarLabels(rawLabels, maxClasses, (i) => ({ text: `line ${labelLines[i]}`, location: { line: labelLines[i] } }));
  return {
    count: rawLabels.length,
    x,
    sampleShape: [featureIndices.length],
    labels,
    featureNames: featureIndices.map((i) => columns![i]),
    labelColumn: columns[labelIndex],
  };
}

/** Validates the header row and picks the label column (see {@link IngestOptions.labelColumn}). */
function findLabelColumn(columns: string[], requested: string | undefined): number {
  columns.forEach((name, i) => {
    if (name === '') throw new DatasetFormatError(`column ${i + 1} of the header row has no name`, { line: 1 });
    if (columns.indexOf(name) !== i) {
      throw new DatasetFormatError(`the header row names column ${JSON.stringify(name)} twice`, { line: 1 });
    }
  });
  if (columns.every((name) => toNumber(name) !== null)) {
    throw new DatasetFormatError(
      `the first line (${show(columns.join(','))}) holds numbers, not column names; a header row naming the columns is required`,
      { line: 1 },
    );
  }
  if (columns.length < 2) {
    throw new DatasetFormatError(
      `the header has a single column ${JSON.stringify(columns[0])}; at least one feature column and a label column are needed`,
      { line: 1 },
    );
  }
  if (requested !== undefined) {
    let index = columns.indexOf(requested);
    if (index < 0) index = columns.findIndex((name) => name.toLowerCase() === requested.toLowerCase());
    if (index < 0) {
      throw new DatasetFormatError(
        `the label column ${JSON.stringify(requested)} is not in the header (columns: ${columns.join(', ')})`,
        { line: 1, column: requested },
      );
    }
    return index;
  }
  for (const wanted of LABEL_COLUMN_NAMES) {
    const index = columns.findIndex((name) => name.toLowerCase() === wanted);
    if (index >= 0) return index;
  }
  return columns.length - 1;
}

async function parseJson(input: NodeJS.ReadableStream | string, opts: IngestOptions, maxClasses: number): Promise<ParsedUpload> {
  const { maxSamples, maxFeatures } = opts.limits;
  const text = typeof input === 'string' ? await readFile(input, 'utf8') : await readText(input);
  if (text.replace(/^\uFEFF/, '').trim() === '') {
    throw new DatasetFormatError('the file is empty; a JSON upload is {"x": [...], "y": [...]}');
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch (error) {
    throw new DatasetFormatError(`not valid JSON: ${(error as Error).message}`);
  }
  const { x: xs, y: ys } = (typeof doc === 'object' && doc !== null ? doc : {}) as { x?: unknown; y?: unknown };
  if (!Array.isArray(xs) || !Array.isArray(ys)) {
    throw new DatasetFormatError(
      'a JSON upload must be an object {"x": [...], "y": [...]} with one x item and one y item per sample',
    );
  }
  if (xs.length > maxSamples) {
    throw new DatasetFormatError(`x has ${xs.length} samples, more than the limit (maxSamples = ${maxSamples})`);
  }
  assertEnoughSamples(xs.length);
  if (ys.length !== xs.length) throw new DatasetFormatError(`x has ${xs.length} samples but y has ${ys.length} labels`);

  const itemShape = shapeOf(xs[0]);
  const sampleShape = itemShape.length ? itemShape : [1];
  if (itemShape.includes(0)) {
    throw new DatasetFormatError(`x[0] has shape ${showShape(itemShape)}; every dimension of a sample must be at least 1`, { index: 0 });
  }
  const size = product(sampleShape);
  if (size > maxFeatures) {
    throw new DatasetFormatError(
      `each sample has ${size} values (shape ${showShape(sampleShape)}), more than the limit (maxFeatures = ${maxFeatures})`,
      { index: 0 },
    );
  }
  const x = new Float32Array(xs.length * size);
  let filled = 0;
  const path: number[] = [];
  // A sample whose outline (first elements) differs is reported by its shape; otherwise by the first bad element.
  const badSample = (sample: number, problem: string): string =>
    sample > 0 && !sameShape(shapeOf(xs[sample]), itemShape)
      ? shapeMismatch(xs, sample, itemShape)
      : `x[${sample}]${path.map((k) => `[${k}]`).join('')} ${problem}; every sample must have shape ${showShape(sampleShape)}`;
  const fill = (value: unknown, depth: number, sample: number): void => {
    if (depth === itemShape.length) {
      if (typeof value !== 'number' || !Number.isFinite(Math.fround(value))) {
        const message = Array.isArray(value) ? `is an array where x[0] has a number` : `is ${show(value)}, not a number that fits in float32`;
        throw new DatasetFormatError(badSample(sample, message), { index: sample });
      }
      x[filled++] = value;
      return;
    }
    if (!Array.isArray(value) || value.length !== itemShape[depth]) {
      const found = Array.isArray(value) ? `${value.length} items` : show(value);
      throw new DatasetFormatError(badSample(sample, `has ${found} where x[0] has ${itemShape[depth]} items`), { index: sample });
    }
    for (let k = 0; k < value.length; k++) {
      path.push(k);
      fill(value[k], depth + 1, sample);
      path.pop();
    }
  };
  for (let i = 0; i < xs.length; i++) fill(xs[i], 0, i);

  return { count: xs.length, x, sampleShape, labels: encodeJsonLabels(ys, maxClasses), featureNames: null, labelColumn: null };
}

function shapeMismatch(xs: unknown[], sample: number, reference: number[]): string {
  const actual = shapeOf(xs[sample]);
  const actualText = actual.length ? `shape ${showShape(actual)}` : typeof xs[sample] === 'number' ? 'a number' : show(xs[sample]);
  return `x[${sample}] has ${actualText} but x[0] has ${reference.length ? showShape(reference) : 'a number'}`;
}

function encodeJsonLabels(ys: unknown[], maxClasses: number): EncodedLabels {
  if (Array.isArray(ys[0])) {
    const k = ys[0].length;
    if (k === 0) throw new DatasetFormatError('y[0] is an empty array; a target vector needs at least one number', { index: 0 });
    const y = new Float32Array(ys.length * k);
    ys.forEach((item, i) => {
      if (!Array.isArray(item)) throw new DatasetFormatError(`y[${i}] is ${show(item)} but y[0] is an array of ${k} numbers`, { index: i });
      if (item.length !== k) throw new DatasetFormatError(`y[${i}] has ${item.length} values but y[0] has ${k}`, { index: i });
      item.forEach((v, j) => {
        if (typeof v !== 'number' || !Number.isFinite(Math.fround(v))) {
          throw new DatasetFormatError(`y[${i}][${j}] is ${show(v)}, not a number that fits in float32`, { index: i });
        }
        y[i * k + j] = v;
      });
    });
    return { task: 'regression', y, labelShape: [k], numClasses: null, classNames: null };
  }
  ys.forEach((v, i) => {
    if (typeof v === 'string' && v.trim() === '') throw new DatasetFormatError(`y[${i}] is an empty string`, { index: i });
    if (Array.isArray(v)) {
      throw new DatasetFormatError(`y[${i}] is an array but y[0] is not; use one kind of label for every sample`, { index: i });
    }
    if (typeof v !== 'number' && typeof v !== 'string') {
      throw new DatasetFormatError(`y[${i}] is ${show(v)}; a label must be a number, a string or an array of numbers`, { index: i });
    }
  });
  return encodeScalarLabels(ys as (string | number)[], maxClasses, (i) => ({ text: `y[${i}]`, location: { index: i } }));
}

/** One label per sample, by the rules of {@link ingestDataset}. */
function encodeScalarLabels(
  raw: (string | number)[],
  maxClasses: number,
  where: (i: number) => { text: string; location: DatasetFormatLocation },
): EncodedLabels {
  const numbers = new Float64Array(raw.length);
  let numeric = true;
  let classIndices = true;
  let largest = 0;
  for (let i = 0; i < raw.length && numeric; i++) {
    const v = raw[i];
    const n = typeof v === 'number' ? (Number.isFinite(Math.fround(v)) ? v : null) : toNumber(v);
    if (n === null) {
      numeric = false;
      break;
    }
    numbers[i] = n;
    if (!(Number.isInteger(n) && n >= 0 && n <= MAX_CLASS_INDEX)) classIndices = false;
    else if (n > largest) largest = n;
  }
  if (numeric && !classIndices) {
    return { task: 'regression', y: Float32Array.from(numbers), labelShape: [], numClasses: null, classNames: null };
  }
  if (numeric) {
    if (largest + 1 > maxClasses) {
      const at = where(numbers.indexOf(largest));
      throw new DatasetFormatError(
        `the labels are class indices up to ${largest} (${at.text}), which means ${largest + 1} classes, more than the limit (maxClasses = ${maxClasses})`,
        at.location,
      );
    }
    return { task: 'classification', y: Int32Array.from(numbers), labelShape: [], numClasses: largest + 1, classNames: null };
  }
  const names = raw.map(String);
  const classNames = [...new Set(names)].sort();
  if (classNames.length > maxClasses) {
    throw new DatasetFormatError(`the labels name ${classNames.length} different classes, more than the limit (maxClasses = ${maxClasses})`);
  }
  const indexOf = new Map(classNames.map((name, i) => [name, i]));
  return {
    task: 'classification',
    y: Int32Array.from(names, (name) => indexOf.get(name)!),
    labelShape: [],
    numClasses: classNames.length,
    classNames,
  };
}

function assertEnoughSamples(count: number): void {
  if (count < 2) throw new DatasetFormatError(`the dataset has ${count} sample${count === 1 ? '' : 's'}; at least 2 are needed`);
}

/** A decimal number (no hex, no Infinity, no empty string, all of which Number() would accept) that float32 can hold. */
function toNumber(text: string): number | null {
  const trimmed = text.trim();
  if (!NUMBER.test(trimmed)) return null;
  const n = Number(trimmed);
  return Number.isFinite(Math.fround(n)) ? n : null;
}

/** The shape of a nested array, following first elements: [[1, 2], [3, 4], [5, 6]] → [3, 2]; a number → []. */
function shapeOf(value: unknown): number[] {
  const shape: number[] = [];
  while (Array.isArray(value)) {
    shape.push(value.length);
    if (value.length === 0) break;
    value = value[0];
  }
  return shape;
}

function sameShape(a: number[], b: number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

function showShape(shape: number[]): string {
  return `[${shape.join(', ')}]`;
}

function show(value: unknown): string {
  const text = value === undefined ? 'undefined' : JSON.stringify(value);
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}

async function readText(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream as AsyncIterable<Buffer | string>) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks).toString('utf8');
}
