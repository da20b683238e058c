/**
 * `npm run bench:train`: the seed's MNIST convnet (Conv2D 32 → auto Flatten → Dense 10 softmax), trained for 2 epochs
 * on all 60,000 MNIST training images through the TrainingSandbox (what a train job runs), one engine at a time so
 * they do not share the cores: tfjs wasm, PyTorch with 1 thread (the sandbox's setting), and PyTorch with 2 threads
 * (runPytorchTraining called directly, since the sandbox pins 1 thread); the pure-JS tfjs cpu backend on a slice only.
 * The full runs repeat for `BENCH_ROUNDS` rounds (default 2); `BENCH_SEED` changes the seed (default 20261201).
 * Prints samples/s and seconds per epoch, wall time, test metrics on the 10,000 test images and the wasm ÷ PyTorch
 * throughput ratios of each round.
 */
import { emitPytorch } from '@app/dsl';
import { loadTfjs, prepareTraining, splitData } from '@app/dsl/train';
import type { EpochRow, TrainingConfigInput } from '@app/dsl/train/types';
import { DEFAULT_FASHION_MNIST_DIR, loadBuiltinDataset } from '@app/datasets';
import { findPython, runPytorchTraining, TrainingSandbox, type TaskHandlers, type TaskResult, type TrainTask } from '@app/training';
import { readFileSync } from 'fs';
import { mkdtemp, rm } from 'fs/promises';
import { cpus, loadavg, tmpdir } from 'os';
import { join } from 'path';

const DSL = 'Model MyModel {\n  Input(shape=[28, 28, 1])\n  Conv2D(filters=32, kernel_size=3, activation=relu)\n  Dense(units=10, activation=softmax)\n}';
const SEED = Number(process.env.BENCH_SEED ?? 20261201);
const CONFIG: TrainingConfigInput = { epochs: 2, batch_size: 32, learning_rate: 0.001, validation_split: 0 };
const CPU_SLICE: TrainingConfigInput = { ...CONFIG, epochs: 1, train_samples: 2048 };
const LIMITS = { maxEpochs: 1000, maxBatchSize: 4096 };
/** Rounds of the full runs, in ABC then CBA order so a drift in the machine's load falls on every engine alike. */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);

interface Measured {
  engine: string;
  round: number;
  scope: string;
  history: EpochRow[];
  test: Record<string, number> | null;
  backend: string;
  wall: number;
  /** From run() to the engine's start event: loading MNIST, planning, the .npy files and torch's import for PyTorch. */
  untilStart: number;
  loadBefore: number[];
  loadAfter: number[];
  /** Mean busy CPUs of the whole machine during the run, from /proc/stat. */
  busyCpus: number;
}

type Runner = (handlers: Required<Pick<TaskHandlers, 'onStarted'>>) => Promise<Pick<TaskResult, 'history' | 'test' | 'backend'>>;

function cpuTicks(): { busy: number; total: number } {
  const [, ...fields] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/);
  const t = fields.map(Number);
  const total = t.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: total - t[3] - t[4], total };
}

async function measure(engine: string, round: number, scope: string, run: Runner): Promise<Measured> {
  const loadBefore = loadavg();
  const ticks = cpuTicks();
  const t0 = performance.now();
  let started = 0;
  const result = await run({ onStarted: () => void (started = performance.now()) });
  const end = performance.now();
  const after = cpuTicks();
  const busyCpus = ((after.busy - ticks.busy) / (after.total - ticks.total)) * cpus().length;
  const m: Measured = {
    engine,
    round,
    scope,
    history: result.history,
    test: result.test,
    backend: result.backend,
    wall: (end - t0) / 1000,
    untilStart: (started - t0) / 1000,
    loadBefore,
    loadAfter: loadavg(),
    busyCpus,
  };
  console.error(`round ${round}, ${engine}: done in ${m.wall.toFixed(1)} s, test accuracy ${m.test?.accuracy}`);
  return m;
}

