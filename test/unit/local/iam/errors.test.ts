/**
 * The refusals as the real SDK clients see them: each answer is served to a DynamoDB or Secrets
 * Manager client, which must raise the error class and message a function would get from AWS.
 * The last part runs the whole path a local endpoint will run — verify the signature, work out the
 * checks, evaluate the template's policies, answer the first denial.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { DynamoDBClient, GetItemCommand, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dynamoDbAuthorizations, keySchemaOf } from '../../../../local/iam/dynamodb-actions';
import {
  type AwsErrorResponse,
  accessDeniedMessage,
  accessDeniedResponse,
  authFailureResponse,
  denialResponse,
  kmsAccessDeniedResponse,
} from '../../../../local/iam/errors';
import { firstDenial } from '../../../../local/iam/policy';
import { secretsManagerAuthorizations } from '../../../../local/iam/secretsmanager-actions';
import { verifySigV4 } from '../../../../local/iam/sigv4';
import { functionsFromTemplate, kmsKeyResolver, localKmsKeyId } from '../../../../local/iam/template';
import { tableDefinition } from '../../../../shared/table';
import { type CaptureServer, type Reply, startCaptureServer } from './capture-server';

const ACCOUNT = '000000000000';
const TABLE = `arn:aws:dynamodb:us-east-1:${ACCOUNT}:table/clover-payments-sandbox`;
const CHARGES = `arn:aws:sts::${ACCOUNT}:assumed-role/FunctionsChargesRole921EBDBA/clover-payments-sandbox-charges`;
const MISMATCH =
  'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.';

let server: CaptureServer;
const config = () => ({
  endpoint: server.url,
  region: 'us-east-1',
  credentials: { accessKeyId: 'AKID', secretAccessKey: 'secret' },
  maxAttempts: 1,
});
beforeAll(async () => {
  server = await startCaptureServer();
});
afterAll(() => server.close());

const serve = (r: AwsErrorResponse): void => {
  server.reply = () => ({ status: r.status, headers: { ...r.headers }, body: r.body });
};
/** What the SDK throws for the served answer. */
async function thrown(send: () => Promise<unknown>): Promise<Error & Record<string, any>> {
  try {
    await send();
  } catch (e) {
    return e as Error & Record<string, any>;
  }
  throw new Error('the call succeeded');
}
const dynamo = () => new DynamoDBClient(config());
const getItem = () =>
  dynamo().send(new GetItemCommand({ TableName: 'clover-payments-sandbox', Key: { pk: { S: 'MERCHANT#M1' } } }));
const secrets = () => new SecretsManagerClient(config());
const getSecret = () => secrets().send(new GetSecretValueCommand({ SecretId: 'clover-payments/sandbox/merchants/M1' }));

describe('AccessDeniedException', () => {
  const denied = { principalArn: CHARGES, action: 'dynamodb:PutItem', resource: TABLE } as const;

  it('words an implicit and an explicit deny as AWS does, without "on resource" for "*"', () => {
    expect(accessDeniedMessage({ ...denied, decision: 'implicit_deny' })).toBe(
      `User: ${CHARGES} is not authorized to perform: dynamodb:PutItem on resource: ${TABLE} because no identity-based policy allows the dynamodb:PutItem action`,
    );
    expect(accessDeniedMessage({ ...denied, decision: 'explicit_deny' })).toBe(
      `User: ${CHARGES} is not authorized to perform: dynamodb:PutItem on resource: ${TABLE} with an explicit deny in an identity-based policy`,
    );
    expect(
      accessDeniedMessage({
        ...denied,
        action: 'secretsmanager:ListSecrets',
        resource: '*',
        decision: 'implicit_deny',
      }),
    ).toBe(
      `User: ${CHARGES} is not authorized to perform: secretsmanager:ListSecrets because no identity-based policy allows the secretsmanager:ListSecrets action`,
    );
  });

  it('DynamoDB: AWS JSON 1.0, coral namespace, Message, request id and CRC32; the SDK raises AccessDeniedException', async () => {
    const r = accessDeniedResponse('dynamodb', { ...denied, decision: 'implicit_deny' }, { requestId: 'REQ1' });
    expect(r.status).toBe(400);
    expect(JSON.parse(r.body)).toEqual({
      __type: 'com.amazon.coral.service#AccessDeniedException',
      Message: accessDeniedMessage({ ...denied, decision: 'implicit_deny' }),
    });
    expect(r.headers).toMatchObject({
      'content-type': 'application/x-amz-json-1.0',
      'x-amzn-RequestId': 'REQ1',
      'x-amz-crc32': String(crc32(r.body)),
    });
    serve(r);
    const e = await thrown(getItem);
    expect(e.name).toBe('AccessDeniedException');
    expect(e.message).toBe(accessDeniedMessage({ ...denied, decision: 'implicit_deny' }));
    expect(e.$fault).toBe('client');
    expect(e.$metadata).toMatchObject({ httpStatusCode: 400, requestId: 'REQ1' });
  });

  it('DynamoDB request ids look like DynamoDB’s', () => {
    const r = accessDeniedResponse('dynamodb', { ...denied, decision: 'implicit_deny' });
    expect(r.headers['x-amzn-RequestId']).toMatch(/^[A-Z0-9]{52}$/);
  });

  it('Secrets Manager: AWS JSON 1.1, bare type, x-amzn-ErrorType; the SDK raises AccessDeniedException', async () => {
    const d = {
      principalArn: CHARGES,
      action: 'secretsmanager:GetSecretValue',
      resource: 'clover-payments/sandbox/merchants/M1',
      decision: 'explicit_deny',
    } as const;
    const r = accessDeniedResponse('secretsmanager', d);
    expect(JSON.parse(r.body)).toEqual({ __type: 'AccessDeniedException', Message: accessDeniedMessage(d) });
    expect(r.headers).toMatchObject({
      'content-type': 'application/x-amz-json-1.1',
      'x-amzn-ErrorType': 'AccessDeniedException',
    });
    expect(r.headers['x-amzn-RequestId']).toMatch(/^[0-9a-f-]{36}$/);
    serve(r);
    const e = await thrown(getSecret);
    expect(e.name).toBe('AccessDeniedException');
    expect(e.message).toBe(accessDeniedMessage(d));
    expect(e.$metadata.httpStatusCode).toBe(400);
  });

  it('Secrets Manager’s KMS refusal: "Access to KMS is not allowed"', async () => {
    serve(kmsAccessDeniedResponse());
    const e = await thrown(getSecret);
    expect([e.name, e.message]).toEqual(['AccessDeniedException', 'Access to KMS is not allowed']);
  });
});

