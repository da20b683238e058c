import { Logger, type OnApplicationShutdown } from '@nestjs/common';
import { startThread } from '@app/config/sources';
import type { Worker } from 'worker_threads';
import { CompileResourceError, CompileTimeoutError, DatasetMismatchError, DslCompileError, TrainingConfigRejectedError } from './compile.errors';
import type { SandboxCompileMessage, SandboxOutput, SandboxPlanMessage, SandboxPlanOutput, SandboxReply, SandboxRequest, SandboxSweepMessage, SandboxSweepOutput } from './dsl-sandbox.protocol';

export interface DslSandboxOptions {
  /** Compile threads kept at most (each runs one compile at a time); further compiles wait their turn. */
  threads: number;
  /** A compile running longer is stopped (its thread terminated) and fails with CompileTimeoutError. */
  timeoutMs: number;
  /** V8 heap limit of a compile thread, in MB. Default 512. */
  maxHeapMb?: number;
}

export type SandboxCompileRequest = Omit<SandboxCompileMessage, 'id' | 'op'>;
export type SandboxPlanRequest = Omit<SandboxPlanMessage, 'id' | 'op'>;
export type SandboxSweepRequest = Omit<SandboxSweepMessage, 'id' | 'op'>;

interface Task {
  request: SandboxRequest;
  resolve: (output: SandboxOutput | SandboxPlanOutput | SandboxSweepOutput) => void;
  reject: (err: Error) => void;
}

interface Slot {
  worker: Worker;
  task?: Task;
  timer?: NodeJS.Timeout;
}

/**
 * Runs libs/dsl `compile()` in a small pool of worker threads. `compile()` is synchronous, so a timer in the calling
 * thread could never interrupt it; a thread can be terminated. Threads are started on demand and reused.
 */
export class DslSandbox implements OnApplicationShutdown {
  private readonly logger = new Logger(DslSandbox.name);
  private readonly slots = new Set<Slot>();
  private readonly waiting: Task[] = [];
  private readonly maxHeapMb: number;
  private nextId = 1;
  private closed = false;

  constructor(private readonly options: DslSandboxOptions) {
    if (!Number.isInteger(options.threads) || options.threads < 1) throw new RangeError(`threads must be a positive integer, got ${options.threads}`);
    this.maxHeapMb = options.maxHeapMb ?? 512;
  }

  /**
   * Compiles in a thread. Rejects with DslCompileError (invalid source), CompileTimeoutError, CompileResourceError,
   * or a plain Error for a failure inside the compiler itself.
   */
  compile(request: SandboxCompileRequest): Promise<SandboxOutput> {
    return this.submit({ ...request, op: 'compile', id: this.nextId++ }) as Promise<SandboxOutput>;
  }

  /**
   * Plans a training in a thread: the model with the request's training_config, for the engine, against the dataset.
   * Rejects with DslCompileError, TrainingConfigRejectedError, DatasetMismatchError or the resource stops of compile.
   */
  plan(request: SandboxPlanRequest): Promise<SandboxPlanOutput> {
    return this.submit({ ...request, op: 'plan', id: this.nextId++ }) as Promise<SandboxPlanOutput>;
  }

  /**
   * A sweep's search space and points, each planned as plan() would (a point that cannot train carries its reason).
   * Rejects as plan() does for errors of the model itself.
   */
  sweep(request: SandboxSweepRequest): Promise<SandboxSweepOutput> {
    return this.submit({ ...request, op: 'sweep', id: this.nextId++ }) as Promise<SandboxSweepOutput>;
  }

  private submit(request: SandboxRequest): Promise<SandboxOutput | SandboxPlanOutput | SandboxSweepOutput> {
    if (this.closed) return Promise.reject(new Error('the DSL sandbox is shut down'));
    return new Promise((resolve, reject) => {
      this.waiting.push({ request, resolve, reject });
      this.dispatch();
    });
  }

  /** Starts one thread ahead of the first compile, so that compile does not pay the thread's start-up. */
  warmUp(): void {
    if (!this.closed && this.slots.size === 0) this.spawn();
  }

  /** Threads currently alive (for tests and metrics). */
  get threadCount(): number {
    return this.slots.size;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const task of this.waiting.splice(0)) task.reject(new Error('the DSL sandbox is shut down'));
    await Promise.all([...this.slots].map((slot) => this.retire(slot, new Error('the DSL sandbox is shut down'))));
  }

  /** Last phase of shutdown, so jobs still finishing in `beforeApplicationShutdown` keep their threads. */
  onApplicationShutdown(): Promise<void> {
    return this.close();
  }

  private dispatch(): void {
    while (this.waiting.length > 0) {
      let slot = [...this.slots].find((s) => !s.task);
      if (!slot) {
        if (this.slots.size >= this.options.threads) return;
        slot = this.spawn();
      }
      this.run(slot, this.waiting.shift()!);
    }
  }

  private run(slot: Slot, task: Task): void {
    slot.task = task;
    slot.worker.ref();
    slot.timer = setTimeout(() => {
      void this.retire(slot, new CompileTimeoutError(this.options.timeoutMs));
    }, this.options.timeoutMs);
    slot.worker.postMessage(task.request);
  }

  private spawn(): Slot {
    const slot: Slot = { worker: startThread(__filename, 'dsl-compile.worker', { resourceLimits: { maxOldGenerationSizeMb: this.maxHeapMb } }) };
    slot.worker.unref();
    slot.worker.on('message', (reply: SandboxReply) => {
      const task = slot.task;
      if (!task || reply.id !== task.request.id) return;
      this.release(slot);
      if (reply.ok) task.resolve(reply.output);
      else if (reply.diagnostics) task.reject(new DslCompileError(reply.diagnostics));
      else if ('configErrors' in reply) task.reject(new TrainingConfigRejectedError(reply.configErrors));
      else if ('mismatch' in reply) task.reject(new DatasetMismatchError(reply.mismatch.message));
      else task.reject(new Error(`the DSL compiler failed: ${reply.failure}`));
      this.dispatch();
    });
    slot.worker.on('error', (err: Error & { code?: string }) => {
      const reason = err.code === 'ERR_WORKER_OUT_OF_MEMORY' ? new CompileResourceError(this.maxHeapMb) : new Error(`compile thread crashed: ${err.message}`);
      if (!slot.task) this.logger.error(`idle compile thread crashed: ${err.message}`);
      void this.retire(slot, reason);
    });
    slot.worker.on('exit', (code) => {
      if (this.slots.has(slot)) void this.retire(slot, new Error(`compile thread exited with code ${code}`));
    });
    this.slots.add(slot);
    return slot;
  }

  private release(slot: Slot): void {
    clearTimeout(slot.timer);
    slot.task = undefined;
    slot.timer = undefined;
    slot.worker.unref();
  }

  /** Removes a thread for good, failing the compile it was running (if any) with `reason`. */
  private async retire(slot: Slot, reason: Error): Promise<void> {
    if (!this.slots.delete(slot)) return;
    const task = slot.task;
    this.release(slot);
    task?.reject(reason);
    await slot.worker.terminate().catch(() => undefined);
    if (!this.closed) this.dispatch();
  }
}
