import { findTsconfig } from '@app/config/sources';
import { Logger } from '@nestjs/common';
import type { BatchProgress, EpochRow, TfjsBackendName } from '@app/dsl/train/types';
import { fork, type ChildProcess } from 'child_process';
import { existsSync } from 'fs';
import { join } from 'path';
import type { ChildMessage, ParentMessage, TaskFailure, TaskResult, TaskStarted, TrainTask } from './protocol';

export interface TrainingSandboxOptions {
  /** Training processes kept at most; each runs one training at a time. */
  processes: number;
  /** V8 heap limit of a training process, in MB (typed arrays of the datasets live outside it). */
  maxHeapMb: number;
  /** tfjs backend to load: `auto` takes the best that loads. */
  backend: 'auto' | TfjsBackendName;
  /** A process that has not stopped this long after a cancel is killed. Default 15 s. */
  cancelGraceMs?: number;
}

/** Callbacks of one run, called in the order the training process sent its messages; each awaited before the next. */
export interface TaskHandlers {
  onStarted?(info: TaskStarted): void | Promise<void>;
  onBatch?(progress: BatchProgress): void | Promise<void>;
  onEpoch?(row: EpochRow, checkpoint: Uint8Array): void | Promise<void>;
  onLog?(line: string): void;
}

/** A run ended without a result: the training itself failed, or its process died. `code` and `message` are for users. */
export class TrainingFailedError extends Error {
  constructor(
    readonly code: string,
    message: string,
    /** What the process printed last (for the log, not for users). */
    readonly detail?: string,
  ) {
    super(message);
    this.name = 'TrainingFailedError';
  }
}

interface Running {
  task: TrainTask;
  handlers: TaskHandlers;
  resolve(result: TaskResult): void;
  reject(err: Error): void;
  /** Handler calls in message order. */
  chain: Promise<void>;
  history: EpochRow[];
  backend: string;
  cancelled: boolean;
  killTimer?: NodeJS.Timeout;
}

interface Slot {
  child: ChildProcess;
  ready: Promise<TfjsBackendName>;
  running?: Running;
  /** The last lines the process wrote to stderr, for crash reports. */
  stderr: string[];
}

interface Waiting {
  start(slot: Slot): void;
  reject(err: Error): void;
}

const STDERR_LINES = 40;

/**
 * Runs trainings in child processes, one per core by default: tfjs' backend is process-wide, wasm runs on one thread,
 * and a training that spins, leaks or runs out of memory must not take the worker's event loop (queue locks,
 * heartbeats, other jobs) with it. Processes start on demand, stay warm for the next run (their dataset cache too),
 * die with the worker (they exit when its IPC channel closes), and are killed when a cancel is not honoured in time.
 */
export class TrainingSandbox {
  private readonly logger = new Logger(TrainingSandbox.name);
  private readonly slots = new Set<Slot>();
  private readonly waiting: Waiting[] = [];
  private closed = false;
  private loadedBackend: TfjsBackendName | null = null;

  constructor(private readonly options: TrainingSandboxOptions) {
    if (!Number.isInteger(options.processes) || options.processes < 1) throw new RangeError(`processes must be a positive integer, got ${options.processes}`);
  }

  /** The tfjs backend the training processes loaded, once one has started. */
  get backend(): TfjsBackendName | null {
    return this.loadedBackend;
  }

  get processCount(): number {
    return this.slots.size;
  }

  /** Starts a process ahead of the first training and resolves with the backend it loaded. */
  async warmUp(): Promise<TfjsBackendName> {
    const slot = [...this.slots][0] ?? this.spawn();
    return slot.ready;
  }

