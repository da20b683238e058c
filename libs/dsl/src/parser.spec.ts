import { readdirSync, readFileSync } from 'fs';
import { join } from 'path';
import { DslError, type Diagnostic } from './diagnostics';
import type { LayerNode } from './ir';
import { parse, parseModel } from './parser';

const EXAMPLES = join(__dirname, '..', 'fixtures', 'examples');

function errors(src: string): Diagnostic[] {
  try {
    parse(src);
  } catch (e) {
    if (e instanceof DslError) return e.diagnostics;
    throw e;
  }
  throw new Error('expected a DslError');
}

const layer = (src: string, i = 0) => parseModel(src).layers[i] as LayerNode;
const net = (layers: string, extra = '') => `network T { input: (28, 28, 1) layers: ${layers} ${extra} }`;

describe('parser: the example files', () => {
  const files = readdirSync(EXAMPLES).filter((f) => f.endsWith('.neural'));

  it('has all 18 examples', () => expect(files).toHaveLength(18));

  it.each(files)('%s parses', (f) => {
    const model = parseModel(readFileSync(join(EXAMPLES, f), 'utf8'));
    expect(model.layers.length).toBeGreaterThan(0);
    expect(model.inputs.length).toBeGreaterThan(0);
  });

  it('lowers mnist.neural exactly (DSL.md §8)', () => {
    const m = parseModel(readFileSync(join(EXAMPLES, 'mnist.neural'), 'utf8'));
    expect(m.name).toBe('MNISTClassifier');
    expect(m.inputs).toEqual([{ name: 'input', shape: [null, 28, 28, 1], loc: { line: 2, column: 12 } }]);
    expect(m.layers.map((l) => (l as LayerNode).type)).toEqual(['Conv2D', 'MaxPooling2D', 'Flatten', 'Dense', 'Dropout', 'Output']);
    expect((m.layers[0] as LayerNode).params).toEqual({ filters: 32, kernel_size: [3, 3], strides: [1, 1], padding: 'valid', dilation_rate: [1, 1], activation: 'relu', use_bias: true });
    expect((m.layers[1] as LayerNode).params).toEqual({ pool_size: [2, 2], strides: [2, 2], padding: 'valid' });
    expect(m.loss).toBe('sparse_categorical_crossentropy');
    expect(m.optimizer).toMatchObject({ type: 'Adam', params: { learning_rate: 0.001 } });
    expect(m.training).toEqual({ epochs: 15, batch_size: 64, validation_split: 0.2 });
  });

  it('expands macros, multipliers and parameterised macros', () => {
    const mult = parseModel(readFileSync(join(EXAMPLES, 'LayersMultiplication+NestedLayers.neural'), 'utf8'));
    expect(mult.layers.map((l) => l.id)).toEqual(['conv2d_1', 'max_pooling2d_1', 'conv2d_2', 'max_pooling2d_2', 'conv2d_3', 'max_pooling2d_3']);
    const resnet = parseModel(readFileSync(join(EXAMPLES, 'resnet_block_commented.neural'), 'utf8'));
    const convs = resnet.layers.filter((l) => (l as LayerNode).type === 'Conv2D') as LayerNode[];
    // BottleneckBlock(filters=256) opens with ConvBlock(filters=$filters/4): 64 filters, 1x1.
    expect(convs.map((c) => c.params.filters)).toContain(64);
    expect(convs.some((c) => c.params.filters === 64 && JSON.stringify(c.params.kernel_size) === '[1,1]')).toBe(true);
    expect(resnet.lrSchedule).toMatchObject({ name: 'StepDecay', kwargs: { initial_learning_rate: 0.1, decay_steps: 30, decay_rate: 0.1 } });
    expect(resnet.metrics).toEqual(['accuracy', 'top_k_accuracy']);
  });

  it('tracks every HPO expression with a stable path (mnist_hpo.neural, DSL.md §5)', () => {
    const m = parseModel(readFileSync(join(EXAMPLES, 'mnist_hpo.neural'), 'utf8'));
    expect(m.hpo.map((h) => [h.path, h.spec])).toEqual([
      ['dense_1.units', { type: 'categorical', values: [128, 256] }],
      ['dropout_1.rate', { type: 'range', start: 0.3, end: 0.7, step: 0.1 }],
      ['optimizer.learning_rate', { type: 'log_range', min: 1e-4, max: 1e-2 }],
    ]);
    const adv = parseModel(readFileSync(join(EXAMPLES, 'advanced_hpo_v0.2.7.neural'), 'utf8'));
    expect(adv.hpo.map((h) => h.path)).toContain('optimizer.learning_rate.initial_learning_rate');
    const k = adv.hpo.find((h) => h.path === 'conv2d_1.kernel_size')!;
    expect(k.spec).toEqual({ type: 'categorical', values: [[3, 3], [5, 5]] });
  });
});

