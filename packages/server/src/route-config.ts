/** What a route declares in its fastify config, and what the auth hook leaves on the request. */
import type { Access, Principal } from './auth.js';

/** Debits a route's body carries, for the metrics of requests refused before their handler. */
export type DebitsInBody = 'one' | 'batch';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Who may call the route; absent: no token needed (operations, docs). */
    access?: Access;
    debitsInBody?: DebitsInBody;
  }
  interface FastifyRequest {
    /** The token's principal, once the auth hook accepted it; null on routes without a token. */
    principal: Principal | null;
  }
}
