/**
 * Events, webhook endpoints and deliveries in the single table, under the merchant's partition:
 *
 * | item      | sort key                         | notes                                              |
 * |-----------|----------------------------------|----------------------------------------------------|
 * | endpoint  | `WHEP#<we_id>`                   | url, enabled_events, secrets (current first)       |
 * | event     | `EVENT#<evt_id>`                 | the event as sent; TTL 30 days                     |
 * | delivery  | `EVDLV#<evt_id>#<dlv_id>`        | one per (event, endpoint, send); attempts; TTL 30 d |
 *
 * A queued delivery is in GSI1 under `EVENT_DELIVERIES_DUE`, sorted by its next attempt time, for
 * the deliverer's sweep; it leaves the index when delivered or given up (a sparse index: only the
 * backlog costs index writes).
 */
import { createHash } from 'node:crypto';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, GetCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { dynamo } from '../aws';
import { config } from '../config';
import { randomString } from '../ids';
import { pk } from '../store/keys';
import { EVENT_RETENTION_S, type EventType, type PaymentEvent, timePart } from './types';

const B32 = '0123456789abcdefghjkmnpqrstvwxyz';

export const eventKeys = {
  endpoint: (id: string) => `WHEP#${id}`,
  event: (id: string) => `EVENT#${id}`,
  delivery: (eventId: string, deliveryId: string) => `EVDLV#${eventId}#${deliveryId}`,
  deliveriesOf: (eventId: string) => `EVDLV#${eventId}#`,
  due: 'EVENT_DELIVERIES_DUE',
};

export const newEndpointId = (now = Date.now()) => `we_${timePart(now)}${randomString(14, B32)}`;
export const newDeliveryId = (now = Date.now()) => `dlv_${timePart(now)}${randomString(14, B32)}`;

export interface EndpointSecret {
  secret: string;
  /** Epoch ms after which this (previous) secret stops signing; absent on the current one. */
  expires_at?: number;
}

export interface EndpointRecord {
  pk: string;
  sk: string;
  object: 'webhook_endpoint';
  id: string;
  merchant_id: string;
  url: string;
  /** Event types, or `*` for all. */
  enabled_events: string[];
  status: 'enabled' | 'disabled';
  disabled_reason?: 'failing';
  secrets: EndpointSecret[];
  /** Epoch ms of the first failed attempt since the last success. */
  failing_since?: number;
  livemode: boolean;
  created: string;
}

export interface Attempt {
  at: string;
  /** The receiver's HTTP status; null when there was none (timeout, refused, SSRF). */
  status: number | null;
  duration_ms: number;
  error?: string;
}

export type DeliveryState = 'queued' | 'delivered' | 'failed' | 'canceled';

export interface DeliveryRecord {
  pk: string;
  sk: string;
  object: 'delivery';
  id: string;
  merchant_id: string;
  event: string;
  endpoint: string;
  state: DeliveryState;
  attempts: Attempt[];
  attempt_count: number;
  first_attempt_at?: number;
  next_attempt_at: number;
  lease_until?: number;
  created: string;
  gsi1pk?: string;
  gsi1sk?: string;
  expires_at_epoch: number;
}

export interface EventRecord extends PaymentEvent {
  pk: string;
  sk: string;
  merchant_id: string;
  expires_at_epoch: number;
}

const table = () => config.tableName;
const ttl = (nowMs: number) => Math.floor(nowMs / 1000) + EVENT_RETENTION_S;
/** Attempts kept on a delivery item (a whole 3-day series is ≤ 12). */
const MAX_ATTEMPTS_KEPT = 20;

export const dueKey = (nextAttemptAt: number, merchantId: string, sk: string) =>
  `${new Date(nextAttemptAt).toISOString()}#${merchantId}#${sk}`;

// ---- endpoints ----

export async function putEndpoint(e: EndpointRecord): Promise<void> {
  await dynamo.send(new PutCommand({ TableName: table(), Item: e, ConditionExpression: 'attribute_not_exists(pk)' }));
}

export async function getEndpoint(merchantId: string, id: string): Promise<EndpointRecord | null> {
  const r = await dynamo.send(
    new GetCommand({ TableName: table(), Key: { pk: pk.merchant(merchantId), sk: eventKeys.endpoint(id) } }),
  );
  return (r.Item as EndpointRecord | undefined) ?? null;
}

