/**
 * The deployed stack, as the local platform runs it: read from the template `cdk synth` wrote (via
 * local/iam/template.ts, which resolves every reference to the local account's physical values) —
 * each function's bundle, memory, timeout, environment and role policies; the table, the app
 * secret and the merchant-secret prefix the functions are configured with; and the operator
 * policy the `ops` profile gets. Nothing here is a second copy of infra/: change the stack and
 * the platform follows.
 */
import { readFileSync } from 'node:fs';
import type { SynthResult } from './build';
import type { LocalCredential } from './credentials';
import type { PolicyDocument } from './iam/policy';
import { parsePolicyDocument } from './iam/policy';
import {
  functionsFromTemplate,
  kmsKeyResolver,
  localResolveContext,
  parseTemplate,
  resolveValue,
  TemplateResolutionError,
} from './iam/template';
import type { Principal } from './iam-enforcement';
import type { LambdaFunction } from './lambda-runtime';
import type { StreamConsumer } from './streams';

/** `Ref` of the REST API, locally; the gateway answers FlushStageAuthorizersCache for it. */
export const LOCAL_REST_API_ID = 'local';

export interface LocalFunction extends LambdaFunction {
  readonly roleName: string;
  /** `arn:aws:sts::…:assumed-role/<role>/<function>`, the caller AWS names in a denial. */
  readonly sessionArn: string;
  readonly policies: readonly PolicyDocument[];
}

export interface LocalStack {
  readonly functions: ReadonlyMap<string, LocalFunction>;
  readonly tableName: string;
  readonly appSecretId: string;
  /** The key the template encrypts the app secret with (the operator fills the secret in after deploy). */
  readonly appSecretKmsKeyId: string | undefined;
  readonly merchantSecretPrefix: string;
  readonly stageName: string;
  /** The stage's storefront origins (CORS), as the template gives them to the browser-facing functions. */
  readonly storefrontOrigins: readonly string[];
  /** The operator policy (`ops` profile), from the template's `<prefix>-operator` managed policy. */
  readonly operatorPolicies: readonly PolicyDocument[];
  /** A KmsKeyId as callers give it (id, ARN, alias) → the template key's ARN. */
  readonly kmsKeyArn: (keyId: string) => string | undefined;
  /** The template's DynamoDB stream event source mappings, by the house name of their function. */
  readonly streamConsumers: readonly StreamConsumer[];
  /** The stack's event bus (EVENT_BUS_NAME of the functions), if any. */
  readonly eventBusName: string | undefined;
}

export const resolveContext = localResolveContext({ restApiId: LOCAL_REST_API_ID });

export function localStack(build: SynthResult): LocalStack {
  const json = JSON.parse(readFileSync(build.templatePath, 'utf8')) as unknown;
  const configs = functionsFromTemplate(json, { context: resolveContext });
  const functions = new Map<string, LocalFunction>();
  for (const built of build.functions) {
    const c = configs[built.name];
    if (!c) throw new TemplateResolutionError(`the template has no function for the bundle of ${built.name}`);
    functions.set(c.name, {
      name: c.name,
      functionName: c.functionName,
      bundlePath: built.bundlePath,
      handler: 'handler',
      memoryMb: c.memorySize,
      timeoutS: c.timeout,
      environment: { ...c.environment },
      roleName: c.roleName,
      sessionArn: c.sessionArn,
      policies: c.policies,
    });
  }
  const any = (key: string) => [...functions.values()].map((f) => f.environment[key]).find((v) => v);
  const required = (key: string) => {
    const v = any(key);
    if (!v) throw new TemplateResolutionError(`no function of the template sets ${key}`);
    return v;
  };
  const app = appSecret(json, required('APP_SECRET_ID'));
  return {
    functions,
    tableName: required('TABLE_NAME'),
    appSecretId: app.name,
    appSecretKmsKeyId: app.kmsKeyId,
    merchantSecretPrefix: required('MERCHANT_SECRET_PREFIX'),
    stageName: required('STAGE_NAME'),
    storefrontOrigins: (any('CORS_ALLOWED_ORIGINS') ?? '').split(',').filter(Boolean),
    operatorPolicies: operatorPolicies(json),
    kmsKeyArn: kmsKeyResolver(json, resolveContext),
    streamConsumers: streamConsumers(json, functions),
    eventBusName: any('EVENT_BUS_NAME'),
  };
}

