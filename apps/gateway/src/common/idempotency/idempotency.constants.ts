export const IDEMPOTENCY_KEY_HEADER = 'Idempotency-Key';
/** Set to `true` on an answer replayed from an earlier request with the same key. */
export const IDEMPOTENT_REPLAYED_HEADER = 'Idempotent-Replayed';
/** OpenAPI extension read (and removed) by the document builder: 2xx answers document the replay header. */
export const OPENAPI_IDEMPOTENT_EXTENSION = 'x-neural-idempotent';
