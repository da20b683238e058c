/**
 * The TensorFlow backend: a standalone Python module (tf.keras only) for a checked model, built from the Keras
 * lowering in `keras.ts`. Importing the module only defines `INPUT_SHAPE`, `build_model()` and helpers; training runs
 * under `if __name__ == "__main__":`. Every DSL string reaches the output through `pyStr`/`pyValue`.
 */
import type { CheckedModel } from '../checked';
import { DiagnosticBag, DslError, type Diagnostic } from '../diagnostics';
import { isCall, type CallValue, type Value } from '../ir';
import { COMMON_OPTIMIZER_ARGS, DEFAULT_LEARNING_RATE, KERAS_LOSSES, OPTIMIZER_ARGS } from '../layers';
import { lowerToKeras, type KerasArg, type KerasGraph, type KerasLayer, type KerasNode } from './keras';
import { pyNum, pyStr, pyValue } from './python';

export interface TensorflowOptions {
  /** Dataset to train on when the script gets neither --data nor --dataset (`mnist`, `FashionMNIST`, `cifar10`, ...). */
  dataset?: string;
}

/** Keras datasets the script can load, by normalised name (lowercase, punctuation dropped). */
const DATASETS: Record<string, string> = {
  mnist: 'mnist',
  fashionmnist: 'fashion_mnist',
  cifar10: 'cifar10',
  cifar100: 'cifar100',
  imdb: 'imdb',
};

/** DSL schedule → Keras schedule class (+ fixed arguments). */
const SCHEDULES: Record<string, { className: string; extra?: Record<string, boolean> }> = {
  ExponentialDecay: { className: 'ExponentialDecay' },
  StepDecay: { className: 'ExponentialDecay', extra: { staircase: true } },
  InverseTimeDecay: { className: 'InverseTimeDecay' },
  CosineDecay: { className: 'CosineDecay' },
  PolynomialDecay: { className: 'PolynomialDecay' },
};

/** Cross-entropies whose Keras class takes `from_logits`. */
const LOGIT_LOSSES: Record<string, string> = {
  categorical_crossentropy: 'CategoricalCrossentropy',
  sparse_categorical_crossentropy: 'SparseCategoricalCrossentropy',
  binary_crossentropy: 'BinaryCrossentropy',
};

/** DSL metric names → Python expressions (strings Keras resolves, or metric objects named like the DSL). */
const METRICS: Record<string, string> = {
  accuracy: "'accuracy'",
  acc: "'accuracy'",
  binary_accuracy: "'binary_accuracy'",
  categorical_accuracy: "'categorical_accuracy'",
  sparse_categorical_accuracy: "'sparse_categorical_accuracy'",
  top_k_categorical_accuracy: "'top_k_categorical_accuracy'",
  sparse_top_k_categorical_accuracy: "'sparse_top_k_categorical_accuracy'",
  precision: "keras.metrics.Precision(name='precision')",
  recall: "keras.metrics.Recall(name='recall')",
  auc: "keras.metrics.AUC(name='auc')",
  f1_score: "keras.metrics.F1Score(name='f1_score')",
  mae: "'mae'",
  mean_absolute_error: "'mae'",
  mse: "'mse'",
  mean_squared_error: "'mse'",
  rmse: "keras.metrics.RootMeanSquaredError(name='rmse')",
};

/** Activations Keras 2.13+ and Keras 3 both resolve by name; the others get an expression. */
const ACTIVATION_EXPR: Record<string, string> = { silu: "'swish'", leaky_relu: 'tf.nn.leaky_relu', mish: 'mish', hard_sigmoid: 'hard_sigmoid' };

const RNN_CLASSES = new Set(['LSTM', 'GRU', 'SimpleRNN']);

/** Keras constructor defaults, left out of the generated code to keep it readable. */
const DEFAULTS: Record<string, KerasArg> = {
  padding: 'valid',
  use_bias: true,
  depth_multiplier: 1,
  momentum: 0.99,
  epsilon: 0.001,
  axis: -1,
  center: true,
  scale: true,
  return_sequences: false,
  mask_zero: false,
  merge_mode: 'concat',
  normalize: false,
  use_scale: false,
  dropout: 0,
};

/** Constructor arguments passed positionally: their keyword changed between Keras 2 (`alpha`) and 3 (`negative_slope`). */
const POSITIONAL: Record<string, string> = { LeakyReLU: 'alpha' };

/**
 * Emits a standalone tf.keras training script for a checked model (HPO resolved). Throws DslError listing every
 * layer, loss, optimizer argument or schedule Keras cannot express.
 */