describe('parser: canonical syntax', () => {
  it('accepts the API shorthand as the same model as its canonical form', () => {
    const short = parseModel('Model MyModel {\n  Input(shape=[28, 28, 1])\n  Conv2D(filters=32, kernel_size=3, activation=relu)\n  Dense(units=10, activation=softmax)\n}');
    const canon = parseModel('network MyModel { input: (28, 28, 1) layers: Conv2D(filters=32, kernel_size=(3,3), activation="relu") Dense(units=10, activation="softmax") }');
    const strip = (m: typeof short) => JSON.parse(JSON.stringify({ ...m, sectionLocs: {} }, (k, v) => (k === 'loc' ? undefined : v)));
    expect(strip(short)).toEqual(strip(canon));
  });

  it('accepts sections in any order, training/execution spellings and commas in train', () => {
    const m = parseModel('network N { optimizer: adam loss: MSE training { epochs: 3, batch_size: 8, } layers: Dense(1) input: (4) execution { device: "cpu" } }');
    expect(m.optimizer?.type).toBe('Adam');
    expect(m.loss).toBe('mse');
    expect(m.training).toEqual({ epochs: 3, batch_size: 8 });
    expect(m.execution).toEqual({ device: 'cpu' });
    expect(m.inputs[0].shape).toEqual([null, 4]);
  });

  it('normalises case-insensitive layer names, numbers and values', () => {
    expect(layer(net('conv2d(16, 3)')).type).toBe('Conv2D');
    expect(layer(net('DENSE(64.0, "ReLU")')).params).toEqual({ units: 64, activation: 'relu', use_bias: true });
    expect(layer(net('Dense(1e3)')).params.units).toBe(1000);
    expect(layer(net('Dense(+5)')).params.units).toBe(5);
    expect(layer(net('Dropout(1.)')).params.rate).toBe(1);
    expect(layer(net('Dropout(.5)')).params.rate).toBe(0.5);
    expect(layer(net('Dense(8, use_bias=FALSE)')).params.use_bias).toBe(false);
    expect(layer(net('Reshape((-1, 4))')).params.target_shape).toEqual([-1, 4]);
    expect(layer(net('Conv2D(8, [3, 5], stride=2)')).params).toMatchObject({ kernel_size: [3, 5], strides: [2, 2] });
  });

  it('parses inputs: several, named, None batch, (10) == (10,)', () => {
    expect(parseModel('network N { input: (None, 28, 28) layers: Flatten() }').inputs[0].shape).toEqual([null, 28, 28]);
    expect(parseModel('network N { input: (10) layers: Dense(1) }').inputs[0].shape).toEqual([null, 10]);
    expect(parseModel('network N { input: (10,), (3, 4) layers: Dense(1) }').inputs.map((i) => [i.name, i.shape])).toEqual([
      ['input_1', [null, 10]],
      ['input_2', [null, 3, 4]],
    ]);
    const named = parseModel('network N { input: { image: (8, 8, 1), meta: (3,) } layers: image: { Flatten() } meta: { Dense(4) } Concatenate() Output(2) }');
    expect(named.inputs.map((i) => i.name)).toEqual(['image', 'meta']);
    expect(named.layers[0]).toMatchObject({ kind: 'branch', name: 'image' });
  });

  it('parses wrappers, blocks, devices and multipliers', () => {
    const m = parseModel('network N { input: (10, 4) layers: TimeDistributed(Dense(8)) @ "cuda:0" Bidirectional(LSTM(16, return_sequences=true), merge_mode="sum") ResidualConnection { Dense(16) } * 2 }');
    const [td, bi, r1, r2] = m.layers as LayerNode[];
    expect(td.device).toBe('cuda:0');
    expect((td.params.layer as LayerNode).type).toBe('Dense');
    expect(bi.params.merge_mode).toBe('sum');
    expect(r1.sublayers).toHaveLength(1);
    expect(r1.id).not.toBe(r2.id);
    expect((r1.sublayers[0] as LayerNode).id).not.toBe((r2.sublayers[0] as LayerNode).id);
  });

  it('parses optimizers as call, bare name, string and string with arguments; schedules', () => {
    expect(parseModel(net('Dense(1)', 'optimizer: "Adam(learning_rate=1e-4)"')).optimizer).toMatchObject({ type: 'Adam', params: { learning_rate: 1e-4 } });
    expect(parseModel(net('Dense(1)', 'optimizer: sgd(0.1, momentum=0.9, nesterov=true)')).optimizer).toMatchObject({ type: 'SGD', params: { learning_rate: 0.1, momentum: 0.9, nesterov: true } });
    const s = parseModel(net('Dense(1)', 'optimizer: Adam(learning_rate=ExponentialDecay(0.1, 1000, 0.96))')).optimizer!.params.learning_rate;
    expect(s).toMatchObject({ kind: 'call', name: 'ExponentialDecay', kwargs: { initial_learning_rate: 0.1, decay_steps: 1000, decay_rate: 0.96 } });
  });

  it('turns batch_size lists into a categorical hyperparameter', () => {
    for (const v of ['[16, 32, 64]', '16, 32, 64']) {
      const m = parseModel(net('Dense(1)', `train { batch_size: ${v} epochs: 2 }`));
      expect(m.training!.batch_size).toMatchObject({ kind: 'hpo', path: 'training.batch_size', spec: { type: 'categorical', values: [16, 32, 64] } });
      expect(m.training!.epochs).toBe(2);
    }
  });

  it('shares one hyperparameter between the copies of a repeated layer', () => {
    const m = parseModel(net('Dense(HPO(choice(8, 16))) * 3'));
    expect(m.hpo).toHaveLength(1);
    expect((m.layers as LayerNode[]).map((l) => (l.params.units as { path: string }).path)).toEqual(['dense_1.units', 'dense_1.units', 'dense_1.units']);
  });
});

