/**
 * @allot/server — the HTTP API of an Allot node (API.md) on fastify: JSON schemas on every route
 * (validated by ajv without coercion, turned into the OpenAPI document at /docs/json), bearer-token
 * auth with roles and tenant scopes, one error catalogue for every failure, Prometheus metrics in a
 * registry of their own, and a ReplicaObserver that feeds them. It serves a replica; it decides
 * nothing about the ledger itself.
 */
export { type AppOptions, buildApp, type TlsServerOptions } from './app.js';
export * from './audit-layout.js';
export {
  type AuditFiles,
  type AuditSummary,
  type AuditVerdict,
  type Discrepancy,
  discrepancyLine,
  type SuppliedKeys,
  summaryLine,
  verifyAuditExport,
} from './audit-verify.js';
export {
  type Access,
  authorize,
  type Principal,
  ROLES,
  type Role,
  type TokenConfig,
  TokenTable,
} from './auth.js';
export {
  ApiError,
  apiError,
  ERROR_CATALOGUE,
  type ErrorBody,
  type ErrorCode,
  type ErrorObject,
  type ErrorSpec,
  EXTENSIONS,
  errorObject,
  statusOf,
} from './errors.js';
export {
  type HttpLimitOptions,
  type HttpLimits,
  resolveHttpLimits,
  timeoutCheckIntervalMs,
} from './http-limits.js';
export * from './limits.js';
export { createMetrics, type Metrics, type MetricsObserver, type MetricsOptions } from './metrics.js';
export {
  type AlertFigures,
  type AlertState,
  alertIdOf,
  evaluateAlert,
  rearmLevel,
  ruleKey,
  thresholdOf,
} from './realtime/alert-rule.js';
export { parseStreamCursor, streamCursorOf } from './realtime/stream-cursor.js';
export {
  type AlertJson,
  StreamHub,
  type StreamHubOptions,
  type StreamSource,
} from './realtime/stream-hub.js';
export type { DeliveryView, WebhookEndpoint } from './realtime/webhook-deliveries.js';
export { SIGNATURE_HEADER, signWebhook, verifyWebhookSignature } from './realtime/webhook-signature.js';
export { Realtime, type RealtimeOptions, type RealtimeReplica, type RealtimeStore } from './realtime.js';
export type { ClusterView, PeerView, ReplicaSource, ServedReplica } from './served-replica.js';
export { snapshotJsonChunks, snapshotJsonText } from './snapshot-body.js';
export { formatRfc3339, parseRfc3339 } from './time.js';