export function emitTensorflow(checked: CheckedModel, opts: TensorflowOptions = {}): string {
  const problems: Diagnostic[] = [];
  let graph: KerasGraph | undefined;
  try {
    graph = lowerToKeras(checked, 'tensorflow');
  } catch (e) {
    if (!(e instanceof DslError)) throw e;
    problems.push(...e.diagnostics);
  }
  const bag = new DiagnosticBag();
  const settings = compileSettings(checked, graph, opts, bag);
  problems.push(...bag.items);
  if (problems.some((d) => d.severity === 'error') || !graph) throw new DslError(problems);
  return render(graph, settings);
}

interface Settings {
  lossName: string;
  lossExpr: string;
  metrics: string[];
  optimizerLines: string[];
  epochs: number;
  batchSize: number;
  validationSplit: number;
  savePath: string | null;
  mixedPrecision: boolean;
  dataset: string | null;
}

function compileSettings(checked: CheckedModel, graph: KerasGraph | undefined, opts: TensorflowOptions, bag: DiagnosticBag): Settings {
  const m = checked.model;
  const lossName = KERAS_LOSSES[m.loss ?? 'categorical_crossentropy'];
  if (!lossName) bag.error('unsupported_loss', `Loss '${m.loss}' cannot be emitted for the tensorflow backend`, m.sectionLocs.loss);
  let lossExpr = pyStr(lossName ?? '');
  if (graph && LOGIT_LOSSES[lossName] && outputsLogits(graph)) lossExpr = `keras.losses.${LOGIT_LOSSES[lossName]}(from_logits=True)`;

  const metrics: string[] = [];
  for (const name of m.metrics ?? []) {
    if (name === 'loss') continue;
    if (name === 'top_k_accuracy') metrics.push(lossName === 'sparse_categorical_crossentropy' ? "'sparse_top_k_categorical_accuracy'" : "'top_k_categorical_accuracy'");
    else if (METRICS[name]) metrics.push(METRICS[name]);
    else bag.error('unsupported_metric', `Metric '${name}' cannot be emitted for the tensorflow backend`, m.sectionLocs.metrics);
  }

  const t = m.training ?? {};
  const dataset = opts.dataset === undefined ? null : (DATASETS[opts.dataset.toLowerCase().replace(/[^a-z0-9]/g, '')] ?? null);
  if (opts.dataset !== undefined && !dataset) {
    bag.error('unknown_dataset', `Unknown dataset '${opts.dataset}' for the tensorflow backend`, undefined, `known datasets: ${Object.values(DATASETS).join(', ')}`);
  }
  return {
    lossName: lossName ?? '',
    lossExpr,
    metrics,
    optimizerLines: optimizerLines(checked, bag),
    epochs: trainNumber(t.epochs, 10),
    batchSize: trainNumber(t.batch_size, 32),
    validationSplit: trainNumber(t.validation_split, 0.2),
    savePath: typeof t.save_path === 'string' ? t.save_path : null,
    mixedPrecision: t.mixed_precision === true,
    dataset,
  };
}

/** The body of `make_optimizer(learning_rate=None)`. */
function optimizerLines(checked: CheckedModel, bag: DiagnosticBag): string[] {
  const m = checked.model;
  const opt = m.optimizer ?? { type: 'Adam', params: {}, loc: m.sectionLocs.optimizer ?? { line: 1, column: 1 } };
  const allowed = OPTIMIZER_ARGS[opt.type];
  if (!allowed) {
    bag.error('unsupported_optimizer', `Optimizer '${opt.type}' cannot be emitted for the tensorflow backend`, opt.loc);
    return [];
  }
  const kwargs: string[] = [];
  // A top-level lr_schedule overrides a constant optimizer learning rate (the parser rejects two schedules).
  const lr: Value = m.lrSchedule ?? opt.params.learning_rate ?? DEFAULT_LEARNING_RATE[opt.type] ?? 0.001;
  for (const [key, value] of Object.entries(opt.params)) {
    if (key === 'learning_rate') continue;
    if (!COMMON_OPTIMIZER_ARGS.includes(key) && !allowed.includes(key)) {
      bag.error('unsupported_parameter', `${opt.type} has no parameter '${key}' in Keras`, opt.loc, `${opt.type} accepts: ${[...COMMON_OPTIMIZER_ARGS, ...allowed].join(', ')}`);
      continue;
    }
    kwargs.push(`${key}=${pyValue(value)}`);
  }
  const clip = m.training?.gradient_clip;
  if (typeof clip === 'number' && opt.params.clipnorm === undefined) kwargs.push(`clipnorm=${pyNum(clip)}`);
  const lrExpr = isCall(lr) ? scheduleExpr(lr, bag) : pyValue(lr);
  return [
    '    if learning_rate is None:',
    `        learning_rate = ${lrExpr}`,
    `    return keras.optimizers.${opt.type}(${['learning_rate=learning_rate', ...kwargs].join(', ')})`,
  ];
}

