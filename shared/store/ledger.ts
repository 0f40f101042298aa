/**
 * The ledger: charges, refunds and checkout sessions, each under its merchant's partition. Every
 * charge attempt is written (as `pending`) before Clover is called, in the same transaction as the
 * idempotency claim; a charge or refund whose outcome is unknown stays `pending` and is listed in
 * GSI1 (`PENDING`) for the reconciler until a retry or the reconciler resolves it.
 */
import { GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { dynamo } from '../aws';
import { config } from '../config';
import { gsi1, pk, sk } from './keys';

export interface CardSummary {
  brand: string;
  first6: string;
  last4: string;
  exp_month: string;
  exp_year: string;
}

export interface CloverRefs {
  charge_id: string | null;
  ref_num: string | null;
  auth_code: string | null;
  order_id: string | null;
}

/** What a retry or the reconciler needs to re-send the same request to Clover. */
export interface CloverRequestRecord {
  idempotency_key: string;
  forwarded_for: string;
  body: Record<string, unknown>;
  /** The idempotency record guarding this request: the reconciler claims it before re-sending. */
  route_key: string;
  client_key: string;
}

export type ChargeStatus = 'pending' | 'succeeded' | 'failed' | 'canceled';

export interface ChargeRecord {
  pk: string;
  sk: string;
  object: 'charge';
  id: string;
  merchant_id: string;
  amount: number;
  currency: string;
  status: ChargeStatus;
  capture: boolean;
  captured: boolean;
  amount_captured: number;
  amount_refunded: number;
  /** Reserved by refunds whose outcome at Clover is not known yet. */
  amount_refund_pending: number;
  /**
   * What refunds may still take: captured − refunded − reserved (the authorised amount while
   * uncaptured, for a void). Kept as one attribute because DynamoDB conditions cannot add, and
   * every refund reserves against it with `refundable_remaining >= :amount`.
   */
  refundable_remaining: number;
  description: string | null;
  external_reference_id: string | null;
  checkout_session: string | null;
  source: CardSummary | null;
  failure_code: string | null;
  failure_message: string | null;
  decline_code?: string | null;
  clover: CloverRefs;
  clover_request: CloverRequestRecord;
  capture_lock?: string;
  capture_lock_until?: number;
  /** A capture whose outcome at Clover is not known yet (shared/payments/capture.ts). */
  pending_capture?: { amount: number | null; forwarded_for: string; route_key: string; client_key: string };
  created: string;
  updated: string;
  gsi1pk?: string;
  gsi1sk?: string;
}

export type RefundStatus = 'pending' | 'succeeded' | 'failed';

export interface RefundRecord {
  pk: string;
  sk: string;
  object: 'refund';
  id: string;
  merchant_id: string;
  charge: string;
  amount: number;
  /** A refund of an uncaptured charge releases the authorisation (Clover is sent no amount). */
  is_void: boolean;
  currency: string;
  status: RefundStatus;
  reason: string | null;
  failure_code?: string | null;
  clover: { refund_id: string | null };
  clover_request: CloverRequestRecord;
  created: string;
  updated: string;
  gsi1pk?: string;
  gsi1sk?: string;
}

export interface SessionRecord {
  pk: string;
  sk: string;
  object: 'checkout_session';
  id: string;
  merchant_id: string;
  client_secret: string;
  amount: number;
  currency: string;
  description: string | null;
  external_reference_id: string | null;
  capture: boolean;
  status: 'open' | 'paid' | 'expired';
  charge: string | null;
  /** The charge of the payment under way; a second pay waits until it is resolved. */
  pay_lock?: string;
  expires_at: string;
  created: string;
}

export const pendingIndex = { gsi1pk: gsi1.pendingCharges };

export async function getItem<T>(merchantId: string, sortKey: string, consistent = true): Promise<T | null> {
  const r = await dynamo.send(
    new GetCommand({
      TableName: config.tableName,
      Key: { pk: pk.merchant(merchantId), sk: sortKey },
      ConsistentRead: consistent,
    }),
  );
  return (r.Item as T | undefined) ?? null;
}

export const getCharge = (merchantId: string, id: string) => getItem<ChargeRecord>(merchantId, sk.charge(id));
export const getRefund = (merchantId: string, id: string) => getItem<RefundRecord>(merchantId, sk.refund(id));
export const getSession = (merchantId: string, id: string) => getItem<SessionRecord>(merchantId, sk.session(id));

/** Charges newest first (ids sort by creation time), after the cursor `startingAfter`. */
export async function listCharges(
  merchantId: string,
  limit: number,
  startingAfter?: string,
): Promise<{ data: ChargeRecord[]; hasMore: boolean }> {
  const r = await dynamo.send(
    new QueryCommand({
      TableName: config.tableName,
      KeyConditionExpression: startingAfter
        ? 'pk = :p AND sk BETWEEN :lo AND :before'
        : 'pk = :p AND begins_with(sk, :lo)',
      ExpressionAttributeValues: {
        ':p': pk.merchant(merchantId),
        ':lo': 'CHARGE#',
        ...(startingAfter ? { ':before': `${sk.charge(startingAfter)}` } : {}),
      },
      ScanIndexForward: false,
      Limit: limit + 2,
    }),
  );
  const items = ((r.Items ?? []) as ChargeRecord[]).filter((c) => c.id !== startingAfter);
  return { data: items.slice(0, limit), hasMore: items.length > limit || r.LastEvaluatedKey !== undefined };
}

/** Pending charges and refunds, oldest first, created before `olderThan` (ISO). */
export async function listPending(olderThan: string, limit = 50): Promise<(ChargeRecord | RefundRecord)[]> {
  const r = await dynamo.send(
    new QueryCommand({
      TableName: config.tableName,
      IndexName: 'gsi1',
      KeyConditionExpression: 'gsi1pk = :g AND gsi1sk < :t',
      ExpressionAttributeValues: { ':g': gsi1.pendingCharges, ':t': olderThan },
      Limit: limit,
    }),
  );
  return (r.Items ?? []) as (ChargeRecord | RefundRecord)[];
}

/** The public charge object (API.md §2.4). */
export function chargeObject(c: ChargeRecord): Record<string, unknown> {
  return {
    id: c.id,
    object: 'charge',
    amount: c.amount,
    currency: c.currency,
    status: c.status,
    captured: c.captured,
    amount_captured: c.amount_captured,
    amount_refunded: c.amount_refunded,
    refunded: c.amount_captured > 0 ? c.amount_refunded >= c.amount_captured : c.status === 'canceled',
    description: c.description,
    external_reference_id: c.external_reference_id,
    checkout_session: c.checkout_session,
    source: c.source,
    failure_code: c.failure_code,
    failure_message: c.failure_message,
    clover: c.clover,
    created: c.created,
  };
}

export function refundObject(r: RefundRecord): Record<string, unknown> {
  return {
    id: r.id,
    object: 'refund',
    charge: r.charge,
    amount: r.amount,
    currency: r.currency,
    status: r.status,
    reason: r.reason,
    clover: r.clover,
    created: r.created,
  };
}

export function sessionObject(s: SessionRecord, withSecret: boolean): Record<string, unknown> {
  const expired = s.status === 'open' && Date.parse(s.expires_at) <= Date.now();
  return {
    id: s.id,
    object: 'checkout_session',
    ...(withSecret ? { client_secret: s.client_secret } : {}),
    amount: s.amount,
    currency: s.currency,
    description: s.description,
    external_reference_id: s.external_reference_id,
    status: expired ? 'expired' : s.status,
    expires_at: s.expires_at,
    charge: s.charge,
    created: s.created,
  };
}
