/**
 * Reads (API.md): GET /v1/tenants/{tenant}/balance (any role; `?at=` as of a time, as-of.ts), GET /v1/tenants/{tenant}/events
 * (auditor, admin) and GET /v1/cluster (any role, but not a tenant-scoped token: the cluster's
 * state spans every tenant).
 */
import { AsOfNotHeldError, type BalanceView } from '@allot/replica';
import { isCursor } from '@allot/store';
import type { FastifyInstance } from 'fastify';
import { getBalanceAsOfSchema } from '../as-of-schemas.js';
import { getClusterSchema } from '../cluster-schemas.js';
import { apiError } from '../errors.js';
import { EVENTS_PAGE_DEFAULT } from '../limits.js';
import type { RouteContext } from '../route-context.js';
import { getEventsSchema } from '../schemas.js';
import { parseRfc3339 } from '../time.js';
import { balanceJson, eventJson } from '../views.js';

/** The ms of a balance's `at` (RFC 3339 by its schema), or a 400 for a date that does not exist. */
function parseAt(text: string): number {
  const ms = parseRfc3339(text);
  if (ms === null) {
    throw apiError(
      'invalid_request',
      { problem: `querystring/at is not a time between 1970 and 9999: ${text}` },
      { location: 'querystring', field: '/at' },
    );
  }
  return ms;
}

/**
 * The balance as of `at`, or 404 not_found when this node does not hold events it needs (its log
 * of an origin starts after a checkpoint of a later time: AsOfNotHeldError), naming the origin,
 * the seq it would need and the first it holds: another region may hold them, this one must not
 * answer a figure that leaves them out.
 */
async function balanceAsOf(
  context: RouteContext,
  tenant: string,
  at: number,
): Promise<BalanceView | undefined> {
  try {
    return await context.replica().balanceAsOf(tenant, at);
  } catch (error) {
    if (!(error instanceof AsOfNotHeldError)) throw error;
    const { origin, seq, heldFrom } = error;
    throw apiError(
      'not_found',
      {
        what: `the events of ${origin} up to seq ${seq}, which a balance as of ${new Date(at).toISOString()} needs (this node holds that log from seq ${heldFrom}: ask a region that holds it whole)`,
      },
      { tenant, origin, seq, heldFrom },
    );
  }
}

/** Registers the balance, events and cluster routes. */
export function registerReadRoutes(app: FastifyInstance, context: RouteContext): void {
  app.get<{ Params: { tenant: string }; Querystring: { at?: string } }>(
    '/v1/tenants/:tenant/balance',
    {
      schema: getBalanceAsOfSchema,
      config: { access: { roles: ['service', 'admin', 'auditor'], scope: 'tenant' } },
    },
    async (request) => {
      const { tenant } = request.params;
      const at = request.query.at === undefined ? undefined : parseAt(request.query.at);
      const replica = context.replica();
      const view =
        at === undefined ? await replica.durableBalance(tenant) : await balanceAsOf(context, tenant, at);
      if (view === undefined) throw apiError('tenant_not_found', { tenant }, { tenant });
      return balanceJson(view);
    },
  );

  // An unknown tenant has no events: an empty page, not a 404 (a tenant may have events, e.g.
  // overdraft debits, before any grant of it is known here).
  app.get<{ Params: { tenant: string }; Querystring: { after?: string; limit?: string } }>(
    '/v1/tenants/:tenant/events',
    { schema: getEventsSchema, config: { access: { roles: ['auditor', 'admin'], scope: 'tenant' } } },
    async (request) => {
      const { tenant } = request.params;
      const { after } = request.query;
      // Told apart here, not by the store: a made-up cursor is a bad request, not a far position.
      if (after !== undefined && !isCursor(after)) {
        throw apiError(
          'invalid_request',
          { problem: 'querystring/after is not a cursor: pass the `next` of a previous page' },
          { location: 'querystring', field: '/after' },
        );
      }
      const limit = request.query.limit === undefined ? EVENTS_PAGE_DEFAULT : Number(request.query.limit);
      const page = await context.replica().tenantEvents(tenant, after ?? null, limit);
      return { events: page.events.map(eventJson), next: page.next };
    },
  );

  app.get(
    '/v1/cluster',
    {
      schema: getClusterSchema,
      config: { access: { roles: ['service', 'admin', 'auditor'], scope: 'every-tenant' } },
    },
    async () => {
      const replica = context.replica();
      const view = replica.clusterView?.();
      return {
        cluster: replica.cluster,
        region: replica.region,
        origin: replica.origin,
        versionVector: view?.versionVector ?? replica.versionVector(),
        peers: view?.peers ?? [],
        stranded: view?.stranded ?? [],
        grantConflicts: view?.grantConflicts ?? [],
      };
    },
  );
}
