import { spawnSync } from 'child_process';

/**
 * The Debian interpreter that has PyTorch, numpy and onnx installed. The `python3` first on PATH is another
 * interpreter without them.
 */
export const PYTHON = '/usr/bin/python3';

const imports = new Map<string, boolean>();

/** True when `PYTHON` can import every module (checked once per module list). */
export function pythonHas(...modules: string[]): boolean {
  const key = modules.join(',');
  let ok = imports.get(key);
  if (ok === undefined) {
    const r = spawnSync(PYTHON, ['-c', modules.map((m) => `import ${m}`).join('; ')], { stdio: 'ignore', timeout: 60_000 });
    ok = r.status === 0;
    imports.set(key, ok);
  }
  return ok;
}

/**
 * `it` when `PYTHON` imports every module, otherwise `it.skip` after printing why, so a machine without them
 * skips visibly instead of failing or passing silently.
 */
export function itWithPython(...modules: string[]): jest.It {
  if (pythonHas(...modules)) return it;
  console.warn(`Skipping Python-dependent tests: ${PYTHON} cannot import ${modules.join(', ')} (apt-get install python3-torch python3-onnx).`);
  return it.skip;
}

export interface PythonRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `PYTHON` with `args` (a script path and its arguments, or `-c code`) and returns its output. */
export function runPython(args: string[], opts: { cwd?: string; timeoutMs?: number; input?: string } = {}): PythonRun {
  const r = spawnSync(PYTHON, args, {
    cwd: opts.cwd,
    input: opts.input,
    encoding: 'utf8',
    timeout: opts.timeoutMs ?? 120_000,
    env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1', OMP_NUM_THREADS: '1' },
  });
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}
