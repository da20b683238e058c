/**
 * Gradient kernels the tfjs `wasm` backend lacks (tfjs 4.22: Conv2DBackpropFilter,
 * DepthwiseConv2dNativeBackpropFilter, DepthwiseConv2dNativeBackpropInput, UnsortedSegmentSum), built from kernels
 * it has, plus a linear-time UnsortedSegmentSum for `cpu`, whose stock kernel loops once per segment (an Embedding
 * gradient over a 2,000-word vocabulary trains at ~1 sample/s with it).
 *
 * The shims call `engine().runKernel` on their inputs first: wrapping a kernel's TensorInfo inputs in new Tensors
 * (`makeTensorFromTensorInfo`) would give those tensors to the enclosing scope, which frees the caller's data early.
 */
import type * as Tfjs from '@tensorflow/tfjs';

type Tf = typeof Tfjs;
type Tensor = Tfjs.Tensor;
type TensorInfo = Tfjs.TensorInfo;
type Pair = [number, number];
type Pad = 'valid' | 'same' | number | Tfjs.backend_util.ExplicitPadding;
type KernelArgs = { inputs: Record<string, TensorInfo>; attrs?: Record<string, unknown>; backend: Tfjs.KernelBackend };

/** Kernel functions registered here, so a second call neither re-registers nor mistakes them for tfjs' own. */
const SHIMS = new WeakSet<object>();

/**
 * Registers the shims once per tfjs instance: the wasm ones only where wasm has no kernel of that name, the cpu
 * UnsortedSegmentSum in place of the stock one. Returns `backend/kernel` for each kernel registered by this call.
 */
export function registerGradientKernels(tf: Tf): string[] {
  const registered: string[] = [];
  const wasm: [string, (args: KernelArgs) => TensorInfo][] = [
    ['Conv2DBackpropFilter', (a) => conv2DBackpropFilter(tf, a)],
    ['DepthwiseConv2dNativeBackpropFilter', (a) => depthwiseBackpropFilter(tf, a)],
    ['DepthwiseConv2dNativeBackpropInput', (a) => depthwiseBackpropInput(tf, a)],
    ['UnsortedSegmentSum', unsortedSegmentSum],
  ];
  for (const [name, fn] of wasm) {
    if (tf.getKernel(name, 'wasm')) continue;
    register(tf, name, 'wasm', fn);
    registered.push(`wasm/${name}`);
  }
  const cpu = tf.getKernel('UnsortedSegmentSum', 'cpu');
  if (!cpu || !SHIMS.has(cpu.kernelFunc)) {
    if (cpu) tf.unregisterKernel('UnsortedSegmentSum', 'cpu');
    register(tf, 'UnsortedSegmentSum', 'cpu', unsortedSegmentSum);
    registered.push('cpu/UnsortedSegmentSum');
  }
  return registered;
}

function register(tf: Tf, kernelName: string, backendName: string, fn: (args: KernelArgs) => TensorInfo): void {
  const kernelFunc = fn as unknown as Tfjs.KernelFunc;
  SHIMS.add(kernelFunc);
  tf.registerKernel({ kernelName, backendName, kernelFunc });
}

function run(tf: Tf, kernel: string, inputs: Record<string, TensorInfo>, attrs: Record<string, unknown> = {}): Tensor {
  return tf.engine().runKernel(kernel, inputs as never, attrs as never) as Tensor;
}

/** Zero padding on H and W, then a crop to `rows` x `cols` (padding beyond what the convolution reads is dropped). */
function padCrop(tf: Tf, x: TensorInfo, [top, left]: Pair, rows: number, cols: number): Tensor {
  const [b, h, w, c] = x.shape;
  const bottom = Math.max(rows - top - h, 0);
  const right = Math.max(cols - left - w, 0);
  const padded = run(tf, 'PadV2', { x }, { paddings: [[0, 0], [Math.max(top, 0), bottom], [Math.max(left, 0), right], [0, 0]], constantValue: 0 });
  const [r0, c0] = [Math.max(-top, 0), Math.max(-left, 0)];
  return tf.slice(padded, [0, r0, c0, 0], [b, rows, cols, c]);
}

