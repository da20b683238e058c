import * as tf from '@tensorflow/tfjs';
import { spawnSync } from 'child_process';
import { KERAS_MODELS, checkedModel, fixtureModels } from '../../test/keras-models';
import { PYTHON, pythonHas } from '../../test/python';
import type { CheckedModel } from '../checked';
import { DslError } from '../diagnostics';
import { lowerToKeras } from './keras';
import { buildTfjsModel } from './tfjs';
import { kerasWeightOwners } from './weights';

const HAS_TORCH = pythonHas('torch', 'numpy');
if (!HAS_TORCH) console.warn(`Skipping the comparison of custom tfjs layers with PyTorch: ${PYTHON} cannot import torch.`);

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** A batch of small non-negative integers, valid for every model (Embedding inputs included); free dims are 7. */
function batchFor(checked: CheckedModel, n = 2): tf.Tensor[] {
  return checked.model.inputs.map((i) => tf.floor(tf.randomUniform([n, ...i.shape.slice(1).map((d) => d ?? 7)], 0, 5, 'float32', 7)));
}

function weightsOf(model: tf.LayersModel): number[][] {
  return model.getWeights().map((w) => Array.from(w.dataSync()));
}

const MODELS: [string, CheckedModel][] = [
  ...Object.entries(KERAS_MODELS).map(([name, src]) => [name, checkedModel(src)] as [string, CheckedModel]),
  ...fixtureModels().map(({ name, checked }) => [name, checked] as [string, CheckedModel]),
];

describe('buildTfjsModel', () => {
  it.each(MODELS)('%s: Keras parameter count, lowering layer names and output shape', (_name, checked) => {
    const model = buildTfjsModel(checked, tf, { seed: 1 });
    try {
      expect(model.countParams()).toBe(checked.summary.total_params);
      const names = model.layers.map((l) => l.name).filter((n) => !/_(input\d+|permute_in|permute_out)$/.test(n));
      const graph = lowerToKeras(checked);
      expect(names.sort()).toEqual([...graph.inputs.map((i) => i.name), ...graph.nodes.map((n) => n.name)].sort());
      // Same weight owners, order and Keras shapes as the weight layout the ONNX emitter uses.
      const tfjsWeights = model.layers.filter((l) => l.getWeights().length).map((l) => [l.name, l.getWeights().map((w) => w.shape)]);
      expect(Object.fromEntries(tfjsWeights)).toEqual(Object.fromEntries(kerasWeightOwners(checked).map((o) => [o.key, o.weights.map((w) => w.shape)])));
      // A forward pass through a large CNN takes a minute on the pure-JS backend; its layers are covered by smaller models.
      if (checked.summary.total_params! > 5_000_000) return;
      const xs = batchFor(checked);
      const y = model.predict(xs.length === 1 ? xs[0] : xs) as tf.Tensor;
      expect(y.shape).toEqual([2, ...checked.outputShape.slice(1).map((d) => d ?? 7)]);
      expect(Array.from(y.dataSync()).every(Number.isFinite)).toBe(true);
      tf.dispose([...xs, y]);
    } finally {
      model.dispose();
    }
  });

  it('trains a convnet for a step', async () => {
    const checked = checkedModel(KERAS_MODELS.convnet);
    const model = buildTfjsModel(checked, tf, { seed: 2 });
    model.compile({ optimizer: tf.train.sgd(0.05), loss: 'sparseCategoricalCrossentropy' });
    const before = weightsOf(model);
    const x = tf.randomNormal([4, 28, 28, 1], 0, 1, 'float32', 3);
    const y = tf.tensor1d([0, 1, 2, 3]);
    const history = await model.fit(x, y, { epochs: 1, batchSize: 4, verbose: 0 });
    const loss = history.history.loss[0] as number;
    expect(Number.isFinite(loss) && loss > 0).toBe(true);
    expect(weightsOf(model)).not.toEqual(before);
    tf.dispose([x, y]);
    model.dispose();
  });

  it('trains the custom layers (attention, GRU, group normalization) for a step', async () => {
    const checked = checkedModel(
      'network C { input: (6, 8) layers: GroupNormalization(2) TransformerDecoder(num_heads=2, ff_dim=8) Attention(use_scale=true) Bidirectional(GRU(4)) Output(3) }',
    );
    const model = buildTfjsModel(checked, tf, { seed: 4 });
    model.compile({ optimizer: tf.train.adam(0.01), loss: 'sparseCategoricalCrossentropy' });
    const before = weightsOf(model);
    const x = tf.randomNormal([4, 6, 8], 0, 1, 'float32', 5);
    const history = await model.fit(x, tf.tensor1d([0, 1, 2, 0]), { epochs: 1, batchSize: 4, verbose: 0 });
    expect(Number.isFinite(history.history.loss[0] as number)).toBe(true);
    const after = weightsOf(model);
    expect(after.filter((w, i) => w.some((v, j) => v !== before[i][j])).length).toBe(after.length);
    model.dispose();
  });

  it('normalizes a non-channel axis like Keras BatchNormalization', () => {
    const model = buildTfjsModel(checkedModel('network BA { input: (2, 3) layers: BatchNormalization(axis=1, epsilon=0.5) }'), tf);
    const [gamma, beta, mean, variance] = [[2, 3], [0.5, -0.5], [1, -1], [4, 9]];
    model.getLayer('batch_normalization_1').setWeights([gamma, beta, mean, variance].map((v) => tf.tensor1d(v)));
    const x = Array.from({ length: 12 }, (_, i) => i - 4);
    const y = (model.predict(tf.tensor3d(x, [2, 2, 3])) as tf.Tensor).dataSync();
    const expected = x.map((v, i) => {
      const ch = Math.floor(i / 3) % 2;
      return ((v - mean[ch]) / Math.sqrt(variance[ch] + 0.5)) * gamma[ch] + beta[ch];
    });
    expect(Math.max(...expected.map((e, i) => Math.abs(e - y[i])))).toBeLessThan(1e-5);
    model.dispose();
  });

  it('initializes recurrent kernels orthogonally, like Keras', () => {
    const model = buildTfjsModel(checkedModel('network R { input: (5, 3) layers: LSTM(8) GRU(16) }'.replace('LSTM(8)', 'LSTM(8, return_sequences=true)')), tf, { seed: 5 });
    for (const name of ['lstm_1', 'gru_1']) {
      const k = model.getLayer(name).getWeights()[1];
      const gram = tf.matMul(k, k, false, true);
      const eye = tf.eye(k.shape[0]);
      expect(tf.max(tf.abs(tf.sub(gram, eye))).dataSync()[0]).toBeLessThan(1e-5);
      tf.dispose([gram, eye]);
    }
    model.dispose();
  });

  it('derives every initial weight from the seed', () => {
    const checked = checkedModel(KERAS_MODELS.transformer);
    const [a, b, c] = [1, 1, 2].map((seed) => buildTfjsModel(checked, tf, { seed }));
    expect(weightsOf(a)).toEqual(weightsOf(b));
    expect(weightsOf(a)).not.toEqual(weightsOf(c));
    [a, b, c].forEach((m) => m.dispose());
  });

  it('reports layers it cannot build for the tfjs backend, all at once', () => {
    const checked = checkedModel('network Bad {\n  input: (8,)\n  layers:\n    Lambda("x: x")\n    MyCustomLayer()\n    Output(2)\n}\n');
    let err: unknown;
    try {
      buildTfjsModel(checked, tf);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DslError);
    expect((err as DslError).diagnostics.map((d) => [d.code, d.line, d.message.includes('for the tfjs backend')])).toEqual([
      ['unsupported_layer', 4, true],
      ['unsupported_layer', 5, true],
    ]);
  });
});

