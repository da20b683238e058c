import type { ApiScope } from '@app/contracts';
import { rawRequest, type RawRequest, type RawResponse } from './raw-http';

/** Who an attack request speaks as: its headers, the tenant it belongs to (null: nobody) and the scopes it holds. */
export interface Principal {
  name: string;
  tenantId: string | null;
  scopes: readonly ApiScope[];
  headers: Array<[string, string]>;
  /** An administrator may see every tenant's keys and the audit log. */
  admin?: boolean;
}

/** A value that must never appear in an answer, unless the request itself carried it or `allowed` says so. */
export interface Secret {
  label: string;
  value: string;
  allowed?: (req: RawRequest, principal: Principal) => boolean;
}

/** What `assertNoLeak` knows about the world. */
export interface LeakContext {
  secrets: Secret[];
  /** Per tenant id: its resource ids, key ids and prefixes, and the random marker in every name it chose. */
  tenantData: Map<string, Set<string>>;
  /** Absolute paths of the server (storage dir, repository, ...) that must never show. */
  serverPaths: string[];
  /** Contents of files on disk that must never be served (canary files, /etc/passwd). */
  fileMarkers: string[];
}

export interface Failure {
  cls: string;
  method: string;
  path: string;
  principal: string;
  status: number;
  why: string;
}

