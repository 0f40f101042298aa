/**
 * Alarms, the topic they notify and a dashboard. docs/operations.md says, for each alarm, what it
 * means and what to do; the alarm descriptions point there.
 *
 * Custom metrics come from the functions through Powertools Metrics (EMF log lines, so no
 * PutMetricData permission), namespace `CloverPayments`, with Powertools' default dimension
 * `service=clover-payments` and no other:
 * - CloverErrors (Count): a Clover call failed (5xx, timeout, connection error, unexpected 4xx).
 * - OldestPendingChargeAgeSeconds (Seconds): emitted by every reconciler run, 0 when none pending.
 * - TokenRefreshFailures (Count): a merchant's OAuth refresh failed.
 * - NeedsAttentionItems (Count, every reconciler run): operations in needs_attention (docs/money.md).
 * - MerchantMismatch (Count): an install presented a code of another merchant (shared/onboarding.ts).
 * - WebhookAuthFailures (Count): a webhook POST without the right X-Clover-Auth (functions/webhooks).
 * - UninstallFollowUpsPending (Count): uninstalls whose secret deletion or cache flush failed.
 * - CardDeclines (Count): declined card attempts, one per declined charge when its outcome is written
 *   (shared/payments/charges.ts: charges and session pays, the reconciler included; issue 13, the
 *   card-testing defences), alarmed here against the charge functions' invocations.
 * Derived here from logs by metric filters (no code involved, no dimension):
 * - ApiThrottledRequests, from the access log (status 429: stage throttling or the functions' own
 *   rate_limit_error).
 * - AwsAccessDenied, from every function's log group: a log line naming `AccessDeniedException`,
 *   i.e. an AWS call the function's role is not allowed to make (a missing grant in
 *   infra/house-function.ts, or a key or resource policy that changed).
 * - ApiUnauthorized / ApiForbidden, from the access log (status 401 / 403): refused keys.
 * And WAF's own BlockedRequests (namespace AWS/WAFV2) for the web ACL.
 */