/**
 * The tfjs implementations of Keras layers missing from tfjs, checked against PyTorch's own implementations of the
 * same computations (weights converted from the Keras layout): nn.MultiheadAttention, nn.GRU (which resets after the
 * recurrent matmul, like Keras' reset_after=True), nn.LSTM, F.group_norm and nn.TransformerEncoderLayer (post-norm).
 */
(HAS_TORCH ? describe : describe.skip)('custom tfjs layers agree with PyTorch', () => {
  const cases: Record<string, string> = {
    mha: 'MultiHeadAttention(2, 8)',
    attention: 'Attention(use_scale=true, causal=true)',
    gru: 'GRU(4, return_sequences=true)',
    bigru: 'Bidirectional(GRU(3), merge_mode="concat")',
    lstm: 'LSTM(5, return_sequences=true)',
    groupnorm: 'GroupNormalization(4, epsilon=0.01)',
    instancenorm: 'InstanceNormalization()',
    encoder: 'TransformerEncoder(num_heads=4, ff_dim=12, dropout=0.1, epsilon=0.001)',
    decoder: 'TransformerDecoder(num_heads=2, ff_dim=8)',
  };
  const ORACLE = String.raw`
import json, sys
import numpy as np
import torch
import torch.nn.functional as F

torch.set_grad_enabled(False)
cases = json.load(sys.stdin)
T = lambda a: torch.tensor(np.array(a, dtype=np.float32))

def mha(module, w, d, h):
    kd = d // h
    flat = lambda k: T(k).reshape(d, h * kd).t()
    module.in_proj_weight.copy_(torch.cat([flat(w[0]), flat(w[2]), flat(w[4])]))
    module.in_proj_bias.copy_(torch.cat([T(w[1]).reshape(-1), T(w[3]).reshape(-1), T(w[5]).reshape(-1)]))
    module.out_proj.weight.copy_(T(w[6]).reshape(h * kd, d).t())
    module.out_proj.bias.copy_(T(w[7]))

def causal(t):
    return torch.triu(torch.ones(t, t, dtype=torch.bool), 1)

def gru(x, w, u, reverse=False):
    net = torch.nn.GRU(x.shape[-1], u, batch_first=True)
    order = lambda m: torch.cat([m[..., u:2 * u], m[..., :u], m[..., 2 * u:]], -1)
    net.weight_ih_l0.copy_(order(T(w[0])).t()); net.weight_hh_l0.copy_(order(T(w[1])).t())
    net.bias_ih_l0.copy_(order(T(w[2])[0])); net.bias_hh_l0.copy_(order(T(w[2])[1]))
    out, _ = net(torch.flip(x, [1]) if reverse else x)
    return out

def transformer(x, ws, h, ff, eps, mask):
    d = x.shape[-1]
    layer = torch.nn.TransformerEncoderLayer(d, h, ff, dropout=0.0, batch_first=True, layer_norm_eps=eps).eval()
    mha(layer.self_attn, ws["mha"], d, h)
    layer.norm1.weight.copy_(T(ws["ln1"][0])); layer.norm1.bias.copy_(T(ws["ln1"][1]))
    layer.linear1.weight.copy_(T(ws["ffn1"][0]).t()); layer.linear1.bias.copy_(T(ws["ffn1"][1]))
    layer.linear2.weight.copy_(T(ws["ffn2"][0]).t()); layer.linear2.bias.copy_(T(ws["ffn2"][1]))
    layer.norm2.weight.copy_(T(ws["ln2"][0])); layer.norm2.bias.copy_(T(ws["ln2"][1]))
    return layer(x, src_mask=mask)

diffs = {}
for name, c in cases.items():
    x, ws = T(c["x"]), c["weights"]
    w = next(iter(ws.values())) if ws else []
    if name == "mha":
        m = torch.nn.MultiheadAttention(16, 2, batch_first=True)
        mha(m, w, 16, 2)
        y = m(x, x, x, need_weights=False)[0]
    elif name == "attention":
        scores = w[0] * x @ x.transpose(1, 2)
        y = torch.softmax(scores.masked_fill(causal(x.shape[1]), float("-inf")), -1) @ x
    elif name == "gru":
        y = gru(x, w, 4)
    elif name == "bigru":
        y = torch.cat([gru(x, w[:3], 3)[:, -1], gru(x, w[3:], 3, reverse=True)[:, -1]], -1)
    elif name == "lstm":
        net = torch.nn.LSTM(x.shape[-1], 5, batch_first=True)
        net.weight_ih_l0.copy_(T(w[0]).t()); net.weight_hh_l0.copy_(T(w[1]).t())
        net.bias_ih_l0.copy_(T(w[2])); net.bias_hh_l0.zero_()
        y = net(x)[0]
    elif name in ("groupnorm", "instancenorm"):
        groups, eps = (4, 0.01) if name == "groupnorm" else (x.shape[-1], 0.001)
        y = F.group_norm(x.permute(0, 3, 1, 2), groups, T(w[0]), T(w[1]), eps).permute(0, 2, 3, 1)
    elif name == "encoder":
        y = transformer(x, {k.split("_")[-1]: v for k, v in ws.items()}, 4, 12, 0.001, None)
    elif name == "decoder":
        y = transformer(x, {k.split("_")[-1]: v for k, v in ws.items()}, 2, 8, 1e-6, causal(x.shape[1]))
    diffs[name] = float((y - T(c["y"])).abs().max())
print(json.dumps(diffs))
`;

  it('within 1e-4', () => {
    const payload: Record<string, { x: unknown; y: unknown; weights: Record<string, unknown> }> = {};
    for (const [name, layer] of Object.entries(cases)) {
      const shape = name.endsWith('norm') ? '(5, 5, 8)' : name === 'mha' || name === 'encoder' || name === 'decoder' ? '(6, 16)' : '(6, 8)';
      const model = buildTfjsModel(checkedModel(`network N { input: ${shape} layers: ${layer} }`), tf, { seed: 11 });
      const x = tf.randomNormal([3, ...(model.inputs[0].shape.slice(1) as number[])], 0, 1, 'float32', 12);
      // Non-trivial gamma/beta/biases so that their layout matters too.
      model.setWeights(model.getWeights().map((w, i) => tf.add(w, tf.randomUniform(w.shape, -0.3, 0.3, 'float32', 100 + i))));
      const y = model.predict(x) as tf.Tensor;
      const weights: Record<string, unknown> = {};
      for (const l of model.layers) if (l.getWeights().length) weights[l.name] = l.getWeights().map((w) => w.arraySync());
      payload[name] = { x: x.arraySync(), y: y.arraySync(), weights };
      model.dispose();
    }
    const run = spawnSync(PYTHON, ['-c', ORACLE], { input: JSON.stringify(payload), encoding: 'utf8', maxBuffer: 64 << 20 });
    if (run.status !== 0) throw new Error(run.stderr);
    const diffs = JSON.parse(run.stdout) as Record<string, number>;
    const close = Object.fromEntries(Object.entries(diffs).map(([name, diff]) => [name, diff < 1e-4 ? 'ok' : `max abs diff ${diff}`]));
    expect(close).toEqual(Object.fromEntries(Object.keys(cases).map((name) => [name, 'ok'])));
  });
});
