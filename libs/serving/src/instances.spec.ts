import { decodeInstances, decodeRawInstances, formatPredictions } from './instances';
import { InstancesError } from './serving.errors';

const MNIST = [28, 28, 1];

/** An instance of `shape` whose values are their flat index plus `offset`. */
function nested(shape: number[], offset = 0): unknown {
  let i = offset;
  const build = (d: number): unknown => (d === shape.length ? i++ : Array.from({ length: shape[d] }, () => build(d + 1)));
  return build(0);
}

const base64 = (values: number[]) => Buffer.from(Float32Array.from(values).buffer).toString('base64');

function errorOf(fn: () => unknown): InstancesError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(InstancesError);
    return err as InstancesError;
  }
  throw new Error('expected an InstancesError');
}

describe('decodeInstances', () => {
  it('copies nested arrays row-major, channels-last, for every rank', () => {
    const { data, batch } = decodeInstances([nested(MNIST, 0), nested(MNIST, 784)], MNIST, 256);
    expect(batch).toBe(2);
    expect(data).toEqual(Float32Array.from({ length: 1568 }, (_, i) => i));
    expect(decodeInstances([[1, 2, 3, 4], [5, 6, 7, 8.5]], [4], 256)).toEqual({ data: Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8.5]), batch: 2 });
    expect(decodeInstances([nested([3, 2]), nested([3, 2], 6)], [3, 2], 8).data).toEqual(Float32Array.from({ length: 12 }, (_, i) => i));
    expect(decodeInstances([nested([2, 2, 2, 3])], [2, 2, 2, 3], 8).data).toEqual(Float32Array.from({ length: 24 }, (_, i) => i));
    expect(decodeInstances([1.5, -2], [], 8)).toEqual({ data: Float32Array.from([1.5, -2]), batch: 2 });
  });

  it('decodes base64 float32 per instance, mixed with nested arrays, and as one string for the whole batch', () => {
    const a = Array.from({ length: 784 }, (_, i) => i / 7);
    const b = Array.from({ length: 784 }, (_, i) => -i);
    const expected = Float32Array.from([...a, ...b]);
    expect(decodeInstances([base64(a), base64(b)], MNIST, 256)).toEqual({ data: expected, batch: 2 });
    expect(decodeInstances([base64(a), nested(MNIST, 0)], MNIST, 256).data.subarray(784)).toEqual(Float32Array.from({ length: 784 }, (_, i) => i));
    expect(decodeInstances(base64([...a, ...b]), MNIST, 256)).toEqual({ data: expected, batch: 2 });
    // Multi-MB strings too (a regex check overflows V8's stack there).
    expect(decodeInstances(Buffer.alloc(784 * 4 * 2560).toString('base64'), MNIST, 4096).batch).toBe(2560);
    // Unpadded base64 too: 3 floats = 12 bytes = 16 chars (no padding needed), 1 float = 4 bytes = 6 chars + "==".
    expect(decodeInstances([base64([0.25]).replace(/=+$/, '')], [1], 4).data).toEqual(Float32Array.from([0.25]));
  });

  it.each([
    ['a wrong inner size', [nested(MNIST), nested(MNIST), nested(MNIST), nested([28, 27])], 'instances[3]', 'instances[3] has shape [28, 27] but the model takes [28, 28, 1]'],
    ['a wrong outer size', [nested([27, 28, 1])], 'instances[0]', 'instances[0] has shape [27, 28, 1] but the model takes [28, 28, 1]'],
    ['a missing channel axis', [nested([28, 28])], 'instances[0]', 'instances[0] has shape [28, 28] but the model takes [28, 28, 1]'],
    ['a flat vector for an image', [nested([784])], 'instances[0]', 'instances[0] has shape [784] but the model takes [28, 28, 1]'],
    ['a number for a vector', [5], 'instances[0]', 'instances[0] is a single number but the model takes [28, 28, 1]'],
    ['an object', [{ pixels: [] }], 'instances[0]', 'instances[0] is an object but the model takes [28, 28, 1]'],
  ])('names both shapes for %s', (_, instances, field, message) => {
    const err = errorOf(() => decodeInstances(instances, MNIST, 256));
    expect(err.errors).toEqual([{ field, message }]);
    expect(err.message).toBe(message);
  });

  it('points at a ragged sub-array and at values that are not finite numbers', () => {
    const ragged = nested(MNIST) as number[][][];
    ragged[5] = ragged[5].slice(0, 27);
    expect(errorOf(() => decodeInstances([ragged], MNIST, 256)).message).toBe('instances[0][5] has 27 entries where 28 are expected; the model takes [28, 28, 1] per instance');
    const deep = nested([2, 3, 2]) as unknown[][][];
    deep[1][2] = 7 as unknown as unknown[];
    expect(errorOf(() => decodeInstances([deep], [2, 3, 2], 4)).message).toBe('instances[0][1][2] is a number where an array of 2 is expected; the model takes [2, 3, 2] per instance');

    for (const bad of [null, '0.5', Infinity, NaN, true, [0]]) {
      const image = nested(MNIST) as unknown[][][];
      image[2][5][0] = bad;
      expect(errorOf(() => decodeInstances([image], MNIST, 256)).errors).toEqual([{ field: 'instances[0][2][5][0]', message: 'instances[0][2][5][0] is not a finite number' }]);
    }
    expect(errorOf(() => decodeInstances([[1, 2, 3, null]], [4], 8)).message).toBe('instances[0][3] is not a finite number');
    expect(errorOf(() => decodeInstances([[[1, 2], [3, 'x']]], [2, 2], 8)).message).toBe('instances[0][1][1] is not a finite number');
  });

  it('reports every bad instance, up to 20', () => {
    const err = errorOf(() => decodeInstances([[1, 2], [1, 2, 3], [1, null], [3, 4]], [2], 8));
    expect(err.errors.map((e) => e.field)).toEqual(['instances[1]', 'instances[2][1]']);
    expect(err.message).toBe('instances[1] has shape [3] but the model takes [2] (and 1 more)');
    const many = errorOf(() => decodeInstances(Array.from({ length: 30 }, () => [1]), [2], 64));
    expect(many.errors).toHaveLength(21);
    expect(many.errors[20]).toEqual({ field: 'instances', message: '10 more instances have problems' });
  });

  it.each([
    ['an empty batch', [], 256, 'instances is empty; send at least one instance'],
    ['too many instances', Array.from({ length: 257 }, () => [1, 2]), 256, 'at most 256 instances per request (got 257); split the batch'],
    ['an empty base64 batch', '', 256, 'instances is empty; send at least one instance'],
    ['too many base64 instances', base64(Array(6).fill(1)), 2, 'at most 2 instances per request (got 3); split the batch'],
    ['neither array nor string', { a: 1 }, 256, 'instances must be an array of instances (each of shape [2]) or a base64 string of float32 values'],
    ['bad base64 for the batch', 'not*base64', 256, 'instances is a string but not valid base64 (standard alphabet A-Z a-z 0-9 + /)'],
    ['a batch with a space inside', 'AAAAA AAAAA=', 256, 'instances is a string but not valid base64 (standard alphabet A-Z a-z 0-9 + /)'],
    ['a batch with padding inside', 'AAAA=AAAAAA=', 256, 'instances is a string but not valid base64 (standard alphabet A-Z a-z 0-9 + /)'],
    ['a batch in the URL-safe alphabet', 'AAAAAAAAA-_=', 256, 'instances is a string but not valid base64 (standard alphabet A-Z a-z 0-9 + /)'],
    ['a batch with a character beyond ASCII', 'AAAAAAAAAAé=', 256, 'instances is a string but not valid base64 (standard alphabet A-Z a-z 0-9 + /)'],
    ['a partial instance in the batch', base64([1, 2, 3]), 256, 'instances decodes to 12 bytes, which is not a whole number of instances: the model takes [2] = 2 float32 values (8 bytes) per instance'],
    ['bad base64 for an instance', ['AAAAAAAAAAA=', 'AAAA$AAA'], 256, 'instances[1] is a string but not valid base64 (standard alphabet A-Z a-z 0-9 + /)'],
    ['a wrong byte length for an instance', [base64([1, 2, 3])], 256, 'instances[0] decodes to 12 bytes but the model takes [2] = 2 float32 values (8 bytes)'],
  ])('refuses %s', (_, instances, maxBatch, message) => {
    expect(errorOf(() => decodeInstances(instances, [2], maxBatch)).message).toBe(message);
  });

  // Its speed is measured by npm run bench:serve (batch 64, nested JSON), not asserted here.
  it('decodes an MNIST batch of 64 nested arrays from a parsed JSON body', () => {
    const body = JSON.parse(JSON.stringify({ instances: Array.from({ length: 64 }, (_, n) => nested(MNIST, n * 784)) }));
    const { data, batch } = decodeInstances(body.instances, MNIST, 256);
    expect(batch).toBe(64);
    expect(data).toEqual(Float32Array.from({ length: 64 * 784 }, (_, i) => i));
  });
});

