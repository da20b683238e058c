import * as tf from '@tensorflow/tfjs';
import { analyze, buildTfjsModel } from '../index';
import { loadTfjsModel, saveTfjsModel } from './serialize';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const SEED = 'Model MyModel {\n  Input(shape=[28, 28, 1])\n  Conv2D(filters=32, kernel_size=3, activation=relu)\n  Dense(units=10, activation=softmax)\n}';
// GRU (reset_after), GroupNormalization and the orthogonal initializer are classes of emit/tfjs.ts, not of tfjs.
const CUSTOM = 'network Seq { input: (6, 4) layers: GroupNormalization(2) GRU(5, return_sequences=true) LSTM(3) Output(2) }';

function predictions(model: tf.LayersModel, input: tf.Tensor): number[] {
  return tf.tidy(() => Array.from((model.predict(input) as tf.Tensor).dataSync()));
}

describe('saveTfjsModel / loadTfjsModel', () => {
  it('writes the standard layers-model format and loads it back with identical predictions', async () => {
    const model = buildTfjsModel(analyze(SEED).checked, tf, { seed: 1 });
    const saved = await saveTfjsModel(tf, model);
    const json = JSON.parse(saved.modelJson);
    expect(Object.keys(json).sort()).toEqual(['convertedBy', 'format', 'generatedBy', 'modelTopology', 'weightsManifest']);
    expect(json.format).toBe('layers-model');
    expect(json.generatedBy).toMatch(/^TensorFlow\.js tfjs-layers v4\.22\.0$/);
    expect(json.modelTopology.class_name).toBe('Model');
    expect(json.weightsManifest).toHaveLength(1);
    expect(json.weightsManifest[0].paths).toEqual(['weights.bin']);
    expect(json.weightsManifest[0].weights.map((w: { name: string }) => w.name)).toEqual(['conv2d_1/kernel', 'conv2d_1/bias', 'dense_1/kernel', 'dense_1/bias']);
    expect(saved.weights.byteLength).toBe(4 * model.countParams());
    const loaded = await loadTfjsModel(tf, saved.modelJson, saved.weights);
    const x = tf.randomUniform([3, 28, 28, 1], 0, 1, 'float32', 2);
    expect(predictions(loaded, x)).toEqual(predictions(model, x));
    tf.dispose([x]);
    model.dispose();
    loaded.dispose();
  });

  it("loads a model with the DSL's custom layers in a tfjs instance that never built one", async () => {
    const model = buildTfjsModel(analyze(CUSTOM).checked, tf, { seed: 3 });
    const saved = await saveTfjsModel(tf, model);
    const x = tf.randomNormal([2, 6, 4], 0, 1, 'float32', 4);
    const expected = predictions(model, x);
    // The tfjs engine is process-global: the original's variable names must be free before another instance loads.
    model.dispose();
    let fresh: typeof tf | undefined;
    // A second copy of tfjs re-registers every kernel of the shared registry, warning once per kernel.
    const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
    jest.isolateModules(() => {
      fresh = require('@tensorflow/tfjs');
    });
    warn.mockRestore();
    expect(fresh).not.toBe(tf);
    // Without the registration, this tfjs instance does not know the classes.
    const json = JSON.parse(saved.modelJson);
    const artifacts = { modelTopology: json.modelTopology, weightSpecs: json.weightsManifest[0].weights, weightData: saved.weights.slice().buffer };
    await expect(fresh!.loadLayersModel(fresh!.io.fromMemory(artifacts))).rejects.toThrow(/Unknown (layer|initializer)/);
    const loaded = await loadTfjsModel(fresh!, saved.modelJson, saved.weights);
    const y = fresh!.tidy(() => Array.from((loaded.predict(fresh!.tensor(x.dataSync(), x.shape)) as tf.Tensor).dataSync()));
    expect(y).toEqual(expected);
    loaded.dispose();
    x.dispose();
  });
});
