import * as tf from '@tensorflow/tfjs';
import { createOptimizer, scheduleAt } from './optimizers';
import type { LrSchedule, TrainingPlan } from './types';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

function plan(type: string, learningRate: number, params: Record<string, number | boolean> = {}, extra: Partial<TrainingPlan> = {}): TrainingPlan {
  return {
    engine: 'tfjs',
    modelName: 'M',
    inputShape: [1],
    outputShape: [1],
    epochs: 1,
    batchSize: 1,
    validationSplit: 0,
    trainSamples: null,
    shuffle: false,
    loss: 'mean_squared_error',
    fromLogits: false,
    metrics: [],
    optimizer: { type, learningRate, params },
    schedule: null,
    clip: {},
    weightDecay: type === 'AdamW' ? 0.004 : null,
    hyperparameters: {},
    warnings: [],
    ...extra,
  };
}

function steps(p: TrainingPlan, start: number[], grads: number[][]): number[] {
  const v = tf.variable(tf.tensor1d(start));
  const opt = createOptimizer(tf, p, [v]);
  for (const g of grads) tf.tidy(() => opt.apply([tf.tensor1d(g)]));
  const out = Array.from(v.dataSync());
  opt.dispose();
  v.dispose();
  return out;
}

function expectClose(actual: number[], expected: number[], tol: number): void {
  actual.forEach((a, i) => expect(Math.abs(a - expected[i])).toBeLessThanOrEqual(tol + tol * Math.abs(expected[i])));
}

const ones = Array(10).fill(1);
const first = Array(10).fill(0.01);
const ramp = Array.from({ length: 10 }, (_, i) => Number((0.1 * (i + 1)).toFixed(1)));
const tile = (rows: number[]) => rows.map((r) => Array(10).fill(r));

/**
 * Keras 3's own optimizer tests (`test_correctness_with_golden`): one step with gradient 0.01, then x after each of
 * five steps with gradients 0.1 ... 1.0, to 5e-4 as Keras checks them.
 */
