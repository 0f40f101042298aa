/**
 * THE coupling between events and the ledger's item shapes: one committed change of one table item
 * (its old and new image, from DynamoDB Streams) → zero or more events. Nothing else in
 * shared/events reads ledger items, so when the money core changes its items (statuses, a
 * `needs_attention` state, new attributes) this file and its table test
 * (test/unit/events/from-changes.test.ts) are what change.
 *
 * | item (sort key)   | transition (old → new)                                   | event                     |
 * |-------------------|----------------------------------------------------------|---------------------------|
 * | CHARGE#           | status → succeeded                                       | charge.succeeded          |
 * | CHARGE#           | status → failed                                          | charge.failed             |
 * | CHARGE#           | pending → pending, first recorded unknown outcome        | charge.pending            |
 * | CHARGE#           | captured false → true (status succeeded)                 | charge.captured           |
 * | CHARGE#           | amount_refunded grows, or status → canceled (void)       | charge.refunded           |
 * | CHARGE#, REFUND#  | status → needs_attention                                 | <object>.needs_attention  |
 * | REFUND#           | status → succeeded / failed                              | refund.succeeded / failed |
 * | SESSION#          | status → paid                                            | checkout_session.paid     |
 * | MERCHANT          | status → active (from anything else, or a new item)      | merchant.installed        |
 * | MERCHANT          | status → disabled                                        | merchant.uninstalled      |
 * | MERCHANT          | status → needs_reauth                                    | merchant.needs_reauth     |
 * | WHEP#             | status enabled → disabled with reason `failing`          | webhook_endpoint.disabled |
 *
 * An item written already in a final state (INSERT with status succeeded) gets its event too, so a
 * future write path that skips `pending` still emits. Removes (TTL, deletes) emit nothing.
 */
import {
  type ChargeRecord,
  chargeObject,
  type RefundRecord,
  refundObject,
  type SessionRecord,
  sessionObject,
} from '../store/ledger';
import type { EventDraft, EventType } from './types';

export type Image = Record<string, unknown>;

export interface ItemChange {
  readonly eventName: 'INSERT' | 'MODIFY' | 'REMOVE';
  readonly oldImage?: Image;
  readonly newImage?: Image;
}

/** Sort-key prefixes whose changes can produce events (also the stream filter of infra/events.ts). */
export const EVENT_SOURCE_PREFIXES = ['CHARGE#', 'REFUND#', 'SESSION#', 'MERCHANT', 'WHEP#'] as const;

export function eventsFromChange(change: ItemChange): EventDraft[] {
  if (change.eventName === 'REMOVE' || !change.newImage) return [];
  const next = change.newImage;
  const prev = change.eventName === 'MODIFY' ? change.oldImage : undefined;
  const sk = String(next.sk ?? '');
  const merchantId = String(next.merchant_id ?? String(next.pk ?? '').replace(/^MERCHANT#/, ''));
  if (!merchantId) return [];
  const draft = (type: EventType, object: Record<string, unknown>): EventDraft => ({ merchantId, type, object });

  if (sk.startsWith('CHARGE#'))
    return chargeEvents(prev, next).map((t) => draft(t, chargeObject(next as unknown as ChargeRecord)));
  if (sk.startsWith('REFUND#'))
    return refundEvents(prev, next).map((t) => draft(t, refundObject(next as unknown as RefundRecord)));
  if (sk.startsWith('SESSION#')) {
    return became(prev, next, 'status', 'paid')
      ? [draft('checkout_session.paid', sessionObject(next as unknown as SessionRecord, false))]
      : [];
  }
  if (sk === 'MERCHANT') {
    const type = merchantEvent(prev, next);
    return type ? [draft(type, merchantObject(next))] : [];
  }
  if (sk.startsWith('WHEP#')) {
    return became(prev, next, 'status', 'disabled') && next.disabled_reason === 'failing'
      ? [draft('webhook_endpoint.disabled', endpointSnapshot(next))]
      : [];
  }
  return [];
}

/**
 * When the change happened: the item's own timestamp of its last write (ms precision), when it has
 * one near the stream's approximate time (whole seconds on AWS, minutes in DynamoDB Local).
 * Deterministic for a record, so a replayed batch derives the same event ids.
 */
export function changedAt(newImage: Image | undefined, approximateMs: number): number {
  const stamp = newImage?.updated ?? newImage?.updated_at ?? newImage?.created;
  const t = typeof stamp === 'string' ? Date.parse(stamp) : Number.NaN;
  return Number.isFinite(t) && Math.abs(t - approximateMs) < 5 * 60_000 ? t : approximateMs;
}

/** `field` has `value` now and did not before (or the item is new). */
function became(prev: Image | undefined, next: Image, field: string, value: unknown): boolean {
  return next[field] === value && prev?.[field] !== value;
}

function chargeEvents(prev: Image | undefined, next: Image): EventType[] {
  const out: EventType[] = [];
  if (became(prev, next, 'status', 'succeeded')) out.push('charge.succeeded');
  if (became(prev, next, 'status', 'failed')) out.push('charge.failed');
  if (became(prev, next, 'status', 'needs_attention')) out.push('charge.needs_attention');
  // The first write that records an unknown outcome: still pending, `updated` moved off `created`.
  if (
    prev?.status === 'pending' &&
    next.status === 'pending' &&
    prev.updated === prev.created &&
    next.updated !== prev.updated &&
    next.pending_capture === undefined
  ) {
    out.push('charge.pending');
  }
  if (
    next.status === 'succeeded' &&
    next.captured === true &&
    prev?.captured === false &&
    prev.status === 'succeeded'
  ) {
    out.push('charge.captured');
  }
  const refundedBefore = Number(prev?.amount_refunded ?? 0);
  if (Number(next.amount_refunded ?? 0) > refundedBefore || became(prev, next, 'status', 'canceled')) {
    out.push('charge.refunded');
  }
  return out;
}

function refundEvents(prev: Image | undefined, next: Image): EventType[] {
  const out: EventType[] = [];
  if (became(prev, next, 'status', 'succeeded')) out.push('refund.succeeded');
  if (became(prev, next, 'status', 'failed')) out.push('refund.failed');
  if (became(prev, next, 'status', 'needs_attention')) out.push('refund.needs_attention');
  return out;
}

function merchantEvent(prev: Image | undefined, next: Image): EventType | null {
  if (became(prev, next, 'status', 'active')) return 'merchant.installed';
  if (became(prev, next, 'status', 'disabled')) return 'merchant.uninstalled';
  if (became(prev, next, 'status', 'needs_reauth')) return 'merchant.needs_reauth';
  return null;
}

/** What a storefront may see of its merchant record: never the PAKMS key or leases. */
function merchantObject(m: Image): Record<string, unknown> {
  return {
    id: m.merchant_id,
    object: 'merchant',
    status: m.status,
    installed_at: m.installed_at ?? null,
    uninstalled_at: m.uninstalled_at ?? null,
  };
}

/** An endpoint without its secrets. */
function endpointSnapshot(e: Image): Record<string, unknown> {
  return {
    id: e.id,
    object: 'webhook_endpoint',
    url: e.url,
    enabled_events: e.enabled_events,
    status: e.status,
    disabled_reason: e.disabled_reason ?? null,
    created: e.created,
  };
}
