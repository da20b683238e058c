import type { AppConfig } from '@app/config';
import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, type OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import { description, version } from '../../../../package.json';
import { OPENAPI_API_KEY_ONLY_EXTENSION, OPENAPI_PUBLIC_EXTENSION, OPENAPI_SCOPE_EXTENSION } from '../auth/auth.decorators';
import { ProblemDto } from './dto/problem.dto';
import { PROBLEM_CONTENT_TYPE } from './problem';
import { OPENAPI_EXPENSIVE_EXTENSION, OPENAPI_NO_RATE_LIMIT_EXTENSION } from './rate-limit.decorator';
import { IDEMPOTENT_REPLAYED_HEADER, OPENAPI_IDEMPOTENT_EXTENSION } from './idempotency/idempotency.constants';

export const API_KEY_SCHEME = 'api_key';
export const BEARER_SCHEME = 'bearer';

type Json = Record<string, any>;

const HEADERS: Json = {
  'X-Request-Id': { description: "The request's id (the client's own when it sent a plain token)", schema: { type: 'string' } },
  'X-RateLimit-Limit': { description: 'Requests allowed per window', schema: { type: 'integer' } },
  'X-RateLimit-Remaining': { description: 'Requests left in the current window', schema: { type: 'integer' } },
  'X-RateLimit-Reset': { description: 'Seconds until the window frees', schema: { type: 'integer' } },
  'X-RateLimit-Limit-expensive': { description: 'Expensive requests (compile, train, predict) allowed to the tenant per window, across all of its keys', schema: { type: 'integer' } },
  'X-RateLimit-Remaining-expensive': { description: 'Expensive requests left to the tenant in the current window', schema: { type: 'integer' } },
  'X-RateLimit-Reset-expensive': { description: 'Seconds until the expensive window frees', schema: { type: 'integer' } },
  'Retry-After': { description: 'Seconds to wait before retrying', schema: { type: 'integer' } },
  'Retry-After-expensive': { description: 'Seconds until the expensive budget frees (on a 429 from it; Retry-After says the same)', schema: { type: 'integer' } },
  'WWW-Authenticate': { description: 'The accepted schemes', schema: { type: 'string' } },
  [IDEMPOTENT_REPLAYED_HEADER]: { description: '`true` when the answer is replayed from an earlier request with the same Idempotency-Key', schema: { type: 'string', enum: ['true'] } },
};

const ref = (name: string) => ({ $ref: `#/components/headers/${name}` });
const PROBLEM_REF = '#/components/schemas/Problem';

function problemResponse(description: string, headers: string[] = []): Json {
  return {
    description,
    headers: Object.fromEntries(['X-Request-Id', ...headers].map((h) => [h, ref(h)])),
    content: { [PROBLEM_CONTENT_TYPE]: { schema: { $ref: PROBLEM_REF } } },
  };
}

/**
 * The OpenAPI document of the gateway, completed with what every route shares: the security schemes (none on public
 * routes, API key only where a route says so), the problem+json error answers each route can give, and the
 * request-id and rate-limit headers.
 */
export function buildOpenApiDocument(app: INestApplication, config: AppConfig): OpenAPIObject {
  const builder = new DocumentBuilder()
    .setTitle('Neural DSL Platform API')
    .setDescription(
      `${description}. Authenticate with an API key in the \`${config.auth.apiKeyHeader}\` header, or with a bearer token from \`POST /auth/token\`. ` +
        'Errors are application/problem+json; every response carries X-Request-Id.',
    )
    .setVersion(version)
    .setLicense('MIT', 'https://opensource.org/licenses/MIT')
    // Relative: the document describes whichever gateway serves it (the same as OpenAPI's default, but explicit).
    .addServer('/', 'The gateway serving this document')
    .addApiKey({ type: 'apiKey', in: 'header', name: config.auth.apiKeyHeader, description: 'An API key' }, API_KEY_SCHEME)
    .addBearerAuth({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'A token from POST /auth/token' }, BEARER_SCHEME)
    .build();
  const document = SwaggerModule.createDocument(app, builder, { extraModels: [ProblemDto] });
  completeDocument(document, config.rateLimit.enabled);
  return sortKeys(document) as OpenAPIObject;
}

