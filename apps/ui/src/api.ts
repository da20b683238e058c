import { createNeuralClient, NeuralApiError, unwrap, type NeuralClient, type Schema } from '@app/sdk';

export { unwrap, NeuralApiError };
export type { Schema };

const KEY = 'neural.apiKey';

/** The API key, kept for the browser session only (sessionStorage: gone when the tab closes). */
export const session = {
  get key(): string | null {
    return sessionStorage.getItem(KEY);
  },
  set(key: string): void {
    sessionStorage.setItem(KEY, key);
  },
  clear(): void {
    sessionStorage.removeItem(KEY);
  },
};

let cached: { key: string; client: NeuralClient } | undefined;

/** The typed SDK client for the gateway that served this page, with the session's key. */
export function api(): NeuralClient {
  const key = session.key ?? '';
  if (cached?.key !== key) cached = { key, client: createNeuralClient({ baseUrl: location.origin, apiKey: key }) };
  return cached.client;
}

/** A message a person can act on, from whatever a call threw. */
export function messageOf(err: unknown): string {
  if (err instanceof NeuralApiError) return err.detail || err.title || err.message;
  return err instanceof Error ? err.message : String(err);
}

export interface StreamEvent {
  event: string;
  data: unknown;
}

/**
 * Server-Sent Events with the API key: EventSource cannot send headers, so the stream is read with fetch. Calls
 * `onEvent` per event until the stream ends (resolves) or `signal` aborts.
 */
export async function streamEvents(path: string, onEvent: (e: StreamEvent) => void, signal: AbortSignal): Promise<void> {
  const res = await fetch(path, { headers: { 'X-API-Key': session.key ?? '', Accept: 'text/event-stream' }, signal });
  if (!res.ok || !res.body) throw new Error(`the event stream answered ${res.status}`);
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let cut: number;
    while ((cut = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      let event = 'message';
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line.startsWith('event:')) event = line.slice(6).trim();
        else if (line.startsWith('data:')) data.push(line.slice(5).trimStart());
      }
      if (data.length) onEvent({ event, data: JSON.parse(data.join('\n')) });
    }
  }
}

/** Downloads an authenticated file (a model, an artifact) under its server-given name. */
export async function download(path: string, fallbackName: string): Promise<void> {
  const res = await fetch(path, { headers: { 'X-API-Key': session.key ?? '' } });
  if (!res.ok) throw new Error(`the download answered ${res.status}`);
  const name = /filename="?([^";]+)"?/.exec(res.headers.get('Content-Disposition') ?? '')?.[1] ?? fallbackName;
  const url = URL.createObjectURL(await res.blob());
  const a = Object.assign(document.createElement('a'), { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
