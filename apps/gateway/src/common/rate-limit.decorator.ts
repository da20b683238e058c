import { applyDecorators } from '@nestjs/common';
import { ApiExtension } from '@nestjs/swagger';
import { SkipThrottle } from '@nestjs/throttler';

/** OpenAPI extension read (and removed) by the document builder: the operation has no 429. */
export const OPENAPI_NO_RATE_LIMIT_EXTENSION = 'x-neural-no-rate-limit';

/** The route is not rate limited (health probes). */
export const NoRateLimit = (): ClassDecorator & MethodDecorator =>
  applyDecorators(SkipThrottle(), ApiExtension(OPENAPI_NO_RATE_LIMIT_EXTENSION, true));
