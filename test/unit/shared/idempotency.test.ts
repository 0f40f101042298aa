/**
 * The idempotency key claim at unit level: exact DynamoDB command inputs and what is found under
 * the key (the same request's record, 422 for another request, a key given back), with the client
 * mocked (aws-sdk-client-mock). The operations the keys name are driven by shared/payments/*, and
 * proven by the simulation (test/simulation/).
 */
import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ApiError } from '../../../shared/http/errors';
import {
  claimKey,
  findKey,
  IDEMPOTENCY_TTL_S,
  type KeyRecord,
  keepKeyAlive,
  releaseKey,
} from '../../../shared/idempotency';

const ddb = mockClient(DynamoDBDocumentClient);
mockClient(DynamoDBClient);

const NOW = 1_800_000_000_000;
const key = { pk: 'MERCHANT#M1', sk: 'IDEM#*#k1' }; // one key per merchant, whatever the route (API.md §1.3)
const conditionFailed = () => new ConditionalCheckFailedException({ message: 'failed', $metadata: {} });

const record = (over: Partial<KeyRecord> = {}): KeyRecord => ({
  ...key,
  request_hash: 'h1',
  op: 'charge',
  resource: 'CHARGE#ch_0',
  created_ms: NOW - 60_000,
  expires_at_epoch: NOW / 1000 + 3600,
  ...over,
});

const run = () => claimKey('M1', 'k1', 'h1', 'charge', 'CHARGE#ch_1', NOW);

beforeEach(() => ddb.reset());
afterEach(() => ddb.reset());

describe('claimKey', () => {
  it('claims a free key with one conditional put naming the new operation', async () => {
    ddb.on(PutCommand).resolves({});
    expect(await run()).toEqual({ kind: 'claimed' });
    expect(ddb.commandCalls(PutCommand)[0]!.args[0].input).toEqual({
      TableName: 'clover-payments',
      Item: {
        ...key,
        request_hash: 'h1',
        op: 'charge',
        resource: 'CHARGE#ch_1',
        created_ms: NOW,
        expires_at_epoch: NOW / 1000 + IDEMPOTENCY_TTL_S,
      },
      // An expired record (TTL deletion is lazy) counts as absent.
      ConditionExpression: 'attribute_not_exists(pk) OR expires_at_epoch < :nowS',
      ExpressionAttributeValues: { ':nowS': NOW / 1000 },
    });
  });

  it('hands back the same request’s record, read consistently, when the key is taken', async () => {
    ddb.on(PutCommand).rejects(conditionFailed());
    ddb.on(GetCommand).resolves({ Item: record() });
    expect(await run()).toEqual({ kind: 'existing', record: record() });
    expect(ddb.commandCalls(GetCommand)[0]!.args[0].input).toEqual({
      TableName: 'clover-payments',
      Key: key,
      ConsistentRead: true,
    });
  });

  it('answers 422 idempotency_key_reused for the same key with another request', async () => {
    ddb.on(PutCommand).rejects(conditionFailed());
    ddb.on(GetCommand).resolves({ Item: record({ request_hash: 'other' }) });
    await expect(run()).rejects.toMatchObject({
      status: 422,
      code: 'idempotency_key_reused',
      type: 'idempotency_error',
    });
  });

  it('answers 409 with Retry-After when the key was given back between the write and the read', async () => {
    ddb.on(PutCommand).rejects(conditionFailed());
    ddb.on(GetCommand).resolves({});
    const e = (await run().catch((x) => x)) as ApiError;
    expect(e).toBeInstanceOf(ApiError);
    expect(e).toMatchObject({ status: 409, code: 'idempotency_in_progress', extras: { retryAfter: 1 } });
  });

  it('lets any other DynamoDB failure through (a 503 with the handler’s mapping)', async () => {
    const boom = Object.assign(new Error('throttled'), {
      name: 'ProvisionedThroughputExceededException',
      $metadata: {},
    });
    ddb.on(PutCommand).rejects(boom);
    await expect(run()).rejects.toBe(boom);
  });
});

describe('findKey', () => {
  it('finds nothing under a free or expired key', async () => {
    ddb.on(GetCommand).resolves({});
    expect(await findKey('M1', 'k1', 'h1', NOW)).toBeNull();
    ddb.on(GetCommand).resolves({ Item: record({ expires_at_epoch: NOW / 1000 - 1 }) });
    expect(await findKey('M1', 'k1', 'h1', NOW)).toBeNull();
  });

  it('refuses another request under the key, even before anything else is checked', async () => {
    ddb.on(GetCommand).resolves({ Item: record({ request_hash: 'h2' }) });
    await expect(findKey('M1', 'k1', 'h1', NOW)).rejects.toMatchObject({ status: 422 });
  });
});

describe('releaseKey', () => {
  it('gives the key back only while it still names the refused operation', async () => {
    ddb.on(DeleteCommand).resolves({});
    await releaseKey('M1', 'k1', 'CHARGE#ch_1');
    expect(ddb.commandCalls(DeleteCommand)[0]!.args[0].input).toEqual({
      TableName: 'clover-payments',
      Key: key,
      ConditionExpression: '#r = :r',
      ExpressionAttributeNames: { '#r': 'resource' },
      ExpressionAttributeValues: { ':r': 'CHARGE#ch_1' },
    });
  });

  it('does nothing when the key names something else by now', async () => {
    ddb.on(DeleteCommand).rejects(conditionFailed());
    await expect(releaseKey('M1', 'k1', 'CHARGE#ch_1')).resolves.toBeUndefined();
  });
});

describe('keepKeyAlive', () => {
  it('extends the key of an unresolved operation, never shortens it, never another operation’s', async () => {
    ddb.on(UpdateCommand).resolves({});
    await keepKeyAlive('M1', 'k1', 'CHARGE#ch_1', NOW / 1000 + 86_400);
    expect(ddb.commandCalls(UpdateCommand)[0]!.args[0].input).toEqual({
      TableName: 'clover-payments',
      Key: key,
      UpdateExpression: 'SET expires_at_epoch = :until',
      ConditionExpression: '#r = :r AND expires_at_epoch < :until',
      ExpressionAttributeNames: { '#r': 'resource' },
      ExpressionAttributeValues: { ':r': 'CHARGE#ch_1', ':until': NOW / 1000 + 86_400 },
    });
  });
});
