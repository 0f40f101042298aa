/**
 * Used OAuth launch states (shared/oauth/state.ts): `OAUTHSTATE#<nonce>` / `STATE`, written once
 * with a condition, so of two callbacks presenting one state exactly one gets through. The item
 * expires with the state (TTL); until then the state cannot be used again.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { dynamo } from '../aws';
import { config } from '../config';
import { pk, sk } from './keys';

/** Records the state's nonce; false when it was used before. */
export async function consumeState(nonce: string, expiresEpochS: number, merchantId: string): Promise<boolean> {
  try {
    await dynamo.send(
      new PutCommand({
        TableName: config.tableName,
        Item: {
          pk: pk.oauthState(nonce),
          sk: sk.oauthState,
          merchant_id: merchantId,
          used_at: new Date().toISOString(),
          expires_at_epoch: expiresEpochS,
        },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
    return true;
  } catch (e) {
    if (e instanceof ConditionalCheckFailedException) return false;
    throw e;
  }
}
