import { APP_CONFIG, type AppConfig } from '@app/config';
import { findPython, TrainingFailedError, TrainingSandbox } from '@app/training';
import { Inject, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { randomUUID } from 'crypto';
import { hostname } from 'os';
import type { WorkerInfo } from '../worker-heartbeat.service';

/**
 * What this worker can train with, announced in its heartbeat so gateways can report it (`/health`) and refuse what no
 * worker can do. Starts a training process at boot, which also makes the first job's start faster.
 */
@Injectable()
export class WorkerCapabilities implements OnApplicationBootstrap {
  private readonly logger = new Logger(WorkerCapabilities.name);
  /** Readable in job rows and leaderboards (host and pid), unique across restarts (the suffix). */
  private readonly workerId = `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
  private pytorch: string | null = null;
  /** Settles once the training backend and PyTorch have both been looked for. */
  ready: Promise<void> = Promise.resolve();

  constructor(
    private readonly sandbox: TrainingSandbox,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  onApplicationBootstrap(): void {
    const backend = this.sandbox.warmUp().then(
      (b) => this.logger.log(`training processes run tfjs on ${b}`),
      (err: TrainingFailedError) => {
        if (err.code !== 'worker_stopping') this.logger.error(`could not start a training process: ${err.message}`);
      },
    );
    const python = findPython(this.config.training.pythonBin).then(
      (found) => {
        this.pytorch = found?.torchVersion ?? null;
        this.logger.log(found ? `PyTorch ${found.torchVersion} at ${found.bin}` : 'no Python with PyTorch: backend pytorch jobs cannot run here');
      },
      () => undefined,
    );
    this.ready = Promise.all([backend, python]).then(() => undefined);
  }

  info(): Omit<WorkerInfo, 'at'> {
    return { workerId: this.workerId, trainingBackend: this.sandbox.backend, pytorch: this.pytorch };
  }
}
