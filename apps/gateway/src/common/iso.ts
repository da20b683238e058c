/** A stored timestamp as the API shows it: RFC 3339 UTC with `Z`, or null. */
export function iso(d: Date | string | null | undefined): string | null {
  return d ? new Date(d).toISOString() : null;
}
