import { useCallback, useEffect, useRef, useState } from 'react';
import { messageOf } from './api';

export type Loaded<T> = { state: 'loading' } | { state: 'error'; message: string } | { state: 'ready'; data: T };

/** Loads `load()` now and whenever `deps` change; `reload()` loads again without showing the loading state. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]): Loaded<T> & { reload: () => void } {
  const [value, setValue] = useState<Loaded<T>>({ state: 'loading' });
  const seq = useRef(0);
  const run = useCallback((quiet: boolean) => {
    const mine = ++seq.current;
    if (!quiet) setValue({ state: 'loading' });
    load().then(
      (data) => mine === seq.current && setValue({ state: 'ready', data }),
      (err: unknown) => mine === seq.current && setValue({ state: 'error', message: messageOf(err) }),
    );
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);
  useEffect(() => run(false), [run]);
  return { ...value, reload: () => run(true) };
}

/** Calls `fn` every `ms` while mounted. */
export function useInterval(fn: () => void, ms: number | null): void {
  const saved = useRef(fn);
  saved.current = fn;
  useEffect(() => {
    if (ms === null) return;
    const t = setInterval(() => saved.current(), ms);
    return () => clearInterval(t);
  }, [ms]);
}
