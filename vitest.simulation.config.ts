import { defineConfig } from 'vitest/config';

/**
 * The money core's deterministic simulation (test/simulation/): seeded schedules of client
 * operations, crashes, Clover faults and reconciler runs against the real handlers, DynamoDB
 * Local and the Clover emulator. `SIM_COUNT` seeds from `SIM_START` (default 1), or one `SEED`.
 */
export default defineConfig({
  test: {
    include: ['test/simulation/**/*.test.ts'],
    testTimeout: 3_600_000,
    hookTimeout: 120_000,
    pool: 'forks',
    fileParallelism: false,
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
  },
});
