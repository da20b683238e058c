/**
 * The search space of a model's HPO(...) expressions, and the three things a sweep does with it: sample a point at
 * random, enumerate the grid, and write a chosen point back into the source so the result is an ordinary model.
 */
import { DiagnosticBag } from './diagnostics';
import { defaultHpoValue, type HpoAssignment } from './hpo';
import type { HpoSpec, HpoValue, ModelIR, Value } from './ir';
import { isHpo } from './ir';
import { tokenize, type Token } from './lexer';
import { DEFAULT_LIMITS } from './limits';
import { parse } from './parser';
import { mulberry32 } from './random';

/** One HPO site as compile reports it and a sweep searches it. */
export interface SearchSite {
  /** Key of the value, e.g. `dense_1.units` (the layer id of the summary), `optimizer.learning_rate`, `training.batch_size`. */
  path: string;
  kind: 'choice' | 'range' | 'log_range';
  /** choice: the values; a nested HPO(...) appears as a site of its own. */
  values?: Array<Value | SearchSite>;
  /** range and log_range: the bounds (both inclusive). */
  low?: number;
  high?: number;
  /** range: the step, or null for a continuous range. */
  step?: number | null;
  /** range: true when every value is an integer (integer bounds and step). */
  integer?: boolean;
  /** The value used when the site is not searched (training without a sweep, compile). */
  default: Value;
  line: number;
  column: number;
}

/** The sites a sweep chooses values for: every HPO(...) that is not itself a value of another choice. */
export function topLevelHpo(model: ModelIR): HpoValue[] {
  const nested = new Set<HpoValue>();
  const walk = (h: HpoValue) => {
    if (h.spec.type !== 'categorical') return;
    for (const v of h.spec.values) {
      if (isHpo(v)) {
        nested.add(v);
        walk(v);
      }
    }
  };
  model.hpo.forEach(walk);
  return model.hpo.filter((h) => !nested.has(h));
}

/** The model's search space, in source order. */
export function searchSpace(model: ModelIR): SearchSite[] {
  return topLevelHpo(model).map(site);
}

function site(h: HpoValue): SearchSite {
  const base = { path: h.path, default: concreteDefault(h.spec), line: h.loc.line, column: h.loc.column };
  const s = h.spec;
  switch (s.type) {
    case 'categorical':
      return { ...base, kind: 'choice', values: s.values.map((v) => (isHpo(v) ? site(v) : v)) };
    case 'range':
      return { ...base, kind: 'range', low: s.start, high: s.end, step: s.step ?? null, integer: isIntegerRange(s) };
    case 'log_range':
      return { ...base, kind: 'log_range', low: s.min, high: s.max };
  }
}

/** The default of a site, through nested choices. */
function concreteDefault(s: HpoSpec): Value {
  const v = defaultHpoValue(s);
  return isHpo(v) ? concreteDefault(v.spec) : v;
}

function isIntegerRange(s: Extract<HpoSpec, { type: 'range' }>): boolean {
  return Number.isInteger(s.start) && Number.isInteger(s.end) && (s.step === undefined || Number.isInteger(s.step));
}

/** A point of the space drawn with `uniform` (values in [0, 1)): choices uniformly, ranges on their step grid, log ranges log-uniformly. */
export function sampleAssignment(model: ModelIR, uniform: () => number): HpoAssignment {
  const out: HpoAssignment = {};
  for (const h of topLevelHpo(model)) out[h.path] = sample(h.spec, uniform);
  return out;
}

function sample(s: HpoSpec, uniform: () => number): Value {
  switch (s.type) {
    case 'categorical': {
      const v = s.values[Math.min(s.values.length - 1, Math.floor(uniform() * s.values.length))];
      return isHpo(v) ? sample(v.spec, uniform) : v;
    }
    case 'range': {
      if (s.step) {
        const steps = Math.floor((s.end - s.start) / s.step + 1e-9);
        return stepValue(s, Math.min(steps, Math.floor(uniform() * (steps + 1))));
      }
      if (isIntegerRange(s)) return Math.min(s.end, s.start + Math.floor(uniform() * (s.end - s.start + 1)));
      return Number((s.start + uniform() * (s.end - s.start)).toPrecision(6));
    }
    case 'log_range':
      return Number(Math.exp(Math.log(s.min) + uniform() * (Math.log(s.max) - Math.log(s.min))).toPrecision(6));
  }
}

