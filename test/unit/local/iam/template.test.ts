/**
 * Reading the synthesized template: each function's role, resolved policies, environment, memory
 * and timeout, from a trimmed copy of cdk.out/CloverPayments-sandbox.template.json (fixtures/), and
 * what those policies then allow — the permissions the local platform will enforce.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { evaluate, type RequestContext, UnsupportedPolicyError } from '../../../../local/iam/policy';
import {
  defaultSecretSuffix,
  type FunctionConfig,
  functionsFromTemplate,
  kmsKeyResolver,
  localKmsKeyId,
  localResolveContext,
  parseTemplate,
  resolveValue,
  TemplateResolutionError,
} from '../../../../local/iam/template';

const template: unknown = JSON.parse(readFileSync(join(__dirname, 'fixtures/sandbox.template.json'), 'utf8'));
const fns = functionsFromTemplate(template);
const fn = (name: string): FunctionConfig => {
  const f = fns[name];
  if (!f) throw new Error(`no function ${name}`);
  return f;
};

const ACCOUNT = '000000000000';
const TABLE = `arn:aws:dynamodb:us-east-1:${ACCOUNT}:table/clover-payments-sandbox`;
const DATA_KEY = `arn:aws:kms:us-east-1:${ACCOUNT}:key/${localKmsKeyId('KeysDataA2F7C5E6')}`;
const APP_SECRET = `arn:aws:secretsmanager:us-east-1:${ACCOUNT}:secret:clover-payments/sandbox/app-${defaultSecretSuffix('clover-payments/sandbox/app')}`;
const MERCHANT_SECRET = `arn:aws:secretsmanager:us-east-1:${ACCOUNT}:secret:clover-payments/sandbox/merchants/M1-AbCdEf`;

const may = (name: string, action: string, resource: string, context: RequestContext = {}) =>
  evaluate(fn(name).policies, { action, resource, context }).decision === 'allow';

describe('functions in the synthesized template', () => {
  it('lists every function under its house name', () => {
    expect(Object.keys(fns).sort()).toEqual([
      'authorizer',
      'charges',
      'checkout-config',
      'checkout-sessions',
      'health',
      'oauth-callback',
      'reconciler',
      'refunds',
      'token-refresher',
      'tokens',
      'webhooks',
    ]);
    expect(functionsFromTemplate(template, { prefix: 'clover-payments-sandbox' })).toEqual(fns);
  });

  it('gives each its role, the caller ARN AWS names in denials, memory size and timeout', () => {
    expect(fn('charges')).toMatchObject({
      functionName: 'clover-payments-sandbox-charges',
      logicalId: 'FunctionsChargesADCAE291',
      roleName: 'FunctionsChargesRole921EBDBA',
      roleArn: `arn:aws:iam::${ACCOUNT}:role/FunctionsChargesRole921EBDBA`,
      sessionArn: `arn:aws:sts::${ACCOUNT}:assumed-role/FunctionsChargesRole921EBDBA/clover-payments-sandbox-charges`,
      memorySize: 512,
      timeout: 10,
    });
    expect(fn('token-refresher').timeout).toBe(120);
    expect(fn('health').timeout).toBe(3);
  });

  it('resolves environment variables to the physical values the platform uses', () => {
    expect(fn('oauth-callback').environment).toMatchObject({
      TABLE_NAME: 'clover-payments-sandbox',
      APP_SECRET_ID: APP_SECRET,
      MERCHANT_SECRET_KMS_KEY_ID: DATA_KEY,
      MERCHANT_SECRET_PREFIX: 'clover-payments/sandbox/merchants/',
      CLOVER_TIMEOUT_MS: '8000',
    });
    expect(fn('webhooks').environment.REST_API_ID).toBe('local');
    expect(fn('health').environment.TABLE_NAME).toBeUndefined();
  });

  it('resolves through the context it is given: account, region, secret suffix, REST API id', () => {
    const context = localResolveContext({
      accountId: '123456789012',
      region: 'eu-west-1',
      restApiId: 'abc123',
      secretSuffix: () => 'XyZ123',
    });
    const eu = functionsFromTemplate(template, { context });
    expect(eu.charges?.environment.APP_SECRET_ID).toBe(
      'arn:aws:secretsmanager:eu-west-1:123456789012:secret:clover-payments/sandbox/app-XyZ123',
    );
    expect(eu.webhooks?.environment.REST_API_ID).toBe('abc123');
    const table = 'arn:aws:dynamodb:eu-west-1:123456789012:table/clover-payments-sandbox';
    expect(evaluate(eu.tokens!.policies, { action: 'dynamodb:GetItem', resource: table, context: {} }).decision).toBe(
      'allow',
    );
    expect(evaluate(eu.tokens!.policies, { action: 'dynamodb:GetItem', resource: TABLE, context: {} }).decision).toBe(
      'implicit_deny',
    );
  });
});

describe('what the resolved policies allow', () => {
  it('tokens may GetItem on the table, and nothing else on it or on secrets', () => {
    expect(may('tokens', 'dynamodb:GetItem', TABLE)).toBe(true);
    expect(may('tokens', 'dynamodb:PutItem', TABLE)).toBe(false);
    expect(may('tokens', 'dynamodb:Query', `${TABLE}/index/gsi1`)).toBe(false);
    expect(may('tokens', 'secretsmanager:GetSecretValue', MERCHANT_SECRET)).toBe(false);
    expect(may('tokens', 'secretsmanager:GetSecretValue', APP_SECRET)).toBe(false);
  });

  it('charges may read and store merchant tokens and read the app secret, but not create or delete secrets', () => {
    expect(may('charges', 'secretsmanager:GetSecretValue', MERCHANT_SECRET)).toBe(true);
    expect(may('charges', 'secretsmanager:PutSecretValue', MERCHANT_SECRET)).toBe(true);
    expect(may('charges', 'secretsmanager:GetSecretValue', APP_SECRET)).toBe(true);
    expect(may('charges', 'secretsmanager:PutSecretValue', APP_SECRET)).toBe(false);
    expect(may('charges', 'secretsmanager:CreateSecret', MERCHANT_SECRET)).toBe(false);
    expect(may('charges', 'secretsmanager:DeleteSecret', MERCHANT_SECRET)).toBe(false);
    expect(may('charges', 'dynamodb:TransactWriteItems', TABLE)).toBe(false);
    expect(may('charges', 'dynamodb:ConditionCheckItem', TABLE)).toBe(true);
    expect(may('charges', 'dynamodb:Query', `${TABLE}/index/gsi1`)).toBe(true);
  });

  it('oauth-callback may CreateSecret only under the data key', () => {
    const create = (kmsKeyArn: string | undefined) =>
      may('oauth-callback', 'secretsmanager:CreateSecret', MERCHANT_SECRET, { 'secretsmanager:KmsKeyArn': kmsKeyArn });
    expect(create(DATA_KEY)).toBe(true);
    expect(create(`arn:aws:kms:us-east-1:${ACCOUNT}:key/${localKmsKeyId('alias/aws/secretsmanager')}`)).toBe(false);
    expect(create(undefined)).toBe(false);
    expect(
      may('oauth-callback', 'secretsmanager:CreateSecret', APP_SECRET, { 'secretsmanager:KmsKeyArn': DATA_KEY }),
    ).toBe(false);
  });

  it('uses the data key only through the service named in kms:ViaService', () => {
    const viaSm = { 'kms:ViaService': 'secretsmanager.us-east-1.amazonaws.com' };
    const viaDdb = { 'kms:ViaService': 'dynamodb.us-east-1.amazonaws.com' };
    expect(may('charges', 'kms:Decrypt', DATA_KEY, viaSm)).toBe(true);
    expect(may('charges', 'kms:GenerateDataKey', DATA_KEY, viaSm)).toBe(true);
    expect(may('charges', 'kms:Decrypt', DATA_KEY)).toBe(false);
    expect(may('webhooks', 'kms:GenerateDataKey', DATA_KEY, viaSm)).toBe(false);
    expect(may('webhooks', 'kms:Decrypt', DATA_KEY, viaSm)).toBe(true);
    expect(may('tokens', 'kms:Decrypt', DATA_KEY, viaDdb)).toBe(true);
    expect(may('tokens', 'kms:Decrypt', DATA_KEY, viaSm)).toBe(false);
  });

  it('webhooks may flush the authorizer cache of the local REST API and delete merchant secrets', () => {
    const cache = 'arn:aws:apigateway:us-east-1::/restapis/local/stages/sandbox/cache/authorizers';
    expect(may('webhooks', 'apigateway:DELETE', cache)).toBe(true);
    expect(may('webhooks', 'apigateway:DELETE', cache.replace('/local/', '/other/'))).toBe(false);
    expect(may('webhooks', 'secretsmanager:DeleteSecret', MERCHANT_SECRET)).toBe(true);
  });

  it('lets each function write only its own log group', () => {
    const stream = (name: string) =>
      `arn:aws:logs:us-east-1:${ACCOUNT}:log-group:/aws/lambda/clover-payments-sandbox-${name}:log-stream:2024/01/01/x`;
    expect(may('health', 'logs:PutLogEvents', stream('health'))).toBe(true);
    expect(may('health', 'logs:PutLogEvents', stream('charges'))).toBe(false);
  });
});

describe('intrinsics and strictness', () => {
  const mini = (resources: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
    ...extra,
    Resources: {
      Table: { Type: 'AWS::DynamoDB::Table', Properties: { TableName: 't' } },
      Role: { Type: 'AWS::IAM::Role', Properties: {} },
      A: {
        Type: 'AWS::Lambda::Function',
        Properties: { FunctionName: 'app-dev-a', Role: { 'Fn::GetAtt': ['Role', 'Arn'] } },
      },
      B: {
        Type: 'AWS::Lambda::Function',
        Properties: { FunctionName: 'app-dev-b', Role: { 'Fn::GetAtt': ['Role', 'Arn'] } },
      },
      ...resources,
    },
  });
  const ctx = localResolveContext();

  it('resolves Fn::Sub, Fn::Select, Fn::Split, Fn::Join, GetAtt strings and parameters', () => {
    const t = parseTemplate(mini({}, { Parameters: { Stage: { Type: 'String', Default: 'dev' } } }));
    const value = {
      // biome-ignore lint/suspicious/noTemplateCurlyInString: Fn::Sub syntax, resolved by the code under test
      sub: { 'Fn::Sub': 'arn:${AWS::Partition}:x:${AWS::Region}:${AWS::AccountId}:${Table}/${Stage}/${!Literal}' },
      // biome-ignore lint/suspicious/noTemplateCurlyInString: Fn::Sub syntax, resolved by the code under test
      subVars: { 'Fn::Sub': ['${Name}-${Table.Arn}', { Name: { Ref: 'Stage' } }] },
      pick: { 'Fn::Select': [1, { 'Fn::Split': ['/', 'a/b/c'] }] },
      join: { 'Fn::Join': ['-', ['a', { 'Fn::GetAtt': 'Table.Arn' }]] },
    };
    expect(resolveValue(t, value, ctx, 'v')).toEqual({
      sub: `arn:aws:x:us-east-1:${ACCOUNT}:t/dev/\${Literal}`,
      subVars: `dev-arn:aws:dynamodb:us-east-1:${ACCOUNT}:table/t`,
      pick: 'b',
      join: `a-arn:aws:dynamodb:us-east-1:${ACCOUNT}:table/t`,
    });
    expect(resolveValue(t, { Ref: 'Stage' }, { ...ctx, parameters: { Stage: 'prod' } }, 'v')).toBe('prod');
  });

  it('derives the prefix from the names, and refuses a name outside it', () => {
    expect(Object.keys(functionsFromTemplate(mini({})))).toEqual(['a', 'b']);
    expect(() => functionsFromTemplate(mini({}), { prefix: 'other' })).toThrow("does not start with 'other-'");
  });

  it('collects inline, AWS::IAM::Policy and managed policies attached to the role', () => {
    const doc = (Sid: string) => ({
      Version: '2012-10-17',
      Statement: [{ Sid, Effect: 'Allow', Action: 'dynamodb:GetItem', Resource: { 'Fn::GetAtt': ['Table', 'Arn'] } }],
    });
    const t = mini({
      Role: {
        Type: 'AWS::IAM::Role',
        Properties: {
          RoleName: 'named-role',
          Path: '/service/',
          Policies: [{ PolicyName: 'inline', PolicyDocument: doc('Inline') }],
          ManagedPolicyArns: [{ Ref: 'ByArn' }],
        },
      },
      ByRef: { Type: 'AWS::IAM::Policy', Properties: { Roles: [{ Ref: 'Role' }], PolicyDocument: doc('Policy') } },
      ByArn: { Type: 'AWS::IAM::ManagedPolicy', Properties: { PolicyDocument: doc('Managed') } },
      Other: { Type: 'AWS::IAM::ManagedPolicy', Properties: { Roles: [{ Ref: 'Else' }], PolicyDocument: doc('No') } },
    });
    const a = functionsFromTemplate(t).a!;
    expect(a.policies.map((p) => (Array.isArray(p.Statement) ? p.Statement[0]?.Sid : undefined))).toEqual([
      'Inline',
      'Policy',
      'Managed',
    ]);
    expect(a.roleArn).toBe(`arn:aws:iam::${ACCOUNT}:role/service/named-role`);
    expect(a.sessionArn).toBe(`arn:aws:sts::${ACCOUNT}:assumed-role/named-role/app-dev-a`);
  });

  it.each([
    [
      'a Ref to a resource type it cannot place',
      { Q: { Type: 'AWS::SNS::Topic', Properties: {} }, P: policyOn({ Ref: 'Q' }) },
      /Resources\.P\.Properties\.PolicyDocument\.Statement\.0\.Resource\.Ref: Ref of Q \(AWS::SNS::Topic\) is not supported/,
    ],
    [
      'a Ref to nothing',
      { P: policyOn({ Ref: 'Missing' }) },
      /Statement\.0\.Resource\.Ref: cannot resolve Ref 'Missing'/,
    ],
    [
      'a GetAtt it does not know',
      { P: policyOn({ 'Fn::GetAtt': ['Table', 'StreamLabel'] }) },
      /Fn::GetAtt Table\.StreamLabel \(AWS::DynamoDB::Table\) is not supported/,
    ],
    [
      'a condition function',
      { P: policyOn({ 'Fn::If': ['IsProd', 'a', 'b'] }) },
      /Resource\.Fn::If: Fn::If is not supported/,
    ],
    [
      'a table without a TableName',
      { Table: { Type: 'AWS::DynamoDB::Table', Properties: {} }, P: policyOn({ 'Fn::GetAtt': ['Table', 'Arn'] }) },
      /Resources\.Table\.Properties\.TableName: Table \(AWS::DynamoDB::Table\) needs an explicit TableName/,
    ],
    [
      'a managed policy from outside the template',
      {
        Role: {
          Type: 'AWS::IAM::Role',
          Properties: { ManagedPolicyArns: ['arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole'] },
        },
      },
      /Resources\.Role\.Properties\.ManagedPolicyArns\.0: only managed policies defined in this template/,
    ],
  ])('throws naming the logical id and path on %s', (_, resources, message) => {
    expect(() => functionsFromTemplate(mini(resources))).toThrow(TemplateResolutionError);
    expect(() => functionsFromTemplate(mini(resources))).toThrow(message);
  });

  it('throws on a role that is not defined in the template', () => {
    const t = mini({
      A: { Type: 'AWS::Lambda::Function', Properties: { FunctionName: 'app-dev-a', Role: 'arn:aws:iam::1:role/x' } },
    });
    expect(() => functionsFromTemplate(t)).toThrow(/Resources\.A\.Properties\.Role: expected \{Fn::GetAtt/);
  });

  it('throws at load on a policy the evaluator cannot evaluate', () => {
    const t = mini({
      P: {
        Type: 'AWS::IAM::ManagedPolicy',
        Properties: {
          Roles: [{ Ref: 'Role' }],
          PolicyDocument: {
            Version: '2012-10-17',
            Statement: [
              { Effect: 'Allow', Action: '*', Resource: '*', Condition: { IpAddress: { 'aws:SourceIp': '1.2.3.4' } } },
            ],
          },
        },
      },
    });
    expect(() => functionsFromTemplate(t)).toThrow(UnsupportedPolicyError);
    expect(() => functionsFromTemplate(t)).toThrow(/Resources\.P\.Properties\.PolicyDocument/);
  });
});

/** A managed policy on the mini template's role whose only statement's Resource is `resource`. */
function policyOn(resource: unknown) {
  return {
    Type: 'AWS::IAM::ManagedPolicy',
    Properties: {
      Roles: [{ Ref: 'Role' }],
      PolicyDocument: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'x:Y', Resource: resource }] },
    },
  };
}

