/**
 * AWS list prices used by the cost model (docs/cost.md) and the benchmark (bench/): the one place
 * they live. us-east-1, USD, on-demand, no free tier, no Savings Plans, first pricing tier.
 *
 * Compiled on `date` from the AWS pricing pages (aws.amazon.com/<service>/pricing). DynamoDB
 * on-demand reflects the 50% cut of 1 Nov 2024. Re-check them before quoting a figure: AWS changes
 * prices without notice, and other regions differ.
 */
export const prices = {
  date: '2026-11-24',
  region: 'us-east-1',
  currency: 'USD',
  apiGatewayRest: {
    /** REST APIs, first 333 million requests a month. */
    perMillionRequests: 3.5,
  },
  lambdaArm64: {
    /** arm64 duration, first 7.5 billion GB-seconds a month. */
    perGbSecond: 0.0000133334,
    perMillionRequests: 0.2,
  },
  dynamodbOnDemand: {
    perMillionWriteRequestUnits: 0.625,
    perMillionReadRequestUnits: 0.125,
    storagePerGbMonth: 0.25,
    pitrPerGbMonth: 0.2,
  },
  secretsManager: {
    perSecretMonth: 0.4,
    per10kApiCalls: 0.05,
  },
  kms: {
    perKeyMonth: 1,
    per10kRequests: 0.03,
  },
  waf: {
    perWebAclMonth: 5,
    /** Each rule, and each managed rule group (AWS managed groups carry no extra fee). */
    perRuleMonth: 1,
    perMillionRequests: 0.6,
  },
  cloudWatch: {
    logsIngestionPerGb: 0.5,
    logsStoragePerGbMonth: 0.03,
    /** Standard-resolution alarm, per metric it evaluates (metric math counts each metric). */
    alarmMetricMonth: 0.1,
    customMetricMonth: 0.3,
    dashboardMonth: 3,
  },
  eventBridge: {
    /** PutEvents on a custom bus, per 64 KB chunk. */
    perMillionCustomEvents: 1,
  },
} as const;

/** What one charge costs in requests and work. Durations should come from measurements. */
export interface ChargeAssumptions {
  /** API Gateway requests per charge (POST /v1/charges). */
  readonly apiRequests: number;
  /** Authorizer invocations per charge: 1 = every request misses the 300 s authorizer cache. */
  readonly authorizerInvocations: number;
  readonly memoryMb: number;
  /** Billed duration of the charges function: mostly waiting for Clover (Lambda bills wall time). */
  readonly chargeDurationMs: number;
  readonly authorizerDurationMs: number;
  /** Share of invocations that are cold starts; INIT is billed on managed runtimes since Aug 2025. */
  readonly coldStartFraction: number;
  readonly initDurationMs: number;
  /** Idempotency record, pending charge, outcome, idempotency completion; transactions count twice. */
  readonly dynamoWriteUnits: number;
  /** API key lookup (on authorizer cache miss) and merchant record. */
  readonly dynamoReadUnits: number;
  /** GetSecretValue calls per charge: OAuth tokens are cached per container for CACHE_TTL_MS. */
  readonly secretsManagerCalls: number;
  /** KMS requests per charge: one Decrypt per GetSecretValue, plus DynamoDB's periodic table-key calls. */
  readonly kmsRequests: number;
  readonly wafRequests: number;
  /** Access log line + Lambda START/END/REPORT and app lines for 2 invocations + WAF log record. */
  readonly logBytes: number;
}

export const defaultChargeAssumptions: ChargeAssumptions = {
  apiRequests: 1,
  authorizerInvocations: 1,
  memoryMb: 512,
  chargeDurationMs: 600,
  authorizerDurationMs: 30,
  coldStartFraction: 0.01,
  initDurationMs: 350,
  dynamoWriteUnits: 6,
  dynamoReadUnits: 2,
  secretsManagerCalls: 0.05,
  kmsRequests: 0.06,
  wafRequests: 1,
  logBytes: 3400,
};

export interface CostLine {
  readonly item: string;
  readonly usd: number;
}

/** Variable cost of one million charges, line by line (USD). */
export function costPerMillionCharges(a: ChargeAssumptions = defaultChargeAssumptions): CostLine[] {
  const M = 1_000_000;
  const gb = a.memoryMb / 1024;
  const invocations = 1 + a.authorizerInvocations;
  const gbSeconds =
    gb * (a.chargeDurationMs / 1000) * M +
    gb * (a.authorizerDurationMs / 1000) * a.authorizerInvocations * M +
    gb * (a.initDurationMs / 1000) * a.coldStartFraction * invocations * M;
  return [
    { item: 'API Gateway REST requests', usd: a.apiRequests * prices.apiGatewayRest.perMillionRequests },
    { item: 'Lambda requests (charges + authorizer)', usd: invocations * prices.lambdaArm64.perMillionRequests },
    { item: 'Lambda arm64 duration (incl. billed INIT)', usd: gbSeconds * prices.lambdaArm64.perGbSecond },
    { item: 'DynamoDB writes', usd: a.dynamoWriteUnits * prices.dynamodbOnDemand.perMillionWriteRequestUnits },
    { item: 'DynamoDB reads', usd: a.dynamoReadUnits * prices.dynamodbOnDemand.perMillionReadRequestUnits },
    {
      item: 'Secrets Manager API calls',
      usd: ((a.secretsManagerCalls * M) / 10_000) * prices.secretsManager.per10kApiCalls,
    },
    { item: 'KMS requests', usd: ((a.kmsRequests * M) / 10_000) * prices.kms.per10kRequests },
    { item: 'WAF requests', usd: a.wafRequests * prices.waf.perMillionRequests },
    { item: 'CloudWatch Logs ingestion', usd: ((a.logBytes * M) / 1024 ** 3) * prices.cloudWatch.logsIngestionPerGb },
  ];
}

