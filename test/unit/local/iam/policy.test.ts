/**
 * The identity-policy evaluator against AWS's documented evaluation logic: explicit deny wins,
 * implicit deny by default, NotAction/NotResource, wildcards, every supported condition operator
 * with IfExists and the set qualifiers, and a loud failure for anything it does not implement.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type AuthzRequest,
  evaluate,
  firstDenial,
  type PolicyDocument,
  type PolicyStatement,
  parsePolicyDocument,
  principalContext,
  type RequestContext,
  resourceMatches,
  UnsupportedPolicyError,
  wildcardMatch,
} from '../../../../local/iam/policy';

const TABLE = 'arn:aws:dynamodb:us-east-1:000000000000:table/clover-payments-sandbox';
const INDEX = `${TABLE}/index/gsi1`;
const SECRET = 'arn:aws:secretsmanager:us-east-1:000000000000:secret:clover-payments/sandbox/merchants/M1-AbCdEf';

const policy = (...Statement: PolicyStatement[]): PolicyDocument => ({ Version: '2012-10-17', Statement });
const req = (action: string, resource: string, context: RequestContext = {}): AuthzRequest => ({
  action,
  resource,
  context,
});
const decide = (docs: PolicyDocument | PolicyDocument[], r: AuthzRequest) =>
  evaluate(Array.isArray(docs) ? docs : [docs], r).decision;

describe('evaluation logic', () => {
  const allowGet = policy({ Sid: 'Get', Effect: 'Allow', Action: 'dynamodb:GetItem', Resource: TABLE });

  it('denies implicitly when no statement allows', () => {
    expect(evaluate([], req('dynamodb:GetItem', TABLE))).toEqual({ decision: 'implicit_deny' });
    expect(evaluate([allowGet], req('dynamodb:PutItem', TABLE))).toEqual({ decision: 'implicit_deny' });
  });

  it('allows, naming the statement by Sid or by position', () => {
    expect(evaluate([allowGet], req('dynamodb:GetItem', TABLE))).toEqual({ decision: 'allow', statement: 'Get' });
    const noSid = policy({ Effect: 'Allow', Action: 'dynamodb:GetItem', Resource: TABLE });
    expect(evaluate([allowGet, noSid], req('dynamodb:GetItem', TABLE)).statement).toBe('Get');
    expect(evaluate([noSid], req('dynamodb:GetItem', TABLE)).statement).toBe('policy[0].Statement[0]');
  });

  it('lets an explicit deny win over any allow, in whichever policy and order', () => {
    const deny = policy({ Sid: 'NoGet', Effect: 'Deny', Action: 'dynamodb:*', Resource: '*' });
    expect(evaluate([allowGet, deny], req('dynamodb:GetItem', TABLE))).toEqual({
      decision: 'explicit_deny',
      statement: 'NoGet',
    });
    expect(decide([deny, allowGet], req('dynamodb:GetItem', TABLE))).toBe('explicit_deny');
    const both = policy(
      { Effect: 'Allow', Action: '*', Resource: '*' },
      { Effect: 'Deny', Action: 'dynamodb:GetItem', Resource: TABLE },
    );
    expect(decide(both, req('dynamodb:GetItem', TABLE))).toBe('explicit_deny');
    expect(decide(both, req('dynamodb:PutItem', TABLE))).toBe('allow');
  });

  it('takes a single Statement object as well as a list', () => {
    const single = { Version: '2012-10-17', Statement: { Effect: 'Allow', Action: 'kms:Decrypt', Resource: '*' } };
    expect(decide(single as PolicyDocument, req('kms:Decrypt', 'arn:aws:kms:us-east-1:0:key/k'))).toBe('allow');
  });

  it('firstDenial returns the first refused check, in order', () => {
    const checks = [req('dynamodb:GetItem', TABLE), req('dynamodb:PutItem', TABLE), req('dynamodb:Query', TABLE)];
    expect(firstDenial([allowGet], checks)).toEqual({ request: checks[1], decision: 'implicit_deny' });
    expect(firstDenial([allowGet], checks.slice(0, 1))).toBeUndefined();
  });
});

describe('actions', () => {
  const allow = (Action: string | string[]) => policy({ Effect: 'Allow', Action, Resource: '*' });

  it('matches a list, wildcards * and ?, case-insensitively', () => {
    expect(decide(allow(['dynamodb:PutItem', 'dynamodb:GetItem']), req('dynamodb:GetItem', TABLE))).toBe('allow');
    expect(decide(allow('dynamodb:Get*'), req('dynamodb:GetItem', TABLE))).toBe('allow');
    expect(decide(allow('dynamodb:Get*'), req('dynamodb:BatchGetItem', TABLE))).toBe('implicit_deny');
    expect(decide(allow('dynamodb:*Item'), req('dynamodb:BatchGetItem', TABLE))).toBe('allow');
    expect(decide(allow('dynamodb:?etItem'), req('dynamodb:GetItem', TABLE))).toBe('allow');
    expect(decide(allow('dynamodb:?etItem'), req('dynamodb:BatchGetItem', TABLE))).toBe('implicit_deny');
    expect(decide(allow('DynamoDB:getitem'), req('dynamodb:GetItem', TABLE))).toBe('allow');
    expect(decide(allow('*'), req('secretsmanager:GetSecretValue', SECRET))).toBe('allow');
    expect(decide(allow('dynamodb:*'), req('secretsmanager:GetSecretValue', SECRET))).toBe('implicit_deny');
  });

  it('NotAction matches every action but the listed ones, for Allow and Deny', () => {
    const allowAllBut = policy({ Effect: 'Allow', NotAction: ['dynamodb:Delete*'], Resource: '*' });
    expect(decide(allowAllBut, req('dynamodb:GetItem', TABLE))).toBe('allow');
    expect(decide(allowAllBut, req('dynamodb:DeleteItem', TABLE))).toBe('implicit_deny');
    const denyAllBut = policy(
      { Effect: 'Allow', Action: '*', Resource: '*' },
      { Effect: 'Deny', NotAction: 'dynamodb:GetItem', Resource: TABLE },
    );
    expect(decide(denyAllBut, req('dynamodb:GetItem', TABLE))).toBe('allow');
    expect(decide(denyAllBut, req('dynamodb:PutItem', TABLE))).toBe('explicit_deny');
    expect(decide(denyAllBut, req('dynamodb:PutItem', `${TABLE}-other`))).toBe('allow');
  });
});

describe('resources', () => {
  const allowOn = (Resource: string | string[]) => policy({ Effect: 'Allow', Action: '*', Resource });

  it('matches ARNs exactly and case-sensitively', () => {
    expect(decide(allowOn(TABLE), req('dynamodb:Query', TABLE))).toBe('allow');
    expect(decide(allowOn(TABLE), req('dynamodb:Query', INDEX))).toBe('implicit_deny');
    expect(decide(allowOn(TABLE.toUpperCase()), req('dynamodb:Query', TABLE))).toBe('implicit_deny');
    expect(decide(allowOn([TABLE, INDEX]), req('dynamodb:Query', INDEX))).toBe('allow');
  });

  it('expands * and ? in the resource part, across its slashes and colons', () => {
    expect(decide(allowOn(`${TABLE}/index/*`), req('dynamodb:Query', INDEX))).toBe('allow');
    expect(decide(allowOn(`${TABLE}*`), req('dynamodb:Query', INDEX))).toBe('allow');
    const merchants = 'arn:aws:secretsmanager:us-east-1:000000000000:secret:clover-payments/sandbox/merchants/*';
    expect(decide(allowOn(merchants), req('x:Y', SECRET))).toBe('allow');
    expect(decide(allowOn(merchants), req('x:Y', SECRET.replace('merchants', 'app')))).toBe('implicit_deny');
    expect(decide(allowOn(`${SECRET.slice(0, -6)}??????`), req('x:Y', SECRET))).toBe('allow');
    expect(decide(allowOn(`${SECRET.slice(0, -6)}?????`), req('x:Y', SECRET))).toBe('implicit_deny');
    const logGroup = 'arn:aws:logs:us-east-1:000000000000:log-group:/aws/lambda/fn:*';
    expect(decide(allowOn(logGroup), req('logs:PutLogEvents', `${logGroup.slice(0, -1)}log-stream:s1`))).toBe('allow');
  });

  it('keeps a wildcard in the region or account field inside that field', () => {
    expect(decide(allowOn('arn:aws:dynamodb:*:*:table/clover-payments-sandbox'), req('d:Q', TABLE))).toBe('allow');
    expect(resourceMatches('arn:aws:dynamodb:*:table/clover-payments-sandbox', TABLE)).toBe(false);
    expect(resourceMatches('arn:aws:dynamodb:us-east-1:000000000000:table/x', TABLE)).toBe(false);
    // A pattern cut short with a trailing * runs on past the colons (AWS documents this).
    expect(resourceMatches('arn:aws:dynamodb:*', TABLE)).toBe(true);
    expect(resourceMatches('arn:aws:dynamodb:eu-*', TABLE)).toBe(false);
  });

  it('matches the * resource of list actions only with Resource "*"', () => {
    expect(decide(allowOn('*'), req('dynamodb:ListTables', '*'))).toBe('allow');
    expect(decide(allowOn('arn:aws:dynamodb:us-east-1:000000000000:table/*'), req('dynamodb:ListTables', '*'))).toBe(
      'implicit_deny',
    );
  });

  it('NotResource matches every resource but the listed ones', () => {
    const p = policy({ Effect: 'Allow', Action: 'dynamodb:*', NotResource: `${TABLE}/index/*` });
    expect(decide(p, req('dynamodb:Query', TABLE))).toBe('allow');
    expect(decide(p, req('dynamodb:Query', INDEX))).toBe('implicit_deny');
  });
});

/** Evaluates one Allow statement whose only condition is `{ [op]: { [key]: values } }`. */
const cond = (op: string, key: string, values: unknown, context: RequestContext): boolean =>
  decide(
    {
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Action: '*', Resource: '*', Condition: { [op]: { [key]: values } } }],
    } as PolicyDocument,
    req('a:B', '*', context),
  ) === 'allow';

