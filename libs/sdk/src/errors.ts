/** One entry of a problem's `errors`: `{field, message}` for validation, `{line, column, message, hint?}` for DSL errors. */
export interface ProblemItem {
  field?: string;
  line?: number;
  column?: number;
  message: string;
  hint?: string;
  [key: string]: unknown;
}

/** The API's error body (application/problem+json). */
export interface Problem {
  status: number;
  code: string;
  title: string;
  detail: string;
  errors?: ProblemItem[];
  request_id?: string;
  error_id?: string;
}

/** An error answer of the API: its HTTP status and problem+json body. Thrown by `unwrap` and the SDK's helpers. */
export class NeuralApiError extends Error {
  override readonly name = 'NeuralApiError';
  readonly status: number;
  readonly code: string;
  readonly title: string;
  readonly detail: string;
  readonly errors?: ProblemItem[];
  readonly requestId?: string;
  /** Only on a 500: the id the failure was logged under. */
  readonly errorId?: string;

  constructor(problem: Problem) {
    super(`${problem.status} ${problem.code}: ${problem.detail}`);
    this.status = problem.status;
    this.code = problem.code;
    this.title = problem.title;
    this.detail = problem.detail;
    this.errors = problem.errors;
    this.requestId = problem.request_id;
    this.errorId = problem.error_id;
  }

  /** From an error response and its parsed body; a body that is not a problem (a proxy's page) still gives an error. */
  static from(response: Response, body: unknown): NeuralApiError {
    const b = (typeof body === 'object' && body !== null ? body : {}) as Partial<Problem>;
    const text = typeof body === 'string' && body ? body.slice(0, 200) : undefined;
    return new NeuralApiError({
      status: typeof b.status === 'number' ? b.status : response.status,
      code: typeof b.code === 'string' ? b.code : `http_${response.status}`,
      title: typeof b.title === 'string' ? b.title : response.statusText,
      detail: typeof b.detail === 'string' ? b.detail : (text ?? `HTTP ${response.status} from ${response.url}`),
      errors: Array.isArray(b.errors) ? b.errors : undefined,
      request_id: b.request_id ?? response.headers.get('x-request-id') ?? undefined,
      error_id: b.error_id,
    });
  }
}

/** `waitForJob` gave up: the job had not finished within `timeoutMs`. */
export class JobTimeoutError extends Error {
  override readonly name = 'JobTimeoutError';

  constructor(
    readonly jobId: string,
    readonly timeoutMs: number,
    /** The job as last read. */
    readonly lastStatus: string | undefined,
  ) {
    super(`job ${jobId} did not finish within ${timeoutMs} ms (last status: ${lastStatus ?? 'unknown'})`);
  }
}
