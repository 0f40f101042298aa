import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  costPerMillionCharges,
  defaultChargeAssumptions,
  fixedMonthlyCost,
  prices,
  stackFixtures,
  total,
} from '../../infra/prices';
import { resources, type Synth, synth } from './helpers';

const doc = readFileSync(new URL('../../docs/cost.md', import.meta.url), 'utf8');
let s: Synth;
beforeAll(() => {
  s = synth();
}, 60_000);

describe('cost model', () => {
  it('docs/cost.md quotes the prices file: its date and the totals it computes', () => {
    expect(prices.date).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(doc).toContain(prices.date);
    for (const line of costPerMillionCharges()) expect(doc).toContain(`| ${line.item} | ${line.usd.toFixed(2)} |`);
    expect(doc).toContain(`**${total(costPerMillionCharges()).toFixed(2)}**`);
    expect(doc).toContain(`**${total(fixedMonthlyCost(100)).toFixed(2)}**`);
  });

  it('scales with the measured duration', () => {
    const slow = total(costPerMillionCharges({ ...defaultChargeAssumptions, chargeDurationMs: 1200 }));
    const fast = total(costPerMillionCharges({ ...defaultChargeAssumptions, chargeDurationMs: 300 }));
    // 0.9 s × 0.5 GB × 1e6 × $0.0000133334 = $6.00
    expect(slow - fast).toBeCloseTo(6, 2);
  });

  it('counts the fixtures the stack really has', () => {
    expect(Object.keys(resources(s.template, 'AWS::KMS::Key'))).toHaveLength(stackFixtures.kmsKeys);
    const acl = Object.values(resources(s.template, 'AWS::WAFv2::WebACL'))[0]!;
    expect(acl.Properties!.Rules as unknown[]).toHaveLength(stackFixtures.wafRules);
    let alarmMetrics = 0;
    for (const alarm of Object.values(resources(s.template, 'AWS::CloudWatch::Alarm'))) {
      const metrics = alarm.Properties!.Metrics as { MetricStat?: unknown }[] | undefined;
      alarmMetrics += metrics ? metrics.filter((m) => m.MetricStat).length : 1;
    }
    expect(alarmMetrics).toBe(stackFixtures.alarmMetrics);
  });
});