export async function listEndpoints(merchantId: string): Promise<EndpointRecord[]> {
  const out: EndpointRecord[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const r = await dynamo.send(
      new QueryCommand({
        TableName: table(),
        KeyConditionExpression: 'pk = :p AND begins_with(sk, :s)',
        ExpressionAttributeValues: { ':p': pk.merchant(merchantId), ':s': 'WHEP#' },
        ExclusiveStartKey: start,
      }),
    );
    out.push(...((r.Items ?? []) as EndpointRecord[]));
    start = r.LastEvaluatedKey;
  } while (start);
  return out;
}

export async function deleteEndpoint(merchantId: string, id: string): Promise<boolean> {
  const r = await dynamo.send(
    new DeleteCommand({
      TableName: table(),
      Key: { pk: pk.merchant(merchantId), sk: eventKeys.endpoint(id) },
      ReturnValues: 'ALL_OLD',
    }),
  );
  return r.Attributes !== undefined;
}

/** The new secret first; the previous one signs beside it until `previousUntil`. */
export async function rotateSecret(
  merchantId: string,
  id: string,
  secret: string,
  previousUntil: number,
  now: number,
): Promise<EndpointRecord | null> {
  const current = await getEndpoint(merchantId, id);
  if (!current) return null;
  const live = current.secrets.filter((s) => s.expires_at === undefined || s.expires_at > now);
  const previous = live.find((s) => s.expires_at === undefined);
  const secrets: EndpointSecret[] = [
    { secret },
    ...(previous ? [{ secret: previous.secret, expires_at: previousUntil }] : []),
  ];
  try {
    const r = await dynamo.send(
      new UpdateCommand({
        TableName: table(),
        Key: { pk: current.pk, sk: current.sk },
        UpdateExpression: 'SET secrets = :s',
        // Two rotations at once: one wins, the other answers as if it came first and lost.
        ConditionExpression: 'secrets = :old',
        ExpressionAttributeValues: { ':s': secrets, ':old': current.secrets },
        ReturnValues: 'ALL_NEW',
      }),
    );
    return r.Attributes as EndpointRecord;
  } catch (e) {
    if (e instanceof ConditionalCheckFailedException) return rotateSecret(merchantId, id, secret, previousUntil, now);
    throw e;
  }
}

/** After an attempt: a success clears `failing_since`; a failure sets it once. */
export async function recordEndpointHealth(e: EndpointRecord, ok: boolean, now: number): Promise<void> {
  if (ok && e.failing_since === undefined) return;
  if (!ok && e.failing_since !== undefined) return;
  await dynamo
    .send(
      new UpdateCommand({
        TableName: table(),
        Key: { pk: e.pk, sk: e.sk },
        UpdateExpression: ok ? 'REMOVE failing_since' : 'SET failing_since = :now',
        ConditionExpression: ok
          ? 'attribute_exists(pk)'
          : 'attribute_exists(pk) AND attribute_not_exists(failing_since)',
        ...(ok ? {} : { ExpressionAttributeValues: { ':now': now } }),
      }),
    )
    .catch((err) => {
      if (!(err instanceof ConditionalCheckFailedException)) throw err;
    });
}

/** Disables a failing endpoint (once): the change itself becomes a `webhook_endpoint.disabled` event. */
export async function disableEndpoint(e: EndpointRecord): Promise<boolean> {
  try {
    await dynamo.send(
      new UpdateCommand({
        TableName: table(),
        Key: { pk: e.pk, sk: e.sk },
        UpdateExpression: 'SET #s = :d, disabled_reason = :r',
        ConditionExpression: '#s = :e',
        ExpressionAttributeNames: { '#s': 'status' },
        ExpressionAttributeValues: { ':d': 'disabled', ':e': 'enabled', ':r': 'failing' },
      }),
    );
    return true;
  } catch (err) {
    if (err instanceof ConditionalCheckFailedException) return false;
    throw err;
  }
}

export const subscribes = (e: Pick<EndpointRecord, 'enabled_events' | 'status'>, type: EventType): boolean =>
  e.status === 'enabled' && (e.enabled_events.includes('*') || e.enabled_events.includes(type));

// ---- events ----

