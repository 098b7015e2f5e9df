/**
 * Bearer-token authentication and role/tenant authorization (API.md, DESIGN.md §7).
 *
 * Roles: `service` debits and reads; `admin` grants, refunds, sets policies, reads, and may debit;
 * `auditor` only reads (balances, events, snapshots, cluster, policies). A token may be scoped to
 * some tenants: it then gets 403 on any other tenant, and it cannot read /v1/snapshot, which shows
 * every tenant (a scoped token must not learn other tenants' balances).
 *
 * Tokens are compared in constant time: both sides are hashed with SHA-256 and the digests compared
 * with crypto.timingSafeEqual against every configured token, so neither the length nor the prefix
 * of a token, nor which entry matched, shows in the timing. A token may be configured as
 * `sha256:<64 hex digits>`, the digest of the clear token, so the config never holds it in clear.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { isTenantId } from '@allot/core';
import { type ApiError, apiError } from './errors.js';
import { TOKEN_LENGTH_MAX } from './limits.js';

/** What a token may do (DESIGN.md §7). */
export type Role = 'service' | 'admin' | 'auditor';

/** Every role. */
export const ROLES: readonly Role[] = ['service', 'admin', 'auditor'];

/** One configured token, as the node config lists it. */
export interface TokenConfig {
  /** The token in clear, or `sha256:<64 hex digits>`: the SHA-256 of the token in clear. */
  readonly token: string;
  readonly role: Role;
  /** When present, the token acts only on these tenants. */
  readonly tenants?: readonly string[] | undefined;
}

/** Who made a request: the role of its token and its tenant scope (null: every tenant). */
export interface Principal {
  /** Which configured token it is (`tokens[i]`): a rate-limit bucket, never the token itself. */
  readonly id: string;
  readonly role: Role;
  readonly tenants: ReadonlySet<string> | null;
}

/**
 * What a route requires: the roles allowed, and how a tenant scope applies —
 * `tenant`: the route names one tenant in its path, which must be in scope;
 * `every-tenant`: the route shows all tenants, so a scoped token is refused;
 * `per-item`: the handler checks each tenant it touches (the debit batch);
 * `none`: the route shows no tenant's data.
 */
export interface Access {
  readonly roles: readonly Role[];
  readonly scope: 'tenant' | 'every-tenant' | 'per-item' | 'none';
}

/** The WWW-Authenticate challenge of a 401 (RFC 6750 §3). */
function challenge(error?: 'invalid_request' | 'invalid_token'): Record<string, string> {
  return {
    'www-authenticate':
      error === undefined ? 'Bearer realm="allot"' : `Bearer realm="allot", error="${error}"`,
  };
}

const BEARER = /^Bearer +([\x21-\x7e]+) *$/i;

/** A token given as its SHA-256: `sha256:` and 64 hex digits. */
export const HASHED_TOKEN = /^sha256:([0-9a-fA-F]{64})$/;

function digest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/** The configured tokens, kept as SHA-256 digests. */
export class TokenTable {
  private readonly entries: readonly { readonly digest: Buffer; readonly principal: Principal }[];

  /** A table of `tokens`; throws a TypeError naming the entry when one is not valid. */
  constructor(tokens: readonly TokenConfig[]) {
    const seen = new Set<string>();
    this.entries = tokens.map((config, index) => {
      const where = `tokens[${index}]`;
      if (typeof config.token !== 'string' || !/^[\x21-\x7e]+$/.test(config.token)) {
        throw new TypeError(`${where}.token must be a non-empty string of printable ASCII characters`);
      }
      if (config.token.length > TOKEN_LENGTH_MAX) {
        throw new TypeError(`${where}.token is longer than ${TOKEN_LENGTH_MAX} characters`);
      }
      if (!ROLES.includes(config.role))
        throw new TypeError(`${where}.role must be one of ${ROLES.join(', ')}`);
      const hashed = HASHED_TOKEN.exec(config.token)?.[1];
      if (hashed === undefined && config.token.startsWith('sha256:')) {
        throw new TypeError(`${where}.token starts with sha256: but is not followed by 64 hex digits`);
      }
      const tokenDigest = hashed === undefined ? digest(config.token) : Buffer.from(hashed, 'hex');
      const hex = tokenDigest.toString('hex');
      if (seen.has(hex)) throw new TypeError(`${where}.token is listed twice`);
      seen.add(hex);
      let tenants: ReadonlySet<string> | null = null;
      if (config.tenants !== undefined) {
        if (config.tenants.length === 0)
          throw new TypeError(`${where}.tenants is empty: omit it for every tenant`);
        for (const tenant of config.tenants) {
          if (!isTenantId(tenant))
            throw new TypeError(`${where}.tenants has an invalid tenant id ${JSON.stringify(tenant)}`);
        }
        tenants = new Set(config.tenants);
      }
      return { digest: tokenDigest, principal: { id: where, role: config.role, tenants } };
    });
  }

  /** The principal of an Authorization header, or the 401 to answer. */
  authenticate(header: string | undefined): Principal | ApiError {
    if (header === undefined || header === '') {
      return apiError('unauthorized', { problem: 'no Authorization header' }, {}, challenge());
    }
    const match = BEARER.exec(header);
    const token = match?.[1];
    if (token === undefined || token.length > TOKEN_LENGTH_MAX) {
      return apiError(
        'unauthorized',
        { problem: 'the Authorization header is not "Bearer <token>"' },
        {},
        challenge('invalid_request'),
      );
    }
    const presented = digest(token);
    let found: Principal | null = null;
    // Every entry is compared, matched or not: the time does not tell which one matched.
    for (const entry of this.entries) {
      if (timingSafeEqual(entry.digest, presented) && found === null) found = entry.principal;
    }
    return (
      found ?? apiError('unauthorized', { problem: 'the token is not known' }, {}, challenge('invalid_token'))
    );
  }
}

/** Null when `principal` may use a route with `access` (for `tenant`, if it names one), else the 403. */
export function authorize(principal: Principal, access: Access, tenant: string | undefined): ApiError | null {
  if (!access.roles.includes(principal.role)) {
    return apiError(
      'forbidden',
      { action: `use this route with role ${principal.role}` },
      { reason: 'role', role: principal.role, roles: [...access.roles] },
    );
  }
  if (principal.tenants === null) return null;
  if (access.scope === 'every-tenant') {
    return apiError(
      'forbidden',
      { action: 'use a route that spans every tenant: it is scoped to some tenants' },
      { reason: 'tenant_scope' },
    );
  }
  if (access.scope === 'tenant' && (tenant === undefined || !principal.tenants.has(tenant))) {
    return tenantForbidden(tenant ?? '');
  }
  return null;
}

/** True when `principal` may act on `tenant`. */
export function inScope(principal: Principal, tenant: string): boolean {
  return principal.tenants === null || principal.tenants.has(tenant);
}

/** The 403 of a scoped token acting on a tenant outside its scope. */
export function tenantForbidden(tenant: string): ApiError {
  return apiError(
    'forbidden',
    { action: `act on tenant ${tenant}: it is outside the token's scope` },
    { reason: 'tenant_scope', tenant },
  );
}
