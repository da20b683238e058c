import { analyze } from '../index';
import { decodeCheckpoint, encodeCheckpoint, planFingerprint, type Checkpoint } from './checkpoint';
import { planTraining } from './plan';

const checkpoint: Checkpoint = {
  fingerprint: 'abc',
  modelName: 'M',
  epoch: 2,
  seed: 9,
  history: [{ epoch: 1, loss: 0.5, epoch_seconds: 1, samples_per_second: 10, learning_rate: 0.01, accuracy: 0.75 }],
  weights: [
    { name: 'dense_1/kernel', shape: [2, 3], data: Float32Array.from([1, -2, 3.5, 1e-30, NaN, Infinity]) },
    { name: 'dense_1/bias', shape: [3], data: Float32Array.from([0, 0.1, -0.1]) },
  ],
  optimizer: { type: 'Adam', iterations: 12, slots: [{ name: 'dense_1/kernel/m', shape: [], data: Float32Array.from([7]) }] },
};

describe('checkpoints', () => {
  it('round-trip every value bit for bit', () => {
    const bytes = encodeCheckpoint(checkpoint);
    expect(Array.from(bytes.subarray(0, 4))).toEqual([0x4e, 0x44, 0x43, 0x4b]);
    expect(decodeCheckpoint(bytes)).toEqual(checkpoint);
    // A view into a larger buffer decodes the same.
    const padded = new Uint8Array(bytes.length + 3);
    padded.set(bytes, 3);
    expect(decodeCheckpoint(padded.subarray(3))).toEqual(checkpoint);
  });

  it('reject other format versions and trailing bytes', () => {
    const bytes = encodeCheckpoint(checkpoint);
    const v2 = bytes.slice();
    new DataView(v2.buffer).setUint32(4, 2, true);
    expect(() => decodeCheckpoint(v2)).toThrow('Unsupported checkpoint format version 2 (this engine reads 1)');
    const longer = new Uint8Array(bytes.length + 4);
    longer.set(bytes);
    expect(() => decodeCheckpoint(longer)).toThrow('Corrupt checkpoint (trailing bytes)');
  });

  it('fingerprint the model and plan, but not source positions or the epoch count', () => {
    const src = 'network N { input: (4,) layers: Dense(8, "relu") Output(2) }';
    const fp = (s: string, change: object = {}) => {
      const { checked } = analyze(s);
      return planFingerprint(checked, { ...planTraining(checked, 'tfjs'), ...change });
    };
    expect(fp(src)).toMatch(/^[0-9a-f]{16}$/);
    expect(fp(src.replace(/ /g, '\n   '))).toBe(fp(src));
    expect(fp(src, { epochs: 50 })).toBe(fp(src));
    expect(fp(src, { batchSize: 7 })).not.toBe(fp(src));
    expect(fp(src.replace('Dense(8', 'Dense(9'))).not.toBe(fp(src));
  });
});
