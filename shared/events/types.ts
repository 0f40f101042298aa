/**
 * Events: what happened to a merchant's resources, as Stripe-style `evt_…` objects. An event is a
 * snapshot of the resource at the committed state change that produced it (shared/events/from-changes.ts).
 */
import { createHash } from 'node:crypto';

export const EVENT_TYPES = [
  'charge.succeeded',
  'charge.failed',
  'charge.pending',
  'charge.captured',
  'charge.refunded',
  'charge.needs_attention',
  'refund.succeeded',
  'refund.failed',
  'refund.needs_attention',
  'checkout_session.paid',
  'merchant.installed',
  'merchant.uninstalled',
  'merchant.needs_reauth',
  'webhook_endpoint.disabled',
] as const;

export type EventType = (typeof EVENT_TYPES)[number];

export const isEventType = (s: unknown): s is EventType =>
  typeof s === 'string' && EVENT_TYPES.includes(s as EventType);

export interface PaymentEvent {
  id: string;
  object: 'event';
  type: EventType;
  /** ISO 8601, as every timestamp of the API. */
  created: string;
  livemode: boolean;
  data: { object: Record<string, unknown> };
}

/** An event before it gets its id: the mapping is pure, ids come from the stream record. */
export interface EventDraft {
  merchantId: string;
  type: EventType;
  object: Record<string, unknown>;
}

/** Events are kept 30 days (TTL), as the issue and Stripe's events API do. */
export const EVENT_RETENTION_S = 30 * 24 * 3600;

const B32 = '0123456789abcdefghjkmnpqrstvwxyz';

/** Nine base32 characters of a millisecond timestamp: the same time prefix as charge ids (shared/ids.ts). */
export function timePart(ms: number): string {
  let t = Math.max(0, Math.floor(ms));
  let out = '';
  for (let i = 0; i < 9; i++) {
    out = B32[t % 32] + out;
    t = Math.floor(t / 32);
  }
  return out;
}

/**
 * A deterministic event id: the time of the change, then a digest of (the stream record, the
 * type). A stream batch that is processed twice (a retry after a crash) produces the same ids,
 * so the conditional write of the event item dedupes it.
 */
export function eventId(changeAtMs: number, recordId: string, type: EventType): string {
  const digest = createHash('sha256').update(`${recordId}\n${type}`).digest();
  let rand = '';
  for (let i = 0; i < 14; i++) rand += B32[digest[i]! % 32];
  return `evt_${timePart(changeAtMs)}${rand}`;
}

export const isEventId = (s: unknown): s is string => typeof s === 'string' && /^evt_[0-9a-z]{23}$/.test(s);
export const isEndpointId = (s: unknown): s is string => typeof s === 'string' && /^we_[0-9a-z]{23}$/.test(s);
