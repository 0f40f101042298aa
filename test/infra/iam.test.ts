import { beforeAll, describe, expect, it } from 'vitest';
import type { FunctionName } from '../../shared/routes';
import {
  actionsOf,
  flat,
  list,
  refOf,
  resources,
  roleOfFunction,
  type Statement,
  type Synth,
  statementsOfRole,
  synth,
} from './helpers';

let s: Synth;
beforeAll(() => {
  s = synth();
}, 60_000);

const ALL: FunctionName[] = [
  'health',
  'oauth-callback',
  'webhooks',
  'checkout-config',
  'tokens',
  'charges',
  'refunds',
  'checkout-sessions',
  'authorizer',
  'token-refresher',
  'reconciler',
];
const statementsOf = (fn: FunctionName): Statement[] => statementsOfRole(s.template, roleOfFunction(s.template, fn));
const actions = (fn: FunctionName) => actionsOf(statementsOf(fn));
const holders = (action: string) => ALL.filter((fn) => actions(fn).includes(action)).sort();

/** Every resource string in every Allow statement of the template's IAM policies. */
function allIamStatements(): { where: string; statement: Statement }[] {
  const out: { where: string; statement: Statement }[] = [];
  for (const type of ['AWS::IAM::ManagedPolicy', 'AWS::IAM::Policy']) {
    for (const [id, p] of Object.entries(resources(s.template, type))) {
      for (const st of (p.Properties!.PolicyDocument as { Statement: Statement[] }).Statement)
        out.push({ where: id, statement: st });
    }
  }
  for (const [id, role] of Object.entries(resources(s.template, 'AWS::IAM::Role'))) {
    for (const p of list(role.Properties!.Policies as { PolicyDocument: { Statement: Statement[] } }[])) {
      for (const st of p.PolicyDocument.Statement) out.push({ where: id, statement: st });
    }
  }
  return out;
}

/**
 * Where AWS allows nothing narrower than a wildcard, with the reason. Anything else with `*` in a
 * resource fails the test.
 */
const WILDCARD_EXCEPTIONS: { pattern: RegExp; reason: string }[] = [
  {
    pattern:
      /^arn:<AWS::Partition>:secretsmanager:<AWS::Region>:<AWS::AccountId>:secret:clover-payments\/sandbox\/merchants\/\*$/,
    reason:
      'per-merchant OAuth secrets are created at run time and Secrets Manager appends a random suffix to every ARN: the merchants/ prefix of this stage is the narrowest resource',
  },
  {
    pattern: /^<DataTable[0-9A-F]+\.Arn>\/stream\/\*$|^<DataTable[0-9A-F]+>\/stream\/\*$/,
    reason:
      "dynamodb:ListStreams (the event source mappings of the events functions) names no stream: the table's streams are the narrowest resource",
  },
];
/**
 * Not IAM statements of ours, listed so the exceptions are all in one place:
 * - KMS key policies say `"Resource": "*"`, which in a key policy means "this key" (a key policy
 *   cannot name its own ARN); their principals are the account root and the Logs/CloudWatch services.
 * - The account-wide API Gateway CloudWatch role uses the AWS managed policy
 *   AmazonAPIGatewayPushToCloudWatchLogs (logs:* on *); see the IAM4 acknowledgement in infra/api.ts.
 * - No X-Ray (xray:PutTraceSegments needs `*`) and no cloudwatch:PutMetricData (metrics are EMF
 *   log lines): neither wildcard exists in this stack.
 */