function task(engine: TrainTask['engine'], trainingConfig: TrainingConfigInput, python?: string): TrainTask {
  return {
    jobId: `bench-${engine}-${Date.now()}`,
    engine,
    dsl: DSL,
    trainingConfig,
    limits: LIMITS,
    dataset: { kind: 'builtin', name: 'MNIST', fashionMnistDir: DEFAULT_FASHION_MNIST_DIR },
    datasetName: 'MNIST',
    seed: SEED,
    python,
  };
}

/** A run through a fresh sandbox; its process start and tfjs load happen before the clock starts. */
function inSandbox(backend: 'wasm' | 'cpu', t: TrainTask): Runner {
  return async (handlers) => {
    const sandbox = new TrainingSandbox({ processes: 1, maxHeapMb: 4096, backend });
    try {
      await sandbox.warmUp();
      const result = await sandbox.run(t, handlers);
      if (result.status !== 'completed') throw new Error(`${t.jobId} ended ${result.status}`);
      return result;
    } finally {
      await sandbox.close();
    }
  };
}

/** The sandbox's PyTorch path (same plan, data split, generated module and driver) with `threads` torch threads. */
function pytorchDirect(python: string, threads: number): Runner {
  return async (handlers) => {
    const { checked, plan } = prepareTraining(DSL, CONFIG, 'pytorch', { limits: LIMITS });
    const mnist = await loadBuiltinDataset('MNIST');
    const split = splitData(plan, { train: mnist.train, numClasses: null });
    const workDir = await mkdtemp(join(tmpdir(), 'bench-train-'));
    let backend = 'torch';
    try {
      const result = await runPytorchTraining({
        python,
        moduleCode: emitPytorch(checked, { dataset: 'MNIST' }),
        checked,
        plan,
        data: { train: split.train, validation: split.validation ?? undefined, test: mnist.test ?? undefined },
        workDir,
        seed: SEED,
        threads,
        onStart: (info) => {
          backend = `torch ${info.torchVersion}, ${info.threads} threads`;
          void handlers.onStarted({ ...info, backend });
        },
      });
      if (result.status !== 'completed') throw new Error(`PyTorch (${threads} threads) ended ${result.status}`);
      const test = result.test ? Object.fromEntries(Object.entries(result.test).map(([k, v]) => [k.replace(/^test_/, ''), v])) : null;
      return { history: result.history, test, backend };
    } finally {
      await rm(workDir, { recursive: true, force: true });
    }
  };
}

const f = (v: number | undefined, digits: number): string => (v === undefined || Number.isNaN(v) ? 'n/a' : v.toFixed(digits));
const pct = (v: number | undefined): string => (v === undefined ? 'n/a' : `${(v * 100).toFixed(2)}%`);
const loads = (l: number[]): string => l.map((v) => v.toFixed(2)).join(' ');
const overall = (m: Measured): number => m.history.reduce((a, r) => a + r.samples_per_second * r.epoch_seconds, 0) / m.history.reduce((a, r) => a + r.epoch_seconds, 0);

