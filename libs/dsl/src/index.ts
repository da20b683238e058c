import type { CheckedModel, CheckOptions, ModelSummary } from './checked';
import { check } from './check';
import { DslError, type Diagnostic } from './diagnostics';
import { emitOnnx } from './emit/onnx';
import { emitPytorch } from './emit/pytorch';
import { emitTensorflow } from './emit/tensorflow';
import type { KerasWeights } from './emit/weights';
import { resolveHpo, type HpoAssignment } from './hpo';
import { searchSpace } from './search';
import type { ModelIR } from './ir';
import { DEFAULT_LIMITS, type DslLimits } from './limits';
import { parse } from './parser';

export * from './checked';
export * from './diagnostics';
export * from './ir';
export { DEFAULT_LIMITS, type DslLimits } from './limits';
export { LAYER_TYPES, ACTIVATIONS, LOSSES, OPTIMIZERS, layerSpec } from './layers';
export { parse, parseModel } from './parser';
export { check, totalParams } from './check';
export { resolveHpo, defaultHpoValue, hpoAccepts, type HpoAssignment } from './hpo';
export { gridAssignments, sampleAssignment, searchSpace, SearchSpaceError, substituteHpo, sweepPoints, topLevelHpo, SWEEP_STRATEGIES, type SearchSite, type SweepStrategy } from './search';
export { emitPytorch } from './emit/pytorch';
export { emitTensorflow } from './emit/tensorflow';
export { emitOnnx } from './emit/onnx';
export { buildTfjsModel } from './emit/tfjs';
export { initKerasWeights, setTfjsWeights, weightsFromTfjs, type KerasWeights } from './emit/weights';

export const BACKENDS = ['tensorflow', 'pytorch', 'onnx'] as const;
export type Backend = (typeof BACKENDS)[number];

export interface AnalyzeOptions extends CheckOptions {
  limits?: Partial<DslLimits>;
}

export interface Analysis {
  /** The parsed model, HPO expressions still in place. */
  model: ModelIR;
  /** Shapes and parameter counts; dimensions that depend on a hyperparameter are `null`. */
  checked: CheckedModel;
  warnings: Diagnostic[];
}

/** Parses and checks a DSL source. Throws `DslError` (and nothing else) listing every problem found. */
export function analyze(source: string, opts: AnalyzeOptions = {}): Analysis {
  const limits = { ...DEFAULT_LIMITS, ...opts.limits };
  const parsed = parse(source, limits);
  const checked = check(parsed.model, opts);
  return { model: parsed.model, checked, warnings: dedupe([...parsed.warnings, ...checked.warnings]) };
}

export interface CompileOptions extends AnalyzeOptions {
  backend: Backend;
  /** Values for the model's HPO expressions, keyed by path; the rest take their defaults (with a warning). */
  hpo?: HpoAssignment;
  /** Dataset the generated training script loads by default (e.g. `MNIST`). */
  dataset?: string;
  /** ONNX only: weights in Keras layout, e.g. from a trained tfjs model; otherwise seeded initial weights. */
  weights?: KerasWeights;
  seed?: number;
}

export interface CompileResult {
  backend: Backend;
  /** The model after HPO substitution, as emitted. */
  checked: CheckedModel;
  summary: ModelSummary;
  /** Python source for tensorflow and pytorch. */
  code?: string;
  /** A serialized ONNX ModelProto for onnx. */
  onnx?: Uint8Array;
  /** The hyperparameter values the output was built with. */
  hpo: HpoAssignment;
  warnings: Diagnostic[];
}

/**
 * Source text to a runnable model: parse, check, substitute hyperparameters, check again with concrete sizes, emit.
 * Throws `DslError` for every problem, including layers the chosen backend cannot express.
 */
export function compile(source: string, opts: CompileOptions): CompileResult {
  if (!(BACKENDS as readonly string[]).includes(opts.backend)) {
    throw new DslError([{ severity: 'error', code: 'unsupported_backend', message: `Unknown backend '${String(opts.backend)}'; expected one of ${BACKENDS.join(', ')}`, line: 1, column: 1 }]);
  }
  const limits = { ...DEFAULT_LIMITS, ...opts.limits };
  const parsed = parse(source, limits);
  const resolved = resolveHpo(parsed.model, opts.hpo);
  const checked = check(resolved.model, opts);
  const warnings = dedupe([...parsed.warnings, ...resolved.warnings, ...checked.warnings]);
  const result: CompileResult = { backend: opts.backend, checked, summary: { ...checked.summary, search_space: searchSpace(parsed.model) }, hpo: resolved.assignment, warnings };
  switch (opts.backend) {
    case 'tensorflow':
      result.code = emitTensorflow(checked, { dataset: opts.dataset });
      break;
    case 'pytorch':
      result.code = emitPytorch(checked, { dataset: opts.dataset });
      break;
    case 'onnx':
      result.onnx = emitOnnx(checked, { weights: opts.weights, seed: opts.seed });
      break;
  }
  return result;
}

function dedupe(ds: Diagnostic[]): Diagnostic[] {
  const seen = new Set<string>();
  return ds.filter((d) => {
    const key = `${d.line}:${d.column}:${d.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
