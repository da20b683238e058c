import { CompileTimeoutError, DslCompileError } from './compile.errors';
import { DslSandbox } from './dsl-sandbox.service';

/** The seed README's compile example. */
const SEED_MODEL = 'Model MyModel {\n  Input(shape=[28, 28, 1])\n  Conv2D(filters=32, kernel_size=3, activation=relu)\n  Dense(units=10, activation=softmax)\n}';
/** About 3 GB of ONNX weights: takes far longer than any timeout used here. */
const HUGE_MODEL = 'network Huge {\n  input: (28, 28, 1)\n  layers:\n    Flatten()\n    Dense(1000000)\n    Output(10)\n}\n';

describe('DslSandbox', () => {
  let sandbox: DslSandbox;

  afterEach(async () => {
    await sandbox.close();
  });

  it('compiles in a thread and returns code, summary and warnings', async () => {
    sandbox = new DslSandbox({ threads: 1, timeoutMs: 20_000 });
    const out = await sandbox.compile({ source: SEED_MODEL, backend: 'pytorch', dataset: 'MNIST' });
    expect(out.code).toContain('import torch');
    expect(out.summary.name).toBe('MyModel');
    expect(out.summary.output_shape).toEqual([null, 10]);
    expect(Array.isArray(out.warnings)).toBe(true);

    const onnx = await sandbox.compile({ source: SEED_MODEL, backend: 'onnx' });
    expect(onnx.code).toBeUndefined();
    expect(onnx.onnx).toBeInstanceOf(Uint8Array);
    expect(onnx.onnx!.length).toBeGreaterThan(1000);
    expect(sandbox.threadCount).toBe(1);
  });

  it('turns DSL errors into DslCompileError with every diagnostic', async () => {
    sandbox = new DslSandbox({ threads: 1, timeoutMs: 20_000 });
    const err = await sandbox.compile({ source: 'Model Broken {\n  Input(shape=[28, 28, 1])\n  Dense(units=-3)\n  Foo(1)\n}', backend: 'tensorflow' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DslCompileError);
    const dsl = err as DslCompileError;
    expect(dsl.code).toBe('dsl_error');
    expect(dsl.errors.length).toBeGreaterThanOrEqual(2);
    expect(dsl.errors[0]).toEqual(expect.objectContaining({ line: 3, column: expect.any(Number), message: expect.any(String) }));

    const syntax = (await sandbox.compile({ source: 'Model X { Input(shape=[28, 28, 1]) Dense(units=10', backend: 'tensorflow' }).catch((e: unknown) => e)) as DslCompileError;
    expect(syntax).toBeInstanceOf(DslCompileError);
    expect(syntax.code).toBe('dsl_syntax_error');
  });

  it('stops a compile that exceeds the timeout and keeps serving the next ones', async () => {
    sandbox = new DslSandbox({ threads: 1, timeoutMs: 1500 });
    sandbox.warmUp();
    const started = Date.now();
    const slow = sandbox.compile({ source: HUGE_MODEL, backend: 'onnx' });
    const queued = sandbox.compile({ source: SEED_MODEL, backend: 'tensorflow' });
    await expect(slow).rejects.toBeInstanceOf(CompileTimeoutError);
    expect(Date.now() - started).toBeLessThan(5000);
    // The compile waiting behind it runs on a fresh thread.
    expect((await queued).code).toContain('tensorflow');
    expect(sandbox.threadCount).toBe(1);
  });

  it('runs at most `threads` compiles at once and queues the rest', async () => {
    sandbox = new DslSandbox({ threads: 2, timeoutMs: 20_000 });
    const outs = await Promise.all([1, 2, 3, 4, 5].map(() => sandbox.compile({ source: SEED_MODEL, backend: 'tensorflow' })));
    expect(outs.every((o) => o.summary.name === 'MyModel')).toBe(true);
    expect(sandbox.threadCount).toBe(2);
  });

  it('refuses work after close()', async () => {
    sandbox = new DslSandbox({ threads: 1, timeoutMs: 20_000 });
    await sandbox.close();
    await expect(sandbox.compile({ source: SEED_MODEL, backend: 'tensorflow' })).rejects.toThrow(/shut down/);
    expect(sandbox.threadCount).toBe(0);
  });
});
