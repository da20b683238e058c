import { startThread } from '@app/config/sources';
import type { Worker } from 'node:worker_threads';
import { readOnnxSignature, type OnnxSignature } from './onnx-signature';
import { OnnxModelError, ReplicaCrashedError, ServingClosedError, ServingOverloadedError, ServingTimeoutError } from './serving.errors';
import type { FromReplica, ReplicaInit, ToReplica } from './serving.protocol';

export interface ServingPoolOptions {
  /** Serialized ONNX model with one float32 input and one float32 output. */
  model: Uint8Array;
  /** Worker threads (integer >= 1), each with its own InferenceSession. */
  replicas: number;
  /** ONNX Runtime intra-op threads per replica; default 1 (inter-op threads are always 1). */
  intraOpThreads?: number;
  /** In-flight plus queued requests a replica may hold (default 64); beyond that predict rejects with ServingOverloadedError. */
  maxQueuePerReplica?: number;
  /** A predict not answered within this many ms (default 10 000) rejects with ServingTimeoutError and its replica is replaced. */
  timeoutMs?: number;
}

export interface PredictResult {
  output: Float32Array;
  /** Output dimensions, batch first. */
  dims: number[];
}

export type ReplicaState = 'starting' | 'ready' | 'draining';

/** A snapshot for metrics and tests. */
export interface ServingPoolStats {
  replicas: Array<{ id: number; threadId: number; state: ReplicaState; outstanding: number; served: number }>;
  /** Requests waiting for a replica to become ready (only while none is). */
  waiting: number;
  /** Replicas lost to a thread crash or to a timeout since start. */
  crashes: number;
  timeouts: number;
}

interface Request {
  id: number;
  input: Float32Array;
  batch: number;
  resolve: (result: PredictResult) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
  replica?: Replica;
}

interface Replica {
  id: number;
  worker: Worker;
  state: ReplicaState;
  outstanding: Map<number, Request>;
  served: number;
  /** Settles once the replica is ready (or was stopped before); rejects when its session could not be made. */
  settled: Promise<void>;
  onSettled: (err?: Error) => void;
  /** Resolves when the thread has exited. */
  exited: Promise<void>;
  stopping: boolean;
  /** Shared with the thread: 1 = stop (drop queued work, exit after the current native call). */
  stopFlag: Int32Array;
}

const MAX_RESTART_DELAY_MS = 30_000;

/**
 * Serves one ONNX model from worker threads ("replicas"), each holding its own warm InferenceSession. A prediction
 * goes to the ready replica with the fewest outstanding requests. Dead or stuck replicas are replaced automatically.
 * A replica is never Worker.terminate()d (onnxruntime-node aborts the process when a thread dies inside a native
 * call): it is told to stop, drops its queue, and exits between native calls — a stuck one when its run returns.
 */
export class ServingPool {
  private readonly live = new Set<Replica>();
  /** Replicas told to stop whose thread has not exited yet. */
  private readonly stopping = new Set<Replica>();
  private readonly waiting: Request[] = [];
  private readonly instanceShape: number[];
  private readonly instanceSize: number;
  private readonly init: Omit<ReplicaInit, 'stop'>;
  private readonly maxQueue: number;
  private readonly timeoutMs: number;
  private desired: number;
  private nextRequestId = 1;
  private nextReplicaId = 1;
  private rotation = 0;
  private crashes = 0;
  private timeouts = 0;
  private startFailures = 0;
  private restartTimer?: NodeJS.Timeout;
  private closing?: Promise<void>;

  private constructor(
    readonly signature: OnnxSignature,
    options: ServingPoolOptions,
  ) {
    this.desired = options.replicas;
    this.maxQueue = options.maxQueuePerReplica ?? 64;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.instanceShape = signature.inputShape.slice(1) as number[];
    this.instanceSize = this.instanceShape.reduce((a, b) => a * b, 1);
    const fixedBatch = signature.inputShape[0];
    const { model } = options;
    this.init = {
      // Each thread gets a structured-clone copy; a view would carry its whole underlying buffer along.
      model: model.byteOffset === 0 && model.byteLength === model.buffer.byteLength ? model : model.slice(),
      inputName: signature.inputName,
      outputName: signature.outputName,
      instanceShape: this.instanceShape,
      warmupBatches: fixedBatch === null ? [1, 8] : [fixedBatch, fixedBatch],
      intraOpThreads: options.intraOpThreads ?? 1,
    };
  }

