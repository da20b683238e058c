import { randomBytes } from 'crypto';
import type { Fixture } from './fixture';
import { setPath } from './inventory';
import type { Ledger, Principal } from './ledger';
import { pool, type RawResponse } from './raw-http';
import { integrity } from './attacks-tenants';
import { requestFor, safeRequestFor } from './requests';

/** Targets a webhook must never be allowed to reach (with WEBHOOK_ALLOW_PRIVATE=false). */
export function ssrfTargets(localReceiver: string): string[] {
  return [
    localReceiver,
    'http://127.0.0.1/hook',
    'http://127.0.0.1:6379/',
    'http://127.1/',
    'http://localhost/hook',
    'http://LOCALHOST./hook',
    'http://sub.localhost/hook',
    'http://10.0.0.1/hook',
    'http://172.16.0.1/hook',
    'http://192.168.1.1/hook',
    'http://169.254.169.254/latest/meta-data/',
    'http://metadata.google.internal/computeMetadata/v1/',
    'http://metadata.internal/',
    'http://[::1]/hook',
    'http://[::ffff:127.0.0.1]/hook',
    'http://[::ffff:a9fe:a9fe]/latest/meta-data/',
    'http://[0:0:0:0:0:ffff:7f00:1]/hook',
    'http://[fd00::1]/hook',
    'http://[fe80::1]/hook',
    'http://[::]/hook',
    'http://[64:ff9b::7f00:1]/hook',
    'http://[2002:7f00:1::]/hook',
    'http://0.0.0.0/hook',
    'http://0/hook',
    'http://2130706433/hook',
    'http://0x7f000001/hook',
    'http://0177.0.0.1/hook',
    'http://0x7f.0.0.1/hook',
    'http://100.100.100.200/latest/meta-data/',
    'http://100.64.0.1/hook',
    'http://224.0.0.1/hook',
    'http://255.255.255.255/hook',
    'http://198.18.0.1/hook',
    'file:///etc/passwd',
    'gopher://127.0.0.1:6379/_INFO',
    'ftp://example.com/x',
    'dict://127.0.0.1:6379/info',
    'ldap://127.0.0.1/',
    'javascript:alert(1)',
    'data:text/plain,hello',
    'http://user:pass@example.com/hook',
    'http://example.com@127.0.0.1/hook',
    'http://127.0.0.1%2f@example.com/hook',
    'http://127.0.0.1#@example.com/hook',
    `http://${'a'.repeat(3000)}.example.com/hook`,
    'http:///hook',
    'http://[::1/hook',
    ' http://127.0.0.1/hook',
    'http://127.0.0.1\r\nX-Injected: 1/hook',
  ];
}

/** Public targets: accepted (the route then fails on something else, or queues the job). */
const PUBLIC_TARGETS = ['http://93.184.215.14/hook', 'https://8.8.8.8/hook'];

/**
 * SSRF: every route whose body takes `webhook_url` (from the OpenAPI document), on a gateway with
 * WEBHOOK_ALLOW_PRIVATE=false: each private, loopback, link-local, metadata, encoded-IP or non-http target is a 422
 * on webhook_url, and the local receiver never hears from it.
 */