  /**
   * Trains in a free process (waiting for one when all are busy). Resolves with the result, `cancelled` after `signal`
   * aborts (the process stops within a batch, or is killed after the grace period); rejects with TrainingFailedError.
   */
  run(task: TrainTask, handlers: TaskHandlers, signal?: AbortSignal): Promise<TaskResult> {
    if (this.closed) return Promise.reject(new TrainingFailedError('worker_stopping', 'the worker is shutting down'));
    return new Promise<TaskResult>((resolve, reject) => {
      const start = (slot: Slot): void => {
        const running: Running = { task, handlers, resolve, reject, chain: Promise.resolve(), history: [], backend: this.loadedBackend ?? 'unknown', cancelled: false };
        slot.running = running;
        const onAbort = () => this.cancel(slot, running);
        if (signal?.aborted) running.cancelled = true;
        signal?.addEventListener('abort', onAbort, { once: true });
        const settle = () => signal?.removeEventListener('abort', onAbort);
        running.resolve = (r) => {
          settle();
          resolve(r);
        };
        running.reject = (e) => {
          settle();
          reject(e);
        };
        if (running.cancelled) {
          slot.running = undefined;
          running.resolve({ status: 'cancelled', history: [], test: null, backend: running.backend, warnings: [] });
          this.dispatch();
          return;
        }
        slot.ready.then(
          () => this.send(slot, { type: 'train', task }),
          (err: Error) => running.reject(err),
        );
      };
      this.waiting.push({ start, reject });
      this.dispatch();
    });
  }

  /** Kills every process; runs in progress are rejected (their jobs are recovered by the reconciler). */
  async close(): Promise<void> {
    this.closed = true;
    for (const w of this.waiting.splice(0)) w.reject(new TrainingFailedError('worker_stopping', 'the worker is shutting down'));
    await Promise.all([...this.slots].map((slot) => this.retire(slot, new TrainingFailedError('worker_stopping', 'the worker is shutting down'))));
  }

  private dispatch(): void {
    while (this.waiting.length && !this.closed) {
      let slot = [...this.slots].find((s) => !s.running);
      if (!slot) {
        if (this.slots.size >= this.options.processes) return;
        slot = this.spawn();
      }
      this.waiting.shift()!.start(slot);
    }
  }