  /**
   * Starts `replicas` threads and resolves once each has created its session and run two warm-up inferences (zeros,
   * batch 1 and 8). Rejects with OnnxModelError when the model cannot be served, RangeError for bad options.
   */
  static async start(options: ServingPoolOptions): Promise<ServingPool> {
    checkReplicas(options.replicas);
    checkPositiveInteger('intraOpThreads', options.intraOpThreads);
    checkPositiveInteger('maxQueuePerReplica', options.maxQueuePerReplica);
    checkPositiveInteger('timeoutMs', options.timeoutMs);
    const signature = readOnnxSignature(options.model);
    const variable = signature.inputShape.slice(1).some((d) => d === null);
    if (variable) {
      const shape = signature.inputShape.map((d) => d ?? '?').join(', ');
      throw new OnnxModelError(`the model's input '${signature.inputName}' has shape [${shape}]: only the batch dimension may be variable to be served`);
    }
    const pool = new ServingPool(signature, options);
    try {
      await Promise.all(pool.reconcile().started.map((r) => r.settled));
    } catch (err) {
      await pool.close();
      throw err;
    }
    return pool;
  }

  /** Replicas asked for (by `start` or the last `resize`). */
  get replicas(): number {
    return this.desired;
  }

  /** Threads alive with a warm session that take new requests. */
  get readyReplicas(): number {
    let n = 0;
    for (const r of this.live) if (r.state === 'ready') n++;
    return n;
  }

  /**
   * Runs the model on `batch` instances laid out row-major and channels-last exactly as the ONNX input. The buffer is
   * transferred to the replica thread: the caller must not reuse `input`. Rejects with ServingOverloadedError,
   * ServingTimeoutError, ReplicaCrashedError, ServingClosedError, OnnxModelError (the runtime failed on this input) or
   * RangeError (input length does not match batch × instance size).
   */
  predict(input: Float32Array, batch: number): Promise<PredictResult> {
    if (this.closing) return Promise.reject(new ServingClosedError('the model server is shut down'));
    const fixedBatch = this.signature.inputShape[0];
    if (!Number.isInteger(batch) || batch < 1 || (fixedBatch !== null && batch !== fixedBatch)) {
      return Promise.reject(new RangeError(`batch must be ${fixedBatch ?? 'a positive integer'}, got ${batch}`));
    }
    if (input.length !== batch * this.instanceSize) {
      return Promise.reject(new RangeError(`input has ${input.length} values but ${batch} × [${this.instanceShape.join(', ')}] needs ${batch * this.instanceSize}`));
    }
    const replica = this.pick();
    if (replica === 'full') return Promise.reject(this.overloaded());
    if (replica === undefined && this.waiting.length >= this.desired * this.maxQueue) {
      return Promise.reject(new ServingOverloadedError(`no replica is ready and ${this.waiting.length} requests already wait for one; retry later`));
    }
    return new Promise<PredictResult>((resolve, reject) => {
      const request: Request = { id: this.nextRequestId++, input, batch, resolve, reject, timer: setTimeout(() => this.onTimeout(request), this.timeoutMs) };
      if (replica) this.send(replica, request);
      else this.waiting.push(request);
    });
  }

  /**
   * Changes the number of replicas (integer >= 1). Scaling up resolves when the new threads are warm; scaling down
   * stops dispatching to the removed replicas, lets their in-flight requests finish, then stops their threads. Either
   * way it also waits for replicas still starting (e.g. replacements of crashed ones), so `resize(pool.replicas)`
   * resolves once the pool is back at full strength. Rejects with OnnxModelError when a new replica cannot start.
   */
  async resize(replicas: number): Promise<void> {
    checkReplicas(replicas);
    if (this.closing) throw new ServingClosedError('the model server is shut down');
    this.desired = replicas;
    const { removed } = this.reconcile();
    const starting = [...this.live].filter((r) => r.state === 'starting');
    await Promise.all([...starting.map((r) => r.settled), ...removed]);
  }

  /**
   * Rejects queued and in-flight work with ServingClosedError and stops every thread; resolves when they have exited
   * (a thread inside a native run exits when that run returns). Idempotent.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      clearTimeout(this.restartTimer);
      const closed = () => new ServingClosedError('the model server is shut down');
      for (const request of this.waiting.splice(0)) this.settle(request, closed());
      for (const r of [...this.live]) void this.stop(r, closed());
      await Promise.all([...this.stopping].map((r) => r.exited));
    })();
    return this.closing;
  }

  /** Per-replica state and counters, for metrics and tests. */
  stats(): ServingPoolStats {
    return {
      replicas: [...this.live].map((r) => ({ id: r.id, threadId: r.worker.threadId, state: r.state, outstanding: r.outstanding.size, served: r.served })),
      waiting: this.waiting.length,
      crashes: this.crashes,
      timeouts: this.timeouts,
    };
  }

