/**
 * `@app/dsl/train`: the TensorFlow.js training engine. Importing it never loads tfjs; only `loadTfjs` does, and every
 * other function takes the loaded `tf` as a parameter.
 */
export * from './types';
export { loadTfjs, type LoadedTfjs } from './backend';
export { registerGradientKernels } from './kernels';
export { applyTrainingConfig, TrainingConfigError, DSL_METRICS, type ConfigProblem } from './config';
export { planTraining, outputsLogits, SUPPORTED_METRICS, type PlanOptions } from './plan';
export { runTraining, evaluate, type TrainOutcome } from './run';
export { saveTfjsModel, loadTfjsModel, type SavedTfjsModel } from './serialize';
export { decodeCheckpoint, planFingerprint, type Checkpoint } from './checkpoint';
export { learningRateAt, scheduleAt } from './optimizers';
export { prepareTraining, type PreparedTraining } from './prepare';
export { splitData, type Split } from './data';
