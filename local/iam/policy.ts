/**
 * IAM identity-policy evaluation for the local platform: decides whether a function's role may
 * perform one action on one resource, the way AWS decides it for identity-based policies inside
 * one account (no resource policies, permission boundaries, SCPs or session policies — the stack
 * uses none of them for the functions' own calls).
 *
 * Logic (AWS "Policy evaluation logic"): an explicit Deny in any matching statement wins; else an
 * Allow in any matching statement allows; else the request is implicitly denied. A statement
 * matches when its Action/NotAction, Resource/NotResource and every Condition operator match.
 *
 * Decision record — why our own small evaluator and not the npm package `@cloud-copilot/iam-simulate`:
 * that package is AGPL-3.0 (a licence this Apache-2.0 project does not take on), brings about 19 MB
 * of dependencies, and evaluates far more than this stack uses (resource policies, SCPs, boundaries,
 * dozens of operators). This one covers exactly the operators the stack's policies use, and throws
 * `UnsupportedPolicyError` on anything else, so a policy that starts using a new operator fails
 * loudly instead of silently passing or failing.
 *
 * Supported condition operators: String{Equals,NotEquals,EqualsIgnoreCase,NotEqualsIgnoreCase,Like,
 * NotLike}, Arn{Equals,Like,NotEquals,NotLike}, Bool, Numeric{Equals,NotEquals,LessThan,
 * LessThanEquals,GreaterThan,GreaterThanEquals}, Null; each (except Null) with the `IfExists` suffix
 * and the `ForAllValues:` / `ForAnyValue:` set qualifiers. Not supported (they throw): Date*,
 * Binary*, IpAddress/NotIpAddress, and policy variables (`${aws:username}` and the like) in a
 * 2012-10-17 policy — the synthesized policies have none, and a literal `${` would be a bug here.
 */
import * as v from 'valibot';

/** A value in the request context: AWS keys are single strings, booleans, numbers or sets of strings. */
export type ContextValue = string | readonly string[] | boolean | number | undefined;
/** The request context. Key names are matched case-insensitively, as AWS does. */
export type RequestContext = Readonly<Record<string, ContextValue>>;

export interface AuthzRequest {
  /** `service:Action`, e.g. `dynamodb:GetItem`. */
  readonly action: string;
  /** The resource ARN, or `*` for actions without resource-level permissions. */
  readonly resource: string;
  readonly context: RequestContext;
}

export type Decision = 'allow' | 'explicit_deny' | 'implicit_deny';

export interface EvaluationResult {
  readonly decision: Decision;
  /** The deciding statement: its Sid, or `policy[i].Statement[j]` when it has none. */
  readonly statement?: string;
}

/** One authorization check a service makes for an API call (a call may need several). */
export interface AuthorizationRequest extends AuthzRequest {
  /** The resource as the service's denial message names it, when that is not the ARN (Secrets Manager: the SecretId as given). */
  readonly messageResource?: string;
  /** Set on the KMS checks Secrets Manager makes on the caller's behalf; it answers their denial with "Access to KMS is not allowed". */
  readonly viaService?: 'secretsmanager';
}

export interface Denial {
  readonly request: AuthorizationRequest;
  readonly decision: Exclude<Decision, 'allow'>;
  readonly statement?: string;
}

/** A policy that uses something this evaluator does not implement, or that AWS would reject. */
export class UnsupportedPolicyError extends Error {
  override readonly name = 'UnsupportedPolicyError';
}

const conditionScalar = v.union([v.string(), v.boolean(), v.number()]);
const stringOrList = v.union([v.string(), v.array(v.string())]);
const statementSchema = v.strictObject({
  Sid: v.optional(v.string()),
  Effect: v.picklist(['Allow', 'Deny']),
  Action: v.optional(stringOrList),
  NotAction: v.optional(stringOrList),
  Resource: v.optional(stringOrList),
  NotResource: v.optional(stringOrList),
  Condition: v.optional(
    v.record(v.string(), v.record(v.string(), v.union([conditionScalar, v.array(conditionScalar)]))),
  ),
});
const policySchema = v.strictObject({
  Version: v.optional(v.picklist(['2012-10-17', '2008-10-17'])),
  Id: v.optional(v.string()),
  Statement: v.union([statementSchema, v.array(statementSchema)]),
});

export type PolicyStatement = v.InferOutput<typeof statementSchema>;
export type PolicyDocument = v.InferOutput<typeof policySchema>;

