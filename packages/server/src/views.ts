/**
 * The JSON shapes of API.md, built from what the replica returns: integer-ms times become RFC 3339
 * strings, records get the fields the API names, in the order it names them.
 */
import {
  type DebitRecord,
  eventRecordId,
  type LedgerEvent,
  type Part,
  type RefundRecord,
  regionOf,
} from '@allot/core';
import type {
  BalanceView,
  DebitBalance,
  EventView,
  GrantView,
  SnapshotHeader,
  SnapshotTenant,
  TenantPolicy,
} from '@allot/replica';
import { formatOptionalRfc3339, formatRfc3339 } from './time.js';

/** A balance as GET /v1/tenants/{tenant}/balance answers it. */
export function balanceJson(view: BalanceView) {
  return {
    tenant: view.tenant,
    balance: view.balance,
    granted: view.granted,
    debited: view.debited,
    refunded: view.refunded,
    expired: view.expired,
    held: view.held,
    region: view.region,
    regions: view.regions,
    grants: view.grants.map((grant) => ({
      grantId: grant.grantId,
      amount: grant.amount,
      remaining: grant.remaining,
      priority: grant.priority,
      expiresAt: formatOptionalRfc3339(grant.expiresAt),
      status: grant.status,
    })),
    versionVector: view.versionVector,
    asOf: formatRfc3339(view.asOf),
  };
}

/** A grant as POST /v1/tenants/{tenant}/grants answers it. */
export function grantJson(view: GrantView) {
  return {
    grantId: view.grantId,
    tenant: view.tenant,
    amount: view.amount,
    priority: view.priority,
    expiresAt: formatOptionalRfc3339(view.expiresAt),
    region: view.region,
    origin: view.origin,
    at: formatRfc3339(view.at),
  };
}

function partsJson(parts: readonly Part[]) {
  return parts.map((part) => ({ grantId: part.grantId, amount: part.amount }));
}

/** A debit as the debit routes answer it. */
export function debitJson(debit: DebitRecord) {
  return {
    debitId: debit.debitId,
    tenant: debit.tenant,
    amount: debit.amount,
    region: regionOf(debit.origin),
    parts: partsJson(debit.parts),
    overdraft: debit.overdraft,
    at: formatRfc3339(debit.at),
    origin: debit.origin,
    idempotencyKey: debit.idempotencyKey,
  };
}

/** The `balance` of a debit answer. */
export function debitBalanceJson(balance: DebitBalance) {
  return { available: balance.available, tenant: balance.tenant };
}

/** A refund as the refund route answers it. */
export function refundJson(refund: RefundRecord) {
  return {
    refundId: refund.refundId,
    debitId: refund.debitId,
    tenant: refund.tenant,
    amount: refund.amount,
    region: regionOf(refund.origin),
    parts: partsJson(refund.parts),
    overdraft: refund.overdraft,
    at: formatRfc3339(refund.at),
    origin: refund.origin,
    idempotencyKey: refund.idempotencyKey,
  };
}

/**
 * An event as GET /v1/tenants/{tenant}/events shows it: place, hash, kind, then its fields. Debit and
 * refund events also carry their record id (derived from origin and seq), as the other routes name them.
 */
export function eventJson(view: EventView): Record<string, unknown> {
  const event: LedgerEvent = view.event;
  const { origin, seq, at, tenant, kind, ...fields } = event;
  const json: Record<string, unknown> = { origin, seq, hash: view.hash, kind, tenant, at: formatRfc3339(at) };
  if (kind === 'debit') json.debitId = eventRecordId(origin, seq);
  if (kind === 'refund') json.refundId = eventRecordId(origin, seq);
  if (kind === 'hold') json.holdId = eventRecordId(origin, seq);
  for (const [name, value] of Object.entries(fields)) json[name] = value;
  if (event.kind === 'grant') json.expiresAt = formatOptionalRfc3339(event.expiresAt);
  if (event.kind === 'hold') json.expiresAt = formatRfc3339(event.expiresAt);
  return json;
}

/** The header object of a snapshot (the JSON answer without `tenants`, the first NDJSON line). */
export function snapshotHeaderJson(header: SnapshotHeader) {
  return {
    cluster: header.cluster,
    region: header.region,
    takenAt: formatRfc3339(header.takenAt),
    versionVector: header.versionVector,
    heads: header.heads,
  };
}

/** One tenant line of a snapshot. */
export function snapshotTenantJson(tenant: SnapshotTenant) {
  return {
    tenant: tenant.tenant,
    balance: tenant.balance,
    granted: tenant.granted,
    debited: tenant.debited,
    refunded: tenant.refunded,
    expired: tenant.expired,
    held: tenant.held,
  };
}

/** A policy as the policy routes answer it (`alerts` only when it has some). */
export function policyJson(policy: TenantPolicy) {
  return {
    overdraft: { ...policy.overdraft },
    weights: { ...policy.weights },
    blocked: policy.blocked,
    ...(policy.alerts === undefined || policy.alerts.length === 0
      ? {}
      : { alerts: policy.alerts.map((rule) => ({ ...rule })) }),
  };
}
