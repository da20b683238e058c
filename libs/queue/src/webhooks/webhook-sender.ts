import { createHmac } from 'crypto';
import http from 'http';
import https from 'https';
import { isIP } from 'net';
import { guardedLookup, isInternalHostname, isNonPublicAddress, parseWebhookUrl } from './webhook-target';

export interface SendOptions {
  secret: string;
  deliveryId: string;
  event: string;
  timeoutMs: number;
  allowPrivate: boolean;
  userAgent: string;
}

/** What one attempt came to. `statusCode` is null when no HTTP answer arrived. */
export interface SendOutcome {
  ok: boolean;
  statusCode: number | null;
  error: string | null;
  durationMs: number;
  /** False for failures a retry cannot fix (a refused target). */
  retryable: boolean;
}

/** `sha256=<hex HMAC-SHA256 of the raw body>` with the tenant's webhook secret (API.md "Webhooks"). */
export function signWebhook(body: string, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(body, 'utf8').digest('hex')}`;
}

/**
 * POSTs the body once. 2xx is success; redirects are not followed (a 3xx is a failure, so a redirect cannot lead a
 * delivery to an address the target check would refuse); the connection goes only to public addresses unless allowed.
 */
export function sendWebhook(rawUrl: string, body: string, options: SendOptions): Promise<SendOutcome> {
  const started = Date.now();
  const done = (ok: boolean, statusCode: number | null, error: string | null, retryable = true): SendOutcome => ({
    ok,
    statusCode,
    error,
    retryable,
    durationMs: Date.now() - started,
  });
  let url: URL;
  try {
    url = parseWebhookUrl(rawUrl);
  } catch (err) {
    return Promise.resolve(done(false, null, (err as Error).message, false));
  }
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (isIP(host) && !options.allowPrivate && isNonPublicAddress(host)) {
    return Promise.resolve(done(false, null, `${host} is a private, loopback or link-local address, which webhooks may not reach`, false));
  }
  if (!options.allowPrivate && isInternalHostname(host)) {
    return Promise.resolve(done(false, null, `${host} names an internal or metadata service (a non-public host), which webhooks may not reach`, false));
  }
  const client = url.protocol === 'https:' ? https : http;
  return new Promise<SendOutcome>((resolve) => {
    const req = client.request(
      url,
      {
        method: 'POST',
        lookup: guardedLookup(options.allowPrivate) as never,
        timeout: options.timeoutMs,
        headers: {
          'Content-Type': 'application/json',
          'Content-Length': Buffer.byteLength(body),
          'User-Agent': options.userAgent,
          'X-Neural-Event': options.event,
          'X-Neural-Delivery': options.deliveryId,
          'X-Neural-Signature': signWebhook(body, options.secret),
        },
      },
      (res) => {
        // The answer's body is not needed; reading it lets the socket be reused or closed.
        res.resume();
        res.on('end', () => {
          const code = res.statusCode ?? 0;
          if (code >= 200 && code < 300) resolve(done(true, code, null));
          else if (code >= 300 && code < 400) resolve(done(false, code, `the receiver answered ${code} (redirects are not followed)`));
          else resolve(done(false, code, `the receiver answered ${code}`));
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${options.timeoutMs} ms`)));
    req.on('error', (err: NodeJS.ErrnoException) => {
      const refused = err.code === 'EADDRNOTAVAIL' && /non-public/.test(err.message);
      resolve(done(false, null, err.message, !refused));
    });
    req.end(body);
  });
}
