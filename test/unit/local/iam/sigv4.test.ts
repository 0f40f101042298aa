/**
 * SigV4 verification against real signatures: the AWS SDK v3 clients the functions use (DynamoDB,
 * Secrets Manager) and API Gateway's (REST paths and query strings) sign requests to a capture
 * server, and the verifier must accept them as sent and reject every alteration the way AWS does.
 */
import { APIGatewayClient, GetRestApiCommand, GetRestApisCommand } from '@aws-sdk/client-api-gateway';
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SigningCredential, type SigV4Request, verifySigV4 } from '../../../../local/iam/sigv4';
import { type CapturedRequest, type CaptureServer, startCaptureServer } from './capture-server';

const KEY = { accessKeyId: 'ASIALOCALCHARGES0001', secretAccessKey: 'charges-secret', sessionToken: 'tok-charges' };
const PLAIN = { accessKeyId: 'AKIALOCALPLAIN000001', secretAccessKey: 'plain-secret' };
const keys = new Map<string, SigningCredential & { fn: string }>([
  [KEY.accessKeyId, { secretAccessKey: KEY.secretAccessKey, sessionToken: KEY.sessionToken, fn: 'charges' }],
  [PLAIN.accessKeyId, { secretAccessKey: PLAIN.secretAccessKey, fn: 'cli' }],
]);
const lookup = (id: string) => keys.get(id);

let server: CaptureServer;
beforeAll(async () => {
  server = await startCaptureServer();
});
afterAll(() => server.close());

const clientConfig = (credentials: typeof KEY | typeof PLAIN, region = 'us-east-1') => ({
  endpoint: server.url,
  region,
  credentials,
  maxAttempts: 1,
});

/** Sends one command and returns the request as the server received it. */
async function capture(send: () => Promise<unknown>): Promise<CapturedRequest> {
  const before = server.requests.length;
  await send().catch(() => undefined); // the capture server's reply may not parse as this operation's output
  const req = server.requests[before];
  if (!req) throw new Error('the client sent nothing');
  return req;
}

const asRequest = (c: CapturedRequest, over: Partial<SigV4Request> = {}): SigV4Request => ({
  method: c.method,
  url: c.url,
  headers: c.headers,
  body: c.body,
  ...over,
});

const signedAt = (c: CapturedRequest) => {
  const d = String(c.headers['x-amz-date']);
  return new Date(
    `${d.slice(0, 4)}-${d.slice(4, 6)}-${d.slice(6, 8)}T${d.slice(9, 11)}:${d.slice(11, 13)}:${d.slice(13, 15)}Z`,
  );
};
const at =
  (c: CapturedRequest, offsetMs = 0) =>
  () =>
    new Date(signedAt(c).getTime() + offsetMs);

