/**
 * The CDK app of infra/bin/app.ts, synthesised to the directory given as argv[2]: the same
 * constructs, bundling and template as `cdk synth`. The cdk-nag packs are left out (they only
 * validate; they change neither the template nor the assets) because they add ~10 s.
 * Run by local/build.ts in a child process: `node --import tsx local/synth-app.ts <outdir>`.
 */
import { readFileSync } from 'node:fs';
import { App } from 'aws-cdk-lib';
import { buildApp } from '../infra/bin/app';

const outdir = process.argv[2];
if (!outdir) throw new Error('usage: synth-app.ts <outdir>');
const cdkJson = JSON.parse(readFileSync(new URL('../cdk.json', import.meta.url), 'utf8')) as {
  context?: Record<string, unknown>;
};
const { app } = buildApp(new App({ outdir, context: cdkJson.context ?? {} }), { nag: false });
app.synth();
