import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { im2colPays, registerGradientKernels } from './kernels';

type T4 = tf.Tensor4D;

/**
 * Gradients computed on wasm with the shims equal the cpu backend's within 1e-4, absolute for values up to 1 in
 * magnitude and relative above (|a − b| ≤ 1e-4 · max(1, |b|)): float32 sums over hundreds of terms of size ~10 differ
 * in their last bits.
 */
function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>): void {
  expect(actual.length).toBe(expected.length);
  let worst = 0;
  for (let i = 0; i < actual.length; i++) worst = Math.max(worst, Math.abs(actual[i] - expected[i]) / Math.max(1, Math.abs(expected[i])));
  expect(worst).toBeLessThanOrEqual(1e-4);
}

async function on<T>(backend: 'wasm' | 'cpu', f: () => T): Promise<T> {
  await tf.setBackend(backend);
  return f();
}

/** f's result (an array of tensors) read back on each backend. */
async function both(f: () => tf.Tensor[]): Promise<{ wasm: Float32Array[]; cpu: Float32Array[] }> {
  const read = () => tf.tidy(f).map((t) => {
    const v = t.dataSync() as Float32Array;
    t.dispose();
    return v;
  });
  return { wasm: await on('wasm', read), cpu: await on('cpu', read) };
}

async function expectSameGradients(f: () => tf.Tensor[]): Promise<void> {
  const { wasm, cpu } = await both(f);
  wasm.forEach((w, i) => expectClose(w, cpu[i]));
}

/** A filter with zeros between its taps: a dilated convolution is a plain one with this filter. */
function spread(filter: tf.Tensor, d: number): tf.Tensor4D {
  const [kh, kw, c, m] = filter.shape;
  const values = filter.arraySync() as number[][][][];
  const out = tf.buffer([(kh - 1) * d + 1, (kw - 1) * d + 1, c, m]);
  for (let i = 0; i < kh; i++) for (let j = 0; j < kw; j++) for (let a = 0; a < c; a++) for (let o = 0; o < m; o++) out.set(values[i][j][a][o], i * d, j * d, a, o);
  return out.toTensor() as tf.Tensor4D;
}

function taps(g: tf.Tensor, d: number): tf.Tensor {
  return tf.stridedSlice(g, [0, 0, 0, 0], g.shape, [d, d, 1, 1]);
}

let x: T4;

beforeAll(async () => {
  await tf.setBackend('cpu');
  registerGradientKernels(tf);
  await tf.setBackend('wasm');
  x = tf.randomNormal([3, 11, 10, 4], 0, 1, 'float32', 1);
});

afterAll(() => x.dispose());