  private spawn(): Slot {
    const child = startChild(this.options);
    let markReady!: (b: TfjsBackendName) => void;
    let failReady!: (e: Error) => void;
    const ready = new Promise<TfjsBackendName>((res, rej) => {
      markReady = res;
      failReady = rej;
    });
    ready.catch(() => undefined);
    const slot: Slot = { child, ready, stderr: [] };
    const remember = (chunk: Buffer) => {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) slot.stderr.push(line);
      if (slot.stderr.length > STDERR_LINES) slot.stderr.splice(0, slot.stderr.length - STDERR_LINES);
    };
    child.stderr?.on('data', remember);
    child.stdout?.on('data', (chunk: Buffer) => {
      const running = slot.running;
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) running?.handlers.onLog?.(line);
    });
    child.on('message', (msg: ChildMessage) => {
      if (msg.type === 'ready') {
        this.loadedBackend = msg.backend;
        if (msg.fallbackReason) this.logger.log(`training processes use tfjs ${msg.backend} (${msg.fallbackReason})`);
        markReady(msg.backend);
        return;
      }
      this.onMessage(slot, msg);
    });
    child.on('error', (err) => this.logger.error(`training process error: ${err.message}`));
    child.on('exit', () => {
      failReady(this.closed ? new TrainingFailedError('worker_stopping', 'the worker is shutting down') : new TrainingFailedError('training_crashed', 'the training process could not start', slot.stderr.join('\n')));
      if (!this.slots.delete(slot)) return;
      const running = slot.running;
      slot.running = undefined;
      if (running) this.finishAfterExit(running, child.exitCode, child.signalCode, slot.stderr);
      this.dispatch();
    });
    this.slots.add(slot);
    return slot;
  }

  private onMessage(slot: Slot, msg: ChildMessage): void {
    const running = slot.running;
    if (!running || !('jobId' in msg) || msg.jobId !== running.task.jobId) return;
    const then = (fn: () => void | Promise<void>) => {
      running.chain = running.chain.then(fn).catch((err: unknown) => this.logger.error(`training job ${running.task.jobId}: a progress handler failed: ${err instanceof Error ? err.message : String(err)}`));
    };
    switch (msg.type) {
      case 'started':
        running.backend = msg.info.backend;
        then(() => running.handlers.onStarted?.(msg.info));
        break;
      case 'batch':
        then(() => running.handlers.onBatch?.(msg.progress));
        break;
      case 'epoch':
        running.history.push(msg.row);
        then(() => running.handlers.onEpoch?.(msg.row, msg.checkpoint));
        break;
      case 'log':
        running.handlers.onLog?.(msg.line);
        break;
      case 'done':
      case 'failed': {
        clearTimeout(running.killTimer);
        slot.running = undefined;
        void running.chain.then(() => {
          if (msg.type === 'done') running.resolve(msg.result);
          else running.reject(new TrainingFailedError(msg.failure.code, msg.failure.message));
        });
        this.dispatch();
        break;
      }
    }
  }

  private cancel(slot: Slot, running: Running): void {
    if (slot.running !== running || running.cancelled) return;
    running.cancelled = true;
    this.send(slot, { type: 'cancel', jobId: running.task.jobId });
    running.killTimer = setTimeout(() => {
      if (slot.running !== running) return;
      this.logger.warn(`training job ${running.task.jobId} did not stop within ${this.options.cancelGraceMs ?? 15_000} ms of its cancel; killing its process`);
      slot.child.kill('SIGKILL');
    }, this.options.cancelGraceMs ?? 15_000);
  }

  private finishAfterExit(running: Running, code: number | null, signal: NodeJS.Signals | null, stderr: string[]): void {
    clearTimeout(running.killTimer);
    const tail = stderr.join('\n');
    void running.chain.then(() => {
      if (running.cancelled) {
        running.resolve({ status: 'cancelled', history: running.history, test: null, backend: running.backend, warnings: [] });
        return;
      }
      const failure: TaskFailure = /heap out of memory|Allocation failed|ERR_WORKER_OUT_OF_MEMORY/i.test(tail)
        ? { code: 'training_out_of_memory', message: `training needed more than ${this.options.maxHeapMb} MB of memory and was stopped; use a smaller model or batch size` }
        : { code: 'training_crashed', message: `the training process stopped unexpectedly (${signal ?? `exit code ${code}`})` };
      this.logger.error(`training job ${running.task.jobId}: ${failure.message}\n${tail}`);
      running.reject(new TrainingFailedError(failure.code, failure.message, tail));
    });
  }

  private send(slot: Slot, msg: ParentMessage): void {
    if (!slot.child.connected) return;
    slot.child.send(msg, (err) => {
      if (err) this.logger.warn(`could not reach a training process: ${err.message}`);
    });
  }

  private async retire(slot: Slot, reason: Error): Promise<void> {
    const running = slot.running;
    slot.running = undefined;
    this.slots.delete(slot);
    running?.reject(reason);
    if (slot.child.exitCode !== null || slot.child.signalCode !== null) return;
    const exited = new Promise<void>((r) => slot.child.once('exit', () => r()));
    slot.child.kill('SIGKILL');
    await exited;
  }
}

function startChild(options: TrainingSandboxOptions): ChildProcess {
  const execArgv = [`--max-old-space-size=${options.maxHeapMb}`];
  const env: NodeJS.ProcessEnv = { ...process.env, NEURAL_TRAINING_BACKEND: options.backend };
  const stdio: ['ignore', 'pipe', 'pipe', 'ipc'] = ['ignore', 'pipe', 'pipe', 'ipc'];
  const compiled = join(__dirname, 'training.child.js');
  if (!__filename.endsWith('.ts') && existsSync(compiled)) return fork(compiled, [], { execArgv, env, serialization: 'advanced', stdio });
  // From TypeScript sources (tests, tsx): the child compiles its own sources through tsx, with our path aliases.
  return fork(join(__dirname, 'training.child.ts'), [], {
    execArgv: [...execArgv, '--require', require.resolve('tsx/cjs')],
    env: { ...env, TSX_TSCONFIG_PATH: findTsconfig(__dirname) },
    serialization: 'advanced',
    stdio,
  });
}