function scheduleExpr(call: CallValue, bag: DiagnosticBag): string {
  const s = SCHEDULES[call.name];
  if (!s || call.args.length) {
    bag.error('unsupported_schedule', `Learning-rate schedule '${call.name}' cannot be emitted for the tensorflow backend`, call.loc);
    return 'None';
  }
  const args = Object.entries({ ...call.kwargs, ...s.extra }).map(([k, v]) => `${k}=${pyValue(v)}`);
  return `keras.optimizers.schedules.${s.className}(${args.join(', ')})`;
}

function trainNumber(v: Value | undefined, fallback: number): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'number') throw new Error(`internal: training setting ${JSON.stringify(v)} is not a number`);
  return v;
}

/** True when the model ends in a linear Dense/Activation, so cross-entropies must take logits. */
function outputsLogits(graph: KerasGraph): boolean {
  const last = graph.nodes.find((n) => n.name === graph.output);
  return !!last && (last.className === 'Dense' || last.className === 'Activation') && last.config.activation === 'linear';
}

function render(graph: KerasGraph, s: Settings): string {
  const vars = new Map<string, string>();
  const varOf = (name: string): string => vars.get(name)!;
  [...graph.inputs.map((i) => i.name), ...graph.nodes.map((n) => n.name)].forEach((name, i) => {
    vars.set(name, /^[A-Za-z0-9_]{1,100}$/.test(name) ? `x_${name}` : `x_${i}`);
  });
  const usesMish = graph.nodes.some((n) => usesActivation(n, 'mish'));
  const usesHardSigmoid = graph.nodes.some((n) => usesActivation(n, 'hard_sigmoid'));
  const firstEmbedding = graph.nodes.find((n) => n.className === 'Embedding');
  const outDim = graph.outputShape[graph.outputShape.length - 1];
  const multi = graph.inputs.length > 1;

  const body: string[] = [];
  for (const input of graph.inputs) {
    body.push(`    ${varOf(input.name)} = keras.Input(shape=${pyValue(input.shape)}, name=${pyStr(input.name)})`);
  }
  for (const node of graph.nodes) body.push(`    ${varOf(node.name)} = ${layerExpr(node)}${callExpr(node, varOf)}`);
  const inputsExpr = multi ? `[${graph.inputs.map((i) => varOf(i.name)).join(', ')}]` : varOf(graph.inputs[0].name);
  const modelName = /^[A-Za-z_][A-Za-z0-9_]{0,100}$/.test(graph.name) ? graph.name : 'neural_model';

  const out: string[] = [
    '# Generated by the Neural DSL compiler: a tf.keras model and its training script (TensorFlow 2.13 or later).',
    '# Import it for build_model(), or run it: python this_file.py --data train.npz --epochs 5',
    'import argparse',
    'import json',
    '',
    'import numpy as np',
    'import tensorflow as tf',
    'from tensorflow import keras',
    'from tensorflow.keras import layers',
    '',
    `MODEL_NAME = ${pyStr(graph.name)}`,
    `INPUT_SHAPE = ${pyValue(graph.inputs[0].shape)}`,
  ];
  if (multi) out.push(`INPUT_SHAPES = {${graph.inputs.map((i) => `${pyStr(i.name)}: ${pyValue(i.shape)}`).join(', ')}}`);
  out.push(
    `INPUT_NAMES = [${graph.inputs.map((i) => pyStr(i.name)).join(', ')}]`,
    `OUTPUT_SHAPE = ${pyValue(graph.outputShape.slice(1))}`,
    `NUM_CLASSES = ${pyValue(outDim)}`,
    `LOSS = ${pyStr(s.lossName)}`,
    `EPOCHS = ${pyNum(s.epochs)}`,
    `BATCH_SIZE = ${pyNum(s.batchSize)}`,
    `VALIDATION_SPLIT = ${pyNum(s.validationSplit)}`,
    `SAVE_PATH = ${pyValue(s.savePath)}`,
    `MIXED_PRECISION = ${pyValue(s.mixedPrecision)}`,
    `DEFAULT_DATASET = ${pyValue(s.dataset)}`,
    `DATASETS = (${Object.values(DATASETS).map(pyStr).join(', ')})`,
    `NUM_WORDS = ${pyNum(firstEmbedding ? (firstEmbedding.config.input_dim as number) : 10000)}`,
    '',
  );
  if (usesHardSigmoid) {
    out.push(
      '',
      'def hard_sigmoid(x):',
      '    """Keras 3 hard sigmoid, relu6(x + 3) / 6 (Keras 2 used 0.2x + 0.5): the same on every backend."""',
      '    return tf.nn.relu6(x + 3.0) / 6.0',
      '',
    );
  }
  if (usesMish) {
    out.push(
      '',
      'def mish(x):',
      '    """Mish activation x * tanh(softplus(x)), spelled out for Keras versions that lack it."""',
      '    return x * tf.math.tanh(tf.math.softplus(x))',
      '',
    );
  }
  out.push(
    '',
    'def make_optimizer(learning_rate=None):',
    '    """The DSL optimizer; a given learning_rate replaces the DSL one (and its schedule)."""',
    ...s.optimizerLines,
    '',
    '',
    'def build_model(learning_rate=None):',
    '    """Builds the network and compiles it with the DSL optimizer, loss and metrics."""',
    ...body,
    `    model = keras.Model(inputs=${inputsExpr}, outputs=${varOf(graph.output)}, name=${pyStr(modelName)})`,
    `    model.compile(optimizer=make_optimizer(learning_rate), loss=${s.lossExpr}, metrics=[${s.metrics.join(', ')}])`,
    '    return model',
    '',
    '',
    TRAINING_CODE,
  );
  return out.join('\n') + '\n';
}

