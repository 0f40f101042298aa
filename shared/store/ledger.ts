/**
 * The ledger: charges, captures, refunds and checkout sessions, each under its merchant's
 * partition. Every money operation is written `pending` before Clover is called and listed in the
 * `pending` index (shared/store/pending.ts) until evidence resolves it (shared/payments/evidence.ts,
 * docs/money.md). Items are kept under 1 KB where they are written on the hot path, so that each
 * write costs one write unit.
 */
import { GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { dynamo } from '../aws';
import { config } from '../config';
import { hooks } from '../hooks';
import type { ErrorType } from '../http/errors';
import { pk, sk } from './keys';

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

/** Unresolved: the outcome at Clover is not known yet (`needs_attention`: not after many tries). */
export const UNRESOLVED = ['pending', 'needs_attention'] as const;
export type Unresolved = (typeof UNRESOLVED)[number];

/** A definitive refusal, kept so that every replay answers it exactly as it was first answered. */
export interface StoredAnswer {
  status: number;
  type: ErrorType;
  code: string;
  message: string;
  param?: string;
  decline_code?: string;
  request_id: string;
}

/**
 * What every money operation carries while it is unresolved (docs/money.md, "Records"). The lease
 * is on the operation itself: whoever holds it may call Clover for it; `lease_until` is also the
 * last moment the holder may send, so a lookup is settled once that is older than the list lag.
 */
export interface OperationState {
  /** The Idempotency-Key this operation answers; the reconciler keeps its claim alive. */
  client_key: string;
  /** Invocations that have taken the operation: 1 is the request that made it. */
  attempt: number;
  lease_owner?: string;
  /** Epoch ms. */
  lease_until: number;
  /** Reconciler tries so far (backoff, needs_attention). */
  tries?: number;
  pending_shard?: string;
  pending_due?: string;
  /** Set on a definitive failure. */
  answer?: StoredAnswer;
}

export type ChargeStatus = Unresolved | 'succeeded' | 'failed' | 'canceled';

export interface ChargeRecord extends OperationState {
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
   * uncaptured, for a void). One attribute, because DynamoDB conditions cannot add.
   */
  refundable_remaining: number;
  description: string | null;
  external_reference_id: string | null;
  checkout_session: string | null;
  /** The single-use `clv_` token, to send the same request again. */
  source_token: string;
  forwarded_for: string;
  source: CardSummary | null;
  failure_code: string | null;
  failure_message: string | null;
  decline_code?: string | null;
  /** A session pay's publishable key id and shopper IP, whose decline velocity a decline counts against. */
  velocity?: { key: string; ip: string };
  clover: CloverRefs;
  /** The capture under way (its id): no other capture, and no void, meanwhile. */
  capture_lock?: string;
  created: string;
}

export type CaptureStatus = Unresolved | 'succeeded' | 'failed';

export interface CaptureRecord extends OperationState {
  pk: string;
  sk: string;
  object: 'capture';
  id: string;
  merchant_id: string;
  charge: string;
  clover_charge_id: string;
  amount: number;
  currency: string;
  status: CaptureStatus;
  forwarded_for: string;
  created: string;
}

export type RefundStatus = Unresolved | 'succeeded' | 'failed';

export interface RefundRecord extends OperationState {
  pk: string;
  sk: string;
  object: 'refund';
  id: string;
  merchant_id: string;
  charge: string;
  clover_charge_id: string;
  amount: number;
  /** Sent without an amount (the whole remainder, or a void): a re-send cannot refund twice. */
  whole: boolean;
  /** A refund of an uncaptured charge releases the authorisation. */
  is_void: boolean;
  currency: string;
  status: RefundStatus;
  reason: string | null;
  clover: { refund_id: string | null };
  created: string;
}

export type MoneyRecord = ChargeRecord | CaptureRecord | RefundRecord;

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
  /** The charge of the payment under way; no other pay meanwhile. */
  pay_lock?: string;
  /** Declined pays so far; at `SESSION_MAX_DECLINES` the session takes no more (409 `session_blocked`). */
  declines?: number;
  expires_at: string;
  /** TTL (epoch s): an unpaid session is deleted a while after it expired; a locked or paid one is kept. */
  expires_at_epoch?: number;
  created: string;
}

export const isUnresolved = (status: string): status is Unresolved =>
  (UNRESOLVED as readonly string[]).includes(status);

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
export const getCapture = (merchantId: string, id: string) => getItem<CaptureRecord>(merchantId, sk.capture(id));
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

/** The public charge object (API.md §2.4); `pending_capture` while a capture's outcome is unknown. */
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
    // Rebuilt field by field: DynamoDB hands maps back in any order, and a replay must be byte-equal.
    source: c.source
      ? {
          brand: c.source.brand,
          first6: c.source.first6,
          last4: c.source.last4,
          exp_month: c.source.exp_month,
          exp_year: c.source.exp_year,
        }
      : null,
    failure_code: c.failure_code,
    failure_message: c.failure_message,
    clover: {
      charge_id: c.clover.charge_id,
      ref_num: c.clover.ref_num,
      auth_code: c.clover.auth_code,
      order_id: c.clover.order_id,
    },
    ...(c.capture_lock ? { pending_capture: c.capture_lock } : {}),
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
    clover: { refund_id: r.clover.refund_id },
    created: r.created,
  };
}

/**
 * What became of a session's payment: `unpaid`, `pending` (its charge's outcome is not known
 * yet), `paid`, `partially_refunded`, `refunded`, or `canceled` (the authorisation was released).
 */
export type SessionPayment = 'unpaid' | 'pending' | 'paid' | 'partially_refunded' | 'refunded' | 'canceled';

export function sessionPayment(s: SessionRecord, charge: ChargeRecord | null): SessionPayment {
  if (s.pay_lock) return 'pending';
  if (s.status !== 'paid' || !charge) return 'unpaid';
  if (charge.status === 'canceled') return 'canceled';
  if (charge.amount_refunded > 0 && charge.amount_refunded >= charge.amount_captured) return 'refunded';
  if (charge.amount_refunded > 0) return 'partially_refunded';
  return 'paid';
}

export function sessionObject(
  s: SessionRecord,
  withSecret: boolean,
  charge: ChargeRecord | null = null,
  now = hooks.now(),
): Record<string, unknown> {
  const expired = s.status === 'open' && !s.pay_lock && Date.parse(s.expires_at) <= now;
  return {
    id: s.id,
    object: 'checkout_session',
    ...(withSecret ? { client_secret: s.client_secret } : {}),
    amount: s.amount,
    currency: s.currency,
    description: s.description,
    external_reference_id: s.external_reference_id,
    status: expired ? 'expired' : s.status,
    payment_status: sessionPayment(s, charge),
    expires_at: s.expires_at,
    charge: s.charge,
    created: s.created,
  };
}
