import { createHmac } from 'crypto';
import { createServer, type IncomingMessage, type Server } from 'http';
import type { AddressInfo } from 'net';
import { checkWebhookTarget, isNonPublicAddress, WebhookTargetError } from './webhook-target';
import { sendWebhook, signWebhook } from './webhook-sender';

interface Received {
  headers: IncomingMessage['headers'];
  body: string;
}

async function receiver(status: number | ((n: number) => number), location?: string): Promise<{ url: string; received: Received[]; close: () => Promise<void> }> {
  const received: Received[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      received.push({ headers: req.headers, body });
      res.writeHead(typeof status === 'number' ? status : status(received.length), location ? { Location: location } : {});
      res.end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/hook`, received, close: () => new Promise<void>((r) => server.close(() => r())) };
}

const options = { secret: 'whsec_test', deliveryId: 'd-1', event: 'completed', timeoutMs: 2000, allowPrivate: true, userAgent: 'test' };

describe('webhook targets', () => {
  it.each(['127.0.0.1', '10.1.2.3', '172.16.0.1', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '::1', 'fd00::1', 'fe80::1', '::ffff:127.0.0.1', '224.0.0.1', '255.255.255.255'])('%s is not public', (ip) => {
    expect(isNonPublicAddress(ip)).toBe(true);
  });

  it.each(['8.8.8.8', '1.1.1.1', '2606:4700:4700::1111'])('%s is public', (ip) => {
    expect(isNonPublicAddress(ip)).toBe(false);
  });

  it('refuses private, loopback and metadata targets unless allowed, and non-http schemes always', async () => {
    for (const url of [
      'http://127.0.0.1:9/x',
      'http://169.254.169.254/latest/meta-data',
      'http://[::1]/x',
      'http://localhost/x',
      'http://10.0.0.5/hook',
      'http://metadata.google.internal/computeMetadata/v1/',
      'http://metadata/computeMetadata/v1/',
      'http://instance-data/latest/',
      'http://api.localhost/x',
      'http://printer.local/x',
      'http://db.internal./x',
      'http://intranet/x',
    ]) {
      await expect(checkWebhookTarget(url, false)).rejects.toBeInstanceOf(WebhookTargetError);
      await expect(checkWebhookTarget(url, true)).resolves.toBeInstanceOf(URL);
    }
    await expect(checkWebhookTarget('ftp://example.com/x', true)).rejects.toThrow(/http or https/);
    await expect(checkWebhookTarget('http://user:pw@example.com/x', true)).rejects.toThrow(/credentials/);
    await expect(checkWebhookTarget('http://metadata.google.internal/x', false)).rejects.toThrow(/internal or metadata service/);
    // Unresolvable now is accepted: every delivery resolves again.
    await expect(checkWebhookTarget('https://your-webhook-url.com/notify', false)).resolves.toBeInstanceOf(URL);
  });
});

describe('sendWebhook (real HTTP on loopback)', () => {
  it('POSTs the body with its HMAC signature, event and delivery id', async () => {
    const r = await receiver(204);
    try {
      const body = JSON.stringify({ job_id: 'j', event: 'completed', status: 'completed', data: {}, timestamp: '2026-01-01T00:00:00Z' });
      const out = await sendWebhook(r.url, body, options);
      expect(out).toMatchObject({ ok: true, statusCode: 204, error: null });
      const [got] = r.received;
      expect(got.body).toBe(body);
      expect(got.headers['content-type']).toBe('application/json');
      expect(got.headers['x-neural-event']).toBe('completed');
      expect(got.headers['x-neural-delivery']).toBe('d-1');
      expect(got.headers['x-neural-signature']).toBe(`sha256=${createHmac('sha256', 'whsec_test').update(body).digest('hex')}`);
      expect(signWebhook(body, 'whsec_test')).toBe(got.headers['x-neural-signature']);
    } finally {
      await r.close();
    }
  });

  it('reports a non-2xx answer, does not follow a redirect, and refuses loopback when private targets are not allowed', async () => {
    const failing = await receiver(500);
    const redirecting = await receiver(302, 'http://169.254.169.254/');
    try {
      expect(await sendWebhook(failing.url, '{}', options)).toMatchObject({ ok: false, statusCode: 500, retryable: true });
      expect(await sendWebhook(redirecting.url, '{}', options)).toMatchObject({ ok: false, statusCode: 302, error: expect.stringContaining('redirects are not followed') });
      expect(redirecting.received).toHaveLength(1);
      const refused = await sendWebhook(failing.url, '{}', { ...options, allowPrivate: false });
      expect(refused).toMatchObject({ ok: false, statusCode: null, retryable: false });
      expect(failing.received).toHaveLength(1);
      const byName = await sendWebhook(failing.url.replace('127.0.0.1', 'localhost'), '{}', { ...options, allowPrivate: false });
      expect(byName).toMatchObject({ ok: false, statusCode: null, retryable: false, error: expect.stringContaining('non-public') });
      expect(failing.received).toHaveLength(1);
    } finally {
      await failing.close();
      await redirecting.close();
    }
  });

  it('gives up on a receiver that does not answer within the timeout', async () => {
    const server = createServer(() => undefined);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    try {
      const started = Date.now();
      const out = await sendWebhook(`http://127.0.0.1:${port}/`, '{}', { ...options, timeoutMs: 300 });
      expect(out).toMatchObject({ ok: false, statusCode: null, retryable: true, error: expect.stringContaining('300 ms') });
      expect(Date.now() - started).toBeLessThan(2000);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
