import { execFile } from 'node:child_process';

/** An interpreter that can run the training driver. */
export interface PythonInfo {
  /** What to spawn: the path or command name it was found under. */
  bin: string;
  /** `torch.__version__`, e.g. `1.13.0a0`. */
  torchVersion: string;
}

/** Debian's interpreter, where `apt-get install python3-torch` puts PyTorch. */
export const SYSTEM_PYTHON = '/usr/bin/python3';

const PROBE_TIMEOUT_MS = 20_000;
const PROBE = 'import numpy, torch; print(torch.__version__)';

const found = new Map<string, Promise<PythonInfo | null>>();

/**
 * The torch version `bin` can import, or null when it cannot: not found, not executable, no torch or numpy, or no
 * answer within `timeoutMs` (the interpreter is then SIGKILLed, so a hung one never hangs the caller).
 */
export function probeTorch(bin: string, timeoutMs = PROBE_TIMEOUT_MS): Promise<string | null> {
  return new Promise((resolve) => {
    execFile(
      bin,
      ['-c', PROBE],
      { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 64 * 1024, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', PYTHONDONTWRITEBYTECODE: '1', OMP_NUM_THREADS: '1' } },
      (err, stdout) => {
        const version = String(stdout ?? '').trim().split('\n').pop()?.trim() ?? '';
        resolve(!err && /^\d+\.\d+/.test(version) ? version : null);
      },
    );
  });
}

/**
 * An interpreter that can import torch (and numpy, which the driver needs): `preferred` (the `PYTHON_BIN` setting)
 * alone when given — an operator who names one means that one — else the first of `/usr/bin/python3` and `python3`
 * on PATH; null when none can. Each candidate gets 20 s. The answer is memoised per `preferred` value.
 */
export function findPython(preferred?: string): Promise<PythonInfo | null> {
  const key = preferred ?? '';
  let result = found.get(key);
  if (!result) {
    result = locate(preferred);
    found.set(key, result);
  }
  return result;
}

async function locate(preferred: string | undefined): Promise<PythonInfo | null> {
  const candidates = preferred ? [preferred] : [SYSTEM_PYTHON, 'python3'];
  for (const bin of candidates) {
    const torchVersion = await probeTorch(bin);
    if (torchVersion) return { bin, torchVersion };
  }
  return null;
}
