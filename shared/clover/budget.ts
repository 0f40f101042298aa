/**
 * The merchant's share of Clover's rate limits (16 requests/s and 5 in flight per token,
 * clover-api.md §7.3), shared by every Lambda: a GCRA ("virtual scheduling") bucket in one
 * DynamoDB item per merchant, `MERCHANT#<id>` / `CLOVER#BUDGET`, whose `tat` is the earliest time
 * the next call may start. A call takes its turn with one conditional UpdateItem:
 *  - idle: `tat <= now` → `tat = now + T`, go now;
 *  - busy: `now < tat <= now + maxWait` → `tat = tat + T`, wait until the old `tat`;
 *  - beyond: refuse (429, nothing sent).
 * T = 1 s / rate. Spacing calls T apart keeps them under the per-token rate and, while Clover answers
 * within 5·T, under the 5-in-flight limit too; a 429 that names a concurrency limit halves the
 * rate for a minute for every Lambda (`slow_until`). One write unit per Clover call; each
 * container remembers which form succeeded last for a merchant and tries it first, so a second
 * (failed, also billed) write is rare. docs/money.md, "Clover rate budget", has the measurements.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { dynamo } from '../aws';
import { config } from '../config';
import { hooks } from '../hooks';
import { ApiError } from '../http/errors';
import { emitMetric } from '../metrics';
import { pk, sk } from '../store/keys';

const SLOW_MS = 60_000;
const lastForm = new Map<string, 'idle' | 'busy'>();
const slowUntil = new Map<string, number>();

export class BudgetExhausted extends ApiError {
  constructor() {
    super(429, 'rate_limit_error', 'rate_limited', 'Too many requests to Clover for this merchant; retry shortly.', {
      retryAfter: 1,
    });
  }
}

/** Waits for the merchant's next turn at Clover; throws BudgetExhausted when it is further than `maxWaitMs`. */
export async function takeTurn(merchantId: string, maxWaitMs = config.cloverBudgetMaxWaitMs): Promise<void> {
  const rate = config.cloverRatePerSecond;
  if (rate <= 0) return;
  const now = hooks.now();
  const slow = (slowUntil.get(merchantId) ?? 0) > now;
  const interval = Math.ceil(1000 / (slow ? rate / 2 : rate));
  const order: ('idle' | 'busy')[] = lastForm.get(merchantId) === 'busy' ? ['busy', 'idle'] : ['idle', 'busy'];
  for (const form of order) {
    const start = await tryForm(form, merchantId, now, interval, Math.max(0, maxWaitMs));
    if (start === null) continue;
    lastForm.set(merchantId, form);
    if (start > now) await hooks.sleep(start - now);
    return;
  }
  emitMetric('CloverBudgetExhausted');
  throw new BudgetExhausted();
}

async function tryForm(
  form: 'idle' | 'busy',
  merchantId: string,
  now: number,
  interval: number,
  maxWaitMs: number,
): Promise<number | null> {
  const Key = { pk: pk.merchant(merchantId), sk: sk.cloverBudget };
  try {
    const r = await dynamo.send(
      new UpdateCommand(
        form === 'idle'
          ? {
              TableName: config.tableName,
              Key,
              UpdateExpression: 'SET tat = :next',
              ConditionExpression: 'attribute_not_exists(tat) OR tat <= :now',
              ExpressionAttributeValues: { ':next': now + interval, ':now': now },
              ReturnValues: 'ALL_NEW',
            }
          : {
              TableName: config.tableName,
              Key,
              UpdateExpression: 'SET tat = tat + :t',
              ConditionExpression: 'tat > :now AND tat <= :max',
              ExpressionAttributeValues: { ':t': interval, ':now': now, ':max': now + maxWaitMs },
              ReturnValues: 'ALL_NEW',
            },
      ),
    );
    const item = r.Attributes ?? {};
    if (typeof item.slow_until === 'number') slowUntil.set(merchantId, item.slow_until);
    return form === 'idle' ? now : Number(item.tat) - interval;
  } catch (e) {
    if (e instanceof ConditionalCheckFailedException) return null;
    throw e;
  }
}

/** Clover answered 429 anyway: every Lambda goes at half the rate for a minute. */
export async function noteRateLimited(merchantId: string): Promise<void> {
  emitMetric('CloverRateLimited');
  const until = hooks.now() + SLOW_MS;
  slowUntil.set(merchantId, until);
  try {
    await dynamo.send(
      new UpdateCommand({
        TableName: config.tableName,
        Key: { pk: pk.merchant(merchantId), sk: sk.cloverBudget },
        UpdateExpression: 'SET slow_until = :u',
        ExpressionAttributeValues: { ':u': until },
      }),
    );
  } catch {
    // A lost hint only costs another 429.
  }
}
