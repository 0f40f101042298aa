/**
 * Secrets Manager calls → the checks IAM makes: Secrets Manager's action on the secret (or on the
 * ARN a new secret will get), its condition keys, and the KMS calls it makes with the caller's
 * credentials for a customer-managed key. Bodies come from the real SDK client; the checks are then
 * evaluated against the template's policies for the functions that make these calls.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  CreateSecretCommand,
  DeleteSecretCommand,
  GetSecretValueCommand,
  ListSecretsCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UnknownOperationError } from '../../../../local/iam/errors';
import { firstDenial } from '../../../../local/iam/policy';
import {
  awsManagedSecretsKeyArn,
  type SecretRecord,
  secretsManagerAuthorizations,
} from '../../../../local/iam/secretsmanager-actions';
import { functionsFromTemplate, kmsKeyResolver, localKmsKeyId } from '../../../../local/iam/template';
import { type CaptureServer, startCaptureServer } from './capture-server';

const template: unknown = JSON.parse(readFileSync(join(__dirname, 'fixtures/sandbox.template.json'), 'utf8'));
const fns = functionsFromTemplate(template);
const ACCOUNT = '000000000000';
const DATA_KEY = `arn:aws:kms:us-east-1:${ACCOUNT}:key/${localKmsKeyId('KeysDataA2F7C5E6')}`;
const OPS_KEY = `arn:aws:kms:us-east-1:${ACCOUNT}:key/${localKmsKeyId('KeysOpsC4FE816E')}`;
const MANAGED_KEY = awsManagedSecretsKeyArn('us-east-1', ACCOUNT);
const arnOf = (name: string) => `arn:aws:secretsmanager:us-east-1:${ACCOUNT}:secret:${name}-AbCdEf`;

const secrets: SecretRecord[] = [
  {
    name: 'clover-payments/sandbox/merchants/M1',
    arn: arnOf('clover-payments/sandbox/merchants/M1'),
    kmsKeyArn: DATA_KEY,
  },
  {
    name: 'clover-payments/sandbox/merchants/OPS',
    arn: arnOf('clover-payments/sandbox/merchants/OPS'),
    kmsKeyArn: OPS_KEY,
  },
  { name: 'clover-payments/sandbox/merchants/PLAIN', arn: arnOf('clover-payments/sandbox/merchants/PLAIN') },
];
const opts = {
  region: 'us-east-1',
  accountId: ACCOUNT,
  findSecret: (id: string) => secrets.find((s) => s.name === id || s.arn === id),
  newSecretArn: arnOf,
  resolveKmsKey: kmsKeyResolver(template),
};

let server: CaptureServer;
let sm: SecretsManagerClient;
beforeAll(async () => {
  server = await startCaptureServer();
  sm = new SecretsManagerClient({
    endpoint: server.url,
    region: 'us-east-1',
    credentials: { accessKeyId: 'AKID', secretAccessKey: 'secret' },
    maxAttempts: 1,
  });
});
afterAll(() => server.close());

async function checksFor(send: () => Promise<unknown>) {
  const before = server.requests.length;
  await send().catch(() => undefined);
  const req = server.requests[before]!;
  return secretsManagerAuthorizations(String(req.headers['x-amz-target']), JSON.parse(req.body.toString()), opts);
}

const viaSecretsManager = (secretArn: string) => ({
  'kms:ViaService': 'secretsmanager.us-east-1.amazonaws.com',
  'kms:CallerAccount': ACCOUNT,
  'kms:EncryptionContext:SecretARN': secretArn,
  'kms:EncryptionContextKeys': ['SecretARN', 'SecretVersionId'],
});

describe('reads and writes of a secret value', () => {
  const m1 = secrets[0]!;

  it('GetSecretValue: the secret’s ARN, named as given in messages, then kms:Decrypt via Secrets Manager', async () => {
    const checks = await checksFor(() =>
      sm.send(new GetSecretValueCommand({ SecretId: m1.name, VersionStage: 'AWSCURRENT' })),
    );
    expect(checks).toEqual([
      {
        action: 'secretsmanager:GetSecretValue',
        resource: m1.arn,
        messageResource: m1.name,
        context: { 'secretsmanager:SecretId': m1.name, 'secretsmanager:VersionStage': 'AWSCURRENT' },
      },
      { action: 'kms:Decrypt', resource: DATA_KEY, viaService: 'secretsmanager', context: viaSecretsManager(m1.arn) },
    ]);
  });

  it('PutSecretValue: then kms:GenerateDataKey', async () => {
    const checks = await checksFor(() =>
      sm.send(new PutSecretValueCommand({ SecretId: m1.arn, SecretString: '{"access_token":"t"}' })),
    );
    expect(checks.map((c) => [c.action, c.resource, c.messageResource])).toEqual([
      ['secretsmanager:PutSecretValue', m1.arn, m1.arn],
      ['kms:GenerateDataKey', DATA_KEY, undefined],
    ]);
  });

  it('needs no KMS permission for a secret under the AWS managed key', () => {
    const plain = secrets[2]!;
    const checks = secretsManagerAuthorizations('secretsmanager.GetSecretValue', { SecretId: plain.name }, opts);
    expect(checks.map((c) => c.action)).toEqual(['secretsmanager:GetSecretValue']);
  });

  it('authorizes a secret that does not exist by the ARN its name gives, so the call can reach "not found"', () => {
    const [check] = secretsManagerAuthorizations(
      'secretsmanager.GetSecretValue',
      { SecretId: 'clover-payments/sandbox/merchants/M404' },
      opts,
    );
    expect(check?.resource).toBe(
      `arn:aws:secretsmanager:us-east-1:${ACCOUNT}:secret:clover-payments/sandbox/merchants/M404`,
    );
    expect(firstDenial(fns.charges!.policies, [check!])).toBeUndefined();
  });
});

describe('creating, changing and deleting secrets', () => {
  it('CreateSecret: the new secret’s ARN, Name and KmsKeyArn (aliases resolved), TagResource, then both KMS calls', async () => {
    const name = 'clover-payments/sandbox/merchants/M2';
    const checks = await checksFor(() =>
      sm.send(
        new CreateSecretCommand({
          Name: name,
          KmsKeyId: 'alias/clover-payments-sandbox/data',
          SecretString: '{}',
          Tags: [{ Key: 'merchant', Value: 'M2' }],
        }),
      ),
    );
    expect(checks).toEqual([
      {
        action: 'secretsmanager:CreateSecret',
        resource: arnOf(name),
        messageResource: name,
        context: {
          'secretsmanager:Name': name,
          'secretsmanager:KmsKeyArn': DATA_KEY,
          'aws:RequestTag/merchant': 'M2',
          'aws:TagKeys': ['merchant'],
        },
      },
      {
        action: 'secretsmanager:TagResource',
        resource: arnOf(name),
        messageResource: name,
        context: { 'aws:RequestTag/merchant': 'M2', 'aws:TagKeys': ['merchant'] },
      },
      {
        action: 'kms:GenerateDataKey',
        resource: DATA_KEY,
        viaService: 'secretsmanager',
        context: viaSecretsManager(arnOf(name)),
      },
      {
        action: 'kms:Decrypt',
        resource: DATA_KEY,
        viaService: 'secretsmanager',
        context: viaSecretsManager(arnOf(name)),
      },
    ]);
  });

  it('CreateSecret without KmsKeyId: KmsKeyArn is the aws/secretsmanager key, and no KMS check', () => {
    const checks = secretsManagerAuthorizations('secretsmanager.CreateSecret', { Name: 'x', SecretString: 'v' }, opts);
    expect(checks).toHaveLength(1);
    expect(checks[0]?.context['secretsmanager:KmsKeyArn']).toBe(MANAGED_KEY);
    const aliasOfManaged = secretsManagerAuthorizations(
      'secretsmanager.CreateSecret',
      { Name: 'x', KmsKeyId: 'alias/aws/secretsmanager' },
      opts,
    );
    expect(aliasOfManaged.map((c) => c.context['secretsmanager:KmsKeyArn'])).toEqual([MANAGED_KEY]);
  });

  it('UpdateSecret: GenerateDataKey for a new value; GenerateDataKey and Decrypt on a new key; none otherwise', () => {
    const m1 = secrets[0]!;
    const actions = (body: object) =>
      secretsManagerAuthorizations('secretsmanager.UpdateSecret', body, opts).map((c) => [c.action, c.resource]);
    expect(actions({ SecretId: m1.name, SecretString: 'v' })).toEqual([
      ['secretsmanager:UpdateSecret', m1.arn],
      ['kms:GenerateDataKey', DATA_KEY],
    ]);
    expect(actions({ SecretId: m1.name, KmsKeyId: OPS_KEY })).toEqual([
      ['secretsmanager:UpdateSecret', m1.arn],
      ['kms:GenerateDataKey', OPS_KEY],
      ['kms:Decrypt', OPS_KEY],
    ]);
    expect(actions({ SecretId: m1.name, Description: 'd' })).toEqual([['secretsmanager:UpdateSecret', m1.arn]]);
    expect(actions({ SecretId: m1.name, KmsKeyId: '' })).toEqual([['secretsmanager:UpdateSecret', m1.arn]]);
  });

  it('DeleteSecret: ForceDeleteWithoutRecovery and RecoveryWindowInDays as typed condition values', async () => {
    const [force] = await checksFor(() =>
      sm.send(
        new DeleteSecretCommand({ SecretId: 'clover-payments/sandbox/merchants/M1', ForceDeleteWithoutRecovery: true }),
      ),
    );
    expect(force?.context).toMatchObject({ 'secretsmanager:ForceDeleteWithoutRecovery': true });
    const [windowed] = await checksFor(() =>
      sm.send(new DeleteSecretCommand({ SecretId: 'clover-payments/sandbox/merchants/M1', RecoveryWindowInDays: 7 })),
    );
    expect(windowed?.context).toMatchObject({ 'secretsmanager:RecoveryWindowInDays': 7 });
  });

  it('ListSecrets is on "*"; other operations are secretsmanager:<Op> on the secret', async () => {
    expect(await checksFor(() => sm.send(new ListSecretsCommand({})))).toEqual([
      { action: 'secretsmanager:ListSecrets', resource: '*', context: {} },
    ]);
    for (const op of ['RestoreSecret', 'DescribeSecret', 'TagResource', 'ListSecretVersionIds']) {
      const [check] = secretsManagerAuthorizations(`secretsmanager.${op}`, { SecretId: secrets[0]!.name }, opts);
      expect(check).toMatchObject({ action: `secretsmanager:${op}`, resource: secrets[0]!.arn });
    }
    expect(() => secretsManagerAuthorizations('DynamoDB_20120810.GetItem', {}, opts)).toThrow(UnknownOperationError);
  });
});

describe('against the template’s policies', () => {
  const check = (fn: string, target: string, body: object) =>
    firstDenial(fns[fn]!.policies, secretsManagerAuthorizations(`secretsmanager.${target}`, body, opts));

  it('charges reads and stores merchant tokens under the data key', () => {
    expect(check('charges', 'GetSecretValue', { SecretId: 'clover-payments/sandbox/merchants/M1' })).toBeUndefined();
    expect(
      check('charges', 'PutSecretValue', { SecretId: 'clover-payments/sandbox/merchants/M1', SecretString: 'v' }),
    ).toBeUndefined();
  });

  it('denies at the KMS step a secret under a key the role may not use, flagged for "Access to KMS is not allowed"', () => {
    const denial = check('charges', 'GetSecretValue', { SecretId: 'clover-payments/sandbox/merchants/OPS' });
    expect(denial).toMatchObject({
      request: { action: 'kms:Decrypt', resource: OPS_KEY, viaService: 'secretsmanager' },
    });
  });

  it('denies at the Secrets Manager step what the role may not do at all', () => {
    expect(
      check('checkout-config', 'GetSecretValue', { SecretId: 'clover-payments/sandbox/merchants/M1' }),
    ).toMatchObject({
      request: { action: 'secretsmanager:GetSecretValue', messageResource: 'clover-payments/sandbox/merchants/M1' },
      decision: 'implicit_deny',
    });
    expect(
      check('webhooks', 'PutSecretValue', { SecretId: 'clover-payments/sandbox/merchants/M1', SecretString: 'v' }),
    ).toMatchObject({
      request: { action: 'secretsmanager:PutSecretValue' },
    });
    expect(
      check('charges', 'CreateSecret', { Name: 'clover-payments/sandbox/merchants/M3', KmsKeyId: DATA_KEY }),
    ).toMatchObject({
      request: { action: 'secretsmanager:CreateSecret' },
    });
  });

  it('oauth-callback creates merchant secrets only under the data key', () => {
    const name = 'clover-payments/sandbox/merchants/M3';
    expect(
      check('oauth-callback', 'CreateSecret', { Name: name, KmsKeyId: DATA_KEY, SecretString: 'v' }),
    ).toBeUndefined();
    expect(
      check('oauth-callback', 'CreateSecret', { Name: name, KmsKeyId: 'alias/clover-payments-sandbox/data' }),
    ).toBeUndefined();
    expect(check('oauth-callback', 'CreateSecret', { Name: name, SecretString: 'v' })).toMatchObject({
      request: { action: 'secretsmanager:CreateSecret', context: { 'secretsmanager:KmsKeyArn': MANAGED_KEY } },
    });
    expect(check('oauth-callback', 'CreateSecret', { Name: name, KmsKeyId: OPS_KEY })).toMatchObject({
      request: { action: 'secretsmanager:CreateSecret' },
    });
  });
});
