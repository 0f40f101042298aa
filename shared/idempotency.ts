/**
 * Idempotency for the money-moving POSTs (API.md §1.3).
 *
 * One small record per merchant and client key (`MERCHANT#<id>` / `IDEM#*#<key>`) claims the key
 * with one conditional PutItem (Powertools' DynamoDBPersistenceLayer protocol) and names the
 * operation it started: the charge, capture or refund record, which carries everything else — its
 * state, its lease (who may call Clover for it now) and, once resolved, its answer. So:
 *  - the key is scoped per merchant, not per route: the same key on another route is a reuse (422),
 *    which the request hash, route included, detects;
 *  - a replay is rendered from the resolved operation (shared/payments/answers.ts), always the same
 *    status and body as its first definitive answer, so completing a request writes nothing here;
 *  - an unresolved operation is retried, never answered from here, and the reconciler keeps its key
 *    alive (`keepKeyAlive`) for as long as it stays unresolved, so a late retry can never start a
 *    second one;
 *  - in-flight duplicates get 409 with Retry-After (the operation's lease), reuse with another body
 *    422 (IETF draft).
 * A request refused before Clover was called (validation, state conflicts) gives its key back
 * (`releaseKey`): nothing is remembered, as with Stripe.
 */
import { createHash } from 'node:crypto';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyResult } from 'aws-lambda';
import { dynamo } from './aws';
import { config } from './config';
import { ApiError } from './http/errors';
import type { Operation } from './payments/evidence';
import { pk, sk } from './store/keys';

export const IDEMPOTENCY_TTL_S = 24 * 3600;

export interface KeyRecord {
  pk: string;
  sk: string;
  request_hash: string;
  op: Operation;
  /** The sort key of the operation's record (`CHARGE#ch_…`, `CAPTURE#cp_…`, `REFUND#re_…`). */
  resource: string;
  /** Epoch ms; until CLAIM_LEASE_MS after it, a key whose operation is not written yet is in flight. */
  created_ms: number;
  expires_at_epoch: number;
  /** Records written before money core v2: a completed one still replays its stored answer. */
  status?: string;
  response?: { statusCode: number; body: string };
}

/** `Idempotency-Key`: 1 to 255 printable ASCII characters. */
export function validateIdempotencyKey(value: string | undefined): string {
  if (value === undefined || value === '') {
    throw new ApiError(
      400,
      'idempotency_error',
      'idempotency_key_missing',
      'This request needs an Idempotency-Key header.',
    );
  }
  if (value.length > 255 || !/^[\x20-\x7e]+$/.test(value)) {
    throw new ApiError(
      400,
      'idempotency_error',
      'idempotency_key_invalid',
      'Idempotency-Key must be 1 to 255 printable ASCII characters.',
    );
  }
  return value;
}

/** A stable hash of what the request asks for: route, path parameters and body, key order ignored. */
export function requestHash(routeKey: string, params: unknown, body: unknown): string {
  return createHash('sha256')
    .update(canonicalJson([routeKey, params, body]))
    .digest('hex');
}

export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

/**
 * The key sent on to Clover: derived from the operation's own id (`ch_…`, `cp_…`, `re_…`), so every
 * send of one operation — the first, a caller's retry, the reconciler's — carries the same Clover
 * key, and no two operations ever share one, whatever the client keys. Formatted as a v4 UUID,
 * which is what Clover asks for.
 */
