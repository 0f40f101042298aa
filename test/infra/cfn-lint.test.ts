/**
 * cfn-lint, the CloudFormation linter, over the template of every stage variant the app supports.
 * Any error (E-code) fails; warnings are printed. cfn-lint is a Python tool installed on the machine
 * (`pipx install cfn-lint` or `pip install cfn-lint`), not an npm dependency: without it these tests
 * are skipped, with a warning that says so.
 *
 * The templates come from the in-process app (helpers.build: cdk.json's context and feature flags,
 * no bundling — the function code does not change the template's properties), written to a
 * temporary directory and linted in one cfn-lint call. A control template carrying the WAF mistake
 * this suite was written for (a lower-case `name` under `SingleHeader`) goes into the same call, so
 * a linter that checks nothing cannot pass the suite.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { build } from './helpers';

const VARIANTS: Record<string, Record<string, unknown>> = {
  sandbox: { stage: 'sandbox' },
  production: { stage: 'production' },
  'production with storefront origins': {
    stage: 'production',
    storefrontOrigins: 'https://shop.example.com,https://www.example.org',
  },
};

interface Finding {
  Filename: string | null;
  Level: 'Error' | 'Warning' | 'Informational';
  Message: string;
  Rule: { Id: string };
  Location: { Start: { LineNumber: number }; Path: (string | number)[] | null };
}

const version = spawnSync('cfn-lint', ['--version'], { encoding: 'utf8' });
const installed = version.status === 0;
if (!installed) {
  console.warn(
    'test/infra/cfn-lint.test.ts: SKIPPED, cfn-lint is not installed. Install it with `pipx install cfn-lint` ' +
      '(or `pip install cfn-lint`) and make sure `cfn-lint --version` works.',
  );
}

let work = '';
let control = '';
const templates = new Map<string, string>(); // variant → template file
let findings: Finding[] = [];
let stderr = '';

function lint(files: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('cfn-lint', ['--format', 'json', '--', ...files], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      err += c.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout: out, stderr: err }));
  });
}

beforeAll(async () => {
  if (!installed) return;
  work = mkdtempSync(path.join(tmpdir(), 'clover-cfn-lint-'));
  control = path.join(work, 'control.template.json');
  for (const [i, [variant, context]] of Object.entries(VARIANTS).entries()) {
    const outdir = path.join(work, String(i));
    mkdirSync(outdir);
    // The CLI turns on version reporting; with it the template carries CDKMetadata, as deployed.
    const { app, stack } = build({ ...context, 'aws:cdk:version-reporting': true }, { outdir });
    app.synth();
    templates.set(variant, path.join(outdir, stack.templateFile));
  }

  // The per-key rule of the sandbox template, with the key spelled as CDK passes an untyped one through.
  const sandbox = JSON.parse(readFileSync(templates.get('sandbox')!, 'utf8')) as {
    Resources: Record<string, { Type: string; Properties: { Rules: { Name: string }[] } }>;
  };
  const acl = Object.values(sandbox.Resources).find((r) => r.Type === 'AWS::WAFv2::WebACL')!;
  const rule = JSON.parse(
    JSON.stringify(acl.Properties.Rules.find((r) => r.Name === 'RatePerKey')).replace(
      '"SingleHeader":{"Name":',
      '"SingleHeader":{"name":',
    ),
  );
  writeFileSync(
    control,
    JSON.stringify({
      Resources: {
        Acl: {
          Type: 'AWS::WAFv2::WebACL',
          Properties: {
            Scope: 'REGIONAL',
            DefaultAction: { Allow: {} },
            VisibilityConfig: { CloudWatchMetricsEnabled: true, MetricName: 'control', SampledRequestsEnabled: false },
            Rules: [rule],
          },
        },
      },
    }),
  );

  const result = await lint([...templates.values(), control]);
  stderr = result.stderr;
  try {
    findings = JSON.parse(result.stdout) as Finding[];
  } catch {
    throw new Error(`cfn-lint printed no JSON (exit ${result.code}): ${result.stdout}${result.stderr}`.slice(0, 3000));
  }
  // Printed once per message, with the variants it appears in (most repeat in every template).
  const variantOf = new Map([...templates].map(([variant, file]) => [file, variant]));
  const warnings = new Map<string, string[]>();
  for (const f of findings) {
    const variant = f.Filename ? variantOf.get(f.Filename) : undefined;
    if (f.Level === 'Error' || !variant) continue;
    const key = `${f.Rule.Id} ${f.Message}`;
    warnings.set(key, [...(warnings.get(key) ?? []), variant]);
  }
  if (warnings.size > 0) {
    const all = templates.size;
    console.warn(
      `cfn-lint warnings (they do not fail the suite):\n${[...warnings]
        .map(([w, vs]) => `  ${w} [${vs.length === all ? 'every variant' : vs.join(', ')}]`)
        .join('\n')}`,
    );
  }
}, 180_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

const where = (f: Finding) =>
  `${f.Rule.Id} ${f.Filename ? path.relative(work, f.Filename) : '(no file)'}:${f.Location.Start.LineNumber} ${(f.Location.Path ?? []).join('.')}: ${f.Message}`;

describe.skipIf(!installed)(`cfn-lint ${installed ? version.stdout.trim() : '(not installed)'}`, () => {
  it('runs and catches a known schema error (control template)', () => {
    const ids = findings.filter((f) => f.Filename === control && f.Level === 'Error').map((f) => f.Rule.Id);
    expect(ids).toEqual(expect.arrayContaining(['E3002', 'E3003']));
    expect(findings.filter((f) => f.Filename === null).map(where)).toEqual([]);
  });

  it.each(Object.keys(VARIANTS))('finds no error in the %s template', (variant) => {
    const file = templates.get(variant)!;
    const errors = findings.filter((f) => f.Filename === file && f.Level === 'Error');
    expect(errors.map(where), stderr.slice(-2000)).toEqual([]);
  });
});
