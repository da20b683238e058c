import { existsSync, readdirSync, readFileSync } from 'fs';
import { join } from 'path';
import { DslError } from '../src/diagnostics';
import { analyze, compile, type Backend } from '../src/index';
import { mulberry32 } from '../src/random';


const VOCAB = [
  'network', 'Model', 'define', 'input', 'layers', 'loss', 'optimizer', 'metrics', 'train', 'execute', 'lr_schedule',
  ':', '{', '}', '(', ')', '[', ']', ',', '=', '*', '@', '/', '-', '$p', '"relu"', "'same'", '"cuda:0"', '3', '0', '-1',
  '1.5', '1e-4', '2147483648', 'None', 'true', 'HPO', 'choice', 'range', 'log_range', 'step', 'Dense', 'Conv2D',
  'MaxPooling2D', 'Flatten', 'Dropout', 'LSTM', 'Embedding', 'TransformerEncoder', 'ResidualConnection', 'Concatenate',
  'Add', 'TimeDistributed', 'Bidirectional', 'Output', 'units', 'filters', 'kernel_size', 'activation', 'Adam',
  'ExponentialDecay', 'epochs', 'batch_size', '#', '\n', ' ', 'MyLayer', 'Reshape', 'GRU', 'BatchNormalization',
];

export function loadSeeds(): string[] {
  // From the sources or compiled into dist/bench: find the fixtures either way.
  const root = [join(__dirname, '..', 'fixtures'), join(process.cwd(), 'libs', 'dsl', 'fixtures')].find((d) => existsSync(d))!;
  const dirs = ['examples', 'ok', 'not-ok'].map((d) => join(root, d));
  const seeds: string[] = [];
  for (const dir of dirs) {
    let files: string[] = [];
    try {
      files = readdirSync(dir).filter((f) => f.endsWith('.neural'));
    } catch {
      continue;
    }
    for (const f of files) seeds.push(readFileSync(join(dir, f), 'utf8'));
  }
  return seeds;
}

/** One fuzz input: random bytes, a token soup, or a mutated seed file (the most productive kind). */
export function fuzzCase(r: () => number, seeds: string[]): string {
  const kind = r();
  const pick = <T>(xs: T[]) => xs[Math.floor(r() * xs.length)];
  if (kind < 0.1) {
    const n = Math.floor(r() * 200);
    return String.fromCharCode(...Array.from({ length: n }, () => Math.floor(r() * 256)));
  }
  if (kind < 0.3) {
    const n = 1 + Math.floor(r() * 60);
    return Array.from({ length: n }, () => pick(VOCAB)).join(r() < 0.5 ? ' ' : '');
  }
  let s = pick(seeds);
  const edits = 1 + Math.floor(r() * 4);
  for (let e = 0; e < edits; e++) {
    const at = Math.floor(r() * (s.length + 1));
    const len = Math.floor(r() * 12);
    const op = r();
    if (op < 0.3) s = s.slice(0, at) + s.slice(at + len);
    else if (op < 0.6) s = s.slice(0, at) + pick(VOCAB) + s.slice(at);
    else if (op < 0.75) s = s.slice(0, at) + s.slice(at, at + len).repeat(2 + Math.floor(r() * 3)) + s.slice(at + len);
    else if (op < 0.9) {
      const other = pick(seeds);
      const from = Math.floor(r() * other.length);
      s = s.slice(0, at) + other.slice(from, from + len * 4) + s.slice(at);
    } else s = s.slice(0, at) + String.fromCharCode(Math.floor(r() * 65536)) + s.slice(at);
  }
  return s;
}

export interface FuzzReport {
  cases: number;
  accepted: number;
  rejected: number;
  /** Inputs that made the library throw anything but DslError. */
  crashes: { input: string; error: string }[];
}

/**
 * Runs `cases` fuzz inputs through analyze(), and through compile() for a share of those that analyse cleanly.
 * Returns the crashes: any exception that is not the library's DslError.
 */
export function fuzz(cases: number, seed: number, compileEvery = 10): FuzzReport {
  const r = mulberry32(seed);
  const seeds = loadSeeds();
  const report: FuzzReport = { cases, accepted: 0, rejected: 0, crashes: [] };
  const backends: Backend[] = ['tensorflow', 'pytorch', 'onnx'];
  for (let i = 0; i < cases; i++) {
    const input = fuzzCase(r, seeds);
    try {
      analyze(input);
      report.accepted++;
      if (i % compileEvery === 0) compile(input, { backend: backends[i % 3] });
    } catch (e) {
      if (e instanceof DslError) report.rejected++;
      else report.crashes.push({ input, error: e instanceof Error ? (e.stack ?? e.message) : String(e) });
    }
  }
  return report;
}
