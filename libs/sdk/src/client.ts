import createClient, { type Client } from 'openapi-fetch';
import { NeuralApiError } from './errors';
import type { components, paths } from './schema';

/** The generated, fully typed client: `client.GET('/jobs/{job_id}', { params: { path: { job_id } } })`. */
export type NeuralClient = Client<paths>;

/** A schema of the API by name: `Schema<'JobDto'>`. */
export type Schema<Name extends keyof components['schemas']> = components['schemas'][Name];

export interface NeuralClientOptions {
  /** The gateway's origin, e.g. `http://localhost:8000`. */
  baseUrl: string;
  /** An API key, sent in `apiKeyHeader`. */
  apiKey?: string;
  /** A bearer token from `POST /auth/token`; used when no apiKey is given. */
  token?: string;
  /** The gateway's API_KEY_HEADER; default `X-API-Key`. */
  apiKeyHeader?: string;
  /** Another fetch (tests, proxies); default the global one. */
  fetch?: (input: Request) => Promise<Response>;
  /** Sent with every request. */
  headers?: Record<string, string>;
}

/**
 * A typed client of the Neural DSL Platform API (openapi-fetch over the committed OpenAPI document), with the
 * credentials set on every request. Calls answer `{ data, error, response }`; `unwrap` turns that into data or a
 * thrown NeuralApiError.
 */
export function createNeuralClient(options: NeuralClientOptions): NeuralClient {
  const headers: Record<string, string> = { ...options.headers };
  if (options.apiKey) headers[options.apiKeyHeader ?? 'X-API-Key'] = options.apiKey;
  else if (options.token) headers.Authorization = `Bearer ${options.token}`;
  return createClient<paths>({ baseUrl: options.baseUrl.replace(/\/+$/, ''), headers, fetch: options.fetch });
}

/** The data of a successful call, or a NeuralApiError carrying the problem+json answer. */
export async function unwrap<R extends { data?: unknown; error?: unknown; response: Response }>(call: Promise<R> | R): Promise<Exclude<R['data'], undefined>> {
  const { data, error, response } = await call;
  if (!response.ok) throw NeuralApiError.from(response, error);
  return data as Exclude<R['data'], undefined>;
}
