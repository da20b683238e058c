import { endianness } from 'node:os';
import { InstancesError } from './serving.errors';

/** Problems reported at most per request; the rest only counted in the message. */
const MAX_ERRORS = 20;
const BASE64_CHARS = new Uint8Array(128);
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/') BASE64_CHARS[c.charCodeAt(0)] = 1;
const LITTLE_ENDIAN = endianness() === 'LE';
// Bound once: global lookups are slow inside vm contexts (jest), and these run once per element.
const isArray = Array.isArray;
const isFinite = Number.isFinite as (value: unknown) => value is number;

/**
 * Turns a request's `instances` into one float32 batch, row-major and channels-last like the model's input.
 * Accepts (a) an array of nested arrays of finite numbers, each exactly `inputShape`; (b) an array of base64 strings,
 * each `prod(inputShape)` little-endian float32 values; (c) one base64 string holding the whole batch. The two forms
 * of (a) and (b) may be mixed. `inputShape` excludes the batch dimension.
 * Throws InstancesError with one `{field, message}` per problem (wrong shape, non-finite value, empty batch, more
 * than `maxBatch` instances, bad base64, wrong byte length); messages name both the received and the expected shape.
 */
export function decodeInstances(instances: unknown, inputShape: number[], maxBatch: number): { data: Float32Array; batch: number } {
  const size = inputShape.reduce((a, b) => a * b, 1);
  const shapeText = formatShape(inputShape);
  if (typeof instances === 'string') return decodeWholeBatch(instances, inputShape, size, maxBatch);
  if (!isArray(instances)) {
    throw new InstancesError([{ field: 'instances', message: `instances must be an array of instances (each of shape ${shapeText}) or a base64 string of float32 values` }]);
  }
  checkBatch(instances.length, maxBatch);
  const data = new Float32Array(instances.length * size);
  const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const walker = new Walker(inputShape, data);
  const errors: Array<{ field: string; message: string }> = [];
  let problems = 0;
  for (let i = 0; i < instances.length; i++) {
    const item: unknown = instances[i];
    const problem = typeof item === 'string' ? decodeBase64Instance(item, i, size, shapeText, bytes) : walker.copy(item, i);
    if (problem !== null) {
      problems++;
      if (errors.length < MAX_ERRORS) errors.push(problem);
    }
  }
  if (problems > 0) {
    if (problems > errors.length) errors.push({ field: 'instances', message: `${problems - errors.length} more instances have problems` });
    throw new InstancesError(errors);
  }
  return { data, batch: instances.length };
}

/**
 * A request body of raw little-endian float32 values (`application/octet-stream`): the whole batch, row-major and
 * channels-last like the model's input. Throws InstancesError for an empty body, a partial instance or too many.
 */
export function decodeRawInstances(bytes: Uint8Array, inputShape: number[], maxBatch: number): { data: Float32Array; batch: number } {
  const size = inputShape.reduce((a, b) => a * b, 1);
  const perInstance = size * 4;
  if (bytes.byteLength % perInstance !== 0) {
    throw new InstancesError([
      {
        field: '(body)',
        message: `the body is ${bytes.byteLength} bytes, which is not a whole number of instances: the model takes ${formatShape(inputShape)} = ${size} float32 values (${perInstance} bytes) per instance`,
      },
    ]);
  }
  const batch = bytes.byteLength / perInstance;
  checkBatch(batch, maxBatch);
  const data = new Float32Array(batch * size);
  // Copied: a parsed body is rarely 4-byte aligned.
  new Uint8Array(data.buffer).set(bytes);
  if (!LITTLE_ENDIAN) swapBytes(data);
  return { data, batch };
}

function checkBatch(batch: number, maxBatch: number): void {
  if (batch === 0) throw new InstancesError([{ field: 'instances', message: 'instances is empty; send at least one instance' }]);
  if (batch > maxBatch) throw new InstancesError([{ field: 'instances', message: `at most ${maxBatch} instances per request (got ${batch}); split the batch` }]);
}

function decodeWholeBatch(text: string, inputShape: number[], size: number, maxBatch: number): { data: Float32Array; batch: number } {
  const invalid = () => new InstancesError([{ field: 'instances', message: 'instances is a string but not valid base64 (standard alphabet A-Z a-z 0-9 + /)' }]);
  if (!plausibleBase64(text)) throw invalid();
  const byteLength = base64Length(text);
  const perInstance = size * 4;
  if (byteLength % perInstance !== 0) {
    if (!isBase64(text)) throw invalid();
    throw new InstancesError([
      {
        field: 'instances',
        message: `instances decodes to ${byteLength} bytes, which is not a whole number of instances: the model takes ${formatShape(inputShape)} = ${size} float32 values (${perInstance} bytes) per instance`,
      },
    ]);
  }
  const batch = byteLength / perInstance;
  checkBatch(batch, maxBatch);
  const data = new Float32Array(batch * size);
  if (!writeBase64(text, Buffer.from(data.buffer), 0, byteLength)) throw invalid();
  if (!LITTLE_ENDIAN) swapBytes(data);
  return { data, batch };
}

