// Who may post to /v1/webhooks/clover (shared/webhooks.ts): the auth code, compared in constant
// time; the unauthenticated handshake only while no code is configured; only well-formed codes logged.

import { describe, expect, it } from 'vitest';
import { verificationCodeOf, webhookAuth } from '../../../shared/webhooks';

describe('webhook auth', () => {
  it('authenticates only the configured code', () => {
    expect(webhookAuth('s3cret-code', 's3cret-code')).toBe('authenticated');
    expect(webhookAuth('s3cret-code', 'S3cret-code')).toBe('refused');
    expect(webhookAuth('s3cret-code', undefined)).toBe('refused');
    expect(webhookAuth('s3cret-code', '')).toBe('refused');
  });

  it('is unconfigured while no code is set, whatever the request carries', () => {
    expect(webhookAuth('', undefined)).toBe('unconfigured');
    expect(webhookAuth('', 'anything')).toBe('unconfigured');
  });

  it('reads a verification code only from a body that is exactly a well-formed handshake', () => {
    expect(verificationCodeOf({ verificationCode: '0d5a2c1e-9b7f-4e21-8c3d-123456789015' })).toBe(
      '0d5a2c1e-9b7f-4e21-8c3d-123456789015',
    );
    for (const body of [
      { verificationCode: 'line\nbreak' },
      { verificationCode: '<script>' },
      { verificationCode: 'x'.repeat(65) },
      { verificationCode: 7 },
      { verificationCode: 'abc', merchants: {} },
      {},
    ]) {
      expect(verificationCodeOf(body as Record<string, unknown>), JSON.stringify(body)).toBeNull();
    }
  });
});

describe('the verification rate limit', () => {
  it('takes a slot of the current minute with a conditional counter, and refuses when the minute is full', async () => {
    const { ConditionalCheckFailedException } = await import('@aws-sdk/client-dynamodb');
    const { DynamoDBDocumentClient, UpdateCommand } = await import('@aws-sdk/lib-dynamodb');
    const { mockClient } = await import('aws-sdk-client-mock');
    const { takeVerificationSlot, VERIFICATIONS_PER_MINUTE } = await import(
      '../../../shared/store/webhook-verifications'
    );
    const ddb = mockClient(DynamoDBDocumentClient);
    try {
      ddb
        .on(UpdateCommand)
        .resolvesOnce({})
        .rejectsOnce(new ConditionalCheckFailedException({ message: 'full', $metadata: {} }));
      const now = Date.UTC(2026, 10, 30, 12, 34, 56);
      expect(await takeVerificationSlot(now)).toBe(true);
      expect(await takeVerificationSlot(now)).toBe(false);
      const input = ddb.commandCalls(UpdateCommand)[0]!.args[0].input;
      const minute = Math.floor(now / 60_000);
      expect(input).toMatchObject({
        Key: { pk: 'WEBHOOK#VERIFICATION', sk: `WINDOW#${minute}` },
        UpdateExpression: 'ADD #c :one SET expires_at_epoch = :ttl',
        ConditionExpression: 'attribute_not_exists(#c) OR #c < :max',
        ExpressionAttributeValues: { ':one': 1, ':max': VERIFICATIONS_PER_MINUTE, ':ttl': (minute + 2) * 60 },
      });
    } finally {
      ddb.restore();
    }
  });
});
