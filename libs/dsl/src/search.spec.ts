import { compile } from './index';
import { DEFAULT_LIMITS } from './limits';
import { parse } from './parser';
import { mulberry32 } from './random';
import { gridAssignments, sampleAssignment, searchSpace, SearchSpaceError, substituteHpo, sweepPoints, topLevelHpo, type SearchSite } from './search';

const model = (src: string) => parse(src, DEFAULT_LIMITS).model;

// Line numbers matter: the sites below are checked by line and column.
const FULL = [
  'network N {', // 1
  '  input: (4,)', // 2
  '  layers:', // 3
  '    Dense(HPO(choice(HPO(range(8, 16, step=4)), 64)), activation="relu")', // 4
  '    Dropout(HPO(range(0.3, 0.7, step=0.1)))', // 5
  '    Dense(8, activation=HPO(choice("relu", "tanh")))', // 6
  '    Output(2)', // 7
  '  optimizer: Adam(learning_rate=HPO(log_range(1e-4, 1e-2)))', // 8
  '  train {', // 9
  '    epochs: 2', // 10
  '    batch_size: 16, 32', // 11
  '  }', // 12
  '}', // 13
].join('\n');

/** Only discrete sites: 2 × 3 × 2 = 12 grid points. */
const DISCRETE = `network N { input: (4,) layers: Dense(HPO(choice(8, 16))) Dense(HPO(range(1, 3))) Output(2) train { epochs: 2, batch_size: 16, 32 } }`;

const colOf = (line: number, needle: string) => FULL.split('\n')[line - 1].indexOf(needle) + 1;

describe('searchSpace', () => {
  const space = searchSpace(model(FULL));
  const byPath = (p: string) => space.find((s) => s.path === p)!;

  it('lists the top-level sites in source order, nested sites only inside values', () => {
    expect(space.map((s) => s.path)).toEqual(['dense_1.units', 'dropout_1.rate', 'dense_2.activation', 'optimizer.learning_rate', 'training.batch_size']);
    expect(space.map((s) => s.path)).not.toContain('dense_1.units.choice0');
    // topLevelHpo drops the nested one but the model still knows it
    expect(model(FULL).hpo.length).toBe(6);
    expect(topLevelHpo(model(FULL)).length).toBe(5);
  });

  it('describes a choice with a nested range', () => {
    const s = byPath('dense_1.units');
    expect(s.kind).toBe('choice');
    expect(s.values).toHaveLength(2);
    const inner = s.values![0] as SearchSite;
    expect(inner).toMatchObject({ path: 'dense_1.units.choice0', kind: 'range', low: 8, high: 16, step: 4, integer: true, default: 12, line: 4 });
    expect(inner.column).toBe(colOf(4, 'HPO(range'));
    expect(s.values![1]).toBe(64);
    // default through the nested choice: the first choice is the range, whose default is its middle
    expect(s.default).toBe(12);
    expect(s.line).toBe(4);
    expect(s.column).toBe(colOf(4, 'HPO(choice'));
  });

  it('describes ranges, log ranges, string choices and the batch_size list', () => {
    expect(byPath('dropout_1.rate')).toMatchObject({ kind: 'range', low: 0.3, high: 0.7, step: 0.1, integer: false, default: 0.5, line: 5, column: colOf(5, 'HPO(') });
    expect(byPath('dense_2.activation')).toMatchObject({ kind: 'choice', values: ['relu', 'tanh'], default: 'relu', line: 6, column: colOf(6, 'HPO(') });
    const lr = byPath('optimizer.learning_rate');
    expect(lr).toMatchObject({ kind: 'log_range', low: 1e-4, high: 1e-2, line: 8, column: colOf(8, 'HPO(') });
    expect(lr.default).toBeCloseTo(1e-3, 10);
    expect(byPath('training.batch_size')).toMatchObject({ kind: 'choice', values: [16, 32], default: 16, line: 11, column: colOf(11, '16') });
  });

  it('gives a continuous range step null and an integer range integer: true', () => {
    const s = searchSpace(model(`network N { input: (4,) layers: Dense(HPO(range(1, 3))) Dropout(HPO(range(0.2, 0.6))) Output(2) }`));
    expect(s[0]).toMatchObject({ path: 'dense_1.units', kind: 'range', low: 1, high: 3, step: null, integer: true });
    expect(s[1]).toMatchObject({ path: 'dropout_1.rate', kind: 'range', low: 0.2, high: 0.6, step: null, integer: false });
  });

  it('is empty for a model without HPO', () => {
    expect(searchSpace(model(`network N { input: (4,) layers: Dense(8) Output(2) }`))).toEqual([]);
  });

  it('is what compile reports as summary.search_space', () => {
    const r = compile(FULL, { backend: 'tensorflow' });
    expect(r.summary.search_space).toEqual(space);
    expect((r.summary.search_space as SearchSite[]).map((s) => s.path)).toContain('training.batch_size');
  });
});

