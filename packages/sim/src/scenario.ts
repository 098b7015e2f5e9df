/**
 * Scenario validation (the CLI parses simulations/*.yaml and calls `validateScenario`): the JSON
 * schema (scenario-schema.ts) checked with ajv, its defaults filled in, then the rules a schema
 * cannot say (regions named in faults and tenants exist, windows are ordered, process faults of one
 * region do not overlap…). Problems come back all at once, one clear line each, naming the field
 * (`faults[2].region: unknown region "xx" (regions: eu, us, ap)`).
 */

import { isKey, isTenantId } from '@allot/core';
import { BORROW_WAIT_MS_DEFAULT, BORROW_WAIT_MS_MAX } from '@allot/replica';
import { Ajv, type ErrorObject } from 'ajv';
import type { Fault, Scenario } from './api.js';
import { BORROW_WAIT_DELAYS } from './limits.js';
import { SCENARIO_SCHEMA } from './scenario-schema.js';

/** The scenario is not usable: one line per problem, each naming the field. */
export class ScenarioError extends Error {
  override readonly name = 'ScenarioError';
  constructor(readonly problems: readonly string[]) {
    super(problems.join('\n'));
  }
}

const FAULT_KINDS: readonly Fault['kind'][] = [
  'isolate',
  'halves',
  'ring',
  'bridge',
  'one-way',
  'flapping',
  'crash',
  'disk-loss',
  'pause',
  'write-errors',
  'clock-step',
  'clock-drift',
  'storage',
  'hostile',
  'restored-backup',
  'retire',
];

const ajv = new Ajv({ allErrors: true, strict: true, useDefaults: true, discriminator: true });
const validate = ajv.compile(SCENARIO_SCHEMA);

/** `/faults/2/region` → `faults[2].region`. */
function fieldName(pointer: string): string {
  let name = '';
  for (const part of pointer.split('/').slice(1)) {
    const segment = part.replace(/~1/g, '/').replace(/~0/g, '~');
    name += /^[0-9]+$/.test(segment) ? `[${segment}]` : name === '' ? segment : `.${segment}`;
  }
  return name;
}

function join(parent: string, child: string): string {
  return parent === '' ? child : `${parent}.${child}`;
}

/** One line for an ajv error of `document`, naming the field. */
function describe(error: ErrorObject, document: unknown): string {
  const field = fieldName(error.instancePath);
  const where = field === '' ? '(top level)' : field;
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'additionalProperties':
      return `${join(field, String(params.additionalProperty))}: unknown field`;
    case 'required':
      return `${join(field, String(params.missingProperty))}: missing`;
    case 'enum':
      return `${where}: must be one of ${(params.allowedValues as unknown[]).join(', ')}`;
    case 'discriminator':
      return params.error === 'mapping'
        ? `${join(field, 'kind')}: must be one of ${FAULT_KINDS.join(', ')}`
        : `${join(field, 'kind')}: must be a string`;
    case 'type':
      return `${where}: must be ${params.type === 'integer' ? 'an integer' : `a${/^[aeiou]/.test(String(params.type)) ? 'n' : ''} ${String(params.type)}`}`;
    case 'pattern':
      return `${where}: ${JSON.stringify(valueAt(document, error.instancePath))} is not a valid id (${String(params.pattern)})`;
    case 'propertyNames':
      return `${where}: ${JSON.stringify(params.propertyName)} is not a region id`;
    case 'not':
      return `${where}: must not be 0`;
    case 'uniqueItems':
      return `${where}: lists the same value twice (items ${String(params.j)} and ${String(params.i)})`;
    default:
      return `${where}: ${error.message ?? 'is invalid'}`;
  }
}

/** The value at a JSON pointer (for messages that quote it). */
function valueAt(document: unknown, pointer: string): unknown {
  let value = document;
  for (const part of pointer.split('/').slice(1)) {
    if (typeof value !== 'object' || value === null) return undefined;
    value = (value as Record<string, unknown>)[part.replace(/~1/g, '/').replace(/~0/g, '~')];
  }
  return value;
}

