/**
 * The bounded part of the money core's simulation that `npm test` runs (docs/money.md, "Proof"):
 * `SIM_COUNT` seeded schedules (default 30, about a minute with DynamoDB Local's start), or one with `SEED=n`. The long
 * run is `npm run test:simulation` (test/simulation/main.ts). A failing seed prints its schedule,
 * its violations and the command that reruns exactly it.
 */
import { describe, expect, it } from 'vitest';
import { runSuite, type SuiteResult, seedsFromEnv } from './suite';

let run: SuiteResult | null = null;

describe('the money core under a hostile Clover', () => {
  it('keeps its invariants over seeded schedules of operations, crashes and Clover faults', async () => {
    const seeds = seedsFromEnv(30);
    run = await runSuite({
      seeds,
      concurrency: Number(process.env.SIM_CONCURRENCY ?? 16),
      report: process.env.SIM_REPORT === '1',
      out: (line) => process.stderr.write(`${line}\n`),
    });
    expect(run.leaks).toEqual([]);
    expect(run.failed.map((f) => f.seed)).toEqual([]);
  });

  it('costs at most 6 DynamoDB write units per successful charge (ReturnConsumedCapacity)', () => {
    const wru = [...(run?.chargeWru ?? []), ...(run?.results.flatMap((r) => r.cleanChargeWru) ?? [])];
    expect(wru.length).toBeGreaterThan(0);
    expect(Math.max(...wru)).toBeLessThanOrEqual(6);
  });
});
