/**
 * The fastify app of a node: every route of API.md with its schemas, bearer auth, the error
 * catalogue for every failure (fastify's own and the HTTP parser's included), metrics, the OpenAPI
 * document, and the edge's protections (timeouts, connection cap, load shedding, rate limit), on
 * HTTP or HTTPS.
 */
import { maxHeaderSize } from 'node:http';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  LogController,
} from 'fastify';
import { type Access, authorize, type Principal, type TokenConfig, TokenTable } from './auth.js';
import { catalogueClientErrorHandler } from './client-errors.js';
import { capConnections, registerLoadShedding, registerRateLimit } from './edge-protection.js';
import { ApiError, type ErrorCode, errorObject } from './errors.js';
import { type HttpLimitOptions, resolveHttpLimits, timeoutCheckIntervalMs } from './http-limits.js';
import { BATCH_BODY_BYTES_MAX, BODY_BYTES_MAX, PATH_PARAM_LENGTH_MAX } from './limits.js';
import { createMetrics, type Metrics } from './metrics.js';
import { registerOpenApi } from './openapi.js';
import { catalogueError } from './request-errors.js';
import './route-config.js';
import type { Realtime } from './realtime.js';
import { notReadyError, type RouteContext } from './route-context.js';
import { registerAuditRoutes } from './routes/audit.js';
import { registerClusterRoutes } from './routes/cluster.js';
import { registerDebitRoutes } from './routes/debits.js';
import { registerGrantRoutes } from './routes/grants.js';
import { registerHoldRoutes } from './routes/holds.js';
import { registerOperationsRoutes } from './routes/operations.js';
import { registerPolicyRoutes } from './routes/policy.js';
import { registerReadRoutes } from './routes/reads.js';
import { registerRefundRoutes } from './routes/refunds.js';
import { registerSnapshotRoutes } from './routes/snapshot.js';
import { registerStreamRoute } from './routes/stream.js';
import { registerUiRoutes } from './routes/ui.js';
import { registerWebhookRoutes } from './routes/webhooks.js';
import { SHARED_SCHEMAS } from './schemas.js';
import type { ReplicaSource, ServedReplica } from './served-replica.js';

/** How to build the app. */
export interface AppOptions {
  /** The replica, or a getter that returns undefined until it is open (then /readyz and /v1 answer 503). */
  readonly replica: ReplicaSource;
  /** The bearer tokens (API.md node config). */
  readonly tokens: readonly TokenConfig[];
  /** A pino logger, or false for none. Only our own faults and errors are logged, never each request. */
  readonly logger?: FastifyBaseLogger | false;
  /** Body limit of every route but the batch (default BODY_BYTES_MAX). */
  readonly bodyLimitBytes?: number;
  /** Body limit of POST /v1/debits/batch (default BATCH_BODY_BYTES_MAX). */
  readonly batchBodyLimitBytes?: number;
  /** The metrics to feed and expose (default: new ones in their own registry). */
  readonly metrics?: Metrics;
  /** Timeouts, connection cap, rate limit and load shedding (defaults in limits.ts). */
  readonly http?: HttpLimitOptions;
  /** Serve HTTPS with these PEM contents (config `tls`); absent: plain HTTP. */
  readonly tls?: TlsServerOptions;
  /** The stream, alerts and webhooks (realtime.ts); absent: GET /v1/stream and the delivery log are not served. */
  readonly realtime?: Realtime;
}

/**
 * PEM contents of the node's TLS identity. Client certificates are asked for but not required at
 * the HTTP layer: the replication upgrade requires and verifies them (the transport), API clients
 * authenticate with bearer tokens.
 */
export interface TlsServerOptions {
  readonly cert: string | Buffer;
  readonly key: string | Buffer;
  readonly ca: string | Buffer;
}

/** Errors of a debit request that the replica never saw. */
const REFUSED_AT_THE_EDGE: ReadonlySet<ErrorCode> = new Set([
  'invalid_request',
  'payload_too_large',
  'unsupported_media_type',
]);

/** Longest request path echoed in a 404: enough to recognise it, never a whole hostile URL. */
const ECHOED_PATH_LENGTH_MAX = 256;