const GOLDEN: [string, TrainingPlan, number[][]][] = [
  ['Adam(amsgrad)', plan('Adam', 0.001, { amsgrad: true }), tile([0.999, 0.9982, 0.9974, 0.9965, 0.9955])],
  [
    'SGD',
    plan('SGD', 0.01, { nesterov: true }),
    [
      Array(10).fill(0.9999),
      [0.9989, 0.9979, 0.9969, 0.9959, 0.9949, 0.9939, 0.9929, 0.9919, 0.9909, 0.9899],
      [0.9979, 0.9959, 0.9939, 0.9919, 0.9899, 0.9879, 0.9859, 0.9839, 0.9819, 0.9799],
      [0.9969, 0.9939, 0.9909, 0.9879, 0.9849, 0.9819, 0.9789, 0.9759, 0.9729, 0.9699],
      [0.9959, 0.9919, 0.9879, 0.9839, 0.9799, 0.9759, 0.9719, 0.9679, 0.9639, 0.9599],
    ],
  ],
  ['RMSprop(centered)', plan('RMSprop', 0.001, { centered: true }), tile([0.9967, 0.9933, 0.9908, 0.9885, 0.9864])],
  ['Adadelta', plan('Adadelta', 1.0, { rho: 0.8, epsilon: 1e-6 }), tile([0.9978, 0.9947, 0.9915, 0.9882, 0.9849])],
  [
    'Adagrad',
    plan('Adagrad', 0.2, { initial_accumulator_value: 0.3, epsilon: 1e-6 }),
    [
      Array(10).fill(0.9963),
      [0.9604, 0.9278, 0.9003, 0.8784, 0.8615, 0.8487, 0.8388, 0.8313, 0.8255, 0.8209],
      [0.9251, 0.8629, 0.8137, 0.7768, 0.7497, 0.7298, 0.7151, 0.704, 0.6956, 0.6891],
      [0.8903, 0.8012, 0.7342, 0.6862, 0.6521, 0.6277, 0.6099, 0.5967, 0.5867, 0.579],
      [0.856, 0.7422, 0.6604, 0.6037, 0.5644, 0.5367, 0.5168, 0.5021, 0.491, 0.4825],
    ],
  ],
  [
    'Adamax',
    plan('Adamax', 0.2, { beta_1: 0.85, beta_2: 0.95, epsilon: 1e-6 }),
    [
      Array(10).fill(0.8),
      [0.6827, 0.6873, 0.6888, 0.6896, 0.6901, 0.6904, 0.6906, 0.6908, 0.6909, 0.691],
      [0.5333, 0.5407, 0.5431, 0.5444, 0.5451, 0.5456, 0.546, 0.5462, 0.5464, 0.5466],
      [0.368, 0.3773, 0.3804, 0.382, 0.3829, 0.3835, 0.384, 0.3843, 0.3846, 0.3848],
      [0.1933, 0.204, 0.2076, 0.2094, 0.2105, 0.2112, 0.2117, 0.2121, 0.2124, 0.2126],
    ],
  ],
  [
    'Nadam',
    plan('Nadam', 0.5, { beta_1: 0.5, beta_2: 0.67, epsilon: 1e-5 }),
    [
      Array(10).fill(0.4281),
      [-0.1738, -0.1731, -0.1726, -0.1723, -0.1721, -0.172, -0.1719, -0.1718, -0.1718, -0.1717],
      [-0.7115, -0.7103, -0.7096, -0.7092, -0.709, -0.7088, -0.7086, -0.7085, -0.7085, -0.7084],
      [-1.2335, -1.2322, -1.2313, -1.2309, -1.2306, -1.2304, -1.2302, -1.2301, -1.23, -1.2299],
      [-1.7492, -1.7478, -1.7469, -1.7464, -1.7461, -1.7459, -1.7457, -1.7456, -1.7455, -1.7454],
    ],
  ],
  [
    'AdamW',
    plan('AdamW', 1.0, { epsilon: 2 }, { weightDecay: 0.5 }),
    [
      Array(10).fill(0.4998),
      [0.2486, 0.2475, 0.2463, 0.2451, 0.244, 0.2428, 0.2417, 0.2405, 0.2394, 0.2382],
      [0.1223, 0.1198, 0.1174, 0.1149, 0.1124, 0.11, 0.1075, 0.1051, 0.1027, 0.1003],
      [0.0586, 0.0549, 0.0512, 0.0475, 0.0439, 0.0402, 0.0366, 0.033, 0.0294, 0.0258],
      [0.0263, 0.0215, 0.0167, 0.012, 0.0073, 0.0026, -0.0021, -0.0067, -0.0113, -0.0159],
    ],
  ],
  [
    'Ftrl',
    plan('Ftrl', 0.05, {
      learning_rate_power: -0.2,
      initial_accumulator_value: 0.4,
      l1_regularization_strength: 0.05,
      l2_regularization_strength: 0.15,
      l2_shrinkage_regularization_strength: 0.01,
      beta: 0.3,
    }),
    [
      Array(10).fill(0),
      [-0.0034, -0.0077, -0.0118, -0.0157, -0.0194, -0.023, -0.0263, -0.0294, -0.0325, -0.0354],
      [-0.0078, -0.0162, -0.0242, -0.0317, -0.0387, -0.0454, -0.0516, -0.0575, -0.0631, -0.0685],
      [-0.0121, -0.0246, -0.0363, -0.0472, -0.0573, -0.0668, -0.0757, -0.0842, -0.0922, -0.0999],
      [-0.0164, -0.0328, -0.0481, -0.0623, -0.0753, -0.0875, -0.099, -0.1098, -0.1201, -0.1299],
    ],
  ],
];