/** The rules a schema cannot express. */
function semanticProblems(scenario: Scenario): string[] {
  const problems: string[] = [];
  const regions = new Set(scenario.regions);
  const listed = scenario.regions.join(', ');
  const known = (field: string, name: string) => {
    if (!regions.has(name))
      problems.push(`${field}: unknown region ${JSON.stringify(name)} (regions: ${listed})`);
  };
  const durationS = scenario.durationS;
  const { delayMs } = scenario.network;
  if (delayMs.min > delayMs.max)
    problems.push(`network.delayMs: min ${delayMs.min} is above max ${delayMs.max}`);

  const tenants = new Set<string>();
  scenario.tenants.forEach((spec, t) => {
    const at = `tenants[${t}]`;
    if (!isTenantId(spec.tenant))
      problems.push(`${at}.tenant: ${JSON.stringify(spec.tenant)} is not a valid tenant id`);
    if (tenants.has(spec.tenant)) problems.push(`${at}.tenant: ${spec.tenant} is listed twice`);
    tenants.add(spec.tenant);
    const grants = new Set<string>();
    spec.grants.forEach((grant, g) => {
      const where = `${at}.grants[${g}]`;
      if (!isKey(grant.grantId)) problems.push(`${where}.grantId: must be 1–255 printable ASCII characters`);
      if (grants.has(grant.grantId)) problems.push(`${where}.grantId: ${grant.grantId} is used twice`);
      grants.add(grant.grantId);
      known(`${where}.region`, grant.region);
      if (grant.atS > durationS)
        problems.push(`${where}.atS: ${grant.atS} is after the end (durationS ${durationS})`);
      if (grant.retry !== undefined) {
        known(`${where}.retry.region`, grant.retry.region);
        if (grant.atS + grant.retry.afterS > durationS)
          problems.push(
            `${where}.retry.afterS: the retry at ${grant.atS + grant.retry.afterS} s is after the end (durationS ${durationS})`,
          );
      }
    });
    for (const name of Object.keys(spec.overdraft ?? {})) known(`${at}.overdraft.${name}`, name);
    spec.rates.forEach((rate, r) => {
      const where = `${at}.rates[${r}]`;
      known(`${where}.region`, rate.region);
      const from = rate.fromS ?? 0;
      const to = rate.toS ?? durationS;
      if (from >= to) problems.push(`${where}: fromS ${from} is not before toS ${to}`);
      if (to > durationS) problems.push(`${where}.toS: ${to} is after the end (durationS ${durationS})`);
    });
    if (spec.debitAmount.min > spec.debitAmount.max)
      problems.push(`${at}.debitAmount: min ${spec.debitAmount.min} is above max ${spec.debitAmount.max}`);
    (spec.policyChanges ?? []).forEach((change, c) => {
      const where = `${at}.policyChanges[${c}]`;
      known(`${where}.region`, change.region);
      for (const name of Object.keys(change.overdraft)) known(`${where}.overdraft.${name}`, name);
      if (change.atS > durationS)
        problems.push(`${where}.atS: ${change.atS} is after the end (durationS ${durationS})`);
    });
  });

  // Process faults (crash, disk loss, pause) of one region must not overlap, nor drifts of one clock.
  const busy = new Map<string, { from: number; to: number; index: number }[]>();
  const occupy = (key: string, index: number, from: number, to: number, field: string) => {
    const spans = busy.get(key) ?? [];
    for (const span of spans) {
      if (from < span.to && span.from < to)
        problems.push(
          `${field}: overlaps faults[${span.index}] (${key.split(':')[0]} faults of one region must not overlap)`,
        );
    }
    spans.push({ from, to, index });
    busy.set(key, spans);
  };
  scenario.faults.forEach((fault, f) => {
    const at = `faults[${f}]`;
    if (fault.atS > durationS)
      problems.push(`${at}.atS: ${fault.atS} is after the end (durationS ${durationS})`);
    switch (fault.kind) {
      case 'isolate':
      case 'crash':
      case 'disk-loss':
      case 'pause':
      case 'write-errors':
      case 'clock-step':
      case 'clock-drift':
      case 'storage':
      case 'restored-backup':
      case 'retire':
        known(`${at}.region`, fault.region);
        break;
      case 'hostile':
        known(`${at}.from`, fault.from);
        if (fault.to !== undefined) known(`${at}.to`, fault.to);
        if (fault.from === fault.to) problems.push(`${at}.to: must differ from from (${fault.from})`);
        break;
      case 'halves': {
        const seen = new Map<string, number>();
        fault.groups.forEach((group, g) => {
          group.forEach((name, i) => {
            known(`${at}.groups[${g}][${i}]`, name);
            const other = seen.get(name);
            if (other !== undefined)
              problems.push(`${at}.groups[${g}][${i}]: ${name} is also in group ${other}`);
            seen.set(name, g);
          });
        });
        const missing = scenario.regions.filter((name) => !seen.has(name));
        if (missing.length > 0)
          problems.push(`${at}.groups: every region must be in a group; missing ${missing.join(', ')}`);
        break;
      }
      case 'ring':
        if (scenario.regions.length < 4)
          problems.push(
            `${at}: a ring needs at least 4 regions (with ${scenario.regions.length}, every region is every other's neighbour)`,
          );
        break;
      case 'bridge':
        known(`${at}.bridge`, fault.bridge);
        if (scenario.regions.length < 3) problems.push(`${at}: a bridge needs at least 3 regions`);
        break;
      case 'one-way':
      case 'flapping':
        known(`${at}.from`, fault.from);
        known(`${at}.to`, fault.to);
        if (fault.from === fault.to) problems.push(`${at}.to: must differ from from (${fault.from})`);
        break;
    }
    if (
      fault.kind === 'crash' ||
      fault.kind === 'disk-loss' ||
      fault.kind === 'pause' ||
      fault.kind === 'storage' ||
      fault.kind === 'restored-backup'
    )
      occupy(`process:${fault.region}`, f, fault.atS, fault.atS + fault.forS, at);
    if (fault.kind === 'clock-drift')
      occupy(`clock:${fault.region}`, f, fault.atS, fault.atS + fault.forS, at);
  });
  return problems;
}

