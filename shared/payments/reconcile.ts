/**
 * The reconciler's use case: every pending charge and refund older than a grace period (so that
 * requests still in flight are left alone) is re-sent with its recorded Clover idempotency key,
 * under a takeover of its idempotency claim — so it never races a caller's retry, and Clover
 * answers with what it already did instead of doing it again.
 */
import { takeOver } from '../idempotency';
import { logger } from '../log';
import { emitMetric, MetricUnit } from '../metrics';
import { type ChargeRecord, listPending, type RefundRecord } from '../store/ledger';
import { sendCapture } from './capture';
import { sendCharge } from './charges';
import { sendRefund } from './refunds';

export interface ReconcileReport {
  examined: number;
  resolved: number;
  still_pending: number;
  skipped_in_flight: number;
  oldest_pending_age_s: number;
}

export async function reconcilePending(opts: { graceMs?: number; now?: number } = {}): Promise<ReconcileReport> {
  const now = opts.now ?? Date.now();
  const olderThan = new Date(now - (opts.graceMs ?? 30_000)).toISOString();
  const pending = await listPending(olderThan);
  const report: ReconcileReport = {
    examined: pending.length,
    resolved: 0,
    still_pending: 0,
    skipped_in_flight: 0,
    oldest_pending_age_s: 0,
  };
  const owner = `reconciler:${now}:${Math.random().toString(36).slice(2)}`;
  for (const item of pending) {
    // A pending capture of a succeeded charge is guarded by the capture's own claim.
    const capture = item.object === 'charge' ? (item as ChargeRecord).pending_capture : undefined;
    const guard = capture ?? item.clover_request;
    const claim = await takeOver(item.merchant_id, guard.route_key, guard.client_key, owner);
    if (!claim) {
      report.skipped_in_flight++;
      continue;
    }
    try {
      const response = capture
        ? await sendCapture(claim, item as ChargeRecord, capture, 'reconciler')
        : item.object === 'charge'
          ? await sendCharge(claim, item as ChargeRecord, 'reconciler')
          : await sendRefund(claim, item as RefundRecord, 'reconciler');
      const stillPending = response.statusCode >= 500 || response.statusCode === 429;
      if (stillPending) report.still_pending++;
      else report.resolved++;
      logger.info('pending item reconciled', {
        id: item.id,
        merchantId: item.merchant_id,
        status: response.statusCode,
      });
    } catch (e) {
      report.still_pending++;
      logger.warn('pending item could not be reconciled yet', { id: item.id, error: (e as Error).name });
    }
  }
  const remaining = await listPending(new Date(now).toISOString(), 1);
  const oldest = remaining[0];
  report.oldest_pending_age_s = oldest ? Math.max(0, Math.round((now - Date.parse(oldest.created)) / 1000)) : 0;
  emitMetric('OldestPendingChargeAgeSeconds', report.oldest_pending_age_s, MetricUnit.Seconds);
  if (report.resolved > 0) emitMetric('PendingChargesResolved', report.resolved);
  return report;
}
