/** Which tensor backend training would use on this machine: native TensorFlow, WebAssembly, or plain JavaScript. */
export type TrainingBackend = 'tensorflow' | 'wasm' | 'cpu';

const CANDIDATES: ReadonlyArray<[string, TrainingBackend]> = [
  ['@tensorflow/tfjs-node', 'tensorflow'],
  ['@tensorflow/tfjs-backend-wasm', 'wasm'],
];

let detected: TrainingBackend | undefined;

/**
 * The first installed backend package, best first. Only resolved, never loaded: loading tfjs-node takes seconds and
 * belongs to the worker that trains. Cached for the life of the process.
 */
export function detectTrainingBackend(resolve: (id: string) => string = require.resolve): TrainingBackend {
  if (detected) return detected;
  detected = 'cpu';
  for (const [pkg, backend] of CANDIDATES) {
    try {
      resolve(pkg);
      detected = backend;
      break;
    } catch {
      // not installed: try the next one
    }
  }
  return detected;
}