export function total(lines: readonly CostLine[]): number {
  return lines.reduce((sum, l) => sum + l.usd, 0);
}

/** Counts of the stack's billable fixtures; test/infra pins them against the synthesised template. */
export const stackFixtures = {
  kmsKeys: 2,
  wafRules: 5,
  /** Metrics evaluated by the alarms in infra/monitoring.ts (metric math counts each metric). */
  alarmMetrics: 38,
  /**
   * CloverErrors, OldestPendingChargeAgeSeconds, TokenRefreshFailures, ApiThrottledRequests, AwsAccessDenied,
   * WebhookDeliveriesFailed, ApiUnauthorized, ApiForbidden, WebhookAuthFailures, MerchantMismatch,
   * UninstallFollowUpsPending, CardDeclines, NeedsAttentionItems, NeedsAttention, CloverRateLimited,
   * CloverBudgetExhausted.
   */
  customMetrics: 16,
  /** Scheduled runs a month: reconciler and event-deliverer every minute, token-refresher every 5 minutes (30-day month). */
  reconcilerRuns: 43_200,
  refresherRuns: 8_640,
  delivererRuns: 43_200,
} as const;

/** Idle duration of one scheduled run (ms) when there is nothing to do: a Query and a metric. */
const IDLE_RUN_MS = 150;

/** What the stack costs per month before any traffic (USD); `merchants` each hold one OAuth secret. */
export function fixedMonthlyCost(merchants: number): CostLine[] {
  const f = stackFixtures;
  const runs = f.reconcilerRuns + f.refresherRuns + f.delivererRuns;
  const idleGbSeconds = runs * (IDLE_RUN_MS / 1000) * (512 / 1024);
  return [
    { item: `KMS customer-managed keys (${f.kmsKeys})`, usd: f.kmsKeys * prices.kms.perKeyMonth },
    {
      item: `Secrets Manager: app + ${merchants} merchant secrets`,
      usd: (1 + merchants) * prices.secretsManager.perSecretMonth,
    },
    {
      item: `WAF web ACL + ${f.wafRules} rules`,
      usd: prices.waf.perWebAclMonth + f.wafRules * prices.waf.perRuleMonth,
    },
    { item: `CloudWatch alarms (${f.alarmMetrics} metrics)`, usd: f.alarmMetrics * prices.cloudWatch.alarmMetricMonth },
    { item: `Custom metrics (${f.customMetrics})`, usd: f.customMetrics * prices.cloudWatch.customMetricMonth },
    { item: 'CloudWatch dashboard', usd: prices.cloudWatch.dashboardMonth },
    {
      item: `Scheduled jobs, idle (${runs.toLocaleString('en-US')} runs)`,
      usd:
        (runs / 1_000_000) * prices.lambdaArm64.perMillionRequests +
        idleGbSeconds * prices.lambdaArm64.perGbSecond +
        (runs / 1_000_000) * prices.dynamodbOnDemand.perMillionReadRequestUnits,
    },
  ];
}

/**
 * What one event costs (docs/events.md), delivered once to one endpoint: DynamoDB Streams reads by
 * Lambda triggers are free; the rest is writes, two short invocations and the bus.
 */
export interface EventAssumptions {
  /** Stream records per publisher invocation (batches fill up under load). */
  readonly recordsPerBatch: number;
  readonly publisherMsPerEvent: number;
  /** Billed duration of one delivery: mostly waiting for the receiver. */
  readonly deliveryMs: number;
  readonly memoryMb: number;
  /** Event item (the one extra unit per event), delivery put + its due-index entry, claim, result + index removal. */
  readonly dynamoWriteUnits: number;
  /** Endpoint list (per batch and merchant), delivery (consistent), event and endpoint (eventual). */
  readonly dynamoReadUnits: number;
  readonly busEvents: number;
  readonly logBytes: number;
}

export const defaultEventAssumptions: EventAssumptions = {
  recordsPerBatch: 10,
  publisherMsPerEvent: 15,
  deliveryMs: 150,
  memoryMb: 512,
  dynamoWriteUnits: 6,
  dynamoReadUnits: 2.1,
  busEvents: 1,
  logBytes: 600,
};

export function costPerMillionEvents(a: EventAssumptions = defaultEventAssumptions): CostLine[] {
  const M = 1_000_000;
  const gb = a.memoryMb / 1024;
  const invocations = 1 / a.recordsPerBatch + 1;
  const gbSeconds = gb * ((a.publisherMsPerEvent + a.deliveryMs) / 1000) * M;
  return [
    {
      item: 'Lambda requests (publisher per batch, deliverer)',
      usd: invocations * prices.lambdaArm64.perMillionRequests,
    },
    { item: 'Lambda arm64 duration', usd: gbSeconds * prices.lambdaArm64.perGbSecond },
    { item: 'DynamoDB writes', usd: a.dynamoWriteUnits * prices.dynamodbOnDemand.perMillionWriteRequestUnits },
    { item: 'DynamoDB reads', usd: a.dynamoReadUnits * prices.dynamodbOnDemand.perMillionReadRequestUnits },
    { item: 'EventBridge PutEvents', usd: a.busEvents * prices.eventBridge.perMillionCustomEvents },
    { item: 'CloudWatch Logs ingestion', usd: ((a.logBytes * M) / 1024 ** 3) * prices.cloudWatch.logsIngestionPerGb },
  ];
}
