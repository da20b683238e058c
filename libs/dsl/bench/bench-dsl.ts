/**
 * `npm run bench:dsl`: parse+check and emit throughput for a small (MNIST), a medium (50 layers) and a large
 * (2,000 layers) network. The figures for one network are interleaved in short batches, so load from other processes
 * hits them alike; each is the median time per call. Printed beside them: a baseline run in
 * the same rounds — a JSON round trip of the model's IR, the cost of merely copying what the compiler produces — and the
 * time per layer relative to the small network (a ratio that stays flat is linear growth).
 */
import { existsSync, readFileSync } from 'fs';
import { loadavg } from 'os';
import { join } from 'path';
import { analyze, compile, emitOnnx, emitPytorch, emitTensorflow, parseModel, resolveHpo, check } from '../src/index';

// Run from the sources (tsx) or compiled into dist/bench: find the fixtures either way.
const FIXTURES = [join(__dirname, '..', 'fixtures'), join(process.cwd(), 'libs', 'dsl', 'fixtures')].find((d) => existsSync(d))!;
const mnist = readFileSync(join(FIXTURES, 'examples', 'mnist.neural'), 'utf8');

function generated(n: number): string {
  const block = ['Dense(64, "relu")', 'BatchNormalization()', 'Dropout(0.1)', 'Dense(64, "tanh")'];
  const layers = Array.from({ length: n - 1 }, (_, i) => block[i % block.length]);
  return `network Deep${n} {\n  input: (64,)\n  layers:\n${layers.map((l) => `    ${l}`).join('\n')}\n    Output(10, "softmax")\n  loss: "sparse_categorical_crossentropy"\n  optimizer: Adam(learning_rate=0.001)\n  train { epochs: 5 batch_size: 32 }\n}\n`;
}

/** Median µs per call of each function, measured in interleaved batches for about `totalMs`. */
function interleaved(fns: Record<string, () => unknown>, totalMs: number): Record<string, number> {
  const names = Object.keys(fns);
  const per: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  const batch: Record<string, number> = {};
  for (const n of names) {
    // Warm up (JIT) for ~150 ms, then size batches to ~2 ms each.
    const warm = Date.now() + 150;
    let calls = 0;
    while (Date.now() < warm || calls < 3) {
      fns[n]();
      calls++;
    }
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < 5; i++) fns[n]();
    const once = Number(process.hrtime.bigint() - t0) / 5e6;
    batch[n] = Math.max(1, Math.min(1000, Math.floor(2 / Math.max(once, 1e-3))));
  }
  const end = Date.now() + totalMs;
  let rounds = 0;
  while (Date.now() < end || rounds < 7) {
    for (const n of names) {
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < batch[n]; i++) fns[n]();
      per[n].push(Number(process.hrtime.bigint() - t0) / 1000 / batch[n]);
    }
    rounds++;
  }
  return Object.fromEntries(names.map((n) => [n, per[n].sort((a, b) => a - b)[Math.floor(per[n].length / 2)]]));
}

const cases = [
  { name: 'small (MNIST)', src: mnist, ms: 3000 },
  { name: 'medium (50 layers)', src: generated(50), ms: 3000 },
  { name: 'large (2,000 layers)', src: generated(2000), ms: 8000 },
];

const rows: string[][] = [];
let small: Record<string, number> | undefined;
for (const c of cases) {
  const model = parseModel(c.src);
  const layers = model.layers.length;
  const checked = check(resolveHpo(model).model);
  const ir = JSON.stringify(resolveHpo(model).model);
  const t = interleaved(
    {
      baseline: () => JSON.parse(JSON.stringify(JSON.parse(ir))),
      parseCheck: () => analyze(c.src),
      tf: () => emitTensorflow(checked),
      pt: () => emitPytorch(checked),
      full: () => compile(c.src, { backend: 'tensorflow' }),
    },
    c.ms,
  );
  // ONNX emission allocates every weight (2.8 MB for MNIST): measured on its own so its garbage does not land on the
  // other figures.
  Object.assign(t, interleaved({ onnx: () => emitOnnx(checked, { seed: 1 }) }, c.ms / 3));
  const perLayer = { parseCheck: t.parseCheck / layers, tf: t.tf / layers, pt: t.pt / layers };
  small ??= perLayer;
  rows.push([
    c.name,
    String(layers),
    t.parseCheck.toFixed(1),
    t.tf.toFixed(1),
    t.pt.toFixed(1),
    t.onnx.toFixed(0),
    t.full.toFixed(1),
    (t.parseCheck / t.baseline).toFixed(2),
    `${(perLayer.parseCheck / small.parseCheck).toFixed(2)} / ${(perLayer.tf / small.tf).toFixed(2)} / ${(perLayer.pt / small.pt).toFixed(2)}`,
    (1e6 / t.full).toFixed(0),
  ]);
}

const header = ['network', 'layers', 'parse+check µs', 'emit tf µs', 'emit pytorch µs', 'emit onnx µs', 'compile to tf µs', 'parse+check ÷ IR JSON round trip', 'µs/layer vs small (parse+check / tf / pytorch)', 'compiles/s'];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
console.log(`node ${process.version}, ${new Date().toISOString()}, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
console.log(line(header));
console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
for (const r of rows) console.log(line(r));

/** Median µs of `fn` repeated on its own (no interleaving): the figure a tight loop over one model sees. */
function alone(fn: () => unknown, calls = 5000): number {
  for (let i = 0; i < 2000; i++) fn();
  const ts: number[] = [];
  for (let i = 0; i < calls; i++) {
    const t0 = process.hrtime.bigint();
    fn();
    ts.push(Number(process.hrtime.bigint() - t0) / 1000);
  }
  return ts.sort((a, b) => a - b)[calls >> 1];
}

const mnistChecked = check(resolveHpo(parseModel(mnist)).model);
const soloParse = alone(() => analyze(mnist));
const soloTf = alone(() => emitTensorflow(mnistChecked));
const soloPt = alone(() => emitPytorch(mnistChecked));
console.log(`\nMNIST, each step repeated on its own (median of 5,000): parse+check ${soloParse.toFixed(1)} µs, emit tf ${soloTf.toFixed(1)} µs, emit pytorch ${soloPt.toFixed(1)} µs; parse+check+emit(tf) ${(soloParse + soloTf).toFixed(1)} µs`);
