import { DslError } from '../diagnostics';
import { TrainingConfigError } from './config';
import { prepareTraining } from './prepare';

const SEED = 'Model MyModel {\n  Input(shape=[28, 28, 1])\n  Conv2D(filters=32, kernel_size=3, activation=relu)\n  Dense(units=10, activation=softmax)\n}';

describe('prepareTraining', () => {
  it('plans the seed model with the request’s config over the defaults, and writes the default metric into the model', () => {
    for (const engine of ['tfjs', 'pytorch'] as const) {
      const p = prepareTraining(SEED, { epochs: 3, batch_size: 64, learning_rate: 0.01 }, engine);
      expect(p.plan).toMatchObject({ engine, epochs: 3, batchSize: 64, loss: 'categorical_crossentropy', metrics: ['accuracy'], inputShape: [28, 28, 1], outputShape: [10] });
      expect(p.plan.optimizer).toMatchObject({ type: 'Adam', learningRate: 0.01 });
      expect(p.checked.model.metrics).toEqual(['accuracy']);
      expect(p.summary.layers.map((l) => l.type)).toEqual(['Conv2D', 'Flatten', 'Dense']);
      expect(p.warnings.some((w) => /Flatten was inserted/.test(w.message))).toBe(true);
      expect(p.plan.warnings[0]).toMatch(/names no metrics: reporting accuracy/);
    }
  });

  it('passes on DSL errors with their positions and config errors with their fields', () => {
    expect(() => prepareTraining('Model M {\n  Input(shape=[4])\n  Dense(units=0)\n}', {}, 'tfjs')).toThrow(DslError);
    const err = (() => {
      try {
        prepareTraining(SEED, { optimizer: 'adamm', epochs: 5000 }, 'tfjs', { limits: { maxEpochs: 1000, maxBatchSize: 100 } });
      } catch (e) {
        return e;
      }
    })() as TrainingConfigError;
    expect(err).toBeInstanceOf(TrainingConfigError);
    expect(err.errors.map((e) => e.field).sort()).toEqual(['training_config.epochs', 'training_config.optimizer']);
  });

  it('refuses shuffle: false on the PyTorch engine, whose generated module always shuffles', () => {
    expect(() => prepareTraining(SEED, { shuffle: false }, 'pytorch')).toThrow(TrainingConfigError);
    expect(prepareTraining(SEED, { shuffle: false }, 'tfjs').plan.shuffle).toBe(false);
  });
});