describe('sampleAssignment', () => {
  const m = model(FULL);

  it('stays inside the space for many draws', () => {
    const uniform = mulberry32(7);
    const seen = { units: new Set<unknown>(), rate: new Set<unknown>(), act: new Set<unknown>(), bs: new Set<unknown>() };
    for (let i = 0; i < 500; i++) {
      const a = sampleAssignment(m, uniform);
      expect(Object.keys(a).sort()).toEqual(['dense_1.units', 'dense_2.activation', 'dropout_1.rate', 'optimizer.learning_rate', 'training.batch_size']);
      expect([8, 12, 16, 64]).toContain(a['dense_1.units']);
      expect(Number.isInteger(a['dense_1.units'])).toBe(true);
      expect([0.3, 0.4, 0.5, 0.6, 0.7]).toContain(a['dropout_1.rate']);
      expect(['relu', 'tanh']).toContain(a['dense_2.activation']);
      expect([16, 32]).toContain(a['training.batch_size']);
      const lr = a['optimizer.learning_rate'] as number;
      expect(typeof lr).toBe('number');
      expect(lr).toBeGreaterThanOrEqual(1e-4);
      expect(lr).toBeLessThanOrEqual(1e-2);
      seen.units.add(a['dense_1.units']);
      seen.rate.add(a['dropout_1.rate']);
      seen.act.add(a['dense_2.activation']);
      seen.bs.add(a['training.batch_size']);
    }
    // every member is reachable, including the ends of the step grid
    expect(seen.units.size).toBe(4);
    expect(seen.rate.size).toBe(5);
    expect(seen.act.size).toBe(2);
    expect(seen.bs.size).toBe(2);
  });

  it('draws log_range log-uniformly (about half below the geometric middle)', () => {
    const uniform = mulberry32(3);
    let below = 0;
    const n = 1000;
    for (let i = 0; i < n; i++) if ((sampleAssignment(m, uniform)['optimizer.learning_rate'] as number) < 1e-3) below++;
    expect(below / n).toBeGreaterThan(0.4);
    expect(below / n).toBeLessThan(0.6);
  });

  it('gives integers for integer ranges without a step and floats within bounds for continuous ranges', () => {
    const mm = model(`network N { input: (4,) layers: Dense(HPO(range(1, 3))) Dropout(HPO(range(0.2, 0.6))) Output(2) }`);
    const uniform = mulberry32(11);
    const units = new Set<unknown>();
    let nonGrid = 0;
    for (let i = 0; i < 300; i++) {
      const a = sampleAssignment(mm, uniform);
      expect(Number.isInteger(a['dense_1.units'])).toBe(true);
      expect(a['dense_1.units']).toBeGreaterThanOrEqual(1);
      expect(a['dense_1.units']).toBeLessThanOrEqual(3);
      units.add(a['dense_1.units']);
      const r = a['dropout_1.rate'] as number;
      expect(r).toBeGreaterThanOrEqual(0.2);
      expect(r).toBeLessThanOrEqual(0.6);
      if (Math.abs(r * 10 - Math.round(r * 10)) > 1e-6) nonGrid++;
    }
    expect([...units].sort()).toEqual([1, 2, 3]);
    expect(nonGrid).toBeGreaterThan(250); // continuous, not on some grid
  });

  it('is deterministic per seed', () => {
    const draw = (seed: number) => {
      const u = mulberry32(seed);
      return Array.from({ length: 20 }, () => sampleAssignment(m, u));
    };
    expect(draw(42)).toEqual(draw(42));
    expect(draw(42)).not.toEqual(draw(43));
  });
});