describe('authentication failures', () => {
  it.each([
    ['UnrecognizedClientException', 'The security token included in the request is invalid.'],
    ['InvalidSignatureException', MISMATCH],
    ['IncompleteSignatureException', "Authorization header requires 'Credential' parameter. Authorization=x"],
    ['MissingAuthenticationTokenException', 'Request is missing Authentication Token'],
  ] as const)('DynamoDB: %s reaches the SDK with its name and message', async (code, message) => {
    const r = authFailureResponse('dynamodb', { code, message, canonicalRequest: 'c', stringToSign: 's' });
    expect(JSON.parse(r.body)).toEqual({ __type: `com.amazon.coral.service#${code}`, message });
    serve(r);
    const e = await thrown(getItem);
    expect([e.name, e.message, e.$metadata.httpStatusCode]).toEqual([code, message, 400]);
  });

  it.each([
    ['UnrecognizedClientException', 'The security token included in the request is invalid.'],
    ['MissingAuthenticationTokenException', 'Request is missing Authentication Token'],
  ] as const)('Secrets Manager: %s reaches the SDK with its name and message', async (code, message) => {
    serve(authFailureResponse('secretsmanager', { code, message }));
    const e = await thrown(getSecret);
    expect([e.name, e.message]).toEqual([code, message]);
  });

  it('Secrets Manager spells out the canonical request and string to sign on a mismatch; DynamoDB does not', async () => {
    const failure = {
      code: 'InvalidSignatureException',
      message: MISMATCH,
      canonicalRequest: 'POST\n/\n\nhost:h\n\nhost\nabc',
      stringToSign: 'AWS4-HMAC-SHA256\n20240101T000000Z\n20240101/us-east-1/secretsmanager/aws4_request\ndef',
    } as const;
    serve(authFailureResponse('secretsmanager', failure));
    const e = await thrown(getSecret);
    expect(e.name).toBe('InvalidSignatureException');
    expect(e.message).toBe(
      `${MISMATCH}\n\nThe Canonical String for this request should have been\n'${failure.canonicalRequest}'\n\nThe String-to-Sign should have been\n'${failure.stringToSign}'\n`,
    );
    expect(JSON.parse(authFailureResponse('dynamodb', failure).body).message).toBe(MISMATCH);
  });
});

