/**
 * Checkpoint bytes: everything needed to continue a run after an epoch. Layout: `NDCK`, a uint32 format version, a
 * uint32 header length, the UTF-8 JSON header, zero padding to a multiple of 4, then every tensor's float32 values
 * (little-endian) in header order: model weights first, then the optimizer's slots.
 */
import type { CheckedModel } from '../checked';
import type { EpochRow, TrainingPlan } from './types';

export interface StoredTensor {
  name: string;
  shape: number[];
  data: Float32Array;
}

export interface Checkpoint {
  /** `planFingerprint` of the model and plan that wrote it. */
  fingerprint: string;
  modelName: string;
  /** Epochs completed. */
  epoch: number;
  seed: number | null;
  history: EpochRow[];
  /** Every model weight, trainable and not (BatchNormalization moving statistics), in `model.weights` order. */
  weights: StoredTensor[];
  optimizer: { type: string; iterations: number; slots: StoredTensor[] };
}

const MAGIC = [0x4e, 0x44, 0x43, 0x4b];
const VERSION = 1;
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

interface Header {
  fingerprint: string;
  modelName: string;
  epoch: number;
  seed: number | null;
  history: EpochRow[];
  weights: { name: string; shape: number[] }[];
  optimizer: { type: string; iterations: number; slots: { name: string; shape: number[] }[] };
}

export function encodeCheckpoint(c: Checkpoint): Uint8Array {
  const meta = (t: StoredTensor) => ({ name: t.name, shape: t.shape });
  const header: Header = {
    fingerprint: c.fingerprint,
    modelName: c.modelName,
    epoch: c.epoch,
    seed: c.seed,
    history: c.history,
    weights: c.weights.map(meta),
    optimizer: { type: c.optimizer.type, iterations: c.optimizer.iterations, slots: c.optimizer.slots.map(meta) },
  };
  const json = new TextEncoder().encode(JSON.stringify(header));
  const start = align(12 + json.length);
  const tensors = [...c.weights, ...c.optimizer.slots];
  const total = start + 4 * tensors.reduce((n, t) => n + t.data.length, 0);
  const bytes = new Uint8Array(total);
  const view = new DataView(bytes.buffer);
  bytes.set(MAGIC, 0);
  view.setUint32(4, VERSION, true);
  view.setUint32(8, json.length, true);
  bytes.set(json, 12);
  let offset = start;
  for (const t of tensors) {
    if (t.data.length !== size(t.shape)) throw new Error(`internal: tensor ${t.name} has ${t.data.length} values for shape [${t.shape}]`);
    writeFloats(bytes, offset, t.data);
    offset += 4 * t.data.length;
  }
  return bytes;
}

/** Parses checkpoint bytes; throws an Error naming the problem for anything that is not a complete checkpoint. */
export function decodeCheckpoint(bytes: Uint8Array): Checkpoint {
  if (bytes.length < 12 || MAGIC.some((b, i) => bytes[i] !== b)) throw new Error('Not a training checkpoint (bad magic bytes)');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint32(4, true);
  if (version !== VERSION) throw new Error(`Unsupported checkpoint format version ${version} (this engine reads ${VERSION})`);
  const length = view.getUint32(8, true);
  if (12 + length > bytes.length) throw new Error('Truncated checkpoint (header)');
  let header: Header;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(12, 12 + length))) as Header;
  } catch {
    throw new Error('Corrupt checkpoint header');
  }
  let offset = align(12 + length);
  const read = (m: { name: string; shape: number[] }): StoredTensor => {
    const n = size(m.shape);
    if (offset + 4 * n > bytes.length) throw new Error(`Truncated checkpoint (tensor ${m.name})`);
    const data = readFloats(bytes, offset, n);
    offset += 4 * n;
    return { name: m.name, shape: m.shape, data };
  };
  const weights = header.weights.map(read);
  const slots = header.optimizer.slots.map(read);
  if (offset !== bytes.length) throw new Error('Corrupt checkpoint (trailing bytes)');
  return { ...header, weights, optimizer: { ...header.optimizer, slots } };
}

/**
 * Identifies a model and the plan settings a checkpoint depends on (all but the epoch count, which a resumed run
 * may extend, the warnings and the hyperparameter record). Source positions are left out, so reformatting the
 * source keeps checkpoints usable.
 */
export function planFingerprint(checked: CheckedModel, plan: TrainingPlan): string {
  const m = checked.model;
  const { epochs: _epochs, warnings: _warnings, hyperparameters: _hp, ...settings } = plan;
  const text = JSON.stringify({ name: m.name, inputs: m.inputs, layers: m.layers, settings }, (key, value) => (key === 'loc' ? undefined : value));
  return hash(text, 0x811c9dc5) + hash(text, 0x01000193);
}

function hash(text: string, seed: number): string {
  let h = seed >>> 0;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h.toString(16).padStart(8, '0');
}

function align(n: number): number {
  return Math.ceil(n / 4) * 4;
}

function size(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function writeFloats(bytes: Uint8Array, offset: number, data: Float32Array): void {
  if (LITTLE_ENDIAN) {
    bytes.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), offset);
    return;
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset);
  for (let i = 0; i < data.length; i++) view.setFloat32(offset + 4 * i, data[i], true);
}

function readFloats(bytes: Uint8Array, offset: number, n: number): Float32Array {
  const out = new Float32Array(n);
  if (LITTLE_ENDIAN) {
    new Uint8Array(out.buffer).set(bytes.subarray(offset, offset + 4 * n));
    return out;
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset);
  for (let i = 0; i < n; i++) out[i] = view.getFloat32(offset + 4 * i, true);
  return out;
}
