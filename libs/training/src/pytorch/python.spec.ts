import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findPython, probeTorch, SYSTEM_PYTHON } from './python';

describe('findPython', () => {
  const dir = mkdtempSync(join(tmpdir(), 'find-python-'));
  const script = (name: string, body: string): string => {
    const path = join(dir, name);
    writeFileSync(path, `#!/bin/sh\n${body}\n`);
    chmodSync(path, 0o755);
    return path;
  };
  // A real interpreter that cannot see Debian's dist-packages (-S skips site), so `import torch` fails in it.
  const noTorch = script('python-without-torch', `exec ${SYSTEM_PYTHON} -S "$@"`);
  const hung = script('python-hung', 'exec sleep 60');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('finds /usr/bin/python3 with its torch version (CI installs python3-torch: this never skips)', async () => {
    const found = await findPython();
    expect(found).toEqual({ bin: SYSTEM_PYTHON, torchVersion: expect.stringMatching(/^\d+\.\d+/) });
    const real = execFileSync(SYSTEM_PYTHON, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' }).trim();
    expect(found!.torchVersion).toBe(real);
  });

  it('refuses interpreters without torch, missing paths and hung interpreters', async () => {
    expect(execFileSync(noTorch, ['-c', 'print(1 + 1)'], { encoding: 'utf8' }).trim()).toBe('2');
    expect(await probeTorch(noTorch)).toBeNull();
    expect(await probeTorch(join(dir, 'no-such-python'))).toBeNull();
    const started = Date.now();
    expect(await probeTorch(hung, 300)).toBeNull();
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('uses a preferred interpreter alone (no fallback when PYTHON_BIN names one without torch), otherwise finds /usr/bin/python3; memoised', async () => {
    const first = findPython(noTorch);
    expect(await first).toBeNull();
    expect(findPython(noTorch)).toBe(first);
    expect(await findPython(SYSTEM_PYTHON)).toEqual({ bin: SYSTEM_PYTHON, torchVersion: expect.any(String) });
    expect(await findPython()).toEqual({ bin: SYSTEM_PYTHON, torchVersion: expect.any(String) });
  });

  it('judges the python3 first on PATH by what it can import (on this machine: pyenv, without torch, refused)', async () => {
    let hasTorch = true;
    try {
      execFileSync('python3', ['-c', 'import torch, numpy'], { stdio: 'ignore', env: { PATH: process.env.PATH } });
    } catch {
      hasTorch = false;
    }
    expect(await probeTorch('python3')).toEqual(hasTorch ? expect.stringMatching(/^\d+\.\d+/) : null);
  });
});
