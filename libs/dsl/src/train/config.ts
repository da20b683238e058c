/**
 * A train request's `training_config` applied to the IR, so every backend (the tfjs engine, the generated PyTorch and
 * TensorFlow modules) sees one configuration: the one that is trained.
 */
import { suggest } from '../diagnostics';
import { isHpo, type ModelIR, type OptimizerSpec, type TrainingSpec } from '../ir';
import { LOSSES, OPTIMIZERS } from '../layers';
import type { TrainingConfigInput, TrainingLimits } from './types';

/** Metric names the DSL accepts (the parser's list in lower.ts; a spec keeps the two in step). */
export const DSL_METRICS: readonly string[] = [
  'accuracy', 'acc', 'binary_accuracy', 'categorical_accuracy', 'sparse_categorical_accuracy', 'top_k_accuracy',
  'top_k_categorical_accuracy', 'sparse_top_k_categorical_accuracy', 'precision', 'recall', 'auc', 'f1_score', 'mae',
  'mse', 'rmse', 'mean_absolute_error', 'mean_squared_error', 'loss',
];

const KEYS: readonly (keyof TrainingConfigInput)[] = ['epochs', 'batch_size', 'learning_rate', 'validation_split', 'optimizer', 'loss', 'metrics', 'train_samples', 'shuffle'];

export interface ConfigProblem {
  /** Path of the offending value in the request, e.g. `training_config.optimizer`. */
  field: string;
  message: string;
}

/** Invalid `training_config` values, every one found. */
export class TrainingConfigError extends Error {
  readonly errors: ConfigProblem[];

  constructor(errors: ConfigProblem[]) {
    super(errors.map((e) => `${e.field}: ${e.message}`).join('; '));
    this.name = 'TrainingConfigError';
    this.errors = errors;
  }
}

/**
 * A copy of `model` with the request's settings in its `training`, `optimizer`, `lrSchedule`, `loss` and `metrics`:
 * epochs, batch_size and validation_split replace the train section's; an optimizer name replaces the type and keeps
 * the DSL optimizer's arguments only when the type is the same; learning_rate replaces the learning rate and drops any
 * schedule (the optimizer's or a top-level lr_schedule). HPO expressions whose value was replaced are removed.
 * `train_samples` and `shuffle` are validated here but carried by the plan (`planTraining` options), not the IR.
 * Throws TrainingConfigError listing every invalid value; `limits` bounds epochs and batch_size.
 */
