import { Global, Module } from '@nestjs/common';
import { IdempotencyService } from './idempotency.service';

/** `Idempotency-Key` support for the routes marked `@Idempotent()` (their interceptor resolves the service from here). */
@Global()
@Module({ providers: [IdempotencyService], exports: [IdempotencyService] })
export class IdempotencyModule {}