function stepValue(s: { start: number; step?: number }, k: number): number {
  const decimals = Math.max(decimalsOf(s.start), decimalsOf(s.step ?? 1));
  return Number((s.start + k * s.step!).toFixed(decimals));
}

function decimalsOf(n: number): number {
  const t = String(n);
  if (t.includes('e-')) return Number(t.split('e-')[1]);
  return t.includes('.') ? t.split('.')[1].length : 0;
}

/** The values a grid takes at a site, or a reason it has none finite. */
function gridValues(h: HpoValue, maxPoints: number): Value[] | string {
  const s = h.spec;
  switch (s.type) {
    case 'categorical': {
      const out: Value[] = [];
      for (const v of s.values) {
        if (!isHpo(v)) {
          if (!out.some((x) => JSON.stringify(x) === JSON.stringify(v))) out.push(v);
          continue;
        }
        const inner = gridValues(v, maxPoints);
        if (typeof inner === 'string') return inner;
        for (const x of inner) if (!out.some((y) => JSON.stringify(y) === JSON.stringify(x))) out.push(x);
      }
      return out;
    }
    case 'range': {
      const steps = s.step ? Math.floor((s.end - s.start) / s.step + 1e-9) : isIntegerRange(s) ? s.end - s.start : NaN;
      if (Number.isNaN(steps)) return `${h.path} is a continuous range(${s.start}, ${s.end}): give it a step (range(${s.start}, ${s.end}, step=...)) or use choice(...)`;
      if (steps + 1 > maxPoints) return `${h.path} alone has ${steps + 1} grid values, more than the ${maxPoints} trials allowed`;
      return Array.from({ length: steps + 1 }, (_, k) => (s.step ? stepValue(s, k) : s.start + k));
    }
    case 'log_range':
      return `${h.path} is a log_range(${s.min}, ${s.max}), which has no grid: use choice(...) of the values to try`;
  }
}

export class SearchSpaceError extends Error {
  constructor(readonly problems: Array<{ path: string; message: string }>) {
    super(problems.map((p) => p.message).join('; '));
  }
}

/**
 * Every point of the grid, the last site varying fastest. Throws SearchSpaceError naming each site without finite
 * values (continuous ranges, log ranges) or when the grid has more than `maxPoints` points.
 */
export function gridAssignments(model: ModelIR, maxPoints: number): HpoAssignment[] {
  const sites = topLevelHpo(model);
  const problems: Array<{ path: string; message: string }> = [];
  const axes: Array<[string, Value[]]> = [];
  for (const h of sites) {
    const values = gridValues(h, maxPoints);
    if (typeof values === 'string') problems.push({ path: h.path, message: values });
    else axes.push([h.path, values]);
  }
  if (problems.length) throw new SearchSpaceError(problems);
  const size = axes.reduce((n, [, v]) => n * v.length, 1);
  if (size > maxPoints) {
    throw new SearchSpaceError([{ path: axes.map(([p]) => p).join(' × '), message: `the grid has ${size} points (${axes.map(([p, v]) => `${p}: ${v.length}`).join(', ')}), more than the ${maxPoints} trials allowed` }]);
  }
  let points: HpoAssignment[] = [{}];
  for (const [path, values] of axes) points = points.flatMap((p) => values.map((v) => ({ ...p, [path]: v })));
  return points;
}

/**
 * The source with every HPO(...) site given in `assignment` replaced by its value, written as DSL: what was chosen
 * becomes an ordinary model that compiles and trains to the same network. Sites not given stay as they are. Throws
 * DslError when the source does not parse, and Error when a value cannot be written back (checked by parsing the result).
 */