function pair(v: unknown): Pair {
  if (v === undefined || v === null) return [1, 1];
  return typeof v === 'number' ? [v, v] : [(v as number[])[0], (v as number[])[1]];
}

/**
 * dW[i, j, ci, co] = sum over b, y, x of xpad[b, y·s + i·d, x·s + j·d, ci] · dy[b, y, x, co]: a convolution of the
 * input with batch and channel axes swapped (channels become the batch, the batch the channels) by dy as the filter.
 * Strides 1 with dilation s reads rows y·s + i; for a dilated convolution (s = 1) strides d with dilation 1 read
 * i·d + y. tfjs' conv2d needs strides or dilations to be 1, as tfjs requires of the convolutions it differentiates.
 * tfjs never passes `dilations` here (its conv gradients refuse dilated convolutions); TensorFlow's kernel of this
 * name has them, so they are honoured.
 */
function conv2DBackpropFilter(tf: Tf, { inputs, attrs = {} }: KernelArgs): TensorInfo {
  const channelsFirst = attrs.dataFormat === 'NCHW';
  const filterShape = attrs.filterShape as [number, number, number, number];
  return tf.tidy(() => {
    const x: TensorInfo = channelsFirst ? run(tf, 'Transpose', { x: inputs.x }, { perm: [0, 2, 3, 1] }) : inputs.x;
    const dy = channelsFirst ? run(tf, 'Transpose', { x: inputs.dy }, { perm: [0, 2, 3, 1] }) : run(tf, 'Identity', { x: inputs.dy });
    const [s, d] = [pair(attrs.strides), pair(attrs.dilations)];
    if (Math.max(...s) > 1 && Math.max(...d) > 1) throw new Error('Conv2DBackpropFilter: strides and dilations cannot both exceed 1');
    const info = tf.backend_util.computeConv2DInfo(x.shape as never, filterShape, s, d, attrs.pad as Pad, attrs.dimRoundingMode as never);
    const [kh, kw] = [filterShape[0], filterShape[1]];
    const rows = (info.outHeight - 1) * s[0] + (kh - 1) * d[0] + 1;
    const cols = (info.outWidth - 1) * s[1] + (kw - 1) * d[1] + 1;
    const xs = tf.transpose(padCrop(tf, x, [info.padInfo.top, info.padInfo.left], rows, cols), [3, 1, 2, 0]);
    const f = tf.transpose(dy, [1, 2, 0, 3]);
    const dilated = d[0] > 1 || d[1] > 1;
    const dw = tf.conv2d(xs as Tfjs.Tensor4D, f as Tfjs.Tensor4D, dilated ? d : 1, 'valid', 'NHWC', dilated ? 1 : s);
    return tf.transpose(dw, [1, 2, 0, 3]);
  });
}

/**
 * Depthwise filter gradient: the input with the batch folded into the channels, convolved depthwise with dy as the
 * filter (same stride/dilation swap as above), then summed over the batch.
 */
function depthwiseBackpropFilter(tf: Tf, { inputs, attrs = {} }: KernelArgs): TensorInfo {
  const filterShape = attrs.filterShape as [number, number, number, number];
  return tf.tidy(() => {
    const { x, dy } = inputs;
    const [b, , , c] = x.shape;
    const [kh, kw, , m] = filterShape;
    const [s, d] = [pair(attrs.strides), pair(attrs.dilations)];
    if (Math.max(...s) > 1 && Math.max(...d) > 1) throw new Error('DepthwiseConv2dNativeBackpropFilter: strides and dilations cannot both exceed 1');
    const info = tf.backend_util.computeConv2DInfo(x.shape as never, filterShape, s, d, attrs.pad as Pad, attrs.dimRoundingMode as never, true);
    const [oh, ow] = [info.outHeight, info.outWidth];
    const rows = (oh - 1) * s[0] + (kh - 1) * d[0] + 1;
    const cols = (ow - 1) * s[1] + (kw - 1) * d[1] + 1;
    const folded = tf.reshape(tf.transpose(padCrop(tf, x, [info.padInfo.top, info.padInfo.left], rows, cols), [1, 2, 0, 3]), [1, rows, cols, b * c]);
    const f = tf.reshape(tf.transpose(tf.reshape(run(tf, 'Identity', { x: dy }), [b, oh, ow, c, m]), [1, 2, 0, 3, 4]), [oh, ow, b * c, m]);
    const dilated = d[0] > 1 || d[1] > 1;
    const dw = tf.depthwiseConv2d(folded as Tfjs.Tensor4D, f as Tfjs.Tensor4D, dilated ? d : 1, 'valid', 'NHWC', dilated ? 1 : s);
    return tf.sum(tf.reshape(dw, [kh, kw, b, c, m]), 2);
  });
}

