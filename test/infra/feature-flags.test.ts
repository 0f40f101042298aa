/**
 * cdk.json sets every feature flag this aws-cdk-lib recommends (what `cdk init` writes for a new
 * app), at the recommended value, unless docs/deploy.md ("Feature flags") names the flag with the
 * reason it is not. After an aws-cdk-lib upgrade, a newly recommended flag fails this test until
 * someone has decided on it and re-run test/infra.
 */
import { readFileSync } from 'node:fs';
import { FeatureFlags } from 'aws-cdk-lib';
import { CURRENTLY_RECOMMENDED_FLAGS, FLAGS } from 'aws-cdk-lib/cx-api';
import { describe, expect, it } from 'vitest';
import { build, cdkJsonContext } from './helpers';

const deploy = readFileSync(new URL('../../docs/deploy.md', import.meta.url), 'utf8');
const flagSection = deploy.split(/^## /m).find((section) => section.startsWith('Feature flags\n')) ?? '';
/** The flags in the section's "Not at the recommended value" paragraph or list, each with its reason. */
const notRecommended = /\*\*Not at the recommended value\*\*:([\s\S]*?)(?:\n\n|$)/.exec(flagSection)?.[1];
const documented = new Set([...(notRecommended ?? '').matchAll(/`(@aws-cdk[^`]*)`/g)].map((m) => m[1]!));
const recommended = CURRENTLY_RECOMMENDED_FLAGS as Record<string, unknown>;

describe('CDK feature flags (cdk.json)', () => {
  it('docs/deploy.md has a "Feature flags" section saying which flags are not at the recommended value', () => {
    expect(notRecommended?.trim()).toBeTruthy();
  });

  it('sets every recommended flag, at the recommended value unless docs/deploy.md says why not', () => {
    const unset = Object.keys(recommended).filter((flag) => !(flag in cdkJsonContext));
    expect(unset).toEqual([]);
    const deviating = Object.keys(recommended).filter(
      (flag) => JSON.stringify(cdkJsonContext[flag]) !== JSON.stringify(recommended[flag]),
    );
    expect(deviating.filter((flag) => !documented.has(flag))).toEqual([]);
  });

  it('names no flag this aws-cdk-lib does not know', () => {
    const flags = Object.keys(cdkJsonContext).filter((k) => k.startsWith('@aws-cdk'));
    expect(flags.filter((flag) => !(flag in FLAGS))).toEqual([]);
  });

  it('reaches the apps the tests build, as the CLI gives it to `cdk synth`', () => {
    const { stack } = build();
    expect(FeatureFlags.of(stack).isEnabled('@aws-cdk/aws-iam:minimizePolicies')).toBe(true);
    expect(stack.node.tryGetContext('@aws-cdk/core:validateAgainstDefaultRules')).toBe(true);
  });
});