export function substituteHpo(source: string, assignment: HpoAssignment): string {
  const parsed = parse(source, DEFAULT_LIMITS);
  const tokens = tokenize(source, new DiagnosticBag()).filter((t) => t.kind !== 'eof');
  const edits: Array<{ start: number; end: number; text: string }> = [];
  for (const h of topLevelHpo(parsed.model)) {
    if (!(h.path in assignment)) continue;
    const at = tokens.findIndex((t) => t.line === h.loc.line && t.column === h.loc.column);
    if (at < 0) throw new Error(`cannot find the source of ${h.path}`);
    const end = valueEnd(tokens, at);
    // A macro's HPO is one site however often the macro is used: written once.
    if (edits.some((e) => e.start === tokens[at].start)) continue;
    edits.push({ start: tokens[at].start, end, text: render(assignment[h.path]) });
  }
  let out = source;
  for (const e of edits.sort((a, b) => b.start - a.start)) out = out.slice(0, e.start) + e.text + out.slice(e.end);
  const again = parse(out, DEFAULT_LIMITS);
  const left = again.model.hpo.filter((h) => h.path in assignment);
  if (left.length) throw new Error(`could not write back ${left.map((h) => h.path).join(', ')}`);
  return out;
}

/** Source offset just after the value that starts at token `i`: a balanced HPO(...)/[...]/(...), or `a, b, c` in a train block. */
function valueEnd(tokens: Token[], i: number): number {
  const matching = (j: number): number => {
    let depth = 0;
    for (let k = j; k < tokens.length; k++) {
      const t = tokens[k];
      if (t.kind !== 'punct') continue;
      if (t.text === '(' || t.text === '[') depth++;
      else if ((t.text === ')' || t.text === ']') && --depth === 0) return k;
    }
    throw new Error('unbalanced brackets');
  };
  const t = tokens[i];
  if (t.kind === 'name' && tokens[i + 1]?.text === '(') return tokens[matching(i + 1)].end;
  if (t.kind === 'punct' && (t.text === '[' || t.text === '(')) return tokens[matching(i)].end;
  // `batch_size: 16, 32, 64`: the values run on while a comma is followed by another number.
  let last = i;
  while (tokens[last + 1]?.text === ',' && (tokens[last + 2]?.kind === 'int' || tokens[last + 2]?.kind === 'float')) last += 2;
  return tokens[last].end;
}

/** A value as DSL source. */
function render(v: Value): string {
  if (v === null) return 'None';
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'number') return String(v);
  if (typeof v === 'string') return JSON.stringify(v);
  if (Array.isArray(v)) return `(${v.map(render).join(', ')})`;
  throw new Error(`a value of this kind cannot be written back: ${JSON.stringify(v)}`);
}


export const SWEEP_STRATEGIES = ['random', 'grid'] as const;
export type SweepStrategy = (typeof SWEEP_STRATEGIES)[number];

export interface SweepPointsOptions {
  strategy: SweepStrategy;
  /** random: points to draw; grid: at most this many points (a seeded subset of a larger grid). Default: the whole grid / 10. */
  trials?: number;
  seed: number;
  /** No sweep has more points than this. */
  maxTrials: number;
}

/**
 * The points a sweep trains, in order. Random draws distinct points (a small discrete space is exhausted before
 * `trials`, so there may be fewer); grid takes every point, or a seeded subset when `trials` is smaller. The same
 * model, options and seed always give the same points. Throws SearchSpaceError for a grid without finite values.
 */
export function sweepPoints(model: ModelIR, opts: SweepPointsOptions): HpoAssignment[] {
  const uniform = mulberry32(opts.seed);
  if (opts.strategy === 'grid') {
    const grid = gridAssignments(model, opts.maxTrials);
    const want = Math.min(opts.trials ?? grid.length, grid.length);
    if (want === grid.length) return grid;
    // A partial Fisher-Yates draw of `want` indices, kept in grid order.
    const idx = grid.map((_, i) => i);
    for (let i = 0; i < want; i++) {
      const j = i + Math.floor(uniform() * (idx.length - i));
      [idx[i], idx[j]] = [idx[j], idx[i]];
    }
    return idx.slice(0, want).sort((a, b) => a - b).map((i) => grid[i]);
  }
  const want = Math.min(opts.trials ?? 10, opts.maxTrials);
  const out: HpoAssignment[] = [];
  const seen = new Set<string>();
  // A draw that repeats a point is drawn again; this many repeats in a row means the space is exhausted.
  for (let misses = 0; out.length < want && misses < 200; ) {
    const point = sampleAssignment(model, uniform);
    const key = JSON.stringify(point);
    if (seen.has(key)) {
      misses++;
      continue;
    }
    misses = 0;
    seen.add(key);
    out.push(point);
  }
  return out;
}