describe('least privilege', () => {
  it('has no IAM statement with Resource "*" and no wildcard resource outside the listed exceptions', () => {
    const offenders: string[] = [];
    for (const { where, statement } of allIamStatements()) {
      if (statement.Effect !== 'Allow') continue;
      for (const r of list(statement.Resource)) {
        const text = flat(r);
        if (text === '*') offenders.push(`${where}: Resource "*"`);
        else if (text.includes('*') && !WILDCARD_EXCEPTIONS.some((e) => e.pattern.test(text)))
          offenders.push(`${where}: ${text}`);
      }
      for (const a of list(statement.Action))
        if (a === '*' || a.endsWith(':*')) offenders.push(`${where}: action ${a}`);
    }
    expect(offenders).toEqual([]);
  });

  it('uses no inline policies and no AWS managed policy on function roles', () => {
    s.template.resourceCountIs('AWS::IAM::Policy', 0);
    for (const fn of ALL) {
      const role = resources(s.template, 'AWS::IAM::Role')[roleOfFunction(s.template, fn)]!;
      expect(role.Properties!.ManagedPolicyArns, fn).toBeUndefined();
      expect(role.Properties!.Policies, fn).toBeUndefined();
    }
  });

  it('key policies are the only "*" resources, and they mean the key itself', () => {
    for (const key of Object.values(resources(s.template, 'AWS::KMS::Key'))) {
      for (const st of (key.Properties!.KeyPolicy as { Statement: Statement[] }).Statement)
        expect(st.Resource).toBe('*');
    }
  });

  it('tokens reads one merchant record’s summary with GetItem and can do nothing else: no Secrets Manager, no writes', () => {
    expect(actions('tokens')).toEqual([
      'dynamodb:GetItem',
      'kms:Decrypt',
      'kms:DescribeKey',
      'logs:CreateLogStream',
      'logs:PutLogEvents',
    ]);
    const tokens = actions('tokens');
    expect(tokens.filter((a) => a.startsWith('secretsmanager:'))).toEqual([]);
    expect(
      tokens.filter((a) => /Put|Update|Delete|Write|Create|Encrypt|GenerateDataKey/.test(a) && !a.startsWith('logs:')),
    ).toEqual([]);
    const kms = statementsOf('tokens').find((st) => list(st.Action).includes('kms:Decrypt'))!;
    expect(flat(kms.Condition?.StringEquals?.['kms:ViaService'])).toBe('dynamodb.<AWS::Region>.amazonaws.com');
    // Only MERCHANT# items, only the summary attributes (merchant id, status, PAKMS key).
    for (const fn of ['tokens', 'checkout-config'] as const) {
      const get = statementsOf(fn).find((st) => list(st.Action).includes('dynamodb:GetItem'))!;
      expect(get.Condition, fn).toEqual({
        'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['MERCHANT#*'] },
        Null: { 'dynamodb:LeadingKeys': 'false' },
        'ForAllValues:StringEquals': { 'dynamodb:Attributes': ['pk', 'sk', 'merchant_id', 'status', 'pakms_key'] },
        StringEquals: { 'dynamodb:Select': 'SPECIFIC_ATTRIBUTES' },
      });
      expect(list(get.Resource).map(flat), fn).toEqual([expect.stringMatching(/^<\w+>$/)]);
    }
  });

  it('checkout-config never reads the app secret (it needs no credential), nor anything but GetItem', () => {
    expect(actions('checkout-config')).toEqual([
      'dynamodb:GetItem',
      'kms:Decrypt',
      'kms:DescribeKey',
      'logs:CreateLogStream',
      'logs:PutLogEvents',
    ]);
  });

  it('every table grant outside the payment functions is bound to its partition-key prefixes', () => {
    const expected: Partial<Record<FunctionName, string[]>> = {
      authorizer: ['APIKEY#*', 'MERCHANT#*'],
      tokens: ['MERCHANT#*'],
      'checkout-config': ['MERCHANT#*'],
      'oauth-callback': ['MERCHANT#*', 'OAUTHSTATE#*'],
      webhooks: ['MERCHANT#*', 'WEBHOOK#VERIFICATION'],
      'token-refresher': ['MERCHANT#*', 'MERCHANTS'],
    };
    for (const [fn, keys] of Object.entries(expected)) {
      const table = statementsOf(fn as FunctionName).filter((st) =>
        list(st.Action).some((a) => a.startsWith('dynamodb:')),
      );
      expect(table, fn).toHaveLength(1);
      expect(table[0]!.Condition?.['ForAllValues:StringLike'], fn).toEqual({ 'dynamodb:LeadingKeys': keys });
      expect(table[0]!.Condition?.Null, fn).toEqual({ 'dynamodb:LeadingKeys': 'false' });
    }
  });

  it('the operator policy reaches only key and merchant items, and the stack’s own outputs', () => {
    const ops = Object.values(resources(s.template, 'AWS::IAM::ManagedPolicy')).find((p) =>
      String(p.Properties!.ManagedPolicyName).endsWith('-operator'),
    )!;
    const statements = (ops.Properties!.PolicyDocument as { Statement: Statement[] }).Statement;
    const keys = statements.find((st) => st.Sid === 'ManageApiKeys')!;
    expect(keys.Condition?.['ForAllValues:StringLike']).toEqual({ 'dynamodb:LeadingKeys': ['APIKEY#*', 'MERCHANT#*'] });
    const outputs = statements.find((st) => st.Sid === 'ReadStackOutputs')!;
    expect(list(outputs.Action)).toEqual(['cloudformation:DescribeStacks']);
    expect(outputs.Resource).toEqual({ Ref: 'AWS::StackId' });
  });

  it('the authorizer only gets items from the table', () => {
    const a = actions('authorizer');
    expect(a.filter((x) => x.startsWith('dynamodb:'))).toEqual(['dynamodb:GetItem']);
    expect(a.filter((x) => x.startsWith('secretsmanager:'))).toEqual([]);
  });

  it('only oauth-callback creates merchant secrets, and only with the data key', () => {
    expect(holders('secretsmanager:CreateSecret')).toEqual(['oauth-callback']);
    const create = statementsOf('oauth-callback').find((st) =>
      list(st.Action).includes('secretsmanager:CreateSecret'),
    )!;
    expect(create.Condition?.StringEquals?.['secretsmanager:KmsKeyArn']).toBeDefined();
    expect(holders('secretsmanager:UpdateSecret')).toEqual(['oauth-callback']);
  });

  it('stores new token pairs only from onboarding, the refresher and the on-401 refreshers', () => {
    expect(holders('secretsmanager:PutSecretValue')).toEqual(
      ['charges', 'checkout-sessions', 'oauth-callback', 'reconciler', 'refunds', 'token-refresher'].sort(),
    );
  });

  it('webhooks (and the refresher, for uninstall follow-ups) may schedule merchant secret deletion — recoverably — and flush the stage’s authorizer cache, nothing wider', () => {
    expect(holders('secretsmanager:DeleteSecret')).toEqual(['token-refresher', 'webhooks']);
    expect(holders('apigateway:DELETE')).toEqual(['token-refresher', 'webhooks']);
    for (const fn of ['webhooks', 'token-refresher'] as const) {
      const flush = statementsOf(fn).find((st) => list(st.Action).includes('apigateway:DELETE'))!;
      expect(list(flush.Resource).map(flat)).toEqual([
        expect.stringMatching(
          /^arn:<AWS::Partition>:apigateway:<AWS::Region>::\/restapis\/<\w+>\/stages\/sandbox\/cache\/authorizers$/,
        ),
      ]);
      // Never ForceDeleteWithoutRecovery, never a recovery window under 7 days.
      const del = statementsOf(fn).find((st) => list(st.Action).includes('secretsmanager:DeleteSecret'))!;
      expect(del.Condition).toEqual({
        BoolIfExists: { 'secretsmanager:ForceDeleteWithoutRecovery': 'false' },
        NumericGreaterThanEqualsIfExists: { 'secretsmanager:RecoveryWindowInDays': 7 },
      });
    }
    // It reads the app secret (the webhook auth code), never a merchant's tokens.
    const reads = statementsOf('webhooks').filter((st) => list(st.Action).includes('secretsmanager:GetSecretValue'));
    expect(reads.flatMap((st) => list(st.Resource).map(flat))).toEqual([expect.stringMatching(/^<SecretsApp\w+>$/)]);
  });

  it('every KMS grant of a function goes through DynamoDB or Secrets Manager (kms:ViaService)', () => {
    for (const fn of ALL) {
      for (const st of statementsOf(fn).filter((x) => list(x.Action).some((a) => a.startsWith('kms:')))) {
        expect(flat(st.Condition?.StringEquals?.['kms:ViaService']), fn).toMatch(
          /^(dynamodb|secretsmanager)\.<AWS::Region>/,
        );
      }
    }
  });

  it('health can only write its own logs', () => {
    expect(actions('health')).toEqual(['logs:CreateLogStream', 'logs:PutLogEvents']);
  });
});

