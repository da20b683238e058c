/**
 * Resolves what a training run does from a checked model: the DSL's train/optimizer/loss/metrics sections with Keras
 * defaults, and everything the chosen engine cannot train reported up front as positioned diagnostics.
 */
import type { CheckedModel } from '../checked';
import { diag, DiagnosticBag, DslError } from '../diagnostics';
import { emitPytorch } from '../emit/pytorch';
import { lowerToKeras } from '../emit/keras';
import { reportUnresolvedHpo, type HpoAssignment } from '../hpo';
import { isCall, isHpo, isLayer, type CallValue, type LayerNode, type ModelIR, type ModelNode, type SourceLoc, type Value } from '../ir';
import { COMMON_OPTIMIZER_ARGS, DEFAULT_LEARNING_RATE, KERAS_LOSSES, layerSpec, OPTIMIZER_ARGS } from '../layers';
import type { LrSchedule, TrainingEngine, TrainingLimits, TrainingPlan } from './types';

export interface PlanOptions {
  /** `training_config.train_samples`: train on the first N training samples only. */
  trainSamples?: number;
  /** Shuffle every epoch (default true). */
  shuffle?: boolean;
  limits?: Partial<TrainingLimits>;
  /** The HPO values the model was resolved with (`compile(...).hpo`, `resolveHpo(...).assignment`), for `hyperparameters`. */
  hpo?: HpoAssignment;
}

export const CROSS_ENTROPIES: ReadonlySet<string> = new Set(['categorical_crossentropy', 'sparse_categorical_crossentropy', 'binary_crossentropy']);

/** History keys of the metrics the engine computes (Keras' names, as the PyTorch module reports them). */
export const SUPPORTED_METRICS = [
  'accuracy', 'acc', 'binary_accuracy', 'categorical_accuracy', 'sparse_categorical_accuracy', 'top_k_accuracy',
  'top_k_categorical_accuracy', 'sparse_top_k_categorical_accuracy', 'mae', 'mean_absolute_error', 'mse',
  'mean_squared_error', 'rmse', 'precision', 'recall', 'auc',
];

const DEFAULTS = { epochs: 10, batchSize: 32, validationSplit: 0.2 };

/** The Keras AdamW default; other optimizers decay only when given `weight_decay`. */
const ADAMW_WEIGHT_DECAY = 0.004;

/**
 * The training plan for `checked` (HPO resolved) on `engine`. Throws DslError with positioned diagnostics
 * (`untrainable_layer`, `unsupported_optimizer`, `unsupported_parameter`, `unsupported_loss`, `unsupported_metric`,
 * `multi_input`, `unresolved_hpo`, `training_limit`, `invalid_training`) for everything the engine cannot train; for
 * `pytorch` the generated module's own refusals (emitPytorch's DslError) come first.
 */