function decodeBase64Instance(text: string, index: number, size: number, shapeText: string, out: Buffer): { field: string; message: string } | null {
  const field = `instances[${index}]`;
  const invalid = { field, message: `${field} is a string but not valid base64 (standard alphabet A-Z a-z 0-9 + /)` };
  if (!plausibleBase64(text)) return invalid;
  const byteLength = base64Length(text);
  if (byteLength !== size * 4) {
    if (!isBase64(text)) return invalid;
    return { field, message: `${field} decodes to ${byteLength} bytes but the model takes ${shapeText} = ${size} float32 values (${size * 4} bytes)` };
  }
  const offset = index * size * 4;
  if (!writeBase64(text, out, offset, byteLength)) return invalid;
  if (!LITTLE_ENDIAN) swapBytes(new Float32Array(out.buffer, out.byteOffset + offset, size));
  return null;
}

/**
 * Decodes into `out` and tells whether `text` was valid base64: Node's decoder skips characters outside the alphabet
 * (and stops at a `=` inside), so anything invalid yields fewer bytes than the length implies. Node also takes the
 * URL-safe alphabet, refused here. About 20 times faster than checking each character first.
 */
function writeBase64(text: string, out: Buffer, offset: number, byteLength: number): boolean {
  if (text.indexOf('-') !== -1 || text.indexOf('_') !== -1) return false;
  return out.write(text, offset, byteLength, 'base64') === byteLength && base64Length(text) === byteLength;
}

/** Cheap length checks that must hold before decoding (a length of 4n + 1 is never base64). */
function plausibleBase64(text: string): boolean {
  let end = text.length;
  if (end % 4 === 0 && text.endsWith('==')) end -= 2;
  else if (end % 4 === 0 && text.endsWith('=')) end -= 1;
  return end % 4 !== 1;
}

/** Standard alphabet, padding optional. A loop, not a regex: V8's regex stack overflows on multi-MB strings. */
function isBase64(text: string): boolean {
  let end = text.length;
  if (end % 4 === 0 && text.endsWith('==')) end -= 2;
  else if (end % 4 === 0 && text.endsWith('=')) end -= 1;
  if (end % 4 === 1) return false;
  for (let i = 0; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c >= 128 || BASE64_CHARS[c] === 0) return false;
  }
  return true;
}

function base64Length(text: string): number {
  const padding = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  return Math.floor(((text.length - padding) * 3) / 4);
}

function swapBytes(values: Float32Array): void {
  const bytes = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  for (let i = 0; i < bytes.length; i += 4) {
    const a = bytes[i];
    const b = bytes[i + 1];
    bytes[i] = bytes[i + 3];
    bytes[i + 1] = bytes[i + 2];
    bytes[i + 2] = b;
    bytes[i + 3] = a;
  }
}

/**
 * Copies nested arrays into the batch with an explicit stack, allocating nothing per element: the request path decodes
 * ~50k numbers per MNIST batch of 64.
 */
class Walker {
  private readonly rank: number;
  private readonly size: number;
  private readonly arrays: unknown[][];
  private readonly index: Int32Array;
  private readonly shapeText: string;

  constructor(
    private readonly shape: number[],
    private readonly out: Float32Array,
  ) {
    this.rank = shape.length;
    this.size = shape.reduce((a, b) => a * b, 1);
    this.arrays = new Array(this.rank);
    this.index = new Int32Array(this.rank);
    this.shapeText = formatShape(shape);
  }

  /** Copies instance `n` to its slot; returns the first problem found in it, or null. */
  copy(instance: unknown, n: number): { field: string; message: string } | null {
    // Images (rank 3) and sequences (rank 2) take loops without the stack; any problem is then located by the walk.
    if (this.rank === 3 && copyRank3(instance, this.shape, this.out, n * this.size)) return null;
    if (this.rank === 2 && copyRank2(instance, this.shape, this.out, n * this.size)) return null;
    return this.walk(instance, n);
  }

  private walk(instance: unknown, n: number): { field: string; message: string } | null {
    const { rank, shape, arrays, index, out } = this;
    let pos = n * this.size;
    if (rank === 0) {
      if (!isFinite(instance)) return this.notFinite(n, 0);
      out[pos] = instance;
      return null;
    }
    if (!isArray(instance) || instance.length !== shape[0]) return this.wrongShape(instance, n, 0);
    const last = rank - 1;
    const width = shape[last];
    arrays[0] = instance;
    index[0] = 0;
    let depth = 0;
    for (;;) {
      if (depth === last) {
        const row = arrays[last];
        for (let j = 0; j < width; j++) {
          const v = row[j];
          if (!isFinite(v)) {
            index[last] = j;
            return this.notFinite(n, rank);
          }
          out[pos++] = v;
        }
        // Climb to the deepest level with a sibling left.
        do depth--;
        while (depth >= 0 && ++index[depth] >= shape[depth]);
        if (depth < 0) return null;
      }
      const child = arrays[depth][index[depth]];
      if (!isArray(child) || child.length !== shape[depth + 1]) return this.wrongShape(instance, n, depth + 1);
      depth++;
      arrays[depth] = child;
      index[depth] = 0;
    }
  }

