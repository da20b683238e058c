import express, { json, type NextFunction, type Request, type Response } from 'express';
import type { Server } from 'http';
import { type AddressInfo, connect } from 'net';
import { gzipSync } from 'zlib';
import { bodyParserErrorsMiddleware, declaredBodySizeMiddleware, parseByteSize } from './body-parser-errors.middleware';
import { DomainError } from './domain-error';

/** Writes `head` (and `body`) on a fresh connection; resolves with the status line, or 'timeout'. */
function send(port: number, head: string, body: string | Buffer = '', timeoutMs = 2000): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let data = '';
    const done = (v: string) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(v);
    };
    const timer = setTimeout(() => done('timeout'), timeoutMs);
    socket.on('data', (c: Buffer) => {
      data += c.toString('latin1');
      if (data.includes('\r\n')) done(data.split('\r\n')[0]);
    });
    socket.on('error', () => done(data.split('\r\n')[0] || 'error'));
    socket.write(Buffer.concat([Buffer.from(`${head}\r\n\r\n`, 'latin1'), Buffer.from(body)]));
  });
}

describe('declaredBodySizeMiddleware (real HTTP)', () => {
  let server: Server;
  let port: number;

  beforeAll(async () => {
    const app = express();
    app.use(declaredBodySizeMiddleware('1kb', ['application/json']));
    app.use(json({ limit: '1kb' }));
    app.use(bodyParserErrorsMiddleware('1kb'));
    app.post('/', (req: Request, res: Response) => void res.json({ keys: Object.keys(req.body ?? {}) }));
    app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => void res.status(err instanceof DomainError ? err.status : 500).json({ code: (err as DomainError).code }));
    server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const post = (headers: string[]) => ['POST / HTTP/1.1', 'Host: x', ...headers].join('\r\n');

  it('answers 413 at once when Content-Length declares more than the limit, without waiting for the body', async () => {
    const started = Date.now();
    expect(await send(port, post(['Content-Type: application/json', `Content-Length: ${10 * 1024 ** 3}`]), '{')).toBe('HTTP/1.1 413 Payload Too Large');
    expect(Date.now() - started).toBeLessThan(1000);
    expect(await send(port, post(['Content-Type: application/json', 'Content-Length: 1025']), '{')).toBe('HTTP/1.1 413 Payload Too Large');
  });

  it('lets bodies within the limit, compressed bodies (limited once inflated) and other types through', async () => {
    expect(await send(port, post(['Content-Type: application/json', 'Content-Length: 8']), '{"a": 1}')).toBe('HTTP/1.1 200 OK');
    const gz = gzipSync(JSON.stringify({ pad: 'x'.repeat(4000) }));
    expect(await send(port, post(['Content-Type: application/json', 'Content-Encoding: gzip', `Content-Length: ${gz.length}`]), gz)).toBe('HTTP/1.1 413 Payload Too Large');
    expect(await send(port, post(['Content-Type: text/plain', 'Content-Length: 4']), 'abcd')).toBe('HTTP/1.1 200 OK');
  });

  it('reads BODY_LIMIT sizes', () => {
    expect([parseByteSize('100b'), parseByteSize('64kb'), parseByteSize('1MB')]).toEqual([100, 65536, 1048576]);
    expect(() => parseByteSize('lots')).toThrow(/byte size/);
  });
});