describe('gridAssignments', () => {
  it('enumerates the cartesian product with the last site varying fastest', () => {
    const g = gridAssignments(model(DISCRETE), 100);
    expect(g).toHaveLength(12);
    expect(g.slice(0, 3)).toEqual([
      { 'dense_1.units': 8, 'dense_2.units': 1, 'training.batch_size': 16 },
      { 'dense_1.units': 8, 'dense_2.units': 1, 'training.batch_size': 32 },
      { 'dense_1.units': 8, 'dense_2.units': 2, 'training.batch_size': 16 },
    ]);
    expect(g[11]).toEqual({ 'dense_1.units': 16, 'dense_2.units': 3, 'training.batch_size': 32 });
    expect(new Set(g.map((p) => JSON.stringify(p))).size).toBe(12);
    const expected: unknown[] = [];
    for (const u of [8, 16]) for (const v of [1, 2, 3]) for (const b of [16, 32]) expected.push({ 'dense_1.units': u, 'dense_2.units': v, 'training.batch_size': b });
    expect(g).toEqual(expected);
  });

  it('flattens nested choices and steps float ranges exactly', () => {
    const g = gridAssignments(model(`network N { input: (4,) layers: Dense(HPO(choice(HPO(range(8, 16, step=4)), 64))) Dropout(HPO(range(0.3, 0.7, step=0.1))) Output(2) }`), 100);
    expect(g).toHaveLength(4 * 5);
    expect([...new Set(g.map((p) => p['dense_1.units']))]).toEqual([8, 12, 16, 64]);
    expect(g.slice(0, 5).map((p) => p['dropout_1.rate'])).toEqual([0.3, 0.4, 0.5, 0.6, 0.7]);
  });

  it('throws SearchSpaceError naming a continuous range', () => {
    const m = model(`network N { input: (4,) layers: Dense(8) Dropout(HPO(range(0.2, 0.6))) Output(2) }`);
    expect(() => gridAssignments(m, 100)).toThrow(SearchSpaceError);
    try {
      gridAssignments(m, 100);
    } catch (e) {
      expect((e as SearchSpaceError).problems.map((p) => p.path)).toEqual(['dropout_1.rate']);
      expect((e as Error).message).toContain('dropout_1.rate');
      expect((e as Error).message).toMatch(/continuous/);
    }
  });

  it('throws SearchSpaceError naming a log_range (and every bad site)', () => {
    const m = model(FULL.replace('HPO(range(0.3, 0.7, step=0.1))', 'HPO(range(0.3, 0.7))'));
    let err: unknown;
    try {
      gridAssignments(m, 1000);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SearchSpaceError);
    expect((err as SearchSpaceError).problems.map((p) => p.path)).toEqual(['dropout_1.rate', 'optimizer.learning_rate']);
    expect((err as Error).message).toContain('optimizer.learning_rate');
    expect((err as Error).message).toMatch(/log_range/);
  });

  it('throws SearchSpaceError when the grid has more than maxPoints points', () => {
    const m = model(DISCRETE);
    expect(gridAssignments(m, 12)).toHaveLength(12);
    let err: unknown;
    try {
      gridAssignments(m, 11);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SearchSpaceError);
    expect((err as Error).message).toContain('12 points');
    expect((err as SearchSpaceError).problems[0].path).toContain('dense_1.units');
    expect((err as SearchSpaceError).problems[0].path).toContain('training.batch_size');
  });

  it('returns one empty point for a model without HPO', () => {
    expect(gridAssignments(model(`network N { input: (4,) layers: Dense(8) Output(2) }`), 10)).toEqual([{}]);
  });
});

