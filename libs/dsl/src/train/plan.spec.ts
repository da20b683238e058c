import { analyze, compile, DslError, type Diagnostic } from '../index';
import { planTraining } from './plan';

const SEED = 'Model MyModel {\n  Input(shape=[28, 28, 1])\n  Conv2D(filters=32, kernel_size=3, activation=relu)\n  Dense(units=10, activation=softmax)\n}';

const checked = (src: string) => analyze(src).checked;

function diagnostics(f: () => unknown): Diagnostic[] {
  try {
    f();
  } catch (e) {
    if (e instanceof DslError) return e.diagnostics;
    throw e;
  }
  throw new Error('expected a DslError');
}

describe('planTraining', () => {
  it('resolves the Keras defaults for the seed model', () => {
    const plan = planTraining(checked(SEED), 'tfjs');
    expect(plan).toMatchObject({
      engine: 'tfjs',
      modelName: 'MyModel',
      inputShape: [28, 28, 1],
      outputShape: [10],
      epochs: 10,
      batchSize: 32,
      validationSplit: 0.2,
      trainSamples: null,
      shuffle: true,
      loss: 'categorical_crossentropy',
      fromLogits: false,
      metrics: ['accuracy'],
      optimizer: { type: 'Adam', learningRate: 0.001, params: {} },
      schedule: null,
      clip: {},
      weightDecay: null,
    });
    expect(plan.hyperparameters).toEqual({
      epochs: 10,
      batch_size: 32,
      validation_split: 0.2,
      learning_rate: 0.001,
      optimizer: 'Adam',
      loss: 'categorical_crossentropy',
      metrics: 'accuracy',
      schedule: null,
      train_samples: null,
      shuffle: true,
    });
    expect(plan.warnings.join(' ')).toMatch(/no loss.*one-hot.*no metrics.*accuracy.*no optimizer.*Adam/);
    expect(JSON.parse(JSON.stringify(plan))).toEqual(plan);
  });

  it('takes the network sections: optimizer arguments, Keras default learning rate, metric keys, logits', () => {
    const plan = planTraining(
      checked(`network Net {
  input: (8,)
  layers: Dense(16, "relu") Dense(4)
  loss: sparse_categorical_crossentropy
  optimizer: SGD(momentum=0.9, nesterov=true)
  metrics: [acc, top_k_accuracy, mse, loss, precision]
  train { epochs: 3, batch_size: 8, validation_split: 0.25, gradient_clip: 0.5 }
}`),
      'tfjs',
      { trainSamples: 100, shuffle: false },
    );
    expect(plan).toMatchObject({
      epochs: 3,
      batchSize: 8,
      validationSplit: 0.25,
      trainSamples: 100,
      shuffle: false,
      loss: 'sparse_categorical_crossentropy',
      fromLogits: true,
      metrics: ['accuracy', 'sparse_top_k_categorical_accuracy', 'mse', 'precision'],
      optimizer: { type: 'SGD', learningRate: 0.01, params: { momentum: 0.9, nesterov: true } },
      clip: { norm: 0.5 },
    });
    expect(plan.hyperparameters).toMatchObject({ 'optimizer.momentum': 0.9, 'optimizer.nesterov': true, 'clip.norm': 0.5, train_samples: 100 });
    expect(plan.warnings).toEqual([]);
    // No metric by default when the loss is not a cross-entropy; a linear output with mse is no logits case.
    const regression = planTraining(checked('network R { input: (3,) layers: Dense(1) loss: mse }'), 'tfjs');
    expect(regression).toMatchObject({ metrics: [], fromLogits: false, loss: 'mean_squared_error' });
  });

  it('resolves schedules, weight decay and AdamW', () => {
    const sched = planTraining(checked('network S { input: (4,) layers: Output(2) optimizer: AdamW(learning_rate=ExponentialDecay(0.1, 100, 0.5, true)) }'), 'tfjs');
    expect(sched.schedule).toEqual({ name: 'ExponentialDecay', initialLearningRate: 0.1, decaySteps: 100, decayRate: 0.5, staircase: true });
    expect(sched.optimizer.learningRate).toBe(0.1);
    expect(sched.weightDecay).toBe(0.004);
    const top = planTraining(checked('network S { input: (4,) layers: Output(2) optimizer: Adam(weight_decay=0.01) lr_schedule: StepDecay(0.2, 10, 0.5) }'), 'tfjs');
    expect(top.schedule).toEqual({ name: 'StepDecay', initialLearningRate: 0.2, decaySteps: 10, decayRate: 0.5, staircase: true });
    expect(top.weightDecay).toBe(0.01);
    expect(top.hyperparameters.schedule).toBe('StepDecay');
    const poly = planTraining(checked('network S { input: (4,) layers: Output(2) lr_schedule: PolynomialDecay(0.2, 10) }'), 'tfjs');
    expect(poly.schedule).toEqual({ name: 'PolynomialDecay', initialLearningRate: 0.2, decaySteps: 10, endLearningRate: 0.0001, power: 1 });
  });

  it('with a constant rate and lr_schedule, each engine follows the code it runs, and says so', () => {
    const src = 'network S { input: (4,) layers: Output(2) optimizer: Adam(learning_rate=0.05) lr_schedule: CosineDecay(0.1, 20) }';
    const tfjs = planTraining(checked(src), 'tfjs');
    expect(tfjs.schedule?.name).toBe('CosineDecay');
    expect(tfjs.optimizer.learningRate).toBe(0.1);
    expect(compile(src, { backend: 'tensorflow' }).code).toContain('keras.optimizers.schedules.CosineDecay(');
    const torch = planTraining(checked(src), 'pytorch');
    expect(torch.schedule).toBeNull();
    expect(torch.optimizer.learningRate).toBe(0.05);
    expect(compile(src, { backend: 'pytorch' }).code).toContain('LEARNING_RATE = 0.05');
    expect(tfjs.warnings.join()).toMatch(/schedule is used/);
    expect(torch.warnings.join()).toMatch(/constant is used/);
  });

  it('refuses, at their positions, what the tfjs engine cannot train', () => {
    const src = `network N {
  input: (16, 16, 3)
  layers:
    Conv2D(8, 3, dilation_rate=2)
    MyAttentionLayer(units=4)
    BatchNormalization(center=false)
    Flatten()
    Output(3)
  metrics: [f1_score]
  optimizer: SGD(beta_1=0.9, clipnorm=1, clipvalue=1)
}`;
    const ds = diagnostics(() => planTraining(checked(src), 'tfjs'));
    expect(ds.map((d) => [d.code, d.line, d.column])).toEqual([
      ['untrainable_layer', 4, 5],
      ['untrainable_layer', 5, 5],
      ['untrainable_layer', 6, 5],
      ['unsupported_metric', 9, 3],
      ['unsupported_parameter', 10, 14],
    ]);
    expect(ds[0].message).toBe("Layer 'conv2d_1' (Conv2D) cannot be trained by the tfjs engine: tfjs has no gradient for dilated convolutions");
    expect(ds[1].message).toBe("Layer 'my_attention_layer_1' (MyAttentionLayer) cannot be trained by the tfjs engine: custom layers have no definition");
    expect(ds[3].hint).toMatch(/^supported: accuracy, .*auc$/);
    expect(ds[4].message).toBe("SGD has no parameter 'beta_1' in Keras");
    // Keras accepts one clipping argument (reported once the other errors are fixed).
    const clipSrc = 'network C { input: (4,) layers: Output(2) optimizer: SGD(clipnorm=1, clipvalue=1) }';
    const clip = diagnostics(() => planTraining(checked(clipSrc), 'tfjs'));
    expect(clip).toMatchObject([{ code: 'unsupported_optimizer', line: 1, column: clipSrc.indexOf('SGD') + 1 }]);
  });

  it('refuses several inputs, an unresolved HPO and settings beyond the caller limits', () => {
    const multi = diagnostics(() => planTraining(checked('network M {\n  input: { a: (4,), b: (4,) }\n  layers: a: { Dense(2) } b: { Dense(2) } Concatenate() Output(2)\n}'), 'tfjs'));
    expect(multi).toMatchObject([{ code: 'multi_input', line: 2 }]);
    expect(multi[0].message).toBe('The model has 2 inputs; training takes one input tensor');
    const hpo = diagnostics(() => planTraining(checked('network H {\n  input: (4,)\n  layers: Dense(HPO(choice(4, 8))) Output(2)\n}'), 'tfjs'));
    expect(hpo).toMatchObject([{ code: 'unresolved_hpo', line: 3, column: 17 }]);
    const limits = diagnostics(() => planTraining(checked('network L {\n  input: (4,)\n  layers: Output(2)\n  train { epochs: 500, batch_size: 4096 }\n}'), 'tfjs', { limits: { maxEpochs: 100, maxBatchSize: 1024 } }));
    expect(limits.map((d) => d.message)).toEqual(['epochs 500 exceeds the limit of 100 (maxEpochs)', 'batch_size 4096 exceeds the limit of 1024 (maxBatchSize)']);
    expect(limits[0]).toMatchObject({ code: 'training_limit', line: 4, column: 3 });
  });

  it('for pytorch, passes on what the PyTorch emitter refuses, and trains what only tfjs cannot', () => {
    const ftrl = diagnostics(() => planTraining(checked('network F { input: (4,) layers: Output(2) optimizer: Ftrl() }'), 'pytorch'));
    expect(ftrl[0].code).toBe('unsupported_optimizer');
    expect(ftrl[0].message).toMatch(/pytorch backend/);
    expect(planTraining(checked('network F { input: (4,) layers: Output(2) optimizer: Ftrl() }'), 'tfjs').optimizer.type).toBe('Ftrl');
    const dilated = checked('network D { input: (16, 16, 3) layers: Conv2D(4, 3, dilation_rate=2) Flatten() Output(2) loss: sparse_categorical_crossentropy }');
    expect(planTraining(dilated, 'pytorch')).toMatchObject({ engine: 'pytorch', loss: 'sparse_categorical_crossentropy', metrics: ['accuracy'] });
    expect(planTraining(dilated, 'pytorch').warnings.join()).toMatch(/PyTorch module reports only the DSL's metrics/);
  });

  it('records the HPO values a model was compiled with', () => {
    const src = 'network H { input: (4,) layers: Dense(HPO(choice(4, 8))) Output(2) optimizer: Adam(learning_rate=HPO(log_range(1e-4, 1e-2))) }';
    const compiled = compile(src, { backend: 'pytorch', hpo: { 'dense_1.units': 8 } });
    const plan = planTraining(compiled.checked, 'tfjs', { hpo: compiled.hpo });
    expect(plan.hyperparameters['dense_1.units']).toBe(8);
    expect(plan.hyperparameters['optimizer.learning_rate']).toBe(plan.optimizer.learningRate);
  });

  it('imports and plans without loading tfjs', () => {
    jest.isolateModules(() => {
      jest.doMock('@tensorflow/tfjs', () => {
        throw new Error('tfjs was loaded');
      });
      jest.doMock('@tensorflow/tfjs-backend-wasm', () => {
        throw new Error('tfjs-backend-wasm was loaded');
      });
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const train = require('./index') as typeof import('./index');
      expect(train.planTraining(checked(SEED), 'tfjs').epochs).toBe(10);
    });
  });
});
