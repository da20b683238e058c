/**
 * Keras losses and metrics on tfjs tensors, with the formulas, clipping and reductions of the PyTorch emitter's
 * training code (itself written to Keras' definitions), so both engines report the same numbers.
 */
import type * as Tfjs from '@tensorflow/tfjs';

type Tf = typeof Tfjs;
type Tensor = Tfjs.Tensor;

/** Keras' `backend.epsilon()`: probabilities are clipped to [EPSILON, 1 - EPSILON] before logs. */
export const EPSILON = 1e-7;

/**
 * A batch's targets: class indices (int32, one per output row, for sparse_categorical_crossentropy) or values shaped
 * like the output (float32: regression targets, binary labels, one-hot rows).
 */
export interface Targets {
  kind: 'indices' | 'dense';
  y: Tensor;
}

/** The batch mean of a Keras loss (`sum_over_batch_size`); `fromLogits` for cross-entropies on a linear output. */
export function kerasLoss(tf: Tf, loss: string, fromLogits: boolean, out: Tensor, target: Targets): Tensor {
  const { add, sub, mul, div, neg, log, mean, sum, clipByValue } = tf;
  const classes = out.shape[out.shape.length - 1]!;
  if (loss === 'sparse_categorical_crossentropy') {
    const flatOut = tf.reshape(out, [-1, classes]);
    const onehot = tf.oneHot(tf.reshape(tf.cast(target.y, 'int32'), [-1]), classes).toFloat();
    return neg(mean(sum(mul(onehot, logProbabilities(tf, flatOut, fromLogits)), -1)));
  }
  const y = dense(tf, out, target);
  switch (loss) {
    case 'categorical_crossentropy':
      return neg(mean(sum(mul(y, logProbabilities(tf, out, fromLogits)), -1)));
    case 'binary_crossentropy': {
      if (fromLogits) {
        // max(x, 0) - x·t + log(1 + exp(-|x|)), TensorFlow's stable sigmoid cross-entropy.
        return mean(add(sub(tf.relu(out), mul(out, y)), tf.log1p(tf.exp(neg(tf.abs(out))))));
      }
      const p = clipByValue(out, EPSILON, 1 - EPSILON);
      return neg(mean(add(mul(y, log(p)), mul(sub(1, y), log(sub(1, p))))));
    }
    case 'mean_squared_error':
      return mean(tf.square(sub(out, y)));
    case 'mean_absolute_error':
      return mean(tf.abs(sub(out, y)));
    case 'huber': {
      const err = tf.abs(sub(out, y));
      const quadratic = tf.minimum(err, 1);
      return mean(add(mul(tf.square(quadratic), 0.5), sub(err, quadratic)));
    }
    case 'hinge': {
      // Keras turns 0/1 labels into -1/1 when every label of the batch is 0 or 1.
      const binary = tf.min(tf.cast(tf.logicalOr(tf.equal(y, 0), tf.equal(y, 1)), 'float32'));
      const signed = add(y, mul(binary, sub(y, 1)));
      return mean(tf.relu(sub(1, mul(signed, out))));
    }
    case 'kl_divergence': {
      const t = clipByValue(y, EPSILON, 1);
      return mean(sum(mul(t, log(div(t, clipByValue(out, EPSILON, 1)))), -1));
    }
    case 'poisson':
      return mean(sub(out, mul(y, log(add(out, EPSILON)))));
    case 'cosine_similarity': {
      const unit = (x: Tensor) => div(x, tf.sqrt(tf.maximum(sum(tf.square(x), -1, true), 1e-12)));
      return neg(mean(sum(mul(unit(y), unit(out)), -1)));
    }
    case 'log_cosh': {
      const d = sub(out, y);
      return mean(sub(add(d, tf.softplus(mul(d, -2))), Math.log(2)));
    }
    default:
      throw new Error(`Unsupported loss '${loss}'`);
  }
}

/** log of the normalised, clipped probabilities (Keras on probabilities), or log-softmax of logits. */
function logProbabilities(tf: Tf, out: Tensor, fromLogits: boolean): Tensor {
  if (fromLogits) {
    const shifted = tf.sub(out, tf.max(out, -1, true));
    return tf.sub(shifted, tf.log(tf.sum(tf.exp(shifted), -1, true)));
  }
  const p = tf.clipByValue(tf.div(out, tf.sum(out, -1, true)), EPSILON, 1 - EPSILON);
  return tf.log(p);
}

/** Targets shaped like the output: one-hot rows for class indices, a reshape otherwise. */
export function dense(tf: Tf, out: Tensor, target: Targets): Tensor {
  if (target.kind === 'dense') return target.y.shape.join() === out.shape.join() ? target.y : tf.reshape(target.y, out.shape);
  const classes = out.shape[out.shape.length - 1]!;
  return tf.reshape(tf.oneHot(tf.reshape(tf.cast(target.y, 'int32'), [-1]), classes).toFloat(), out.shape);
}

/** Class indices of the targets, one per output row: argmax of dense rows, or the indices themselves. */
function classIndices(tf: Tf, out: Tensor, target: Targets): Tensor {
  const classes = out.shape[out.shape.length - 1]!;
  if (target.kind === 'indices') return tf.reshape(tf.cast(target.y, 'int32'), [-1]);
  return tf.argMax(tf.reshape(dense(tf, out, target), [-1, classes]), -1);
}

/** How a metric's epoch value follows from the sums of its batch statistics. */
export type Finish = 'ratio' | 'root_ratio' | 'roc_auc';

export interface MetricDef {
  key: string;
  /** Number of statistics per batch (summed over the epoch). */
  size: number;
  finish: Finish;
  /** A batch's statistics, a 1-D float32 tensor of `size` values. */
  stats(out: Tensor, target: Targets): Tensor;
}

