/**
 * Loads tfjs on demand with the best backend this machine has. Nothing here runs at import: the gateway imports the
 * training library for `planTraining` and must not pay for (or depend on) tfjs.
 */
import type * as Tfjs from '@tensorflow/tfjs';
import { registerGradientKernels } from './kernels';
import type { TfjsBackendName } from './types';

type Tf = typeof Tfjs;

export interface LoadedTfjs {
  tf: Tf;
  backend: TfjsBackendName;
  /** Why a better backend was passed over (`auto` only), e.g. tfjs-node is not installed. */
  fallbackReason?: string;
}

/** Module loader, injectable so tests can stand in for packages that are absent or broken. */
export type ModuleLoader = (id: string) => unknown;

const BACKENDS: readonly TfjsBackendName[] = ['tensorflow', 'wasm', 'cpu'];

const loaded = new Map<string, Promise<LoadedTfjs>>();

/**
 * tfjs with the chosen backend active and the gradient kernels of `kernels.ts` registered. `auto` tries native
 * TensorFlow (`@tensorflow/tfjs-node`), then WebAssembly, then plain JavaScript, recording why it passed one over;
 * naming a backend forces it and rejects with an Error when it cannot load. Memoised per process and per choice;
 * every call makes its backend the active one again, since `tf.setBackend` is process-global.
 */
export async function loadTfjs(prefer: 'auto' | TfjsBackendName = 'auto'): Promise<LoadedTfjs> {
  let pending = loaded.get(prefer);
  if (!pending) {
    pending = initTfjs(prefer);
    loaded.set(prefer, pending);
    pending.catch(() => loaded.delete(prefer));
  }
  const result = await pending;
  if (result.tf.getBackend() !== result.backend) await result.tf.setBackend(result.backend);
  return result;
}

/** The loading itself, without memoisation; `load` is `require` except in tests. */
export async function initTfjs(prefer: 'auto' | TfjsBackendName, load: ModuleLoader = require): Promise<LoadedTfjs> {
  if (prefer !== 'auto' && !BACKENDS.includes(prefer)) throw new Error(`Unknown tfjs backend '${String(prefer)}'; expected auto, ${BACKENDS.join(', ')}`);
  const candidates = prefer === 'auto' ? BACKENDS : [prefer];
  const reasons: string[] = [];
  for (const backend of candidates) {
    try {
      const tf = await activate(backend, load);
      registerGradientKernels(tf);
      return reasons.length ? { tf, backend, fallbackReason: reasons.join('; ') } : { tf, backend };
    } catch (e) {
      const why = `${backend}: ${firstLine(e)}`;
      if (prefer !== 'auto') throw new Error(`The tfjs '${backend}' backend cannot be loaded (${why})`);
      reasons.push(why);
    }
  }
  throw new Error(`No tfjs backend could be loaded (${reasons.join('; ')})`);
}

async function activate(backend: TfjsBackendName, load: ModuleLoader): Promise<Tf> {
  switch (backend) {
    case 'tensorflow': {
      // Throws when the package is absent, and also when it is installed without its native binding
      // (`npm install --ignore-scripts`, or the libtensorflow download failed).
      const tf = load('@tensorflow/tfjs-node') as Tf;
      await select(tf, 'tensorflow');
      return tf;
    }
    case 'wasm': {
      const tf = load('@tensorflow/tfjs') as Tf;
      // Registers the 'wasm' backend. SIMD is detected and used by default in Node; the threaded build cannot run
      // in Node (tfjs-backend-wasm disables it there: its workers load from blob URLs, which Node refuses), so it
      // is not attempted.
      load('@tensorflow/tfjs-backend-wasm');
      await select(tf, 'wasm');
      return tf;
    }
    case 'cpu': {
      const tf = load('@tensorflow/tfjs') as Tf;
      await select(tf, 'cpu');
      return tf;
    }
  }
}

async function select(tf: Tf, backend: string): Promise<void> {
  // setBackend resolves false (and leaves the previous backend active) when initialisation fails.
  const ok = await tf.setBackend(backend);
  if (!ok || tf.getBackend() !== backend) throw new Error(`tf.setBackend('${backend}') failed`);
  await tf.ready();
}

function firstLine(e: unknown): string {
  // Not `instanceof Error`: errors from another realm (a test sandbox, a vm context) are not instances of this one's.
  const message = typeof (e as { message?: unknown })?.message === 'string' ? (e as { message: string }).message : String(e);
  return message.split('\n')[0].trim();
}
