/**
 * API Gateway REST proxy events, shaped as local/gateway.ts builds them, for calling handlers in
 * process (the bench) or in a child process (bench/call-child.ts). The authorizer's context goes
 * in `requestContext.authorizer`, as API Gateway passes it after a successful authorization.
 */
import { randomUUID } from 'node:crypto';
import type { APIGatewayProxyEvent, APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import { proxyEvent as gatewayProxyEvent } from '../local/gateway';

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
  const headers: Record<string, string> = { Host: '127.0.0.1', 'User-Agent': 'clover-bench', Accept: '*/*' };
  if (spec.caller) headers.Authorization = `Bearer ${spec.caller.key}`;
  if (spec.body !== undefined) headers['Content-Type'] = 'application/json';
  if (spec.idempotencyKey) headers['Idempotency-Key'] = spec.idempotencyKey;
  // The same builder the local gateway uses, so the bench calls handlers with the gateway's events.
  const e = gatewayProxyEvent({
    method: spec.method,
    url: new URL(spec.path ?? spec.resource, 'http://127.0.0.1'),
    rawHeaders: Object.entries(headers).flat(),
    body: Buffer.from(spec.body === undefined ? '' : JSON.stringify(spec.body)),
    sourceIp: SOURCE_IP,
    resource: spec.resource,
    pathParameters: spec.pathParameters ?? null,
    requestId,
  });
  if (spec.caller) {
    e.requestContext.authorizer = {
      principalId: spec.caller.merchantId,
      merchant_id: spec.caller.merchantId,
      key_kind: spec.caller.kind,
      key_id: spec.caller.keyId,
    };
  }
  return e;
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