type BaseOperator =
  | 'StringEquals'
  | 'StringEqualsIgnoreCase'
  | 'StringLike'
  | 'ArnLike'
  | 'Bool'
  | 'NumericEquals'
  | 'NumericLessThan'
  | 'NumericLessThanEquals'
  | 'NumericGreaterThan'
  | 'NumericGreaterThanEquals'
  | 'Null';

/** Each supported operator as (positive base, negated?). ArnEquals and ArnLike are the same test in AWS. */
const OPERATORS: Readonly<Record<string, readonly [BaseOperator, boolean]>> = {
  StringEquals: ['StringEquals', false],
  StringNotEquals: ['StringEquals', true],
  StringEqualsIgnoreCase: ['StringEqualsIgnoreCase', false],
  StringNotEqualsIgnoreCase: ['StringEqualsIgnoreCase', true],
  StringLike: ['StringLike', false],
  StringNotLike: ['StringLike', true],
  ArnEquals: ['ArnLike', false],
  ArnLike: ['ArnLike', false],
  ArnNotEquals: ['ArnLike', true],
  ArnNotLike: ['ArnLike', true],
  Bool: ['Bool', false],
  NumericEquals: ['NumericEquals', false],
  NumericNotEquals: ['NumericEquals', true],
  NumericLessThan: ['NumericLessThan', false],
  NumericLessThanEquals: ['NumericLessThanEquals', false],
  NumericGreaterThan: ['NumericGreaterThan', false],
  NumericGreaterThanEquals: ['NumericGreaterThanEquals', false],
  Null: ['Null', false],
};

interface ParsedOperator {
  readonly base: BaseOperator;
  readonly negated: boolean;
  readonly ifExists: boolean;
  readonly set: 'ForAllValues' | 'ForAnyValue' | undefined;
}

const OPERATOR_SYNTAX = /^(?:(ForAllValues|ForAnyValue):)?([A-Za-z]+?)(IfExists)?$/;

function parseOperator(raw: string, where: string): ParsedOperator {
  const m = OPERATOR_SYNTAX.exec(raw);
  const op = m ? OPERATORS[m[2]!] : undefined;
  const set = m?.[1] as ParsedOperator['set'];
  const ifExists = m?.[3] !== undefined;
  if (!op || (op[0] === 'Null' && (ifExists || set !== undefined))) {
    throw new UnsupportedPolicyError(`${where}: condition operator '${raw}' is not supported by local/iam/policy.ts`);
  }
  return { base: op[0], negated: op[1], ifExists, set };
}

const asList = (x: string | readonly string[] | undefined): readonly string[] =>
  x === undefined ? [] : typeof x === 'string' ? [x] : x;

/**
 * Parses and checks a policy document: shape (valibot), one of Action/NotAction and of
 * Resource/NotResource per statement, known condition operators, well-formed operator values, no
 * policy variables. Throws `UnsupportedPolicyError` naming `where` and the statement.
 */
export function parsePolicyDocument(doc: unknown, where = 'policy'): PolicyDocument {
  const parsed = v.safeParse(policySchema, doc);
  if (!parsed.success) {
    const issue = parsed.issues[0];
    const path = issue.path?.map((p) => String(p.key)).join('.') ?? '';
    throw new UnsupportedPolicyError(`${where}: invalid policy document at '${path}': ${issue.message}`);
  }
  const policy = parsed.output;
  statements(policy).forEach((s, j) => {
    const at = `${where}.Statement[${j}]${s.Sid ? ` (${s.Sid})` : ''}`;
    if ((s.Action === undefined) === (s.NotAction === undefined)) {
      throw new UnsupportedPolicyError(`${at}: exactly one of Action and NotAction is required`);
    }
    if ((s.Resource === undefined) === (s.NotResource === undefined)) {
      throw new UnsupportedPolicyError(`${at}: exactly one of Resource and NotResource is required`);
    }
    const variablesAreSyntax = policy.Version === '2012-10-17';
    const checkNoVariable = (value: string) => {
      if (variablesAreSyntax && value.includes('${')) {
        throw new UnsupportedPolicyError(`${at}: policy variables are not supported ('${value}')`);
      }
    };
    for (const r of [...asList(s.Resource), ...asList(s.NotResource)]) checkNoVariable(r);
    for (const [rawOp, keys] of Object.entries(s.Condition ?? {})) {
      const op = parseOperator(rawOp, at);
      for (const [key, values] of Object.entries(keys)) {
        for (const value of policyValues(values, op.base)) {
          checkNoVariable(value);
          checkOperand(op.base, value, `${at}: ${rawOp} ${key}`);
        }
      }
    }
  });
  return policy;
}

