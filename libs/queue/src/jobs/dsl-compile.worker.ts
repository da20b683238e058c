/**
 * Worker-thread entry of DslSandbox: compiles one DSL source per message, so a slow or huge compile can be stopped
 * (thread terminated) without blocking the event loop that serves requests and renews queue locks.
 */
import { parentPort } from 'worker_threads';
import { compile, DslError, parse, searchSpace, SearchSpaceError, sweepPoints, DEFAULT_LIMITS } from '@app/dsl';
import { applyTrainingConfig, prepareTraining, TrainingConfigError } from '@app/dsl/train';
import { checkLabelFit, checkSampleFit } from '@app/datasets';
import type { SandboxPlanMessage, SandboxPlanOutput, SandboxReply, SandboxRequest, SandboxSweepMessage, SandboxSweepOutput, SweepPointError } from './dsl-sandbox.protocol';

const port = parentPort;
if (!port) throw new Error('dsl-compile.worker must run in a worker thread');

port.on('message', (req: SandboxRequest) => {
  let reply: SandboxReply;
  try {
    if (req.op === 'sweep') {
      reply = { id: req.id, ok: true, output: sweep(req) };
    } else if (req.op === 'plan') {
      const out = plan(req);
      reply = 'code' in out ? { id: req.id, ok: false, mismatch: out } : { id: req.id, ok: true, output: out };
    } else {
      const out = compile(req.source, { backend: req.backend, dataset: req.dataset, autoFlatten: req.autoFlatten });
      reply = { id: req.id, ok: true, output: { code: out.code, onnx: out.onnx, summary: out.summary, warnings: out.warnings } };
    }
  } catch (err) {
    if (err instanceof DslError) reply = { id: req.id, ok: false, diagnostics: err.diagnostics };
    else if (err instanceof TrainingConfigError) reply = { id: req.id, ok: false, configErrors: err.errors };
    else reply = { id: req.id, ok: false, failure: err instanceof Error ? `${err.name}: ${err.message}` : String(err) };
  }
  port.postMessage(reply);
});

/** The training the gateway is asked for, resolved exactly as the training process will resolve it. */
function plan(req: Omit<SandboxPlanMessage, 'op' | 'id'>): SandboxPlanOutput | { code: string; message: string } {
  const { plan: trainingPlan, summary, warnings } = prepareTraining(req.source, req.trainingConfig, req.engine, { autoFlatten: req.autoFlatten, limits: req.limits, hpo: req.hpo });
  const samples = checkSampleFit(trainingPlan.inputShape, req.dataset.sampleShape, req.dataset.name);
  if (!samples.ok) return { code: 'dataset_mismatch', message: samples.message };
  const labels = checkLabelFit(trainingPlan.outputShape, req.dataset, trainingPlan.loss);
  if (!labels.ok) return { code: 'dataset_mismatch', message: labels.message };
  if (req.trainingConfig.train_samples !== undefined && req.trainingConfig.train_samples > req.dataset.trainSamples) {
    return { code: 'dataset_mismatch', message: `training_config.train_samples is ${req.trainingConfig.train_samples} but ${req.dataset.name} has ${req.dataset.trainSamples} training samples` };
  }
  return { plan: trainingPlan, summary, warnings };
}

/**
 * The sweep's points, each planned as its trial will be: a point the engine or the dataset refuses is reported with
 * the reason (its trial fails without training), the others carry the plan their trial is created with.
 */
function sweep(req: SandboxSweepMessage): SandboxSweepOutput {
  // Errors of the model itself (syntax, a bad training_config) refuse the whole sweep, as they would a training.
  const parsed = parse(req.source, DEFAULT_LIMITS);
  const model = applyTrainingConfig(parsed.model, req.trainingConfig, req.limits);
  const space = searchSpace(model);
  const method = parsed.model.training?.search_method;
  const searchMethod = typeof method === 'string' ? method : null;
  if (!space.length) return { space, searchMethod, points: [] };
  let points;
  try {
    points = sweepPoints(model, { strategy: req.strategy, trials: req.trials, seed: req.seed, maxTrials: req.maxTrials });
  } catch (err) {
    if (err instanceof SearchSpaceError) return { space, searchMethod, points: [], spaceErrors: err.problems };
    throw err;
  }
  return {
    space,
    searchMethod,
    points: points.map((params) => {
      try {
        const out = plan({ ...req, hpo: params });
        return 'code' in out ? { params, error: { code: out.code, detail: out.message } } : { params, planned: out };
      } catch (err) {
        return { params, error: pointError(err) };
      }
    }),
  };
}

function pointError(err: unknown): SweepPointError {
  if (err instanceof DslError) {
    return { code: 'dsl_error', detail: err.diagnostics.filter((d) => d.severity === 'error').map((d) => d.message).join('; '), errors: err.diagnostics.filter((d) => d.severity === 'error').map((d) => ({ line: d.line, column: d.column, message: d.message })) };
  }
  if (err instanceof TrainingConfigError) return { code: 'invalid_training_config', detail: err.message, errors: err.errors };
  throw err;
}