export function planTraining(checked: CheckedModel, engine: TrainingEngine, opts: PlanOptions = {}): TrainingPlan {
  const m = checked.model;
  const bag = new DiagnosticBag();
  if (engine !== 'tfjs' && engine !== 'pytorch') {
    throw new DslError([{ severity: 'error', code: 'unsupported_engine', message: `Unknown training engine '${String(engine)}'; expected tfjs or pytorch`, line: 1, column: 1 }]);
  }
  if (engine === 'pytorch') emitPytorch(checked);
  reportUnresolvedHpo(m, bag);
  bag.throwIfErrors();
  if (m.inputs.length !== 1) {
    bag.error('multi_input', `The model has ${m.inputs.length} inputs; training takes one input tensor`, m.inputs[1]?.loc ?? m.sectionLocs.input, 'merge the inputs into one, or train the generated script');
  }
  if (engine === 'tfjs') checkTfjsLayers(checked, bag);

  const warnings: string[] = [];
  const t = m.training ?? {};
  const trainingLoc = m.sectionLocs.training;
  const epochs = setting(t.epochs, DEFAULTS.epochs);
  const batchSize = setting(t.batch_size, DEFAULTS.batchSize);
  const validationSplit = setting(t.validation_split, DEFAULTS.validationSplit);
  // Both limits point at the train section (the IR keeps no position per setting), so they bypass the bag's
  // one-error-per-position rule.
  if (opts.limits?.maxEpochs !== undefined && epochs > opts.limits.maxEpochs) {
    bag.items.push(diag('training_limit', `epochs ${epochs} exceeds the limit of ${opts.limits.maxEpochs} (maxEpochs)`, trainingLoc));
  }
  if (opts.limits?.maxBatchSize !== undefined && batchSize > opts.limits.maxBatchSize) {
    bag.items.push(diag('training_limit', `batch_size ${batchSize} exceeds the limit of ${opts.limits.maxBatchSize} (maxBatchSize)`, trainingLoc));
  }
  if (validationSplit >= 1) bag.error('invalid_training', `validation_split ${validationSplit} leaves no training samples`, trainingLoc, 'use a value below 1, e.g. 0.2');
  if (opts.trainSamples !== undefined && !(Number.isInteger(opts.trainSamples) && opts.trainSamples >= 1)) {
    bag.error('invalid_training', `train_samples must be an integer of at least 1, got ${opts.trainSamples}`, undefined);
  }

  const loss = KERAS_LOSSES[m.loss ?? 'categorical_crossentropy'];
  if (!loss) bag.error('unsupported_loss', `Loss '${m.loss}' cannot be trained by the ${engine} engine`, m.sectionLocs.loss, `supported: ${Object.keys(KERAS_LOSSES).join(', ')}`);
  if (!m.loss) warnings.push('The model names no loss: training with categorical_crossentropy (class labels are one-hot encoded).');
  const fromLogits = !!loss && CROSS_ENTROPIES.has(loss) && outputsLogits(m);

  const outDim = checked.outputShape[checked.outputShape.length - 1];
  const metrics: string[] = [];
  const requested = m.metrics ?? (loss && CROSS_ENTROPIES.has(loss) ? ['accuracy'] : []);
  if (!m.metrics && requested.length) {
    warnings.push(
      engine === 'pytorch'
        ? "The model names no metrics: the plan reports accuracy, but the generated PyTorch module reports only the DSL's metrics; apply metrics: ['accuracy'] with applyTrainingConfig to have it computed."
        : 'The model names no metrics: reporting accuracy.',
    );
  }
  for (const name of requested) {
    if (name === 'loss') continue;
    const key = metricKey(name, loss ?? '');
    if (!key) {
      bag.error('unsupported_metric', `Metric '${name}' cannot be computed by the ${engine} engine`, m.sectionLocs.metrics, `supported: ${SUPPORTED_METRICS.join(', ')}`);
    } else if (!metrics.includes(key)) metrics.push(key);
  }
  if (outDim === null) bag.error('invalid_training', 'The output size depends on an unresolved value', m.sectionLocs.layers);

  const optimizer = resolveOptimizer(m, engine, bag, warnings);
  bag.throwIfErrors();

  const inputShape = m.inputs[0].shape.slice(1).map((d) => d ?? -1);
  const outputShape = checked.outputShape.slice(1).map((d) => d ?? -1);
  const shuffle = opts.shuffle ?? true;
  const trainSamples = opts.trainSamples ?? null;
  const hyperparameters: TrainingPlan['hyperparameters'] = {
    epochs,
    batch_size: batchSize,
    validation_split: validationSplit,
    learning_rate: optimizer.learningRate,
    optimizer: optimizer.type,
    loss,
    metrics: metrics.join(','),
    schedule: optimizer.schedule?.name ?? null,
    train_samples: trainSamples,
    shuffle,
  };
  for (const [key, value] of Object.entries(optimizer.params)) hyperparameters[`optimizer.${key}`] = value;
  if (optimizer.weightDecay !== null) hyperparameters.weight_decay = optimizer.weightDecay;
  for (const [key, value] of Object.entries(optimizer.clip)) hyperparameters[`clip.${key}`] = value;
  for (const [path, value] of Object.entries(opts.hpo ?? {})) hyperparameters[path] = flat(value);
  return {
    engine,
    modelName: m.name,
    inputShape,
    outputShape,
    epochs,
    batchSize,
    validationSplit,
    trainSamples,
    shuffle,
    loss,
    fromLogits,
    metrics,
    optimizer: { type: optimizer.type, learningRate: optimizer.learningRate, params: optimizer.params },
    schedule: optimizer.schedule,
    clip: optimizer.clip,
    weightDecay: optimizer.weightDecay,
    hyperparameters,
    warnings,
  };
}