export async function ssrfAttacks(fx: Fixture, ledger: Ledger): Promise<void> {
  const cls = 'ssrf';
  const routes = fx.routes.filter((r) => r.bodySchema?.properties?.webhook_url);
  const received = fx.receiver.received.length;
  const local = `${fx.receiver.url}/ssrf`;
  const writer: Principal = fx.ssrfWriter;
  const tasks = routes.flatMap((route) => ssrfTargets(local).map((target) => ({ route, target })));
  const bodyFor = (routeId: string, target: string): string => {
    const base = JSON.parse(String(requestFor(fx, fx.routes.find((r) => r.id === routeId)!, fx.A).body));
    // On the SSRF gateway the fixture's models do not exist: a deployment names one, and is refused after the URL check.
    return JSON.stringify(setPath(base, ['webhook_url'], target));
  };
  const onWebhookUrl = (res: RawResponse) => res.status === 422 && Array.isArray(res.json?.errors) && res.json.errors.some((e: { field?: string }) => e.field === 'webhook_url');
  await pool(tasks, 6, async ({ route, target }) => {
    await ledger.attack(
      cls,
      writer,
      { method: route.method, path: route.template, headers: [['Content-Type', 'application/json']], body: bodyFor(route.id, target) },
      (res) => (onWebhookUrl(res) ? undefined : `webhook_url ${JSON.stringify(target.slice(0, 60))} was not refused on webhook_url: ${res.status} ${res.json?.code ?? ''} ${JSON.stringify(res.json?.errors ?? '').slice(0, 120)}`),
      { url: fx.ssrf.url, route: route.id },
    );
  });
  // A public target passes the URL check (the deployment then fails on its unknown model instead).
  const deployments = routes.find((r) => r.id === 'POST /deployments');
  if (deployments) {
    for (const target of PUBLIC_TARGETS) {
      await ledger.attack(
        cls,
        writer,
        { method: 'POST', path: '/deployments', headers: [['Content-Type', 'application/json']], body: bodyFor(deployments.id, target) },
        (res) => (res.status === 422 && !onWebhookUrl(res) ? undefined : `a public webhook_url ${target} was refused: ${res.status} ${JSON.stringify(res.json?.errors ?? '')}`),
        { url: fx.ssrf.url, route: deployments.id },
      );
    }
  }
  await new Promise((r) => setTimeout(r, 300));
  const heard = fx.receiver.received.slice(received).filter((r) => r.path.startsWith('/hook/ssrf'));
  if (heard.length) ledger.fail(cls, 'POST', '(webhook)', writer.name, 0, `the local receiver got ${heard.length} deliveries from the gateway that refuses private targets`);
}

const MARK = `injected${randomBytes(3).toString('hex')}`;

/**
 * Header injection: CR/LF (raw, bare, encoded), NUL, obs-fold and latin-1 bytes in X-Request-Id, Idempotency-Key,
 * the API key, Authorization, Origin and Content-Type; Host and X-Forwarded-* spoofing; request smuggling shapes.
 * No injected header or second response comes back, X-Request-Id is never echoed unsafely, nothing fails, and CORS
 * answers only the configured origin.
 */
