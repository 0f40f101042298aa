/**
 * The deliverer's use case: attempt one queued delivery, record the attempt, and schedule the next
 * one (shared/events/backoff.ts) or give up. Called for new deliveries straight from the stream,
 * and for due retries by the sweep (every minute on AWS), which also picks up anything the stream
 * trigger missed (a crash after the delivery was queued loses nothing: it stays queued and due).
 *
 * Every attempt of one delivery, and every delivery of one event, carries the event id as
 * `webhook-id`, so receivers dedupe on it.
 */

import { logger } from '../log';
import { emitMetric } from '../metrics';
import { ATTEMPT_TIMEOUT_MS, isDelivered, nextAttempt, shouldDisableEndpoint } from './backoff';
import { attemptDelivery } from './deliver';
import {
  claimDelivery,
  type DeliveryRecord,
  disableEndpoint,
  getDelivery,
  getEndpoint,
  getEvent,
  listDue,
  recordAttempt,
  recordEndpointHealth,
} from './store';

export type DeliveryOutcome = 'delivered' | 'retry' | 'failed' | 'canceled' | 'skipped';

export const retryScale = () => {
  const s = Number(process.env.EVENTS_RETRY_SCALE ?? 1);
  return Number.isFinite(s) && s > 0 ? s : 1;
};

/** Lease per attempt: the attempt's timeout plus the writes around it. */
const LEASE_MS = ATTEMPT_TIMEOUT_MS + 5_000;

export async function deliverOne(key: { pk: string; sk: string }, now = Date.now): Promise<DeliveryOutcome> {
  const d = await getDelivery(key.pk, key.sk);
  if (d?.state !== 'queued' || d.next_attempt_at > now()) return 'skipped';
  if (!(await claimDelivery(d, now(), LEASE_MS))) return 'skipped';
  const [event, endpoint] = await Promise.all([
    getEvent(d.merchant_id, d.event),
    getEndpoint(d.merchant_id, d.endpoint),
  ]);
  if (!event || !endpoint || endpoint.status !== 'enabled') {
    // Deleted or disabled endpoint, or an event past its 30 days: nothing to deliver to.
    await recordAttempt(d, null, { state: 'canceled' }, now());
    return 'canceled';
  }
  const at = now();
  const secrets = endpoint.secrets.filter((s) => s.expires_at === undefined || s.expires_at > at).map((s) => s.secret);
  const body = JSON.stringify(publicEvent(event));
  const attempt = await attemptDelivery({
    url: endpoint.url,
    livemode: endpoint.livemode,
    secrets,
    msgId: event.id,
    body,
    now,
  });
  const ok = isDelivered(attempt.status);
  const after = now();
  if (ok) {
    await recordAttempt(d, attempt, { state: 'delivered' }, after);
    await recordEndpointHealth(endpoint, true, after);
    return 'delivered';
  }
  await recordEndpointHealth(endpoint, false, after);
  const scale = retryScale();
  if (shouldDisableEndpoint(endpoint.failing_since, after, scale)) {
    if (await disableEndpoint(endpoint)) {
      logger.warn('webhook endpoint disabled after 3 days of failures', {
        endpoint: endpoint.id,
        merchantId: d.merchant_id,
      });
    }
  }
  const { nextAttemptAt } = nextAttempt(d.attempt_count + 1, d.first_attempt_at ?? at, after, { scale });
  if (nextAttemptAt === null) {
    await recordAttempt(d, attempt, { state: 'failed' }, after);
    emitMetric('WebhookDeliveriesFailed');
    logger.warn('webhook delivery given up after its retries', {
      delivery: d.id,
      event: d.event,
      endpoint: d.endpoint,
    });
    return 'failed';
  }
  await recordAttempt(d, attempt, { state: 'queued', nextAttemptAt }, after);
  return 'retry';
}

/** The event as receivers and the events API see it (no keys, no TTL). */
export function publicEvent(e: {
  id: string;
  object: 'event';
  type: string;
  created: string;
  livemode: boolean;
  data: unknown;
}) {
  return { id: e.id, object: e.object, type: e.type, created: e.created, livemode: e.livemode, data: e.data };
}

/** Runs `work` over `items`, `limit` at a time. */
export async function pool<T, R>(items: readonly T[], limit: number, work: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const runners = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await work(items[i]!);
    }
  });
  await Promise.all(runners);
  return out;
}

export interface SweepReport {
  due: number;
  delivered: number;
  retry: number;
  failed: number;
  canceled: number;
  skipped: number;
}

/** The scheduled sweep: due deliveries, oldest first, a few at a time, until `deadline`. */
export async function sweep(deadline: number, now = Date.now): Promise<SweepReport> {
  const report: SweepReport = { due: 0, delivered: 0, retry: 0, failed: 0, canceled: 0, skipped: 0 };
  while (now() + LEASE_MS < deadline) {
    const due = await listDue(now(), 50);
    if (due.length === 0) break;
    report.due += due.length;
    const outcomes = await pool(due, 10, (k) =>
      deliverOne(k, now).catch((e: Error) => {
        logger.warn('delivery attempt not recorded', { error: e.name, message: e.message });
        return 'skipped' as const;
      }),
    );
    for (const o of outcomes) report[o]++;
    // Only skipped ones (leased elsewhere, not due yet): stop rather than spin on them.
    if (outcomes.every((o) => o === 'skipped')) break;
  }
  return report;
}

/** Deliveries of a stream batch: only new, queued delivery items. */
export function deliveryKeysOf(
  records: readonly { eventName?: string; dynamodb?: { Keys?: unknown; NewImage?: unknown } }[],
) {
  const keys: { pk: string; sk: string }[] = [];
  for (const r of records) {
    const img = r.dynamodb?.NewImage as Record<string, { S?: string }> | undefined;
    const sk = img?.sk?.S;
    const pk = img?.pk?.S;
    if (r.eventName !== 'INSERT' || !pk || !sk?.startsWith('EVDLV#')) continue;
    keys.push({ pk, sk });
  }
  return keys;
}

export type { DeliveryRecord };