describe('parser: diagnostics', () => {
  it('points at the offending token with line and column', () => {
    const [e] = errors('network T {\n  input: (28, 28, 1)\n  layers:\n    Dense(10 10)\n}');
    expect(e).toMatchObject({ line: 4, column: 14, message: "Unexpected token '10' at line 4, column 14: expected ',' or ')'" });
  });

  it('reports every independent error in one pass', () => {
    const ds = errors(net('Dense(10) Dropout(1.5) Desne(3) Conv2D(32, (3,3), "rellu") Dense(5 5)', 'loss: "foo"'));
    expect(ds.map((d) => d.message)).toEqual([
      'Dropout rate should be between 0 and 1, got 1.5',
      "Unknown layer type or undefined macro 'Desne'",
      "Invalid activation function 'rellu'",
      expect.stringContaining("Unexpected token '5'"),
      'Invalid loss function: foo',
    ]);
    expect(ds[1].hint).toBe('did you mean Dense?');
    expect(ds[2].hint).toBe("did you mean 'relu'?");
  });

  it.each([
    ['', "expected 'network'"],
    ['Network X { input: (1) layers: Dense(1) }', "expected 'network'"],
    ['network X { input: (28,28,1) layers: Flatten }', 'Flatten needs parentheses: Flatten()'],
    [net('Dense()'), "Dense layer requires 'units' parameter"],
    [net('Dense(0)'), 'Dense units must be a positive integer, got 0'],
    [net('Dense(1.5)'), 'Dense units must be an integer, got 1.5'],
    [net('Dense("a")'), "Dense units must be a number, got 'a'"],
    [net('Dense(1, "relu", 3)'), 'Dense with more than two positional parameters is not supported'],
    [net('Dense(4) * 0'), 'Layer multiplier must be a positive integer, got 0'],
    [net('Dense(4) @ "npu"'), "Invalid device specification: 'npu'. Valid devices are: cpu, cuda, gpu, tpu, xla"],
    [net('Dense(4) @ "CUDA:0"'), "Invalid device specification: 'CUDA:0'"],
    [net('Conv2D(32, (0, 0))'), 'Conv2D kernel_size should be positive integers, got (0, 0)'],
    [net('Conv2D(32, (3, 3, 3))'), 'Conv2D kernel_size must have 2 values for Conv2D, got 3'],
    [net('Conv2D(32, 3, filtrs=3)'), "Conv2D has no parameter 'filtrs'"],
    [net('MaxPooling2D()'), "Missing required parameter 'pool_size' for MaxPooling2D"],
    [net('Dense(2147483648)'), 'Dense units must be at most 2147483647'],
    [net('Dense(HPO(range(64, 16)))'), 'Range end value must be greater than start value, got start=64, end=16'],
    [net('Dense(HPO(range(1, 16, step=0)))'), 'Range step value must be positive, got step=0'],
    [net('Dense(1)', 'optimizer: Adam(learning_rate=HPO(log_range(0, 1)))'), 'Log range min value must be positive, got min=0'],
    [net('Dense(HPO(choice(1, "a")))'), 'Mixed types in choice are not allowed, found: number, string'],
    [net('Dense(HPO(uniform(1, 2)))'), 'expected choice, range or log_range inside HPO(...)'],
    [net('Dense(1)', 'optimizer: Adam(learning_rate=-1)'), 'learning_rate must be positive, got -1'],
    [net('Dense(1)', 'optimizer: SGD(momentum=1.5)'), 'momentum should be between 0 and 1, got 1.5'],
    [net('Dense(1)', 'optimizer: Adam(learning_rate=ExponentialDecay(0.1))'), "ExponentialDecay requires 'decay_steps' parameter"],
    [net('Dense(1)', 'optimizer: Adagrd'), 'Invalid optimizer: Adagrd'],
    [net('Dense(1)', 'train { epochs: -10 }'), 'epochs must be positive, got -10'],
    [net('Dense(1)', 'train { epochs: 10.5 }'), 'epochs must be an integer, got 10.5'],
    [net('Dense(1)', 'train { validation_split: 1.5 }'), 'validation_split must be between 0 and 1, got 1.5'],
    [net('Dense(1)', 'train { batch_size: 0 }'), 'batch_size must be positive, got 0'],
    ['network X { input: () layers: Dense(1) }', 'Input shape cannot be empty'],
    ['network X { input: (0, 28) layers: Dense(1) }', 'Input dimensions must be positive, got 0 at position 0'],
    ['network X { layers: Dense(1) }', 'Network must have an input section'],
    ['network X { input: (1) }', 'Network must have a layers section'],
    ['network X { input: (1) input: (2) layers: Dense(1) }', 'Duplicate input section'],
    ['network X { input: (1) layers: Dense("a) }', 'Unterminated string literal at line 1, column 38'],
    ['network X { input: (1) layers: Dense(1) $ }', "Unexpected character '$'"],
    ['network X { input: (1) layers: Dense(1) // c\n }', "Unexpected character '/'"],
    ['Model MyModel {...}', "Unexpected character '.'"],
    ['define B { Dense(1) } network X { input: (1) layers: B(3) }', "Macro 'B' takes no arguments"],
    ['define B { } network X { input: (1) layers: B }', 'Empty macro definition for B'],
    ['define B { B } network X { input: (1) layers: B }', "Macro 'B' uses itself"],
    ['network X { input: (1) layers: Dense(1) } network Y { input: (1) layers: Dense(1) }', 'exactly one network'],
    [net('Bidirectional(Dense(3))'), 'Bidirectional wraps a recurrent layer'],
    [net('Activation("relu", 0.1)'), 'Unexpected extra positional parameter 0.1 for activation'],
    [net('Dense(4) { Dense(2) }'), 'Dense does not take a nested block'],
  ])('%j → %s', (src, message) => {
    const ds = errors(src);
    expect(ds.map((d) => d.message).join('\n')).toContain(message);
    for (const d of ds) {
      expect(d.line).toBeGreaterThanOrEqual(1);
      expect(d.column).toBeGreaterThanOrEqual(1);
    }
  });

  it('reports positions inside a string optimizer', () => {
    const [e] = errors('network X { input: (1) layers: Dense(1) optimizer: "Adam(learning_rat=1)" }');
    expect(e).toMatchObject({ line: 1, column: 58, message: "Adam has no parameter 'learning_rat'", hint: "did you mean 'learning_rate'?" });
  });
});

