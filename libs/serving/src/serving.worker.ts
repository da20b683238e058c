/**
 * Replica thread of ServingPool: one InferenceSession, warmed up before it reports ready, answering predictions one at
 * a time in arrival order. onnxruntime-node is loaded here only: its typed-array checks fail in jest's vm context.
 *
 * The pool never calls Worker.terminate(): onnxruntime-node 1.30 aborts the whole process (an uncaught Napi::Error)
 * when a thread is terminated inside session creation or a run. The thread exits itself between native calls instead.
 */
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { parentPort, workerData } from 'node:worker_threads';
import type { FromReplica, ReplicaInit, ToReplica } from './serving.protocol';

type Predict = Extract<ToReplica, { type: 'predict' }>;

const port = parentPort;
if (!port) throw new Error('serving.worker must run in a worker thread');
const init = workerData as ReplicaInit;
const stopFlag = new Int32Array(init.stop);
const stopping = () => Atomics.load(stopFlag, 0) === 1;
const send = (message: FromReplica, transfer?: ArrayBuffer[]) => port.postMessage(message, transfer);
const queue: Predict[] = [];
let session: InferenceSession | undefined;
let running = false;

port.on('message', (msg: ToReplica) => {
  if (msg.type === 'stop') process.exit(0);
  if (msg.type === 'crash') throw new Error('replica crash requested by a test');
  queue.push(msg);
  void drain();
});

async function drain(): Promise<void> {
  if (running || !session) return;
  running = true;
  while (queue.length > 0 && !stopping()) {
    const msg = queue.shift()!;
    try {
      const result = await session.run({ [init.inputName]: new Tensor('float32', msg.input, [msg.batch, ...init.instanceShape]) });
      const tensor = result[init.outputName];
      let output = tensor.data as Float32Array;
      if (!(output instanceof Float32Array)) output = Float32Array.from(output as ArrayLike<number>);
      else if (output.byteOffset !== 0 || output.byteLength !== output.buffer.byteLength) output = output.slice();
      send({ type: 'result', id: msg.id, output, dims: Array.from(tensor.dims) }, [output.buffer as ArrayBuffer]);
    } catch (err) {
      send({ type: 'error', id: msg.id, message: err instanceof Error ? err.message : String(err) });
    }
  }
  running = false;
  if (stopping()) process.exit(0);
}

async function main(): Promise<void> {
  try {
    const created = await InferenceSession.create(init.model, {
      intraOpNumThreads: init.intraOpThreads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
    });
    const size = init.instanceShape.reduce((a, b) => a * b, 1);
    // First runs of a session allocate and plan (0.3-0.8 s); pay that before taking traffic.
    for (const batch of init.warmupBatches) {
      if (stopping()) process.exit(0);
      await created.run({ [init.inputName]: new Tensor('float32', new Float32Array(batch * size), [batch, ...init.instanceShape]) });
    }
    session = created;
  } catch (err) {
    send({ type: 'failed', message: err instanceof Error ? err.message : String(err) });
    return;
  }
  if (stopping()) process.exit(0);
  send({ type: 'ready' });
  void drain();
}

void main();
