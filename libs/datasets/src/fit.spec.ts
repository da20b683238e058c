import { findBuiltinDataset } from './builtin-datasets';
import { checkLabelFit, checkSampleFit } from './fit';
import type { DatasetInfo } from './types';

const mnist = findBuiltinDataset('MNIST')!;

function info(over: Partial<DatasetInfo>): DatasetInfo {
  return { ...mnist, name: 'upload-1', kind: 'upload', ...over };
}

describe('checkSampleFit', () => {
  it('accepts equal shapes as they are', () => {
    expect(checkSampleFit([28, 28, 1], [28, 28, 1])).toEqual({ ok: true, reshape: false });
  });

  it('accepts shapes with the same number of values, to be reshaped', () => {
    expect(checkSampleFit([784], [28, 28, 1])).toEqual({ ok: true, reshape: true });
    expect(checkSampleFit([28, 28], [28, 28, 1])).toEqual({ ok: true, reshape: true });
    expect(checkSampleFit([28, 28, 1], [784])).toEqual({ ok: true, reshape: true });
  });

  it('lets a free size (-1) of the model match any dimension, or absorb a reshape', () => {
    expect(checkSampleFit([-1, 8], [20, 8])).toEqual({ ok: true, reshape: false });
    expect(checkSampleFit([-1, 8], [160])).toEqual({ ok: true, reshape: true });
    expect(checkSampleFit([-1, 8], [4, 5])).toEqual({
      ok: false,
      message: "the model's input (None, 8) cannot take samples of shape (4, 5): it needs a multiple of 8 values per sample, they have 20",
    });
  });

  it('refuses other shapes with a message naming both, in DSL notation', () => {
    expect(checkSampleFit([32, 32, 3], [28, 28, 1], 'MNIST')).toEqual({
      ok: false,
      message: "the model's input (32, 32, 3) cannot take MNIST samples (28, 28, 1): it needs 3072 values per sample, they have 784",
    });
    expect(checkSampleFit([5], [4])).toEqual({
      ok: false,
      message: "the model's input (5) cannot take samples of shape (4): it needs 5 values per sample, they have 4",
    });
  });
});

describe('checkLabelFit', () => {
  it('needs an output of [N] for N classes', () => {
    expect(checkLabelFit([10], mnist, 'sparse_categorical_crossentropy')).toEqual({ ok: true });
    expect(checkLabelFit([10], mnist, 'categorical_crossentropy')).toEqual({ ok: true });
    expect(checkLabelFit([5], mnist, 'cross_entropy')).toEqual({
      ok: false,
      message: "the model's output (5) does not fit the 10 classes of MNIST: the output must be (10)",
    });
  });

  it('accepts [1] for binary_crossentropy (any spelling) with 2 classes only', () => {
    const binary = info({ numClasses: 2 });
    expect(checkLabelFit([1], binary, 'binary_crossentropy')).toEqual({ ok: true });
    expect(checkLabelFit([1], binary, 'Binary_Cross_Entropy')).toEqual({ ok: true });
    expect(checkLabelFit([2], binary, 'sparse_categorical_crossentropy')).toEqual({ ok: true });
    expect(checkLabelFit([1], binary, 'sparse_categorical_crossentropy')).toMatchObject({ ok: false });
    expect(checkLabelFit([3], binary, 'binary_crossentropy')).toEqual({
      ok: false,
      message: "the model's output (3) does not fit the 2 classes of upload-1: the output must be (2) or, with binary_crossentropy, (1)",
    });
    expect(checkLabelFit([1], mnist, 'binary_crossentropy')).toMatchObject({ ok: false });
  });

  it('needs an output matching the regression targets, [1] for scalar ones', () => {
    const scalar = info({ task: 'regression', numClasses: null, classNames: undefined, labelShape: [] });
    const vector = info({ task: 'regression', numClasses: null, classNames: undefined, labelShape: [3] });
    expect(checkLabelFit([1], scalar, 'mse')).toEqual({ ok: true });
    expect(checkLabelFit([2], scalar, 'mse')).toEqual({
      ok: false,
      message: "the model's output (2) does not fit the scalar targets of upload-1: the output must be (1)",
    });
    expect(checkLabelFit([3], vector, 'mean_absolute_error')).toEqual({ ok: true });
    expect(checkLabelFit([1], vector, 'mse')).toEqual({
      ok: false,
      message: "the model's output (1) does not fit the target vectors (3) of upload-1: the output must be (3)",
    });
  });

  it('refuses a class-index loss on regression targets', () => {
    const scalar = info({ task: 'regression', numClasses: null, labelShape: [] });
    expect(checkLabelFit([1], scalar, 'sparse_categorical_crossentropy')).toEqual({
      ok: false,
      message: 'sparse_categorical_crossentropy needs class labels, but upload-1 has regression targets; use a regression loss such as mse',
    });
  });
});
