/**
 * CDK app entry: `cdk synth|deploy -c stage=sandbox|production` (cdk.json defaults to sandbox).
 * cdk-nag's three packs run as validation plugins: an unacknowledged finding fails the synth.
 */
import { pathToFileURL } from 'node:url';
import { App } from 'aws-cdk-lib';
import { stageConfig } from '../config';
import { registerNagPacks } from '../nag';
import { PaymentsStack } from '../stack';

/** `nag: false` only for tests that check the template and run the packs themselves (test/infra). */
export function buildApp(app = new App(), options: { nag?: boolean } = {}): { app: App; stack: PaymentsStack } {
  const stage = stageConfig(app.node);
  const stack = new PaymentsStack(app, `CloverPayments-${stage.name}`, {
    stage,
    description: `Clover payment functions (${stage.name})`,
    tags: { app: 'clover-payments', stage: stage.name },
  });
  if (options.nag !== false) registerNagPacks(app);
  return { app, stack };
}

// Run as the CDK app (node --import tsx infra/bin/app.ts), not when a test imports buildApp.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  buildApp().app.synth();
}