  private overloaded(): ServingOverloadedError {
    return new ServingOverloadedError(`every replica already holds ${this.maxQueue} requests; retry later or add replicas`);
  }

  /** The ready replica with the fewest outstanding requests; 'full' when all are at the limit, undefined when none is ready. */
  private pick(): Replica | 'full' | undefined {
    let best: Replica | undefined;
    let any = false;
    // Rotating the start spreads ties (an idle pool) over all replicas.
    const replicas = [...this.live];
    const start = this.rotation++ % Math.max(1, replicas.length);
    for (let i = 0; i < replicas.length; i++) {
      const r = replicas[(start + i) % replicas.length];
      if (r.state !== 'ready') continue;
      any = true;
      if (r.outstanding.size < this.maxQueue && (!best || r.outstanding.size < best.outstanding.size)) best = r;
    }
    return best ?? (any ? 'full' : undefined);
  }

  private send(replica: Replica, request: Request): void {
    request.replica = replica;
    if (replica.outstanding.size === 0) replica.worker.ref();
    replica.outstanding.set(request.id, request);
    let input = request.input;
    // A view into a larger (or shared) buffer would send the whole buffer; send just its values.
    if (input.byteOffset !== 0 || input.byteLength !== input.buffer.byteLength || isShared(input.buffer)) input = input.slice();
    const message: ToReplica = { type: 'predict', id: request.id, input, batch: request.batch };
    replica.worker.postMessage(message, [input.buffer as ArrayBuffer]);
  }

  private onMessage(replica: Replica, msg: FromReplica): void {
    if (msg.type === 'ready') {
      if (replica.stopping || replica.state !== 'starting') return;
      replica.state = 'ready';
      this.startFailures = 0;
      replica.onSettled();
      replica.worker.unref();
      for (const request of this.waiting.splice(0)) {
        const target = this.pick();
        if (target === undefined || target === 'full') this.settle(request, this.overloaded());
        else this.send(target, request);
      }
      return;
    }
    if (msg.type === 'failed') {
      this.lose(replica, new OnnxModelError(`ONNX Runtime cannot load or run the model: ${msg.message}`));
      return;
    }
    const request = replica.outstanding.get(msg.id);
    if (!request) return;
    this.release(replica, request);
    if (msg.type === 'result') {
      replica.served++;
      clearTimeout(request.timer);
      request.resolve({ output: msg.output, dims: msg.dims });
    } else {
      this.settle(request, new OnnxModelError(`ONNX Runtime failed to run the model on this input: ${msg.message}`));
    }
    if (replica.state === 'draining' && replica.outstanding.size === 0) void this.stop(replica);
  }

  private onTimeout(request: Request): void {
    this.timeouts++;
    const replica = request.replica;
    if (!replica) {
      this.waiting.splice(this.waiting.indexOf(request), 1);
      request.reject(new ServingTimeoutError(`no replica became ready within ${this.timeoutMs} ms`));
      return;
    }
    this.release(replica, request);
    request.reject(new ServingTimeoutError(`the model did not answer within ${this.timeoutMs} ms; its replica is being restarted`));
    this.crashes++;
    void this.stop(replica, new ReplicaCrashedError(`the replica was restarted after a request on it took longer than ${this.timeoutMs} ms`));
    // The thread leaves when its run returns; it must not hold the process until then.
    replica.worker.unref();
    this.reconcile();
  }

  /** A thread died or failed to start without being asked to. */
  private lose(replica: Replica, reason: Error): void {
    if (replica.stopping) return;
    const starting = replica.state === 'starting';
    if (!starting) this.crashes++;
    replica.onSettled(reason);
    void this.stop(replica, starting ? reason : new ReplicaCrashedError(`the replica thread died: ${reason.message}`));
    if (this.closing) return;
    if (!starting) {
      this.reconcile();
      return;
    }
    // A replica that cannot start now probably cannot start a moment later either: back off.
    const delay = Math.min(MAX_RESTART_DELAY_MS, 500 * 2 ** this.startFailures++);
    clearTimeout(this.restartTimer);
    this.restartTimer = setTimeout(() => this.reconcile(), delay);
    this.restartTimer.unref();
  }