describe('local physical ids', () => {
  it('KMS key ids are UUID-shaped and stable per logical id', () => {
    expect(localKmsKeyId('KeysDataA2F7C5E6')).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
    expect(localKmsKeyId('KeysDataA2F7C5E6')).toBe(localKmsKeyId('KeysDataA2F7C5E6'));
    expect(localKmsKeyId('KeysOpsC4FE816E')).not.toBe(localKmsKeyId('KeysDataA2F7C5E6'));
  });

  it('secret suffixes are 6 alphanumerics, stable per name', () => {
    expect(defaultSecretSuffix('clover-payments/sandbox/app')).toMatch(/^[A-Za-z0-9]{6}$/);
    expect(defaultSecretSuffix('a')).toBe(defaultSecretSuffix('a'));
    expect(defaultSecretSuffix('a')).not.toBe(defaultSecretSuffix('b'));
  });

  it('a KmsKeyId given as key id, key ARN, alias or alias ARN resolves to the key ARN', () => {
    const resolve = kmsKeyResolver(template);
    for (const id of [
      localKmsKeyId('KeysDataA2F7C5E6'),
      DATA_KEY,
      'alias/clover-payments-sandbox/data',
      `arn:aws:kms:us-east-1:${ACCOUNT}:alias/clover-payments-sandbox/data`,
    ]) {
      expect(resolve(id)).toBe(DATA_KEY);
    }
    expect(resolve('alias/unknown')).toBeUndefined();
  });
});