export function applyTrainingConfig(model: ModelIR, config: TrainingConfigInput, limits?: Partial<TrainingLimits>): ModelIR {
  const errors: ConfigProblem[] = [];
  const fail = (key: string, message: string) => errors.push({ field: `training_config.${key}`, message });
  if (typeof config !== 'object' || config === null || Array.isArray(config)) {
    throw new TrainingConfigError([{ field: 'training_config', message: 'must be an object' }]);
  }
  for (const key of Object.keys(config)) {
    if (!(KEYS as readonly string[]).includes(key)) {
      const s = suggest(key, KEYS);
      fail(key, `unknown setting '${key}'${s ? `; did you mean ${s}?` : ''} (${KEYS.join(', ')})`);
    }
  }
  const integer = (key: 'epochs' | 'batch_size' | 'train_samples', max?: number, limitName?: string) => {
    const v = config[key];
    if (v === undefined) return;
    if (typeof v !== 'number' || !Number.isInteger(v)) fail(key, `must be an integer, got ${show(v)}`);
    else if (v < 1) fail(key, `must be at least 1, got ${v}`);
    else if (max !== undefined && v > max) fail(key, `must be at most ${max} (${limitName}), got ${v}`);
  };
  integer('epochs', limits?.maxEpochs, 'maxEpochs');
  integer('batch_size', limits?.maxBatchSize, 'maxBatchSize');
  integer('train_samples');
  const split = config.validation_split;
  if (split !== undefined && !(typeof split === 'number' && split >= 0 && split < 1)) fail('validation_split', `must be a number in [0, 1), got ${show(split)}`);
  const lr = config.learning_rate;
  if (lr !== undefined && !(typeof lr === 'number' && Number.isFinite(lr) && lr > 0)) fail('learning_rate', `must be a positive number, got ${show(lr)}`);
  if (config.shuffle !== undefined && typeof config.shuffle !== 'boolean') fail('shuffle', `must be true or false, got ${show(config.shuffle)}`);

  let optimizerType: string | undefined;
  if (config.optimizer !== undefined) {
    if (typeof config.optimizer !== 'string') fail('optimizer', `must be an optimizer name, got ${show(config.optimizer)}`);
    else {
      optimizerType = OPTIMIZERS.find((o) => o.toLowerCase() === config.optimizer!.toLowerCase());
      if (!optimizerType) fail('optimizer', `unknown optimizer '${config.optimizer}'${didYouMean(config.optimizer, OPTIMIZERS)} (${OPTIMIZERS.join(', ')})`);
    }
  }
  let loss: string | undefined;
  if (config.loss !== undefined) {
    if (typeof config.loss !== 'string') fail('loss', `must be a loss name, got ${show(config.loss)}`);
    else if (!LOSSES.includes(config.loss.toLowerCase())) fail('loss', `unknown loss '${config.loss}'${didYouMean(config.loss, LOSSES)} (${LOSSES.join(', ')})`);
    else loss = config.loss.toLowerCase();
  }
  let metrics: string[] | undefined;
  if (config.metrics !== undefined) {
    if (!Array.isArray(config.metrics)) fail('metrics', `must be a list of metric names, got ${show(config.metrics)}`);
    else {
      metrics = [];
      config.metrics.forEach((m, i) => {
        if (typeof m !== 'string') return fail(`metrics[${i}]`, `must be a metric name, got ${show(m)}`);
        const name = m.toLowerCase();
        if (!DSL_METRICS.includes(name)) return fail(`metrics[${i}]`, `unknown metric '${m}'${didYouMean(name, DSL_METRICS)} (${DSL_METRICS.join(', ')})`);
        if (!metrics!.includes(name)) metrics!.push(name);
      });
    }
  }
  if (errors.length) throw new TrainingConfigError(errors);

  const out: ModelIR = { ...model, sectionLocs: { ...model.sectionLocs } };
  const replaced: string[] = [];
  if (config.epochs !== undefined || config.batch_size !== undefined || config.validation_split !== undefined) {
    const training: TrainingSpec = { ...model.training };
    for (const key of ['epochs', 'batch_size', 'validation_split'] as const) {
      if (config[key] === undefined) continue;
      training[key] = config[key];
      replaced.push(`training.${key}`);
    }
    out.training = training;
  }
  if (optimizerType !== undefined || lr !== undefined) {
    const loc = model.optimizer?.loc ?? model.sectionLocs.optimizer ?? { line: 1, column: 1 };
    const type = optimizerType ?? model.optimizer?.type ?? 'Adam';
    const keep = model.optimizer && model.optimizer.type === type;
    const optimizer: OptimizerSpec = { type, params: keep ? { ...model.optimizer!.params } : {}, loc };
    if (!keep) replaced.push('optimizer.');
    if (lr !== undefined) {
      optimizer.params.learning_rate = lr;
      replaced.push('optimizer.learning_rate', 'lr_schedule.');
      delete out.lrSchedule;
      delete out.sectionLocs.lr_schedule;
    }
    out.optimizer = optimizer;
  }
  if (loss !== undefined) out.loss = loss;
  if (metrics !== undefined) out.metrics = metrics;
  // A replaced value's HPO expression is gone from the model: leaving it listed would make resolveHpo ask for it.
  out.hpo = model.hpo.filter((h) => !replaced.some((p) => (p.endsWith('.') ? h.path.startsWith(p) : h.path === p || h.path.startsWith(`${p}.`))));
  return out;
}

function didYouMean(word: string, candidates: readonly string[]): string {
  const s = suggest(word, candidates);
  return s ? `; did you mean ${s}?` : '';
}

function show(v: unknown): string {
  if (isHpo(v)) return 'an HPO expression';
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 40 ? `${s.slice(0, 40)}...` : s;
}
