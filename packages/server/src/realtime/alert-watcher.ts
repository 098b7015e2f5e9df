/**
 * Watches every durable event for alert crossings (alert-rule.ts): after each batch the replica
 * made durable, the tenants it touched that have `alerts` in their policy are evaluated on their
 * merged balance. A crossing becomes an alert: written to the outbox with its webhook deliveries
 * and the thresholds' new states in one write, then streamed and counted. The states live in the
 * outbox too, so after a restart a crossing that happened before the crash but was not written yet
 * still fires (its threshold is still armed there), and one that was is not fired again.
 */
import type { DurableTenantsListener, OutboxRecord, TenantPolicy } from '@allot/replica';
import { formatRfc3339 } from '../time.js';
import { type AlertFigures, type AlertState, evaluateAlert, ruleKey } from './alert-rule.js';
import type { AlertJson } from './stream-hub.js';

/** What alerts read of the replica. */
export interface AlertSource {
  /** Listens to the tenants of each durable batch (no event is decoded for alerts). */
  subscribeTenants(listener: DurableTenantsListener): () => void;
  policy(tenant: string): TenantPolicy;
  /** The merged figures of a tenant, or undefined when none is known here. */
  figures(tenant: string): AlertFigures | undefined;
  now(): number;
}

/** Where alerts go: the outbox (with deliveries), then the stream and the metrics. */
export interface AlertSink {
  enqueue(alert: AlertJson | null, extra: readonly OutboxRecord[]): Promise<void>;
  publish(alert: AlertJson): void;
}

/** Outbox key prefix of alert states. */
export const ALERT_STATE_PREFIX = 'a/';

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder('utf-8', { fatal: true });

function stateKey(tenant: string, key: string): string {
  return `${ALERT_STATE_PREFIX}${tenant}/${key}`;
}

/** The alert states kept in `records` (other records ignored), by state key. */
export function alertStatesOf(records: readonly OutboxRecord[]): Map<string, AlertState> {
  const states = new Map<string, AlertState>();
  for (const record of records) {
    if (!record.key.startsWith(ALERT_STATE_PREFIX)) continue;
    const value = JSON.parse(fromUtf8.decode(record.value)) as AlertState;
    if (typeof value?.armed !== 'boolean' || !(value.alertId === null || typeof value.alertId === 'string')) {
      throw new Error(`outbox record ${record.key} is not an alert state`);
    }
    states.set(record.key, { armed: value.armed, alertId: value.alertId });
  }
  return states;
}

/** The alert watcher of one node. */
export class AlertWatcher {
  private unsubscribe: (() => void) | null = null;
  private chain: Promise<void> = Promise.resolve();

  constructor(
    private readonly source: AlertSource,
    private readonly sink: AlertSink,
    private readonly states: Map<string, AlertState>,
    private readonly logger: { error(fields: object, message: string): void },
  ) {}

  /** Listens to the feed, and evaluates every tenant with a stored state (crossings made while down). */
  start(): void {
    this.unsubscribe ??= this.source.subscribeTenants((tenants) => {
      for (const tenant of tenants) this.evaluate(tenant);
    });
    const tenants = new Set<string>();
    for (const key of this.states.keys()) {
      const rest = key.slice(ALERT_STATE_PREFIX.length);
      tenants.add(rest.slice(0, rest.indexOf('/')));
    }
    for (const tenant of tenants) this.evaluate(tenant);
  }

  /** Stops listening; resolves once what was decided is written. */
  async close(): Promise<void> {
    this.unsubscribe?.();
    this.unsubscribe = null;
    await this.chain;
  }

  /** Evaluates every threshold of `tenant` now; writes and sends what changed, in order. */
  evaluate(tenant: string): void {
    const rules = this.source.policy(tenant).alerts ?? [];
    if (rules.length === 0) return;
    const figures = this.source.figures(tenant);
    if (figures === undefined) return;
    const changed: OutboxRecord[] = [];
    const alerts: AlertJson[] = [];
    for (const rule of rules) {
      const key = stateKey(tenant, ruleKey(rule));
      const before = this.states.get(key);
      const { state, crossing } = evaluateAlert(tenant, rule, before, figures);
      if (state === before) continue;
      this.states.set(key, state);
      changed.push({ key, value: utf8.encode(JSON.stringify(state)) });
      if (crossing !== null) {
        alerts.push({
          alertId: crossing.alertId,
          tenant,
          threshold: crossing.threshold,
          balance: crossing.balance,
          at: formatRfc3339(this.source.now()),
        });
      }
    }
    if (changed.length === 0) return;
    this.chain = this.chain.then(async () => {
      try {
        // The states go with the first alert's deliveries (or alone): never an alert without them.
        const [first, ...rest] = alerts;
        await this.sink.enqueue(first ?? null, changed);
        for (const alert of rest) await this.sink.enqueue(alert, []);
        for (const alert of alerts) this.sink.publish(alert);
      } catch (error) {
        // Not written: the state stays as the outbox has it, so a restart evaluates it again.
        this.logger.error({ err: error, tenant }, 'alert not written to the outbox');
      }
    });
  }
}