async function main(): Promise<void> {
  const python = await findPython();
  const { summary } = prepareTraining(DSL, CONFIG, 'tfjs', { limits: LIMITS });
  // Only to learn why loadTfjs('auto') passes native TensorFlow over; the runs load their backend in their own process.
  const auto = await loadTfjs('auto');
  const loadStart = loadavg();
  const began = new Date();
  console.log(`node ${process.version}, torch ${python ? `${python.torchVersion} (${python.bin})` : 'not found'}, ${cpus().length} CPUs, ${began.toISOString()}, load average before ${loads(loadStart)}`);
  console.log(`model MyModel: Conv2D(32, 3x3, relu) → Flatten (inserted by the checker) → Dense(10, softmax), ${summary.total_params} parameters`);
  console.log(`settings: Adam, learning_rate ${CONFIG.learning_rate}, batch_size ${CONFIG.batch_size}, epochs ${CONFIG.epochs}, validation_split ${CONFIG.validation_split}, seed ${SEED}; test split: 10,000 MNIST test images; ${ROUNDS} rounds of the full runs`);
  console.log(`tfjs 'tensorflow' backend (tfjs-node): not available — loadTfjs('auto') chose ${auto.backend}: ${auto.fallbackReason ?? 'no fallback reason given'}`);

  const engines: [string, Runner][] = [['tfjs wasm', inSandbox('wasm', task('tfjs', CONFIG))]];
  if (python) {
    engines.push(['PyTorch, 1 thread (sandbox)', inSandbox('wasm', task('pytorch', CONFIG, python.bin))]);
    engines.push(['PyTorch, 2 threads (direct)', pytorchDirect(python.bin, 2)]);
  } else {
    console.log('PyTorch: no interpreter with torch and numpy found (findPython); its rows are missing');
  }
  const runs: Measured[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    for (const [engine, run] of round % 2 ? engines : [...engines].reverse()) runs.push(await measure(engine, round, 'full', run));
  }
  runs.push(await measure('tfjs cpu (pure JS)', 1, `slice: first ${CPU_SLICE.train_samples} samples, ${CPU_SLICE.epochs} epoch`, inSandbox('cpu', task('tfjs', CPU_SLICE))));

  console.log('');
  console.log('Per epoch, as the engine times it (the training loop only); epoch 1 includes warm-up.');
  console.log('| round | engine | scope | epoch | samples/s | epoch s | train loss | train accuracy |');
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const m of runs) {
    for (const r of m.history) console.log(`| ${m.round} | ${m.engine} | ${m.scope} | ${r.epoch} | ${f(r.samples_per_second, 1)} | ${f(r.epoch_seconds, 1)} | ${f(r.loss, 4)} | ${pct(r.accuracy)} |`);
  }
  console.log('');
  console.log('Per run. wall s: run() to its result (process start and backend load excluded); until start s: MNIST load, planning, the .npy files and torch import;');
  console.log('rest s: wall − until start − the epochs (checkpoints, progress messages, the test pass on 10,000 images, the model artifacts).');
  console.log('| round | engine | scope | backend | samples/s (all epochs) | wall s | until start s | epochs s | rest s | test accuracy | test loss | load avg before → after | machine busy CPUs |');
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const m of runs) {
    const epochs = m.history.reduce((a, r) => a + r.epoch_seconds, 0);
    console.log(`| ${m.round} | ${m.engine} | ${m.scope} | ${m.backend} | ${f(overall(m), 1)} | ${f(m.wall, 1)} | ${f(m.untilStart, 1)} | ${f(epochs, 1)} | ${f(m.wall - m.untilStart - epochs, 1)} | ${pct(m.test?.accuracy)} | ${f(m.test?.loss, 4)} | ${loads(m.loadBefore)} → ${loads(m.loadAfter)} | ${f(m.busyCpus, 2)} |`);
  }
  console.log('');
  const full = runs.filter((m) => m.scope === 'full');
  const acc = (m: Measured) => m.test?.accuracy ?? 0;
  const verdicts: string[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    const wasm = full.find((m) => m.round === round && m.engine === 'tfjs wasm')!;
    for (const torch of full.filter((m) => m.round === round && m.engine.startsWith('PyTorch'))) {
      const perEpoch = wasm.history.map((r, i) => `epoch ${r.epoch} ${f(r.samples_per_second / torch.history[i].samples_per_second, 2)}`).join(', ');
      const ratio = overall(wasm) / overall(torch);
      console.log(`round ${round}: tfjs wasm ÷ ${torch.engine} samples/s: ${perEpoch}, all epochs ${f(ratio, 2)}`);
      verdicts.push(`round ${round} vs ${torch.engine} ${f(ratio, 2)}× ${ratio >= 1 ? 'met' : 'NOT met'}`);
    }
  }
  console.log(`target test accuracy >= 98%: ${full.map((m) => `round ${m.round} ${m.engine} ${pct(m.test?.accuracy)} ${acc(m) >= 0.98 ? 'met' : 'NOT met'}`).join('; ')}`);
  console.log(`target tfjs wasm samples/s >= PyTorch's: ${verdicts.join('; ')}`);
  console.log(`load average after ${loads(loadavg())}; ${((Date.now() - began.getTime()) / 60000).toFixed(1)} min in all`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
