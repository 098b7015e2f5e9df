/**
 * Limits of the HTTP edge (node config `http`): timeouts, the connection cap, the request rate
 * limit and the load-shedding thresholds. Every field is optional; the defaults are in limits.ts.
 */
import { getHeapStatistics } from 'node:v8';
import {
  CONNECTIONS_MAX_DEFAULT,
  EVENT_LOOP_DELAY_MS_MAX_DEFAULT,
  HEADERS_TIMEOUT_MS_DEFAULT,
  HEAP_USED_FRACTION_MAX,
  KEEP_ALIVE_TIMEOUT_MS_DEFAULT,
  PRESSURE_SAMPLE_INTERVAL_MS_DEFAULT,
  RATE_LIMIT_ANONYMOUS_REQUESTS_DEFAULT,
  RATE_LIMIT_TOKEN_REQUESTS_DEFAULT,
  RATE_LIMIT_WINDOW_MS_DEFAULT,
  REQUEST_TIMEOUT_MS_DEFAULT,
  TIMEOUT_CHECK_INTERVAL_MS_MAX,
} from './limits.js';

/** The HTTP edge's limits as configured; an absent field takes its default. */
export interface HttpLimitOptions {
  /** Time to send the request line and headers (default HEADERS_TIMEOUT_MS_DEFAULT). */
  readonly headersTimeoutMs?: number | undefined;
  /** Time to send the whole request, body included (default REQUEST_TIMEOUT_MS_DEFAULT). */
  readonly requestTimeoutMs?: number | undefined;
  /** Idle time of a keep-alive connection between requests (default KEEP_ALIVE_TIMEOUT_MS_DEFAULT). */
  readonly keepAliveTimeoutMs?: number | undefined;
  /** Open connections past which new ones are closed at once (default CONNECTIONS_MAX_DEFAULT). */
  readonly connectionsMax?: number | undefined;
  /** Window of the rate limit (default RATE_LIMIT_WINDOW_MS_DEFAULT). */
  readonly rateLimitWindowMs?: number | undefined;
  /** Requests per window of one token (default RATE_LIMIT_TOKEN_REQUESTS_DEFAULT). */
  readonly rateLimitTokenRequests?: number | undefined;
  /** Requests per window of one IP address without a valid token (default RATE_LIMIT_ANONYMOUS_REQUESTS_DEFAULT). */
  readonly rateLimitAnonymousRequests?: number | undefined;
  /** Mean event-loop delay past which requests are shed (default EVENT_LOOP_DELAY_MS_MAX_DEFAULT; 0: never). */
  readonly eventLoopDelayMsMax?: number | undefined;
  /** Heap in use past which requests are shed (default HEAP_USED_FRACTION_MAX of V8's heap limit; 0: never). */
  readonly heapUsedBytesMax?: number | undefined;
  /** How often the loop delay and the heap are sampled (default PRESSURE_SAMPLE_INTERVAL_MS_DEFAULT). */
  readonly pressureSampleIntervalMs?: number | undefined;
}

/** The HTTP edge's limits with every default filled in. */
export type HttpLimits = { readonly [K in keyof HttpLimitOptions]-?: number };

function positive(name: string, value: number | undefined, fallback: number, least = 1): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < least) {
    const what = least === 0 ? 'an integer ≥ 0' : 'a positive integer';
    throw new TypeError(`http.${name} must be ${what}, got ${String(value)}`);
  }
  return value;
}

/** `options` with the defaults filled in; throws a TypeError naming a field that is not a positive integer. */
export function resolveHttpLimits(options: HttpLimitOptions = {}): HttpLimits {
  const limits: HttpLimits = {
    headersTimeoutMs: positive('headersTimeoutMs', options.headersTimeoutMs, HEADERS_TIMEOUT_MS_DEFAULT),
    requestTimeoutMs: positive('requestTimeoutMs', options.requestTimeoutMs, REQUEST_TIMEOUT_MS_DEFAULT),
    keepAliveTimeoutMs: positive(
      'keepAliveTimeoutMs',
      options.keepAliveTimeoutMs,
      KEEP_ALIVE_TIMEOUT_MS_DEFAULT,
    ),
    connectionsMax: positive('connectionsMax', options.connectionsMax, CONNECTIONS_MAX_DEFAULT),
    rateLimitWindowMs: positive('rateLimitWindowMs', options.rateLimitWindowMs, RATE_LIMIT_WINDOW_MS_DEFAULT),
    rateLimitTokenRequests: positive(
      'rateLimitTokenRequests',
      options.rateLimitTokenRequests,
      RATE_LIMIT_TOKEN_REQUESTS_DEFAULT,
    ),
    rateLimitAnonymousRequests: positive(
      'rateLimitAnonymousRequests',
      options.rateLimitAnonymousRequests,
      RATE_LIMIT_ANONYMOUS_REQUESTS_DEFAULT,
    ),
    eventLoopDelayMsMax: positive(
      'eventLoopDelayMsMax',
      options.eventLoopDelayMsMax,
      EVENT_LOOP_DELAY_MS_MAX_DEFAULT,
      0,
    ),
    heapUsedBytesMax: positive(
      'heapUsedBytesMax',
      options.heapUsedBytesMax,
      Math.floor(getHeapStatistics().heap_size_limit * HEAP_USED_FRACTION_MAX),
      0,
    ),
    pressureSampleIntervalMs: positive(
      'pressureSampleIntervalMs',
      options.pressureSampleIntervalMs,
      PRESSURE_SAMPLE_INTERVAL_MS_DEFAULT,
    ),
  };
  // Node refuses a headers timeout longer than the request timeout (the headers are part of it).
  if (limits.headersTimeoutMs > limits.requestTimeoutMs) {
    throw new TypeError(
      `http.headersTimeoutMs must not exceed http.requestTimeoutMs (${limits.headersTimeoutMs} > ${limits.requestTimeoutMs})`,
    );
  }
  return limits;
}

/**
 * How often Node checks the headers and request timeouts: often enough that a timeout fires within
 * about a quarter of its length, and never more rarely than TIMEOUT_CHECK_INTERVAL_MS_MAX.
 */
export function timeoutCheckIntervalMs(limits: HttpLimits): number {
  const shortest = Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs);
  return Math.max(1, Math.min(TIMEOUT_CHECK_INTERVAL_MS_MAX, Math.floor(shortest / 4)));
}
