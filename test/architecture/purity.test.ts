import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { purityViolations } from './purity.js';

const root = new URL('../../', import.meta.url).pathname;

function sourceFiles(dir: string): string[] {
  let files: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) files = files.concat(sourceFiles(path));
    else if (name.endsWith('.ts')) files.push(path);
  }
  return files;
}

describe('purity of core and replica (DESIGN.md §5)', () => {
  it('finds clock, randomness, timers and host globals', () => {
    const found = purityViolations(
      'sample.ts',
      [
        'const t = Date.now();',
        'const r = Math.random();',
        'setTimeout(() => {}, 1);',
        'const d = new Date();',
        'const e = process.env;',
        'const c = crypto.randomUUID();',
        'const ok = { process: 1, setTimeout: 2 }; ok.process; new Date(0); Math.max(1, 2);',
        'function local(performance: number) { return performance; }',
      ].join('\n'),
    );
    expect(found.map((v) => v.text)).toEqual([
      'Date.now',
      'Math.random',
      'setTimeout',
      'new Date()',
      'process',
      'crypto',
    ]);
    expect(found.map((v) => v.line)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('holds for every source file of packages/core and packages/replica', () => {
    const files = ['packages/core/src', 'packages/replica/src']
      .map((dir) => join(root, dir))
      .filter((dir) => {
        try {
          return statSync(dir).isDirectory();
        } catch {
          return false;
        }
      })
      .flatMap(sourceFiles);
    expect(files.length).toBeGreaterThan(0);
    const violations = files.flatMap((file) =>
      purityViolations(relative(root, file), readFileSync(file, 'utf8')),
    );
    expect(violations).toEqual([]);
  });
});
