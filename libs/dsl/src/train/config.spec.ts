import { analyze, check, compile, DslError, emitPytorch, emitTensorflow, parse, resolveHpo } from '../index';
import { applyTrainingConfig, DSL_METRICS, TrainingConfigError } from './config';

const SOURCE = `network Net {
  input: (8,)
  layers:
    Dense(HPO(choice(16, 32)), "relu")
    Output(3)
  loss: sparse_categorical_crossentropy
  optimizer: SGD(learning_rate=ExponentialDecay(HPO(log_range(0.01, 0.1)), 100, 0.9), momentum=0.9, clipnorm=1.0)
  metrics: [accuracy]
  train { epochs: HPO(choice(5, 10)), batch_size: 16, validation_split: 0.1 }
}
`;

const model = () => analyze(SOURCE).model;

function problems(f: () => unknown): { field: string; message: string }[] {
  try {
    f();
  } catch (e) {
    if (e instanceof TrainingConfigError) return e.errors;
    throw e;
  }
  throw new Error('expected a TrainingConfigError');
}

describe('applyTrainingConfig', () => {
  it('replaces the train settings, loss and metrics, and leaves the input model unchanged', () => {
    const before = JSON.stringify(model());
    const m = model();
    const out = applyTrainingConfig(m, { epochs: 3, batch_size: 64, validation_split: 0, loss: 'MSE', metrics: ['MAE', 'mae', 'rmse'] });
    expect(out.training).toEqual({ ...m.training, epochs: 3, batch_size: 64, validation_split: 0 });
    expect(out.loss).toBe('mse');
    expect(out.metrics).toEqual(['mae', 'rmse']);
    expect(JSON.stringify(m)).toBe(before);
    // The replaced epochs HPO is gone; the others stay to be resolved.
    expect(out.hpo.map((h) => h.path).sort()).toEqual(['dense_1.units', 'optimizer.learning_rate.initial_learning_rate']);
  });

  it('keeps the optimizer arguments for the same type (any case) and drops them for another', () => {
    const same = applyTrainingConfig(model(), { optimizer: 'sgd' });
    expect(same.optimizer?.type).toBe('SGD');
    expect(same.optimizer?.params.momentum).toBe(0.9);
    const other = applyTrainingConfig(model(), { optimizer: 'adamw' });
    expect(other.optimizer).toMatchObject({ type: 'AdamW', params: {} });
    expect(other.hpo.map((h) => h.path)).toEqual(['dense_1.units', 'training.epochs']);
  });

  it('learning_rate replaces the rate and every schedule, the optimizer one and lr_schedule', () => {
    const out = applyTrainingConfig(model(), { learning_rate: 0.05 });
    expect(out.optimizer?.params).toEqual({ learning_rate: 0.05, momentum: 0.9, clipnorm: 1.0 });
    const top = analyze('network T { input: (4,) layers: Output(2) optimizer: Adam(beta_1=0.8) lr_schedule: CosineDecay(0.1, 50) }').model;
    const replaced = applyTrainingConfig(top, { learning_rate: 0.002 });
    expect(replaced.lrSchedule).toBeUndefined();
    expect(replaced.sectionLocs.lr_schedule).toBeUndefined();
    expect(replaced.optimizer?.params).toEqual({ beta_1: 0.8, learning_rate: 0.002 });
    const none = applyTrainingConfig(analyze('network T { input: (4,) layers: Output(2) }').model, { learning_rate: 0.002 });
    expect(none.optimizer).toMatchObject({ type: 'Adam', params: { learning_rate: 0.002 } });
  });

  it('generated PyTorch and TensorFlow code carry the configuration that is trained', () => {
    const configured = applyTrainingConfig(model(), { epochs: 4, batch_size: 8, learning_rate: 0.003, optimizer: 'Adam', loss: 'categorical_crossentropy', metrics: ['accuracy', 'auc'] });
    const checked = check(resolveHpo(configured, { 'dense_1.units': 16 }).model);
    const py = emitPytorch(checked);
    expect(py).toContain('EPOCHS = 4');
    expect(py).toContain('BATCH_SIZE = 8');
    expect(py).toContain('LEARNING_RATE = 0.003');
    expect(py).toContain('torch.optim.Adam(');
    expect(py).not.toContain('make_scheduler');
    expect(py).toContain("LOSS = 'categorical_crossentropy'");
    const keras = emitTensorflow(checked);
    expect(keras).toContain('learning_rate = 0.003');
    expect(keras).toContain("keras.optimizers.Adam(learning_rate=learning_rate)");
    expect(keras).toContain("metrics=['accuracy', keras.metrics.AUC(name='auc')]");
    expect(keras).toContain('EPOCHS = 4');
  });

  it('a model whose only HPO was replaced compiles without HPO warnings', () => {
    const src = 'network N { input: (4,) layers: Output(2) train { batch_size: HPO(choice(8, 16)) } }';
    const out = applyTrainingConfig(parse(src).model, { batch_size: 32 });
    expect(out.hpo).toEqual([]);
    expect(resolveHpo(out).warnings).toEqual([]);
    expect(compile(src, { backend: 'pytorch' }).warnings.some((w) => w.code === 'hpo_default')).toBe(true);
  });

  it('reports every bad value with its field, suggestions and the caller limits', () => {
    const errors = problems(() =>
      applyTrainingConfig(
        model(),
        { epochs: 0, batch_size: 1000, validation_split: 1, learning_rate: -1, optimizer: 'adamm', loss: 'mse2', metrics: ['acuracy', 3 as never], train_samples: 1.5, shuffle: 'yes' as never, epoch: 3 } as never,
        { maxEpochs: 100, maxBatchSize: 512 },
      ),
    );
    const byField = Object.fromEntries(errors.map((e) => [e.field, e.message]));
    expect(byField['training_config.optimizer']).toBe("unknown optimizer 'adamm'; did you mean Adam? (Adam, SGD, RMSprop, Adagrad, Adadelta, Adamax, Nadam, AdamW, Ftrl)");
    expect(byField['training_config.epochs']).toBe('must be at least 1, got 0');
    expect(byField['training_config.batch_size']).toBe('must be at most 512 (maxBatchSize), got 1000');
    expect(byField['training_config.validation_split']).toBe('must be a number in [0, 1), got 1');
    expect(byField['training_config.learning_rate']).toBe('must be a positive number, got -1');
    expect(byField['training_config.loss']).toMatch(/^unknown loss 'mse2'; did you mean mse\?/);
    expect(byField['training_config.metrics[0]']).toMatch(/^unknown metric 'acuracy'; did you mean accuracy\?/);
    expect(byField['training_config.metrics[1]']).toBe('must be a metric name, got 3');
    expect(byField['training_config.train_samples']).toBe('must be an integer, got 1.5');
    expect(byField['training_config.shuffle']).toBe('must be true or false, got "yes"');
    expect(byField['training_config.epoch']).toMatch(/^unknown setting 'epoch'; did you mean epochs\?/);
    expect(problems(() => applyTrainingConfig(model(), { epochs: 101 }, { maxEpochs: 100 }))).toEqual([
      { field: 'training_config.epochs', message: 'must be at most 100 (maxEpochs), got 101' },
    ]);
  });

  it('accepts exactly the metric names the DSL parser accepts', () => {
    const src = `network M { input: (4,) layers: Output(2) metrics: [${DSL_METRICS.join(', ')}] }`;
    expect(parse(src).model.metrics).toEqual(DSL_METRICS);
    // The parser lists its own names in the hint for a name it cannot place.
    let hint: string | undefined;
    try {
      parse('network M { input: (4,) layers: Output(2) metrics: [zzzzzzzz] }');
    } catch (e) {
      hint = (e as DslError).diagnostics[0].hint;
    }
    expect(hint?.replace('known metrics: ', '').split(', ')).toEqual(DSL_METRICS);
  });
});
