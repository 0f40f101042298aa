/** Scheduled (every minute): resolves unresolved charges, captures and refunds. See shared/payments/reconcile.ts. */
import { logger } from '../../shared/log';
import { type ReconcileReport, reconcilePending } from '../../shared/payments/reconcile';

/**
 * The schedule sends no fields. Ops (and tests) may send `merchant_id` to reconcile one merchant's
 * operations only, and `grace_ms` to take every operation pending at least that long, whatever its
 * next try's time.
 */
export const handler = async (event?: { merchant_id?: unknown; grace_ms?: unknown }): Promise<ReconcileReport> => {
  const report = await reconcilePending({
    ...(typeof event?.merchant_id === 'string' ? { merchantId: event.merchant_id } : {}),
    ...(typeof event?.grace_ms === 'number' ? { graceMs: event.grace_ms } : {}),
  });
  logger.info('reconciler run', { ...report });
  return report;
};
