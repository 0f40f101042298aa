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
 * Derived here from logs by metric filters (no code involved, no dimension):
 * - ApiThrottledRequests, from the access log (status 429: stage throttling or the functions' own
 *   rate_limit_error).
 * - AwsAccessDenied, from every function's log group: a log line naming `AccessDeniedException`,
 *   i.e. an AWS call the function's role is not allowed to make (a missing grant in
 *   infra/house-function.ts, or a key or resource policy that changed).
 */
import { Duration } from 'aws-cdk-lib';
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
    props: { stage: StageConfig; api: Api; functions: Functions; key: IKey; alarmEmail: string },
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
