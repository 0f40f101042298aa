import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    reporters: ['default', ['json', { outputFile: 'reports/vitest.json' }]],
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    projects: [
      // Pure logic and the synthesized template: no platform needed.
      { extends: true, test: { name: 'unit', include: ['test/unit/**/*.test.ts', 'test/infra/**/*.test.ts'] } },
      {
        // A bounded part of the money core's simulation (test/simulation/; 2,000 seeds run in CI
        // through `npm run test:simulation`).
        extends: true,
        test: {
          name: 'simulation',
          include: ['test/simulation/**/*.test.ts'],
          testTimeout: 600_000,
          hookTimeout: 120_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          // One local platform (a child process: gateway, the functions' bundles in their own
          // workers, DynamoDB Local behind IAM, Secrets Manager, Clover emulator) serves every
          // integration test; see test/global-setup.ts.
          globalSetup: ['test/global-setup.ts'],
        },
      },
    ],
  },
});