function usesActivation(layer: KerasLayer, name: string): boolean {
  const inner = layer.config.layer;
  return layer.config.activation === name || (typeof inner === 'object' && inner !== null && !Array.isArray(inner) && usesActivation(inner, name));
}

/** `layers.Conv2D(filters=32, kernel_size=(3, 3), activation='relu', name='conv2d_1')` */
function layerExpr(layer: KerasLayer): string {
  const args: string[] = [];
  const positional = POSITIONAL[layer.className];
  if (positional) args.push(argExpr(layer.config[positional]));
  for (const [key, value] of Object.entries(layer.config)) {
    if (key === positional || isDefault(layer, key, value)) continue;
    const rendered = key === 'activation' && typeof value === 'string' ? (ACTIVATION_EXPR[value] ?? pyStr(value)) : argExpr(value);
    args.push(`${key}=${rendered}`);
  }
  args.push(`name=${pyStr(layer.name)}`);
  return `layers.${layer.className}(${args.join(', ')})`;
}

function argExpr(v: KerasArg): string {
  if (typeof v === 'object' && v !== null && !Array.isArray(v)) return layerExpr(v);
  return pyValue(v);
}

function isDefault(layer: KerasLayer, key: string, value: KerasArg): boolean {
  const c = layer.config;
  switch (key) {
    case 'activation':
      return layer.className !== 'Activation' && value === (RNN_CLASSES.has(layer.className) ? 'tanh' : 'linear');
    case 'strides':
      return Array.isArray(value) && (layer.className.includes('Pooling') ? same(value, c.pool_size) : value.every((v) => v === 1));
    case 'dilation_rate':
      return Array.isArray(value) && value.every((v) => v === 1);
    case 'groups':
      return value === 32;
    default:
      return key in DEFAULTS && same(DEFAULTS[key], value);
  }
}

function same(a: KerasArg, b: KerasArg): boolean {
  if (a === b) return true;
  if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
  return a.every((x, i) => same(x as KerasArg, b[i] as KerasArg));
}

function callExpr(node: KerasNode, varOf: (name: string) => string): string {
  const ins = node.inputs.map(varOf);
  const args = node.call === 'single' ? [ins[0]] : node.call === 'list' ? [`[${ins.join(', ')}]`] : ins;
  for (const [k, v] of Object.entries(node.callKwargs)) args.push(`${k}=${pyValue(v)}`);
  return `(${args.join(', ')})`;
}

