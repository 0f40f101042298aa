/**
 * Events out (docs/events.md): the table's stream feeds two functions through event source
 * mappings, the stack owns an event bus every event is put on, a dead-letter queue for stream
 * batches that fail all their retries, and the alarms on both paths.
 *
 * - event-publisher: every change of a ledger, merchant or endpoint item (filtered by sort-key
 *   prefix, so the events' own writes never invoke it) → events, deliveries, the bus.
 * - event-deliverer: new delivery items → first attempt; its schedule (infra/schedules.ts) retries.
 */
import { Duration, Stack } from 'aws-cdk-lib';
import type { IAlarmAction } from 'aws-cdk-lib/aws-cloudwatch';
import { Alarm, ComparisonOperator, Metric, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import type { CfnTable } from 'aws-cdk-lib/aws-dynamodb';
import { EventBus } from 'aws-cdk-lib/aws-events';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { EVENT_SOURCE_PREFIXES } from '../shared/events/from-changes';
import type { StageConfig } from './config';
import type { Data } from './data';
import type { Functions } from './functions';
import { METRICS_NAMESPACE, SERVICE_NAME } from './house-function';
import { acknowledge } from './nag';

/** Lambda event filter patterns, also applied by the local platform's stream poller. */
export const STREAM_FILTERS = {
  'event-publisher': EVENT_SOURCE_PREFIXES.map((prefix) => ({
    dynamodb: { Keys: { sk: { S: [{ prefix }] } } },
  })),
  'event-deliverer': [{ eventName: ['INSERT'], dynamodb: { Keys: { sk: { S: [{ prefix: 'EVDLV#' }] } } } }],
};

export class Events extends Construct {
  readonly bus: EventBus;
  readonly dlq: Queue;
  readonly alarms: Alarm[] = [];
  private readonly prefix: string;

  constructor(
    scope: Construct,
    id: string,
    props: { stage: StageConfig; data: Data; functions: Functions; key: IKey },
  ) {
    super(scope, id);
    const { stage, data, functions } = props;
    this.prefix = stage.prefix;

    this.bus = new EventBus(this, 'Bus', {
      eventBusName: `${stage.prefix}-events`,
      description: 'Every payment event (source clover-payments, detail-type = event type)',
    });

    this.dlq = new Queue(this, 'StreamDlq', {
      queueName: `${stage.prefix}-event-stream-dlq`,
      encryption: QueueEncryption.KMS,
      encryptionMasterKey: props.key,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
      removalPolicy: stage.removalPolicy,
    });
    acknowledge(
      this.dlq,
      'AwsSolutions-SQS3',
      'This queue is itself the dead-letter destination of the two stream event source mappings (on-failure records); a queue behind a dead-letter queue would only move the same records again.',
    );
    acknowledge(
      this.dlq,
      'Serverless-SQSRedrivePolicy',
      'This queue is the dead-letter destination of the stream event source mappings; nothing consumes it but an operator (docs/operations.md#eventstreamdlqmessages).',
    );

    // ListStreams names no stream (infra/house-function.ts consumeTableStream).
    const tableId = Stack.of(this).getLogicalId(data.table.node.defaultChild as CfnTable);
    for (const name of ['event-publisher', 'event-deliverer'] as const) {
      acknowledge(
        functions.get(name),
        `AwsSolutions-IAM5[Resource::<${tableId}.Arn>/stream/*]`,
        'dynamodb:ListStreams, which Lambda event source mappings use, names no stream; the streams of this one table are the narrowest resource it accepts.',
      );
    }
    const publisher = functions.get('event-publisher').useEventBus(this.bus);
    publisher.consumeTableStream(data, {
      id: 'TableStream',
      dlq: this.dlq,
      filters: STREAM_FILTERS['event-publisher'],
      batchSize: 100,
      retryAttempts: 10,
    });
    functions.get('event-deliverer').consumeTableStream(data, {
      id: 'TableStream',
      dlq: this.dlq,
      filters: STREAM_FILTERS['event-deliverer'],
      batchSize: 20,
      // The sweep retries anything the stream trigger misses.
      retryAttempts: 2,
    });
  }

  /** The alarms of the events path, on the stack's alarm topic (runbooks in docs/operations.md). */
  addAlarms(action: IAlarmAction, functions: Functions): void {
    const five = Duration.minutes(5);
    this.alarm(
      'WebhookDeliveriesFailed',
      new Metric({
        namespace: METRICS_NAMESPACE,
        metricName: 'WebhookDeliveriesFailed',
        dimensionsMap: { service: SERVICE_NAME },
        statistic: 'Sum',
        period: five,
      }),
      0,
      'A webhook delivery was given up after 3 days of retries.',
      action,
    );
    this.alarm(
      'EventStreamDlqMessages',
      this.dlq.metricApproximateNumberOfMessagesVisible({ period: five, statistic: 'Maximum' }),
      0,
      'Stream records failed every retry of the events functions and were parked in the dead-letter queue: their events may be missing.',
      action,
    );
    this.alarm(
      'EventPublisherIteratorAge',
      functions.get('event-publisher').metric('IteratorAge', { period: five, statistic: 'Maximum' }),
      300_000,
      'Events are published more than 5 minutes after their change (the publisher is failing or behind).',
      action,
    );
  }

  private alarm(name: string, metric: Metric, threshold: number, summary: string, action: IAlarmAction): void {
    const alarm = new Alarm(this, name, {
      alarmName: `${this.prefix}-${name}`,
      alarmDescription: `${summary} Runbook: docs/operations.md#${name.toLowerCase()}`,
      metric,
      threshold,
      evaluationPeriods: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    alarm.addAlarmAction(action);
    alarm.addOkAction(action);
    this.alarms.push(alarm);
  }
}