describe('condition operators', () => {
  it('StringEquals / StringNotEquals: exact, case-sensitive, values ORed; a missing key fails the positive form', () => {
    const via = 'kms:ViaService';
    expect(
      cond('StringEquals', via, 'secretsmanager.us-east-1.amazonaws.com', {
        [via]: 'secretsmanager.us-east-1.amazonaws.com',
      }),
    ).toBe(true);
    expect(
      cond('StringEquals', via, 'secretsmanager.us-east-1.amazonaws.com', {
        [via]: 'SecretsManager.us-east-1.amazonaws.com',
      }),
    ).toBe(false);
    expect(cond('StringEquals', via, ['a', 'b'], { [via]: 'b' })).toBe(true);
    expect(cond('StringEquals', via, 'a', {})).toBe(false);
    expect(cond('StringNotEquals', via, ['a', 'b'], { [via]: 'c' })).toBe(true);
    expect(cond('StringNotEquals', via, ['a', 'b'], { [via]: 'b' })).toBe(false);
    // AWS: a negated operator is true when the key is absent.
    expect(cond('StringNotEquals', via, 'a', {})).toBe(true);
  });

  it('StringEqualsIgnoreCase / StringNotEqualsIgnoreCase', () => {
    expect(cond('StringEqualsIgnoreCase', 'k:K', 'ABC', { 'k:K': 'abc' })).toBe(true);
    expect(cond('StringEqualsIgnoreCase', 'k:K', 'ABC', { 'k:K': 'abd' })).toBe(false);
    expect(cond('StringNotEqualsIgnoreCase', 'k:K', 'ABC', { 'k:K': 'abc' })).toBe(false);
    expect(cond('StringNotEqualsIgnoreCase', 'k:K', 'ABC', { 'k:K': 'abd' })).toBe(true);
  });

  it('StringLike / StringNotLike with * and ?', () => {
    expect(cond('StringLike', 'k:K', 'MERCHANT#*', { 'k:K': 'MERCHANT#M1' })).toBe(true);
    expect(cond('StringLike', 'k:K', 'MERCHANT#?', { 'k:K': 'MERCHANT#M1' })).toBe(false);
    expect(cond('StringLike', 'k:K', 'MERCHANT#??', { 'k:K': 'MERCHANT#M1' })).toBe(true);
    expect(cond('StringLike', 'k:K', 'merchant#*', { 'k:K': 'MERCHANT#M1' })).toBe(false);
    expect(cond('StringNotLike', 'k:K', 'MERCHANT#*', { 'k:K': 'APIKEY#1' })).toBe(true);
    expect(cond('StringNotLike', 'k:K', ['APIKEY#*', 'MERCHANT#*'], { 'k:K': 'MERCHANT#M1' })).toBe(false);
  });

  it('ArnEquals and ArnLike both take wildcards per field; the Not forms negate; a non-ARN never matches', () => {
    const key = 'aws:SourceArn';
    const arn = 'arn:aws:lambda:us-east-1:000000000000:function:clover-payments-sandbox-charges';
    for (const op of ['ArnEquals', 'ArnLike']) {
      expect(cond(op, key, arn, { [key]: arn })).toBe(true);
      expect(cond(op, key, 'arn:aws:lambda:*:000000000000:function:clover-payments-*', { [key]: arn })).toBe(true);
      expect(cond(op, key, 'arn:aws:lambda:*:111111111111:function:*', { [key]: arn })).toBe(false);
      expect(cond(op, key, '*', { [key]: 'not-an-arn' })).toBe(false);
    }
    for (const op of ['ArnNotEquals', 'ArnNotLike']) {
      expect(cond(op, key, 'arn:aws:lambda:*:111111111111:function:*', { [key]: arn })).toBe(true);
      expect(cond(op, key, arn, { [key]: arn })).toBe(false);
      expect(cond(op, key, arn, {})).toBe(true);
    }
  });

  it('Bool compares true/false, from booleans or strings, policy value in any case', () => {
    const key = 'secretsmanager:ForceDeleteWithoutRecovery';
    expect(cond('Bool', key, 'true', { [key]: true })).toBe(true);
    expect(cond('Bool', key, 'true', { [key]: false })).toBe(false);
    expect(cond('Bool', key, 'false', { [key]: 'false' })).toBe(true);
    expect(cond('Bool', key, true, { [key]: 'TRUE' })).toBe(true);
    expect(cond('Bool', key, 'True', { [key]: true })).toBe(true);
    expect(cond('Bool', key, 'false', {})).toBe(false);
  });

  it('Numeric operators compare as numbers; a non-number in the request never matches', () => {
    const key = 'secretsmanager:RecoveryWindowInDays';
    const at = (op: string, policyValue: string, value: number | string) =>
      cond(op, key, policyValue, { [key]: value });
    expect(at('NumericEquals', '7', 7)).toBe(true);
    expect(at('NumericEquals', '7', '7.0')).toBe(true);
    expect(at('NumericNotEquals', '7', 8)).toBe(true);
    expect(at('NumericNotEquals', '7', 7)).toBe(false);
    expect(at('NumericLessThan', '10', 9)).toBe(true);
    expect(at('NumericLessThan', '10', 10)).toBe(false);
    expect(at('NumericLessThanEquals', '10', 10)).toBe(true);
    expect(at('NumericGreaterThan', '10', 10)).toBe(false);
    expect(at('NumericGreaterThan', '10', 11)).toBe(true);
    expect(at('NumericGreaterThanEquals', '10', 10)).toBe(true);
    expect(at('NumericGreaterThanEquals', '10', 'ten')).toBe(false);
    expect(cond('NumericEquals', key, '7', {})).toBe(false);
  });

  it('Null tests presence alone; an empty set counts as absent', () => {
    expect(cond('Null', 'dynamodb:LeadingKeys', 'true', {})).toBe(true);
    expect(cond('Null', 'dynamodb:LeadingKeys', 'true', { 'dynamodb:LeadingKeys': [] })).toBe(true);
    expect(cond('Null', 'dynamodb:LeadingKeys', 'true', { 'dynamodb:LeadingKeys': ['MERCHANT#M1'] })).toBe(false);
    expect(cond('Null', 'dynamodb:LeadingKeys', 'false', { 'dynamodb:LeadingKeys': ['MERCHANT#M1'] })).toBe(true);
    expect(cond('Null', 'dynamodb:LeadingKeys', false, {})).toBe(false);
  });

  it('...IfExists is true when the key is absent, and the plain test when present', () => {
    expect(cond('StringEqualsIfExists', 'dynamodb:Select', 'SPECIFIC_ATTRIBUTES', {})).toBe(true);
    expect(
      cond('StringEqualsIfExists', 'dynamodb:Select', 'SPECIFIC_ATTRIBUTES', { 'dynamodb:Select': 'ALL_ATTRIBUTES' }),
    ).toBe(false);
    expect(
      cond('StringEqualsIfExists', 'dynamodb:Select', 'SPECIFIC_ATTRIBUTES', {
        'dynamodb:Select': 'SPECIFIC_ATTRIBUTES',
      }),
    ).toBe(true);
    expect(cond('NumericLessThanIfExists', 'n:N', '5', {})).toBe(true);
    expect(cond('NumericLessThanIfExists', 'n:N', '5', { 'n:N': 6 })).toBe(false);
    expect(cond('BoolIfExists', 'aws:SecureTransport', 'true', { 'aws:SecureTransport': false })).toBe(false);
  });

  it('ForAllValues: every request value must match; true on a missing or empty key', () => {
    const lk = 'dynamodb:LeadingKeys';
    const op = 'ForAllValues:StringLike';
    expect(cond(op, lk, ['MERCHANT#M1', 'MERCHANT#M1#*'], { [lk]: ['MERCHANT#M1', 'MERCHANT#M1#x'] })).toBe(true);
    expect(cond(op, lk, ['MERCHANT#M1'], { [lk]: ['MERCHANT#M1', 'MERCHANT#M2'] })).toBe(false);
    expect(cond(op, lk, ['MERCHANT#M1'], {})).toBe(true);
    expect(cond(op, lk, ['MERCHANT#M1'], { [lk]: [] })).toBe(true);
    expect(cond('ForAllValues:StringEquals', lk, 'MERCHANT#M1', { [lk]: 'MERCHANT#M1' })).toBe(true);
    // "none of the request's attributes is in the list" (the DynamoDB guide's update guard)
    const attrs = 'dynamodb:Attributes';
    const guard = ['FreeGamesAvailable', 'BossLevelUnlocked'];
    expect(cond('ForAllValues:StringNotLike', attrs, guard, { [attrs]: ['pk', 'sk', 'Wins'] })).toBe(true);
    expect(cond('ForAllValues:StringNotLike', attrs, guard, { [attrs]: ['pk', 'BossLevelUnlocked'] })).toBe(false);
  });

  it('ForAnyValue: one matching request value suffices; false on a missing or empty key', () => {
    const attrs = 'dynamodb:Attributes';
    expect(
      cond('ForAnyValue:StringEquals', attrs, ['ID', 'PostDateTime'], { [attrs]: ['UserName', 'PostDateTime'] }),
    ).toBe(true);
    expect(cond('ForAnyValue:StringEquals', attrs, ['ID', 'PostDateTime'], { [attrs]: ['UserName'] })).toBe(false);
    expect(cond('ForAnyValue:StringEquals', attrs, ['ID'], {})).toBe(false);
    expect(cond('ForAnyValue:StringEquals', attrs, ['ID'], { [attrs]: [] })).toBe(false);
    expect(cond('ForAnyValue:StringNotEquals', attrs, ['ID'], { [attrs]: ['ID', 'x'] })).toBe(true);
    expect(cond('ForAnyValue:StringNotEquals', attrs, ['ID'], { [attrs]: ['ID'] })).toBe(false);
  });

  it('without a qualifier, a multi-valued key needs one match (positive) or no match at all (negated)', () => {
    expect(cond('StringEquals', 'k:K', 'b', { 'k:K': ['a', 'b'] })).toBe(true);
    expect(cond('StringNotEquals', 'k:K', 'b', { 'k:K': ['a', 'b'] })).toBe(false);
    expect(cond('StringNotEquals', 'k:K', 'c', { 'k:K': ['a', 'b'] })).toBe(true);
  });

  it('ANDs keys within an operator and operators within a statement; key names are case-insensitive', () => {
    const p = {
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Action: '*',
          Resource: '*',
          Condition: {
            StringEquals: {
              'kms:ViaService': 'secretsmanager.us-east-1.amazonaws.com',
              'kms:CallerAccount': '000000000000',
            },
            Bool: { 'aws:SecureTransport': 'false' },
          },
        },
      ],
    } as PolicyDocument;
    const ctx = {
      'KMS:viaservice': 'secretsmanager.us-east-1.amazonaws.com',
      'kms:CallerAccount': '000000000000',
      'aws:SecureTransport': false,
    };
    expect(decide(p, req('kms:Decrypt', '*', ctx))).toBe('allow');
    expect(decide(p, req('kms:Decrypt', '*', { ...ctx, 'kms:CallerAccount': '111111111111' }))).toBe('implicit_deny');
    expect(decide(p, req('kms:Decrypt', '*', { ...ctx, 'aws:SecureTransport': true }))).toBe('implicit_deny');
  });

  it('principalContext gives the global keys of a role session', () => {
    const roleArn = 'arn:aws:iam::000000000000:role/R';
    const ctx = principalContext({ accountId: '000000000000', roleArn, region: 'us-east-1' });
    expect(cond('ArnLike', 'aws:PrincipalArn', 'arn:aws:iam::000000000000:role/*', ctx)).toBe(true);
    expect(cond('StringEquals', 'aws:PrincipalAccount', '000000000000', ctx)).toBe(true);
    expect(cond('Bool', 'aws:SecureTransport', 'false', ctx)).toBe(true);
  });
});

