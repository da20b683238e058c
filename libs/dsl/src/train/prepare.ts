import { check } from '../check';
import type { CheckedModel, ModelSummary } from '../checked';
import type { Diagnostic } from '../diagnostics';
import { resolveHpo, type HpoAssignment } from '../hpo';
import { searchSpace } from '../search';
import { DEFAULT_LIMITS } from '../limits';
import { parse } from '../parser';
import { applyTrainingConfig, TrainingConfigError } from './config';
import { planTraining } from './plan';
import type { TrainingConfigInput, TrainingEngine, TrainingLimits, TrainingPlan } from './types';

export interface PreparedTraining {
  /** The model as trained: HPO defaults taken, the training_config applied, auto-flatten done. */
  checked: CheckedModel;
  plan: TrainingPlan;
  summary: ModelSummary;
  warnings: Diagnostic[];
}

/**
 * Source text and a request's training_config to what a run trains: parse, take the given HPO values (defaults for
 * the rest, with a warning each), apply the config,
 * check, plan for the engine. The gateway (to refuse a request) and the training process (to run it) both call this,
 * so they agree. A metric the plan chooses by default is written into the model, so the generated code computes
 * what the history reports on either engine. Throws DslError or TrainingConfigError.
 */
export function prepareTraining(
  source: string,
  config: TrainingConfigInput,
  engine: TrainingEngine,
  opts: { autoFlatten?: boolean; limits?: Partial<TrainingLimits>; hpo?: HpoAssignment } = {},
): PreparedTraining {
  if (engine === 'pytorch' && config.shuffle === false) {
    // The generated module's run_epoch shuffles every epoch; silently shuffling anyway would not be what was asked.
    throw new TrainingConfigError([{ field: 'training_config.shuffle', message: 'the PyTorch engine always shuffles (the generated module does); use backend tensorflow or onnx to train without shuffling' }]);
  }
  const parsed = parse(source, DEFAULT_LIMITS);
  const resolved = resolveHpo(parsed.model, opts.hpo);
  let model = applyTrainingConfig(resolved.model, config, opts.limits);
  const planOptions = { trainSamples: config.train_samples, shuffle: config.shuffle, limits: opts.limits, hpo: resolved.assignment };
  let checked = check(model, { autoFlatten: opts.autoFlatten });
  let plan = planTraining(checked, engine, planOptions);
  if (!model.metrics?.length && plan.metrics.length) {
    model = applyTrainingConfig(model, { metrics: plan.metrics }, opts.limits);
    checked = check(model, { autoFlatten: opts.autoFlatten });
    plan = planTraining(checked, engine, planOptions);
    plan = { ...plan, warnings: [`The model names no metrics: reporting ${plan.metrics.join(', ')}.`, ...plan.warnings] };
  }
  const warnings = new Map<string, Diagnostic>();
  for (const d of [...parsed.warnings, ...resolved.warnings, ...checked.warnings]) warnings.set(`${d.line}:${d.column}:${d.message}`, d);
  return { checked, plan, summary: { ...checked.summary, search_space: searchSpace(parsed.model) }, warnings: [...warnings.values()] };
}
