import { useEffect, useState } from 'react';

/** The route of the page: `#/jobs/123` → `['jobs', '123']`. Hash routes need no server rewrites. */
export function useRoute(): string[] {
  const read = () => location.hash.replace(/^#\/?/, '').split('?')[0].split('/').filter(Boolean).map(decodeURIComponent);
  const [route, setRoute] = useState(read);
  useEffect(() => {
    const on = () => setRoute(read());
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return route;
}

/** Query parameters of the hash route (`#/experiments/compare?ids=a,b`). */
export function routeQuery(): URLSearchParams {
  return new URLSearchParams(location.hash.split('?')[1] ?? '');
}

export function href(...parts: Array<string | number>): string {
  return `#/${parts.map((p) => encodeURIComponent(String(p))).join('/')}`;
}

export function go(...parts: Array<string | number>): void {
  location.hash = href(...parts);
}