function checkOperand(base: BaseOperator, value: string, where: string): void {
  if ((base === 'Bool' || base === 'Null') && value !== 'true' && value !== 'false') {
    throw new UnsupportedPolicyError(`${where}: '${value}' is not true or false`);
  }
  if (base.startsWith('Numeric') && parseNumber(value) === undefined) {
    throw new UnsupportedPolicyError(`${where}: '${value}' is not a number`);
  }
}

const statements = (p: PolicyDocument): readonly PolicyStatement[] =>
  Array.isArray(p.Statement) ? p.Statement : [p.Statement as PolicyStatement];

/** A condition's values as strings; `true`/`false` for Bool and Null are case-insensitive. */
function policyValues(
  values: string | boolean | number | readonly (string | boolean | number)[],
  base: BaseOperator,
): string[] {
  const list = typeof values === 'object' ? values : [values];
  const strings = list.map((x) => String(x));
  return base === 'Bool' || base === 'Null' ? strings.map((x) => x.toLowerCase()) : strings;
}

/**
 * Evaluates identity policies for one request. Every policy is parsed and checked first, so an
 * unsupported operator anywhere throws even when its statement would not have matched.
 */
export function evaluate(policies: readonly PolicyDocument[], req: AuthzRequest): EvaluationResult {
  const parsed = policies.map((p, i) => parsePolicyDocument(p, `policy[${i}]`));
  const context = normalizeContext(req.context);
  let allowedBy: string | undefined;
  for (const [i, policy] of parsed.entries()) {
    for (const [j, s] of statements(policy).entries()) {
      if (!statementMatches(s, req, context)) continue;
      const label = s.Sid ?? `policy[${i}].Statement[${j}]`;
      if (s.Effect === 'Deny') return { decision: 'explicit_deny', statement: label };
      allowedBy ??= label;
    }
  }
  return allowedBy === undefined ? { decision: 'implicit_deny' } : { decision: 'allow', statement: allowedBy };
}

/** The first of a call's checks that the policies refuse, in the order the service makes them; undefined when all pass. */
export function firstDenial(
  policies: readonly PolicyDocument[],
  requests: readonly AuthorizationRequest[],
): Denial | undefined {
  for (const request of requests) {
    const result = evaluate(policies, request);
    if (result.decision !== 'allow') {
      return result.statement === undefined
        ? { request, decision: result.decision }
        : { request, decision: result.decision, statement: result.statement };
    }
  }
  return undefined;
}

function statementMatches(s: PolicyStatement, req: AuthzRequest, context: ReadonlyMap<string, string[]>): boolean {
  const action = req.action.toLowerCase();
  const actionHit = (patterns: readonly string[]) => patterns.some((p) => wildcardMatch(p.toLowerCase(), action));
  if (s.Action !== undefined ? !actionHit(asList(s.Action)) : actionHit(asList(s.NotAction))) return false;
  const resourceHit = (patterns: readonly string[]) => patterns.some((p) => resourceMatches(p, req.resource));
  if (s.Resource !== undefined ? !resourceHit(asList(s.Resource)) : resourceHit(asList(s.NotResource))) return false;
  // Operators, and keys within one operator, are ANDed; values of one key are ORed.
  for (const [rawOp, keys] of Object.entries(s.Condition ?? {})) {
    const op = parseOperator(rawOp, 'condition');
    for (const [key, values] of Object.entries(keys)) {
      if (!conditionMatches(op, context.get(key.toLowerCase()), policyValues(values, op.base))) return false;
    }
  }
  return true;
}

/** Lower-cased keys (AWS condition keys are case-insensitive); values as lists of strings. */
function normalizeContext(ctx: RequestContext): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const [k, value] of Object.entries(ctx)) {
    if (value === undefined) continue;
    out.set(k.toLowerCase(), typeof value === 'object' ? [...value] : [String(value)]);
  }
  return out;
}

