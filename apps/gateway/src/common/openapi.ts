import type { AppConfig } from '@app/config';
import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, type OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import { description, version } from '../../../../package.json';
import { OPENAPI_API_KEY_ONLY_EXTENSION, OPENAPI_PUBLIC_EXTENSION } from '../auth/auth.decorators';
import { ProblemDto } from './dto/problem.dto';
import { PROBLEM_CONTENT_TYPE } from './problem';
import { OPENAPI_NO_RATE_LIMIT_EXTENSION } from './rate-limit.decorator';

export const API_KEY_SCHEME = 'api_key';
export const BEARER_SCHEME = 'bearer';

type Json = Record<string, any>;

const HEADERS: Json = {
  'X-Request-Id': { description: "The request's id (the client's own when it sent a plain token)", schema: { type: 'string' } },
  'X-RateLimit-Limit': { description: 'Requests allowed per window', schema: { type: 'integer' } },
  'X-RateLimit-Remaining': { description: 'Requests left in the current window', schema: { type: 'integer' } },
  'X-RateLimit-Reset': { description: 'Seconds until the window frees', schema: { type: 'integer' } },
  'Retry-After': { description: 'Seconds to wait before retrying', schema: { type: 'integer' } },
  'WWW-Authenticate': { description: 'The accepted schemes', schema: { type: 'string' } },
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
      delete op[OPENAPI_PUBLIC_EXTENSION];
      delete op[OPENAPI_API_KEY_ONLY_EXTENSION];
      delete op[OPENAPI_NO_RATE_LIMIT_EXTENSION];
      op.security = isPublic ? [] : keyOnly ? [{ [API_KEY_SCHEME]: [] }] : [{ [API_KEY_SCHEME]: [] }, { [BEARER_SCHEME]: [] }];

      const params = (op.parameters ?? []) as Json[];
      const responses = (op.responses ??= {}) as Json;
      const limitHeaders = limited ? ['X-RateLimit-Limit', 'X-RateLimit-Remaining', 'X-RateLimit-Reset'] : [];
      for (const [status, response] of Object.entries(responses) as [string, Json][]) {
        if ('$ref' in response) continue;
        // Routes declare error answers with `type: ProblemDto`; swagger files them under application/json.
        const json = response.content?.['application/json'];
        if (Number(status) >= 400 && json?.schema?.$ref === PROBLEM_REF) response.content = { [PROBLEM_CONTENT_TYPE]: json };
        const own = Object.keys(response.headers ?? {});
        response.headers = { ...(response.headers ?? {}), ...Object.fromEntries(['X-Request-Id', ...(status.startsWith('2') ? limitHeaders : [])].filter((h) => !own.includes(h)).map((h) => [h, ref(h)])) };
      }
      const add = (status: string, response: Json) => {
        responses[status] ??= response;
      };
      if (op.requestBody) {
        add('400', problemResponse('Malformed JSON body (code malformed_json)'));
        add('413', problemResponse('The body exceeds the size limit (code payload_too_large)'));
      }
      if (op.requestBody || params.some((p) => p.in === 'query')) add('422', problemResponse('The request failed validation: one {field, message} per field (code validation_error)'));
      if (!isPublic) add('401', problemResponse('Missing or invalid credentials (code unauthorized)', ['WWW-Authenticate']));
      if (params.some((p) => p.in === 'path')) add('404', problemResponse('No such resource for this tenant (code not_found)'));
      if (limited) add('429', problemResponse('Rate limit exceeded (code rate_limited)', ['Retry-After', 'X-RateLimit-Limit', 'X-RateLimit-Remaining', 'X-RateLimit-Reset']));
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
