import { type ChildProcess, execFileSync, spawn } from 'child_process';
import { type AddressInfo, createServer } from 'net';
import { join } from 'path';

const ROOT = join(__dirname, '..', '..', '..');

/** An entry point of the repository running as its own OS process, with its recent output kept for failure messages. */
export interface Proc {
  child: ChildProcess;
  output: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts `entry` (e.g. `apps/worker/src/main.ts`) from its TypeScript sources, as `npm run start:*` would from the build. */
export function launch(entry: string, env: Record<string, string>): Proc {
  const child = spawn(process.execPath, ['-r', join(ROOT, 'scripts/register-ts.js'), join(ROOT, entry)], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', NODE_ENV: 'test', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  const keep = (chunk: Buffer) => {
    output.push(chunk.toString());
    if (output.length > 400) output.shift();
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.once('exit', (code, signal) => r({ code, signal })));
  return { child, output, exited };
}

/** SIGKILLs the process (no-op when it has exited) and waits for it to go. */
export async function kill(proc: Proc): Promise<void> {
  if (proc.child.exitCode !== null || proc.child.signalCode !== null) return;
  proc.child.kill('SIGKILL');
  await proc.exited;
}

/** The pids of a process's children (its training processes). */
export function childrenOf(pid: number): number[] {
  try {
    return execFileSync('ps', ['-o', 'pid=', '--ppid', String(pid)], { encoding: 'utf8' }).split('\n').map((l) => Number(l.trim())).filter((n) => n > 0);
  } catch {
    return [];
  }
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Reads until `done` holds, every 100 ms; a failing read fails at once, and after `timeoutMs` it fails with what it last read. */
export async function waitUntil<T>(read: () => Promise<T>, done: (v: T) => boolean, timeoutMs = 60_000, what = 'the condition', describeFailure: () => string = () => ''): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await read();
    if (done(v)) return v;
    if (Date.now() > deadline) throw new Error(`${what} not reached within ${timeoutMs} ms; last: ${JSON.stringify(v)?.slice(0, 400)}\n${describeFailure()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** {@link waitUntil} for reads from processes that may be down meanwhile: a failing read is retried; failures show the processes' output. */
export async function until<T>(read: () => Promise<T>, done: (v: T) => boolean, timeoutMs: number, what: string, procs?: Proc | Proc[]): Promise<T> {
  const watched = procs === undefined ? [] : Array.isArray(procs) ? procs : [procs];
  const value = await waitUntil(
    () => read().catch(() => undefined),
    (v) => v !== undefined && done(v),
    timeoutMs,
    what,
    () => watched.map((p) => p.output.join('').slice(-3000)).join('\n---\n'),
  );
  return value as T;
}

/** A loopback port free right now. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}
