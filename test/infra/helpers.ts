/**
 * Test helpers for the synthesised stack. Synthesising costs seconds, so each test file builds
 * its app once (beforeAll) and reads the template from there. To keep that fast, these in-process
 * builds skip what test/infra/synth.test.ts already runs for real (the CDK CLI, the actual app):
 * bundling (the function code does not change the template's properties), CDK's built-in
 * CloudFormation schema validation, and the cdk-nag plugins — nag.test.ts runs the same packs
 * through `validateScope`. They do get cdk.json's context (the feature flags above all), as the CLI
 * would give it to the app: without it `new App()` would build a different template from the one
 * `cdk synth` and `cdk deploy` build.
 */
import { readFileSync } from 'node:fs';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { buildApp } from '../../infra/bin/app';
import type { PaymentsStack } from '../../infra/stack';

export interface Synth {
  app: App;
  stack: PaymentsStack;
  template: Template;
}

/** cdk.json's `context`: feature flags and the default stage. */
export const cdkJsonContext = (
  JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')) as { context: Record<string, unknown> }
).context;

/**
 * The construct tree only (enough for cdk-nag's validateScope), no synthesis. `outdir` is where
 * `app.synth()` would write the cloud assembly (a temporary directory by default).
 */
export function build(
  context: Record<string, unknown> = {},
  options: { outdir?: string } = {},
): Omit<Synth, 'template'> {
  process.env.CDK_VALIDATION = 'false';
  const app = new App({
    outdir: options.outdir,
    context: { ...cdkJsonContext, 'aws:cdk:bundling-stacks': [], ...context },
  });
  return { app, stack: buildApp(app, { nag: false }).stack };
}

export function synth(context: Record<string, unknown> = {}): Synth {
  const { app, stack } = build(context);
  return { app, stack, template: Template.fromStack(stack) };
}

export type Resources = Record<string, { Type: string; Properties?: Record<string, unknown>; DeletionPolicy?: string }>;

export function resources(template: Template, type: string): Resources {
  return template.findResources(type) as Resources;
}

/** `{ "Ref": "X" }` / `{ "Fn::GetAtt": ["X", "Arn"] }` → "X". */
export function refOf(value: unknown): string | undefined {
  if (value && typeof value === 'object') {
    const v = value as Record<string, unknown>;
    if (typeof v.Ref === 'string') return v.Ref;
    const getAtt = v['Fn::GetAtt'];
    if (Array.isArray(getAtt) && typeof getAtt[0] === 'string') return getAtt[0];
  }
  return undefined;
}

/** Logical id of the function named `clover-payments-<stage>-<name>`. */
export function functionId(template: Template, name: string): string {
  const fns = resources(template, 'AWS::Lambda::Function');
  const id = Object.keys(fns).find((k) => String(fns[k]?.Properties?.FunctionName).endsWith(`-${name}`));
  if (!id) throw new Error(`no function ${name}`);
  return id;
}

export interface Statement {
  Sid?: string;
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: Record<string, Record<string, unknown>>;
}

export const list = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** Every IAM statement granted to a role: its managed (customer) policies, inline policies and AWS::IAM::Policy. */
export function statementsOfRole(template: Template, roleId: string): Statement[] {
  const out: Statement[] = [];
  const role = resources(template, 'AWS::IAM::Role')[roleId];
  if (!role) throw new Error(`no role ${roleId}`);
  for (const p of list(role.Properties?.Policies as { PolicyDocument: { Statement: Statement[] } }[])) {
    out.push(...p.PolicyDocument.Statement);
  }
  for (const type of ['AWS::IAM::ManagedPolicy', 'AWS::IAM::Policy']) {
    for (const policy of Object.values(resources(template, type))) {
      const roles = list(policy.Properties?.Roles as unknown[]).map(refOf);
      if (roles.includes(roleId)) {
        const doc = policy.Properties?.PolicyDocument as { Statement: Statement[] } | undefined;
        out.push(...(doc?.Statement ?? []));
      }
    }
  }
  return out;
}

export function roleOfFunction(template: Template, name: string): string {
  const fn = resources(template, 'AWS::Lambda::Function')[functionId(template, name)]!;
  const role = refOf(fn.Properties?.Role);
  if (!role) throw new Error(`function ${name} has no role reference`);
  return role;
}

export function actionsOf(statements: Statement[]): string[] {
  return [...new Set(statements.filter((s) => s.Effect === 'Allow').flatMap((s) => list(s.Action)))].sort();
}

/** Flattens an intrinsic (Fn::Join of strings and refs) into text, `<Ref>` for tokens. */
export function flat(value: unknown): string {
  if (typeof value === 'string') return value;
  const ref = refOf(value);
  if (ref) return `<${ref}>`;
  if (value && typeof value === 'object' && 'Fn::Join' in value) {
    const [sep, parts] = (value as { 'Fn::Join': [string, unknown[]] })['Fn::Join'];
    return parts.map(flat).join(sep);
  }
  return JSON.stringify(value);
}

export interface MethodInfo {
  path: string;
  httpMethod: string;
  authorizationType: string;
  authorizerId?: string;
  apiKeyRequired: boolean;
}

/** The API's methods with their full resource paths, rebuilt from AWS::ApiGateway::Resource parents. */
export function methods(template: Template): MethodInfo[] {
  const res = resources(template, 'AWS::ApiGateway::Resource');
  const pathOf = (id: string | undefined): string => {
    if (!id || !res[id]) return '';
    const p = res[id]!.Properties!;
    return `${pathOf(refOf(p.ParentId))}/${p.PathPart as string}`;
  };
  return Object.values(resources(template, 'AWS::ApiGateway::Method')).map((m) => {
    const p = m.Properties!;
    return {
      path: pathOf(refOf(p.ResourceId)) || '/',
      httpMethod: p.HttpMethod as string,
      authorizationType: p.AuthorizationType as string,
      authorizerId: refOf(p.AuthorizerId),
      apiKeyRequired: p.ApiKeyRequired === true,
    };
  });
}
