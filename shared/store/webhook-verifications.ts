/**
 * The rate limit on unauthenticated webhook verification posts: a counter per minute,
 * `WEBHOOK#VERIFICATION` / `WINDOW#<epoch minute>`, incremented with a condition so that at most
 * VERIFICATIONS_PER_MINUTE get through across every container; it expires with a TTL.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { dynamo } from '../aws';
import { config } from '../config';
import { pk, sk } from './keys';

export const VERIFICATIONS_PER_MINUTE = 10;

/** Takes one of this minute's slots; false when they are used up. */
export async function takeVerificationSlot(now = Date.now()): Promise<boolean> {
  const minute = Math.floor(now / 60_000);
  try {
    await dynamo.send(
      new UpdateCommand({
        TableName: config.tableName,
        Key: { pk: pk.webhookVerification, sk: sk.window(minute) },
        UpdateExpression: 'ADD #c :one SET expires_at_epoch = :ttl',
        ConditionExpression: 'attribute_not_exists(#c) OR #c < :max',
        ExpressionAttributeNames: { '#c': 'count' },
        ExpressionAttributeValues: { ':one': 1, ':max': VERIFICATIONS_PER_MINUTE, ':ttl': (minute + 2) * 60 },
      }),
    );
    return true;
  } catch (e) {
    if (e instanceof ConditionalCheckFailedException) return false;
    throw e;
  }
}