const STACK_FRAME = /\bat (?:async )?[\w$.<>[\]]+ \(?(?:\/|node:|file:)[^\s()]*:\d+:\d+\)?/;
const ERROR_WITH_PATH = /\b(?:[A-Z]\w*)?Error: [^"\n]{0,200}?((?:\/[\w.@-]+){2,})/;
const TS_LOCATION = /\.ts:\d+/;
const INTERNAL_PATHS = ['/work/', 'node_modules', '/usr/lib', '/usr/local', '/usr/share', '/usr/bin/python', '/usr/src', '/root/', '/home/'];
const PROBLEM = /^application\/problem\+json/;

/** Everything a response must not be: a 5xx, a stack, a path, a secret, another tenant's data, a file, an injected header, a non-problem error. */
export function assertNoLeak(res: RawResponse, req: RawRequest, principal: Principal, ctx: LeakContext, route?: string, echoes?: ReadonlySet<string>): string[] {
  const why: string[] = [];
  if (res.error) return [res.error];
  if (res.status >= 500) why.push(`answered ${res.status} ${res.json?.code ?? ''}`.trim());
  const text = `${res.head}\n${res.text}`;
  const sent = requestText(req);

  const frame = [STACK_FRAME, ERROR_WITH_PATH, TS_LOCATION].map((re) => re.exec(text)).find((m) => m && !sent.includes(m[1] ?? m[0]));
  if (frame) why.push(`stack trace or source location: ${JSON.stringify(frame[0].slice(0, 120))}`);
  for (const p of [...ctx.serverPaths, ...INTERNAL_PATHS]) if (text.includes(p) && !sent.includes(p)) why.push(`server path ${JSON.stringify(p)} in the answer`);
  for (const m of ctx.fileMarkers) if (text.includes(m)) why.push(`contents of a file on disk (${JSON.stringify(m.slice(0, 24))})`);
  for (const s of ctx.secrets) if (s.value && text.includes(s.value) && !sent.includes(s.value) && !s.allowed?.(req, principal)) why.push(`secret in the answer: ${s.label}`);

  const adminView = principal.admin && route !== undefined && /^(GET \/auth\/keys|GET \/audit|POST \/auth\/keys|GET \/metrics)$/.test(route);
  if (!adminView) {
    for (const [tenantId, values] of ctx.tenantData) {
      if (tenantId === principal.tenantId) continue;
      const leaked = [...values].find((v) => text.includes(v) && !sent.includes(v) && !echoes?.has(v));
      if (leaked) why.push(`another tenant's data in the answer (${leaked.slice(0, 40)})`);
    }
  }

  const injected = Object.keys(res.headers).filter((h) => /injected|^set-cookie$/.test(h));
  if (injected.length) why.push(`injected response header(s): ${injected.join(', ')}`);
  if (/\r\n\r\nHTTP\/1\.[01] \d{3}/.test(res.raw.toString('latin1'))) why.push('a second response on the connection (request smuggling)');
  const location = res.headers.location;
  if (location !== undefined && !/^\/(?![/\\])/.test(location)) why.push(`redirects off-site: Location ${JSON.stringify(location.slice(0, 100))}`);
  const requestId = res.headers['x-request-id'];
  if (requestId !== undefined && !/^[A-Za-z0-9._:@-]{1,128}$/.test(requestId)) why.push(`X-Request-Id echoed unsafely: ${JSON.stringify(requestId.slice(0, 80))}`);

  if (res.status >= 400 && req.method !== 'HEAD') {
    if (requestId === undefined) {
      // Refused by Node's HTTP parser before the application saw it: no body to check, but no more than a 4xx.
      if (![400, 413, 414, 431].includes(res.status) || res.body.length > 64) why.push(`a ${res.status} that is neither from the application nor a bare parser refusal`);
    } else {
      const p = res.json;
      if (!PROBLEM.test(res.headers['content-type'] ?? '')) why.push(`error without application/problem+json (content-type ${res.headers['content-type'] ?? 'none'})`);
      else if (!p || typeof p !== 'object' || p.status !== res.status || typeof p.code !== 'string' || typeof p.title !== 'string' || typeof p.detail !== 'string' || p.request_id !== requestId) {
        why.push(`malformed problem body ${res.text.slice(0, 160)}`);
      }
      if (res.status === 401 && !/ApiKey/.test(res.headers['www-authenticate'] ?? '')) why.push('401 without WWW-Authenticate');
    }
  }
  return why;
}

/** Everything the client sent, raw and percent-decoded, to tell an echo from a leak. */
function requestText(req: RawRequest): string {
  const headerText = (req.headers ?? []).map(([k, v]) => `${k}: ${v}`).join('\n');
  const body = req.body === undefined ? '' : Buffer.isBuffer(req.body) ? req.body.toString('utf8') : req.body;
  let decoded = req.path;
  for (let i = 0; i < 3; i++) {
    try {
      decoded = decodeURIComponent(decoded);
    } catch {
      decoded = decoded.replace(/%([0-9a-f]{2})/gi, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
    }
  }
  return `${req.path}\n${decoded}\n${headerText}\n${body}`;
}

/** Counts every attack by class and collects every failure, so a run reports all of them at once. */
export class Ledger {
  private readonly counts = new Map<string, number>();
  private readonly statuses = new Map<string, Map<string, number>>();
  readonly failures: Failure[] = [];
  private readonly started = Date.now();
  /**
   * Per tenant: the other tenants' values that its own accepted (2xx) request bodies carried. The fuzzer may name a
   * resource after another tenant's id; listing that resource later echoes the tenant's own input, it is no leak. Ids
   * sent in paths and queries, or in refused bodies, are not counted, so probing with them never mutes the check.
   */
  private readonly sentByTenant = new Map<string, Set<string>>();

  constructor(
    private readonly baseUrl: () => string,
    readonly ctx: LeakContext,
  ) {}

  /**
   * Sends one attack, checks it with `assertNoLeak` and `expect` (which returns the reasons it is wrong, if any), and
   * records it. Returns the response for follow-up checks.
   */
  async attack(cls: string, principal: Principal, req: RawRequest, expect: (res: RawResponse) => string | string[] | undefined, opts: { route?: string; url?: string } = {}): Promise<RawResponse> {
    const full: RawRequest = { ...req, headers: [...principal.headers, ...(req.headers ?? [])] };
    const t0 = Date.now();
    const res = await rawRequest(opts.url ?? this.baseUrl(), full);
    // SECURITY_TRACE_SLOW=<ms> prints every attack slower than that, to keep the suite fast.
    if (process.env.SECURITY_TRACE_SLOW && Date.now() - t0 > Number(process.env.SECURITY_TRACE_SLOW)) process.stdout.write(`slow ${Date.now() - t0} ms: ${cls} ${req.method} ${req.path.slice(0, 120)} -> ${res.status}\n`);
    this.check(cls, principal, full, res, expect, opts.route);
    return res;
  }

  /** Records an attack sent by the caller. */
  check(cls: string, principal: Principal, req: RawRequest, res: RawResponse, expect: (res: RawResponse) => string | string[] | undefined, route?: string): void {
    this.counts.set(cls, (this.counts.get(cls) ?? 0) + 1);
    const byStatus = this.statuses.get(cls) ?? new Map<string, number>();
    const bucket = res.error ? 'none' : res.status < 300 ? '2xx' : String(res.status);
    this.statuses.set(cls, byStatus.set(bucket, (byStatus.get(bucket) ?? 0) + 1));
    const tenant = principal.tenantId ?? '';
    const echoes = this.sentByTenant.get(tenant) ?? new Set<string>();
    const why = assertNoLeak(res, req, principal, this.ctx, route, echoes);
    if (!res.error && res.status < 300 && req.body !== undefined) {
      const body = Buffer.isBuffer(req.body) ? req.body.toString('utf8') : req.body;
      for (const [tenantId, values] of this.ctx.tenantData) if (tenantId !== principal.tenantId) for (const v of values) if (body.includes(v)) echoes.add(v);
      this.sentByTenant.set(tenant, echoes);
    }
    if (!res.error) {
      const extra = expect(res);
      if (extra) why.push(...(Array.isArray(extra) ? extra : [extra]));
    }
    for (const w of why) this.fail(cls, req.method, req.path, principal.name, res.status, w);
  }

  /** A failure found by other means (a state check after the attacks). */
  fail(cls: string, method: string, path: string, principal: string, status: number, why: string): void {
    this.failures.push({ cls, method, path: path.length > 160 ? `${path.slice(0, 160)}…(${path.length} chars)` : path, principal, status, why });
  }

  countOf(cls: string): number {
    return this.counts.get(cls) ?? 0;
  }

  failuresOf(cls: string): Failure[] {
    return this.failures.filter((f) => f.cls === cls);
  }

  /** One line per class and the total. */
  summary(): string {
    const lines = [...this.counts.entries()].map(([cls, n]) => {
      const statuses = [...(this.statuses.get(cls) ?? new Map<string, number>()).entries()].sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k}:${v}`).join(' ');
      return `security: ${cls.padEnd(18)} ${String(n).padStart(5)} attacks, ${this.failuresOf(cls).length} failures  [${statuses}]`;
    });
    const total = [...this.counts.values()].reduce((a, b) => a + b, 0);
    lines.push(`security: ${total} attacks tried, ${this.failures.length} failures (${((Date.now() - this.started) / 1000).toFixed(1)} s)`);
    return lines.join('\n');
  }
}

/** The failures as a readable list, for an assertion message. */
export function formatFailures(failures: Failure[]): string {
  return failures.map((f) => `  [${f.cls}] ${f.method} ${f.path} as ${f.principal} -> ${f.status}: ${f.why}`).join('\n');
}

/** 'a reason' unless the status is one of `ok`. */
export function statusIn(res: RawResponse, ok: number[], label = ''): string | undefined {
  return ok.includes(res.status) ? undefined : `expected ${ok.join(' or ')}${label ? ` (${label})` : ''}, got ${res.status} ${res.json?.code ?? ''}`.trim();
}
