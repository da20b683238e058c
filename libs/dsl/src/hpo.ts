import { DiagnosticBag, type Diagnostic } from './diagnostics';
import type { HpoSpec, HpoValue, LayerNode, ModelIR, ModelNode, Value } from './ir';
import { isCall, isHpo, isLayer } from './ir';
import { show } from './lower';

/** Concrete values chosen for a model's hyperparameters, keyed by `HpoValue.path`. */
export type HpoAssignment = Record<string, Value>;

export interface ResolvedModel {
  model: ModelIR;
  /** The value used for every hyperparameter (given or default). */
  assignment: HpoAssignment;
  /** One warning per hyperparameter that fell back to its default. */
  warnings: Diagnostic[];
}

/**
 * The value a hyperparameter takes when none is given: the first choice, the middle of a range (on its step grid)
 * or the geometric middle of a log range.
 */
export function defaultHpoValue(spec: HpoSpec): Value {
  switch (spec.type) {
    case 'categorical':
      return spec.values[0];
    case 'range': {
      const mid = (spec.start + spec.end) / 2;
      if (!spec.step) return mid;
      return roundLike(spec.start + Math.round((mid - spec.start) / spec.step) * spec.step, spec);
    }
    case 'log_range':
      return Number(Math.sqrt(spec.min * spec.max).toPrecision(6));
  }
}

/** True when `v` is a value the hyperparameter can take. */
export function hpoAccepts(spec: HpoSpec, v: Value): boolean {
  switch (spec.type) {
    case 'categorical':
      return spec.values.some((c) => isHpo(c) || JSON.stringify(c) === JSON.stringify(v));
    case 'range':
      return typeof v === 'number' && v >= spec.start - 1e-12 && v <= spec.end + 1e-12;
    case 'log_range':
      return typeof v === 'number' && v >= spec.min * (1 - 1e-12) && v <= spec.max * (1 + 1e-12);
  }
}

/**
 * Substitutes every HPO expression of the model by a concrete value: the assignment's when given (validated against
 * the expression), its default otherwise. Returns a new model; the input is not changed.
 */
export function resolveHpo(model: ModelIR, given: HpoAssignment = {}): ResolvedModel {
  // Nothing to substitute: the model is already concrete (the IR is never mutated, so it can be shared).
  if (model.hpo.length === 0 && Object.keys(given).length === 0) return { model, assignment: {}, warnings: [] };
  const bag = new DiagnosticBag();
  const assignment: HpoAssignment = {};
  const known = new Set(model.hpo.map((h) => h.path));
  for (const key of Object.keys(given)) {
    if (!known.has(key)) {
      bag.error('invalid_hpo_value', `Unknown hyperparameter '${key}'`, undefined, known.size ? `the model's hyperparameters: ${[...known].join(', ')}` : 'the model has no HPO(...) expressions');
    }
  }
  const resolve = (h: HpoValue): Value => {
    if (h.path in assignment) return assignment[h.path];
    let v: Value;
    if (h.path in given) {
      v = given[h.path];
      if (!hpoAccepts(h.spec, v)) {
        bag.error('invalid_hpo_value', `Value ${show(v)} is outside the search space of ${h.path}`, h.loc);
      }
    } else {
      v = defaultHpoValue(h.spec);
      bag.warn('hpo_default', `Hyperparameter ${h.path} was not given a value; using ${show(v)}`, h.loc);
    }
    assignment[h.path] = v;
    return isHpo(v) ? resolve(v) : v;
  };
  const value = (v: Value): Value => {
    if (isHpo(v)) return value(resolve(v));
    if (Array.isArray(v)) return v.map(value);
    if (isLayer(v)) return layer(v);
    if (isCall(v)) return { ...v, args: v.args.map(value), kwargs: mapValues(v.kwargs, value) };
    return v;
  };
  const layer = (n: LayerNode): LayerNode => ({ ...n, params: mapValues(n.params, value), sublayers: n.sublayers.map(node) });
  const node = (n: ModelNode): ModelNode => (n.kind === 'layer' ? layer(n) : { ...n, body: n.body.map(node) });

  const out: ModelIR = {
    ...model,
    layers: model.layers.map(node),
    hpo: [],
  };
  if (model.optimizer) out.optimizer = { ...model.optimizer, params: mapValues(model.optimizer.params, value) };
  if (model.lrSchedule) out.lrSchedule = value(model.lrSchedule) as typeof model.lrSchedule;
  if (model.training) out.training = mapValues(model.training as Record<string, Value>, value);
  bag.throwIfErrors();
  return { model: out, assignment, warnings: bag.warnings() };
}

function mapValues<T extends Record<string, Value | undefined>>(o: T, f: (v: Value) => Value): T {
  const r: Record<string, Value> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) r[k] = f(v);
  return r as T;
}

function roundLike(v: number, spec: { start: number; step?: number }): number {
  const decimals = Math.max(decimalsOf(spec.start), decimalsOf(spec.step ?? 1));
  return Number(v.toFixed(decimals));
}

function decimalsOf(n: number): number {
  const s = String(n);
  if (s.includes('e-')) return Number(s.split('e-')[1]);
  return s.includes('.') ? s.split('.')[1].length : 0;
}

/**
 * A diagnostic for every HPO expression the model still holds: emitters need concrete values. The parser lists every
 * HPO expression in `model.hpo` and `resolveHpo` empties it, so the list alone tells.
 */
export function reportUnresolvedHpo(model: ModelIR, bag: DiagnosticBag): void {
  for (const h of model.hpo) {
    bag.error('unresolved_hpo', `Hyperparameter '${h.path}' must be resolved to a value before code generation`, h.loc, 'pick values with the HPO search or pass them explicitly');
  }
}
