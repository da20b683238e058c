import { splitIndices } from './split';

describe('splitIndices', () => {
  it('keeps everything for training when the test fraction is 0', () => {
    expect(splitIndices(4, 0)).toEqual({ train: [0, 1, 2, 3], test: [] });
  });

  it('takes ceil(count × fraction) test samples, evenly spread rather than from the end', () => {
    expect(splitIndices(10, 0.2)).toEqual({ train: [0, 1, 2, 3, 5, 6, 7, 8], test: [4, 9] });
    expect(splitIndices(150, 0.2).test).toHaveLength(30);
    expect(splitIndices(7, 0.1).test).toEqual([6]);
  });

  it('stratifies by class in proportion to class sizes, whatever the order of the samples', () => {
    const classes = Int32Array.from({ length: 100 }, (_, i) => (i < 70 ? 1 : 0));
    const { train, test } = splitIndices(100, 0.2, classes);
    expect(test.filter((i) => classes[i] === 1)).toHaveLength(14);
    expect(test.filter((i) => classes[i] === 0)).toHaveLength(6);
    expect(train).toHaveLength(80);
    expect([...train, ...test].sort((a, b) => a - b)).toEqual(Array.from({ length: 100 }, (_, i) => i));
  });

  it('hands rounding leftovers to the classes with the largest remainders', () => {
    const classes = [0, 0, 0, 1, 1, 1, 2, 2, 2, 2];
    const { test } = splitIndices(10, 0.25, classes);
    expect(test).toHaveLength(3);
    expect(test.map((i) => classes[i]).sort()).toEqual([0, 1, 2]);
  });

  it('is deterministic', () => {
    const classes = Array.from({ length: 57 }, (_, i) => (i * 7) % 3);
    expect(splitIndices(57, 0.3, classes)).toEqual(splitIndices(57, 0.3, classes));
  });
});
