import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const src = (dir: string) => fileURLToPath(new URL(`${dir}/src/index.ts`, import.meta.url));

// Tests import workspace packages from source, so `vitest` never runs against a stale build.
// End-to-end tests spawn the built services (`dist/`), which `npm test` builds first.
const alias = {
  '@authz/protocol': src('packages/protocol'),
  '@authz/verifier': src('packages/verifier'),
  '@authz/policy': src('packages/policy'),
  '@authz/client': src('packages/client'),
  '@authz/runtime': src('packages/runtime'),
  '@authz/harness': src('packages/harness'),
  '@authz/cli': src('packages/cli'),
  '@authz/smart': src('packages/smart'),
  '@authz/test-support': fileURLToPath(new URL('test/support/index.ts', import.meta.url)),
};

export default defineConfig({
  resolve: { alias },
  test: {
    maxWorkers: 2,
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['packages/*/src/**/*.test.ts', 'services/*/src/**/*.test.ts'],
          testTimeout: 20_000,
          hookTimeout: 30_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'e2e',
          include: ['test/**/*.test.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
