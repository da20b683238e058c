/** Messages between ServingPool and serving.worker.ts. */

/** `workerData` of a replica thread. */
export interface ReplicaInit {
  /** Serialized ONNX, copied into the thread once. */
  model: Uint8Array;
  inputName: string;
  outputName: string;
  /** Input shape without the batch dimension. */
  instanceShape: number[];
  /** Batch sizes of the zero-filled warm-up runs made before the thread reports ready. */
  warmupBatches: number[];
  intraOpThreads: number;
  /** One Int32: set to 1 by the pool when the replica must stop; queued predictions are then dropped. */
  stop: SharedArrayBuffer;
}

export type ToReplica =
  | { type: 'predict'; id: number; input: Float32Array; batch: number }
  /** Exit once no native call is running. */
  | { type: 'stop' }
  /** Die with an uncaught error, as a crash would (tests only). */
  | { type: 'crash' };

export type FromReplica =
  | { type: 'ready' }
  | { type: 'failed'; message: string }
  | { type: 'result'; id: number; output: Float32Array; dims: number[] }
  | { type: 'error'; id: number; message: string };
