/**
 * Gradient kernels the tfjs `wasm` backend lacks (tfjs 4.22: Conv2DBackpropFilter,
 * DepthwiseConv2dNativeBackpropFilter, DepthwiseConv2dNativeBackpropInput, UnsortedSegmentSum), built from kernels
 * it has, plus a linear-time UnsortedSegmentSum for `cpu`, whose stock kernel loops once per segment (an Embedding
 * gradient over a 2,000-word vocabulary trains at ~1 sample/s with it).
 *
 * Also stock wasm kernels wrapped to reach the fast code wasm already has, for the same arithmetic:
 * - BatchMatMul: wasm runs XNNPACK only for an untransposed, unbatched product and otherwise a scalar triple loop,
 *   which is what both Dense gradients (dy·Wᵀ, xᵀ·dy) hit; the seed MNIST convnet spent ~9.5 of its ~18 ms per step
 *   there. The wrapper materialises the transposes and runs the XNNPACK path (see `batchMatMul`).
 * - Sum: wasm moves the reduced axes last with its generic n-d transpose first; the wrapper merges adjacent axes so
 *   the same data movement is a 2-D or 3-D transpose, and the same sum follows bit for bit (see `sum`).
 * - Identity: shares the data instead of copying it (see `identity`).
 * - BatchMatMul and _FusedMatMul also guard against wasm's XNNPACK operator cache, which ignores shapes (`PACKED`).
 *
 * The shims call `engine().runKernel` on their inputs first: wrapping a kernel's TensorInfo inputs in new Tensors
 * (`makeTensorFromTensorInfo`) would give those tensors to the enclosing scope, which frees the caller's data early.
 * The wrappers and the im2col filter gradient stay below the engine instead: they call wasm kernel functions on
 * TensorInfos and free their intermediates with `backend.disposeData`, as wasm's own kernels do.
 */
import type * as Tfjs from '@tensorflow/tfjs';

type Tf = typeof Tfjs;
type Tensor = Tfjs.Tensor;
type TensorInfo = Tfjs.TensorInfo;
type Pair = [number, number];
type Pad = 'valid' | 'same' | number | Tfjs.backend_util.ExplicitPadding;
type KernelArgs = { inputs: Record<string, TensorInfo>; attrs?: Record<string, unknown>; backend: Tfjs.KernelBackend };
type KernelFn = (args: KernelArgs) => TensorInfo;

/** Kernel functions registered here, so a second call neither re-registers nor mistakes them for tfjs' own. */
const SHIMS = new WeakSet<object>();

/**
 * Registers the shims once per tfjs instance: the wasm ones only where wasm has no kernel of that name, the cpu
 * UnsortedSegmentSum in place of the stock one, and the wrappers of wasm's BatchMatMul, _FusedMatMul, Sum and Identity
 * (once wasm's kernels are registered, i.e. `@tensorflow/tfjs-backend-wasm` is loaded). Returns `backend/kernel` for
 * each kernel registered by this call.
 */
export function registerGradientKernels(tf: Tf): string[] {
  const registered: string[] = [];
  const wasm: [string, KernelFn][] = [
    ['Conv2DBackpropFilter', (a) => conv2DBackpropFilter(tf, a)],
    ['DepthwiseConv2dNativeBackpropFilter', (a) => depthwiseBackpropFilter(tf, a)],
    ['DepthwiseConv2dNativeBackpropInput', (a) => depthwiseBackpropInput(tf, a)],
    ['UnsortedSegmentSum', unsortedSegmentSum],
  ];
  for (const [name, fn] of wasm) {
    if (tf.getKernel(name, 'wasm')) continue;
    register(tf, { kernelName: name, backendName: 'wasm' }, fn);
    registered.push(`wasm/${name}`);
  }
  const wrappers: [string, (stock: KernelFn) => KernelFn][] = [
    ['BatchMatMul', (stock) => (a) => batchMatMul(tf, stock, a)],
    ['_FusedMatMul', (stock) => (a) => fusedMatMul(stock, a)],
    ['Sum', (stock) => (a) => sum(tf, stock, a)],
    ['Identity', (stock) => (a) => identity(stock, a)],
  ];
  for (const [name, wrap] of wrappers) {
    const stock = tf.getKernel(name, 'wasm');
    if (!stock || SHIMS.has(stock.kernelFunc)) continue;
    if (name === 'BatchMatMul') STOCK_MATMUL.set(tf, stock.kernelFunc as unknown as KernelFn);
    tf.unregisterKernel(name, 'wasm');
    // The stock setup (its cwrap of the wasm function) stays with the kernel, for a backend initialised later.
    register(tf, stock, wrap(stock.kernelFunc as unknown as KernelFn));
    registered.push(`wasm/${name}`);
  }
  const cpu = tf.getKernel('UnsortedSegmentSum', 'cpu');
  if (!cpu || !SHIMS.has(cpu.kernelFunc)) {
    if (cpu) tf.unregisterKernel('UnsortedSegmentSum', 'cpu');
    register(tf, { kernelName: 'UnsortedSegmentSum', backendName: 'cpu' }, unsortedSegmentSum);
    registered.push('cpu/UnsortedSegmentSum');
  }
  return registered;
}

