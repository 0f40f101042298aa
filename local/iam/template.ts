/**
 * Reads the synthesized CloudFormation template the way the deployed stack is built from it: for
 * each Lambda function, its role, the role's policies with every intrinsic resolved to the physical
 * values the local platform uses, and its environment, memory size and timeout. The local platform
 * enforces exactly what CloudFormation would deploy, not a hand-kept copy of it.
 *
 * Resolution is strict: a reference this module cannot turn into a real value throws a
 * `TemplateResolutionError` naming the logical id and the JSON path — never a placeholder that
 * would silently match nothing (or everything) in a policy.
 */
import { createHash } from 'node:crypto';
import * as v from 'valibot';
import { type PolicyDocument, parsePolicyDocument } from './policy';

/** The physical values of the local "account" that intrinsics resolve to. */
export interface ResolveContext {
  readonly accountId: string;
  readonly region: string;
  readonly partition: string;
  readonly urlSuffix: string;
  /** What `Ref` of the AWS::ApiGateway::RestApi returns. */
  readonly restApiId: string;
  /** The 6 characters Secrets Manager appends to a secret's name in its ARN; the local endpoint decides them. */
  readonly secretSuffix: (name: string) => string;
  /** Values for template Parameters; a parameter's Default is used otherwise. */
  readonly parameters?: Readonly<Record<string, string>>;
  readonly stackName?: string;
}

export const LOCAL_ACCOUNT_ID = '000000000000';
export const LOCAL_REGION = 'us-east-1';

export function localResolveContext(overrides: Partial<ResolveContext> = {}): ResolveContext {
  return {
    accountId: LOCAL_ACCOUNT_ID,
    region: LOCAL_REGION,
    partition: 'aws',
    urlSuffix: 'amazonaws.com',
    restApiId: 'local',
    secretSuffix: defaultSecretSuffix,
    ...overrides,
  };
}

export class TemplateResolutionError extends Error {
  override readonly name = 'TemplateResolutionError';
}

const SUFFIX_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** A stable stand-in for the random suffix AWS gives a secret's ARN: 6 alphanumerics from sha256(name). */
export function defaultSecretSuffix(name: string): string {
  const digest = createHash('sha256').update(name).digest();
  let out = '';
  for (let i = 0; i < 6; i++) out += SUFFIX_ALPHABET[digest[i]! % SUFFIX_ALPHABET.length];
  return out;
}

