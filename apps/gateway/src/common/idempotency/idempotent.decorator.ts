import { applyDecorators, UseInterceptors } from '@nestjs/common';
import { ApiConflictResponse, ApiExtension, ApiHeader } from '@nestjs/swagger';
import { ProblemDto } from '../dto/problem.dto';
import { IDEMPOTENCY_KEY_HEADER, IDEMPOTENT_REPLAYED_HEADER, OPENAPI_IDEMPOTENT_EXTENSION } from './idempotency.constants';
import { IdempotencyInterceptor } from './idempotency.interceptor';

/**
 * The route honours an `Idempotency-Key` header: a retry with the same key and request gets the first success again
 * instead of creating a second resource. Its 409 is documented beside the route's own (swagger joins the descriptions).
 */
export const Idempotent = (): MethodDecorator =>
  applyDecorators(
    // On the route only: a global interceptor would turn every handler into a deferred observable, and an @Sse()
    // handler's 404 would then come after its 200 headers.
    UseInterceptors(IdempotencyInterceptor),
    ApiHeader({
      name: IDEMPOTENCY_KEY_HEADER,
      required: false,
      description:
        'A key of your choice (unique per tenant, e.g. a UUID) naming this request: a retry with the same key and body answers the first success ' +
        `again (same status and body, \`${IDEMPOTENT_REPLAYED_HEADER}: true\`) for IDEMPOTENCY_TTL_HOURS instead of creating a second one. ` +
        'The same key with a different body or route is a 422 (code idempotency_key_reused); while the first request runs, a 409 (code idempotency_key_in_use). ' +
        'Failed requests are not remembered.',
      schema: { type: 'string', minLength: 1, maxLength: 255, pattern: '^[\\x21-\\x7e]+$' },
    }),
    ApiConflictResponse({ type: ProblemDto, description: 'A request with the same Idempotency-Key is still running (code idempotency_key_in_use; Retry-After)' }),
    ApiExtension(OPENAPI_IDEMPOTENT_EXTENSION, true),
  );