/**
 * Depthwise input gradient as a depthwise convolution too (c·m multiply-adds per tap, where a block-diagonal
 * Conv2DBackpropInput filter would cost c times more): dy with s−1 zeros inserted between its rows and columns,
 * padded by (k−1)·d − pad in front, correlated with the spatially flipped filter at dilation d, then summed over
 * the channel multiplier.
 */
function depthwiseBackpropInput(tf: Tf, { inputs, attrs = {} }: KernelArgs): TensorInfo {
  const inputShape = attrs.inputShape as [number, number, number, number];
  return tf.tidy(() => {
    const { dy, filter } = inputs;
    const [b, h, w, c] = inputShape;
    const [kh, kw, , m] = filter.shape;
    const [s, d] = [pair(attrs.strides), pair(attrs.dilations)];
    const info = tf.backend_util.computeConv2DInfo(inputShape, filter.shape as never, s, d, attrs.pad as Pad, attrs.dimRoundingMode as never, true);
    const [oh, ow] = [info.outHeight, info.outWidth];
    let spread: Tensor = run(tf, 'Identity', { x: dy });
    if (s[0] > 1 || s[1] > 1) {
      const holes = tf.pad(tf.reshape(spread, [b, oh, 1, ow, 1, c * m]), [[0, 0], [0, 0], [0, s[0] - 1], [0, 0], [0, s[1] - 1], [0, 0]]);
      spread = tf.slice(tf.reshape(holes, [b, oh * s[0], ow * s[1], c * m]), 0, [b, (oh - 1) * s[0] + 1, (ow - 1) * s[1] + 1, c * m]);
    }
    const [ah, aw] = [(kh - 1) * d[0], (kw - 1) * d[1]];
    const padded = padCrop(tf, spread, [ah - info.padInfo.top, aw - info.padInfo.left], h + ah, w + aw);
    const flipped = tf.reshape(tf.reverse(run(tf, 'Identity', { x: filter }), [0, 1]), [kh, kw, c * m, 1]);
    const dx = tf.depthwiseConv2d(padded as Tfjs.Tensor4D, flipped as Tfjs.Tensor4D, 1, 'valid', 'NHWC', d);
    return m === 1 ? dx : tf.sum(tf.reshape(dx, [b, h, w, c, m]), 4);
  });
}

/** out[id] += x[i] over the leading segment-id axes, in one pass; ids outside [0, numSegments) are dropped, as in TF. */
function unsortedSegmentSum({ inputs, attrs = {}, backend }: KernelArgs): TensorInfo {
  const { x, segmentIds } = inputs;
  const numSegments = attrs.numSegments as number;
  const values = backend.readSync(x.dataId) as Float32Array | Int32Array;
  const ids = backend.readSync(segmentIds.dataId) as Int32Array;
  const shape = [numSegments, ...x.shape.slice(segmentIds.shape.length)];
  const inner = shape.slice(1).reduce((a, n) => a * n, 1);
  const out = x.dtype === 'int32' ? new Int32Array(numSegments * inner) : new Float32Array(numSegments * inner);
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i];
    if (id < 0 || id >= numSegments) continue;
    const src = i * inner;
    const dst = id * inner;
    for (let j = 0; j < inner; j++) out[dst + j] += values[src + j];
  }
  return { dataId: backend.write(out, shape, x.dtype), shape, dtype: x.dtype };
}