/** Keras `AUC(num_thresholds=200)`: 198 inner thresholds i/199 plus -ε and 1 + ε. */
const AUC_THRESHOLDS = [-EPSILON, ...Array.from({ length: 198 }, (_, i) => (i + 1) / 199), 1 + EPSILON];

/**
 * The streaming metric for a history key. `accuracy` resolves as Keras does: binary for binary_crossentropy or a
 * single output unit, otherwise categorical, comparing argmax with the class index (sparse targets) or the target's
 * argmax (one-hot targets).
 */
export function metricDef(tf: Tf, key: string, loss: string): MetricDef {
  const { sum, mul, cast, greater, logicalAnd, logicalNot, abs, square, sub } = tf;
  const count = (t: Tensor, n: number) => tf.stack([sum(cast(t, 'float32')), tf.scalar(n)]);
  const ratio = (stats: (out: Tensor, target: Targets) => Tensor): MetricDef => ({ key, size: 2, finish: 'ratio', stats });
  const binaryAccuracy = (out: Tensor, target: Targets) => count(tf.equal(greater(out, 0.5), greater(dense(tf, out, target), 0.5)), out.size);
  const categoricalAccuracy = (out: Tensor, target: Targets) => {
    const classes = out.shape[out.shape.length - 1]!;
    const predicted = tf.argMax(tf.reshape(out, [-1, classes]), -1);
    return count(tf.equal(predicted, classIndices(tf, out, target)), out.size / classes);
  };
  const topK = (out: Tensor, target: Targets) => {
    const classes = out.shape[out.shape.length - 1]!;
    const scores = tf.reshape(out, [-1, classes]);
    const truth = sum(mul(scores, tf.oneHot(classIndices(tf, out, target), classes).toFloat()), -1, true);
    // TensorFlow's in_top_k: a hit when fewer than k classes score strictly higher than the true class.
    const higher = sum(cast(greater(scores, truth), 'float32'), -1);
    return count(tf.less(higher, Math.min(5, classes)), scores.shape[0]!);
  };
  const errors = (f: (d: Tensor) => Tensor) => (out: Tensor, target: Targets) => tf.stack([sum(f(sub(out, dense(tf, out, target)))), tf.scalar(out.size)]);
  const confusion = (out: Tensor, target: Targets) => [greater(out, 0.5), greater(dense(tf, out, target), 0.5)] as const;
  const outDim = (out: Tensor) => out.shape[out.shape.length - 1];
  switch (key) {
    case 'accuracy':
      return ratio((out, target) => (loss === 'binary_crossentropy' || outDim(out) === 1 ? binaryAccuracy(out, target) : categoricalAccuracy(out, target)));
    case 'binary_accuracy':
      return ratio(binaryAccuracy);
    case 'categorical_accuracy':
    case 'sparse_categorical_accuracy':
      return ratio(categoricalAccuracy);
    case 'top_k_categorical_accuracy':
    case 'sparse_top_k_categorical_accuracy':
      return ratio(topK);
    case 'mae':
      return ratio(errors(abs));
    case 'mse':
      return ratio(errors(square));
    case 'rmse':
      return { key, size: 2, finish: 'root_ratio', stats: errors(square) };
    case 'precision':
      return ratio((out, target) => {
        const [predicted, actual] = confusion(out, target);
        return tf.stack([sum(cast(logicalAnd(predicted, actual), 'float32')), sum(cast(predicted, 'float32'))]);
      });
    case 'recall':
      return ratio((out, target) => {
        const [predicted, actual] = confusion(out, target);
        return tf.stack([sum(cast(logicalAnd(predicted, actual), 'float32')), sum(cast(actual, 'float32'))]);
      });
    case 'auc':
      return {
        key,
        size: 4 * AUC_THRESHOLDS.length,
        finish: 'roc_auc',
        stats(out, target) {
          const predicted = greater(tf.reshape(out, [-1, 1]), tf.tensor2d(AUC_THRESHOLDS, [1, AUC_THRESHOLDS.length]));
          const actual = tf.reshape(greater(dense(tf, out, target), 0.5), [-1, 1]);
          const both = (a: Tensor, b: Tensor) => sum(cast(logicalAnd(a, b), 'float32'), 0);
          const [notPredicted, notActual] = [logicalNot(predicted), logicalNot(actual)];
          return tf.concat([both(predicted, actual), both(predicted, notActual), both(notPredicted, notActual), both(notPredicted, actual)]);
        },
      };
    default:
      throw new Error(`Unsupported metric '${key}'`);
  }
}

/** A metric's value from its statistics summed over every batch of the epoch. */
export function finishMetric(def: MetricDef, sums: Float64Array): number {
  switch (def.finish) {
    case 'ratio':
      return sums[1] ? sums[0] / sums[1] : 0;
    case 'root_ratio':
      return Math.sqrt(sums[1] ? sums[0] / sums[1] : 0);
    case 'roc_auc': {
      const n = AUC_THRESHOLDS.length;
      const at = (part: number, i: number) => sums[part * n + i];
      const rate = (a: number, b: number) => (a + b ? a / (a + b) : 0);
      let area = 0;
      for (let i = 0; i + 1 < n; i++) {
        const [tpr0, tpr1] = [rate(at(0, i), at(3, i)), rate(at(0, i + 1), at(3, i + 1))];
        const [fpr0, fpr1] = [rate(at(1, i), at(2, i)), rate(at(1, i + 1), at(2, i + 1))];
        area += ((fpr0 - fpr1) * (tpr0 + tpr1)) / 2;
      }
      return area;
    }
  }
}