export function cloverIdempotencyKey(merchantId: string, operationId: string): string {
  const h = createHash('sha256').update(`clover-key\n${merchantId}\n${operationId}`).digest();
  h[6] = (h[6]! & 0x0f) | 0x40;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`;
}

/** One record per merchant and client key, whatever the route (API.md §1.3: another route is a reuse). */
export function keyOf(merchantId: string, clientKey: string): { pk: string; sk: string } {
  return { pk: pk.merchant(merchantId), sk: sk.idempotency('*', clientKey) };
}

export type KeyClaim = { readonly kind: 'claimed' } | { readonly kind: 'existing'; readonly record: KeyRecord };

/**
 * Claims the key for a new operation (`resource`), or finds who has it: the same request (its
 * record is returned: replay, in flight, or unresolved) or another one (422).
 */
export async function claimKey(
  merchantId: string,
  clientKey: string,
  hash: string,
  op: Operation,
  resource: string,
  now: number,
): Promise<KeyClaim> {
  const key = keyOf(merchantId, clientKey);
  const record: KeyRecord = {
    ...key,
    request_hash: hash,
    op,
    resource,
    created_ms: now,
    expires_at_epoch: Math.floor(now / 1000) + IDEMPOTENCY_TTL_S,
  };
  try {
    await dynamo.send(
      new PutCommand({
        TableName: config.tableName,
        Item: record,
        // An expired record (TTL deletion is lazy) counts as absent.
        ConditionExpression: 'attribute_not_exists(pk) OR expires_at_epoch < :nowS',
        ExpressionAttributeValues: { ':nowS': Math.floor(now / 1000) },
      }),
    );
    return { kind: 'claimed' };
  } catch (e) {
    if (!(e instanceof ConditionalCheckFailedException)) throw e;
  }
  const existing = await findKey(merchantId, clientKey, hash, now);
  // Deleted between our write and read (a refused request gave it back): let the caller retry.
  if (!existing) throw inProgress();
  return { kind: 'existing', record: existing };
}

/** The key's record when this same request has it (null when free); 422 when another request has it. */
export async function findKey(
  merchantId: string,
  clientKey: string,
  hash: string,
  now: number,
): Promise<KeyRecord | null> {
  const r = await dynamo.send(
    new GetCommand({ TableName: config.tableName, Key: keyOf(merchantId, clientKey), ConsistentRead: true }),
  );
  const existing = r.Item as KeyRecord | undefined;
  if (!existing || existing.expires_at_epoch < Math.floor(now / 1000)) return null;
  if (existing.request_hash !== hash) throw reused();
  return existing;
}

/** A request refused before anything was sent gives its key back, so the key can be used again. */
export async function releaseKey(merchantId: string, clientKey: string, resource: string): Promise<void> {
  try {
    await dynamo.send(
      new DeleteCommand({
        TableName: config.tableName,
        Key: keyOf(merchantId, clientKey),
        ConditionExpression: '#r = :r',
        ExpressionAttributeNames: { '#r': 'resource' },
        ExpressionAttributeValues: { ':r': resource },
      }),
    );
  } catch (e) {
    if (!(e instanceof ConditionalCheckFailedException)) throw e;
  }
}

/** While its operation is unresolved a key must not expire: a late retry would start a second one. */
export async function keepKeyAlive(
  merchantId: string,
  clientKey: string,
  resource: string,
  untilEpochS: number,
): Promise<void> {
  try {
    await dynamo.send(
      new UpdateCommand({
        TableName: config.tableName,
        Key: keyOf(merchantId, clientKey),
        UpdateExpression: 'SET expires_at_epoch = :until',
        ConditionExpression: '#r = :r AND expires_at_epoch < :until',
        ExpressionAttributeNames: { '#r': 'resource' },
        ExpressionAttributeValues: { ':r': resource, ':until': untilEpochS },
      }),
    );
  } catch (e) {
    if (!(e instanceof ConditionalCheckFailedException)) throw e;
  }
}

export const inProgress = (charge?: string): ApiError =>
  new ApiError(
    409,
    'idempotency_error',
    'idempotency_in_progress',
    'A request with this Idempotency-Key is still being processed; retry in a second.',
    { retryAfter: 1, ...(charge ? { charge } : {}) },
  );

const reused = () =>
  new ApiError(
    422,
    'idempotency_error',
    'idempotency_key_reused',
    'This Idempotency-Key was already used with another request; use a new key for a new request.',
  );

/** A stored answer, answered again. */
export function replayed(response: APIGatewayProxyResult): APIGatewayProxyResult {
  return { ...response, headers: { ...response.headers, 'Idempotent-Replayed': 'true' } };
}