/** A stable, UUID-shaped KMS key id for a key's logical id (or an alias such as `alias/aws/secretsmanager`). */
export function localKmsKeyId(logicalId: string): string {
  const h = createHash('sha256').update(`kms-key:${logicalId}`).digest('hex');
  const variant = ((Number.parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export const tableArn = (ctx: ResolveContext, tableName: string): string =>
  `arn:${ctx.partition}:dynamodb:${ctx.region}:${ctx.accountId}:table/${tableName}`;

export const secretArn = (ctx: ResolveContext, name: string): string =>
  `arn:${ctx.partition}:secretsmanager:${ctx.region}:${ctx.accountId}:secret:${name}-${ctx.secretSuffix(name)}`;

export const kmsKeyArn = (ctx: ResolveContext, keyId: string): string =>
  `arn:${ctx.partition}:kms:${ctx.region}:${ctx.accountId}:key/${keyId}`;

const resourceSchema = v.looseObject({
  Type: v.string(),
  Properties: v.optional(v.record(v.string(), v.unknown())),
});
const templateSchema = v.looseObject({
  Parameters: v.optional(v.record(v.string(), v.looseObject({ Default: v.optional(v.unknown()) }))),
  Resources: v.record(v.string(), resourceSchema),
});
export type Template = v.InferOutput<typeof templateSchema>;
type Resource = v.InferOutput<typeof resourceSchema>;

export function parseTemplate(json: unknown): Template {
  const parsed = v.safeParse(templateSchema, json);
  if (!parsed.success) {
    const issue = parsed.issues[0];
    const path = issue.path?.map((p) => String(p.key)).join('.') ?? '';
    throw new TemplateResolutionError(`not a CloudFormation template: '${path}': ${issue.message}`);
  }
  return parsed.output;
}

/**
 * Resolves every intrinsic in `value` (Ref, Fn::GetAtt, Fn::Join, Fn::Sub, Fn::Select, Fn::Split);
 * plain JSON passes through. `path` names where the value sits, for error messages.
 */
export function resolveValue(template: Template, value: unknown, ctx: ResolveContext, path: string): unknown {
  if (Array.isArray(value)) return value.map((x, i) => resolveValue(template, x, ctx, `${path}.${i}`));
  if (value === null || typeof value !== 'object') return value;
  const entries = Object.entries(value);
  const [fn, arg] = entries[0] ?? [];
  if (entries.length === 1 && fn !== undefined && (fn === 'Ref' || fn.startsWith('Fn::'))) {
    return resolveIntrinsic(template, fn, arg, ctx, `${path}.${fn}`);
  }
  return Object.fromEntries(entries.map(([k, x]) => [k, resolveValue(template, x, ctx, `${path}.${k}`)]));
}

function resolveIntrinsic(template: Template, fn: string, arg: unknown, ctx: ResolveContext, path: string): unknown {
  const fail = (why: string): never => {
    throw new TemplateResolutionError(`${path}: ${why}`);
  };
  const str = (x: unknown, what: string): string =>
    typeof x === 'string' ? x : fail(`${what} must resolve to a string, got ${JSON.stringify(x)}`);
  switch (fn) {
    case 'Ref':
      return ref(template, str(arg, 'Ref'), ctx, path);
    case 'Fn::GetAtt': {
      const [id, attr] = typeof arg === 'string' ? splitOnce(arg, '.') : Array.isArray(arg) ? arg : [];
      return getAtt(template, str(id, 'Fn::GetAtt logical id'), str(attr, 'Fn::GetAtt attribute'), ctx, path);
    }
    case 'Fn::Join': {
      if (!Array.isArray(arg) || arg.length !== 2) return fail('expects [delimiter, [values]]');
      const list = resolveValue(template, arg[1], ctx, `${path}.1`);
      if (!Array.isArray(list)) return fail('expects a list of values');
      return list.map((x, i) => str(x, `element ${i}`)).join(str(arg[0], 'delimiter'));
    }
    case 'Fn::Sub': {
      const [text, vars] = typeof arg === 'string' ? [arg, {}] : Array.isArray(arg) ? arg : [];
      const bound = resolveValue(template, vars ?? {}, ctx, `${path}.1`) as Record<string, unknown>;
      return str(text, 'Fn::Sub template').replace(/\$\{(!?)([^}]*)\}/g, (_, literal: string, name: string) => {
        if (literal) return `\${${name}}`;
        if (name in bound) return str(bound[name], `\${${name}}`);
        const [id, attr] = splitOnce(name, '.');
        return str(attr === undefined ? ref(template, id, ctx, path) : getAtt(template, id, attr, ctx, path), name);
      });
    }
    case 'Fn::Select': {
      if (!Array.isArray(arg) || arg.length !== 2) return fail('expects [index, list]');
      const list = resolveValue(template, arg[1], ctx, `${path}.1`);
      const index = Number(resolveValue(template, arg[0], ctx, `${path}.0`));
      if (!Array.isArray(list) || !Number.isInteger(index) || index < 0 || index >= list.length) {
        return fail('index out of range');
      }
      return list[index];
    }
    case 'Fn::Split': {
      if (!Array.isArray(arg) || arg.length !== 2) return fail('expects [delimiter, string]');
      return str(resolveValue(template, arg[1], ctx, `${path}.1`), 'source').split(str(arg[0], 'delimiter'));
    }
    default:
      return fail(`${fn} is not supported by local/iam/template.ts`);
  }
}

const splitOnce = (s: string, sep: string): [string, string | undefined] => {
  const i = s.indexOf(sep);
  return i < 0 ? [s, undefined] : [s.slice(0, i), s.slice(i + 1)];
};

function resourceOf(template: Template, id: string, path: string): Resource {
  const r = template.Resources[id];
  if (!r) throw new TemplateResolutionError(`${path}: no resource '${id}' in the template`);
  return r;
}

/** A resource property resolved to a string; missing or non-string → error naming the resource. */
function stringProperty(template: Template, id: string, prop: string, ctx: ResolveContext): string {
  const r = resourceOf(template, id, `Resources.${id}`);
  const path = `Resources.${id}.Properties.${prop}`;
  const value = resolveValue(template, r.Properties?.[prop], ctx, path);
  if (typeof value !== 'string' || value === '') {
    throw new TemplateResolutionError(
      `${path}: ${id} (${r.Type}) needs an explicit ${prop} for local resolution (got ${JSON.stringify(value)})`,
    );
  }
  return value;
}

function ref(template: Template, name: string, ctx: ResolveContext, path: string): unknown {
  switch (name) {
    case 'AWS::AccountId':
      return ctx.accountId;
    case 'AWS::Region':
      return ctx.region;
    case 'AWS::Partition':
      return ctx.partition;
    case 'AWS::URLSuffix':
      return ctx.urlSuffix;
    case 'AWS::StackName':
      if (ctx.stackName !== undefined) return ctx.stackName;
      break;
    case 'AWS::StackId':
      // CloudFormation's stack ARN ends in a UUID it picks at creation; locally a fixed one.
      return `arn:${ctx.partition}:cloudformation:${ctx.region}:${ctx.accountId}:stack/${ctx.stackName ?? 'local'}/00000000-0000-4000-8000-000000000000`;
  }
  const param = template.Parameters?.[name];
  if (param) {
    const value = ctx.parameters?.[name] ?? param.Default;
    if (value === undefined) throw new TemplateResolutionError(`${path}: parameter '${name}' has no value`);
    return value;
  }
  if (!template.Resources[name]) throw new TemplateResolutionError(`${path}: cannot resolve Ref '${name}'`);
  const r = resourceOf(template, name, path);
  switch (r.Type) {
    case 'AWS::DynamoDB::Table':
      return stringProperty(template, name, 'TableName', ctx);
    case 'AWS::SecretsManager::Secret':
      return secretArn(ctx, stringProperty(template, name, 'Name', ctx));
    case 'AWS::KMS::Key':
      return localKmsKeyId(name);
    case 'AWS::KMS::Alias':
      return stringProperty(template, name, 'AliasName', ctx);
    case 'AWS::Logs::LogGroup':
      return stringProperty(template, name, 'LogGroupName', ctx);
    case 'AWS::ApiGateway::RestApi':
      return ctx.restApiId;
    case 'AWS::IAM::Role':
      return roleName(template, name, ctx);
    case 'AWS::IAM::ManagedPolicy':
      return `arn:${ctx.partition}:iam::${ctx.accountId}:policy${iamPath(template, name, ctx)}${
        template.Resources[name]?.Properties?.ManagedPolicyName === undefined
          ? name
          : stringProperty(template, name, 'ManagedPolicyName', ctx)
      }`;
    case 'AWS::Lambda::Function':
      return stringProperty(template, name, 'FunctionName', ctx);
    case 'AWS::Events::EventBus':
      return stringProperty(template, name, 'Name', ctx);
    case 'AWS::SQS::Queue':
      return `https://sqs.${ctx.region}.${ctx.urlSuffix}/${ctx.accountId}/${stringProperty(template, name, 'QueueName', ctx)}`;
    default:
      throw new TemplateResolutionError(
        `${path}: Ref of ${name} (${r.Type}) is not supported by local/iam/template.ts`,
      );
  }
}

function getAtt(template: Template, id: string, attr: string, ctx: ResolveContext, path: string): unknown {
  const r = resourceOf(template, id, path);
  const key = `${r.Type}.${attr}`;
  switch (key) {
    case 'AWS::DynamoDB::Table.Arn':
      return tableArn(ctx, stringProperty(template, id, 'TableName', ctx));
    case 'AWS::SecretsManager::Secret.Id':
      return secretArn(ctx, stringProperty(template, id, 'Name', ctx));
    case 'AWS::KMS::Key.Arn':
      return kmsKeyArn(ctx, localKmsKeyId(id));
    case 'AWS::KMS::Key.KeyId':
      return localKmsKeyId(id);
    case 'AWS::Logs::LogGroup.Arn':
      return `arn:${ctx.partition}:logs:${ctx.region}:${ctx.accountId}:log-group:${stringProperty(template, id, 'LogGroupName', ctx)}:*`;
    case 'AWS::IAM::Role.Arn':
      return roleArn(template, id, ctx);
    // The stream's label is chosen by DynamoDB (Local) when the stream is enabled; the table's
    // streams are what a policy naming this attribute means.
    case 'AWS::DynamoDB::Table.StreamArn':
      return `${tableArn(ctx, stringProperty(template, id, 'TableName', ctx))}/stream/*`;
    case 'AWS::Events::EventBus.Arn':
      return `arn:${ctx.partition}:events:${ctx.region}:${ctx.accountId}:event-bus/${stringProperty(template, id, 'Name', ctx)}`;
    case 'AWS::Events::EventBus.Name':
      return stringProperty(template, id, 'Name', ctx);
    case 'AWS::SQS::Queue.Arn':
      return `arn:${ctx.partition}:sqs:${ctx.region}:${ctx.accountId}:${stringProperty(template, id, 'QueueName', ctx)}`;
    case 'AWS::Lambda::Function.Arn':
      return `arn:${ctx.partition}:lambda:${ctx.region}:${ctx.accountId}:function:${stringProperty(template, id, 'FunctionName', ctx)}`;
    default:
      throw new TemplateResolutionError(`${path}: Fn::GetAtt ${id}.${attr} (${r.Type}) is not supported`);
  }
}

function iamPath(template: Template, id: string, ctx: ResolveContext): string {
  return template.Resources[id]?.Properties?.Path === undefined ? '/' : stringProperty(template, id, 'Path', ctx);
}

/** The role's name: RoleName when set; CloudFormation would generate one, the local platform uses the logical id. */
function roleName(template: Template, id: string, ctx: ResolveContext): string {
  return template.Resources[id]?.Properties?.RoleName === undefined
    ? id
    : stringProperty(template, id, 'RoleName', ctx);
}

function roleArn(template: Template, id: string, ctx: ResolveContext): string {
  return `arn:${ctx.partition}:iam::${ctx.accountId}:role${iamPath(template, id, ctx)}${roleName(template, id, ctx)}`;
}

export interface FunctionConfig {
  /** The house name: the FunctionName without `<prefix>-`, e.g. `charges`. */
  readonly name: string;
  readonly functionName: string;
  readonly logicalId: string;
  readonly roleLogicalId: string;
  readonly roleName: string;
  readonly roleArn: string;
  /** The caller AWS names in denials: `arn:aws:sts::<account>:assumed-role/<RoleName>/<FunctionName>`. */
  readonly sessionArn: string;
  /** The role's identity policies, intrinsics resolved and checked by the evaluator. */
  readonly policies: readonly PolicyDocument[];
  readonly environment: Readonly<Record<string, string>>;
  readonly memorySize: number;
  readonly timeout: number;
}

export interface FunctionsOptions {
  /** `clover-payments-<stage>`; derived from the function names' common prefix when absent. */
  readonly prefix?: string;
  readonly context?: ResolveContext;
}

/** Lambda's defaults when the template leaves MemorySize or Timeout out. */
const DEFAULT_MEMORY_MB = 128;
const DEFAULT_TIMEOUT_S = 3;

/** Every AWS::Lambda::Function in the template, keyed by house name. */
export function functionsFromTemplate(json: unknown, options: FunctionsOptions = {}): Record<string, FunctionConfig> {
  const template = parseTemplate(json);
  const ctx = options.context ?? localResolveContext();
  const lambdas = Object.entries(template.Resources).filter(([, r]) => r.Type === 'AWS::Lambda::Function');
  const names = lambdas.map(([id]) => stringProperty(template, id, 'FunctionName', ctx));
  const prefix = options.prefix ?? commonPrefix(names);
  const out: Record<string, FunctionConfig> = {};
  lambdas.forEach(([id, r], i) => {
    const functionName = names[i]!;
    if (!functionName.startsWith(`${prefix}-`)) {
      throw new TemplateResolutionError(
        `Resources.${id}: FunctionName '${functionName}' does not start with '${prefix}-'`,
      );
    }
    const roleLogicalId = roleOf(r, id);
    const role = resourceOf(template, roleLogicalId, `Resources.${id}.Properties.Role`);
    if (role.Type !== 'AWS::IAM::Role') {
      throw new TemplateResolutionError(`Resources.${id}.Properties.Role: ${roleLogicalId} is a ${role.Type}`);
    }
    const name = functionName.slice(prefix.length + 1);
    const rName = roleName(template, roleLogicalId, ctx);
    out[name] = {
      name,
      functionName,
      logicalId: id,
      roleLogicalId,
      roleName: rName,
      roleArn: roleArn(template, roleLogicalId, ctx),
      sessionArn: `arn:${ctx.partition}:sts::${ctx.accountId}:assumed-role/${rName}/${functionName}`,
      policies: rolePolicies(template, roleLogicalId, ctx),
      environment: environmentOf(template, id, r, ctx),
      memorySize: numberProperty(template, id, r, 'MemorySize', DEFAULT_MEMORY_MB, ctx),
      timeout: numberProperty(template, id, r, 'Timeout', DEFAULT_TIMEOUT_S, ctx),
    };
  });
  return out;
}

/** The longest common prefix of the names, cut back to its last `-` (`clover-payments-sandbox`). */
function commonPrefix(names: readonly string[]): string {
  if (names.length < 2) {
    throw new TemplateResolutionError('cannot derive the function name prefix from fewer than two functions; pass it');
  }
  let p = names[0]!;
  for (const n of names) while (!n.startsWith(p)) p = p.slice(0, -1);
  const cut = p.lastIndexOf('-');
  if (cut <= 0) throw new TemplateResolutionError(`the function names share no '<prefix>-' (${names.join(', ')})`);
  return p.slice(0, cut);
}

function roleOf(r: Resource, id: string): string {
  const role = r.Properties?.Role as { 'Fn::GetAtt'?: unknown } | undefined;
  const att = role?.['Fn::GetAtt'];
  const [roleId, attr] = typeof att === 'string' ? splitOnce(att, '.') : Array.isArray(att) ? att : [];
  if (typeof roleId !== 'string' || attr !== 'Arn') {
    throw new TemplateResolutionError(
      `Resources.${id}.Properties.Role: expected {Fn::GetAtt: [<role>, Arn]} (a role defined in this template), got ${JSON.stringify(role)}`,
    );
  }
  return roleId;
}

const refersTo = (x: unknown, id: string): boolean =>
  typeof x === 'object' && x !== null && (x as { Ref?: unknown }).Ref === id;

/** The role's inline policies, AWS::IAM::Policy and AWS::IAM::ManagedPolicy attached to it, in template order. */
function rolePolicies(template: Template, roleId: string, ctx: ResolveContext): PolicyDocument[] {
  const docs: PolicyDocument[] = [];
  const add = (doc: unknown, path: string) =>
    docs.push(parsePolicyDocument(resolveValue(template, doc, ctx, path), path));
  const role = template.Resources[roleId]!;
  const inline = role.Properties?.Policies;
  if (Array.isArray(inline)) {
    inline.forEach((p, i) => {
      add(
        (p as { PolicyDocument?: unknown }).PolicyDocument,
        `Resources.${roleId}.Properties.Policies.${i}.PolicyDocument`,
      );
    });
  }
  const attachedByArn = new Set<string>();
  const arns = role.Properties?.ManagedPolicyArns;
  if (Array.isArray(arns)) {
    arns.forEach((a, i) => {
      const target = (a as { Ref?: unknown }).Ref;
      if (typeof target !== 'string' || template.Resources[target]?.Type !== 'AWS::IAM::ManagedPolicy') {
        throw new TemplateResolutionError(
          `Resources.${roleId}.Properties.ManagedPolicyArns.${i}: only managed policies defined in this template can be enforced locally (got ${JSON.stringify(a)})`,
        );
      }
      attachedByArn.add(target);
    });
  }
  for (const [id, r] of Object.entries(template.Resources)) {
    if (r.Type !== 'AWS::IAM::ManagedPolicy' && r.Type !== 'AWS::IAM::Policy') continue;
    const roles = r.Properties?.Roles;
    const attached = attachedByArn.has(id) || (Array.isArray(roles) && roles.some((x) => refersTo(x, roleId)));
    if (attached) add(r.Properties?.PolicyDocument, `Resources.${id}.Properties.PolicyDocument`);
  }
  return docs;
}

function environmentOf(template: Template, id: string, r: Resource, ctx: ResolveContext): Record<string, string> {
  const path = `Resources.${id}.Properties.Environment.Variables`;
  const vars = (r.Properties?.Environment as { Variables?: unknown } | undefined)?.Variables;
  const resolved = resolveValue(template, vars ?? {}, ctx, path);
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(resolved as Record<string, unknown>)) {
    if (typeof x !== 'string' && typeof x !== 'number' && typeof x !== 'boolean') {
      throw new TemplateResolutionError(`${path}.${k}: resolves to ${JSON.stringify(x)}, not a string`);
    }
    out[k] = String(x);
  }
  return out;
}

function numberProperty(
  template: Template,
  id: string,
  r: Resource,
  prop: string,
  fallback: number,
  ctx: ResolveContext,
): number {
  const path = `Resources.${id}.Properties.${prop}`;
  const raw = r.Properties?.[prop];
  if (raw === undefined) return fallback;
  const n = Number(resolveValue(template, raw, ctx, path));
  if (!Number.isFinite(n)) throw new TemplateResolutionError(`${path}: ${JSON.stringify(raw)} is not a number`);
  return n;
}

/**
 * Resolves a KmsKeyId as a caller may give it — key id, key ARN, alias name or alias ARN — to the
 * ARN of a key defined in the template (for secretsmanager:KmsKeyArn); undefined for any other.
 */
export function kmsKeyResolver(
  json: unknown,
  ctx: ResolveContext = localResolveContext(),
): (keyId: string) => string | undefined {
  const template = parseTemplate(json);
  const arns = new Map<string, string>();
  for (const [id, r] of Object.entries(template.Resources)) {
    if (r.Type !== 'AWS::KMS::Key') continue;
    const arn = kmsKeyArn(ctx, localKmsKeyId(id));
    arns.set(localKmsKeyId(id), arn).set(arn, arn);
  }
  for (const [id, r] of Object.entries(template.Resources)) {
    if (r.Type !== 'AWS::KMS::Alias') continue;
    const alias = stringProperty(template, id, 'AliasName', ctx);
    const target = resolveValue(template, r.Properties?.TargetKeyId, ctx, `Resources.${id}.Properties.TargetKeyId`);
    const arn = typeof target === 'string' ? arns.get(target) : undefined;
    if (arn === undefined) continue;
    arns.set(alias, arn).set(`arn:${ctx.partition}:kms:${ctx.region}:${ctx.accountId}:${alias}`, arn);
  }
  return (keyId) => arns.get(keyId);
}
