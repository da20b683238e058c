import type { ApiScope } from '@app/contracts';

type Json = Record<string, any>;

/** One operation of the gateway's published OpenAPI document. */
export interface Route {
  method: string;
  /** OpenAPI template, e.g. `/jobs/{job_id}`. */
  template: string;
  /** `GET /jobs/{job_id}` */
  id: string;
  isPublic: boolean;
  /** `x-required-scope`; undefined on public routes (and on a route that forgot it, which the inventory test refuses). */
  scope?: ApiScope;
  apiKeyOnly: boolean;
  pathParams: string[];
  queryParams: Array<{ name: string; schema: Json }>;
  /** Content types of the request body, if it takes one. */
  bodyTypes: string[];
  /** The JSON request body schema with $refs resolved, if any. */
  bodySchema?: Json;
  /** Whether the operation changes state (anything but GET/HEAD/OPTIONS). */
  mutating: boolean;
  /** For a list operation: the array property of its 200 answer (`jobs`, `models`, ...). */
  listKey?: string;
}

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'];

/** Every operation of the document, in document order. */
export function routesOf(doc: Json): Route[] {
  const routes: Route[] = [];
  for (const [template, item] of Object.entries<Json>(doc.paths ?? {})) {
    for (const method of METHODS) {
      const op = item[method] as Json | undefined;
      if (!op) continue;
      const params = [...(item.parameters ?? []), ...(op.parameters ?? [])].map((p: Json) => resolve(doc, p));
      const content = (op.requestBody ? resolve(doc, op.requestBody).content : undefined) ?? {};
      const jsonSchema = content['application/json']?.schema;
      const okSchema = resolveDeep(doc, op.responses?.['200']?.content?.['application/json']?.schema ?? {});
      const listKey = Object.entries<Json>(okSchema.properties ?? {}).find(([, v]) => v.type === 'array')?.[0];
      routes.push({
        method: method.toUpperCase(),
        template,
        id: `${method.toUpperCase()} ${template}`,
        isPublic: Array.isArray(op.security) && op.security.length === 0,
        scope: op['x-required-scope'],
        apiKeyOnly: Array.isArray(op.security) && op.security.length === 1 && Object.keys(op.security[0]).includes('api_key'),
        pathParams: params.filter((p) => p.in === 'path').map((p) => p.name),
        queryParams: params.filter((p) => p.in === 'query').map((p) => ({ name: p.name, schema: resolveDeep(doc, p.schema ?? {}) })),
        bodyTypes: Object.keys(content),
        bodySchema: jsonSchema ? resolveDeep(doc, jsonSchema) : undefined,
        mutating: !['GET', 'HEAD', 'OPTIONS'].includes(method.toUpperCase()),
        listKey: method === 'get' && !params.some((p) => p.in === 'path') ? listKey : undefined,
      });
    }
  }
  return routes;
}

/** The request target of `route` with each path parameter replaced by its value, inserted verbatim (no encoding). */
export function fillPath(route: Route, values: Record<string, string>): string {
  return route.template.replace(/\{([^}]+)\}/g, (_, name: string) => {
    const v = values[name];
    if (v === undefined) throw new Error(`no value for {${name}} of ${route.id}`);
    return v;
  });
}

function resolve(doc: Json, node: Json): Json {
  let n = node;
  for (let i = 0; n && typeof n.$ref === 'string' && i < 20; i++) n = n.$ref.replace(/^#\//, '').split('/').reduce((o: Json, k: string) => o?.[k], doc);
  return n;
}

function resolveDeep(doc: Json, node: unknown, depth = 0): Json {
  if (depth > 12 || !node || typeof node !== 'object') return node as Json;
  if (Array.isArray(node)) return node.map((n) => resolveDeep(doc, n, depth + 1)) as unknown as Json;
  const n = resolve(doc, node as Json);
  return Object.fromEntries(Object.entries(n).map(([k, v]) => [k, resolveDeep(doc, v, depth + 1)]));
}

/** Each property of an object schema, nested objects included, as a dotted path with its schema. */
export function schemaFields(schema: Json | undefined, prefix = '', depth = 0): Array<{ path: string[]; schema: Json; required: boolean }> {
  if (!schema || depth > 4 || schema.type !== 'object' || !schema.properties) return [];
  const required = new Set<string>(schema.required ?? []);
  const out: Array<{ path: string[]; schema: Json; required: boolean }> = [];
  for (const [name, prop] of Object.entries<Json>(schema.properties)) {
    const path = [...(prefix ? prefix.split('.') : []), name];
    out.push({ path, schema: prop, required: required.has(name) });
    out.push(...schemaFields(prop, path.join('.'), depth + 1));
  }
  return out;
}

/** A value of the schema's type, for a route whose valid body the fixture does not know (a route added later). */
export function exampleOf(schema: Json | undefined, depth = 0): unknown {
  if (!schema || depth > 5) return null;
  if (schema.example !== undefined) return schema.example;
  if (schema.default !== undefined) return schema.default;
  if (Array.isArray(schema.enum)) return schema.enum[0];
  if (schema.oneOf?.length) return exampleOf(schema.oneOf[0], depth + 1);
  switch (schema.type) {
    case 'object': {
      const required = new Set<string>(schema.required ?? []);
      return Object.fromEntries(Object.entries<Json>(schema.properties ?? {}).filter(([k]) => required.has(k)).map(([k, v]) => [k, exampleOf(v, depth + 1)]));
    }
    case 'array':
      return [exampleOf(schema.items, depth + 1)];
    case 'integer':
    case 'number':
      return schema.minimum ?? 1;
    case 'boolean':
      return true;
    case 'string':
      return schema.format === 'uuid' ? '00000000-0000-4000-8000-000000000000' : 'x';
    default:
      return null;
  }
}

/** A copy of `body` with the value at `path` replaced (created when missing). */
export function setPath(body: unknown, path: string[], value: unknown): Json {
  const copy: Json = structuredClone(body && typeof body === 'object' && !Array.isArray(body) ? body : {});
  let at: Json = copy;
  for (const key of path.slice(0, -1)) {
    if (!at[key] || typeof at[key] !== 'object' || Array.isArray(at[key])) at[key] = {};
    at = at[key];
  }
  at[path[path.length - 1]] = value;
  return copy;
}

/** The operation a request reaches (HEAD is served by GET), with its raw path values; undefined for none. */
export function matchRoute(routes: readonly Route[], method: string, target: string): { route: Route; params: Record<string, string> } | undefined {
  const path = target.split('?')[0];
  const m = method === 'HEAD' ? 'GET' : method;
  for (const route of routes) {
    if (route.method !== m) continue;
    const names: string[] = [];
    const pattern = route.template.replace(/[.*+^$()|[\]\\]/g, '\\$&').replace(/\{([^}]+)\}/g, (_, name: string) => (names.push(name), '([^/]+)'));
    const hit = new RegExp(`^${pattern}/?$`).exec(path);
    if (hit) return { route, params: Object.fromEntries(names.map((n, i) => [n, hit[i + 1]])) };
  }
  return undefined;
}