  private path(n: number, depth: number): string {
    let p = `instances[${n}]`;
    for (let d = 0; d < depth; d++) p += `[${this.index[d]}]`;
    return p;
  }

  private notFinite(n: number, depth: number): { field: string; message: string } {
    const field = this.path(n, depth);
    return { field, message: `${field} is not a finite number` };
  }

  /** `depth` is the level whose array had the wrong length (0: the instance itself). */
  private wrongShape(instance: unknown, n: number, depth: number): { field: string; message: string } {
    const field = `instances[${n}]`;
    const probed = probeShape(instance);
    const probedDiffers = probed.length !== this.rank || probed.some((d, i) => d !== this.shape[i]);
    if (depth === 0 || probedDiffers) {
      const got = probed.length === 0 ? (typeof instance === 'number' ? 'is a single number' : `is ${describe(instance)}`) : `has shape ${formatShape(probed)}`;
      return { field, message: `${field} ${got} but the model takes ${this.shapeText}` };
    }
    // The first elements have the right shape, a later one does not: name the offending sub-array.
    const at = this.path(n, depth);
    const child = this.arrays[depth - 1][this.index[depth - 1]];
    const got = isArray(child) ? `has ${child.length} entries where ${this.shape[depth]} are expected` : `is ${describe(child)} where an array of ${this.shape[depth]} is expected`;
    return { field: at, message: `${at} ${got}; the model takes ${this.shapeText} per instance` };
  }
}

function copyRank3(instance: unknown, shape: number[], out: Float32Array, pos: number): boolean {
  const [h, w, c] = shape;
  if (!isArray(instance) || instance.length !== h) return false;
  for (let i = 0; i < h; i++) {
    const row: unknown = instance[i];
    if (!isArray(row) || row.length !== w) return false;
    for (let j = 0; j < w; j++) {
      const px: unknown = row[j];
      if (!isArray(px) || px.length !== c) return false;
      for (let k = 0; k < c; k++) {
        const v: unknown = px[k];
        if (!isFinite(v)) return false;
        out[pos++] = v;
      }
    }
  }
  return true;
}

function copyRank2(instance: unknown, shape: number[], out: Float32Array, pos: number): boolean {
  const [h, w] = shape;
  if (!isArray(instance) || instance.length !== h) return false;
  for (let i = 0; i < h; i++) {
    const row: unknown = instance[i];
    if (!isArray(row) || row.length !== w) return false;
    for (let j = 0; j < w; j++) {
      const v: unknown = row[j];
      if (!isFinite(v)) return false;
      out[pos++] = v;
    }
  }
  return true;
}

/** The shape implied by following the first element of each level (what a well-formed nested array would have). */
function probeShape(value: unknown): number[] {
  const shape: number[] = [];
  let v = value;
  while (isArray(v)) {
    shape.push(v.length);
    if (v.length === 0) break;
    v = v[0];
  }
  return shape;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'string') return 'a string';
  if (typeof value === 'object') return 'an object';
  return `a ${typeof value}`;
}

function formatShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/**
 * Splits a batch output into per-instance nested arrays of plain numbers (float32 values unrounded).
 * `classes`: for 'softmax', the argmax of each instance when its output is 1-D; for 'sigmoid' with a 1-D output of
 * length 1, 1 when p >= 0.5 else 0; omitted otherwise and for 'raw'.
 */
export function formatPredictions(output: Float32Array, dims: number[], kind: 'softmax' | 'sigmoid' | 'raw'): { predictions: unknown[]; classes?: number[] } {
  const batch = dims[0] ?? 0;
  const inner = dims.slice(1);
  const size = inner.reduce((a, b) => a * b, 1);
  if (output.length !== batch * size) throw new RangeError(`output has ${output.length} values but dims ${formatShape(dims)} need ${batch * size}`);
  const predictions: unknown[] = new Array(batch);
  for (let n = 0; n < batch; n++) predictions[n] = inner.length === 0 ? output[n] : nest(output, n * size, inner, 0);
  if (inner.length !== 1) return { predictions };
  if (kind === 'softmax') {
    const classes = new Array<number>(batch);
    for (let n = 0; n < batch; n++) {
      let best = 0;
      for (let j = 1; j < size; j++) if (output[n * size + j] > output[n * size + best]) best = j;
      classes[n] = best;
    }
    return { predictions, classes };
  }
  if (kind === 'sigmoid' && size === 1) return { predictions, classes: Array.from(output, (p) => (p >= 0.5 ? 1 : 0)) };
  return { predictions };
}

function nest(data: Float32Array, offset: number, shape: number[], depth: number): unknown[] {
  const n = shape[depth];
  const out: unknown[] = new Array(n);
  if (depth === shape.length - 1) {
    for (let i = 0; i < n; i++) out[i] = data[offset + i];
    return out;
  }
  const stride = shape.slice(depth + 1).reduce((a, b) => a * b, 1);
  for (let i = 0; i < n; i++) out[i] = nest(data, offset + i * stride, shape, depth + 1);
  return out;
}
