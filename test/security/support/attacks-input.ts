import { randomBytes, randomUUID } from 'crypto';
import { existsSync, readdirSync, statSync } from 'fs';
import { dirname, join } from 'path';
import { gzipSync } from 'zlib';
import { BODY_LIMIT_BYTES, DATASET_MAX_UPLOAD_BYTES, multipart, PREDICT_BODY_LIMIT_BYTES, type Fixture } from './fixture';
import { fillPath, schemaFields, setPath, type Route } from './inventory';
import type { Ledger, Principal } from './ledger';
import { pool, rawRequest, type RawRequest, type RawResponse } from './raw-http';
import { codeIs, requestFor, safeRequestFor } from './requests';

type Json = Record<string, any>;

const PROBE = `secprobe${randomBytes(3).toString('hex')}`;

/** Hostile values for a path segment, as they go on the wire (percent-encoding is part of the attack). */
export function pathPayloads(canary: string): string[] {
  return [
    '..',
    '.',
    '%2e%2e',
    '%2E%2E%2F',
    `..%2f..%2f..%2f..%2fetc%2fpasswd`,
    `%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd`,
    `..%252f..%252f..%252fetc%252fpasswd`,
    `....%2f%2f....%2f%2fetc%2fpasswd`,
    `..%5c..%5c..%5cwindows%5cwin.ini`,
    `%2fetc%2fpasswd`,
    `file%3a%2f%2f%2fetc%2fpasswd`,
    `..%2f${canary}`,
    `..%2f..%2f${canary}`,
    `..%2f..%2f..%2f${canary}`,
    `%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2f${canary}`,
    '%c0%ae%c0%ae%2f',
    '%e0%80%ae%e0%80%ae%2f',
    '%',
    '%zz',
    '%ff%fe',
    '*',
    '%2a',
    '%3f',
    '[a-z]',
    '%5ba-z%5d',
    '%7ba%2cb%7d',
    '**',
    '.%2a',
    '%25',
    '%00',
    'x%00.json',
    'model.onnx%00.txt',
    'x'.repeat(5000),
    '%41'.repeat(2000),
    '%c3%bc%c3%b1%c3%ae%c3%a7%c3%b8%c3%b0%c3%a9',
    '%e2%80%ae%e2%80%8b',
    '%ef%bc%8e%ef%bc%8e%ef%bc%8f',
    '%f0%9f%92%a9',
    '%0d%0aSet-Cookie:%20injected=1',
    '%20',
    '+',
    'null',
    'undefined',
    '0',
    '-1',
    '1e309',
    '__proto__',
    'constructor',
    'prototype',
    "'%20OR%20'1'%3D'1",
    '1%3BDROP%20TABLE%20jobs',
    '%7b%22%24ne%22%3anull%7d',
    '%24%7bjndi%3aldap%3a%2f%2fx%7d',
    '%3cscript%3ealert(1)%3c%2fscript%3e',
    '..%3b%2f',
    '..%2f..%2f..%2f..%2fproc%2fself%2fenviron',
  ];
}

/** Hostile values for a name-like body field: each must be refused (4xx). */
export const NAME_PAYLOADS: string[] = [
  '../../etc/passwd',
  `../../${PROBE}`,
  '..\\..\\windows\\win.ini',
  '/etc/passwd',
  '%2e%2e%2f%2e%2e%2f',
  '*',
  '?',
  '[a-z]',
  '{a,b}',
  'a\u0000b',
  '%00',
  'x'.repeat(5000),
  'ünïcödé-名前',
  '\u202egnp.exe',
  'a\r\nX-Injected: 1',
  '$(id)',
  '${jndi:ldap://x}',
  "' OR '1'='1",
  '<script>alert(1)</script>',
  '',
];

/** Values a name field may accept (they are not paths): a 2xx is fine, as long as nothing reaches the disk outside storage. */
const BENIGN_NAMES = ['..', 'a..b'];

/**
 * Path traversal, glob, encoded, NUL, overlong and unicode values in every path parameter (with the owner's own
 * key) and in every string field of every body (and the upload form and file name), plus query values: always a
 * 4xx, never a file from disk or anything of another tenant.
 */
