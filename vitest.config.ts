import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// Tests import packages by name; resolve them to their TypeScript sources so `npm test` checks
// the code as written (the build is checked separately by `tsc -b` in `prepare`).
const packageSource = (name: string) =>
  fileURLToPath(new URL(`./packages/${name}/src/index.ts`, import.meta.url));

export default defineConfig({
  resolve: {
    alias: [
      {
        find: /^@allot\/cli$/,
        replacement: fileURLToPath(new URL('./packages/cli/src/main.ts', import.meta.url)),
      },
      { find: /^@allot\/([a-z]+)$/, replacement: packageSource('$1') },
    ],
  },
  test: {
    include: ['packages/*/test/**/*.test.ts', 'test/**/*.test.ts'],
    pool: 'forks',
    // Both cores: much of the suite is real processes and connections waiting, so a second worker
    // cuts its time (vitest's default on two cores is one worker: 12 min here on 2026-12-02).
    // ALLOT_TEST_WORKERS=1 runs the files one at a time.
    maxWorkers: Number(process.env.ALLOT_TEST_WORKERS ?? 2),
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
