export { readOnnxSignature, type OnnxSignature } from './onnx-signature';
export { ServingPool, type PredictResult, type ReplicaState, type ServingPoolOptions, type ServingPoolStats } from './serving-pool';
export { decodeInstances, decodeRawInstances, formatPredictions } from './instances';
export { LatencyHistogram } from './latency-histogram';
export { InstancesError, OnnxModelError, ReplicaCrashedError, ServingClosedError, ServingError, ServingOverloadedError, ServingTimeoutError } from './serving.errors';