/** Writes the event once: a replayed stream batch finds it written and changes nothing. */
export async function putEventOnce(merchantId: string, event: PaymentEvent, nowMs: number): Promise<boolean> {
  const item: EventRecord = {
    ...event,
    pk: pk.merchant(merchantId),
    sk: eventKeys.event(event.id),
    merchant_id: merchantId,
    expires_at_epoch: ttl(nowMs),
  };
  try {
    await dynamo.send(
      new PutCommand({ TableName: table(), Item: item, ConditionExpression: 'attribute_not_exists(pk)' }),
    );
    return true;
  } catch (e) {
    if (e instanceof ConditionalCheckFailedException) return false;
    throw e;
  }
}

export async function getEvent(merchantId: string, id: string): Promise<EventRecord | null> {
  const r = await dynamo.send(
    new GetCommand({ TableName: table(), Key: { pk: pk.merchant(merchantId), sk: eventKeys.event(id) } }),
  );
  const item = r.Item as EventRecord | undefined;
  // TTL deletion lags up to a few days: an expired event is gone for the API.
  if (!item || item.expires_at_epoch * 1000 < Date.now()) return null;
  return item;
}

export interface EventQuery {
  limit: number;
  startingAfter?: string;
  type?: string;
  createdGte?: number;
  createdLte?: number;
}

/** Newest first; `type` filtered server side; `created` bounds become sort-key bounds (ids start with their time). */
export async function listEvents(
  merchantId: string,
  q: EventQuery,
): Promise<{ data: EventRecord[]; hasMore: boolean }> {
  const lo = `EVENT#evt_${q.createdGte === undefined ? '' : timePart(q.createdGte)}`;
  let hi = q.createdLte === undefined ? 'EVENT#evt_~' : `EVENT#evt_${timePart(q.createdLte + 1)}`;
  if (q.startingAfter && eventKeys.event(q.startingAfter) < hi) hi = eventKeys.event(q.startingAfter);
  const data: EventRecord[] = [];
  let start: Record<string, unknown> | undefined;
  const now = Date.now();
  do {
    const r = await dynamo.send(
      new QueryCommand({
        TableName: table(),
        KeyConditionExpression: 'pk = :p AND sk BETWEEN :lo AND :hi',
        ...(q.type ? { FilterExpression: '#t = :t', ExpressionAttributeNames: { '#t': 'type' } } : {}),
        ExpressionAttributeValues: {
          ':p': pk.merchant(merchantId),
          ':lo': lo,
          ':hi': hi,
          ...(q.type ? { ':t': q.type } : {}),
        },
        ScanIndexForward: false,
        Limit: 200,
        ExclusiveStartKey: start,
      }),
    );
    for (const item of (r.Items ?? []) as EventRecord[]) {
      if (item.id === q.startingAfter || item.expires_at_epoch * 1000 < now) continue;
      data.push(item);
      if (data.length > q.limit) return { data: data.slice(0, q.limit), hasMore: true };
    }
    start = r.LastEvaluatedKey;
  } while (start);
  return { data, hasMore: false };
}

// ---- deliveries ----

/** The delivery of an event to an endpoint made from the stream: derived, so a replayed batch finds it written. */
export function streamDeliveryId(eventId: string, endpointId: string): string {
  const digest = createHash('sha256').update(`${eventId}\n${endpointId}`).digest();
  let rand = '';
  for (let i = 0; i < 14; i++) rand += B32[digest[i]! % 32];
  return `dlv_${eventId.slice(4, 13)}${rand}`;
}

export function newDelivery(
  merchantId: string,
  eventId: string,
  endpointId: string,
  nowMs: number,
  id = newDeliveryId(nowMs),
): DeliveryRecord {
  const sk = eventKeys.delivery(eventId, id);
  return {
    pk: pk.merchant(merchantId),
    sk,
    object: 'delivery',
    id,
    merchant_id: merchantId,
    event: eventId,
    endpoint: endpointId,
    state: 'queued',
    attempts: [],
    attempt_count: 0,
    next_attempt_at: nowMs,
    created: new Date(nowMs).toISOString(),
    gsi1pk: eventKeys.due,
    gsi1sk: dueKey(nowMs, merchantId, sk),
    expires_at_epoch: ttl(nowMs),
  };
}

/** Conditional: a delivery made from a replayed stream batch (same derived id) is written once. */
export async function putDeliveryOnce(d: DeliveryRecord): Promise<boolean> {
  try {
    await dynamo.send(new PutCommand({ TableName: table(), Item: d, ConditionExpression: 'attribute_not_exists(pk)' }));
    return true;
  } catch (e) {
    if (e instanceof ConditionalCheckFailedException) return false;
    throw e;
  }
}