describe('the whole path a local endpoint runs', () => {
  const template: unknown = JSON.parse(readFileSync(join(__dirname, 'fixtures/sandbox.template.json'), 'utf8'));
  const fns = functionsFromTemplate(template);
  // Each function signs with credentials of its own.
  const credentials = Object.fromEntries(
    Object.keys(fns).map((name) => [name, { accessKeyId: `AKIA${name.toUpperCase()}`, secretAccessKey: `s-${name}` }]),
  );
  const byKey = new Map(Object.entries(credentials).map(([name, c]) => [c.accessKeyId, { name, ...c }]));
  const opsKey = `arn:aws:kms:us-east-1:${ACCOUNT}:key/${localKmsKeyId('KeysOpsC4FE816E')}`;

  /** The endpoint: signature, checks, policies, denial — or `{}` when everything is allowed. */
  const endpoint = (r: Parameters<CaptureServer['reply']>[0]): Reply => {
    const service = String(r.headers['x-amz-target']).startsWith('DynamoDB') ? 'dynamodb' : 'secretsmanager';
    const auth = verifySigV4({ ...r, headers: r.headers }, { lookup: (id) => byKey.get(id), service });
    const answer = (x: AwsErrorResponse): Reply => ({ status: x.status, headers: { ...x.headers }, body: x.body });
    if (!auth.ok) return answer(authFailureResponse(service, auth));
    const fn = fns[auth.credential.name]!;
    const body = JSON.parse(r.body.toString());
    const target = String(r.headers['x-amz-target']);
    const checks =
      service === 'dynamodb'
        ? dynamoDbAuthorizations(target, body, {
            region: auth.region,
            accountId: ACCOUNT,
            keySchema: () => keySchemaOf(tableDefinition),
          })
        : secretsManagerAuthorizations(target, body, {
            region: auth.region,
            accountId: ACCOUNT,
            resolveKmsKey: kmsKeyResolver(template),
            findSecret: (id) =>
              id.endsWith('/OPS')
                ? {
                    name: id,
                    arn: `arn:aws:secretsmanager:us-east-1:${ACCOUNT}:secret:${id}-AbCdEf`,
                    kmsKeyArn: opsKey,
                  }
                : undefined,
          });
    const denial = firstDenial(fn.policies, checks);
    if (denial) return answer(denialResponse(service, fn.sessionArn, denial));
    return {
      status: 200,
      headers: { 'content-type': `application/x-amz-json-1.${service === 'dynamodb' ? 0 : 1}` },
      body: '{}',
    };
  };
  const as = (name: string) => ({ ...config(), credentials: credentials[name]! });

  beforeAll(() => {
    server.reply = endpoint;
  });

  it('lets tokens read an item and refuses its write with the exact AccessDeniedException', async () => {
    const doc = DynamoDBDocumentClient.from(new DynamoDBClient(as('tokens')));
    await expect(
      doc.send(new GetCommand({ TableName: 'clover-payments-sandbox', Key: { pk: 'a', sk: 'b' } })),
    ).resolves.toMatchObject({
      $metadata: { httpStatusCode: 200 },
    });
    const e = await thrown(() =>
      doc.send(new PutCommand({ TableName: 'clover-payments-sandbox', Item: { pk: 'a', sk: 'b' } })),
    );
    expect(e.name).toBe('AccessDeniedException');
    expect(e.message).toBe(
      `User: arn:aws:sts::${ACCOUNT}:assumed-role/FunctionsTokensRole55225E6C/clover-payments-sandbox-tokens is not authorized to perform: dynamodb:PutItem on resource: ${TABLE} because no identity-based policy allows the dynamodb:PutItem action`,
    );
    const list = await thrown(() => new DynamoDBClient(as('tokens')).send(new ListTablesCommand({})));
    expect(list.message).toMatch(/is not authorized to perform: dynamodb:ListTables because no identity-based policy/);
  });

  it('names the secret as the caller gave it, and refuses a key the role may not use as Secrets Manager does', async () => {
    const e = await thrown(() =>
      new SecretsManagerClient(as('checkout-config')).send(
        new GetSecretValueCommand({ SecretId: 'clover-payments/sandbox/merchants/M1' }),
      ),
    );
    expect(e.message).toBe(
      `User: arn:aws:sts::${ACCOUNT}:assumed-role/FunctionsCheckoutConfigRoleAEC3CF74/clover-payments-sandbox-checkout-config is not authorized to perform: secretsmanager:GetSecretValue on resource: clover-payments/sandbox/merchants/M1 because no identity-based policy allows the secretsmanager:GetSecretValue action`,
    );
    const kms = await thrown(() =>
      new SecretsManagerClient(as('charges')).send(
        new GetSecretValueCommand({ SecretId: 'clover-payments/sandbox/merchants/OPS' }),
      ),
    );
    expect([kms.name, kms.message]).toEqual(['AccessDeniedException', 'Access to KMS is not allowed']);
  });

  it('refuses a function that signs with another function’s secret', async () => {
    const forged = {
      ...config(),
      credentials: { accessKeyId: credentials.tokens!.accessKeyId, secretAccessKey: 's-charges' },
    };
    const e = await thrown(() => new DynamoDBClient(forged).send(new ListTablesCommand({})));
    expect([e.name, e.message]).toEqual(['InvalidSignatureException', MISMATCH]);
    const unknown = { ...config(), credentials: { accessKeyId: 'AKIANOBODY', secretAccessKey: 'x' } };
    const u = await thrown(() => new DynamoDBClient(unknown).send(new ListTablesCommand({})));
    expect(u.name).toBe('UnrecognizedClientException');
  });
});