export async function traversalAttacks(fx: Fixture, ledger: Ledger): Promise<void> {
  const cls = 'traversal';
  const { A } = fx;
  const canary = fx.canaryFiles[0].split('/').pop()!;
  const payloads = pathPayloads(canary);
  const tasks: Array<{ route: Route; param: string; value: string }> = [];
  for (const route of fx.routes.filter((r) => r.pathParams.length)) for (const param of route.pathParams) for (const value of payloads) tasks.push({ route, param, value });
  await pool(tasks, 8, async ({ route, param, value }) => {
    const who = route.scope === 'admin' ? fx.admin : A.write;
    const req = requestFor(fx, route, A, { [param]: value });
    await ledger.attack(cls, who, req, (res) => (res.status >= 400 && res.status < 500 && res.status !== 401 && res.status !== 403 ? undefined : `a hostile {${param}} answered ${res.status}`), { route: route.id });
  });

  // The public static routes (the docs UI) never serve a file from outside their bundle.
  for (const base of ['/docs', '/redoc', '/openapi.json', '']) {
    for (const value of payloads.filter((p) => p.includes('..') || p.includes('%2e') || p.includes('%2E'))) {
      await ledger.attack(cls, fx.anonymous, { method: 'GET', path: `${base}/${value}` }, (res) => (res.status < 500 ? undefined : `answered ${res.status}`));
    }
  }

  // Every string field of every JSON body.
  const bodyTasks: Array<{ route: Route; path: string[]; value: string }> = [];
  for (const route of fx.routes.filter((r) => r.bodySchema && r.bodyTypes.includes('application/json'))) {
    for (const field of schemaFields(route.bodySchema).filter((f) => f.schema.type === 'string' && f.path.join('.') !== 'dsl_code')) {
      for (const value of [...NAME_PAYLOADS, ...BENIGN_NAMES]) bodyTasks.push({ route, path: field.path, value });
    }
    if (route.bodySchema?.properties?.environment) for (const value of NAME_PAYLOADS.filter(Boolean)) bodyTasks.push({ route, path: ['environment', value], value: 'v' });
  }
  await pool(bodyTasks, 6, async ({ route, path, value }) => {
    const who = route.scope === 'admin' ? fx.admin : A.write;
    const base = requestFor(fx, route, A);
    const body = setPath(JSON.parse(String(base.body)), path, value);
    // A probe path of the generated Kubernetes manifests is a URL path: "/etc/passwd" is a (harmless) one.
    const urlPath = path.join('.') === 'config.health_check_path' && /^\/[\w./-]+$/.test(value);
    const benign = urlPath || (BENIGN_NAMES.includes(value) && path[0] !== 'environment');
    const res = await ledger.attack(cls, who, { ...base, body: JSON.stringify(body) }, (r) => (benign || (r.status >= 400 && r.status < 500) ? undefined : `${path.join('.')}=${JSON.stringify(value.slice(0, 40))} answered ${r.status}`), {
      route: route.id,
    });
    await cleanUp(fx, route, res);
  });

  // The upload form: hostile names, label columns and formats are refused; a hostile file name is only a name.
  const upload = fx.routes.find((r) => r.id === 'POST /datasets');
  if (upload) {
    const csv = 'a,b,label\n1,2,x\n3,4,y\n5,6,x\n7,8,y\n';
    const forms: Array<{ fields: Record<string, string>; filename: string; mustRefuse: boolean }> = [
      ...NAME_PAYLOADS.filter((v) => !/[\r\n\0"]/.test(v)).map((v) => ({ fields: { name: v }, filename: 'd.csv', mustRefuse: true })),
      ...['MNIST', 'mnist', 'Iris', 'fashion-mnist'].map((v) => ({ fields: { name: v }, filename: 'd.csv', mustRefuse: true })),
      ...['../../etc/passwd', '*', '[a-z]', 'x'.repeat(5000)].map((v) => ({ fields: { name: `ok_${randomBytes(3).toString('hex')}`, label_column: v }, filename: 'd.csv', mustRefuse: true })),
      ...['../csv', 'csv/../json', 'CSV\u0000', 'exe'].map((v) => ({ fields: { name: `ok_${randomBytes(3).toString('hex')}`, format: v }, filename: 'd.bin', mustRefuse: true })),
      ...[`../../${PROBE}.csv`, `..\\..\\${PROBE}.csv`, `/tmp/${PROBE}.csv`, `${PROBE}\u0000.csv`, `${'f'.repeat(3000)}.csv`, `%2e%2e%2f${PROBE}.csv`, `ü${PROBE}.csv`].map((filename) => ({
        fields: { name: `ok_${randomBytes(3).toString('hex')}` },
        filename,
        mustRefuse: false,
      })),
    ];
    for (const form of forms) {
      const { contentType, body } = multipart(form.fields, { filename: form.filename, content: csv });
      const res = await ledger.attack(cls, A.write, { method: 'POST', path: '/datasets', headers: [['Content-Type', contentType]], body }, (r) =>
        form.mustRefuse && !(r.status >= 400 && r.status < 500) ? `upload ${JSON.stringify(form.fields).slice(0, 80)} answered ${r.status}` : r.status >= 500 ? `answered ${r.status}` : undefined,
      );
      if (res.status === 201 && res.json?.name !== form.fields.name) ledger.fail(cls, 'POST', '/datasets', A.write.name, 201, `stored name ${JSON.stringify(res.json?.name)} is not the one sent`);
      await cleanUp(fx, upload, res);
    }
  }

  // Query values: whatever they are, never a 5xx, never another tenant's data (assertNoLeak).
  const queryTasks: Array<{ route: Route; q: string; value: string }> = [];
  for (const route of fx.routes.filter((r) => r.queryParams.length && !r.isPublic)) {
    for (const q of route.queryParams) for (const value of [...payloads.slice(0, 40), '-1', '1e308', '9007199254740993', String(Number.MAX_SAFE_INTEGER), 'NaN', 'Infinity', '0x10', ' 1', '']) queryTasks.push({ route, q: q.name, value });
  }
  await pool(queryTasks, 8, async ({ route, q, value }) => {
    const who = route.scope === 'admin' ? fx.admin : route.mutating ? A.write : A.read;
    const req = requestFor(fx, route, A, {}, `?${q}=${value}`);
    // A mutating route gets unknown ids: the query is parsed and validated, and nothing of the fixture changes.
    if (route.mutating) req.path = fillPath(route, Object.fromEntries(route.pathParams.map((p) => [p, randomUUID()]))) + `?${q}=${value}`;
    await ledger.attack(cls, who, req, (res) => (res.status === 401 || res.status === 403 ? `answered ${res.status}` : undefined), { route: route.id });
  });
  // Arrays and objects where a query value goes.
  for (const route of fx.routes.filter((r) => r.queryParams.length && !r.isPublic && !r.mutating)) {
    for (const q of route.queryParams) {
      for (const form of [`${q.name}=1&${q.name}=2`, `${q.name}[]=1`, `${q.name}[$ne]=x`, `${q.name}[__proto__][x]=1`, `__proto__[${q.name}]=1`, `constructor[prototype][x]=1`]) {
        const who = route.scope === 'admin' ? fx.admin : A.read;
        await ledger.attack(cls, who, requestFor(fx, route, A, {}, `?${form}`), (res) => (res.status === 401 || res.status === 403 ? `answered ${res.status}` : undefined), { route: route.id });
      }
    }
  }

  // Nothing was written outside the storage directory under a probe name.
  for (const dir of [dirname(fx.gw.storagePath), join(dirname(fx.gw.storagePath), '..'), '/tmp', process.cwd()]) {
    const hits = existsSync(dir) ? readdirSync(dir).filter((n) => n.includes(PROBE)) : [];
    for (const h of hits) ledger.fail(cls, 'POST', '(any)', 'A-write', 0, `a file named after a probe appeared outside storage: ${join(dir, h)}`);
  }
  for (const h of findFiles(fx.gw.storagePath, (n) => n.includes(PROBE) || n.includes('..'))) ledger.fail(cls, 'POST', '(any)', 'A-write', 0, `storage holds a file named from a request: ${h}`);
}

function findFiles(root: string, match: (name: string) => boolean, depth = 0): string[] {
  if (depth > 8 || !existsSync(root)) return [];
  return readdirSync(root).flatMap((name) => {
    const full = join(root, name);
    const here = match(name) ? [full] : [];
    return statSync(full).isDirectory() ? [...here, ...findFiles(full, match, depth + 1)] : here;
  });
}

/** Deletes what a successful probe created (deployments, datasets), so later attacks see the fixture as it was. */
async function cleanUp(fx: Fixture, route: Route, res: RawResponse): Promise<void> {
  if (res.status !== 201) return;
  const id = res.json?.deployment_id ?? res.json?.dataset_id;
  const path = res.json?.deployment_id ? `/deployments/${id}` : res.json?.dataset_id ? `/datasets/${id}` : undefined;
  if (path) await rawRequest(fx.gw.url, { method: 'DELETE', path, headers: route.scope === 'admin' ? fx.admin.headers : fx.A.write.headers });
}

/** Deeply nested JSON of about `bytes` bytes: `{"a":{"a":...}}`. */
function nested(depth: number): string {
  return `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
}

/**
 * Bodies over the limits on every route (413, also when only Content-Length says so, gzip-inflated or chunked), and
 * malformed ones on every route with a body: bad JSON is 400; arrays, strings, nulls, wrong types, prototype keys and
 * wrong content types are 4xx; nothing pollutes Object.prototype.
 */
export async function bodyAttacks(fx: Fixture, ledger: Ledger): Promise<void> {
  const { A } = fx;
  const who = (route: Route): Principal => (route.scope === 'admin' ? fx.admin : route.isPublic ? fx.anonymous : route.scope === 'predict' ? A.predict : A.write);
  const pad = (bytes: number) => JSON.stringify({ pad: 'x'.repeat(bytes) });
  const is413 = (res: RawResponse) => codeIs(res, 413, 'payload_too_large');

  for (const route of fx.routes) {
    const predict = route.id === 'POST /deployments/{deployment_id}/predict';
    const limit = predict ? PREDICT_BODY_LIMIT_BYTES : BODY_LIMIT_BYTES;
    const base = requestFor(fx, route, A);
    const json = (body: Buffer | string, extra: Array<[string, string]> = []): RawRequest => ({ ...base, headers: [['Content-Type', 'application/json'], ...extra], body });
    const oversized: RawRequest[] = [
      json(pad(limit + 1024)),
      json(pad(limit * 4)),
      { ...base, headers: [['Content-Type', 'application/json'], ['Content-Length', String(10 * 1024 ** 3)]], body: '{', contentLength: false, timeoutMs: 5000 },
      json(gzipSync(pad(limit * 20)), [['Content-Encoding', 'gzip']]),
      { ...base, headers: [['Content-Type', 'application/json'], ['Transfer-Encoding', 'chunked']], body: chunked(pad(limit + 4096)) },
    ];
    if (predict) oversized.push({ ...base, headers: [['Content-Type', 'application/octet-stream']], body: Buffer.alloc(limit + 4096) });
    for (const req of oversized) await ledger.attack('oversized', who(route), req, is413, { route: route.id });
  }
  const upload = fx.routes.find((r) => r.id === 'POST /datasets');
  if (upload) {
    const big = multipart({ name: `big_${randomBytes(3).toString('hex')}` }, { filename: 'big.csv', content: `a,label\n${'1,0\n'.repeat(DATASET_MAX_UPLOAD_BYTES / 2)}` });
    await ledger.attack('oversized', A.write, { method: 'POST', path: '/datasets', headers: [['Content-Type', big.contentType]], body: big.body }, is413, { route: upload.id });
    const longField = multipart({ name: 'x'.repeat(5000) }, { filename: 'd.csv', content: 'a,label\n1,0\n' });
    await ledger.attack('oversized', A.write, { method: 'POST', path: '/datasets', headers: [['Content-Type', longField.contentType]], body: longField.body }, (r) => (r.status >= 400 && r.status < 500 ? undefined : `answered ${r.status}`), { route: upload.id });
    const manyParts = multipart(Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`f${i}`, 'v'])), { filename: 'd.csv', content: 'a,label\n1,0\n' });
    await ledger.attack('oversized', A.write, { method: 'POST', path: '/datasets', headers: [['Content-Type', manyParts.contentType]], body: manyParts.body }, (r) => (r.status >= 400 && r.status < 500 ? undefined : `answered ${r.status}`), { route: upload.id });
  }

  // Malformed bodies.
  const cls = 'malformed';
  const tasks: Array<{ route: Route; req: RawRequest; expect: (res: RawResponse) => string | undefined }> = [];
  for (const route of fx.routes) {
    const base = requestFor(fx, route, A);
    const json = (body: string, type = 'application/json'): RawRequest => ({ ...base, headers: [['Content-Type', type]], body });
    const clientError = (label: string) => (res: RawResponse) => (res.status >= 400 && res.status < 500 ? undefined : `${label}: expected a 4xx, got ${res.status}`);
    // Bad JSON is refused by the parser on every route, before anything runs.
    for (const bad of ['{"a":', '{"a": 1,}', "{'a': 1}", '{} {}', '{"a": 1}}', '[', '{"a": "\\x"}', '{"a": nul}', '\u0000', '{"a":1e}']) {
      tasks.push({ route, req: json(bad), expect: (res) => codeIs(res, 400, 'malformed_json') });
    }
    for (const bare of ['"just a string"', '123', 'null', 'true']) tasks.push({ route, req: json(bare), expect: (res) => codeIs(res, 400, 'malformed_json') });
    // Parsed, and on a route without a body ignored: sent where a success harms nothing.
    tasks.push({ route, req: { ...safeRequestFor(fx, route, A), headers: [['Content-Type', 'application/json']], body: nested(3000) }, expect: (res) => (res.status < 500 ? undefined : `3000-deep JSON answered ${res.status}`) });
    if (!base.body) continue;
    const isJsonRoute = route.bodyTypes.includes('application/json');
    const valid = isJsonRoute ? (JSON.parse(String(base.body)) as Json) : undefined;
    const bodyLabel = (label: string) => `${label} where an object goes`;
    if (isJsonRoute) {
      for (const [label, body] of [
        ['[]', '[]'],
        ['[{}]', '[{}]'],
        ['[valid]', JSON.stringify([valid])],
        ['{}', '{}'],
      ]) {
        tasks.push({ route, req: json(body), expect: clientError(bodyLabel(label)) });
      }
      for (const [label, body] of [
        ['__proto__', `{"__proto__": {"polluted": "${PROBE}"}, ${String(base.body).slice(1)}`],
        ['constructor.prototype', `{"constructor": {"prototype": {"polluted": "${PROBE}"}}, ${String(base.body).slice(1)}`],
        ['duplicate keys', `${String(base.body).slice(0, -1)}, "backend": {"$gt": ""}, "model_id": {"$ne": null}}`],
        ['a 3000-deep member', `${String(base.body).slice(0, -1)}, "deep": ${nested(3000)}}`],
      ]) {
        tasks.push({ route, req: json(body), expect: clientError(label) });
      }
      // null where a value goes: refused, or (optional fields) read as absent; never a crash.
      for (const field of schemaFields(route.bodySchema)) {
        const req = json(JSON.stringify(setPath(valid, field.path, null)));
        tasks.push({ route, req, expect: field.required ? clientError(`${field.path.join('.')} = null`) : (res) => (res.status < 500 ? undefined : `${field.path.join('.')} = null answered ${res.status}`) });
      }
      // Each field: the wrong type, out-of-range numbers, Infinity (1e999 parses to it), deep nesting.
      for (const field of schemaFields(route.bodySchema)) {
        for (const [label, value] of wrongValues(field.schema)) {
          const raw = JSON.stringify(setPath(valid, field.path, label === 'Infinity' ? '__INF__' : value)).replace('"__INF__"', '1e999');
          tasks.push({ route, req: json(raw), expect: clientError(`${field.path.join('.')} = ${label}`) });
        }
        if (field.schema.type === 'object' || field.schema.type === 'array') {
          for (const key of ['__proto__', 'constructor']) {
            // JSON.stringify would drop a __proto__ own key of an object literal: write it into the text.
            const raw = JSON.stringify(setPath(valid, field.path, { [`${PROBE}key`]: { polluted: PROBE } })).replace(`"${PROBE}key":`, `"${key}":`);
            tasks.push({ route, req: json(raw), expect: clientError(`${field.path.join('.')}.${key}`) });
          }
        }
      }
      // Content types that are not JSON: the body is not parsed, so the request fails validation (or is unsupported).
      for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/xml', 'application/json; charset=utf-16', 'application/json; charset=latin1', '', 'application/vnd.api+json']) {
        const req = json(String(base.body), type);
        if (!type) req.headers = [];
        tasks.push({ route, req, expect: type === 'application/vnd.api+json' ? (res) => (res.status < 500 ? undefined : `answered ${res.status}`) : clientError(`Content-Type ${JSON.stringify(type)}`) });
      }
      tasks.push({ route, req: { ...json(String(base.body)), headers: [['Content-Type', 'application/json'], ['Content-Encoding', 'br']], body: Buffer.from('not brotli') }, expect: clientError('Content-Encoding br with garbage') });
      tasks.push({ route, req: { ...json(String(base.body)), headers: [['Content-Type', 'application/json'], ['Content-Encoding', 'x-compress']] }, expect: clientError('an unknown Content-Encoding') });
      tasks.push({ route, req: json(`\ufeff${String(base.body)}`), expect: (res) => (res.status < 500 ? undefined : `a BOM answered ${res.status}`) });
      tasks.push({ route, req: { ...base, headers: [['Content-Type', 'application/json']], body: Buffer.concat([Buffer.from('{"name": "'), Buffer.from([0xff, 0xfe, 0xc0, 0xaf]), Buffer.from('"}')]) }, expect: clientError('invalid UTF-8') });
    } else if (route.bodyTypes.some((t) => t.startsWith('multipart/'))) {
      const csv = 'a,b,label\n1,2,x\n';
      for (const [label, req] of [
        ['JSON instead of a form', json(JSON.stringify({ name: 'x' }))],
        ['multipart without a boundary', { ...base, headers: [['Content-Type', 'multipart/form-data']], body: 'x' }],
        ['a truncated form', { ...base, headers: [['Content-Type', 'multipart/form-data; boundary=b']], body: `--b\r\nContent-Disposition: form-data; name="name"\r\n\r\nx` }],
        ['a form with garbage', { ...base, headers: [['Content-Type', 'multipart/form-data; boundary=b']], body: randomBytes(2000) }],
        ['no file', { ...base, ...withForm(multipart({ name: `nf_${PROBE}` })) }],
        ['two files', { ...base, ...withForm(twoFiles(csv)) }],
        ['an unknown field', { ...base, ...withForm(multipart({ name: `uf_${PROBE}`, evil: '1' }, { filename: 'd.csv', content: csv })) }],
        ['a file of random bytes', { ...base, ...withForm(multipart({ name: `rb_${PROBE}` }, { filename: 'd.csv', content: randomBytes(4000) })) }],
        ['a JSON file that is not {x, y}', { ...base, ...withForm(multipart({ name: `js_${PROBE}` }, { filename: 'd.json', content: '{"__proto__": {"polluted": 1}, "x": "nope"}' })) }],
        ['a CSV with NUL bytes', { ...base, ...withForm(multipart({ name: `nul_${PROBE}` }, { filename: 'd.csv', content: 'a,label\n1\u0000,x\n' })) }],
        ['a CSV with a huge header', { ...base, ...withForm(multipart({ name: `hh_${PROBE}` }, { filename: 'd.csv', content: `${'c,'.repeat(20000)}label\n` })) }],
        ['test_split out of range', { ...base, ...withForm(multipart({ name: `ts_${PROBE}`, test_split: '1e999' }, { filename: 'd.csv', content: csv })) }],
      ] as Array<[string, RawRequest]>) {
        tasks.push({ route, req, expect: clientError(label) });
      }
    }
  }
  await pool(tasks, 8, async ({ route, req, expect }) => {
    const res = await ledger.attack(cls, who(route), req, expect, { route: route.id });
    await cleanUp(fx, route, res);
  });
  for (const probe of [{}, Object.prototype, Object]) {
    if ((probe as Json).polluted !== undefined) ledger.fail(cls, 'POST', '(any)', 'A-write', 0, 'Object.prototype was polluted by a request body');
  }
}

function withForm(form: { contentType: string; body: Buffer }): Pick<RawRequest, 'headers' | 'body'> {
  return { headers: [['Content-Type', form.contentType]], body: form.body };
}

function twoFiles(csv: string): { contentType: string; body: Buffer } {
  const b = 'twofiles';
  const part = (name: string) => `--${b}\r\nContent-Disposition: form-data; name="${name}"; filename="d.csv"\r\nContent-Type: text/csv\r\n\r\n${csv}\r\n`;
  return { contentType: `multipart/form-data; boundary=${b}`, body: Buffer.from(`--${b}\r\nContent-Disposition: form-data; name="name"\r\n\r\ntwo_${PROBE}\r\n${part('file')}${part('file')}--${b}--\r\n`) };
}

function chunked(body: string): Buffer {
  const parts: string[] = [];
  for (let i = 0; i < body.length; i += 8192) {
    const c = body.slice(i, i + 8192);
    parts.push(`${Buffer.byteLength(c).toString(16)}\r\n${c}\r\n`);
  }
  return Buffer.from(`${parts.join('')}0\r\n\r\n`);
}

/** Values of the wrong type or out of range for a field of `schema`'s type; each must be refused. */
function wrongValues(schema: Json): Array<[string, unknown]> {
  const deep = JSON.parse(nested(200));
  const out: Array<[string, unknown]> = [['a 200-deep object', deep]];
  if (Array.isArray(schema.enum)) out.push(['a value outside the enum', 'definitely-not-an-option'], ['an enum value in other case', String(schema.enum[0]).toUpperCase() === schema.enum[0] ? String(schema.enum[0]).toLowerCase() : String(schema.enum[0]).toUpperCase()]);
  switch (schema.type) {
    case 'string':
      out.push(['a number', 12345], ['a boolean', true], ['an object', { a: 1 }], ['an array', ['x']]);
      if (schema.format === 'uuid') out.push(['a non-uuid', 'not-a-uuid'], ['a uuid with a suffix', '00000000-0000-4000-8000-000000000000/../x']);
      break;
    case 'integer':
    case 'number':
      out.push(['a numeric string', '12'], ['NaN as a string', 'NaN'], ['Infinity', Infinity], ['-1e308', -1e308], ['a boolean', true], ['an array', [1]], ['an object', { n: 1 }]);
      if (schema.type === 'integer') out.push(['a fraction', 1.5], ['2^53+1', 9007199254740993]);
      if (typeof schema.minimum === 'number') out.push(['below the minimum', schema.minimum - 1]);
      if (typeof schema.maximum === 'number') out.push(['above the maximum', schema.maximum + 1], ['1e308', 1e308]);
      break;
    case 'boolean':
      out.push(['the string "true"', 'true'], ['1', 1], ['an array', [true]], ['an object', {}]);
      break;
    case 'object':
      out.push(['an array', []], ['an array of objects', [{}]], ['a string', 'x'], ['a number', 1], ['a boolean', true]);
      break;
    case 'array':
      out.push(['an object', {}], ['a string', 'x'], ['a number', 1], ['an array of arrays', [[]]], ['an array of nulls', [null]], ['10000 items', Array.from({ length: 10000 }, () => 'x')]);
      break;
  }
  return out;
}

/**
 * Code injection through the DSL: code strings (Lambda), quote and newline breakouts in every kind of string
 * parameter, device specs and train settings, compiled for every backend and trained with PyTorch (which runs the
 * generated module). Each is refused, or compiles to code that does not carry the payload; nothing runs it.
 */
export async function codeInjectionAttacks(fx: Fixture, ledger: Ledger): Promise<void> {
  const cls = 'code-injection';
  const mark = `/tmp/${PROBE}-rce`;
  const py = `__import__('os').system('touch ${mark}')`;
  const js = `require('child_process').execSync('touch ${mark}')`;
  const net = (layers: string, extra = '') => `network Inj {\n  input: (4,)\n  layers:\n${layers}\n    Output(units=3, activation="softmax")\n${extra}}`;
  const dsls = [
    net(`    Lambda("x: ${py} or x")`),
    net(`    Lambda('x: (${js}, x)[1]')`),
    net(`    Dense(units=8, activation="relu')\n${py}\n#")`),
    net(`    Dense(units=8, activation='relu"""\n${py}\n"""')`),
    net(`    Dense(units=8, activation="relu\`); ${js}; (\`")`),
    net(`    Dense(units=8) @ "cuda'); ${py}; ('"`),
    net(`    Dropout(rate=0.5, name="d'); ${py}; ('")`),
    net('    Dense(units=8, activation="relu")', `  loss: "x'); ${py}; ('"\n  optimizer: "Adam(learning_rate=0.01); ${py}"\n`),
    net('    Dense(units=8, activation="relu")', `  optimizer: Adam(learning_rate=${py})\n`),
    net('    Dense(units=8, activation="relu")', `  train {\n    epochs: 1\n    search_method: "x'); ${py}; ('"\n  }\n`),
    `network Inj {\n  input: (4,)\n  layers:\n    Dense(units=8)\n    Output(units=3)\n  execute {\n    device: "cpu'); ${py}; ('"\n  }\n}`,
    `Model Inj {\n  Input(shape=[4])\n  Dense(units=8, activation="{{7*7}}\${7*7}<%= 7*7 %>")\n  Dense(units=3, activation=softmax)\n}`,
  ];
  const noPayload = (code: unknown) => {
    const line = typeof code === 'string' ? code.split('\n').find((l) => /__import__\(|child_process|execSync/.test(l)) : undefined;
    return line === undefined ? undefined : `the generated code carries the payload: ${JSON.stringify(line.trim().slice(0, 160))}`;
  };
  const jobs: string[] = [];
  for (const dsl of dsls) {
    for (const backend of ['pytorch', 'tensorflow', 'onnx']) {
      const req: RawRequest = { method: 'POST', path: '/compile/sync', headers: [['Content-Type', 'application/json']], body: JSON.stringify({ dsl_code: dsl, backend }) };
      await ledger.attack(cls, fx.A.write, req, (res) => (res.status >= 400 && res.status < 500 ? undefined : res.status === 200 ? noPayload(res.json?.compiled_code) : `answered ${res.status}`), { route: 'POST /compile/sync' });
    }
    const compile = await ledger.attack(cls, fx.A.write, { method: 'POST', path: '/compile', headers: [['Content-Type', 'application/json']], body: JSON.stringify({ dsl_code: dsl, backend: 'pytorch' }) }, (res) => (res.status === 202 || (res.status >= 400 && res.status < 500) ? undefined : `answered ${res.status}`), { route: 'POST /compile' });
    if (compile.status === 202) jobs.push(compile.json.job_id);
    const train = await ledger.attack(
      cls,
      fx.A.write,
      { method: 'POST', path: '/jobs/train', headers: [['Content-Type', 'application/json']], body: JSON.stringify({ dsl_code: dsl, backend: 'pytorch', dataset: 'Iris', training_config: { epochs: 1 } }) },
      (res) => (res.status === 202 || (res.status >= 400 && res.status < 500) ? undefined : `answered ${res.status}`),
      { route: 'POST /jobs/train' },
    );
    if (train.status === 202) jobs.push(train.json.job_id);
  }
  // What was accepted ran (or failed) to its end without running the payload.
  for (const id of jobs) {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const res = await ledger.attack(cls, fx.A.read, { method: 'GET', path: `/jobs/${id}` }, (r) => (r.status === 200 ? noPayload(r.json?.result?.compiled_code) : `answered ${r.status}`), { route: 'GET /jobs/{job_id}' });
      if (['completed', 'failed', 'cancelled'].includes(res.json?.status) || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  if (existsSync(mark)) ledger.fail(cls, 'POST', '(any)', fx.A.write.name, 0, `an injected command ran on the server: ${mark} exists`);
}