describe('Keras optimizers', () => {
  it.each(GOLDEN)('%s follows Keras 3 golden values over six steps', (_name, p, golden) => {
    golden.forEach((row, i) => expectClose(steps(p, ones, [first, ...Array(i).fill(ramp)]), row, 5e-4));
  });

  // Keras 3 test_single_step: lr 0.5, gradients [1, 6, 7, 2] on [1, 2, 3, 4].
  it.each([
    ['Adam', [0.5, 1.5, 2.5, 3.5]],
    ['Nadam', [0.4686, 1.4686, 2.4686, 3.4686]],
    ['AdamW', [0.498, 1.496, 2.494, 3.492]],
    ['RMSprop', [-0.5811, 0.4189, 1.4189, 2.4189]],
    ['Adadelta', [0.9993, 1.9993, 2.9993, 3.9993]],
    ['Adagrad', [0.5233, 1.5007, 2.5005, 3.5061]],
    ['Adamax', [0.5, 1.5, 2.5, 3.5]],
    ['Ftrl', [0.2218, 1.3954, 2.3651, 2.8814]],
    ['SGD', [0.5, -1.0, -0.5, 3.0]],
  ])('%s single step matches Keras', (type, expected) => {
    expectClose(steps(plan(type, 0.5), [1, 2, 3, 4], [[1, 6, 7, 2]]), expected, 1e-4);
  });

  it('decays weights before the update, with the learning rate (Keras weight_decay)', () => {
    // Keras test_weight_decay: three zero-gradient steps with lr 1 and decay 0.004 give 2 · 0.996³.
    for (const type of ['Adam', 'SGD', 'RMSprop', 'Adagrad']) {
      expectClose(steps(plan(type, 1, {}, { weightDecay: 0.004 }), [2], [[0], [0], [0]]), [1.9760959], 1e-6);
    }
  });

  it('clips by norm, by global norm and by value like Keras', () => {
    const sgd = (clip: TrainingPlan['clip']) => plan('SGD', 1, {}, { clip });
    expectClose(steps(sgd({ norm: 1 }), [0, 0], [[100, 100]]), [-Math.SQRT1_2, -Math.SQRT1_2], 1e-6);
    expectClose(steps(sgd({ value: 1 }), [0, 0], [[100, -0.5]]), [-1, 0.5], 1e-6);
    // Global norm over two variables: [3] and [4] have norm 5; clipped to 1 they become 0.6 and 0.8.
    const a = tf.variable(tf.tensor1d([0]));
    const b = tf.variable(tf.tensor1d([0]));
    const opt = createOptimizer(tf, sgd({ globalNorm: 1 }), [a, b]);
    tf.tidy(() => opt.apply([tf.tensor1d([3]), tf.tensor1d([4])]));
    expectClose([a.dataSync()[0], b.dataSync()[0]], [-0.6, -0.8], 1e-6);
    opt.dispose();
    tf.dispose([a, b]);
  });

  it('momentum SGD keeps Keras velocity m = momentum·m − lr·g (nesterov adds momentum·m − lr·g)', () => {
    // Two steps of g = 1, lr 0.1, momentum 0.9: m1 = −0.1, m2 = −0.19; x2 = m1 + m2, or with nesterov
    // (−0.1 + 0.9·m1) + (−0.1 + 0.9·m2).
    expectClose(steps(plan('SGD', 0.1, { momentum: 0.9 }), [0], [[1], [1]]), [-0.29], 1e-6);
    expectClose(steps(plan('SGD', 0.1, { momentum: 0.9, nesterov: true }), [0], [[1], [1]]), [-0.19 - 0.271], 1e-6);
  });

  it('saves and restores its state, iteration count included', () => {
    const p = plan('Nadam', 0.1);
    const v = tf.variable(tf.tensor1d([1, 2]));
    const opt = createOptimizer(tf, p, [v]);
    tf.tidy(() => opt.apply([tf.tensor1d([0.5, -1])]));
    const state = opt.getWeights();
    expect(state.map((s) => s.name.replace(/^.*\//, ''))).toEqual(['iterations', 'm', 'v']);
    const w = tf.variable(tf.tensor1d(Array.from(v.dataSync())));
    const copy = createOptimizer(tf, p, [w]);
    copy.setWeights(state);
    expect(copy.iterations).toBe(1);
    tf.tidy(() => opt.apply([tf.tensor1d([0.25, 0.5])]));
    tf.tidy(() => copy.apply([tf.tensor1d([0.25, 0.5])]));
    expect(Array.from(w.dataSync())).toEqual(Array.from(v.dataSync()));
    expect(() => copy.setWeights(state.slice(1))).toThrow(/iterations first/);
    tf.dispose([...state.map((s) => s.tensor), v, w]);
    opt.dispose();
    copy.dispose();
  });
});

describe('learning-rate schedules', () => {
  const s = (x: Partial<LrSchedule> & Pick<LrSchedule, 'name'>): LrSchedule => ({ initialLearningRate: 0.1, decaySteps: 10, ...x });
  it.each([
    ['ExponentialDecay', s({ name: 'ExponentialDecay', decayRate: 0.5 }), 5, 0.1 * Math.sqrt(0.5)],
    ['ExponentialDecay staircase', s({ name: 'ExponentialDecay', decayRate: 0.5, staircase: true }), 15, 0.05],
    ['StepDecay', s({ name: 'StepDecay', decayRate: 0.5 }), 25, 0.025],
    ['InverseTimeDecay', s({ name: 'InverseTimeDecay', decayRate: 0.5 }), 20, 0.05],
    ['CosineDecay half way', s({ name: 'CosineDecay', decaySteps: 100 }), 50, 0.05],
    ['CosineDecay after the end, alpha 0.1', s({ name: 'CosineDecay', decaySteps: 100, alpha: 0.1 }), 500, 0.01],
    ['PolynomialDecay', s({ name: 'PolynomialDecay', decaySteps: 100 }), 50, (0.1 - 0.0001) * 0.5 + 0.0001],
    ['PolynomialDecay after the end', s({ name: 'PolynomialDecay', decaySteps: 100, endLearningRate: 0.01, power: 2 }), 300, 0.01],
  ])('%s', (_name, schedule, step, expected) => {
    expect(scheduleAt(schedule, step)).toBeCloseTo(expected, 12);
    expect(scheduleAt(schedule, 0)).toBeCloseTo(0.1, 12);
  });
});
