import { connect } from 'net';

/** A request written to the socket byte for byte: nothing is normalised, encoded or validated on the way. */
export interface RawRequest {
  method: string;
  /** The request target exactly as sent (already percent-encoded where wanted). */
  path: string;
  /** Header lines in order; a value may hold anything, CR and LF included. */
  headers?: Array<[string, string]>;
  body?: Buffer | string;
  /** Content-Length is added for a body unless false (or a Content-Length / Transfer-Encoding header is given). */
  contentLength?: boolean;
  timeoutMs?: number;
  /** Keep reading this long after a complete answer (to see a second, smuggled one). */
  lingerMs?: number;
  /** Connect from this loopback address (127.0.0.x), to be another client to the per-address limits. */
  localAddress?: string;
}

export interface RawResponse {
  status: number;
  /** Lower-cased names; repeated headers joined with ", ". */
  headers: Record<string, string>;
  /** The status line and header block as received. */
  head: string;
  body: Buffer;
  text: string;
  /** The body parsed as JSON when it is JSON, else undefined. */
  json: any;
  /** Everything the server sent on the connection (a second response here means the request was smuggled). */
  raw: Buffer;
  /** No complete answer before the timeout / the connection failed. */
  error?: string;
}

/** One request on its own connection (`Connection: close`), answered in full. */
export function rawRequest(baseUrl: string, req: RawRequest): Promise<RawResponse> {
  const { hostname, port } = new URL(baseUrl);
  const body = req.body === undefined ? undefined : Buffer.isBuffer(req.body) ? req.body : Buffer.from(req.body, 'utf8');
  const headers = req.headers ?? [];
  const has = (name: string) => headers.some(([k]) => k.toLowerCase() === name);
  const lines = [`${req.method} ${req.path} HTTP/1.1`, ...(has('host') ? [] : [`Host: ${hostname}:${port}`])];
  for (const [k, v] of headers) lines.push(`${k}: ${v}`);
  if (body && req.contentLength !== false && !has('content-length') && !has('transfer-encoding')) lines.push(`Content-Length: ${body.length}`);
  if (!has('connection')) lines.push('Connection: close');
  const head = Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
  const payload = body ? Buffer.concat([head, body]) : head;

  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let settled = false;
    const socket = connect({ port: Number(port), host: hostname, localAddress: req.localAddress });
    const finish = (error?: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(parseResponse(Buffer.concat(chunks), req.method, error));
    };
    const timer = setTimeout(() => finish(`no complete answer within ${req.timeoutMs ?? 15_000} ms`), req.timeoutMs ?? 15_000);
    socket.on('data', (c: Buffer) => {
      chunks.push(c);
      const all = Buffer.concat(chunks);
      const end = all.indexOf('\r\n\r\n');
      if (end < 0) return;
      const headText = all.subarray(0, end).toString('latin1');
      const length = /\r\ncontent-length:\s*(\d+)/i.exec(headText)?.[1];
      const rest = all.subarray(end + 4);
      const complete =
        req.method === 'HEAD' ||
        / (204|304) /.test(headText.slice(0, 16)) ||
        (length !== undefined && rest.length >= Number(length)) ||
        (/\r\ntransfer-encoding:\s*chunked/i.test(headText) && (rest.subarray(-7).toString('latin1') === '\r\n0\r\n\r\n' || rest.toString('latin1') === '0\r\n\r\n'));
      // Keep-alive servers (an SSE stream sets its own Connection header) don't close: a complete message is the end.
      if (complete) {
        if (req.lingerMs) setTimeout(() => finish(), req.lingerMs);
        else finish();
      }
    });
    socket.on('end', () => finish());
    socket.on('close', () => finish());
    // A server that answers early (413) and resets the connection while we still write is a normal outcome.
    socket.on('error', (err: NodeJS.ErrnoException) => (chunks.length ? finish() : finish(`connection error: ${err.code ?? err.message}`)));
    socket.write(payload);
  });
}

function parseResponse(raw: Buffer, method: string, error?: string): RawResponse {
  const end = raw.indexOf('\r\n\r\n');
  if (end < 0) return { status: 0, headers: {}, head: raw.toString('latin1'), body: Buffer.alloc(0), text: '', json: undefined, raw, error: error ?? 'the connection closed without an answer' };
  const head = raw.subarray(0, end).toString('latin1');
  const [statusLine, ...headerLines] = head.split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? 0);
  const headers: Record<string, string> = {};
  for (const line of headerLines) {
    const i = line.indexOf(':');
    if (i <= 0) continue;
    const name = line.slice(0, i).trim().toLowerCase();
    const value = line.slice(i + 1).trim();
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
  }
  let body = raw.subarray(end + 4);
  if (method === 'HEAD' || status === 204 || status === 304) body = Buffer.alloc(0);
  else if (/chunked/i.test(headers['transfer-encoding'] ?? '')) body = dechunk(body);
  else if (headers['content-length'] !== undefined) body = body.subarray(0, Number(headers['content-length']));
  const text = body.toString('utf8');
  let json: unknown;
  if (/json/i.test(headers['content-type'] ?? '')) {
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
  }
  return { status, headers, head, body, text, json, raw, error: status ? undefined : (error ?? 'no status line') };
}

function dechunk(data: Buffer): Buffer {
  const out: Buffer[] = [];
  let at = 0;
  for (;;) {
    const lineEnd = data.indexOf('\r\n', at);
    if (lineEnd < 0) break;
    const size = parseInt(data.subarray(at, lineEnd).toString('latin1'), 16);
    if (!Number.isFinite(size) || size === 0) break;
    out.push(data.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
  }
  return Buffer.concat(out);
}

/** Runs `tasks` with at most `concurrency` in flight, in order of start. */
export async function pool<T>(items: readonly T[], concurrency: number, run: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(concurrency, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      await run(items[i], i);
    }
  });
  await Promise.all(lanes);
}