  /**
   * Starts or drains replicas until `desired` of them are starting or ready. Returns the started replicas and the
   * exits of every replica on its way out (including those drained by an earlier call).
   */
  private reconcile(): { started: Replica[]; removed: Promise<void>[] } {
    if (this.closing) return { started: [], removed: [] };
    const active = [...this.live].filter((r) => r.state !== 'draining');
    const started: Replica[] = [];
    const removed = [...this.live].filter((r) => r.state === 'draining').map((r) => r.exited);
    for (let n = active.length; n < this.desired; n++) started.push(this.spawn());
    if (active.length > this.desired) {
      // Remove starting replicas first, then the least busy ones.
      const order = active.sort((a, b) => (a.state === b.state ? a.outstanding.size - b.outstanding.size : a.state === 'starting' ? -1 : 1));
      for (const r of order.slice(0, active.length - this.desired)) {
        if (r.state === 'starting' || r.outstanding.size === 0) removed.push(this.stop(r));
        else {
          r.state = 'draining';
          removed.push(r.exited);
        }
      }
    }
    return { started, removed };
  }

  private spawn(): Replica {
    let onSettled!: (err?: Error) => void;
    const settled = new Promise<void>((resolve, reject) => {
      onSettled = (err) => (err ? reject(err) : resolve());
    });
    // Not every caller awaits `settled` (replacements); their failures are handled by lose().
    settled.catch(() => undefined);
    const stop = new SharedArrayBuffer(4);
    const workerData: ReplicaInit = { ...this.init, stop };
    const worker = startThread(__filename, 'serving.worker', { workerData });
    let exited!: () => void;
    const replica: Replica = {
      id: this.nextReplicaId++,
      worker,
      state: 'starting',
      outstanding: new Map(),
      served: 0,
      settled,
      onSettled,
      exited: new Promise<void>((resolve) => (exited = resolve)),
      stopping: false,
      stopFlag: new Int32Array(stop),
    };
    worker.on('message', (msg: FromReplica) => this.onMessage(replica, msg));
    worker.on('error', (err: Error) => this.lose(replica, err));
    worker.on('exit', (code) => {
      exited();
      this.lose(replica, new Error(`the thread exited with code ${code}`));
    });
    this.live.add(replica);
    return replica;
  }

  /**
   * Removes a replica for good, failing what it still holds with `reason`, and makes its thread exit. Not
   * Worker.terminate(): see serving.worker.ts.
   */
  private async stop(replica: Replica, reason?: Error): Promise<void> {
    if (!replica.stopping) {
      replica.stopping = true;
      this.live.delete(replica);
      this.stopping.add(replica);
      void replica.exited.then(() => this.stopping.delete(replica));
      for (const request of [...replica.outstanding.values()]) this.settle(request, reason ?? new ServingClosedError('the replica was stopped'));
      replica.onSettled();
      replica.worker.ref();
      Atomics.store(replica.stopFlag, 0, 1);
      const message: ToReplica = { type: 'stop' };
      replica.worker.postMessage(message);
    }
    await replica.exited;
  }

  private release(replica: Replica, request: Request): void {
    replica.outstanding.delete(request.id);
    if (replica.outstanding.size === 0 && replica.state !== 'starting') replica.worker.unref();
  }

  private settle(request: Request, err: Error): void {
    clearTimeout(request.timer);
    if (request.replica) this.release(request.replica, request);
    request.reject(err);
  }
}

/** Makes replica `id` (see `stats()`) die of an uncaught error in its thread, as a crash would. For tests. */
export function crashReplicaForTesting(pool: ServingPool, id: number): void {
  const replica = [...pool['live']].find((r) => r.id === id);
  if (!replica) throw new Error(`no live replica ${id}`);
  const message: ToReplica = { type: 'crash' };
  replica.worker.postMessage(message);
}

function checkReplicas(replicas: number): void {
  if (!Number.isInteger(replicas) || replicas < 1) throw new RangeError(`replicas must be an integer >= 1, got ${replicas}`);
}

function checkPositiveInteger(name: string, value: number | undefined): void {
  if (value !== undefined && (!Number.isInteger(value) || value < 1)) throw new RangeError(`${name} must be an integer >= 1, got ${value}`);
}

function isShared(buffer: ArrayBufferLike): boolean {
  return Object.prototype.toString.call(buffer) === '[object SharedArrayBuffer]';
}
