/**
 * Webhook deliveries (shared/events/dispatch.ts). Two triggers:
 * - the table's stream, filtered to new delivery items: the first attempt, within a second;
 * - the schedule (every minute): due retries, and anything the stream trigger missed.
 * An attempt's failure is recorded and rescheduled, never thrown: one slow receiver does not hold
 * the stream back.
 */
import type { DynamoDBStreamEvent } from 'aws-lambda';
import { deliverOne, deliveryKeysOf, pool, sweep } from '../../shared/events/dispatch';
import { logger } from '../../shared/log';

export const handler = async (
  event: Partial<DynamoDBStreamEvent>,
  context?: { getRemainingTimeInMillis?: () => number },
) => {
  if (Array.isArray(event.Records)) {
    const keys = deliveryKeysOf(event.Records);
    const outcomes = await pool(keys, 10, (k) =>
      deliverOne(k).catch((e: Error) => {
        logger.warn('delivery attempt not recorded; the sweep retries it', { error: e.name });
        return 'skipped' as const;
      }),
    );
    return { attempted: outcomes.length };
  }
  const remaining = context?.getRemainingTimeInMillis?.() ?? 50_000;
  const report = await sweep(Date.now() + remaining - 2_000);
  if (report.due > 0) logger.info('delivery sweep', { ...report });
  return report;
};
