/** The transport could not accept or answer in time (Redis down or unreachable). The job row stays as it was. */
export class QueueUnavailableError extends Error {
  readonly code = 'queue_unavailable';

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'QueueUnavailableError';
  }
}