/** The fastify app of a node, with its schemas compiled (ready to listen or inject). */
export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const tokens = new TokenTable(options.tokens);
  const limits = resolveHttpLimits(options.http);
  // Node's own timeouts: headers, then the whole request (the body-read timeout), checked often
  // enough to fire near their length; keep-alive idle time between requests.
  const serverOptions = {
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    connectionsCheckingInterval: timeoutCheckIntervalMs(limits),
  };
  const metrics = options.metrics ?? createMetrics();
  const bodyLimitBytes = options.bodyLimitBytes ?? BODY_BYTES_MAX;
  const batchBodyLimitBytes = options.batchBodyLimitBytes ?? BATCH_BODY_BYTES_MAX;
  const source = options.replica;
  const current = (): ServedReplica | undefined => (typeof source === 'function' ? source() : source);
  const isReady = () => current()?.ready === true;
  const answered = new WeakSet<FastifyRequest>();
  const context: RouteContext = {
    replica() {
      const replica = current();
      if (replica === undefined) throw notReadyError();
      return replica;
    },
    metrics,
    batchBodyLimitBytes,
    debitAnswered(request, result, seconds, count = 1) {
      if (request.routeOptions.config.debitsInBody === 'one') {
        if (answered.has(request)) return;
        answered.add(request);
        metrics.observer.debitDecided(result, seconds);
        return;
      }
      metrics.observer.debitDecided(result, seconds, count);
    },
  };

  const app: FastifyInstance = Fastify({
    ...(options.logger ? { loggerInstance: options.logger } : { logger: false }),
    ...(options.tls === undefined
      ? { http: serverOptions }
      : {
          https: {
            ...serverOptions,
            // A TLS handshake gets the time the headers get (Node's default is 120 s).
            handshakeTimeout: limits.headersTimeoutMs,
            cert: options.tls.cert,
            key: options.tls.key,
            ca: options.tls.ca,
            requestCert: true,
            rejectUnauthorized: false,
          },
        }),
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    clientErrorHandler: catalogueClientErrorHandler(limits, maxHeaderSize),
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: bodyLimitBytes,
    routerOptions: { maxParamLength: PATH_PARAM_LENGTH_MAX },
    // No coercion ("3" is not 3), no silent removal of unknown fields, the first error only.
    ajv: {
      customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false, useDefaults: true },
    },
    // While closing, requests still get answers in the catalogue's shape (the replica says closing).
    return503OnClosing: false,
    frameworkErrors(error, _request, reply) {
      const known = catalogueError(error, { bodyLimitBytes });
      const answer = known ?? new ApiError(errorObject('internal', {}));
      (reply as FastifyReply).code(answer.statusCode).headers(answer.headers).send({ error: answer.body });
    },
  }) as unknown as FastifyInstance;

  capConnections(app, limits, app.log);
  app.decorateRequest('principal', null);
  // JSON only: without the text/plain parser, any other media type is a 415.
  app.removeContentTypeParser('text/plain');
  for (const schema of SHARED_SCHEMAS) app.addSchema(schema);

  await registerOpenApi(app);

  // Shed load first (cheapest), then count the request against its token's or address's rate,
  // then authenticate (the token is hashed once: the rate limit's key and the auth hook share it).
  await registerLoadShedding(app, limits);
  const authenticated = new WeakMap<FastifyRequest, Principal | ApiError>();
  const principalOf = (request: FastifyRequest): Principal | ApiError | null => {
    if (request.routeOptions.config.access === undefined) return null;
    let principal = authenticated.get(request);
    if (principal === undefined) {
      principal = tokens.authenticate(request.headers.authorization);
      authenticated.set(request, principal);
    }
    return principal;
  };
  await registerRateLimit(app, limits, principalOf);

  app.addHook('onRequest', async (request) => {
    const access: Access | undefined = request.routeOptions.config.access;
    if (access === undefined) return;
    const principal = principalOf(request);
    if (principal === null) return;
    if (principal instanceof ApiError) throw principal;
    const tenant = (request.params as Record<string, string | undefined> | undefined)?.tenant;
    const forbidden = authorize(principal, access, tenant);
    if (forbidden !== null) throw forbidden;
    request.principal = principal;
    if (!isReady()) throw notReadyError();
  });

  app.setErrorHandler((error, request, reply) => {
    const known = catalogueError(error, {
      bodyLimitBytes: request.routeOptions.bodyLimit ?? bodyLimitBytes,
      contentType: request.headers['content-type'],
    });
    if (known === null) {
      request.log.error(
        { err: error, method: request.method, route: request.routeOptions.url },
        'request failed',
      );
      const internal = new ApiError(errorObject('internal', {}));
      return reply.code(internal.statusCode).send({ error: internal.body });
    }
    if (known.code === 'unavailable' && known.body.details.reason === 'store_failed') {
      metrics.nodeState.storeFailed();
    }
    // A debit refused before the replica saw it (schema, metadata, media type, size) is an invalid debit.
    if (request.routeOptions.config.debitsInBody === 'one' && REFUSED_AT_THE_EDGE.has(known.code)) {
      context.debitAnswered(request, 'invalid', reply.elapsedTime / 1000);
    }
    return reply.code(known.statusCode).headers(known.headers).send({ error: known.body });
  });

  app.setNotFoundHandler((request, reply) => {
    const path = (request.raw.url ?? '').split('?')[0]?.slice(0, ECHOED_PATH_LENGTH_MAX) ?? '';
    const body = errorObject(
      'not_found',
      { what: `no route ${request.method} ${path}` },
      { method: request.method, path },
    );
    return reply.code(404).send({ error: body });
  });

  // Ready (/readyz) once the replica also takes writes: its own log is confirmed whole (DESIGN.md §2).
  registerOperationsRoutes(app, metrics, () => isReady() && current()?.writable === true, current);
  registerGrantRoutes(app, context);
  registerDebitRoutes(app, context);
  registerRefundRoutes(app, context);
  registerHoldRoutes(app, context);
  registerReadRoutes(app, context);
  registerClusterRoutes(app, context);
  registerSnapshotRoutes(app, context);
  registerAuditRoutes(app, context);
  registerPolicyRoutes(app, context);
  registerUiRoutes(app);
  if (options.realtime !== undefined) {
    const { realtime } = options;
    registerStreamRoute(app, realtime.hub);
    registerWebhookRoutes(app, realtime.webhooks);
    // Open streams would hold the server's close forever: they end first.
    app.addHook('preClose', async () => realtime.hub.close());
  }

  await app.ready();
  return app;
}