describe('KMS key policies', () => {
  const keyPolicy = (alias: string) => {
    const aliases = Object.values(resources(s.template, 'AWS::KMS::Alias'));
    const target = refOf(aliases.find((a) => a.Properties!.AliasName === alias)!.Properties!.TargetKeyId)!;
    return (resources(s.template, 'AWS::KMS::Key')[target]!.Properties!.KeyPolicy as { Statement: Statement[] })
      .Statement;
  };

  it('the data key separates administration from use: admins cannot decrypt or grant, use goes through DynamoDB and Secrets Manager only', () => {
    const st = keyPolicy('alias/clover-payments-sandbox/data');
    expect(
      st
        .map((x) => x.Sid)
        .filter(Boolean)
        .sort(),
    ).toEqual(
      [
        'DynamoDbReadsKeyMetadata',
        'GrantsForDynamoDb',
        'KeyAdministration',
        'UseThroughDynamoDbAndSecretsManager',
      ].sort(),
    );
    for (const x of st) expect(list(x.Action)).not.toContain('kms:*');
    // Every statement but administration is use through a service: ours, and the one CDK's Secret
    // adds for the secrets it encrypts (the account's principals, through Secrets Manager only).
    for (const x of st.filter((y) => y.Sid !== 'KeyAdministration' && y.Sid !== 'DynamoDbReadsKeyMetadata')) {
      expect(x.Condition?.StringEquals?.['kms:ViaService'], x.Sid ?? 'unnamed').toBeDefined();
    }
    const admin = st.find((x) => x.Sid === 'KeyAdministration')!;
    expect(list(admin.Action).filter((a) => /Decrypt|Encrypt|GenerateDataKey|CreateGrant/.test(a))).toEqual([]);
    expect(list(admin.Action)).toEqual(expect.arrayContaining(['kms:PutKeyPolicy', 'kms:ScheduleKeyDeletion']));
    const use = st.find((x) => x.Sid === 'UseThroughDynamoDbAndSecretsManager')!;
    expect(list(use.Condition?.StringEquals?.['kms:ViaService']).map(flat)).toEqual([
      'dynamodb.<AWS::Region>.amazonaws.com',
      'secretsmanager.<AWS::Region>.amazonaws.com',
    ]);
    const grants = st.find((x) => x.Sid === 'GrantsForDynamoDb')!;
    expect(grants.Condition?.Bool).toEqual({ 'kms:GrantIsForAWSResource': 'true' });
  });

  it('the ops key lets CloudWatch alarms use it for this account’s alarms only (aws:SourceAccount, aws:SourceArn)', () => {
    const alarms = keyPolicy('alias/clover-payments-sandbox/ops').find((x) => x.Sid === 'CloudWatchAlarmsToSns')!;
    expect(alarms.Condition?.StringEquals).toEqual({ 'aws:SourceAccount': { Ref: 'AWS::AccountId' } });
    expect(flat(alarms.Condition?.ArnLike?.['aws:SourceArn'])).toBe(
      'arn:<AWS::Partition>:cloudwatch:<AWS::Region>:<AWS::AccountId>:alarm:*',
    );
  });
});
