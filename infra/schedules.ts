/**
 * The scheduled jobs: EventBridge rules on the default bus (scheduled events are free).
 *
 * - token-refresher every 5 minutes: refreshes OAuth tokens ahead of expiry.
 * - reconciler every minute: resolves charges left `pending` after a Clover timeout or 5xx.
 * - event-deliverer every minute: webhook retries that are due (docs/events.md).
 *
 * Both are sweeps: each run does all the work that is due, so the next tick is the retry. Lambda's
 * own async retries (up to 2, minutes apart) would only overlap the next run and double the Clover
 * calls against a 16 requests/s per-token budget, so they are off, and an event that waited more
 * than one period is dropped — a newer tick has already done its work. Failures surface through
 * the ScheduledJobErrors alarm (infra/monitoring.ts), not through a dead-letter queue of
 * identical "Scheduled Event" payloads nobody would replay.
 */
import { Duration } from 'aws-cdk-lib';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { Construct } from 'constructs';
import type { StageConfig } from './config';
import type { HouseFunction } from './house-function';
import { acknowledge } from './nag';

export const SCHEDULES = {
  'token-refresher': Duration.minutes(5),
  reconciler: Duration.minutes(1),
  'event-deliverer': Duration.minutes(1),
} as const;

const NO_DLQ_REASON =
  'Scheduled sweep: every run does all due work, so the next tick (1 or 5 minutes later) is the retry; a dead-letter queue would only collect identical "Scheduled Event" payloads nobody replays. Failed runs raise the ScheduledJobErrors alarm.';

export class Schedules extends Construct {
  readonly rules: Rule[] = [];

  constructor(
    scope: Construct,
    id: string,
    props: { stage: StageConfig; functions: Record<keyof typeof SCHEDULES, HouseFunction> },
  ) {
    super(scope, id);
    for (const [name, every] of Object.entries(SCHEDULES) as [keyof typeof SCHEDULES, Duration][]) {
      const fn = props.functions[name];
      fn.configureAsyncInvoke({ retryAttempts: 0, maxEventAge: every });
      const rule = new Rule(this, `${name}Rule`, {
        ruleName: `${props.stage.prefix}-${name}`,
        description: `Runs ${name} every ${every.toHumanString()}`,
        schedule: Schedule.rate(every),
        targets: [new LambdaFunction(fn, { retryAttempts: 2, maxEventAge: every })],
      });
      this.rules.push(rule);
      acknowledge(rule, 'Serverless-EventBusDLQ', NO_DLQ_REASON);
      acknowledge(fn, 'Serverless-LambdaAsyncFailureDestination', NO_DLQ_REASON);
    }
  }
}
