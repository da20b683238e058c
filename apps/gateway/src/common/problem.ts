import { STATUS_CODES } from 'http';

/** The body of every 4xx/5xx answer, sent as `application/problem+json` (API.md "General"). */
export interface ProblemBody {
  status: number;
  code: string;
  title: string;
  detail: string;
  errors?: readonly unknown[];
  /** Only on a 500: the id under which the failure was logged. */
  error_id?: string;
  request_id: string;
}

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

/** The reason phrase of an HTTP status ("Unprocessable Entity"). */
export function statusTitle(status: number): string {
  return STATUS_CODES[status] ?? (status >= 500 ? 'Server Error' : 'Client Error');
}
