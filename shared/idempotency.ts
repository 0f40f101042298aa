/**
 * Idempotency for the money-moving POSTs (API.md §1.3).
 *
 * The protocol is the one of Powertools' DynamoDBPersistenceLayer — one conditional write claims
 * the key, a record carries the request's hash, its state and its response, with a TTL of 24 h —
 * but we do not use Powertools' utility itself, because our semantics depart from it where money
 * needs it:
 *  - the key is scoped per merchant (`MERCHANT#<id>` / `IDEM#*#<key>`), not per function, and not per
 *    route either: the same key on another route is a reuse (422), which the request hash, route
 *    included, detects;
 *  - a definitive failure (a decline) is replayed like a success; Powertools replays only successes;
 *  - an unknown outcome (Clover timed out, dropped the connection, answered 5xx) keeps the record
 *    as `retryable` together with the id of the resource it created (the pending charge), so that a
 *    retry re-sends the *same* Clover request with the *same* Clover key; Powertools deletes the
 *    record on error, which would let a retry create a second charge;
 *  - in-flight duplicates get 409 with Retry-After, reuse with another body 422 (IETF draft).
 *  - the claim is written in the same DynamoDB transaction as the ledger record it guards, so a
 *    warm charge costs two writes in all (claim + result).
 */
import { createHash } from 'node:crypto';
import { ConditionalCheckFailedException, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { GetCommand, TransactWriteCommand, type TransactWriteCommandInput, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyResult } from 'aws-lambda';
import { dynamo } from './aws';
import { config } from './config';
import { ApiError } from './http/errors';
import { pk, sk } from './store/keys';

export const IDEMPOTENCY_TTL_S = 24 * 3600;
/** How long a claim is honoured before another request may take over a crashed one. */
export const CLAIM_LEASE_MS = 30_000;

export type TransactItem = NonNullable<TransactWriteCommandInput['TransactItems']>[number];

export interface IdempotencyRecord {
  pk: string;
  sk: string;
  status: 'in_progress' | 'completed' | 'retryable';
  request_hash: string;
  lease_until: number;
  owner: string;
  resource_id?: string;
  response?: { statusCode: number; body: string };
  expires_at_epoch: number;
}

export interface Claim {
  readonly merchantId: string;
  readonly routeKey: string;
  readonly clientKey: string;
  readonly owner: string;
  /** Set when this request takes over a retryable record: the resource the first attempt made. */
  readonly resourceId?: string;
  readonly key: { pk: string; sk: string };
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
 * The key sent on to Clover: derived from merchant, route and client key, so that every retry of
 * one request — by the caller or by the reconciler — carries the same Clover key. Formatted as a
 * v4 UUID, which is what Clover asks for.
 */
export function cloverIdempotencyKey(merchantId: string, routeKey: string, clientKey: string): string {
  const h = createHash('sha256').update(`${merchantId}\n${routeKey}\n${clientKey}`).digest();
  h[6] = (h[6]! & 0x0f) | 0x40;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`;
}

/** One record per merchant and client key, whatever the route (API.md §1.3: another route is a reuse). */
function recordKey(merchantId: string, clientKey: string): { pk: string; sk: string } {
  return { pk: pk.merchant(merchantId), sk: sk.idempotency('*', clientKey) };
}

export type ClaimOutcome =
  | { readonly kind: 'claimed'; readonly claim: Claim }
  | { readonly kind: 'replay'; readonly response: APIGatewayProxyResult };

/**
 * Claims the key. `first` holds the ledger writes of a first attempt; they are written in the same
 * transaction as the claim, so either both exist or neither does. When the key exists already,
 * the outcome is a replay, a 409, a 422, or — for a retryable or abandoned record — a takeover
 * that returns the claim with the first attempt's `resourceId` (and writes nothing else).
 */
export async function claim(
  merchantId: string,
  routeKey: string,
  clientKey: string,
  hash: string,
  first: { resourceId: string; items: TransactItem[] },
  owner: string,
  now = Date.now(),
): Promise<ClaimOutcome> {
  const key = recordKey(merchantId, clientKey);
  const base = { merchantId, routeKey, clientKey, owner, key };
  const record: IdempotencyRecord = {
    ...key,
    status: 'in_progress',
    request_hash: hash,
    lease_until: now + CLAIM_LEASE_MS,
    owner,
    resource_id: first.resourceId,
    expires_at_epoch: Math.floor(now / 1000) + IDEMPOTENCY_TTL_S,
  };
  try {
    await dynamo.send(
      new TransactWriteCommand({
        TransactItems: [
          {
            Put: {
              TableName: config.tableName,
              Item: record,
              // An expired record (TTL deletion is lazy) counts as absent.
              ConditionExpression: 'attribute_not_exists(pk) OR expires_at_epoch < :nowS',
              ExpressionAttributeValues: { ':nowS': Math.floor(now / 1000) },
            },
          },
          ...first.items,
        ],
      }),
    );
    return { kind: 'claimed', claim: { ...base } };
  } catch (e) {
    if (!(e instanceof TransactionCanceledException)) throw e;
    const reasons = e.CancellationReasons ?? [];
    if (reasons[0]?.Code !== 'ConditionalCheckFailed') {
      // One of the caller's ledger writes failed its condition, or a conflicting transaction ran at once.
      const failed = reasons.findIndex((r) => r.Code === 'ConditionalCheckFailed');
      if (failed > 0) throw new LedgerConditionFailed(failed - 1);
      if (reasons.some((r) => r.Code === 'TransactionConflict')) throw inProgress();
      throw e;
    }
  }
  const existing = (await dynamo.send(new GetCommand({ TableName: config.tableName, Key: key, ConsistentRead: true })))
    .Item as IdempotencyRecord | undefined;
  if (!existing) throw inProgress(); // deleted between our write and read: let the caller retry
  if (existing.request_hash !== hash) throw reused();
  if (existing.status === 'completed' && existing.response) {
    return { kind: 'replay', response: replayOf(existing.response) };
  }
  if (existing.status === 'in_progress' && existing.lease_until > now) throw inProgress();
  // Retryable, or in progress but abandoned (its Lambda died): take it over.
  try {
    await dynamo.send(
      new UpdateCommand({
        TableName: config.tableName,
        Key: key,
        UpdateExpression: 'SET #s = :inp, lease_until = :until, #o = :me',
        ConditionExpression: '#o = :prev AND (#s = :retryable OR (#s = :inp AND lease_until < :now))',
        ExpressionAttributeNames: { '#s': 'status', '#o': 'owner' },
        ExpressionAttributeValues: {
          ':inp': 'in_progress',
          ':retryable': 'retryable',
          ':until': now + CLAIM_LEASE_MS,
          ':me': owner,
          ':prev': existing.owner,
          ':now': now,
        },
      }),
    );
  } catch (e) {
    if (e instanceof ConditionalCheckFailedException) throw inProgress();
    throw e;
  }
  return {
    kind: 'claimed',
    claim: { ...base, ...(existing.resource_id ? { resourceId: existing.resource_id } : {}) },
  };
}

export type PriorAttempt =
  | { readonly kind: 'replay'; readonly response: APIGatewayProxyResult }
  /** The same request ran before and its outcome is not known yet: let it through to be retried. */
  | { readonly kind: 'unresolved' };

/**
 * Looks the key up before a use case checks the resource as it is now. Those checks judge a new
 * request; an answered one is replayed (or refused as a reuse) even when the resource has moved on
 * since — a refunded charge, a paid session — and an unresolved one must reach `claim` to be retried,
 * although its own pending write (a refund's reservation, a session's lock) makes it look refused.
 */
export async function priorAttempt(
  merchantId: string,
  clientKey: string,
  hash: string,
  now = Date.now(),
): Promise<PriorAttempt | null> {
  const existing = (
    await dynamo.send(
      new GetCommand({ TableName: config.tableName, Key: recordKey(merchantId, clientKey), ConsistentRead: true }),
    )
  ).Item as IdempotencyRecord | undefined;
  if (!existing || existing.expires_at_epoch < Math.floor(now / 1000)) return null;
  if (existing.request_hash !== hash) throw reused();
  if (existing.status === 'completed' && existing.response) {
    return { kind: 'replay', response: replayOf(existing.response) };
  }
  return { kind: 'unresolved' };
}

/** A ledger write of the claim transaction failed its condition; `index` is its place in `first.items`. */
export class LedgerConditionFailed extends Error {
  constructor(readonly index: number) {
    super(`ledger condition ${index} failed`);
    this.name = 'LedgerConditionFailed';
  }
}

const inProgress = () =>
  new ApiError(
    409,
    'idempotency_error',
    'idempotency_in_progress',
    'A request with this Idempotency-Key is still being processed; retry in a second.',
    { retryAfter: 1 },
  );

const reused = () =>
  new ApiError(
    422,
    'idempotency_error',
    'idempotency_key_reused',
    'This Idempotency-Key was already used with another request; use a new key for a new request.',
  );

function replayOf(stored: { statusCode: number; body: string }): APIGatewayProxyResult {
  return {
    statusCode: stored.statusCode,
    headers: { 'Content-Type': 'application/json', 'Idempotent-Replayed': 'true' },
    body: stored.body,
  };
}

/**
 * What becomes of a claim when its request ends:
 *  - `completed`: a definitive outcome, replayed to every retry;
 *  - `retryable`: the outcome is unknown (the ledger holds a pending record); a retry re-sends it;
 *  - `forget`: nothing happened at Clover (it answered 429): the claim is deleted, as Powertools
 *    does on error, and a retry starts afresh with the same Clover key.
 */
export type ClaimEnd = 'completed' | 'retryable' | 'forget';

export const endOf = (o: { state: string; definitive?: boolean }): ClaimEnd =>
  o.state === 'pending' ? 'retryable' : o.state === 'failed' && o.definitive === false ? 'forget' : 'completed';

/** The write that records the outcome, to put in the same transaction as the ledger update. */
export function completeItem(c: Claim, response: APIGatewayProxyResult, end: ClaimEnd | boolean): TransactItem {
  const mode: ClaimEnd = end === true ? 'completed' : end === false ? 'retryable' : end;
  if (mode === 'forget') {
    return {
      Delete: {
        TableName: config.tableName,
        Key: c.key,
        ConditionExpression: '#o = :me',
        ExpressionAttributeNames: { '#o': 'owner' },
        ExpressionAttributeValues: { ':me': c.owner },
      },
    };
  }
  const definitive = mode === 'completed';
  return {
    Update: {
      TableName: config.tableName,
      Key: c.key,
      UpdateExpression: definitive ? 'SET #s = :s, #r = :r' : 'SET #s = :s REMOVE #r',
      ConditionExpression: '#o = :me',
      ExpressionAttributeNames: { '#s': 'status', '#o': 'owner', '#r': 'response' },
      ExpressionAttributeValues: {
        ':s': definitive ? 'completed' : 'retryable',
        ':me': c.owner,
        ...(definitive ? { ':r': { statusCode: response.statusCode, body: response.body } } : {}),
      },
    },
  };
}

/** Gives a claim up as retryable without touching the ledger (e.g. our own dependency failed). */
export async function releaseClaim(c: Claim): Promise<void> {
  try {
    await dynamo.send(
      new UpdateCommand({
        TableName: config.tableName,
        Key: c.key,
        UpdateExpression: 'SET #s = :s, lease_until = :zero',
        ConditionExpression: '#o = :me',
        ExpressionAttributeNames: { '#s': 'status', '#o': 'owner' },
        ExpressionAttributeValues: { ':s': 'retryable', ':me': c.owner, ':zero': 0 },
      }),
    );
  } catch (e) {
    if (!(e instanceof ConditionalCheckFailedException)) throw e;
  }
}

/**
 * The reconciler's way in: takes over a retryable or abandoned claim without knowing the request
 * (it re-sends what the ledger recorded). Returns null when a live request holds it.
 */
export async function takeOver(
  merchantId: string,
  routeKey: string,
  clientKey: string,
  owner: string,
  now = Date.now(),
): Promise<Claim | null> {
  const key = recordKey(merchantId, clientKey);
  try {
    const r = await dynamo.send(
      new UpdateCommand({
        TableName: config.tableName,
        Key: key,
        UpdateExpression: 'SET #s = :inp, lease_until = :until, #o = :me',
        ConditionExpression: '#s = :retryable OR (#s = :inp AND lease_until < :now)',
        ExpressionAttributeNames: { '#s': 'status', '#o': 'owner' },
        ExpressionAttributeValues: {
          ':inp': 'in_progress',
          ':retryable': 'retryable',
          ':until': now + CLAIM_LEASE_MS,
          ':me': owner,
          ':now': now,
        },
        ReturnValues: 'ALL_NEW',
      }),
    );
    const rec = r.Attributes as IdempotencyRecord;
    return { merchantId, routeKey, clientKey, owner, key, ...(rec.resource_id ? { resourceId: rec.resource_id } : {}) };
  } catch (e) {
    if (e instanceof ConditionalCheckFailedException) return null;
    throw e;
  }
}
