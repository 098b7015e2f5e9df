/**
 * One call to the API with retries and failover: an answer 5xx or 429 is retried at the same region
 * after a backoff (or the server's Retry-After, bounded); a connection failure or timeout moves to
 * the next region's URL, and after a whole round of them, backs off. Any other answer is final: a
 * 4xx is the caller's to fix and is never retried. Every call of the API is safe to repeat — debits,
 * holds and refunds carry an idempotency key that the caller's helper generated once for the call,
 * grants their grant id, policies replace fields — so a retry never moves money twice; a key
 * accepted at two regions cut off from each other is refunded by the cluster (DESIGN.md §3).
 */
import { AllotApiError, AllotNetworkError } from './errors.js';
import {
  ATTEMPT_TIMEOUT_MS_DEFAULT,
  ATTEMPTS_MAX,
  BACKOFF_BASE_MS,
  BACKOFF_MAX_MS,
  RETRY_AFTER_MS_MAX,
} from './limits.js';

/** How the client reaches the API, and what it may replace for tests. */
export interface HttpOptions {
  /** Base URLs of the regions, preferred first (`https://eu.example:7001`). */
  readonly urls: readonly string[];
  /** The bearer token. */
  readonly token: string;
  /** Attempts of one call, the first included (default ATTEMPTS_MAX). */
  readonly attempts?: number;
  /** Time one attempt may take, ms (default ATTEMPT_TIMEOUT_MS_DEFAULT). */
  readonly attemptTimeoutMs?: number;
  /** The fetch to use (default the global one). */
  readonly fetch?: typeof fetch;
  /** Waits `ms` (default a timer); tests pass one that records the waits. */
  readonly sleep?: (ms: number) => Promise<void>;
  /** A number in [0, 1) for the backoff's jitter (default Math.random). */
  readonly random?: () => number;
}

/** A request of one call. */
export interface CallRequest {
  readonly method: 'GET' | 'POST' | 'PUT';
  /** Path and query, from `/` (`/v1/tenants/acme/balance`). */
  readonly path: string;
  readonly body?: unknown;
  readonly headers?: Readonly<Record<string, string>>;
}

/** A successful answer. */
export interface CallAnswer<T> {
  readonly status: number;
  readonly body: T;
  readonly headers: Headers;
  /** The base URL of the region that answered. */
  readonly url: string;
}

/** The backoff before attempt `attempt + 1` (from 0): doubling from the base, capped, with full jitter. */
export function backoffMs(attempt: number, random: () => number): number {
  const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** attempt);
  // Half fixed, half jitter: never zero, and clients that failed together spread out.
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/** The wait a Retry-After header asks for, ms, bounded; null when absent or not a number of seconds. */
export function retryAfterMs(header: string | null): number | null {
  if (header === null || !/^\d{1,9}$/.test(header.trim())) return null;
  return Math.min(RETRY_AFTER_MS_MAX, Number(header.trim()) * 1000);
}

/** Whether an answer with `status` is worth another attempt: overload and server faults. */
export function isRetryable(status: number): boolean {
  return status === 429 || status >= 500;
}

const defaultSleep = (ms: number) =>
  new Promise<void>((resolve) => {
    setTimeout(resolve, ms);
  });

/** Calls of one client: which region it prefers now (the last that answered), and the loop. */
export class Http {
  private readonly urls: readonly string[];
  private readonly attempts: number;
  private readonly attemptTimeoutMs: number;
  private readonly fetch: typeof fetch;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly random: () => number;
  /** Index of the region tried first: the last that answered. */
  private preferred = 0;

  constructor(private readonly options: HttpOptions) {
    if (options.urls.length === 0) throw new TypeError('at least one region URL is needed');
    this.urls = options.urls.map((url) => url.replace(/\/+$/, ''));
    this.attempts = Math.max(1, options.attempts ?? ATTEMPTS_MAX);
    this.attemptTimeoutMs = options.attemptTimeoutMs ?? ATTEMPT_TIMEOUT_MS_DEFAULT;
    this.fetch = options.fetch ?? globalThis.fetch;
    this.sleep = options.sleep ?? defaultSleep;
    this.random = options.random ?? Math.random;
  }

  /** The base URL tried first now. */
  get current(): string {
    return this.urls[this.preferred] as string;
  }

  /** The base URLs, preferred first now (for the stream's reconnects). */
  get order(): readonly string[] {
    return this.urls.map((_, offset) => this.urls[(this.preferred + offset) % this.urls.length] as string);
  }

  /** One plain request to the region at `base`, without retries: for the stream, which resumes itself. */
  open(base: string, path: string, init: RequestInit): Promise<Response> {
    return this.fetch(`${base}${path}`, init);
  }

  /** Marks the region at `url` as the one to try first. */
  prefer(url: string): void {
    const index = this.urls.indexOf(url);
    if (index >= 0) this.preferred = index;
  }

  /** The headers of every request: the token, and JSON when there is a body. */
  headers(extra: Readonly<Record<string, string>> = {}, body = false): Record<string, string> {
    return {
      authorization: `Bearer ${this.options.token}`,
      accept: 'application/json',
      ...(body ? { 'content-type': 'application/json' } : {}),
      ...extra,
    };
  }

  /** Backs off before attempt `attempt + 1`. */
  backoff(attempt: number, asked: number | null = null): Promise<void> {
    return this.sleep(asked ?? backoffMs(attempt, this.random));
  }

  /** Sends `request`, retrying and failing over as the module says; the JSON answer, or throws. */
  async call<T>(request: CallRequest): Promise<CallAnswer<T>> {
    const tried: string[] = [];
    let lastNetworkError: unknown;
    let lastError: AllotApiError | null = null;
    let connectFailures = 0;
    for (let attempt = 0; attempt < this.attempts; attempt++) {
      const base = this.current;
      tried.push(base);
      let response: Response;
      let body: unknown;
      try {
        response = await this.fetch(`${base}${request.path}`, {
          method: request.method,
          headers: this.headers(request.headers, request.body !== undefined),
          ...(request.body === undefined ? {} : { body: JSON.stringify(request.body) }),
          signal: AbortSignal.timeout(this.attemptTimeoutMs),
        });
        body = await readJson(response);
      } catch (error) {
        // No answer: this region is unreachable now; the next one is tried at once, and a whole
        // round of failures backs off before the next round.
        lastNetworkError = error;
        lastError = null;
        connectFailures++;
        this.preferred = (this.preferred + 1) % this.urls.length;
        if (connectFailures % this.urls.length === 0 && attempt + 1 < this.attempts) {
          await this.backoff(attempt);
        }
        continue;
      }
      if (response.ok) {
        this.prefer(base);
        return { status: response.status, body: body as T, headers: response.headers, url: base };
      }
      lastError = new AllotApiError(response.status, body, `${base}${request.path}`);
      if (!isRetryable(response.status)) throw lastError;
      if (attempt + 1 < this.attempts)
        await this.backoff(attempt, retryAfterMs(response.headers.get('retry-after')));
    }
    if (lastError !== null) throw lastError;
    throw new AllotNetworkError(
      `no region answered ${request.method} ${request.path} in ${this.attempts} attempts`,
      tried,
      { cause: lastNetworkError },
    );
  }
}

/** The JSON of an answer; null for an empty body, the text when it is not JSON (an error of a proxy). */
async function readJson(response: Response): Promise<unknown> {
  const text = await response.text();
  if (text === '') return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}
