import type { JobEvent } from '@app/contracts';
import { unwrap, type NeuralClient, type Schema } from './client';
import { JobTimeoutError, NeuralApiError } from './errors';

export type Job = Schema<'JobDto'>;
export type JobStatus = Job['status'];

export const FINISHED_JOB_STATUSES: readonly JobStatus[] = ['completed', 'failed', 'cancelled'];

/** A message of `GET /jobs/{job_id}/events` (the SSE payloads are not in the OpenAPI document). */
export type JobStreamEvent =
  | { event: 'job'; data: Job }
  | { event: 'progress'; data: Extract<JobEvent, { type: 'progress' }> }
  | { event: 'epoch'; data: Extract<JobEvent, { type: 'epoch' }> };

export interface WaitForJobOptions {
  /** Give up (JobTimeoutError) after this long; default 10 minutes. */
  timeoutMs?: number;
  /** Between reads; default 500 ms. */
  intervalMs?: number;
  signal?: AbortSignal;
}

/**
 * Reads the job until it is completed, failed or cancelled and answers it in that state (a failed job is answered,
 * not thrown: its `error` says why). Throws NeuralApiError when a read fails, JobTimeoutError after `timeoutMs`.
 */
export async function waitForJob(client: NeuralClient, jobId: string, options: WaitForJobOptions = {}): Promise<Job> {
  const { timeoutMs = 600_000, intervalMs = 500, signal } = options;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    signal?.throwIfAborted();
    const job = await unwrap(client.GET('/jobs/{job_id}', { params: { path: { job_id: jobId } }, signal }));
    if (FINISHED_JOB_STATUSES.includes(job.status)) return job;
    const left = deadline - Date.now();
    if (left <= 0) throw new JobTimeoutError(jobId, timeoutMs, job.status);
    await sleep(Math.min(intervalMs, left), signal);
  }
}

/**
 * The job's Server-Sent Events (`job` at the start and at every change, `progress` per batch, `epoch` per epoch),
 * read with fetch streaming so the client's credentials are sent (EventSource cannot send headers). Ends when the
 * job finishes or the server closes the stream; `break` or the signal closes it early. Throws NeuralApiError when the
 * stream is refused.
 */
export async function* jobEvents(client: NeuralClient, jobId: string, options: { signal?: AbortSignal } = {}): AsyncGenerator<JobStreamEvent> {
  const controller = new AbortController();
  const abort = () => controller.abort(options.signal?.reason);
  options.signal?.addEventListener('abort', abort, { once: true });
  try {
    const { data, error, response } = await client.GET('/jobs/{job_id}/events', {
      params: { path: { job_id: jobId } },
      headers: { Accept: 'text/event-stream' },
      parseAs: 'stream',
      signal: controller.signal,
    });
    if (!response.ok || !data) throw NeuralApiError.from(response, error);
    for await (const frame of sseFrames(data)) {
      if (frame.event !== 'job' && frame.event !== 'progress' && frame.event !== 'epoch') continue;
      const event = { event: frame.event, data: JSON.parse(frame.data) } as JobStreamEvent;
      yield event;
      if (event.event === 'job' && FINISHED_JOB_STATUSES.includes(event.data.status)) return;
    }
  } finally {
    options.signal?.removeEventListener('abort', abort);
    controller.abort();
  }
}

/** The `event`/`data` frames of an SSE byte stream (comments and `id`/`retry` fields skipped, `data` lines joined). */
export async function* sseFrames(body: ReadableStream<Uint8Array>): AsyncGenerator<{ event: string; data: string }> {
  const decoder = new TextDecoder();
  const reader = body.getReader();
  let buffer = '';
  let event = '';
  let data: string[] = [];
  try {
    for (;;) {
      const { value, done } = await reader.read();
      buffer += done ? decoder.decode() : decoder.decode(value, { stream: true });
      const lines = buffer.split(/\r\n|\r|\n/);
      buffer = done ? '' : lines.pop()!;
      for (const line of lines) {
        if (line === '') {
          if (data.length) yield { event: event || 'message', data: data.join('\n') };
          event = '';
          data = [];
          continue;
        }
        if (line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'event') event = value;
        else if (field === 'data') data.push(value);
      }
      if (done) {
        if (data.length) yield { event: event || 'message', data: data.join('\n') };
        return;
      }
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = () => {
      signal?.removeEventListener('abort', aborted);
      resolve();
    };
    const timer = setTimeout(done, ms);
    const aborted = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', aborted, { once: true });
  });
}
