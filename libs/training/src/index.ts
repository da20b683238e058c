export * from './sandbox/protocol';
export { TrainingSandbox, TrainingFailedError, type TaskHandlers, type TrainingSandboxOptions } from './sandbox/training-sandbox';
export * from './pytorch';