/** `${...}` spelled without tripping the lint rule that guards against a forgotten template literal. */
const variable = (name: string) => `\${${name}}`;

describe('what the evaluator refuses (loudly, never as an allow or a deny)', () => {
  const withCondition = (Condition: unknown) =>
    ({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Action: 'nothing:Matches', Resource: '*', Condition }],
    }) as PolicyDocument;
  const run = (p: PolicyDocument) => () => evaluate([p], req('dynamodb:GetItem', TABLE));

  it.each([
    ['DateGreaterThan', { DateGreaterThan: { 'aws:CurrentTime': '2020-01-01T00:00:00Z' } }],
    ['IpAddress', { IpAddress: { 'aws:SourceIp': '10.0.0.0/8' } }],
    ['BinaryEquals', { BinaryEquals: { 'k:K': 'QmluYXJ5' } }],
    ['a misspelled operator', { StringEqual: { 'k:K': 'x' } }],
    ['a qualified Null', { 'ForAnyValue:Null': { 'k:K': 'true' } }],
    ['Null with IfExists', { NullIfExists: { 'k:K': 'true' } }],
    ['a Bool that is not true/false', { Bool: { 'k:K': 'yes' } }],
    ['a Numeric that is not a number', { NumericLessThan: { 'k:K': 'ten' } }],
    ['a policy variable', { StringEquals: { 'dynamodb:LeadingKeys': variable('aws:username') } }],
  ])('throws on %s, even in a statement that would not match', (_, condition) => {
    expect(run(withCondition(condition))).toThrow(UnsupportedPolicyError);
  });

  it('names the statement and the operator', () => {
    expect(run(withCondition({ DateLessThan: { 'aws:CurrentTime': 'x' } }))).toThrow(
      "policy[0].Statement[0]: condition operator 'DateLessThan' is not supported",
    );
  });

  it('throws on statements an identity policy cannot have', () => {
    const bad = (s: unknown) => () => parsePolicyDocument({ Version: '2012-10-17', Statement: [s] });
    expect(bad({ Effect: 'Allow', Principal: '*', Action: '*', Resource: '*' })).toThrow(UnsupportedPolicyError);
    expect(bad({ Effect: 'Allow', Resource: '*' })).toThrow('exactly one of Action and NotAction');
    expect(bad({ Effect: 'Allow', Action: '*', NotAction: 'x:Y', Resource: '*' })).toThrow('exactly one of Action');
    expect(bad({ Effect: 'Allow', Action: '*' })).toThrow('exactly one of Resource and NotResource');
    expect(bad({ Effect: 'Maybe', Action: '*', Resource: '*' })).toThrow(UnsupportedPolicyError);
    expect(bad({ Effect: 'Allow', Action: '*', Resource: `arn:aws:s3:::${variable('aws:username')}/*` })).toThrow(
      'policy variables',
    );
  });

  it('reads a variable literally in a 2008-10-17 policy, where it is not variable syntax', () => {
    const literal = `arn:aws:s3:::${variable('x')}`;
    const old = { Version: '2008-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: literal }] };
    expect(decide(old as PolicyDocument, req('s3:GetObject', literal))).toBe('allow');
  });
});

describe('wildcardMatch', () => {
  const reference = (pattern: string, text: string) =>
    new RegExp(
      `^${pattern
        .replace(/[.+^${}()|[\]\\]/g, '\\$&')
        .replace(/\*/g, '.*')
        .replace(/\?/g, '.')}$`,
      's',
    ).test(text);

  it('agrees with a regular-expression reference on arbitrary patterns', () => {
    const pattern = fc.string({ unit: fc.constantFrom('a', 'b', '*', '?', ':', '/'), maxLength: 8 });
    const text = fc.string({ unit: fc.constantFrom('a', 'b', ':', '/', '*'), maxLength: 10 });
    fc.assert(
      fc.property(pattern, text, (p, t) => wildcardMatch(p, t) === reference(p, t)),
      { numRuns: 2000 },
    );
  });
});
