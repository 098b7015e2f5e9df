/** GET /ui: the status page is one self-contained document, allowed to run only its own script. */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UI_SCRIPT } from '../../src/ui/page-script.js';
import { errorOf, type TestNode, testNode } from '../support.js';

let node: TestNode;

beforeAll(async () => {
  node = await testNode();
});
afterAll(async () => node.close());

const hash = (text: string): string => createHash('sha256').update(text, 'utf8').digest('base64');

describe('GET /ui', () => {
  it('serves the page without a token, as HTML that holds no ledger data', async () => {
    const response = await node.app.inject({ method: 'GET', url: '/ui' });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(response.headers['cache-control']).toBe('no-store');
    expect(response.headers['x-content-type-options']).toBe('nosniff');
    expect(response.body).toMatch(/^<!doctype html>/);
    expect(response.body).toContain('<title>Allot status</title>');
  });

  it('has no external asset or URL, and its policy allows only its own inline script and style', async () => {
    const response = await node.app.inject({ method: 'GET', url: '/ui?tenant=acme' });
    const html = response.body;
    expect(html).not.toMatch(/https?:\/\//i);
    expect(html).not.toMatch(/<script[^>]*\ssrc=/i);
    expect(html).not.toMatch(/<link\b/i);
    const inline = [...html.matchAll(/<script>([\s\S]*?)<\/script>/g)].map((match) => match[1]);
    expect(inline).toEqual([UI_SCRIPT]);
    const style = /<style>([\s\S]*?)<\/style>/.exec(html)?.[1] as string;
    const policy = response.headers['content-security-policy'] as string;
    expect(policy).toContain("default-src 'none'");
    expect(policy).toContain(`script-src 'sha256-${hash(UI_SCRIPT)}'`);
    expect(policy).toContain(`style-src 'sha256-${hash(style)}'`);
    expect(policy).toContain("connect-src 'self'");
    expect(policy).toContain("frame-ancestors 'none'");
  });

  it('puts API values into the page as text only: no innerHTML, no eval', () => {
    expect(() => new Function(UI_SCRIPT)).not.toThrow();
    expect(UI_SCRIPT).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(/);
  });

  it.each([
    ['an invalid tenant id', '/ui?tenant=%3Cscript%3E'],
    ['an unknown parameter', '/ui?colour=red'],
  ])('refuses %s with 400 invalid_request', async (_, url) => {
    const response = await node.app.inject({ method: 'GET', url });
    expect(errorOf(response)).toEqual({ status: 400, code: 'invalid_request' });
  });
});
