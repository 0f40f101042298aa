/** Scheduled (every minute): resolves pending charges and refunds. See shared/payments/reconcile.ts. */
import { logger } from '../../shared/log';
import { type ReconcileReport, reconcilePending } from '../../shared/payments/reconcile';

export const handler = async (event?: { grace_ms?: number }): Promise<ReconcileReport> => {
  const report = await reconcilePending({ graceMs: typeof event?.grace_ms === 'number' ? event.grace_ms : undefined });
  logger.info('reconciler run', { ...report });
  return report;
};
