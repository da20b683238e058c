import { unzipSync } from 'fflate';
import { bestMetrics, historyCsv, isLowerBetter, metricsOf, tfjsZip } from './experiment-metrics';

const row = (epoch: number, loss: number, accuracy: number, extra: Record<string, number> = {}) => ({ epoch, loss, accuracy, epoch_seconds: 1.5, samples_per_second: 100, learning_rate: 0.001, ...extra });

describe('experiment metrics', () => {
  it('keeps the model’s metrics of a row and drops the timing columns', () => {
    expect(metricsOf(row(1, 0.5, 0.8, { val_loss: 0.6 }))).toEqual({ loss: 0.5, accuracy: 0.8, val_loss: 0.6 });
  });

  it('takes the minimum of losses and errors and the maximum of the other metrics', () => {
    const history = [row(1, 0.9, 0.6, { val_loss: 0.8, val_accuracy: 0.65, mae: 2 }), row(2, 0.4, 0.9, { val_loss: 0.85, val_accuracy: 0.7, mae: 1 }), row(3, 0.5, 0.85, { val_loss: 0.5, val_accuracy: 0.69, mae: 3 })];
    expect(bestMetrics(history)).toEqual({ loss: 0.4, accuracy: 0.9, val_loss: 0.5, val_accuracy: 0.7, mae: 1 });
    expect(['loss', 'val_loss', 'test_mse', 'rmse', 'val_mae'].every(isLowerBetter)).toBe(true);
    expect(['accuracy', 'val_accuracy', 'auc', 'precision', 'recall', 'top_k_categorical_accuracy'].some(isLowerBetter)).toBe(false);
  });

  it('writes the history as CSV with a column for every key any row has', () => {
    expect(historyCsv([row(1, 0.5, 0.8), row(2, 0.25, 0.9, { val_loss: 0.3 })])).toBe(
      'epoch,loss,accuracy,epoch_seconds,samples_per_second,learning_rate,val_loss\n1,0.5,0.8,1.5,100,0.001,\n2,0.25,0.9,1.5,100,0.001,0.3\n',
    );
  });

  it('zips the tfjs model.json and weights.bin', () => {
    const weights = Uint8Array.from({ length: 1000 }, (_, i) => i % 251);
    const files = unzipSync(tfjsZip('{"format":"layers-model"}', weights));
    expect(Object.keys(files).sort()).toEqual(['model.json', 'weights.bin']);
    expect(new TextDecoder().decode(files['model.json'])).toBe('{"format":"layers-model"}');
    expect(files['weights.bin']).toEqual(weights);
  });
});
