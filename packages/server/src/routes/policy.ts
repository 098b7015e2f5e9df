/**
 * GET /v1/tenants/{tenant}/policy (any role) and PUT (admin). A PUT replaces each field it gives
 * (`overdraft`, `weights`, `blocked`, `alerts`) and keeps the fields it leaves out, so that blocking a tenant
 * does not silently drop its overdraft; an empty body changes nothing.
 *
 * The rule for an unknown tenant (issue 14): a tenant is known at a node once a grant of it or a
 * policy written for it is known there. A GET of the policy of a tenant known neither way is
 * `404 tenant_not_found`, as its balance is; a tenant with grants but no policy written reads the
 * default policy; a policy written before the first grant (an overdraft set up front) reads back.
 */
import type { AlertRule, TenantPolicy } from '@allot/replica';
import type { FastifyInstance } from 'fastify';
import { apiError } from '../errors.js';
import { getPolicySchema, putPolicySchema } from '../policy-schemas.js';
import { type RouteContext, unavailableError } from '../route-context.js';
import { policyJson } from '../views.js';

/** The body of a policy change, as its schema admits it. */
interface PolicyBody {
  readonly overdraft?: Readonly<Record<string, number>>;
  readonly weights?: Readonly<Record<string, number>>;
  readonly blocked?: boolean;
  readonly alerts?: readonly AlertRule[];
}

/** Registers the policy routes. */
export function registerPolicyRoutes(app: FastifyInstance, context: RouteContext): void {
  app.get<{ Params: { tenant: string } }>(
    '/v1/tenants/:tenant/policy',
    {
      schema: getPolicySchema,
      config: { access: { roles: ['service', 'admin', 'auditor'], scope: 'tenant' } },
    },
    async (request) => {
      const replica = context.replica();
      const { tenant } = request.params;
      const policy = await replica.durablePolicy(tenant);
      if (!replica.hasPolicy(tenant) && (await replica.durableBalance(tenant)) === undefined) {
        throw apiError('tenant_not_found', { tenant }, { tenant });
      }
      return policyJson(policy);
    },
  );

  app.put<{ Params: { tenant: string }; Body: PolicyBody }>(
    '/v1/tenants/:tenant/policy',
    { schema: putPolicySchema, config: { access: { roles: ['admin'], scope: 'tenant' } } },
    async (request) => {
      const replica = context.replica();
      const { tenant } = request.params;
      const current = replica.policy(tenant);
      const next: TenantPolicy = {
        overdraft: request.body.overdraft ?? current.overdraft,
        weights: request.body.weights ?? current.weights,
        blocked: request.body.blocked ?? current.blocked,
        alerts: request.body.alerts ?? current.alerts ?? [],
      };
      const outcome = await replica.setPolicy(tenant, next);
      if ('status' in outcome) throw unavailableError(outcome);
      return policyJson(outcome);
    },
  );
}