describe('gradient kernels for wasm', () => {
  it('registers the missing kernels once, and replaces the cpu UnsortedSegmentSum once', () => {
    for (const k of ['Conv2DBackpropFilter', 'DepthwiseConv2dNativeBackpropFilter', 'DepthwiseConv2dNativeBackpropInput', 'UnsortedSegmentSum']) {
      expect(tf.getKernel(k, 'wasm')).toBeDefined();
    }
    expect(registerGradientKernels(tf)).toEqual([]);
  });

  const grid = [
    [1, 'valid'],
    [2, 'valid'],
    [1, 'same'],
    [2, 'same'],
    [3, 'same'],
  ] as const;

  it.each(grid)('conv2d, stride %d, %s: filter and input gradients', async (s, pad) => {
    const f = tf.randomNormal([3, 3, 4, 5], 0, 1, 'float32', 2) as T4;
    // A fixed upstream gradient dy: the loss sum(conv · dy) hands dy to both backprop kernels unchanged.
    const dy = tf.randomNormal(tf.conv2d(x, f, s, pad).shape, 0, 1, 'float32', 3);
    await expectSameGradients(() => tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(a as T4, b as T4, s, pad), dy)))([x, f]));
    tf.dispose([f, dy]);
  });

  it.each([[1, 'same'], [2, 'valid']] as const)('fused conv2d with bias and relu (what tf.layers runs), stride %d, %s', async (s, pad) => {
    const f = tf.randomNormal([3, 3, 4, 6], 0, 1, 'float32', 3) as T4;
    const bias = tf.randomNormal([6], 0, 1, 'float32', 4);
    await expectSameGradients(() => {
      const g = tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => tf.sum(tf.square(tf.fused.conv2d({ x: a as T4, filter: b as T4, strides: s, pad, bias: c, activation: 'relu' }))));
      return g([x, f, bias]);
    });
    tf.dispose([f, bias]);
  });

  it('a tf.layers Conv2D layer: kernel and bias gradients', async () => {
    const layer = tf.layers.conv2d({ filters: 5, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 5 }) });
    layer.apply(x);
    await expectSameGradients(() => {
      const { grads } = tf.variableGrads(() => tf.sum(tf.square(layer.apply(x) as tf.Tensor)) as tf.Scalar, layer.trainableWeights.map((w) => w.read() as tf.Variable));
      return Object.values(grads);
    });
    layer.dispose();
  });

  it.each(grid.flatMap(([s, pad]) => [1, 2].map((m) => [s, pad, m] as const)))('depthwise conv, stride %d, %s, multiplier %d', async (s, pad, m) => {
    const f = tf.randomNormal([3, 3, 4, m], 0, 1, 'float32', 6) as T4;
    const dy = tf.randomNormal(tf.depthwiseConv2d(x, f, s, pad).shape, 0, 1, 'float32', 7);
    await expectSameGradients(() => tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(tf.depthwiseConv2d(a as T4, b as T4, s, pad), dy)))([x, f]));
    tf.dispose([f, dy]);
  });

  it('a tf.layers SeparableConv2D layer (depthwise then pointwise): every gradient', async () => {
    const layer = tf.layers.separableConv2d({ filters: 6, kernelSize: 3, depthMultiplier: 2, padding: 'same', depthwiseInitializer: tf.initializers.glorotUniform({ seed: 7 }), pointwiseInitializer: tf.initializers.glorotUniform({ seed: 8 }) });
    layer.apply(x);
    await expectSameGradients(() => {
      const inputs = tf.variable(x.clone());
      const { grads } = tf.variableGrads(() => tf.sum(tf.square(layer.apply(inputs) as tf.Tensor)) as tf.Scalar, [inputs, ...layer.trainableWeights.map((w) => w.read() as tf.Variable)]);
      inputs.dispose();
      return Object.values(grads);
    });
    layer.dispose();
  });

  // tfjs refuses to differentiate dilated convolutions (and the cpu backprop kernels ignore `dilations`), so the
  // reference is the cpu gradient of the same convolution written with a zero-spread filter.
  it.each([['valid'], ['same']] as const)('dilation 2, %s: Conv2DBackpropFilter and both depthwise kernels', async (pad) => {
    const f = tf.randomNormal([3, 3, 4, 5], 0, 1, 'float32', 9) as T4;
    const fd = tf.randomNormal([3, 3, 4, 2], 0, 1, 'float32', 10) as T4;
    const dy = tf.randomNormal(tf.conv2d(x, f, 1, pad, 'NHWC', 2).shape, 0, 1, 'float32', 11);
    const dyd = tf.randomNormal(tf.depthwiseConv2d(x, fd, 1, pad, 'NHWC', 2).shape, 0, 1, 'float32', 12);
    const kernel = (name: string, inputs: Record<string, tf.Tensor>, attrs: Record<string, unknown>) => tf.engine().runKernel(name, inputs, attrs as never) as tf.Tensor;
    const shims = await on('wasm', () => [
      kernel('Conv2DBackpropFilter', { x, dy }, { strides: 1, pad, dataFormat: 'NHWC', dilations: 2, filterShape: f.shape }),
      kernel('DepthwiseConv2dNativeBackpropFilter', { x, dy: dyd }, { strides: 1, pad, dilations: 2, filterShape: fd.shape }),
      kernel('DepthwiseConv2dNativeBackpropInput', { dy: dyd, filter: fd }, { strides: 1, pad, dilations: 2, inputShape: x.shape }),
    ]);
    const reference = await on('cpu', () => {
      const [big, bigd] = [spread(f, 2), spread(fd, 2)];
      const out = [
        taps(kernel('Conv2DBackpropFilter', { x, dy }, { strides: 1, pad, dataFormat: 'NHWC', filterShape: big.shape }), 2),
        taps(kernel('DepthwiseConv2dNativeBackpropFilter', { x, dy: dyd }, { strides: 1, pad, dilations: 1, filterShape: bigd.shape }), 2),
        kernel('DepthwiseConv2dNativeBackpropInput', { dy: dyd, filter: bigd }, { strides: 1, pad, dilations: 1, inputShape: x.shape }),
      ];
      tf.dispose([big, bigd]);
      return out;
    });
    shims.forEach((t, i) => {
      expect(t.shape).toEqual(reference[i].shape);
      expectClose(t.dataSync(), reference[i].dataSync());
    });
    tf.dispose([f, fd, dy, dyd, ...shims, ...reference]);
  });

  it('an Embedding layer: the gradient of its table (gather → UnsortedSegmentSum) equals a direct sum per id', async () => {
    const ids = tf.tensor2d([[0, 3, 3, 7], [7, 7, 1, 0], [9, 3, 2, 2]], [3, 4], 'int32');
    const dy = tf.randomNormal([3, 4, 5], 0, 1, 'float32', 13);
    const layer = tf.layers.embedding({ inputDim: 10, outputDim: 5, embeddingsInitializer: tf.initializers.randomUniform({ seed: 14 }) });
    layer.apply(ids);
    const grad = () => {
      const { grads } = tf.variableGrads(() => tf.sum(tf.mul(layer.apply(ids) as tf.Tensor, dy)) as tf.Scalar, layer.trainableWeights.map((w) => w.read() as tf.Variable));
      return Object.values(grads);
    };
    const { wasm, cpu } = await both(grad);
    const direct = new Float32Array(50);
    const [idv, dyv] = [ids.dataSync(), dy.dataSync()];
    idv.forEach((id, i) => {
      for (let j = 0; j < 5; j++) direct[id * 5 + j] += dyv[i * 5 + j];
    });
    expectClose(wasm[0], direct);
    expectClose(cpu[0], direct);
    tf.dispose([ids, dy]);
    layer.dispose();
  });

  it('UnsortedSegmentSum drops ids outside [0, numSegments) and keeps int32', async () => {
    for (const backend of ['wasm', 'cpu'] as const) {
      const out = await on(backend, () => tf.tidy(() => tf.unsortedSegmentSum(tf.tensor2d([[1, 2], [3, 4], [5, 6], [7, 8]], [4, 2], 'int32'), tf.tensor1d([2, -1, 2, 5], 'int32'), 3)));
      expect(out.dtype).toBe('int32');
      expect(Array.from(out.dataSync())).toEqual([0, 0, 0, 0, 6, 8]);
      out.dispose();
    }
  });

  // One input channel and many filters take the im2col formulation (`im2colPays`); the grid above takes the other.
  it.each([
    [1, 'valid', 1, [3, 3, 1, 32]],
    [2, 'same', 1, [3, 3, 1, 32]],
    [1, 'same', 1, [2, 2, 1, 24]],
    [2, 'valid', 1, [3, 3, 1, 20]],
  ] as const)('conv2d on one input channel, stride %d, %s (the im2col filter gradient)', async (s, pad, _d, shape) => {
    expect(im2colPays([...shape])).toBe(true);
    const x1 = tf.randomNormal([3, 11, 10, 1], 0, 1, 'float32', 18) as T4;
    const f = tf.randomNormal([...shape], 0, 1, 'float32', 19) as T4;
    const dy = tf.randomNormal(tf.conv2d(x1, f, s, pad).shape, 0, 1, 'float32', 20);
    await expectSameGradients(() => tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(a as T4, b as T4, s, pad), dy)))([x1, f]));
    tf.dispose([x1, f, dy]);
  });

  it('the im2col filter gradient with dilation 2 and explicit padding', async () => {
    const x1 = tf.randomNormal([3, 11, 10, 1], 0, 1, 'float32', 21) as T4;
    const f = tf.randomNormal([3, 3, 1, 32], 0, 1, 'float32', 22) as T4;
    const explicit = [[0, 0], [1, 2], [2, 0], [0, 0]] as tf.backend_util.ExplicitPadding;
    const kernel = (inputs: Record<string, tf.Tensor>, attrs: Record<string, unknown>) => tf.engine().runKernel('Conv2DBackpropFilter', inputs, attrs as never) as tf.Tensor;
    for (const [pad, d] of [['same', 2], [explicit, 1]] as const) {
      const dy = tf.randomNormal(tf.conv2d(x1, f, 1, pad, 'NHWC', d).shape, 0, 1, 'float32', 23);
      const shim = await on('wasm', () => kernel({ x: x1, dy }, { strides: 1, pad, dataFormat: 'NHWC', dilations: d, filterShape: f.shape }));
      const reference = await on('cpu', () => {
        const big = spread(f, d);
        const out = taps(kernel({ x: x1, dy }, { strides: 1, pad, dataFormat: 'NHWC', filterShape: big.shape }), d);
        big.dispose();
        return out;
      });
      expect(shim.shape).toEqual(f.shape);
      expectClose(shim.dataSync(), reference.dataSync());
      tf.dispose([dy, shim, reference]);
    }
    tf.dispose([x1, f]);
  });

  it('matMul with a transposed operand equals the cpu product, in either arrangement, batched and tiny ones too', async () => {
    const cases: [number[], number[], boolean, boolean][] = [
      [[32, 10], [500, 10], false, true], // a·bᵀ, packs aᵀ: (b·aᵀ)ᵀ
      [[32, 300], [32, 10], true, false], // aᵀ·b, packs b
      [[40, 7], [50, 40], true, true],
      [[64, 100], [300, 100], false, true], // K > 48
      [[100, 64], [1, 100, 30], true, false],
      [[3, 20, 30], [3, 40, 30], false, true], // batched: the stock kernel
      [[2, 3], [4, 3], false, true], // tiny: the stock kernel
    ];
    for (const [as, bs, ta, tb] of cases) {
      const [a, b] = [tf.randomNormal(as, 0, 1, 'float32', 24), tf.randomNormal(bs, 0, 1, 'float32', 25)];
      const { wasm, cpu } = await both(() => [tf.matMul(a, b, ta, tb)]);
      expectClose(wasm[0], cpu[0]);
      tf.dispose([a, b]);
    }
  });

  // XNNPACK keeps the packed second operand in an operator cached under that tensor's data id alone (tfjs-backend-wasm
  // 4.22), so a later product with the same data reshaped would get the stale operator; the transposed path only
  // ever hands XNNPACK a tensor of its own.
  it('a transposed product leaves no operator under the caller’s tensors: their reshaped data multiplies correctly later', async () => {
    await tf.setBackend('wasm');
    const a = tf.randomNormal([40, 300], 0, 1, 'float32', 26);
    const b = tf.randomNormal([40, 20], 0, 1, 'float32', 27);
    const c = tf.randomNormal([32, 10], 0, 1, 'float32', 28);
    const d = tf.randomNormal([500, 10], 0, 1, 'float32', 29);
    tf.tidy(() => [tf.matMul(a, b, true, false), tf.matMul(c, d, false, true)]).forEach((t) => t.dispose());
    for (const t of [a, b, c, d]) {
      const column = tf.reshape(t, [t.size, 1]);
      const total = tf.matMul(tf.ones([1, t.size]), column);
      expect(total.dataSync()[0]).toBeCloseTo(tf.sum(t).dataSync()[0], 2);
      tf.dispose([column, total]);
    }
    tf.dispose([a, b, c, d]);
  });

  it('the same data under another shape multiplies correctly after a product (stock wasm reuses the first operator)', async () => {
    await tf.setBackend('wasm');
    const w = tf.tensor2d([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], [3, 4]);
    const products = tf.tidy(() => {
      tf.matMul(tf.ones([2, 3]), w).dataSync();
      return [
        tf.matMul(tf.ones([1, 6]), tf.reshape(w, [6, 2])),
        tf.fused.matMul({ a: tf.ones([1, 4]), b: tf.reshape(w, [4, 3]), bias: tf.zeros([3]) }),
        tf.matMul(tf.ones([1, 2]), tf.reshape(tf.clone(w), [2, 6])),
      ];
    });
    expect(products.map((p) => Array.from(p.dataSync()))).toEqual([[36, 42], [22, 26, 30], [8, 10, 12, 14, 16, 18]]);
    tf.dispose([w, ...products]);
  });

  it('sum over leading, inner, unordered and all axes equals the cpu sum', async () => {
    const t = tf.randomNormal([4, 5, 6, 7], 0, 1, 'float32', 30);
    const axes: (number | number[])[] = [[0, 1, 2], [0, 2], [2, 0], [1, 2], [0], 1, [0, 1, 2, 3], -1];
    const { wasm, cpu } = await both(() => axes.flatMap((a) => [tf.sum(t, a), tf.sum(t, a, true)]));
    wasm.forEach((w, i) => expectClose(w, cpu[i]));
    const shapes = await on('wasm', () => tf.tidy(() => axes.map((a) => [tf.sum(t, a).shape, tf.sum(t, a, true).shape])));
    expect(shapes).toEqual(await on('cpu', () => tf.tidy(() => axes.map((a) => [tf.sum(t, a).shape, tf.sum(t, a, true).shape]))));
    t.dispose();
  });

  it('a clone shares the data: values survive disposing the original and assigning the variable it came from', async () => {
    await tf.setBackend('wasm');
    const backend = tf.backend() as unknown as { numDataIds(): number };
    const ids = backend.numDataIds();
    const a = tf.tensor1d([1, 2, 3]);
    const b = tf.clone(a);
    a.dispose();
    expect(Array.from(b.dataSync())).toEqual([1, 2, 3]);
    const [init, next] = [tf.tensor1d([4, 5]), tf.tensor1d([6, 7])];
    const v = tf.variable(init);
    const c = tf.clone(v);
    v.assign(next);
    tf.dispose([init, next]);
    expect(Array.from(c.dataSync())).toEqual([4, 5]);
    expect(Array.from(v.dataSync())).toEqual([6, 7]);
    tf.dispose([b, c, v]);
    expect(backend.numDataIds()).toBe(ids);
  });

  it('frees what the faster paths allocate below the engine: wasm data ids are stable over training steps', async () => {
    await tf.setBackend('wasm');
    const backend = tf.backend() as unknown as { numDataIds(): number };
    const x1 = tf.randomNormal([8, 12, 12, 1], 0, 1, 'float32', 31) as T4;
    const conv = tf.variable(tf.randomNormal([3, 3, 1, 32], 0, 0.1, 'float32', 32));
    const dense = tf.variable(tf.randomNormal([10 * 10 * 32, 10], 0, 0.1, 'float32', 33));
    const step = () =>
      tf.tidy(() => {
        const { value, grads } = tf.variableGrads(() => {
          const h = tf.relu(tf.add(tf.conv2d(x1, conv as tf.Tensor as T4, 1, 'valid'), 0.1));
          return tf.sum(tf.square(tf.matMul(tf.reshape(h, [8, -1]), dense))) as tf.Scalar;
        });
        for (const v of [conv, dense]) v.assign(tf.sub(v, tf.mul(grads[v.name], 1e-4)));
        return value.dataSync()[0];
      });
    step();
    const [tensors, ids] = [tf.memory().numTensors, backend.numDataIds()];
    for (let i = 0; i < 5; i++) step();
    expect(tf.memory().numTensors).toBe(tensors);
    expect(backend.numDataIds()).toBe(ids);
    tf.dispose([x1, conv, dense]);
  });

  it('leaks no tensor: numTensors is stable over repeated gradient steps on wasm', async () => {
    await tf.setBackend('wasm');
    const conv = tf.variable(tf.randomNormal([3, 3, 4, 4], 0, 0.1, 'float32', 15));
    const dw = tf.variable(tf.randomNormal([3, 3, 4, 2], 0, 0.1, 'float32', 16));
    const table = tf.variable(tf.randomNormal([10, 8], 0, 0.1, 'float32', 17));
    const ids = tf.tensor1d([1, 2, 2, 9], 'int32');
    const step = () =>
      tf.tidy(() => {
        const { value, grads } = tf.variableGrads(() => {
          const y = tf.depthwiseConv2d(tf.conv2d(x, conv as tf.Tensor as T4, 2, 'same'), dw as tf.Tensor as T4, 1, 'valid');
          return tf.add(tf.sum(tf.square(y)), tf.sum(tf.gather(table, ids))) as tf.Scalar;
        });
        for (const v of [conv, dw, table]) v.assign(tf.sub(v, tf.mul(grads[v.name], 1e-3)));
        return value.dataSync()[0];
      });
    step();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 5; i++) step();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([conv, dw, table, ids]);
  });
});