/**
 * Validates a parsed scenario document and fills its defaults. Throws a ScenarioError listing every
 * problem, one line each, naming the field. The input is not modified.
 */
export function validateScenario(document: unknown): Scenario {
  if (typeof document !== 'object' || document === null || Array.isArray(document))
    throw new ScenarioError(['(top level): a scenario must be a mapping']);
  const copy = structuredClone(document);
  if (!validate(copy))
    throw new ScenarioError([...new Set((validate.errors ?? []).map((error) => describe(error, copy)))]);
  const scenario = copy as unknown as Scenario;
  const problems = semanticProblems(scenario);
  if (problems.length > 0) throw new ScenarioError(problems);
  return scenario;
}

/**
 * The wait for rights the scenario's nodes run with: its `borrowWaitMs`, else the node default, or
 * longer where links are slower. A borrow is a round trip to a donor plus its commit; at a tenant's
 * last credits it often takes a second one: the first donor lent its rights on already, or holds
 * none yet and serves the kept ask when rights it is owed arrive, or the asker asks the others
 * halfway (issue 12: with one round trip and a half, 11 of the 15 false declines left in seeds
 * 5,300–18,884 were debits whose rights were on their way when the wait ran out). So the wait spans
 * five of the slowest one-way delays, plus 20 ms of commits (within BORROW_WAIT_MS_MAX). On links
 * that reorder frames (beyond TCP) the second round trip may be the pull of a donor's move that
 * arrived after a later frame (swarm seed 500205). A real deployment sets `borrowWaitMs` the same
 * way from its round trips (docs/operations.md).
 */
export function borrowWaitOf(scenario: Scenario): number {
  if (scenario.borrowWaitMs !== undefined) return scenario.borrowWaitMs;
  return Math.min(
    BORROW_WAIT_MS_MAX,
    Math.max(BORROW_WAIT_MS_DEFAULT, BORROW_WAIT_DELAYS * scenario.network.delayMs.max + 20),
  );
}
