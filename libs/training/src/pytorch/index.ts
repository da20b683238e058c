export { findPython, probeTorch, SYSTEM_PYTHON, type PythonInfo } from './python';
export { writeNpy, npyHeader, type NpyData } from './npy';
export { torchWeightManifest, type TorchWeightEntry } from './weight-manifest';
export {
  runPytorchTraining,
  torchDriverPath,
  PytorchTrainingError,
  type PytorchTrainingErrorCode,
  type PytorchTrainingOptions,
  type PytorchTrainingResult,
  type PytorchStartInfo,
} from './pytorch-training';