/** DSL metric → history key (the PyTorch emitter's naming); undefined when the engine cannot compute it. */
export function metricKey(name: string, loss: string): string | undefined {
  switch (name) {
    case 'accuracy':
    case 'acc':
      return 'accuracy';
    case 'top_k_accuracy':
      return loss === 'sparse_categorical_crossentropy' ? 'sparse_top_k_categorical_accuracy' : 'top_k_categorical_accuracy';
    case 'mae':
    case 'mean_absolute_error':
      return 'mae';
    case 'mse':
    case 'mean_squared_error':
      return 'mse';
    default:
      return SUPPORTED_METRICS.includes(name) ? name : undefined;
  }
}

/** True when the model ends in a linear Dense/Output/Activation (the rule of both Python emitters). */
export function outputsLogits(model: ModelIR): boolean {
  const last = model.layers[model.layers.length - 1];
  if (!last || last.kind !== 'layer' || last.custom) return false;
  if (last.type === 'Dense') return (last.params.activation ?? 'linear') === 'linear';
  if (last.type === 'Output') return last.params.activation === 'linear' || last.params.activation === null;
  return last.type === 'Activation' && last.params.function === 'linear';
}

interface ResolvedOptimizer {
  type: string;
  learningRate: number;
  params: Record<string, number | boolean>;
  schedule: LrSchedule | null;
  clip: TrainingPlan['clip'];
  weightDecay: number | null;
}

function resolveOptimizer(m: ModelIR, engine: TrainingEngine, bag: DiagnosticBag, warnings: string[]): ResolvedOptimizer {
  const spec = m.optimizer ?? { type: 'Adam', params: {}, loc: m.sectionLocs.optimizer ?? { line: 1, column: 1 } };
  if (!m.optimizer) warnings.push('The model names no optimizer: training with Adam(learning_rate=0.001).');
  const type = spec.type;
  const allowed = OPTIMIZER_ARGS[type];
  const result: ResolvedOptimizer = { type, learningRate: DEFAULT_LEARNING_RATE[type] ?? 0.001, params: {}, schedule: null, clip: {}, weightDecay: null };
  if (!allowed) {
    bag.error('unsupported_optimizer', `Optimizer '${type}' cannot be trained by the ${engine} engine`, spec.loc, `supported: ${Object.keys(OPTIMIZER_ARGS).join(', ')}`);
    return result;
  }
  for (const [key, value] of Object.entries(spec.params)) {
    if (key === 'learning_rate') continue;
    if (!COMMON_OPTIMIZER_ARGS.includes(key) && !allowed.includes(key)) {
      bag.error('unsupported_parameter', `${type} has no parameter '${key}' in Keras`, spec.loc, `${type} accepts: ${[...COMMON_OPTIMIZER_ARGS, ...allowed].join(', ')}`);
      continue;
    }
    if (typeof value === 'number' || typeof value === 'boolean') result.params[key] = value;
  }

  const own = spec.params.learning_rate;
  let lr: Value | undefined;
  if (m.lrSchedule && typeof own === 'number') {
    // The two emitters disagree here; each engine follows the code that actually runs for it.
    lr = engine === 'tfjs' ? m.lrSchedule : own;
    warnings.push(
      engine === 'tfjs'
        ? `Both ${type}(learning_rate=${own}) and lr_schedule are given: the schedule is used, as in the generated Keras model.`
        : `Both ${type}(learning_rate=${own}) and lr_schedule are given: the constant is used, as in the generated PyTorch module.`,
    );
  } else lr = own ?? m.lrSchedule;
  if (isCall(lr)) {
    result.schedule = schedule(lr, bag);
    if (result.schedule) result.learningRate = result.schedule.initialLearningRate;
  } else if (typeof lr === 'number') result.learningRate = lr;

  const p = result.params;
  const gradientClip = m.training?.gradient_clip;
  const norm = typeof p.clipnorm === 'number' ? p.clipnorm : typeof gradientClip === 'number' ? gradientClip : undefined;
  if (norm !== undefined && norm > 0) result.clip.norm = norm;
  if (typeof p.global_clipnorm === 'number' && p.global_clipnorm > 0) result.clip.globalNorm = p.global_clipnorm;
  if (typeof p.clipvalue === 'number' && p.clipvalue > 0) result.clip.value = p.clipvalue;
  const clips = Object.keys(result.clip).length;
  if (clips > 1) {
    const message = 'Keras accepts only one of clipnorm (or train gradient_clip), clipvalue and global_clipnorm';
    if (engine === 'tfjs') bag.error('unsupported_optimizer', message, spec.loc, 'keep one of them');
    else warnings.push(`${message}; the generated PyTorch module applies clipnorm, then global_clipnorm, then clipvalue.`);
  }
  if (type === 'AdamW') result.weightDecay = typeof p.weight_decay === 'number' ? p.weight_decay : ADAMW_WEIGHT_DECAY;
  else if (typeof p.weight_decay === 'number' && p.weight_decay > 0) result.weightDecay = p.weight_decay;
  if (result.weightDecay === 0) result.weightDecay = null;
  return result;
}