describe('formatPredictions', () => {
  it('splits per instance and adds softmax classes', () => {
    const out = formatPredictions(Float32Array.from([0.1, 0.7, 0.2, 0.5, 0.2, 0.3]), [2, 3], 'softmax');
    expect(out.classes).toEqual([1, 0]);
    expect(out.predictions).toEqual([
      [Math.fround(0.1), Math.fround(0.7), Math.fround(0.2)],
      [0.5, Math.fround(0.2), Math.fround(0.3)],
    ]);
    expect(typeof (out.predictions[0] as number[])[0]).toBe('number');
  });

  it('thresholds a single sigmoid unit at 0.5 and leaves wider sigmoid outputs alone', () => {
    expect(formatPredictions(Float32Array.from([0.2, 0.5, 0.9]), [3, 1], 'sigmoid')).toEqual({ predictions: [[Math.fround(0.2)], [0.5], [Math.fround(0.9)]], classes: [0, 1, 1] });
    expect(formatPredictions(Float32Array.from([0.2, 0.9]), [1, 2], 'sigmoid')).toEqual({ predictions: [[Math.fround(0.2), Math.fround(0.9)]] });
  });

  it('keeps raw and multi-axis outputs as nested arrays without classes', () => {
    expect(formatPredictions(Float32Array.from([1, 2, 3, 4]), [2, 2], 'raw')).toEqual({ predictions: [[1, 2], [3, 4]] });
    const seq = formatPredictions(Float32Array.from({ length: 12 }, (_, i) => i), [2, 3, 2], 'softmax');
    expect(seq).toEqual({ predictions: [[[0, 1], [2, 3], [4, 5]], [[6, 7], [8, 9], [10, 11]]] });
    expect(formatPredictions(Float32Array.from([3, 4]), [2], 'raw')).toEqual({ predictions: [3, 4] });
    expect(() => formatPredictions(new Float32Array(5), [2, 3], 'raw')).toThrow('output has 5 values but dims [2, 3] need 6');
  });
});

describe('decodeRawInstances', () => {
  it('reads a raw little-endian float32 batch, also from an unaligned buffer', () => {
    const values = [1.5, -2, 3.25, 4, 5, 6];
    const unaligned = Buffer.alloc(1 + values.length * 4).subarray(1);
    Buffer.from(new Float32Array(values).buffer).copy(unaligned);
    expect(decodeRawInstances(unaligned, [2], 256)).toEqual({ data: new Float32Array(values), batch: 3 });
  });

  it('refuses an empty body, a partial instance and too many instances', () => {
    expect(() => decodeRawInstances(Buffer.alloc(0), [2], 256)).toThrow('instances is empty; send at least one instance');
    expect(() => decodeRawInstances(Buffer.alloc(12), [2], 256)).toThrow('the body is 12 bytes, which is not a whole number of instances: the model takes [2] = 2 float32 values (8 bytes) per instance');
    expect(() => decodeRawInstances(Buffer.alloc(24), [2], 2)).toThrow('at most 2 instances per request (got 3); split the batch');
  });
});
