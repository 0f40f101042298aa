/**
 * `npm run test:simulation`: the money core's simulation from the command line, faster than under
 * vitest. `SIM_COUNT` seeds (default 2000) from `SIM_START` (default 1), `SIM_CONCURRENCY` at a time
 * (default 16), or one `SEED=n`. Writes reports/simulation.md (1,000 seeds or more, or
 * `SIM_REPORT=1`) and exits 1 when any invariant was violated.
 */
import { runSuite, seedsFromEnv } from './suite';

const seeds = seedsFromEnv(2000);
const { failed, leaks } = await runSuite({
  seeds,
  concurrency: Number(process.env.SIM_CONCURRENCY ?? 16),
  report: process.env.SIM_REPORT === '1' || seeds.length >= 1000,
  out: (line) => process.stderr.write(`${line}\n`),
});
process.exit(failed.length > 0 || leaks.length > 0 ? 1 : 0);