function schedule(call: CallValue, bag: DiagnosticBag): LrSchedule | null {
  const k = call.kwargs;
  const n = (key: string): number | undefined => (typeof k[key] === 'number' ? (k[key] as number) : undefined);
  const names: LrSchedule['name'][] = ['ExponentialDecay', 'StepDecay', 'InverseTimeDecay', 'CosineDecay', 'PolynomialDecay'];
  const name = names.find((x) => x === call.name);
  const init = n('initial_learning_rate');
  const steps = n('decay_steps');
  if (!name || call.args.length || init === undefined || steps === undefined) {
    bag.error('unsupported_schedule', `Learning-rate schedule '${call.name}' cannot be trained`, call.loc, `supported: ${names.join(', ')}`);
    return null;
  }
  const s: LrSchedule = { name, initialLearningRate: init, decaySteps: steps };
  switch (name) {
    case 'ExponentialDecay':
    case 'InverseTimeDecay':
      s.decayRate = n('decay_rate');
      s.staircase = k.staircase === true;
      break;
    case 'StepDecay':
      s.decayRate = n('decay_rate');
      s.staircase = true;
      break;
    case 'CosineDecay':
      s.alpha = n('alpha') ?? 0;
      break;
    case 'PolynomialDecay':
      s.endLearningRate = n('end_learning_rate') ?? 0.0001;
      s.power = n('power') ?? 1;
      break;
  }
  return s;
}

/** Layers the tfjs engine cannot train, each named with its type at its position. */
function checkTfjsLayers(checked: CheckedModel, bag: DiagnosticBag): void {
  const refuse = (node: LayerNode, why: string, hint: string) =>
    bag.error('untrainable_layer', `Layer '${node.id}' (${node.type}) cannot be trained by the tfjs engine: ${why}`, node.loc, hint);
  const visit = (nodes: ModelNode[]): void => {
    for (const node of nodes) {
      if (node.kind === 'branch') {
        visit(node.body);
        continue;
      }
      const spec = node.custom ? undefined : layerSpec(node.type);
      if (!spec || spec.category === 'opaque') {
        const why = node.type === 'Lambda' ? 'a Lambda carries code, which is never run' : node.custom ? 'custom layers have no definition' : 'the layer has no defined computation';
        refuse(node, why, 'replace it with built-in layers');
        continue;
      }
      const dilation = node.params.dilation_rate;
      const dilations = Array.isArray(dilation) ? dilation : [dilation];
      if (spec.category === 'conv' && dilations.some((d) => typeof d === 'number' && d > 1)) {
        refuse(node, 'tfjs has no gradient for dilated convolutions', 'use dilation_rate=1, or the pytorch engine');
      }
      if ((node.type === 'BatchNormalization' || node.type === 'LayerNormalization') && (node.params.center === false || node.params.scale === false)) {
        // tfjs-layers 4.22 reads the missing beta/gamma in its training path (BatchNormalization) or gradient (LayerNormalization).
        refuse(node, `tfjs ${node.type} trains only with center=true and scale=true`, 'drop center=false / scale=false, or use the pytorch engine');
      }
      visit(node.sublayers);
      if (isLayer(node.params.layer)) visit([node.params.layer]);
    }
  };
  visit(checked.model.layers);
  const seen = new Set(bag.items.map((d) => `${d.line}:${d.column}`));
  try {
    lowerToKeras(checked, 'tfjs');
  } catch (e) {
    if (!(e instanceof DslError)) throw e;
    for (const d of e.diagnostics) {
      if (d.severity !== 'error' || seen.has(`${d.line}:${d.column}`)) continue;
      const loc: SourceLoc = { line: d.line, column: d.column };
      bag.error(d.code === 'unsupported_layer' ? 'untrainable_layer' : d.code, d.message, loc, d.hint);
    }
  }
}

function setting(v: Value | undefined, fallback: number): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'number') throw new Error(`internal: training setting ${JSON.stringify(v)} is not a number`);
  return v;
}

function flat(v: Value): string | number | boolean | null {
  if (v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return v;
  if (isHpo(v)) return null;
  return JSON.stringify(v);
}
