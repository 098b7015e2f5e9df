/**
 * GET /ui: the status page an SRE opens during an incident (links, version vector, stranded rights,
 * a tenant's balance, rights and overdraft per region and its events, live). The page itself holds
 * no data and needs no token; its script asks for one and reads the API with it. A strict content
 * security policy allows only the page's own inline script and style (by hash) and requests to
 * this node, so a value that slipped past the script's escaping still could not run or leak.
 */
import type { FastifyInstance } from 'fastify';
import { uiPage } from '../ui/page.js';

/**
 * GET /ui: an optional `tenant` to open the page on; nothing else. Left out of the OpenAPI
 * document (`hide`): it is a page for people, not part of the API a client is generated from.
 */
export const getUiSchema = {
  hide: true,
  tags: ['operations'],
  summary:
    'The status page (HTML, no token to load it; it asks for one and keeps it in sessionStorage). `?tenant=` opens it on a tenant.',
  produces: ['text/html'],
  querystring: {
    type: 'object',
    additionalProperties: false,
    properties: { tenant: { type: 'string', pattern: '^[A-Za-z0-9._:-]{1,128}$' } },
  },
  response: { 200: { type: 'string', description: 'The page (self-contained HTML).' } },
} as const;

/** Registers GET /ui. */
export function registerUiRoutes(app: FastifyInstance): void {
  const page = uiPage();
  const policy = [
    "default-src 'none'",
    `script-src '${page.scriptHash}'`,
    `style-src '${page.styleHash}'`,
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
  app.get('/ui', { schema: getUiSchema }, async (_request, reply) => {
    reply
      .type('text/html; charset=utf-8')
      .header('content-security-policy', policy)
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer')
      .header('cache-control', 'no-store');
    return page.html;
  });
}
