import { ERROR_CODES } from '@app/contracts';
import { DomainError } from '../domain-error';
import { IDEMPOTENCY_KEY_HEADER } from './idempotency.constants';

const KEY = /^[\x21-\x7e]{1,255}$/;

/** The header's value when it is a valid key: 1 to 255 printable ASCII characters, no spaces (a repeated header fails). */
export function parseIdempotencyKey(raw: string | string[]): string {
  if (typeof raw === 'string' && KEY.test(raw)) return raw;
  throw DomainError.validation(
    [{ field: IDEMPOTENCY_KEY_HEADER, message: `${IDEMPOTENCY_KEY_HEADER} must be one value of 1 to 255 printable ASCII characters without spaces` }],
    `The ${IDEMPOTENCY_KEY_HEADER} header is not valid.`,
  );
}

export function idempotencyKeyReused(otherRoute: string | null): DomainError {
  const where = otherRoute ? ` (${otherRoute})` : '';
  return new DomainError(
    ERROR_CODES.idempotencyMismatch,
    422,
    'Idempotency-Key reused',
    `This ${IDEMPOTENCY_KEY_HEADER} was already used for a different request${where}; send a new key with a new request.`,
  );
}

export function idempotencyKeyInUse(): DomainError {
  return new DomainError(
    ERROR_CODES.idempotencyInProgress,
    409,
    'Idempotency-Key in use',
    `A request with this ${IDEMPOTENCY_KEY_HEADER} is still being processed; retry once it has finished.`,
    undefined,
    1,
  );
}