/** The fixed part of every generated module: data loading and the training entry point. */
const TRAINING_CODE = `class JsonLines(keras.callbacks.Callback):
    """Prints one JSON object per epoch: {"epoch": n, "loss": ..., <metrics>, "val_...": ...}."""

    def on_epoch_end(self, epoch, logs=None):
        row = {"epoch": epoch + 1}
        row.update({key: float(value) for key, value in (logs or {}).items()})
        print(json.dumps(row), flush=True)


def fit_input(x, shape):
    """Reshapes samples to the input shape when only the layout differs, e.g. (28, 28) -> (28, 28, 1)."""
    x = np.asarray(x)
    if None in shape or tuple(x.shape[1:]) == tuple(shape):
        return x
    if int(np.prod(x.shape[1:])) != int(np.prod(shape)):
        raise SystemExit("training samples have shape %s but the model expects %s" % (tuple(x.shape[1:]), tuple(shape)))
    return x.reshape((-1,) + tuple(shape))


def prepare_labels(y):
    """Flattens (n, 1) class labels; one-hot encodes class indices for categorical_crossentropy."""
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1 and NUM_CLASSES != 1:
        y = y.reshape(-1)
    if LOSS == "categorical_crossentropy" and y.ndim == 1 and NUM_CLASSES:
        y = keras.utils.to_categorical(y, NUM_CLASSES)
    return y


def load_npz(path):
    """x_train, y_train and optional x_test, y_test (x_train_<input> etc. for several inputs) from an .npz file."""
    with np.load(path) as data:
        arrays = {key: data[key] for key in data.files}

    def inputs(prefix):
        if len(INPUT_NAMES) == 1:
            return fit_input(arrays[prefix], INPUT_SHAPE) if prefix in arrays else None
        keys = [prefix + "_" + name for name in INPUT_NAMES]
        if not all(key in arrays for key in keys):
            return None
        return {name: fit_input(arrays[key], INPUT_SHAPES[name]) for name, key in zip(INPUT_NAMES, keys)}

    x_train, x_test = inputs("x_train"), inputs("x_test")
    if x_train is None or "y_train" not in arrays:
        raise SystemExit("%s must contain x_train and y_train arrays" % path)
    y_test = arrays.get("y_test")
    return x_train, arrays["y_train"], x_test, y_test


def load_dataset(name):
    """A tf.keras.datasets dataset, scaled to [0, 1] (images) or padded to the input length (imdb)."""
    if len(INPUT_NAMES) != 1:
        raise SystemExit("--dataset needs a single-input model; use --data for several inputs")
    if name == "imdb":
        (x_train, y_train), (x_test, y_test) = keras.datasets.imdb.load_data(num_words=NUM_WORDS)
        maxlen = INPUT_SHAPE[0] or 200
        x_train = keras.utils.pad_sequences(x_train, maxlen=maxlen)
        x_test = keras.utils.pad_sequences(x_test, maxlen=maxlen)
    else:
        (x_train, y_train), (x_test, y_test) = getattr(keras.datasets, name).load_data()
        x_train = x_train.astype("float32") / 255.0
        x_test = x_test.astype("float32") / 255.0
    return fit_input(x_train, INPUT_SHAPE), y_train, fit_input(x_test, INPUT_SHAPE), y_test


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description="Train the %s model generated by the Neural DSL compiler." % MODEL_NAME)
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--batch-size", type=int, default=BATCH_SIZE)
    parser.add_argument("--learning-rate", type=float, default=None, help="replaces the DSL learning rate and schedule")
    parser.add_argument("--validation-split", type=float, default=VALIDATION_SPLIT)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--data", default=None, help=".npz file with x_train, y_train and optionally x_test, y_test")
    parser.add_argument("--dataset", choices=DATASETS, default=None)
    parser.add_argument("--save", default=SAVE_PATH, help="where to save the trained model (.keras)")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.seed is not None:
        keras.utils.set_random_seed(args.seed)
    if MIXED_PRECISION:
        keras.mixed_precision.set_global_policy("mixed_float16")
    if args.data:
        x_train, y_train, x_test, y_test = load_npz(args.data)
    elif args.dataset or DEFAULT_DATASET:
        x_train, y_train, x_test, y_test = load_dataset(args.dataset or DEFAULT_DATASET)
    else:
        raise SystemExit("no training data: pass --data PATH.npz or --dataset NAME")
    model = build_model(learning_rate=args.learning_rate)
    model.fit(
        x_train,
        prepare_labels(y_train),
        epochs=args.epochs,
        batch_size=args.batch_size,
        validation_split=args.validation_split,
        callbacks=[JsonLines()],
        verbose=0,
    )
    if x_test is not None and y_test is not None:
        results = model.evaluate(x_test, prepare_labels(y_test), batch_size=args.batch_size, verbose=0, return_dict=True)
        print(json.dumps({"test_" + key: float(value) for key, value in results.items()}), flush=True)
    if args.save:
        # Keras 3 saves only to .keras (or legacy .h5) files.
        model.save(args.save if args.save.endswith((".keras", ".h5")) else args.save + ".keras")


if __name__ == "__main__":
    main()`;
