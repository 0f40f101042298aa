/**
 * A simulation run: many seeds, `concurrency` at a time, in one world; what the functions log is
 * kept for the card-data scan (and not shown). Used by the CLI (main.ts, `npm run test:simulation`)
 * and by the bounded part in `npm test` (simulation.test.ts).
 */
import { writeFileSync } from 'node:fs';
import { leaksIn } from '../reliability/leaks';
import { writeReport } from './report';
import { describe as describeSchedule, measureChargeWru, runSeed, type SeedResult } from './run';
import { meterDynamo } from './runtime';
import { generate } from './schedule';
import { startWorld } from './world';

export interface SuiteResult {
  results: SeedResult[];
  /** Write units of clean successful charges, measured on a merchant of their own. */
  chargeWru: number[];
  failed: SeedResult[];
  leaks: string[];
  elapsedMs: number;
}

export interface SuiteOptions {
  seeds: number[];
  concurrency: number;
  /** Write reports/simulation.md. */
  report: boolean;
  /** Where progress and failures go (the functions' own output is captured). */
  out: (line: string) => void;
}

export async function runSuite(opts: SuiteOptions): Promise<SuiteResult> {
  const world = await startWorld();
  const { dynamo } = await import('../../shared/aws');
  meterDynamo(dynamo);
  let logs = '';
  const realOut = process.stdout.write.bind(process.stdout);
  const realErr = process.stderr.write.bind(process.stderr);
  const keep = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    if (logs.length < 50_000_000) logs += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    const cb = rest.find((x) => typeof x === 'function') as (() => void) | undefined;
    cb?.();
    return true;
  }) as typeof process.stdout.write;
  process.stdout.write = keep;
  process.stderr.write = keep;
  const out = (line: string) => realErr(`${line}\n`);
  const base = Date.now();
  const started = performance.now();
  const results: SeedResult[] = new Array(opts.seeds.length);
  let chargeWru: number[] = [];
  try {
    chargeWru = await measureChargeWru(world, 10, base);
    let next = 0;
    let done = 0;
    await Promise.all(
      Array.from({ length: Math.min(opts.concurrency, opts.seeds.length) }, async () => {
        while (next < opts.seeds.length) {
          const i = next++;
          const seed = opts.seeds[i]!;
          results[i] = await runSeed(world, seed, { base }).catch(
            (e): SeedResult => ({
              seed,
              schedule: generate(seed),
              violations: [`the simulation itself failed: ${(e as Error)?.stack ?? String(e)}`],
              requests: 0,
              ops: {},
              stats: { faults: {}, crashes: {}, steps: {}, calls: {} },
              statuses: {},
              cleanChargeWru: [],
              reconcilerRuns: 0,
              quiescenceRounds: 0,
              ms: 0,
            }),
          );
          const r = results[i]!;
          if (r.violations.length > 0) {
            out(
              [
                describeSchedule(r.schedule),
                ...r.violations.map((v) => `  ✗ ${v}`),
                `  rerun exactly: SEED=${seed} npm run test:simulation`,
              ].join('\n'),
            );
          }
          if (++done % 250 === 0)
            out(
              `simulation: ${done}/${opts.seeds.length} seeds, ${((performance.now() - started) / 1000).toFixed(0)} s`,
            );
        }
      }),
    );
  } finally {
    process.stdout.write = realOut;
    process.stderr.write = realErr;
    await world.stop();
  }
  const elapsedMs = performance.now() - started;
  const leaks = leaksIn(logs);
  const failed = results.filter((r) => r.violations.length > 0);
  if (opts.report) {
    writeFileSync(
      'reports/simulation.md',
      writeReport(results, { elapsedMs, concurrency: opts.concurrency, leaks: leaks.length, chargeWru }),
    );
  }
  opts.out(
    `simulation: ${results.length} seeds in ${(elapsedMs / 1000).toFixed(1)} s, ${failed.length} failed${leaks.length ? `, ${leaks.length} card numbers in the logs` : ''}`,
  );
  return { results, chargeWru, failed, leaks, elapsedMs };
}

/** The seeds a run takes from the environment: `SEED=n`, or `SIM_COUNT` seeds from `SIM_START`. */
export function seedsFromEnv(defaultCount: number): number[] {
  if (process.env.SEED) return [Number(process.env.SEED)];
  const count = Number(process.env.SIM_COUNT ?? defaultCount);
  const start = Number(process.env.SIM_START ?? 1);
  return Array.from({ length: count }, (_, i) => start + i);
}
