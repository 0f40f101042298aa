/**
 * API Gateway REST proxy events, shaped as local/gateway.ts builds them, for calling handlers in
 * process (the bench) or in a child process (bench/call-child.ts). The authorizer's context goes
 * in `requestContext.authorizer`, as API Gateway passes it after a successful authorization.
 */
import { randomUUID } from 'node:crypto';
import type { APIGatewayProxyEvent, APIGatewayRequestAuthorizerEvent } from 'aws-lambda';

export interface Caller {
  readonly merchantId: string;
  readonly kind: 'publishable' | 'secret';
  readonly key: string;
  readonly keyId: string;
}

export interface EventSpec {
  readonly method: 'GET' | 'POST';
  /** The resource path of the route (`/v1/charges`, `/v1/charges/{id}/capture`). */
  readonly resource: string;
  readonly path?: string;
  readonly pathParameters?: Record<string, string> | null;
  readonly body?: unknown;
  readonly idempotencyKey?: string;
  readonly caller?: Caller;
}

const ACCOUNT = '000000000000';
const REGION = 'us-east-1';
const SOURCE_IP = '127.0.0.1';

export function proxyEvent(spec: EventSpec, requestId: string = randomUUID()): APIGatewayProxyEvent {
  const path = spec.path ?? spec.resource;
  const headers: Record<string, string> = {
    Host: '127.0.0.1',
    'User-Agent': 'clover-bench',
    Accept: '*/*',
    'X-Forwarded-For': SOURCE_IP,
  };
  if (spec.caller) headers.Authorization = `Bearer ${spec.caller.key}`;
  if (spec.body !== undefined) headers['Content-Type'] = 'application/json';
  if (spec.idempotencyKey) headers['Idempotency-Key'] = spec.idempotencyKey;
  const multiValueHeaders: Record<string, string[]> = {};
  for (const [k, v] of Object.entries(headers)) multiValueHeaders[k] = [v];
  const now = new Date();
  return {
    resource: spec.resource,
    path,
    httpMethod: spec.method,
    headers,
    multiValueHeaders,
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    pathParameters: spec.pathParameters ?? null,
    stageVariables: null,
    body: spec.body === undefined ? null : JSON.stringify(spec.body),
    isBase64Encoded: false,
    requestContext: {
      accountId: ACCOUNT,
      apiId: 'local',
      authorizer: spec.caller
        ? {
            principalId: spec.caller.merchantId,
            merchant_id: spec.caller.merchantId,
            key_kind: spec.caller.kind,
            key_id: spec.caller.keyId,
          }
        : null,
      domainName: '127.0.0.1',
      domainPrefix: 'localhost',
      extendedRequestId: requestId,
      httpMethod: spec.method,
      identity: {
        accessKey: null,
        accountId: null,
        apiKey: null,
        apiKeyId: null,
        caller: null,
        clientCert: null,
        cognitoAuthenticationProvider: null,
        cognitoAuthenticationType: null,
        cognitoIdentityId: null,
        cognitoIdentityPoolId: null,
        principalOrgId: null,
        sourceIp: SOURCE_IP,
        user: null,
        userAgent: 'clover-bench',
        userArn: null,
      },
      path: `/local${path}`,
      protocol: 'HTTP/1.1',
      requestId,
      requestTime: now.toUTCString(),
      requestTimeEpoch: now.getTime(),
      resourceId: spec.resource,
      resourcePath: spec.resource,
      stage: 'local',
    },
  };
}

/** The REQUEST authorizer's event for a request carrying `key` (a cache miss at API Gateway). */
export function authorizerEvent(spec: EventSpec, key: string, requestId: string = randomUUID()) {
  const e = proxyEvent({ ...spec, caller: undefined }, requestId);
  e.headers.Authorization = `Bearer ${key}`;
  return {
    ...e,
    type: 'REQUEST',
    methodArn: `arn:aws:execute-api:${REGION}:${ACCOUNT}:local/local/${spec.method}${spec.resource}`,
  } as unknown as APIGatewayRequestAuthorizerEvent;
}

/** A card the emulator approves, with an expiry three years ahead. */
export const TEST_CARD = {
  number: '4242424242424242',
  exp_month: '12',
  exp_year: String(new Date().getUTCFullYear() + 3),
  cvv: '123',
};
