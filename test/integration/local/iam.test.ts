/**
 * IAM on the local platform, asked as a developer would: with a profile of the running platform's
 * `$DATA_DIR/aws-credentials`, through the real SDK and the AWS CLI. The policies are the
 * synthesized template's, so these answers are the deployed stack's.
 */
import { execFile, spawnSync } from 'node:child_process';
import { DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { describe, expect, it } from 'vitest';
import { readProfile } from '../../../local/credentials';
import { demo, merchantSecretId, platform, platformLog } from '../../helpers/platform';

const as = (profile: string) => {
  const { accessKeyId, secretAccessKey } = readProfile(platform().dataDir, profile);
  const credentials = { accessKeyId, secretAccessKey };
  return {
    sm: new SecretsManagerClient({ endpoint: platform().secretsManagerUrl, region: 'us-east-1', credentials }),
    ddb: new DynamoDBClient({ endpoint: platform().dynamodbEndpoint, region: 'us-east-1', credentials }),
  };
};

const denied = async (p: Promise<unknown>) => {
  const e = (await p.then(
    () => null,
    (err: Error) => err,
  )) as (Error & { $metadata?: { httpStatusCode?: number } }) | null;
  expect(e, 'the call was allowed').not.toBeNull();
  return e!;
};

describe('IAM from the template, per function', () => {
  it('tokens may not read a merchant secret, nor write the table; it may GetItem', async () => {
    const tokens = as('tokens');
    const secretId = merchantSecretId(demo().merchant_id);
    const e1 = await denied(tokens.sm.send(new GetSecretValueCommand({ SecretId: secretId })));
    expect(e1.name).toBe('AccessDeniedException');
    expect(e1.$metadata?.httpStatusCode).toBe(400);
    // AWS's wording: the role session (role name / function name), the action, the SecretId as given.
    expect(e1.message).toMatch(
      new RegExp(
        `^User: arn:aws:sts::000000000000:assumed-role/[\\w+=,.@-]+/clover-payments-sandbox-tokens is not authorized to perform: secretsmanager:GetSecretValue on resource: ${secretId} because no identity-based policy allows the secretsmanager:GetSecretValue action$`,
      ),
    );
    const e2 = await denied(
      tokens.ddb.send(
        new PutItemCommand({ TableName: platform().tableName, Item: { pk: { S: 'IAM#1' }, sk: { S: 'X' } } }),
      ),
    );
    expect(e2.name).toBe('AccessDeniedException');
    expect(e2.message).toContain(
      `dynamodb:PutItem on resource: arn:aws:dynamodb:us-east-1:000000000000:table/${platform().tableName}`,
    );
    // What it needs, a merchant record's summary (status, PAKMS key), is allowed …
    const key = { pk: { S: `MERCHANT#${demo().merchant_id}` }, sk: { S: 'MERCHANT' } };
    const summary = await tokens.ddb.send(
      new GetItemCommand({
        TableName: platform().tableName,
        Key: key,
        ProjectionExpression: 'merchant_id, #s, pakms_key',
        ExpressionAttributeNames: { '#s': 'status' },
      }),
    );
    expect(summary.Item?.pakms_key?.S).toMatch(/^[0-9a-f]{32}$/);
    // … and nothing else: not the whole record, not another attribute, not another kind of item.
    for (const input of [
      { Key: key },
      { Key: key, ProjectionExpression: 'installed_at' },
      { Key: { pk: { S: 'IAM#1' }, sk: { S: 'X' } }, ProjectionExpression: 'merchant_id' },
      { Key: { pk: { S: `APIKEY#${'0'.repeat(64)}` }, sk: { S: 'APIKEY' } }, ProjectionExpression: 'merchant_id' },
    ]) {
      const e = await denied(tokens.ddb.send(new GetItemCommand({ TableName: platform().tableName, ...input })));
      expect(e.name, JSON.stringify(input)).toBe('AccessDeniedException');
    }
    const log = platformLog();
    expect(log).toMatch(
      /\[iam\] AccessDenied: tokens may not secretsmanager:GetSecretValue on arn:aws:secretsmanager:\S+merchants\//,
    );
    expect(log).toMatch(/\[iam\] AccessDenied: tokens may not dynamodb:PutItem on arn:aws:dynamodb:/);
  });

  it('charges may read its merchant secret (and may not create one)', async () => {
    const charges = as('charges');
    const r = await charges.sm.send(new GetSecretValueCommand({ SecretId: merchantSecretId(demo().merchant_id) }));
    expect(JSON.parse(r.SecretString ?? '{}').access_token).toBeTruthy();
  });

  it('checkout-config may not touch merchant secrets; unknown keys are UnrecognizedClientException', async () => {
    const e = await denied(
      as('checkout-config').sm.send(new GetSecretValueCommand({ SecretId: merchantSecretId(demo().merchant_id) })),
    );
    expect(e.name).toBe('AccessDeniedException');
    const stranger = new DynamoDBClient({
      endpoint: platform().dynamodbEndpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'AKIAUNKNOWNUNKNOWN00', secretAccessKey: 'x' },
    });
    const e2 = await denied(
      stranger.send(new GetItemCommand({ TableName: platform().tableName, Key: { pk: { S: 'a' }, sk: { S: 'b' } } })),
    );
    expect(e2.name).toBe('UnrecognizedClientException');
  });

  it('a tampered signature is refused before any policy is read', async () => {
    const { accessKeyId } = readProfile(platform().dataDir, 'admin');
    const wrong = new DynamoDBClient({
      endpoint: platform().dynamodbEndpoint,
      region: 'us-east-1',
      credentials: { accessKeyId, secretAccessKey: 'not-the-secret' },
    });
    const e = await denied(
      wrong.send(new GetItemCommand({ TableName: platform().tableName, Key: { pk: { S: 'a' }, sk: { S: 'b' } } })),
    );
    expect(e.name).toBe('InvalidSignatureException');
  });

  it.skipIf(!hasAwsCli())('the AWS CLI, given the credentials file and a profile, gets the same answers', async () => {
    const cli = (profile: string, ...args: string[]) =>
      new Promise<{ code: number; out: string }>((resolve) =>
        execFile(
          'aws',
          ['--profile', profile, '--endpoint-url', platform().secretsManagerUrl, ...args],
          {
            env: {
              ...process.env,
              AWS_SHARED_CREDENTIALS_FILE: platform().credentialsFile,
              AWS_DEFAULT_REGION: 'us-east-1',
              AWS_ACCESS_KEY_ID: '',
              AWS_SECRET_ACCESS_KEY: '',
            },
          },
          (err, stdout, stderr) => resolve({ code: err ? 1 : 0, out: stdout + stderr }),
        ),
      );
    const secret = merchantSecretId(demo().merchant_id);
    const no = await cli('tokens', 'secretsmanager', 'get-secret-value', '--secret-id', secret);
    expect(no.code).toBe(1);
    expect(no.out).toContain('AccessDeniedException');
    const yes = await cli('charges', 'secretsmanager', 'describe-secret', '--secret-id', secret);
    // charges may read the value, not describe the secret: the template grants only what it uses.
    expect(yes.out).toContain('AccessDeniedException');
    const read = await cli('charges', 'secretsmanager', 'get-secret-value', '--secret-id', secret, '--query', 'Name');
    expect(read.code).toBe(0);
    expect(read.out.trim()).toBe(JSON.stringify(secret));
  });
});

function hasAwsCli(): boolean {
  const r = spawnSync('aws', ['--version'], { encoding: 'utf8' });
  if (r.status === 0) return true;
  console.warn('aws (the AWS CLI) is not installed: its IAM test is skipped (apt-get install awscli)');
  return false;
}
