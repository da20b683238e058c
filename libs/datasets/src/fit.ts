import { KERAS_LOSSES } from '@app/dsl/layers';
import { formatShape } from '@app/dsl/report';
import { product } from './nds';
import type { DatasetInfo } from './types';

export type SampleFit = { ok: true; reshape: boolean } | { ok: false; message: string };
export type LabelFit = { ok: true } | { ok: false; message: string };

/**
 * Whether samples of `sampleShape` can be fed to a model input of `modelInputShape` (both without the batch axis):
 * as they are, or reshaped when the element counts agree ([28, 28] ↔ [28, 28, 1] ↔ [784]). A -1 in the model's
 * shape is a free size: it matches any dimension, and a single one absorbs whatever a reshape leaves over.
 * `datasetName` only makes the message read better.
 */
export function checkSampleFit(modelInputShape: number[], sampleShape: number[], datasetName?: string): SampleFit {
  if (shapeMatches(modelInputShape, sampleShape)) return { ok: true, reshape: false };
  const free = modelInputShape.filter((d) => d === FREE).length;
  const needed = product(modelInputShape.filter((d) => d !== FREE));
  const given = product(sampleShape);
  if (free === 0 ? needed === given : free === 1 && given % needed === 0) return { ok: true, reshape: true };
  const values = free ? `a multiple of ${needed}` : `${needed}`;
  return {
    ok: false,
    message:
      `the model's input ${show(modelInputShape)} cannot take ${datasetName ? `${datasetName} samples` : 'samples of shape'} ` +
      `${show(sampleShape)}: it needs ${values} values per sample, they have ${given}`,
  };
}

/**
 * Whether a model whose output is `outputShape` (without the batch axis) can be trained on the labels of `info` with
 * `loss` (a DSL or Keras loss name, any case). A classification dataset of N classes needs an output of [N] (class
 * indices, or one-hot for categorical losses), or [1] for binary_crossentropy with 2 classes. Regression targets need
 * an output equal to labelShape, [1] for scalar targets; sparse categorical cross-entropy, which needs class indices,
 * cannot train on them.
 */
export function checkLabelFit(outputShape: number[], info: DatasetInfo, loss: string): LabelFit {
  const canonical = KERAS_LOSSES[loss.toLowerCase()] ?? loss.toLowerCase();
  const output = show(outputShape);
  if (info.task === 'classification' && info.numClasses !== null) {
    const n = info.numClasses;
    if (shapeMatches(outputShape, [n])) return { ok: true };
    const binary = canonical === 'binary_crossentropy' && n === 2;
    if (binary && shapeMatches(outputShape, [1])) return { ok: true };
    return {
      ok: false,
      message:
        `the model's output ${output} does not fit the ${n} classes of ${info.name}: the output must be ${formatShape([n])}` +
        (binary ? ' or, with binary_crossentropy, (1)' : ''),
    };
  }
  if (canonical === 'sparse_categorical_crossentropy') {
    return {
      ok: false,
      message: `${loss} needs class labels, but ${info.name} has regression targets; use a regression loss such as mse`,
    };
  }
  const expected = info.labelShape.length ? info.labelShape : [1];
  if (shapeMatches(outputShape, expected)) return { ok: true };
  const targets = info.labelShape.length ? `target vectors ${formatShape(info.labelShape)}` : 'scalar targets';
  return {
    ok: false,
    message: `the model's output ${output} does not fit the ${targets} of ${info.name}: the output must be ${formatShape(expected)}`,
  };
}

/** A model dimension of unknown size (a sequence length), as the training plan writes it. */
const FREE = -1;

/** Same rank, and each model dimension equal to the data's or free. */
function shapeMatches(model: number[], data: number[]): boolean {
  return model.length === data.length && model.every((d, i) => d === data[i] || d === FREE);
}

/** A shape as the DSL prints it, a free size as None: (None, 8). */
function show(shape: number[]): string {
  return formatShape(shape.map((d) => (d === FREE ? null : d)));
}
