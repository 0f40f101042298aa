/**
 * The benchmark's pure helpers (bench/): percentile math, the cost model built on infra/prices.ts,
 * the static-import scan of bundles, and the proxy's count arithmetic. The benchmark itself
 * (`npm run bench`) never runs in `npm test`.
 */
import { describe, expect, it } from 'vitest';
import { staticImports } from '../../../bench/cold';
import { assumptionsFrom, baseScenario, costModel, dynamoKmsPerCharge, type Measured } from '../../../bench/cost';
import { diffCounts, emptyCounts } from '../../../bench/proxy';
import { median, percentile, shuffle } from '../../../bench/stats';
import { costPerMillionCharges, defaultChargeAssumptions, prices, total } from '../../../infra/prices';

describe('percentile', () => {
  it('interpolates between closest ranks (numpy linear)', () => {
    const xs = [5, 1, 4, 2, 3];
    expect(percentile(xs, 0)).toBe(1);
    expect(percentile(xs, 100)).toBe(5);
    expect(median(xs)).toBe(3);
    expect(percentile([1, 2, 3, 4], 50)).toBe(2.5);
    expect(percentile([10, 20], 99)).toBeCloseTo(19.9, 10);
    expect(
      percentile(
        Array.from({ length: 101 }, (_, i) => i),
        99,
      ),
    ).toBe(99);
  });

  it('leaves its input alone, is NaN for no samples and refuses p outside 0–100', () => {
    const xs = [3, 1, 2];
    percentile(xs, 50);
    expect(xs).toEqual([3, 1, 2]);
    expect(percentile([], 50)).toBeNaN();
    expect(() => percentile([1], 101)).toThrow(RangeError);
  });

  it('shuffles to a permutation', () => {
    let seed = 1;
    const random = () => {
      seed = (seed * 16807) % 2147483647;
      return seed / 2147483647;
    };
    const out = shuffle([1, 2, 3, 4, 5, 6], random);
    expect([...out].sort()).toEqual([1, 2, 3, 4, 5, 6]);
  });
});

const measured: Measured = {
  chargesMemoryMb: 512,
  authorizerMemoryMb: 512,
  chargeOverheadMs: 20,
  authorizerMs: 10,
  initMs: 300,
  warmWriteUnits: 12,
  warmReadUnits: 0,
  coldWriteUnits: 12,
  coldReadUnits: 0.5,
  warmSecretsCalls: 0,
  coldSecretsCalls: 1,
  authorizerReadUnits: 1,
};

describe('cost model', () => {
  it('feeds measured figures into the formula of infra/prices.ts', () => {
    const a = assumptionsFrom(measured, baseScenario);
    expect(a.chargeDurationMs).toBe(420); // overhead + the 400 ms Clover round trip
    expect(a.memoryMb).toBe(512);
    expect(a.dynamoWriteUnits).toBe(12);
    // 5% cache misses make the cold path's extra read; the authorizer reads 1 RRU per invocation.
    expect(a.dynamoReadUnits).toBeCloseTo(0.05 * 0.5 + 1, 10);
    expect(a.secretsManagerCalls).toBeCloseTo(0.05, 10);
    expect(a.kmsRequests).toBeCloseTo(0.05 + dynamoKmsPerCharge, 10);
    const r = costModel(measured);
    expect(r.lines).toEqual(costPerMillionCharges(a));
    expect(r.targetUsd + r.besideUsd).toBeCloseTo(r.totalUsd, 10);
    expect(r.besideLines.map((l) => l.item)).toEqual([
      'API Gateway REST requests',
      'WAF requests',
      'CloudWatch Logs ingestion',
    ]);
  });

  it('prices DynamoDB by capacity units: 12 WRU cost 12 × the on-demand write price per million', () => {
    const line = costModel(measured).lines.find((l) => l.item === 'DynamoDB writes');
    expect(line?.usd).toBeCloseTo(12 * prices.dynamodbOnDemand.perMillionWriteRequestUnits, 10);
  });

  it('halving memory halves the duration line, and every charge missing the cache costs a secret read', () => {
    const full = costModel(measured);
    const half = costModel(measured, { ...baseScenario, memoryMb: 256 });
    const dur = (r: typeof full) => r.lines.find((l) => l.item.startsWith('Lambda arm64 duration'))!.usd;
    expect(dur(half)).toBeCloseTo(dur(full) / 2, 10);
    const quiet = costModel(measured, { ...baseScenario, cacheMissFraction: 1 });
    expect(quiet.assumptions.secretsManagerCalls).toBe(1);
    expect(total(quiet.lines)).toBeGreaterThan(total(full.lines));
  });

  it('matches the default model when fed the default assumptions', () => {
    const d = defaultChargeAssumptions;
    expect(total(costPerMillionCharges(d))).toBeCloseTo(total(costPerMillionCharges()), 10);
  });
});

describe('bundle static imports', () => {
  it('finds static import/export-from specifiers, not dynamic import()', () => {
    const code =
      'import{a as b}from"node:http";import*as c from"node:fs";var x=await import("@aws-sdk/x");export{h as handler};import"side";\nimport d from "pkg"; export * from "re"';
    expect(staticImports(code)).toEqual(['node:http', 'node:fs', 'side', 'pkg', 're']);
  });
});

describe('endpoint counts', () => {
  it('subtracts snapshots operation by operation and keeps the calls in between', () => {
    const a = { ...emptyCounts(), ops: { GetItem: 1 }, total: 1, reads: 1, readUnits: 0.5, log: ['GetItem 0.5'] };
    const b = {
      ...a,
      ops: { GetItem: 1, TransactWriteItems: 2 },
      total: 3,
      writes: 2,
      writeUnits: 12,
      indexUnits: 4,
      log: [...a.log, 'TransactWriteItems 6 (index 2)', 'TransactWriteItems 6 (index 2)'],
    };
    const d = diffCounts(a, b);
    expect(d.ops).toEqual({ TransactWriteItems: 2 });
    expect(d.writes).toBe(2);
    expect(d.reads).toBe(0);
    expect(d.writeUnits).toBe(12);
    expect(d.log).toHaveLength(2);
  });
});
