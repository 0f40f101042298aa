import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';

/** Custom metrics (CloudWatch EMF on stdout), namespace `CloverPayments`; the alarms in infra/monitoring.ts watch them. */
const metrics = new Metrics({ namespace: 'CloverPayments', serviceName: 'clover-payments' });

export type MetricName =
  | 'CloverErrors'
  | 'TokenRefreshFailures'
  | 'TokenStoreFailures'
  /** Age of the oldest unresolved money operation (charge, capture or refund), every reconciler run. */
  | 'OldestPendingChargeAgeSeconds'
  | 'PendingChargesResolved'
  | 'WebhookDeliveriesFailed'
  // Security signals (issue 13), each alarmed in infra/monitoring.ts.
  | 'MerchantMismatch'
  | 'WebhookAuthFailures'
  | 'UninstallFollowUpsPending'
  /** Unresolved operations the reconciler has given up on for now, every reconciler run (alarm: > 0). */
  | 'NeedsAttentionItems'
  /** An operation moved to needs_attention (one per move). */
  | 'NeedsAttention'
  /** Clover answered 429 to a money call despite the shared budget. */
  | 'CloverRateLimited'
  /** A card attempt declined (charges and session pays, one per declined charge): the DeclineRate alarm. */
  | 'CardDeclines'
  /** A session pay refused before Clover: the session's declines, or the key's or IP's velocity limit. */
  | 'CardTestingBlocked'
  /** A money call could not get a turn from the shared Clover budget in time (answered 429). */
  | 'CloverBudgetExhausted';

/** Emits one data point at once: our functions emit few metrics, and none may be lost to a crash. */
type Unit = (typeof MetricUnit)[keyof typeof MetricUnit];

export function emitMetric(name: MetricName, value = 1, unit: Unit = MetricUnit.Count): void {
  metrics.addMetric(name, unit, value);
  metrics.publishStoredMetrics();
}

export { MetricUnit };