describe('signatures made by the AWS SDK v3', () => {
  let dynamo: CapturedRequest;
  let secrets: CapturedRequest;
  let apiList: CapturedRequest;
  let apiGet: CapturedRequest;

  beforeAll(async () => {
    const ddb = new DynamoDBClient(clientConfig(KEY));
    dynamo = await capture(() =>
      ddb.send(new GetItemCommand({ TableName: 'clover-payments-sandbox', Key: { pk: { S: 'MERCHANT#M1' } } })),
    );
    const sm = new SecretsManagerClient(clientConfig(KEY, 'eu-west-1'));
    secrets = await capture(() => sm.send(new GetSecretValueCommand({ SecretId: 'clover-payments/sandbox/app' })));
    const apigw = new APIGatewayClient(clientConfig(PLAIN));
    apiList = await capture(() => apigw.send(new GetRestApisCommand({ limit: 5, position: 'a b/c+d=é&x' })));
    apiGet = await capture(() => apigw.send(new GetRestApiCommand({ restApiId: 'id with space/and ~slash!' })));
  });

  it('accepts a DynamoDB request as signed, and reports who signed it for which region and service', () => {
    expect(dynamo.headers['x-amz-target']).toBe('DynamoDB_20120810.GetItem');
    const r = verifySigV4(asRequest(dynamo), { lookup, service: 'dynamodb', now: at(dynamo) });
    expect(r).toMatchObject({ ok: true, accessKeyId: KEY.accessKeyId, region: 'us-east-1', service: 'dynamodb' });
    expect(r.ok && r.credential.fn).toBe('charges');
  });

  it('accepts a Secrets Manager request signed for another region', () => {
    const r = verifySigV4(asRequest(secrets), { lookup, service: 'secretsmanager', now: at(secrets) });
    expect(r).toMatchObject({ ok: true, region: 'eu-west-1', service: 'secretsmanager' });
  });

  it('accepts Node headersDistinct as well as headers', () => {
    const r = verifySigV4(asRequest(dynamo, { headers: dynamo.headersDistinct }), { lookup, now: at(dynamo) });
    expect(r.ok).toBe(true);
  });

  it('accepts query strings with reserved and non-ASCII characters (sorted, re-encoded)', () => {
    expect(apiList.url).toMatch(/^\/restapis\?/);
    expect(apiList.url).toContain('%20');
    const r = verifySigV4(asRequest(apiList), { lookup, service: 'apigateway', now: at(apiList) });
    expect(r).toMatchObject({ ok: true, service: 'apigateway' });
  });

  it('accepts an encoded path (the signer encodes it a second time)', () => {
    expect(apiGet.url).toContain('%2F');
    const r = verifySigV4(asRequest(apiGet), { lookup, now: at(apiGet) });
    expect(r.ok).toBe(true);
  });

  it('accepts a signature up to 15 minutes old or early, and rejects one past that as AWS words it', () => {
    const fifteen = 15 * 60_000;
    expect(verifySigV4(asRequest(dynamo), { lookup, now: at(dynamo, fifteen) }).ok).toBe(true);
    expect(verifySigV4(asRequest(dynamo), { lookup, now: at(dynamo, -fifteen) }).ok).toBe(true);
    const late = verifySigV4(asRequest(dynamo), { lookup, now: () => new Date('2030-01-01T00:30:00Z') });
    const d = String(dynamo.headers['x-amz-date']);
    expect(late).toEqual({
      ok: false,
      code: 'InvalidSignatureException',
      message: `Signature expired: ${d} is now earlier than 20300101T001500Z (20300101T003000Z - 15 min.)`,
    });
    const early = verifySigV4(asRequest(dynamo), { lookup, now: () => new Date('2000-01-01T00:00:00Z') });
    expect(early).toMatchObject({
      code: 'InvalidSignatureException',
      message: `Signature not yet current: ${d} is still later than 20000101T001500Z (20000101T000000Z + 15 min.)`,
    });
  });

  describe('rejects', () => {
    const mismatch = {
      ok: false,
      code: 'InvalidSignatureException',
      message:
        'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.',
    };

    it('a tampered body, even with x-amz-content-sha256 left as signed', () => {
      const body = Buffer.from(dynamo.body.toString().replace('MERCHANT#M1', 'MERCHANT#M2'));
      expect(dynamo.headers['x-amz-content-sha256']).toBeDefined();
      expect(verifySigV4(asRequest(dynamo, { body }), { lookup, now: at(dynamo) })).toMatchObject(mismatch);
      const noHash = { ...dynamo.headers };
      delete noHash['x-amz-content-sha256'];
      expect(verifySigV4(asRequest(dynamo, { body, headers: noHash }), { lookup, now: at(dynamo) })).toMatchObject(
        mismatch,
      );
    });

    it('a signature made with another secret, and says what it computed', () => {
      const wrong = (id: string) =>
        id === KEY.accessKeyId ? { secretAccessKey: 'not-it', sessionToken: 'tok-charges' } : undefined;
      const r = verifySigV4(asRequest(dynamo), { lookup: wrong, now: at(dynamo) });
      expect(r).toMatchObject(mismatch);
      expect(!r.ok && r.canonicalRequest).toContain('x-amz-target:DynamoDB_20120810.GetItem');
      expect(!r.ok && r.stringToSign).toMatch(
        /^AWS4-HMAC-SHA256\n\d{8}T\d{6}Z\n\d{8}\/us-east-1\/dynamodb\/aws4_request\n[0-9a-f]{64}$/,
      );
    });

    it('a changed signed header, query parameter, path or method', () => {
      const opts = { lookup, now: at(apiList) };
      const target = { ...dynamo.headers, 'x-amz-target': 'DynamoDB_20120810.PutItem' };
      expect(verifySigV4(asRequest(dynamo, { headers: target }), { lookup, now: at(dynamo) })).toMatchObject(mismatch);
      expect(verifySigV4(asRequest(apiList, { url: apiList.url.replace('limit=5', 'limit=6') }), opts)).toMatchObject(
        mismatch,
      );
      expect(verifySigV4(asRequest(apiList, { url: `${apiList.url}&extra=1` }), opts)).toMatchObject(mismatch);
      expect(
        verifySigV4(asRequest(apiGet, { url: apiGet.url.replace('%2F', '/') }), { lookup, now: at(apiGet) }),
      ).toMatchObject(mismatch);
      expect(verifySigV4(asRequest(apiList, { method: 'DELETE' }), opts)).toMatchObject(mismatch);
    });

    it('an unknown access key, or a session token that is missing or not the key’s', () => {
      const unknown = {
        ok: false,
        code: 'UnrecognizedClientException',
        message: 'The security token included in the request is invalid.',
      };
      expect(verifySigV4(asRequest(dynamo), { lookup: () => undefined, now: at(dynamo) })).toEqual(unknown);
      const noToken = { ...dynamo.headers };
      delete noToken['x-amz-security-token'];
      expect(verifySigV4(asRequest(dynamo, { headers: noToken }), { lookup, now: at(dynamo) })).toEqual(unknown);
      const otherToken = { ...dynamo.headers, 'x-amz-security-token': 'tok-other' };
      expect(verifySigV4(asRequest(dynamo, { headers: otherToken }), { lookup, now: at(dynamo) })).toEqual(unknown);
    });

    it('a credential scoped to another service', () => {
      expect(verifySigV4(asRequest(secrets), { lookup, service: 'dynamodb', now: at(secrets) })).toEqual({
        ok: false,
        code: 'InvalidSignatureException',
        message: "Credential should be scoped to correct service: 'dynamodb'. ",
      });
    });

    it('a request without Authorization', () => {
      const headers = { ...dynamo.headers };
      delete headers.authorization;
      expect(verifySigV4(asRequest(dynamo, { headers }), { lookup })).toEqual({
        ok: false,
        code: 'MissingAuthenticationTokenException',
        message: 'Request is missing Authentication Token',
      });
    });

    it('an Authorization header that is not SigV4, or lacks its parts or a date', () => {
      const bearer = { ...dynamo.headers, authorization: 'Bearer abc' };
      expect(verifySigV4(asRequest(dynamo, { headers: bearer }), { lookup })).toEqual({
        ok: false,
        code: 'IncompleteSignatureException',
        message:
          "Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders' parameter. Authorization=Bearer abc",
      });
      const noDate = { ...dynamo.headers };
      delete noDate['x-amz-date'];
      const r = verifySigV4(asRequest(dynamo, { headers: noDate }), { lookup });
      expect(r).toMatchObject({ code: 'IncompleteSignatureException' });
      expect(!r.ok && r.message).toMatch(
        /^Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header\. Authorization=AWS4-HMAC-SHA256 Credential=/,
      );
      const spaced = {
        ...dynamo.headers,
        authorization: String(dynamo.headers.authorization).replace('Credential=', 'Credential '),
      };
      const s = verifySigV4(asRequest(dynamo, { headers: spaced }), { lookup });
      expect(s).toMatchObject({ code: 'IncompleteSignatureException' });
      expect(!s.ok && s.message).toMatch(/not a valid key=value pair \(missing equal-sign\) in Authorization header/);
    });

    it('a credential scope whose date is not the request’s', () => {
      const headers = { ...dynamo.headers, 'x-amz-date': '20200101T000000Z' };
      const r = verifySigV4(asRequest(dynamo, { headers }), { lookup, now: () => new Date('2020-01-01T00:00:00Z') });
      expect(r).toMatchObject({ code: 'InvalidSignatureException' });
      expect(!r.ok && r.message).toMatch(/^Date in Credential scope does not match YYYYMMDD/);
    });
  });
});
