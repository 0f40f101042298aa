/**
 * cdk-nag 3: the three rule packs every synth runs, and the one way this app acknowledges a
 * finding. Packs are registered as CDK validation plugins, so `cdk synth` (and `npm run synth`)
 * exits non-zero on any finding that is not acknowledged. An acknowledgement names one rule (or
 * one `Rule[finding]`) on one construct and its subtree, with the reason it does not apply.
 */
import { Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks, type NagPack, PCIDSS321Checks, ServerlessChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';

/** New instances of the packs; `scope` is the app (packs keep per-run state, so do not share them). */
export function nagPacks(scope?: IConstruct): NagPack[] {
  return [new AwsSolutionsChecks(scope), new PCIDSS321Checks(scope), new ServerlessChecks(scope)];
}

export function registerNagPacks(app: IConstruct): void {
  Validations.of(app).addPlugins(...nagPacks(app));
}

export function acknowledge(construct: IConstruct, id: string, reason: string): void {
  if (reason.trim().length < 20) throw new Error(`acknowledgement of ${id} needs a real reason`);
  Validations.of(construct).acknowledge({ id, reason });
}