describe('sweepPoints', () => {
  it('random: draws distinct points inside the space, trials of them', () => {
    const pts = sweepPoints(model(FULL), { strategy: 'random', trials: 30, seed: 5, maxTrials: 100 });
    expect(pts).toHaveLength(30);
    expect(new Set(pts.map((p) => JSON.stringify(p))).size).toBe(30);
    for (const p of pts) expect([16, 32]).toContain(p['training.batch_size']);
  });

  it('random: stops early when a small discrete space is exhausted', () => {
    const pts = sweepPoints(model(DISCRETE), { strategy: 'random', trials: 50, seed: 1, maxTrials: 100 });
    expect(pts).toHaveLength(12);
    const keys = pts.map((p) => JSON.stringify(p)).sort();
    expect(keys).toEqual(gridAssignments(model(DISCRETE), 100).map((p) => JSON.stringify(p)).sort());
  });

  it('random: caps at maxTrials and defaults to 10', () => {
    expect(sweepPoints(model(FULL), { strategy: 'random', trials: 50, seed: 1, maxTrials: 7 })).toHaveLength(7);
    expect(sweepPoints(model(FULL), { strategy: 'random', seed: 1, maxTrials: 100 })).toHaveLength(10);
  });

  it('random: the same seed gives the same points, another seed others', () => {
    const a = sweepPoints(model(FULL), { strategy: 'random', trials: 8, seed: 99, maxTrials: 100 });
    const b = sweepPoints(model(FULL), { strategy: 'random', trials: 8, seed: 99, maxTrials: 100 });
    const c = sweepPoints(model(FULL), { strategy: 'random', trials: 8, seed: 100, maxTrials: 100 });
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
  });

  it('grid: the whole grid when trials is absent or large enough', () => {
    const grid = gridAssignments(model(DISCRETE), 100);
    expect(sweepPoints(model(DISCRETE), { strategy: 'grid', seed: 1, maxTrials: 100 })).toEqual(grid);
    expect(sweepPoints(model(DISCRETE), { strategy: 'grid', trials: 40, seed: 1, maxTrials: 100 })).toEqual(grid);
  });

  it('grid: a seeded subset in grid order when trials < grid size', () => {
    const grid = gridAssignments(model(DISCRETE), 100).map((p) => JSON.stringify(p));
    const a = sweepPoints(model(DISCRETE), { strategy: 'grid', trials: 5, seed: 1, maxTrials: 100 });
    const b = sweepPoints(model(DISCRETE), { strategy: 'grid', trials: 5, seed: 1, maxTrials: 100 });
    expect(a).toHaveLength(5);
    expect(a).toEqual(b);
    const idx = a.map((p) => grid.indexOf(JSON.stringify(p)));
    expect(idx.every((i) => i >= 0)).toBe(true);
    expect(new Set(idx).size).toBe(5);
    expect(idx).toEqual([...idx].sort((x, y) => x - y));
    // different seeds pick different subsets (for at least one of a few seeds)
    const others = [2, 3, 4, 5].map((seed) => JSON.stringify(sweepPoints(model(DISCRETE), { strategy: 'grid', trials: 5, seed, maxTrials: 100 })));
    expect(others.some((o) => o !== JSON.stringify(a))).toBe(true);
  });

  it('grid: throws SearchSpaceError for a space without a finite grid or over maxTrials', () => {
    expect(() => sweepPoints(model(FULL), { strategy: 'grid', seed: 1, maxTrials: 1000 })).toThrow(SearchSpaceError);
    expect(() => sweepPoints(model(DISCRETE), { strategy: 'grid', trials: 5, seed: 1, maxTrials: 10 })).toThrow(SearchSpaceError);
  });
});