import { Duration, Stack } from 'aws-cdk-lib';
import {
  Alarm,
  AlarmStatusWidget,
  ComparisonOperator,
  Dashboard,
  GraphWidget,
  type IMetric,
  MathExpression,
  Metric,
  SingleValueWidget,
  TextWidget,
  TreatMissingData,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import { FilterPattern, MetricFilter } from 'aws-cdk-lib/aws-logs';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import type { FunctionName } from '../shared/routes';
import type { Api } from './api';
import type { StageConfig } from './config';
import type { Functions } from './functions';
import { METRICS_NAMESPACE, SERVICE_NAME } from './house-function';
import { acknowledge } from './nag';

/** Thresholds, in one place; docs/operations.md quotes them. */
export const THRESHOLDS = {
  api5xxPercent: 5,
  cloverErrorPercent: 10,
  /** Below this many requests in a period a rate is noise (1 failure of 3 is not an outage). */
  minRequestsForRate: 20,
  tokenRefreshFailures: 1,
  throttledRequestsPer5Min: 100,
  lambdaThrottlesPer5Min: 1,
  scheduledJobErrorsPer15Min: 3,
  /** One denied AWS call is already a bug: the roles grant exactly what the code does. */
  accessDeniedPer5Min: 1,
  /** 401s and 403s: key guessing or a leaked, revoked key in use. A storefront with a bad key makes a few. */
  authFailuresPer5Min: 100,
  /** Clover sends the right code; a refused webhook is a probe or a rotated code not yet in the app secret. */
  webhookAuthFailuresPer5Min: 5,
  /** WAF blocks (rate rules, managed rules, body size) in 5 minutes. */
  wafBlockedPer5Min: 300,
  /** Declined card attempts as a % of the charge functions' invocations (card testing). */
  declinePercent: 30,
  /** One takeover attempt is worth a look. */
  merchantMismatchPer5Min: 1,
  /** Follow-ups still pending after three refresher runs (15 minutes). */
  uninstallFollowUpPeriods: 3,
} as const;

/** The term a function's log line carries when AWS refused one of its calls (the SDK error name). */
export const ACCESS_DENIED_TERM = 'AccessDeniedException';

/** Functions that call Clover: the denominator of the Clover error rate. */
const CLOVER_CALLERS: FunctionName[] = [
  'oauth-callback',
  'tokens',
  'charges',
  'refunds',
  'checkout-sessions',
  'token-refresher',
  'reconciler',
];
/** Functions on the request path (their throttles are failed requests). */
const REQUEST_PATH: FunctionName[] = [
  'authorizer',
  'health',
  'oauth-callback',
  'webhooks',
  'checkout-config',
  'tokens',
  'charges',
  'refunds',
  'checkout-sessions',
];

export class Monitoring extends Construct {
  readonly topic: Topic;
  readonly alarms: Record<string, Alarm> = {};
  readonly dashboard: Dashboard;
  private readonly prefix: string;

  constructor(
    scope: Construct,
    id: string,
    props: {
      stage: StageConfig;
      api: Api;
      functions: Functions;
      key: IKey;
      alarmEmail: string;
      /** The WAF web ACL's name, for its BlockedRequests metric. */
      webAclName: string;
    },
  ) {
    super(scope, id);
    const { stage, api, functions } = props;
    this.prefix = stage.prefix;
    const five = Duration.minutes(5);
    const custom = (metricName: string, statistic: string, period = five) =>
      new Metric({
        namespace: METRICS_NAMESPACE,
        metricName,
        dimensionsMap: { service: SERVICE_NAME },
        statistic,
        period,
      });

    this.topic = new Topic(this, 'AlarmTopic', {
      topicName: `${stage.prefix}-alarms`,
      displayName: `Clover payments ${stage.name} alarms`,
      masterKey: props.key,
      enforceSSL: true,
    });
    this.topic.addSubscription(new EmailSubscription(props.alarmEmail));
    acknowledge(
      this.topic,
      'Serverless-SNSRedrivePolicy',
      'The only subscription is an operator e-mail address. An undeliverable alarm e-mail parked in a dead-letter queue helps nobody; the alarm state itself persists in CloudWatch and on the dashboard.',
    );
    const action = new SnsAction(this.topic);

    const stageApi = api.restApi.deploymentStage;
    const requests = stageApi.metricCount({ period: five, statistic: 'Sum' });
    const errors5xx = stageApi.metricServerError({ period: five, statistic: 'Sum' });

    this.add(
      'Api5xxRate',
      new MathExpression({
        label: 'API 5xx %',
        expression: `IF(requests >= ${THRESHOLDS.minRequestsForRate}, 100 * errors / requests, 0)`,
        usingMetrics: { requests, errors: errors5xx },
        period: five,
      }),
      THRESHOLDS.api5xxPercent,
      2,
      'More than 5% of API requests answered 5xx for 10 minutes.',
      action,
    );

    const invocations: Record<string, IMetric> = {};
    for (const [i, name] of CLOVER_CALLERS.entries()) {
      invocations[`i${i}`] = functions.get(name).metricInvocations({ period: five, statistic: 'Sum' });
    }
    const calls = Object.keys(invocations)
      .map((k) => `FILL(${k}, 0)`)
      .join(' + ');
    this.add(
      'CloverErrorRate',
      new MathExpression({
        label: 'Clover errors % of invocations',
        expression: `IF((${calls}) >= ${THRESHOLDS.minRequestsForRate}, 100 * FILL(clover, 0) / (${calls}), 0)`,
        usingMetrics: { clover: custom('CloverErrors', 'Sum'), ...invocations },
        period: five,
      }),
      THRESHOLDS.cloverErrorPercent,
      2,
      'Clover calls failing (5xx, timeouts, connection errors) for more than 10% of invocations for 10 minutes.',
      action,
    );

    this.add(
      'PendingChargesOld',
      custom('OldestPendingChargeAgeSeconds', 'Maximum', Duration.minutes(1)),
      stage.pendingChargeAlarmMinutes * 60,
      3,
      `A charge has been pending (outcome at Clover unknown) for more than ${stage.pendingChargeAlarmMinutes} minutes.`,
      action,
      ComparisonOperator.GREATER_THAN_THRESHOLD,
    );

    this.add(
      'NeedsAttention',
      custom('NeedsAttentionItems', 'Maximum', Duration.minutes(1)),
      0,
      1,
      'The reconciler has given up for now on a money operation whose outcome at Clover it could not establish (needs_attention): look it up at Clover by our id in metadata; never charge again.',
      action,
      ComparisonOperator.GREATER_THAN_THRESHOLD,
    );

    this.add(
      'TokenRefreshFailures',
      custom('TokenRefreshFailures', 'Sum'),
      THRESHOLDS.tokenRefreshFailures,
      2,
      'OAuth token refreshes failed in two consecutive 5-minute periods.',
      action,
      ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    );

    const throttled = new MetricFilter(this, 'ThrottledFilter', {
      logGroup: api.accessLogs,
      filterPattern: FilterPattern.stringValue('$.status', '=', '429'),
      metricNamespace: METRICS_NAMESPACE,
      metricName: 'ApiThrottledRequests',
      metricValue: '1',
    });
    this.add(
      'ApiThrottled',
      throttled.metric({ period: five, statistic: 'Sum' }),
      THRESHOLDS.throttledRequestsPer5Min,
      1,
      'Many API requests answered 429 (stage limit or the functions’ rate limit; WAF blocks are counted by WAF).',
      action,
      ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    );

    const throttles: Record<string, IMetric> = {};
    for (const [i, name] of REQUEST_PATH.entries()) {
      throttles[`t${i}`] = functions.get(name).metricThrottles({ period: five, statistic: 'Sum' });
    }
    this.add(
      'LambdaThrottles',
      new MathExpression({
        label: 'Lambda throttles (request path)',
        expression: Object.keys(throttles)
          .map((k) => `FILL(${k}, 0)`)
          .join(' + '),
        usingMetrics: throttles,
        period: five,
      }),
      THRESHOLDS.lambdaThrottlesPer5Min,
      1,
      'Lambda refused invocations on the request path (account or function concurrency exhausted).',
      action,
      ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    );

    // One metric fed by a filter on each function's log group: the alarm needs no per-function
    // metric, and the log line itself says which function and which action (docs/operations.md).
    for (const fn of functions.all()) {
      new MetricFilter(this, `AccessDenied${fn.node.id}`, {
        logGroup: fn.logGroup,
        filterPattern: FilterPattern.anyTerm(ACCESS_DENIED_TERM),
        metricNamespace: METRICS_NAMESPACE,
        metricName: 'AwsAccessDenied',
        metricValue: '1',
      });
    }
    const accessDenied = new Metric({
      namespace: METRICS_NAMESPACE,
      metricName: 'AwsAccessDenied',
      statistic: 'Sum',
      period: five,
    });
    this.add(
      'AwsAccessDenied',
      accessDenied,
      THRESHOLDS.accessDeniedPer5Min,
      1,
      'A function was refused an AWS call (AccessDeniedException in its log): a missing grant.',
      action,
      ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    );

    // Security signals (docs/operations.md has a runbook entry for each).
    const statusFilter = (id: string, status: string, metricName: string) =>
      new MetricFilter(this, id, {
        logGroup: api.accessLogs,
        filterPattern: FilterPattern.stringValue('$.status', '=', status),
        metricNamespace: METRICS_NAMESPACE,
        metricName,
        metricValue: '1',
      }).metric({ period: five, statistic: 'Sum' });
    const unauthorized = statusFilter('UnauthorizedFilter', '401', 'ApiUnauthorized');
    const forbidden = statusFilter('ForbiddenFilter', '403', 'ApiForbidden');
    this.add(
      'AuthFailures',
      new MathExpression({
        label: '401 + 403',
        expression: 'FILL(u, 0) + FILL(f, 0)',
        usingMetrics: { u: unauthorized, f: forbidden },
        period: five,
      }),
      THRESHOLDS.authFailuresPer5Min,
      1,
      `At least ${THRESHOLDS.authFailuresPer5Min} requests in 5 minutes were refused 401/403 (keys guessed, or a revoked or wrong key in use).`,
      action,
      ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    );
    this.add(
      'WebhookAuthFailures',
      custom('WebhookAuthFailures', 'Sum'),
      THRESHOLDS.webhookAuthFailuresPer5Min,
      1,
      'Webhook POSTs were refused for a missing or wrong X-Clover-Auth (a probe, or a rotated code not yet in the app secret).',
      action,
      ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    );
    this.add(
      'WafBlocks',
      new Metric({
        namespace: 'AWS/WAFV2',
        metricName: 'BlockedRequests',
        dimensionsMap: { WebACL: props.webAclName, Region: Stack.of(this).region, Rule: 'ALL' },
        statistic: 'Sum',
        period: five,
      }),
      THRESHOLDS.wafBlockedPer5Min,
      1,
      `WAF blocked at least ${THRESHOLDS.wafBlockedPer5Min} requests in 5 minutes (rate rules, managed rules, oversized bodies).`,
      action,
      ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    );
    // TODO(integrator): the denominator is the invocations of the two functions that send charges
    // (GET routes of `charges` included, so the rate reads low). Once the pay paths emit a metric of
    // charge attempts sent to Clover beside CardDeclines, divide by that instead.
    this.add(
      'DeclineRate',
      new MathExpression({
        label: 'declines % of charge invocations',
        expression: `IF((FILL(c, 0) + FILL(s, 0)) >= ${THRESHOLDS.minRequestsForRate}, 100 * FILL(d, 0) / (FILL(c, 0) + FILL(s, 0)), 0)`,
        usingMetrics: {
          d: custom('CardDeclines', 'Sum'),
          c: functions.get('charges').metricInvocations({ period: five, statistic: 'Sum' }),
          s: functions.get('checkout-sessions').metricInvocations({ period: five, statistic: 'Sum' }),
        },
        period: five,
      }),
      THRESHOLDS.declinePercent,
      2,
      `More than ${THRESHOLDS.declinePercent}% of charge attempts declined for 10 minutes: card testing, or an issuer problem.`,
      action,
    );
    this.add(
      'MerchantMismatch',
      custom('MerchantMismatch', 'Sum'),
      THRESHOLDS.merchantMismatchPer5Min,
      1,
      'An install presented an authorization code of another merchant than the merchant_id it claimed (a takeover attempt); nothing was stored.',
      action,
      ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    );
    this.add(
      'UninstallFollowUpsPending',
      custom('UninstallFollowUpsPending', 'Sum'),
      1,
      THRESHOLDS.uninstallFollowUpPeriods,
      'Uninstall follow-ups (secret deletion, authorizer cache flush) failed three refresher runs in a row: an uninstalled merchant’s keys may still work from the cache.',
      action,
      ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    );

    const fifteen = Duration.minutes(15);
    this.add(
      'ScheduledJobErrors',
      new MathExpression({
        label: 'Scheduled job errors',
        expression: 'FILL(r, 0) + FILL(t, 0)',
        usingMetrics: {
          r: functions.get('reconciler').metricErrors({ period: fifteen, statistic: 'Sum' }),
          t: functions.get('token-refresher').metricErrors({ period: fifteen, statistic: 'Sum' }),
        },
        period: fifteen,
      }),
      THRESHOLDS.scheduledJobErrorsPer15Min,
      1,
      'The reconciler or the token refresher failed repeatedly in 15 minutes.',
      action,
      ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    );

    this.dashboard = new Dashboard(this, 'Dashboard', {
      dashboardName: stage.prefix,
      defaultInterval: Duration.hours(3),
    });
    const latency = (stat: string) =>
      stageApi.metricLatency({ period: five, statistic: stat, label: `latency ${stat}` });
    this.dashboard.addWidgets(
      new TextWidget({
        markdown: `# Clover payments — ${stage.name}\nAlarms and what to do: docs/operations.md`,
        width: 24,
        height: 2,
      }),
      new AlarmStatusWidget({ title: 'Alarms', alarms: Object.values(this.alarms), width: 24, height: 4 }),
    );
    this.dashboard.addWidgets(
      new GraphWidget({
        title: 'API requests and errors',
        left: [requests, stageApi.metricClientError({ period: five, statistic: 'Sum' }), errors5xx],
        right: [throttled.metric({ period: five, statistic: 'Sum', label: '429' })],
        width: 12,
      }),
      new GraphWidget({
        title: 'API latency (ms)',
        left: [latency('p50'), latency('p90'), latency('p99')],
        right: [stageApi.metricIntegrationLatency({ period: five, statistic: 'p99', label: 'integration p99' })],
        width: 12,
      }),
    );
    this.dashboard.addWidgets(
      new GraphWidget({
        title: 'Lambda duration p99 (ms)',
        left: functions.all().map((fn) => fn.metricDuration({ period: five, statistic: 'p99', label: fn.houseName })),
        width: 12,
      }),
      new GraphWidget({
        title: 'Lambda errors and throttles',
        left: functions
          .all()
          .map((fn) => fn.metricErrors({ period: five, statistic: 'Sum', label: `${fn.houseName} errors` })),
        right: functions
          .all()
          .map((fn) => fn.metricThrottles({ period: five, statistic: 'Sum', label: `${fn.houseName} throttles` })),
        width: 12,
      }),
    );
    this.dashboard.addWidgets(
      new GraphWidget({
        title: 'Clover errors',
        left: [custom('CloverErrors', 'Sum')],
        width: 8,
      }),
      new SingleValueWidget({
        title: 'Oldest pending charge (s)',
        metrics: [custom('OldestPendingChargeAgeSeconds', 'Maximum', Duration.minutes(1))],
        width: 8,
      }),
      new GraphWidget({
        title: 'Token refresh failures',
        left: [custom('TokenRefreshFailures', 'Sum')],
        width: 8,
      }),
    );
  }

  private add(
    name: string,
    metric: IMetric,
    threshold: number,
    periods: number,
    summary: string,
    action: SnsAction,
    comparisonOperator = ComparisonOperator.GREATER_THAN_THRESHOLD,
  ): void {
    const alarm = new Alarm(this, name, {
      alarmName: `${this.prefix}-${name}`,
      alarmDescription: `${summary} Runbook: docs/operations.md#${name.toLowerCase()}`,
      metric,
      threshold,
      evaluationPeriods: periods,
      datapointsToAlarm: periods,
      comparisonOperator,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    alarm.addAlarmAction(action);
    alarm.addOkAction(action);
    this.alarms[name] = alarm;
  }
}