function completeDocument(document: OpenAPIObject, rateLimited: boolean): void {
  const components = (document.components ??= {}) as Json;
  components.headers = { ...(components.headers ?? {}), ...HEADERS };
  for (const pathItem of Object.values(document.paths) as Json[]) {
    for (const method of ['get', 'put', 'post', 'delete', 'patch', 'head', 'options']) {
      const op = pathItem[method] as Json | undefined;
      if (!op) continue;
      const isPublic = op[OPENAPI_PUBLIC_EXTENSION] === true;
      const keyOnly = op[OPENAPI_API_KEY_ONLY_EXTENSION] === true;
      const limited = rateLimited && op[OPENAPI_NO_RATE_LIMIT_EXTENSION] !== true;
      const expensive = limited && op[OPENAPI_EXPENSIVE_EXTENSION] === true;
      delete op[OPENAPI_PUBLIC_EXTENSION];
      delete op[OPENAPI_API_KEY_ONLY_EXTENSION];
      delete op[OPENAPI_NO_RATE_LIMIT_EXTENSION];
      delete op[OPENAPI_EXPENSIVE_EXTENSION];
      op.security = isPublic ? [] : keyOnly ? [{ [API_KEY_SCHEME]: [] }] : [{ [API_KEY_SCHEME]: [] }, { [BEARER_SCHEME]: [] }];

      const params = (op.parameters ?? []) as Json[];
      const responses = (op.responses ??= {}) as Json;
      const expensiveHeaders = expensive ? ['X-RateLimit-Limit-expensive', 'X-RateLimit-Remaining-expensive', 'X-RateLimit-Reset-expensive'] : [];
      const limitHeaders = limited ? ['X-RateLimit-Limit', 'X-RateLimit-Remaining', 'X-RateLimit-Reset', ...expensiveHeaders] : [];
      for (const [status, response] of Object.entries(responses) as [string, Json][]) {
        if ('$ref' in response) continue;
        // Routes declare error answers with `type: ProblemDto`; swagger files them under application/json.
        const json = response.content?.['application/json'];
        if (Number(status) >= 400 && json?.schema?.$ref === PROBLEM_REF) response.content = { [PROBLEM_CONTENT_TYPE]: json };
        const own = Object.keys(response.headers ?? {});
        response.headers = { ...(response.headers ?? {}), ...Object.fromEntries(['X-Request-Id', ...(status.startsWith('2') ? limitHeaders : [])].filter((h) => !own.includes(h)).map((h) => [h, ref(h)])) };
      }
      if (op[OPENAPI_IDEMPOTENT_EXTENSION] === true) {
        for (const [status, response] of Object.entries(responses) as [string, Json][]) {
          if ('$ref' in response) continue;
          if (status.startsWith('2')) response.headers[IDEMPOTENT_REPLAYED_HEADER] = ref(IDEMPOTENT_REPLAYED_HEADER);
          if (status === '409') response.headers['Retry-After'] = ref('Retry-After');
        }
        delete op[OPENAPI_IDEMPOTENT_EXTENSION];
      }
      const add = (status: string, response: Json) => {
        responses[status] ??= response;
      };
      if (op.requestBody) {
        add('400', problemResponse('Malformed JSON body (code malformed_json)'));
        add('413', problemResponse('The body exceeds the size limit (code payload_too_large)'));
      }
      if (op.requestBody || params.some((p) => p.in === 'query')) add('422', problemResponse('The request failed validation: one {field, message} per field (code validation_error)'));
      if (!isPublic) {
        add('401', problemResponse('Missing or invalid credentials (code unauthorized)', ['WWW-Authenticate']));
        add('403', problemResponse(`The key lacks the "${op[OPENAPI_SCOPE_EXTENSION]}" scope this operation needs (code insufficient_scope)`));
        op.description = [op.description, `Requires the \`${op[OPENAPI_SCOPE_EXTENSION]}\` scope.`].filter(Boolean).join(' ');
      }
      if (params.some((p) => p.in === 'path')) add('404', problemResponse('No such resource for this tenant (code not_found)'));
      if (expensive) op.description = [op.description, "Also counts against the tenant's expensive-route budget (`X-RateLimit-*-expensive`)."].filter(Boolean).join(' ');
      if (limited) {
        const which = expensive
          ? 'The request budget (per key) or the expensive budget (per tenant) is used up (code rate_limited; the detail says which, the -expensive headers describe the latter)'
          : 'The request budget (per key; per address when anonymous) is used up (code rate_limited)';
        add('429', problemResponse(which, ['Retry-After', 'X-RateLimit-Limit', 'X-RateLimit-Remaining', 'X-RateLimit-Reset', ...(expensive ? ['Retry-After-expensive', ...expensiveHeaders] : [])]));
      }
      add('500', problemResponse('Unexpected failure: only an error id is shown (code internal_error)'));
    }
  }
}

/** A deep copy with object keys sorted, so the exported document is byte-stable. Arrays keep their order. */
export function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, sortKeys((value as Json)[k])]),
    );
  }
  return value;
}
