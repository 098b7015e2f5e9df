/**
 * Alerts in the simulator: each region's replica runs the node's alert rule (the replica's
 * alert-rule.ts) on its durable events, as the node's alert watcher does, and every alert it raises
 * is a history record for A1 (alert-check.ts). States live with the process: a crash forgets them,
 * and the restarted process sees its tenants afresh (as a node whose outbox was lost would).
 */
import { type AlertHash, type AlertState, evaluateAlert, type Replica, ruleKey } from '@allot/replica';
import type { HistoryRecord } from './results.js';

/** What an alert watcher of one region needs. */
export interface AlertWatchPorts {
  readonly hash: AlertHash;
  /** False once the process that opened the replica has died. */
  alive(): boolean;
  /** Simulated ms since the scenario's start. */
  now(): number;
  record(record: HistoryRecord): void;
}

/** Watches `replica`'s durable events for alert crossings for as long as its process lives. */
export function watchAlerts(region: string, replica: Replica, ports: AlertWatchPorts): void {
  const states = new Map<string, AlertState>();
  // Only who changed, as the node's watcher reads it: no event of a commit is decoded for alerts.
  const unsubscribe = replica.feed.subscribeTenants((tenants) => {
    if (!ports.alive()) {
      unsubscribe();
      return;
    }
    for (const tenant of tenants) {
      const rules = replica.policy(tenant).alerts ?? [];
      if (rules.length === 0) continue;
      const balance = replica.balance(tenant);
      if (balance === undefined) continue;
      const figures = { ...balance, holdsEnded: replica.holdsEnded(tenant) };
      for (const rule of rules) {
        const key = `${tenant}/${ruleKey(rule)}`;
        const { state, crossing } = evaluateAlert(ports.hash, tenant, rule, states.get(key), figures);
        states.set(key, state);
        if (crossing !== null) {
          ports.record({
            type: 'alert',
            t: ports.now(),
            region,
            tenant,
            rule: ruleKey(rule),
            alertId: crossing.alertId,
            balance: crossing.balance,
          });
        }
      }
    }
  });
}
