/**
 * Protection of the HTTP edge against floods and slow clients (issue 9, item 4): the connection
 * cap and its log, load shedding with @fastify/under-pressure (503 unavailable) and the request
 * rate limit with @fastify/rate-limit (429 too_many_requests), both answering in the catalogue's
 * shape with Retry-After. Probes (/healthz, /readyz) and /metrics are never shed nor limited, so
 * an overloaded node still says so. The replication upgrade never passes through these hooks: Node
 * hands upgrades to the transport before any route runs.
 */
import rateLimit, { normalizeIP } from '@fastify/rate-limit';
import underPressure from '@fastify/under-pressure';
import type { FastifyBaseLogger, FastifyInstance, FastifyRequest } from 'fastify';
import type { Principal } from './auth.js';
import { ApiError, apiError } from './errors.js';
import type { HttpLimits } from './http-limits.js';

/**
 * Routes never shed nor rate limited: health and readiness probes and metrics must answer while a
 * node is overloaded, or the orchestrator kills it and the operator sees nothing.
 */
export const PROBE_ROUTES: ReadonlySet<string> = new Set(['/healthz', '/readyz', '/metrics']);

/** A refused connection is logged at most this often, with the count since the last line. */
const CONNECTION_DROP_LOG_INTERVAL_MS = 10_000;

/** Why requests are shed, in the words of the 503. */
const PRESSURE_REASONS: Readonly<Record<string, string>> = {
  eventLoopDelay: 'overloaded: the event loop is behind',
  heapUsedBytes: 'overloaded: the memory in use is near its limit',
  rssBytes: 'overloaded: the memory in use is near its limit',
  eventLoopUtilization: 'overloaded: the event loop is saturated',
  healthCheck: 'overloaded',
};

/**
 * Caps the open connections of `app`'s server at `limits.connectionsMax` (Node closes any past it at
 * once) and logs refusals, at most one line per CONNECTION_DROP_LOG_INTERVAL_MS.
 */
export function capConnections(app: FastifyInstance, limits: HttpLimits, logger: FastifyBaseLogger): void {
  app.server.maxConnections = limits.connectionsMax;
  let dropped = 0;
  let loggedAtMs = Number.NEGATIVE_INFINITY;
  app.server.on('drop', () => {
    dropped += 1;
    const now = Date.now();
    if (now - loggedAtMs < CONNECTION_DROP_LOG_INTERVAL_MS) return;
    logger.warn(
      { refused: dropped, connectionsMax: limits.connectionsMax },
      'connections refused: the connection cap is reached',
    );
    loggedAtMs = now;
    dropped = 0;
  });
}

function isProbe(request: FastifyRequest): boolean {
  return request.routeOptions.url !== undefined && PROBE_ROUTES.has(request.routeOptions.url);
}

/**
 * Sheds requests with 503 `unavailable` and Retry-After while the event loop lags past
 * `eventLoopDelayMsMax` or the heap in use passes `heapUsedBytesMax`. Probe routes always answer.
 */
export async function registerLoadShedding(app: FastifyInstance, limits: HttpLimits): Promise<void> {
  // Pressure is judged once per sample: retrying sooner than the next one meets the same answer.
  const retryAfterSeconds = Math.max(1, Math.ceil(limits.pressureSampleIntervalMs / 1000));
  await app.register(underPressure, {
    maxEventLoopDelay: limits.eventLoopDelayMsMax,
    maxHeapUsedBytes: limits.heapUsedBytesMax,
    sampleInterval: limits.pressureSampleIntervalMs,
    pressureHandler: (request, _reply, type, value) => {
      if (isProbe(request)) return undefined;
      // A sample interval without one loop sample (the plugin reports an infinite delay) means a
      // single synchronous task held the loop for the whole interval. It is over by the time this
      // request runs, and one long task is not overload: a saturated loop still takes samples,
      // late ones, and a finite mean past the limit sheds.
      if (type === 'eventLoopDelay' && value === Number.POSITIVE_INFINITY) return undefined;
      const reason = PRESSURE_REASONS[type] ?? 'overloaded';
      return Promise.reject(
        apiError(
          'unavailable',
          { reason },
          { reason: 'overloaded', pressure: type },
          { 'retry-after': String(retryAfterSeconds) },
        ),
      );
    },
  });
}

/**
 * Limits requests per window: per token for requests that carry a valid one, else per IP address
 * (unknown tokens included, so inventing tokens buys no new budget). Past the limit: 429
 * `too_many_requests` with Retry-After. `principalOf` authenticates the request (cached, so the auth
 * hook does not hash the token twice); probe routes are not limited.
 */
export async function registerRateLimit(
  app: FastifyInstance,
  limits: HttpLimits,
  principalOf: (request: FastifyRequest) => Principal | ApiError | null,
): Promise<void> {
  await app.register(rateLimit, { global: false });
  const byToken = (request: FastifyRequest): Principal | null => {
    const principal = principalOf(request);
    return principal === null || principal instanceof ApiError ? null : principal;
  };
  app.addHook(
    'onRequest',
    app.rateLimit({
      timeWindow: limits.rateLimitWindowMs,
      keyGenerator: (request) => {
        const principal = byToken(request);
        // IPv6 addresses count per /64 (one host usually holds a whole /64): rotating them buys nothing.
        return principal === null ? `ip:${normalizeIP(request.ip)}` : `token:${principal.id}`;
      },
      max: (_request, key) =>
        key.startsWith('token:') ? limits.rateLimitTokenRequests : limits.rateLimitAnonymousRequests,
      allowList: (request) => isProbe(request),
      errorResponseBuilder: (request, context) => {
        const retryAfterSeconds = Math.max(1, Math.ceil(context.ttl / 1000));
        const who = byToken(request) === null ? 'address' : 'token';
        return apiError(
          'too_many_requests',
          { who, retryAfterSeconds },
          { limit: context.max, windowMs: limits.rateLimitWindowMs, retryAfterSeconds },
          { 'retry-after': String(retryAfterSeconds) },
        );
      },
    }),
  );
}
