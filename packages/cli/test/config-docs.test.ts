/**
 * docs/api.md's config table says what the config schema does (issue 14: the README called a field
 * optional that the node required): every field of the schema is in the table, the fields it marks
 * required are the schema's, and a config of just those (plus a token) starts, `keyFile` left out.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CONFIG_SCHEMA, validateConfig } from '../src/config.js';

const DOC = readFileSync(new URL('../../../docs/api.md', import.meta.url), 'utf8');

/** The config table's rows: each documented top-level field and its "required" cell. */
function documentedFields(): Map<string, string> {
  const section = DOC.slice(DOC.indexOf('## Node config (YAML)'));
  const rows = new Map<string, string>();
  for (const line of section.split('\n')) {
    const match = /^\| ((?:`[^`]+`(?:, )?)+) \| ([^|]+) \|/.exec(line);
    if (match === null) continue;
    for (const [, field] of (match[1] as string).matchAll(/`([^`.]+)[^`]*`/g)) {
      rows.set(field as string, (match[2] as string).trim());
    }
  }
  return rows;
}

describe('docs/api.md and the config schema', () => {
  const documented = documentedFields();

  it('documents every field of the schema, and no other', () => {
    expect([...documented.keys()].sort()).toEqual(Object.keys(CONFIG_SCHEMA.properties).sort());
  });

  it('marks required exactly the fields the schema requires', () => {
    const required = [...documented].filter(([, cell]) => cell === 'yes').map(([field]) => field);
    expect(required.sort()).toEqual([...CONFIG_SCHEMA.required].sort());
    expect(documented.get('keyFile')).toBe('no');
  });

  it('starts from the required fields and one token: keyFile defaults into the data directory', () => {
    const config = validateConfig(
      {
        cluster: 'c',
        region: 'eu',
        listen: { host: '127.0.0.1', port: 7001 },
        dataDir: 'data',
        tokens: [{ token: 's3cret-admin', role: 'admin' }],
      },
      '/srv/allot',
    );
    expect(config.keyFile).toBe('/srv/allot/data/region.key');
  });
});