describe('substituteHpo', () => {
  const all = { 'dense_1.units': 12, 'dropout_1.rate': 0.4, 'dense_2.activation': 'tanh', 'optimizer.learning_rate': 0.00123, 'training.batch_size': 32 };

  it('replaces every site so the result has no HPO left', () => {
    const out = substituteHpo(FULL, all);
    expect(out).not.toContain('HPO');
    expect(parse(out, DEFAULT_LIMITS).model.hpo).toEqual([]);
    expect(out).toContain('Dense(12, activation="relu")');
    expect(out).toContain('Dropout(0.4)');
    expect(out).toContain('activation="tanh"');
    expect(out).toContain('learning_rate=0.00123');
    expect(out).toMatch(/batch_size: 32\n/);
    expect(out).not.toMatch(/batch_size: 32, /);
    // everything else is untouched
    expect(out.split('\n')).toHaveLength(FULL.split('\n').length);
    expect(out).toContain('epochs: 2');
  });

  it('compiles to code with the chosen values', () => {
    const out = substituteHpo(FULL, all);
    const r = compile(out, { backend: 'tensorflow' });
    expect(r.summary.search_space).toEqual([]);
    expect(r.code).toContain('units=12');
    expect(r.code).toContain('rate=0.4');
    expect(r.code).toContain("activation='tanh'");
    expect(r.code).toContain('0.00123');
    expect(r.code).toContain('BATCH_SIZE = 32');
  });

  it('writes a nested choice member and the [..] batch_size form', () => {
    const src = `network N { input: (4,) layers: Dense(HPO(choice(HPO(range(8, 16, step=4)), 64)), activation="relu") Output(2) optimizer: Adam(learning_rate=HPO(log_range(1e-4, 1e-2))) train { epochs: 2, batch_size: [16, 32] } }`;
    const out = substituteHpo(src, { 'dense_1.units': 64, 'optimizer.learning_rate': 0.005, 'training.batch_size': 32 });
    expect(out).toBe(`network N { input: (4,) layers: Dense(64, activation="relu") Output(2) optimizer: Adam(learning_rate=0.005) train { epochs: 2, batch_size: 32 } }`);
    expect(parse(out, DEFAULT_LIMITS).model.hpo).toEqual([]);
    const r = compile(out, { backend: 'tensorflow' });
    expect(r.code).toContain('units=64');
    expect(r.code).toContain('BATCH_SIZE = 32');
  });

  it('writes a value of the nested range itself', () => {
    const out = substituteHpo(FULL, { 'dense_1.units': 8 });
    expect(out).toContain('Dense(8, activation="relu")');
    expect(compile(out, { backend: 'tensorflow' }).code).toContain("units=8, activation='relu', name='dense_1'");
  });

  it('keeps sites that are not in the assignment', () => {
    const out = substituteHpo(FULL, { 'training.batch_size': 16, 'dense_2.activation': 'relu' });
    const hpo = parse(out, DEFAULT_LIMITS).model.hpo.map((h) => h.path).sort();
    expect(hpo).toEqual(['dense_1.units', 'dense_1.units.choice0', 'dropout_1.rate', 'optimizer.learning_rate']);
    expect(out).toContain('HPO(choice(HPO(range(8, 16, step=4)), 64))');
    expect(out).toContain('HPO(range(0.3, 0.7, step=0.1))');
    expect(out).toContain('HPO(log_range(1e-4, 1e-2))');
    expect(out).toMatch(/batch_size: 16\n/);
    expect(out).toContain('Dense(8, activation="relu")');
    expect(searchSpace(parse(out, DEFAULT_LIMITS).model).map((s) => s.path)).toEqual(['dense_1.units', 'dropout_1.rate', 'optimizer.learning_rate']);
  });

  it('quotes strings so they survive re-parsing', () => {
    const out = substituteHpo(`network N { input: (4,) layers: Dense(8, activation=HPO(choice("relu", "tanh"))) Output(2) }`, { 'dense_1.activation': 'tanh' });
    expect(out).toContain('activation="tanh"');
    expect(compile(out, { backend: 'tensorflow' }).code).toContain("activation='tanh'");
  });

  it('leaves the source unchanged for an empty assignment', () => {
    expect(substituteHpo(FULL, {})).toBe(FULL);
  });

  it('substitutes a sampled point and a grid point end to end', () => {
    const [p] = sweepPoints(model(DISCRETE), { strategy: 'random', trials: 1, seed: 4, maxTrials: 10 });
    const out = substituteHpo(DISCRETE, p);
    expect(parse(out, DEFAULT_LIMITS).model.hpo).toEqual([]);
    const r = compile(out, { backend: 'tensorflow' });
    expect(r.code).toContain(`units=${p['dense_1.units']},`);
    expect(r.code).toContain(`units=${p['dense_2.units']},`);
    expect(r.code).toContain(`BATCH_SIZE = ${p['training.batch_size']}`);
  });
});