describe('parser: hostile input ends quickly with a clear error', () => {
  const bounded = (src: string, message: string): void => {
    const ds = errors(src);
    expect(ds.map((d) => d.message).join('\n')).toContain(message);
  };

  it('rejects sources over 1 MiB', () => void bounded(`network X { input: (1) layers: ${'Dense(1) '.repeat(120_000)} }`, 'DSL source too large'));
  it('rejects 10,000 nested braces', () => void bounded(`network X { input: (1) layers: ${'ResidualConnection { '.repeat(10_000)}`, 'maximum nesting depth exceeded (64)'));
  it('rejects 10,000 nested parentheses', () => void bounded(`network X { input: (1) layers: Dense(${'('.repeat(10_000)}`, 'maximum nesting depth exceeded'));
  it('rejects 100,000 layers', () => void bounded(`network X { input: (1) layers: ${'Dense(1)\n'.repeat(100_000)} }`, 'more than 10000 layers'));
  it('rejects huge multipliers without expanding them', () => void bounded(net('Dense(1) * 2000000000'), 'exceeds the model limit'));
  it('rejects exponential macro expansion', () =>
    void bounded('define A { Dense(1) * 100 } define B { A * 100 } define C { B * 100 } network X { input: (1) layers: C * 100 }', 'more than 10000 layers'));
  it('rejects binary garbage', () => void bounded(String.fromCharCode(...Array.from({ length: 4096 }, (_, i) => (i * 7919) % 256)), 'Unexpected'));
  it('caps the number of errors reported', () => {
    const ds = errors(net('Desne(1) '.repeat(1000)));
    expect(ds.length).toBeLessThanOrEqual(100);
  });
});
