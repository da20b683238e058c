import { mkdtempSync, readFileSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { Writable } from 'stream';
import { main } from './cli';

function run(args: string[]): { code: number; out: string; err: string } {
  let out = '';
  let err = '';
  const sink = (append: (s: string) => void) =>
    new Writable({
      write(chunk, _enc, cb) {
        append(String(chunk));
        cb();
      },
    });
  const code = main(args, sink((s) => (out += s)), sink((s) => (err += s)));
  return { code, out, err };
}

describe('neural CLI', () => {
  const dir = mkdtempSync(join(tmpdir(), 'neural-cli-'));
  const good = join(dir, 'good.neural');
  const bad = join(dir, 'bad.neural');
  writeFileSync(good, 'network Net {\n  input: (28, 28, 1)\n  layers:\n    Conv2D(8, 3, "relu")\n    Flatten()\n    Output(10)\n}\n');
  writeFileSync(bad, 'network Net {\n  input: (28, 28, 1)\n  layers:\n    Dropout(1.5)\n    Desne(3)\n}\n');

  it('check prints the summary and exits 0', () => {
    const r = run(['check', good]);
    expect(r.code).toBe(0);
    expect(r.out).toContain('Net: input (None, 28, 28, 1) -> output (None, 10)');
    expect(r.out).toContain('total params: 54170 (trainable 54170)');
  });

  it('prints every error as file:line:col with the source line, a caret and a hint, and exits 1', () => {
    const r = run(['check', bad]);
    expect(r.code).toBe(1);
    expect(r.err).toBe(
      `${bad}:4:13: error: Dropout rate should be between 0 and 1, got 1.5\n      Dropout(1.5)\n              ^\n` +
        `${bad}:5:5: error: Unknown layer type or undefined macro 'Desne'\n      Desne(3)\n      ^\n  hint: did you mean Dense?\n`,
    );
  });

  it('compiles to a file for each backend', () => {
    for (const [backend, file] of [['pytorch', 'm.py'], ['tensorflow', 'm_tf.py'], ['onnx', 'm.onnx']]) {
      const out = join(dir, file);
      const r = run(['compile', good, '--backend', backend, '-o', out]);
      expect(r).toMatchObject({ code: 0, err: '' });
      const bytes = readFileSync(out);
      if (backend === 'onnx') expect(bytes.length).toBeGreaterThan(54170 * 4);
      else expect(bytes.toString()).toContain('def build_model(');
    }
  });

  it('writes Python to stdout, takes HPO values, and refuses binary ONNX on stdout', () => {
    const hpo = join(dir, 'hpo.neural');
    writeFileSync(hpo, 'network H { input: (8,) layers: Dense(HPO(choice(4, 16))) Output(2) }');
    const r = run(['compile', hpo, '--backend', 'pytorch', '--hpo', 'dense_1.units=16']);
    expect(r.code).toBe(0);
    expect(r.out).toContain('nn.Linear(8, 16');
    expect(run(['compile', good, '--backend', 'onnx']).code).toBe(2);
  });

  it('reports usage problems with exit code 2', () => {
    expect(run([]).code).toBe(2);
    expect(run(['compile', good]).err).toContain('--backend must be one of tensorflow, pytorch, onnx');
    expect(run(['check', join(dir, 'missing.neural')]).err).toContain('cannot read');
    expect(run(['check', good, '--nope']).code).toBe(2);
    expect(run(['compile', good, '--backend', 'pytorch', '--hpo', 'oops']).code).toBe(2);
  });
});
