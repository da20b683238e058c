/** Offset paging as the API takes it (`skip` >= 0, `limit` 1..1000, validated by the caller). */
export interface PageQuery {
  skip: number;
  limit: number;
}

/** One page of a newest-first list plus the total count of rows matching the filters. */
export interface Page<T> {
  items: T[];
  total: number;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Ids come from URLs; anything that is not a UUID cannot exist, and PostgreSQL would reject it in a uuid column. */
export function isUuid(id: unknown): id is string {
  return typeof id === 'string' && UUID.test(id);
}

let last = 0;

/**
 * Now, but strictly increasing within the process, so rows created back to back still sort newest first by
 * `created_at` (timestamps have millisecond resolution).
 */
export function nextTimestamp(): Date {
  last = Math.max(Date.now(), last + 1);
  return new Date(last);
}
