import { existsSync } from 'fs';
import { dirname, join } from 'path';
import { Worker, type WorkerOptions } from 'worker_threads';

/**
 * Starts the worker thread `<name>.js` beside `callerFile` when the caller runs compiled; from TypeScript sources
 * (tests, tsx) the thread compiles `<name>.ts` itself through tsx, with the repo's path aliases.
 */
export function startThread(callerFile: string, name: string, options: WorkerOptions = {}): Worker {
  const dir = dirname(callerFile);
  const compiled = join(dir, `${name}.js`);
  if (!callerFile.endsWith('.ts') && existsSync(compiled)) return new Worker(compiled, options);
  const source = join(dir, `${name}.ts`);
  const tsx = require.resolve('tsx/cjs/api');
  return new Worker(`require(${JSON.stringify(tsx)}).register(); require(${JSON.stringify(source)});`, {
    ...options,
    eval: true,
    env: { ...process.env, TSX_TSCONFIG_PATH: findTsconfig(dir) },
  });
}

/** The nearest tsconfig.json at or above `from`, for tsx to resolve the path aliases of code run from sources. */
export function findTsconfig(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, 'tsconfig.json');
    if (existsSync(candidate)) return candidate;
    if (dirname(dir) === dir) throw new Error(`no tsconfig.json above ${from} to run TypeScript sources`);
  }
}
