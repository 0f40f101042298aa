import { defineConfig } from 'vitest/config';

/**
 * `npm run test:reliability`: faults, outages, concurrency, fuzzing, access and a card-data leak
 * scan against one local platform started in process by test/reliability/reliability.spec.ts (it
 * needs the platform's handles: DynamoDB stop/start, Secrets Manager faults). The platform shares
 * process.env with the tests, so everything runs in one worker, one file after another.
 */
export default defineConfig({
  test: {
    include: ['test/reliability/**/*.spec.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    fileParallelism: false,
    sequence: { concurrent: false, shuffle: false },
    reporters: ['default', ['json', { outputFile: 'reports/vitest-reliability.json' }]],
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
  },
});