function register(tf: Tf, config: Omit<Tfjs.KernelConfig, 'kernelFunc'>, fn: KernelFn): void {
  const kernelFunc = fn as unknown as Tfjs.KernelFunc;
  SHIMS.add(kernelFunc);
  tf.registerKernel({ ...config, kernelFunc });
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
function conv2DBackpropFilter(tf: Tf, args: KernelArgs): TensorInfo {
  const { inputs, attrs = {} } = args;
  const channelsFirst = attrs.dataFormat === 'NCHW';
  const filterShape = attrs.filterShape as [number, number, number, number];
  if (!channelsFirst && im2colPays(filterShape)) return filterGradByIm2col(tf, args);
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

/**
 * Whether `filterGradByIm2col` beats the convolution above for a filter [kh, kw, cin, cout]. Per output pixel, with
 * t = kh·kw·cin taps: the convolution packs dy as its filter (cout values; XNNPACK's packing costs ~2.7 ns a value
 * on this machine's wasm), im2col runs a t·t one-hot convolution (~0.17 ns a multiply-add), packs t patch values and
 * transposes cout values of dy (~0.4 ns each); the t·cout products cost both the same. So im2col pays when
 * 0.17·t² + 2.7·t + 0.4·cout < 2.7·cout, i.e. t·(t + 16) < 14·cout: a 3×3 filter on one input channel from 17
 * output channels on (the seed MNIST convnet's first layer: 32), not for wide inputs.
 */
export function im2colPays([kh, kw, cin, cout]: [number, number, number, number]): boolean {
  const t = kh * kw * cin;
  return t * (t + 16) < 14 * cout;
}

/**
 * dW = patchesᵀ · dy as one XNNPACK product that packs only the small operand: the patches P [b·oh·ow, t] come from
 * a convolution of x with a one-hot filter (E[i, j, c, (i·kw + j)·cin + c] = 1, so P holds the input values exactly,
 * with the convolution's own strides, dilations and padding), dyᵀ [cout, b·oh·ow] from a 2-D transpose, and
 * (dyᵀ · P)ᵀ = Pᵀ · dy, reshaped to [kh, kw, cin, cout]. Each entry is a float32 sum over b·oh·ow products, as
 * in the convolution formulation (a different order, so the last bits differ).
 */
function filterGradByIm2col(tf: Tf, { inputs, attrs = {}, backend }: KernelArgs): TensorInfo {
  const [kh, kw, cin, cout] = attrs.filterShape as [number, number, number, number];
  const [s, d] = [pair(attrs.strides), pair(attrs.dilations)];
  if (Math.max(...s) > 1 && Math.max(...d) > 1) throw new Error('Conv2DBackpropFilter: strides and dilations cannot both exceed 1');
  const t = kh * kw * cin;
  const onehot = new Float32Array(t * t);
  for (let k = 0; k < t; k++) onehot[k * t + k] = 1;
  const { x, dy } = inputs;
  const pixels = dy.shape[0] * dy.shape[1] * dy.shape[2];
  const temps: TensorInfo[] = [];
  const temp = (info: TensorInfo): TensorInfo => (temps.push(info), info);
  try {
    const filter = temp({ dataId: backend.write(onehot, [kh, kw, cin, t], 'float32'), shape: [kh, kw, cin, t], dtype: 'float32' });
    const convAttrs = { strides: s, dilations: d, pad: attrs.pad, dimRoundingMode: attrs.dimRoundingMode, dataFormat: 'NHWC' };
    const patches = temp(wasmKernel(tf, 'Conv2D', backend, { x, filter }, convAttrs));
    const dyT = temp(wasmKernel(tf, 'Transpose', backend, { x: view(dy, [pixels, cout]) }, { perm: [1, 0] }));
    const product = temp(xnnMatMul(tf, backend, dyT, view(patches, [pixels, t])));
    const dw = wasmKernel(tf, 'Transpose', backend, { x: view(product, [cout, t]) }, { perm: [1, 0] });
    return view(dw, [kh, kw, cin, cout]);
  } finally {
    for (const info of temps) backend.disposeData(info.dataId);
  }
}

/** The wasm backend's own calls, below the engine: outputs belong to the caller (free with `backend.disposeData`). */
interface WasmBackend extends Tfjs.KernelBackend {
  makeOutput(shape: number[], dtype: Tfjs.DataType): TensorInfo;
  typedArrayFromHeap(info: TensorInfo): Float32Array | Int32Array | Uint8Array;
}

function wasmKernel(tf: Tf, name: string, backend: Tfjs.KernelBackend, inputs: Record<string, TensorInfo>, attrs: Record<string, unknown> = {}): TensorInfo {
  const kernel = tf.getKernel(name, 'wasm');
  if (!kernel) throw new Error(`The wasm backend has no ${name} kernel`);
  return kernel.kernelFunc({ inputs, attrs, backend } as never) as TensorInfo;
}

/** The same data under another shape of the same size (what wasm's Reshape returns, without its reference count). */
function view(info: TensorInfo, shape: number[]): TensorInfo {
  return { dataId: info.dataId, shape, dtype: info.dtype };
}

/** A copy with its own data id. */
function copy(backend: Tfjs.KernelBackend, info: TensorInfo): TensorInfo {
  const wasm = backend as WasmBackend;
  const out = wasm.makeOutput(info.shape, info.dtype);
  wasm.typedArrayFromHeap(out).set(wasm.typedArrayFromHeap(info));
  return out;
}

/** Transpose of the last two axes. */
function swapLast(tf: Tf, backend: Tfjs.KernelBackend, info: TensorInfo): TensorInfo {
  const r = info.shape.length;
  return wasmKernel(tf, 'Transpose', backend, { x: info }, { perm: [...Array.from({ length: r - 2 }, (_, i) => i), r - 1, r - 2] });
}

/**
 * a·b on wasm's XNNPACK path; `b` must be a tensor the caller made for this call and frees after it (see `PACKED`:
 * its operator is dropped with it).
 */
function xnnMatMul(tf: Tf, backend: Tfjs.KernelBackend, a: TensorInfo, b: TensorInfo): TensorInfo {
  const stock = STOCK_MATMUL.get(tf) ?? (tf.getKernel('BatchMatMul', 'wasm')!.kernelFunc as unknown as KernelFn);
  return stock({ inputs: { a, b }, attrs: { transposeA: false, transposeB: false }, backend });
}

/** The stock wasm BatchMatMul per tfjs instance (set when it is wrapped), for the calls made below the wrapper. */
const STOCK_MATMUL = new WeakMap<Tf, KernelFn>();

/** Below this many multiply-adds the stock loop is quicker than the transposes and XNNPACK's setup (~5 µs). */
const MIN_XNN_WORK = 1 << 14;

/**
 * The [K, N] each data id was packed with by wasm's XNNPACK path. wasm caches the packed operator under the id of
 * the second operand alone and reuses it for any later product with that id, whatever its shape (tfjs-backend-wasm
 * 4.22): `matMul(x, w)` then `matMul(y, reshape(w, other))` returns a wrong product. Reshape shares the id, and so
 * does Identity here, so the same data under another shape goes in as a copy, which gets an operator of its own.
 * Entries go with their data ids (no wasm id is reused).
 */
const PACKED = new WeakMap<object, string>();

/** `b` as the second operand of an XNNPACK product: itself, or a copy (added to `temps`) if its id was packed with another shape. */
function packable(backend: Tfjs.KernelBackend, b: TensorInfo, temps: TensorInfo[]): TensorInfo {
  const shape = b.shape.slice(-2).join();
  const seen = PACKED.get(b.dataId);
  if (seen === undefined) PACKED.set(b.dataId, shape);
  if (seen === undefined || seen === shape) return b;
  const fresh = copy(backend, b);
  temps.push(fresh);
  return fresh;
}

/** An untransposed product of one matrix pair: what wasm runs on XNNPACK (and caches an operator for). */
function onXnn(args: KernelArgs): boolean {
  const { a, b } = args.inputs;
  const attrs = args.attrs as { transposeA: boolean; transposeB: boolean };
  const outer = (info: TensorInfo) => info.shape.slice(0, -2).reduce((p, n) => p * n, 1);
  return !attrs.transposeA && !attrs.transposeB && outer(a) === 1 && outer(b) === 1;
}

/** `stock` with `packable(b)`, for an XNNPACK product. */
function withPackable(stock: KernelFn, args: KernelArgs): TensorInfo {
  const temps: TensorInfo[] = [];
  try {
    const b = packable(args.backend, args.inputs.b, temps);
    return stock(b === args.inputs.b ? args : { ...args, inputs: { ...args.inputs, b } });
  } finally {
    for (const info of temps) args.backend.disposeData(info.dataId);
  }
}

/** _FusedMatMul (matMul with bias and activation) shares BatchMatMul's XNNPACK path and operator cache. */
function fusedMatMul(stock: KernelFn, args: KernelArgs): TensorInfo {
  return onXnn(args) && args.inputs.b.dtype === 'float32' ? withPackable(stock, args) : stock(args);
}

/**
 * BatchMatMul with a transposed operand (a·bᵀ, aᵀ·b, aᵀ·bᵀ) for one matrix pair: wasm computes those with a scalar
 * triple loop (~0.8 ns a multiply-add here), while its XNNPACK path (untransposed only) is ~15× faster but packs its
 * second operand on every call for a new tensor (~2.7 ns a value). So the product runs on XNNPACK with the
 * transposes materialised (~0.5 ns a value), in whichever of two arrangements packs less: a·b as is (packs b, K×N),
 * or (bᵀ·aᵀ)ᵀ (packs aᵀ, K×M, plus a transpose of the M×N result). The second operand is always a fresh tensor (a
 * transpose or a copy), for the cache noted at `PACKED`. Same products; the sum over K runs in one pass where
 * the loop adds blocks of 48, so results are bit-identical for K ≤ 48 and differ in the last bits above.
 * Batched (or broadcast) products, other dtypes and tiny ones go to the stock kernel unchanged; untransposed ones
 * too, through `packable`.
 */
function batchMatMul(tf: Tf, stock: KernelFn, args: KernelArgs): TensorInfo {
  const { inputs: { a, b }, backend } = args;
  const attrs = args.attrs as { transposeA: boolean; transposeB: boolean };
  const { transposeA, transposeB } = attrs;
  const outer = (info: TensorInfo) => info.shape.slice(0, -2).reduce((p, n) => p * n, 1);
  if (a.dtype !== 'float32' || b.dtype !== 'float32' || outer(a) !== 1 || outer(b) !== 1) return stock(args);
  if (!(transposeA || transposeB)) return withPackable(stock, args);
  const [ar, ac] = a.shape.slice(-2);
  const [br, bc] = b.shape.slice(-2);
  const [m, k] = transposeA ? [ac, ar] : [ar, ac];
  const n = transposeB ? br : bc;
  if (m * n * k < MIN_XNN_WORK) return stock(args);
  const [pack, move, dup] = [2.7, 0.5, 0.1];
  const asIs = pack * k * n + (transposeA ? move * k * m : 0) + (transposeB ? move : dup) * k * n;
  const swapped = pack * k * m + (transposeB ? 0 : move * k * n) + (transposeA ? dup : move) * k * m + move * m * n;
  const plain = { ...attrs, transposeA: false, transposeB: false };
  const temps: TensorInfo[] = [];
  const temp = (info: TensorInfo): TensorInfo => (temps.push(info), info);
  try {
    if (asIs <= swapped) {
      const b2 = temp(transposeB ? swapLast(tf, backend, b) : copy(backend, b));
      return stock({ inputs: { a: transposeA ? temp(swapLast(tf, backend, a)) : a, b: b2 }, attrs: plain, backend });
    }
    const a2 = temp(transposeA ? copy(backend, a) : swapLast(tf, backend, a));
    const product = temp(stock({ inputs: { a: transposeB ? b : temp(swapLast(tf, backend, b)), b: a2 }, attrs: plain, backend }));
    return swapLast(tf, backend, product);
  } finally {
    for (const info of temps) backend.disposeData(info.dataId);
  }
}

/**
 * Identity (`tf.clone`) sharing the input's data under a reference count, as wasm's Reshape and the cpu backend's
 * Identity do, where wasm's copies it. tfjs data is immutable (a Variable's `assign` takes a new data id; no wasm
 * kernel writes to an input), so a copy buys nothing, and the engine clones every tensor a recorded op saves for its
 * gradient: 0.5 ms of copies per step of the seed convnet. Strings keep the stock kernel.
 */
function identity(stock: KernelFn, args: KernelArgs): TensorInfo {
  const { inputs: { x }, backend } = args;
  if (x.dtype === 'string') return stock(args);
  backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}

/**
 * Sum over axes that are not the innermost: wasm transposes them last (kept axes in order, then the reduced ones in
 * the order given) and sums each contiguous run. Its transpose only drops size-1 axes, so NHWC [b, h, w, c] summed
 * over [0, 1, 2] (every bias gradient of a convolution) takes its 4-D loop. Merging the axes that stay adjacent
 * under the permutation gives the same layout from a 2-D transpose ([b·h·w, c] → [c, b·h·w]), and the stock kernel
 * then sums the same values in the same order: bit-identical, ~2× faster there.
 */
function sum(tf: Tf, stock: KernelFn, args: KernelArgs): TensorInfo {
  const { inputs: { x }, backend } = args;
  const { axis, keepDims } = args.attrs as { axis: number | number[]; keepDims: boolean };
  const axes = tf.util.parseAxisParam(axis, x.shape);
  const perm = tf.backend_util.getAxesPermutation(axes, x.shape.length);
  if (!perm || tf.util.sizeFromShape(x.shape) === 0) return stock(args);
  const { shape, order } = mergeAxes(x.shape, perm);
  if (shape.length === x.shape.length) return stock(args);
  const reduced = axes.reduce((p, a) => p * x.shape[a], 1);
  const outShape = x.shape.filter((_, i) => !axes.includes(i));
  const size = outShape.reduce((p, n) => p * n, 1);
  const inOrder = order.every((p, i) => p === i);
  const moved = inOrder ? undefined : wasmKernel(tf, 'Transpose', backend, { x: view(x, shape) }, { perm: order });
  try {
    const out = stock({ inputs: { x: view(moved ?? x, [size, reduced]) }, attrs: { axis: [1], keepDims: false }, backend });
    return { ...out, shape: keepDims ? tf.backend_util.expandShapeToKeepDim(outShape, axes) : outShape };
  } finally {
    if (moved) backend.disposeData(moved.dataId);
  }
}

/**
 * The same transpose on fewer axes: size-1 axes dropped, and axes that are adjacent and in order both before and
 * after the permutation merged into one. The output's element order is unchanged.
 */
function mergeAxes(shape: number[], perm: number[]): { shape: number[]; order: number[] } {
  const kept = shape.map((_, i) => i).filter((i) => shape[i] !== 1);
  const rank = new Map(kept.map((a, i) => [a, i]));
  const groups: number[][] = [];
  for (const p of perm) {
    if (shape[p] === 1) continue;
    const q = rank.get(p)!;
    const last = groups[groups.length - 1];
    if (last && last[last.length - 1] + 1 === q) last.push(q);
    else groups.push([q]);
  }
  const inInput = [...groups].sort((g, h) => g[0] - h[0]);
  return {
    shape: inInput.map((g) => g.reduce((p, q) => p * shape[kept[q]], 1)),
    order: groups.map((g) => inInput.indexOf(g)),
  };
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
