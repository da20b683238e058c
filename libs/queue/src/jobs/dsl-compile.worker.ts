/**
 * Worker-thread entry of DslSandbox: compiles one DSL source per message, so a slow or huge compile can be stopped
 * (thread terminated) without blocking the event loop that serves requests and renews queue locks.
 */
import { parentPort } from 'worker_threads';
import { compile, DslError } from '@app/dsl';
import { prepareTraining, TrainingConfigError } from '@app/dsl/train';
import { checkLabelFit, checkSampleFit } from '@app/datasets';
import type { SandboxPlanMessage, SandboxPlanOutput, SandboxReply, SandboxRequest } from './dsl-sandbox.protocol';

const port = parentPort;
if (!port) throw new Error('dsl-compile.worker must run in a worker thread');

port.on('message', (req: SandboxRequest) => {
  let reply: SandboxReply;
  try {
    if (req.op === 'plan') {
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
function plan(req: SandboxPlanMessage): SandboxPlanOutput | { code: string; message: string } {
  const { plan: trainingPlan, summary, warnings } = prepareTraining(req.source, req.trainingConfig, req.engine, { autoFlatten: req.autoFlatten, limits: req.limits });
  const samples = checkSampleFit(trainingPlan.inputShape, req.dataset.sampleShape, req.dataset.name);
  if (!samples.ok) return { code: 'dataset_mismatch', message: samples.message };
  const labels = checkLabelFit(trainingPlan.outputShape, req.dataset, trainingPlan.loss);
  if (!labels.ok) return { code: 'dataset_mismatch', message: labels.message };
  if (req.trainingConfig.train_samples !== undefined && req.trainingConfig.train_samples > req.dataset.trainSamples) {
    return { code: 'dataset_mismatch', message: `training_config.train_samples is ${req.trainingConfig.train_samples} but ${req.dataset.name} has ${req.dataset.trainSamples} training samples` };
  }
  return { plan: trainingPlan, summary, warnings };
}
