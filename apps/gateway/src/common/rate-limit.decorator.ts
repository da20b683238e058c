import { applyDecorators, SetMetadata } from '@nestjs/common';
import { ApiExtension } from '@nestjs/swagger';
import { SkipThrottle } from '@nestjs/throttler';

/** OpenAPI extension read (and removed) by the document builder: the operation has no 429. */
export const OPENAPI_NO_RATE_LIMIT_EXTENSION = 'x-neural-no-rate-limit';
/** OpenAPI extension read (and removed) by the document builder: the operation also counts against the expensive budget. */
export const OPENAPI_EXPENSIVE_EXTENSION = 'x-neural-expensive';

/** Metadata key of {@link ExpensiveRoute}, read by the `expensive` throttler's `skipIf`. */
export const EXPENSIVE_ROUTE = 'neural:expensive-route';

/** The route is not rate limited (health probes). */
export const NoRateLimit = (): ClassDecorator & MethodDecorator =>
  applyDecorators(SkipThrottle(), ApiExtension(OPENAPI_NO_RATE_LIMIT_EXTENSION, true));

/**
 * The route costs real compute (compile, train, predict): besides the per-key budget it counts against the stricter
 * `expensive` budget (RATE_LIMIT_EXPENSIVE_REQUESTS per RATE_LIMIT_EXPENSIVE_PERIOD), shared by all keys of a tenant.
 */
export const ExpensiveRoute = (): ClassDecorator & MethodDecorator =>
  applyDecorators(SetMetadata(EXPENSIVE_ROUTE, true), ApiExtension(OPENAPI_EXPENSIVE_EXTENSION, true));
