/**
 * `npm run bench:dsl`: parse+check and emit throughput for a small (MNIST), a medium (50 layers) and a large
 * (2,000 layers) network. Each figure is printed next to an in-process baseline measured in the same run: a JSON
 * round trip of the model's IR (the cost of merely copying the data the compiler produces), and time per layer of the
 * small model (linear growth shows as a per-layer ratio near 1).
 */
import { existsSync, readFileSync } from 'fs';
import { loadavg } from 'os';
import { join } from 'path';
import { analyze, compile, resolveHpo, parseModel, type Backend } from '../src/index';

// Run from the sources (tsx) or compiled into dist/bench: find the fixtures either way.
const FIXTURES = [join(__dirname, '..', 'fixtures'), join(process.cwd(), 'libs', 'dsl', 'fixtures')].find((d) => existsSync(d))!;
const mnist = readFileSync(join(FIXTURES, 'examples', 'mnist.neural'), 'utf8');

function generated(n: number): string {
  const block = ['Dense(64, "relu")', 'BatchNormalization()', 'Dropout(0.1)', 'Dense(64, "tanh")'];
  const layers = Array.from({ length: n - 1 }, (_, i) => block[i % block.length]);
  return `network Deep${n} {\n  input: (64,)\n  layers:\n${layers.map((l) => `    ${l}`).join('\n')}\n    Output(10, "softmax")\n  loss: "sparse_categorical_crossentropy"\n  optimizer: Adam(learning_rate=0.001)\n  train { epochs: 5 batch_size: 32 }\n}\n`;
}

/** Median time in µs of `fn`, run for at least `minMs` after a warm-up. */
function median(fn: () => unknown, minMs = 400): number {
  for (let i = 0; i < 20; i++) fn();
  const times: number[] = [];
  const end = Date.now() + minMs;
  while (Date.now() < end || times.length < 15) {
    const t0 = process.hrtime.bigint();
    fn();
    times.push(Number(process.hrtime.bigint() - t0) / 1000);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

const cases = [
  { name: 'small (MNIST)', src: mnist },
  { name: 'medium (50 layers)', src: generated(50) },
  { name: 'large (2,000 layers)', src: generated(2000) },
];

const rows: string[][] = [];
let smallPerLayer: Record<string, number> = {};
for (const c of cases) {
  const model = parseModel(c.src);
  const layers = model.layers.length;
  const ir = JSON.stringify(resolveHpo(model).model);
  const baseline = median(() => JSON.parse(JSON.stringify(JSON.parse(ir))));
  const parseCheck = median(() => analyze(c.src));
  const emits: Record<string, number> = {};
  for (const backend of ['tensorflow', 'pytorch', 'onnx'] as Backend[]) {
    emits[backend] = median(() => compile(c.src, { backend })) - parseCheck;
  }
  const full = parseCheck + emits.tensorflow;
  const per = { parse: parseCheck / layers, tf: emits.tensorflow / layers, pt: emits.pytorch / layers, onnx: emits.onnx / layers };
  if (!Object.keys(smallPerLayer).length) smallPerLayer = per;
  rows.push([
    c.name,
    String(layers),
    parseCheck.toFixed(1),
    emits.tensorflow.toFixed(1),
    emits.pytorch.toFixed(1),
    emits.onnx.toFixed(1),
    full.toFixed(1),
    (parseCheck / baseline).toFixed(2),
    (per.parse / smallPerLayer.parse).toFixed(2),
    (per.tf / smallPerLayer.tf).toFixed(2),
    (1e6 / parseCheck).toFixed(0),
  ]);
}

const header = ['network', 'layers', 'parse+check µs', 'emit tf µs', 'emit pytorch µs', 'emit onnx µs', 'parse+check+emit(tf) µs', 'parse+check / JSON round trip of IR', 'parse+check µs/layer vs small', 'emit tf µs/layer vs small', 'parse+check per s'];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
console.log(`node ${process.version}, ${new Date().toISOString()}, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')} (medians; other load on the 2 cores inflates them)`);
console.log(line(header));
console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
for (const r of rows) console.log(line(r));
