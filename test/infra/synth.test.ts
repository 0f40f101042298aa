/**
 * `npm run synth` (= `cdk synth --quiet`) works offline: the real CLI runs the real app, bundling
 * every function with the local esbuild (no Docker), with no AWS_* variables and a HOME without
 * ~/.aws, and exits 0 only because cdk-nag found nothing unacknowledged (nag.test.ts shows that an
 * unacknowledged finding fails synthesis) and CDK's own CloudFormation schema check found nothing
 * (cdk.json sets `@aws-cdk/core:validateAgainstDefaultRules`, which makes its findings errors).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const work = mkdtempSync(path.join(tmpdir(), 'clover-synth-'));
const outdir = path.join(work, 'cdk.out');
let result: { code: number | null; stderr: string; ms: number };

beforeAll(async () => {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !k.startsWith('AWS_') && !k.startsWith('CDK_')) env[k] = v;
  }
  env.HOME = work; // no ~/.aws/credentials or config to fall back on
  const started = Date.now();
  result = await new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      [path.join(root, 'node_modules/aws-cdk/bin/cdk'), 'synth', '--quiet', '-o', outdir],
      {
        cwd: root,
        env,
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    child.on('close', (code) => resolve({ code, stderr, ms: Date.now() - started }));
  });
}, 180_000);

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('cdk synth, offline and without credentials', () => {
  it('exits 0 with no validation failure', () => {
    expect(result.stderr).not.toMatch(/Validation failed|ValidationFailed/);
    expect(result.code, result.stderr.slice(-3000)).toBe(0);
  });

  it('writes the template and one ESM bundle per function, bundled locally', () => {
    const template = JSON.parse(readFileSync(path.join(outdir, 'CloverPayments-sandbox.template.json'), 'utf8')) as {
      Resources: Record<string, { Type: string; Properties: { Code?: { S3Key?: string } } }>;
    };
    const fns = Object.values(template.Resources).filter((r) => r.Type === 'AWS::Lambda::Function');
    expect(fns).toHaveLength(readdirSync(path.join(root, 'functions')).length);
    for (const fn of fns) {
      const hash = fn.Properties.Code!.S3Key!.replace(/\.zip$/, '');
      const bundle = path.join(outdir, `asset.${hash}`, 'index.mjs');
      expect(existsSync(bundle), bundle).toBe(true);
      const code = readFileSync(bundle, 'utf8');
      expect(code).toMatch(/export\s*\{[^}]*handler/);
      expect(code).not.toContain('sourceMappingURL');
      // The SDK is inside the bundle (infra/house-function.ts): no static import of @aws-sdk/* or
      // @smithy/* is left to resolve on Lambda, whatever aws-lambda-nodejs' default externals are
      // (the sdkV3ExcludeSmithyPackages flag). Only the dynamic import()s of NEVER_LOADED_ON_LAMBDA remain.
      // The SDK's SigV4a error messages (EventBridge's signer) quote `[require("@aws-sdk/…");]` as
      // advice inside a string; that text is no import.
      const statements = code.replace(/\[(?:require\(|import )["']@aws-sdk\/signature-v4(?:a|-crt)["']\)?;\]/g, '');
      expect(statements).not.toMatch(
        /(?:\bfrom|\bimport)\s*["']@(?:aws-sdk|smithy)\/|require\(["']@(?:aws-sdk|smithy)\//,
      );
    }
  });
});