export async function deliveriesOf(merchantId: string, eventId: string): Promise<DeliveryRecord[]> {
  const r = await dynamo.send(
    new QueryCommand({
      TableName: table(),
      KeyConditionExpression: 'pk = :p AND begins_with(sk, :s)',
      ExpressionAttributeValues: { ':p': pk.merchant(merchantId), ':s': eventKeys.deliveriesOf(eventId) },
    }),
  );
  return (r.Items ?? []) as DeliveryRecord[];
}

export async function getDelivery(pkValue: string, skValue: string): Promise<DeliveryRecord | null> {
  const r = await dynamo.send(
    new GetCommand({ TableName: table(), Key: { pk: pkValue, sk: skValue }, ConsistentRead: true }),
  );
  return (r.Item as DeliveryRecord | undefined) ?? null;
}

/** Queued deliveries whose time has come, oldest first. */
export async function listDue(nowMs: number, limit: number): Promise<{ pk: string; sk: string }[]> {
  const r = await dynamo.send(
    new QueryCommand({
      TableName: table(),
      IndexName: 'gsi1',
      KeyConditionExpression: 'gsi1pk = :g AND gsi1sk <= :t',
      ExpressionAttributeValues: { ':g': eventKeys.due, ':t': `${new Date(nowMs).toISOString()}#~` },
      Limit: limit,
    }),
  );
  return ((r.Items ?? []) as DeliveryRecord[]).map((d) => ({ pk: d.pk, sk: d.sk }));
}

/**
 * Claims a queued, due delivery for one attempt (a lease as long as the attempt can take), so
 * the stream trigger and the sweep never send the same attempt twice at once. Conditioned on the
 * attempt count that was read too: a worker holding an older read (it read, another attempted and
 * recorded meanwhile) cannot claim, so it can never record over a newer attempt.
 */
export async function claimDelivery(d: DeliveryRecord, nowMs: number, leaseMs: number): Promise<boolean> {
  try {
    await dynamo.send(
      new UpdateCommand({
        TableName: table(),
        Key: { pk: d.pk, sk: d.sk },
        UpdateExpression: 'SET lease_until = :l',
        ConditionExpression:
          '#st = :q AND attempt_count = :n AND next_attempt_at <= :now AND (attribute_not_exists(lease_until) OR lease_until < :now)',
        ExpressionAttributeNames: { '#st': 'state' },
        ExpressionAttributeValues: { ':q': 'queued', ':n': d.attempt_count, ':now': nowMs, ':l': nowMs + leaseMs },
      }),
    );
    return true;
  } catch (e) {
    if (e instanceof ConditionalCheckFailedException) return false;
    throw e;
  }
}

/** Records an attempt: delivered/failed/canceled leave the due index; a retry moves in it. */
export async function recordAttempt(
  d: DeliveryRecord,
  attempt: Attempt | null,
  next: { state: DeliveryState; nextAttemptAt?: number },
  nowMs: number,
): Promise<void> {
  const attempts = attempt ? [...d.attempts, attempt].slice(-MAX_ATTEMPTS_KEPT) : d.attempts;
  const queued = next.state === 'queued' && next.nextAttemptAt !== undefined;
  const write = dynamo.send(
    new UpdateCommand({
      TableName: table(),
      Key: { pk: d.pk, sk: d.sk },
      UpdateExpression: queued
        ? 'SET #st = :s, attempts = :a, attempt_count = :n, first_attempt_at = if_not_exists(first_attempt_at, :now), next_attempt_at = :next, gsi1sk = :g REMOVE lease_until'
        : 'SET #st = :s, attempts = :a, attempt_count = :n, first_attempt_at = if_not_exists(first_attempt_at, :now) REMOVE lease_until, gsi1pk, gsi1sk',
      // Only over the state this attempt was claimed on.
      ConditionExpression: 'attempt_count = :n0',
      ExpressionAttributeNames: { '#st': 'state' },
      ExpressionAttributeValues: {
        ':n0': d.attempt_count,
        ':s': next.state,
        ':a': attempts,
        ':n': d.attempt_count + (attempt ? 1 : 0),
        ':now': nowMs,
        ...(queued ? { ':next': next.nextAttemptAt, ':g': dueKey(next.nextAttemptAt!, d.merchant_id, d.sk) } : {}),
      },
    }),
  );
  await write.catch((e) => {
    if (!(e instanceof ConditionalCheckFailedException)) throw e;
  });
}