function conditionMatches(op: ParsedOperator, values: string[] | undefined, policy: readonly string[]): boolean {
  // An empty set counts as absent: ForAllValues is then true and ForAnyValue false, as AWS documents.
  const present = values !== undefined && values.length > 0;
  if (op.base === 'Null') return policy.some((p) => (p === 'true' ? !present : present));
  if (!present) {
    if (op.ifExists || op.set === 'ForAllValues') return true;
    if (op.set === 'ForAnyValue') return false;
    // AWS: a missing key makes a positive operator false and a negated one (StringNotLike...) true.
    return op.negated;
  }
  const test = (value: string) => baseMatches(op.base, value, policy) !== op.negated;
  if (op.set === 'ForAllValues') return values.every(test);
  if (op.set === 'ForAnyValue') return values.some(test);
  // Unqualified on a multi-valued key: a positive operator needs one matching value, a negated one
  // needs every value to avoid all policy values (the policy's values are NORed).
  return op.negated ? values.every(test) : values.some(test);
}

function baseMatches(base: BaseOperator, value: string, policy: readonly string[]): boolean {
  switch (base) {
    case 'StringEquals':
      return policy.includes(value);
    case 'StringEqualsIgnoreCase':
      return policy.some((p) => p.toLowerCase() === value.toLowerCase());
    case 'StringLike':
      return policy.some((p) => wildcardMatch(p, value));
    case 'ArnLike':
      return isArn(value) && policy.some((p) => resourceMatches(p, value));
    case 'Bool':
      return policy.includes(value.toLowerCase());
    case 'Null':
      return false; // handled before, on presence alone
    default: {
      const n = parseNumber(value);
      if (n === undefined) return false;
      return policy.some((p) => compareNumbers(base, n, parseNumber(p)!));
    }
  }
}

function compareNumbers(base: BaseOperator, n: number, p: number): boolean {
  switch (base) {
    case 'NumericEquals':
      return n === p;
    case 'NumericLessThan':
      return n < p;
    case 'NumericLessThanEquals':
      return n <= p;
    case 'NumericGreaterThan':
      return n > p;
    default:
      return n >= p;
  }
}

function parseNumber(s: string): number | undefined {
  if (s.trim() === '') return undefined;
  const n = Number(s);
  return Number.isFinite(n) ? n : undefined;
}

const isArn = (s: string): boolean => s.startsWith('arn:') && s.split(':').length >= 6;

/**
 * Matches a Resource pattern (or an ArnLike value) against an ARN, case-sensitively: the first five
 * colon-separated fields one by one (a wildcard stays within its field), the resource part as a
 * whole. A pattern with fewer fields whose last field ends in `*` runs on past the colons, as AWS
 * documents. `*` matches everything, including the `*` resource of list actions.
 */
export function resourceMatches(pattern: string, resource: string): boolean {
  if (pattern === '*') return true;
  if (!isArn(resource)) return wildcardMatch(pattern, resource);
  const r = splitArn(resource);
  const p = splitArn(pattern);
  if (p.length === 6) return p.every((field, i) => wildcardMatch(field, r[i]!));
  const last = p.length - 1;
  if (!p[last]!.endsWith('*')) return false;
  return (
    p.slice(0, last).every((field, i) => wildcardMatch(field, r[i]!)) &&
    wildcardMatch(p[last]!, r.slice(last).join(':'))
  );
}

/** `arn:partition:service:region:account:resource`, the resource part keeping its own colons. */
function splitArn(arn: string): string[] {
  const parts = arn.split(':');
  return parts.length <= 6 ? parts : [...parts.slice(0, 5), parts.slice(5).join(':')];
}

/** Glob match with `*` (any run, possibly empty) and `?` (one character); no other metacharacters. */
export function wildcardMatch(pattern: string, text: string): boolean {
  let p = 0;
  let t = 0;
  let star = -1;
  let mark = 0;
  while (t < text.length) {
    if (p < pattern.length && pattern[p] === '*') {
      star = p++;
      mark = t;
    } else if (p < pattern.length && (pattern[p] === '?' || pattern[p] === text[t])) {
      p++;
      t++;
    } else if (star !== -1) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (pattern[p] === '*') p++;
  return p === pattern.length;
}

/**
 * The global keys AWS puts in every request context of a role session (a Lambda function's
 * credentials): which principal and account call, and the region the request went to.
 */
export function principalContext(p: {
  accountId: string;
  roleArn: string;
  region: string;
  secureTransport?: boolean;
}): RequestContext {
  return {
    'aws:PrincipalAccount': p.accountId,
    'aws:PrincipalArn': p.roleArn,
    'aws:PrincipalType': 'AssumedRole',
    'aws:RequestedRegion': p.region,
    'aws:SecureTransport': p.secureTransport ?? false,
  };
}
