/**
 * The idempotency claim at unit level: exact DynamoDB command inputs and the mapping of what is
 * found under the key (replay, 409, 422, takeover), with the client mocked (aws-sdk-client-mock).
 */
import { DynamoDBClient, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ApiError } from '../../../shared/http/errors';
import { claim, completeItem, type IdempotencyRecord, LedgerConditionFailed } from '../../../shared/idempotency';

const ddb = mockClient(DynamoDBDocumentClient);
mockClient(DynamoDBClient);

const NOW = 1_800_000_000_000;
const key = { pk: 'MERCHANT#M1', sk: 'IDEM#*#k1' }; // one key per merchant, whatever the route (API.md §1.3)
const first = {
  resourceId: 'ch_1',
  items: [{ Put: { TableName: 'clover-payments', Item: { pk: 'MERCHANT#M1', sk: 'CHARGE#ch_1' } } }],
};

const cancelled = (codes: string[]) =>
  new TransactionCanceledException({
    message: 'cancelled',
    $metadata: {},
    CancellationReasons: codes.map((Code) => ({ Code })),
  });

const existing = (over: Partial<IdempotencyRecord>): IdempotencyRecord => ({
  ...key,
  status: 'completed',
  request_hash: 'h1',
  lease_until: NOW - 1,
  owner: 'req-0',
  expires_at_epoch: NOW / 1000 + 3600,
  ...over,
});

const run = () => claim('M1', 'POST /v1/charges', 'k1', 'h1', first, 'req-1', NOW);

beforeEach(() => ddb.reset());
afterEach(() => ddb.reset());

describe('claim', () => {
  it('writes the claim and the ledger record in one transaction, conditioned on the key being free', async () => {
    ddb.on(TransactWriteCommand).resolves({});
    const out = await run();
    expect(out).toEqual({
      kind: 'claimed',
      claim: { merchantId: 'M1', routeKey: 'POST /v1/charges', clientKey: 'k1', owner: 'req-1', key },
    });
    const input = ddb.commandCalls(TransactWriteCommand)[0]!.args[0].input;
    expect(input.TransactItems).toHaveLength(2);
    expect(input.TransactItems![0]).toEqual({
      Put: {
        TableName: 'clover-payments',
        Item: {
          ...key,
          status: 'in_progress',
          request_hash: 'h1',
          lease_until: NOW + 30_000,
          owner: 'req-1',
          resource_id: 'ch_1',
          expires_at_epoch: NOW / 1000 + 24 * 3600,
        },
        ConditionExpression: 'attribute_not_exists(pk) OR expires_at_epoch < :nowS',
        ExpressionAttributeValues: { ':nowS': NOW / 1000 },
      },
    });
    expect(input.TransactItems![1]).toEqual(first.items[0]);
  });

  it('replays a completed request with Idempotent-Replayed', async () => {
    ddb.on(TransactWriteCommand).rejects(cancelled(['ConditionalCheckFailed', 'None']));
    ddb.on(GetCommand).resolves({ Item: existing({ response: { statusCode: 201, body: '{"id":"ch_0"}' } }) });
    const out = await run();
    expect(out).toEqual({
      kind: 'replay',
      response: {
        statusCode: 201,
        headers: { 'Content-Type': 'application/json', 'Idempotent-Replayed': 'true' },
        body: '{"id":"ch_0"}',
      },
    });
    expect(ddb.commandCalls(GetCommand)[0]!.args[0].input).toEqual({
      TableName: 'clover-payments',
      Key: key,
      ConsistentRead: true,
    });
  });

  it('answers 422 for the same key with another request', async () => {
    ddb.on(TransactWriteCommand).rejects(cancelled(['ConditionalCheckFailed', 'None']));
    ddb.on(GetCommand).resolves({ Item: existing({ request_hash: 'other' }) });
    await expect(run()).rejects.toMatchObject({
      status: 422,
      code: 'idempotency_key_reused',
      type: 'idempotency_error',
    });
  });

  it('answers 409 with Retry-After while the first request holds its lease', async () => {
    ddb.on(TransactWriteCommand).rejects(cancelled(['ConditionalCheckFailed', 'None']));
    ddb.on(GetCommand).resolves({ Item: existing({ status: 'in_progress', lease_until: NOW + 5000 }) });
    const e = (await run().catch((x) => x)) as ApiError;
    expect(e).toBeInstanceOf(ApiError);
    expect(e.status).toBe(409);
    expect(e.code).toBe('idempotency_in_progress');
    expect(e.extras.retryAfter).toBe(1);
  });

  it('takes over a retryable claim and hands back the first attempt’s resource', async () => {
    ddb.on(TransactWriteCommand).rejects(cancelled(['ConditionalCheckFailed', 'None']));
    ddb.on(GetCommand).resolves({ Item: existing({ status: 'retryable', resource_id: 'ch_0', owner: 'req-0' }) });
    ddb.on(UpdateCommand).resolves({});
    const out = await run();
    expect(out).toMatchObject({ kind: 'claimed', claim: { resourceId: 'ch_0', owner: 'req-1' } });
    const u = ddb.commandCalls(UpdateCommand)[0]!.args[0].input;
    expect(u.ConditionExpression).toBe('#o = :prev AND (#s = :retryable OR (#s = :inp AND lease_until < :now))');
    expect(u.ExpressionAttributeValues).toMatchObject({ ':prev': 'req-0', ':me': 'req-1' });
  });

  it('reports which ledger condition failed when the key itself was free', async () => {
    ddb.on(TransactWriteCommand).rejects(cancelled(['None', 'ConditionalCheckFailed']));
    const e = await run().catch((x) => x);
    expect(e).toBeInstanceOf(LedgerConditionFailed);
    expect((e as LedgerConditionFailed).index).toBe(0);
  });
});

describe('completeItem', () => {
  const c = { merchantId: 'M1', routeKey: 'POST /v1/charges', clientKey: 'k1', owner: 'req-1', key };
  const response = { statusCode: 201, body: '{}' };

  it('stores the response of a definitive outcome, only if we still own the claim', () => {
    expect(completeItem(c, response, 'completed')).toEqual({
      Update: {
        TableName: 'clover-payments',
        Key: key,
        UpdateExpression: 'SET #s = :s, #r = :r',
        ConditionExpression: '#o = :me',
        ExpressionAttributeNames: { '#s': 'status', '#o': 'owner', '#r': 'response' },
        ExpressionAttributeValues: { ':s': 'completed', ':me': 'req-1', ':r': response },
      },
    });
  });

  it('leaves an unknown outcome retryable, without a response to replay', () => {
    const u = completeItem(c, response, 'retryable').Update!;
    expect(u.UpdateExpression).toBe('SET #s = :s REMOVE #r');
    expect(u.ExpressionAttributeValues).toEqual({ ':s': 'retryable', ':me': 'req-1' });
  });

  it('forgets a claim when nothing happened at Clover', () => {
    expect(completeItem(c, response, 'forget')).toEqual({
      Delete: {
        TableName: 'clover-payments',
        Key: key,
        ConditionExpression: '#o = :me',
        ExpressionAttributeNames: { '#o': 'owner' },
        ExpressionAttributeValues: { ':me': 'req-1' },
      },
    });
  });
});
