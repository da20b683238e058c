/** Sample indices of a train/test split, each list in the original order. */
export interface SplitIndices {
  train: number[];
  test: number[];
}

/**
 * A deterministic train/test split. The test part has `ceil(count × testFraction)` samples (as scikit-learn's
 * `train_test_split`); with `classes` it is stratified, each class contributing in proportion to its size
 * (largest remainder), and within a class (or the whole set) the test samples are spread evenly: with quota t of a
 * group of n, position j is a test sample when floor((j + 1)·t / n) > floor(j·t / n). Evenly spread rather than the
 * last rows, because uploads are often sorted (by class, by time) and the tail would not be representative.
 */
export function splitIndices(count: number, testFraction: number, classes?: ArrayLike<number>): SplitIndices {
  // The epsilon keeps 150 × 0.2 = 30.000000000000004 from rounding up to 31.
  const testCount = testFraction > 0 ? Math.min(count, Math.ceil(count * testFraction - 1e-9)) : 0;
  if (testCount === 0) return { train: Array.from({ length: count }, (_, i) => i), test: [] };

  const groups = new Map<number, number[]>();
  for (let i = 0; i < count; i++) {
    const key = classes ? classes[i] : 0;
    let group = groups.get(key);
    if (!group) groups.set(key, (group = []));
    group.push(i);
  }
  const keys = [...groups.keys()].sort((a, b) => a - b);
  const quotas = new Map<number, number>();
  const remainders: { key: number; rest: number }[] = [];
  let given = 0;
  for (const key of keys) {
    const exact = (testCount * groups.get(key)!.length) / count;
    quotas.set(key, Math.floor(exact));
    given += Math.floor(exact);
    remainders.push({ key, rest: exact - Math.floor(exact) });
  }
  remainders.sort((a, b) => b.rest - a.rest || a.key - b.key);
  for (let i = 0; given < testCount; i++, given++) {
    const key = remainders[i].key;
    quotas.set(key, quotas.get(key)! + 1);
  }

  const isTest = new Uint8Array(count);
  for (const key of keys) {
    const group = groups.get(key)!;
    const quota = quotas.get(key)!;
    for (let j = 0; j < group.length; j++) {
      if (Math.floor(((j + 1) * quota) / group.length) > Math.floor((j * quota) / group.length)) isTest[group[j]] = 1;
    }
  }
  const split: SplitIndices = { train: [], test: [] };
  for (let i = 0; i < count; i++) (isTest[i] ? split.test : split.train).push(i);
  return split;
}
