import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';

/** Custom metrics (CloudWatch EMF on stdout), namespace `CloverPayments`; the alarms in infra/monitoring.ts watch them. */
const metrics = new Metrics({ namespace: 'CloverPayments', serviceName: 'clover-payments' });

export type MetricName =
  | 'CloverErrors'
  | 'TokenRefreshFailures'
  | 'TokenStoreFailures'
  | 'OldestPendingChargeAgeSeconds'
  | 'PendingChargesResolved'
  | 'WebhookDeliveriesFailed'
  // Security signals (issue 13), each alarmed in infra/monitoring.ts.
  | 'MerchantMismatch'
  | 'WebhookAuthFailures'
  | 'UninstallFollowUpsPending';

/** Emits one data point at once: our functions emit few metrics, and none may be lost to a crash. */
type Unit = (typeof MetricUnit)[keyof typeof MetricUnit];

export function emitMetric(name: MetricName, value = 1, unit: Unit = MetricUnit.Count): void {
  metrics.addMetric(name, unit, value);
  metrics.publishStoredMetrics();
}

export { MetricUnit };