export async function headerAttacks(fx: Fixture, ledger: Ledger): Promise<void> {
  const cls = 'header-injection';
  const { A } = fx;
  const key = A.keys.write.key;
  const h = fx.apiKeyHeader;
  // `split`: CRLF ends the value on the wire, so the server sees `sane` intact plus an extra header line (bare CR or LF,
  // NUL and obs-fold are refused by Node's parser).
  const variants = (sane: string): Array<{ v: string; split: boolean }> => [
    { v: `${sane}\r\nX-${MARK}: 1`, split: true },
    { v: `${sane}\r\nSet-Cookie: ${MARK}=1`, split: true },
    { v: `${sane}\nX-${MARK}: 1`, split: false },
    { v: `${sane}\rX-${MARK}: 1`, split: false },
    { v: `${sane}%0d%0aX-${MARK}:%201`, split: false },
    { v: `${sane}\\r\\nX-${MARK}: 1`, split: false },
    { v: `${sane}\u0000X`, split: false },
    { v: `${sane}\r\n X-${MARK}: folded`, split: false },
    { v: `${sane}\u00e9\u00ff`, split: false },
  ];
  const values = (sane: string) => variants(sane).map((x) => x.v);
  const targets = fx.routes.filter((r) => !r.isPublic);
  const requestIdSafe = (res: RawResponse) => {
    const id = res.headers['x-request-id'];
    if (id !== undefined && (id.includes(MARK) || /[\r\n%\\]/.test(id))) return `X-Request-Id came back as ${JSON.stringify(id)}`;
    return undefined;
  };
  const tasks: Array<{ principal: Principal; route: (typeof targets)[number]; headers: Array<[string, string]>; expect?: (res: RawResponse) => string | undefined; smuggle?: boolean }> = [];
  for (const route of targets) {
    for (const v of values('req-1')) tasks.push({ principal: A.write, route, headers: [['X-Request-Id', v]], expect: requestIdSafe });
    if (route.mutating) for (const v of values('idem-1')) tasks.push({ principal: A.write, route, headers: [['Idempotency-Key', `${v}${randomBytes(3).toString('hex')}`]] });
    for (const { v, split } of variants(key)) {
      const principal = split ? { ...A.write, name: 'A-write (key with CRLF)', headers: [] } : fx.anonymous;
      tasks.push({ principal, route, headers: [[h, v]], expect: (res) => (!split && res.status >= 200 && res.status < 300 ? `a mangled key authenticated (${res.status})` : undefined) });
    }
  }
  const some = targets.filter((r) => ['GET /jobs', 'POST /compile/sync', 'GET /models/{model_id}', 'POST /deployments/{deployment_id}/predict', 'POST /auth/token'].includes(r.id));
  for (const route of some) {
    for (const { v, split } of variants(`Bearer ${A.tokens.write}`)) {
      const principal = split ? { ...A.writeBearer, name: 'A-write (bearer with CRLF)', headers: [] } : fx.anonymous;
      tasks.push({ principal, route, headers: [['Authorization', v]], expect: (res) => (!split && res.status >= 200 && res.status < 300 ? `a mangled token authenticated (${res.status})` : undefined) });
    }
    for (const v of values('application/json')) tasks.push({ principal: A.write, route, headers: [['Content-Type', v]] });
    for (const v of [...values('http://allowed.example'), 'http://evil.example', 'null', 'http://allowed.example.evil.example', 'http://allowed.example:80@evil.example', 'https://allowed.example', 'http://ALLOWED.example']) {
      tasks.push({
        principal: A.write,
        route,
        headers: [['Origin', v]],
        expect: (res) => {
          const acao = res.headers['access-control-allow-origin'];
          const onTheWire = v.split(/\r\n|\n|\r/)[0];
          if (acao !== undefined && !(acao === 'http://allowed.example' && onTheWire === 'http://allowed.example')) return `CORS allowed origin ${JSON.stringify(acao)} for Origin ${JSON.stringify(v.slice(0, 60))}`;
          return undefined;
        },
      });
    }
    for (const [name, v] of [
      ['Host', 'evil.example'],
      ['X-Forwarded-Host', 'evil.example'],
      ['X-Forwarded-Proto', 'javascript'],
      ['X-Forwarded-For', '127.0.0.1, evil.example'],
      ['X-Original-URL', '/auth/keys'],
      ['X-Rewrite-URL', '/audit'],
      ['X-HTTP-Method-Override', 'DELETE'],
    ] as Array<[string, string]>) {
      tasks.push({ principal: A.write, route, headers: [[name, v]], expect: (res) => (res.text.includes('evil.example') || res.head.includes('evil.example') ? `the answer reflects ${name}` : undefined) });
    }
    // Ambiguous framing must be refused by the HTTP parser (400), so a smuggled second request is never answered.
    for (const [label, headers] of [
      ['CL.TE', [['Content-Length', '4'], ['Transfer-Encoding', 'chunked']]],
      ['TE.TE', [['Transfer-Encoding', 'chunked'], ['Transfer-Encoding', 'identity']]],
      ['chunked not last', [['Transfer-Encoding', 'chunked, identity']]],
      ['two Content-Lengths', [['Content-Length', '0'], ['Content-Length', '40']]],
      ['a space before the colon', [['Transfer-Encoding ', 'chunked']]],
    ] as Array<[string, Array<[string, string]>]>) {
      tasks.push({ principal: A.write, route, headers, smuggle: true, expect: (res) => (res.status === 400 ? undefined : `${label}: expected the parser's 400, got ${res.status}`) });
    }
    for (const [label, headers] of [
      ['a huge header', [['X-Pad', 'x'.repeat(20_000)]]],
      ['many headers', Array.from({ length: 500 }, (_, i) => [`X-H${i}`, 'v'] as [string, string])],
    ] as Array<[string, Array<[string, string]>]>) {
      tasks.push({ principal: A.write, route, headers, expect: (res) => (res.status >= 500 ? `${label}: ${res.status}` : undefined) });
    }
  }
  await pool(tasks, 8, async ({ principal, route, headers, expect, smuggle }) => {
    // Many of these reach the handler for real: never a delete or a change of A's fixture.
    const base = safeRequestFor(fx, route, A);
    // The attack headers replace the route's own Content-Type when they carry one.
    const own = (base.headers ?? []).filter(([k]) => !headers.some(([x]) => x.toLowerCase() === k.toLowerCase()));
    const body = smuggle ? `0\r\n\r\nGET /auth/keys HTTP/1.1\r\nHost: x\r\n${h}: ${key}\r\n\r\n` : base.body;
    await ledger.attack(cls, principal, { ...base, headers: [...own, ...headers], body, contentLength: !smuggle, lingerMs: smuggle ? 200 : 0 }, (res) => expect?.(res), { route: route.id });
  });
  // No header turned a request into another one (X-HTTP-Method-Override: DELETE, X-Original-URL, ...).
  await fx.refreshWebhookSecrets();
  await integrity(fx, ledger, A, cls);
}