/** Every AWS::Lambda::EventSourceMapping on a DynamoDB stream: its function, filters, batch and retries. */
function streamConsumers(json: unknown, functions: ReadonlyMap<string, LocalFunction>): StreamConsumer[] {
  const template = parseTemplate(json);
  const out: StreamConsumer[] = [];
  for (const [id, r] of Object.entries(template.Resources)) {
    if (r.Type !== 'AWS::Lambda::EventSourceMapping') continue;
    const path = `Resources.${id}.Properties`;
    const p = resolveValue(template, r.Properties ?? {}, resolveContext, path) as Record<string, unknown>;
    if (!String(p.EventSourceArn ?? '').includes(':dynamodb:')) continue;
    const fn = [...functions.values()].find((f) => f.functionName === p.FunctionName);
    if (!fn) throw new TemplateResolutionError(`${path}.FunctionName: no function ${String(p.FunctionName)}`);
    const filters = ((p.FilterCriteria as { Filters?: { Pattern: string }[] } | undefined)?.Filters ?? []).map(
      (f) => JSON.parse(f.Pattern) as unknown,
    );
    out.push({
      fn: fn.name,
      filters,
      batchSize: Number(p.BatchSize ?? 100),
      retryAttempts: Number(p.MaximumRetryAttempts ?? 3),
    });
  }
  return out;
}

/** The secret the functions' APP_SECRET_ID (CloudFormation's `Ref`: its ARN) points at: its name and key. */
function appSecret(json: unknown, arn: string): { name: string; kmsKeyId: string | undefined } {
  const template = parseTemplate(json);
  for (const [id, r] of Object.entries(template.Resources)) {
    if (r.Type !== 'AWS::SecretsManager::Secret') continue;
    const path = `Resources.${id}`;
    if (resolveValue(template, { Ref: id }, resolveContext, path) !== arn) continue;
    const key = r.Properties?.KmsKeyId;
    return {
      name: String(resolveValue(template, r.Properties?.Name, resolveContext, `${path}.Properties.Name`)),
      kmsKeyId:
        key === undefined
          ? undefined
          : String(resolveValue(template, key, resolveContext, `${path}.Properties.KmsKeyId`)),
    };
  }
  throw new TemplateResolutionError(`APP_SECRET_ID ${arn} is no secret of the template`);
}

/** Every `AWS::IAM::ManagedPolicy` named `<prefix>-operator`, resolved. */
function operatorPolicies(json: unknown): PolicyDocument[] {
  const template = parseTemplate(json);
  const out: PolicyDocument[] = [];
  for (const [id, r] of Object.entries(template.Resources)) {
    if (r.Type !== 'AWS::IAM::ManagedPolicy') continue;
    const name = r.Properties?.ManagedPolicyName;
    if (typeof name !== 'string' || !name.endsWith('-operator')) continue;
    const path = `Resources.${id}.Properties.PolicyDocument`;
    out.push(parsePolicyDocument(resolveValue(template, r.Properties?.PolicyDocument, resolveContext, path), path));
  }
  return out;
}

/** The principals IAM knows locally: each function's role session, the operator and the admin. */
export function principalsOf(stack: LocalStack, credentials: ReadonlyMap<string, LocalCredential>): Principal[] {
  const cred = (profile: string) => {
    const c = credentials.get(profile);
    if (!c) throw new Error(`no credentials for ${profile}`);
    return c;
  };
  const account = resolveContext.accountId;
  return [
    ...[...stack.functions.values()].map((f) => ({
      profile: f.name,
      arn: f.sessionArn,
      credential: cred(f.name),
      policies: f.policies,
    })),
    {
      profile: 'ops',
      arn: `arn:aws:sts::${account}:assumed-role/operator/ops`,
      credential: cred('ops'),
      policies: stack.operatorPolicies,
    },
    {
      profile: 'admin',
      arn: `arn:aws:iam::${account}:root`,
      credential: cred('admin'),
      policies: [
        parsePolicyDocument({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] }),
      ],
    },
  ];
}
