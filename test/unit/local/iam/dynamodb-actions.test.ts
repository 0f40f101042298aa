/**
 * DynamoDB calls → the checks IAM makes for them: actions (per item for transactions, per table for
 * batches), table and index ARNs, and the condition keys LeadingKeys / Attributes / Select /
 * ReturnValues. Request bodies come from the real SDK (lib-dynamodb, as shared/store uses it) sent
 * to a capture server, and the checks are then evaluated against the template's real policies.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  BatchWriteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  ScanCommand,
  TransactGetCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dynamoDbAuthorizations, expressionAttributes, keySchemaOf } from '../../../../local/iam/dynamodb-actions';
import { UnknownOperationError } from '../../../../local/iam/errors';
import { evaluate, firstDenial } from '../../../../local/iam/policy';
import { functionsFromTemplate } from '../../../../local/iam/template';
import { tableDefinition } from '../../../../shared/table';
import { type CaptureServer, startCaptureServer } from './capture-server';

const NAME = 'clover-payments-sandbox';
const TABLE = `arn:aws:dynamodb:us-east-1:000000000000:table/${NAME}`;
const opts = {
  region: 'us-east-1',
  accountId: '000000000000',
  keySchema: (t: string) => (t === NAME ? keySchemaOf(tableDefinition) : undefined),
};
const fns = functionsFromTemplate(JSON.parse(readFileSync(join(__dirname, 'fixtures/sandbox.template.json'), 'utf8')));

let server: CaptureServer;
let doc: DynamoDBDocumentClient;
let raw: DynamoDBClient;
beforeAll(async () => {
  server = await startCaptureServer();
  raw = new DynamoDBClient({
    endpoint: server.url,
    region: 'us-east-1',
    credentials: { accessKeyId: 'AKID', secretAccessKey: 'secret' },
    maxAttempts: 1,
  });
  doc = DynamoDBDocumentClient.from(raw);
});
afterAll(() => server.close());

/** The checks for a command, from the target and body the SDK actually sent. */
async function checksFor(send: () => Promise<unknown>) {
  const before = server.requests.length;
  await send().catch(() => undefined);
  const req = server.requests[before]!;
  return dynamoDbAuthorizations(String(req.headers['x-amz-target']), JSON.parse(req.body.toString()), opts);
}

describe('single-item calls', () => {
  it('GetItem: the table, the partition key, the key and projected attributes, Select', async () => {
    const checks = await checksFor(() =>
      doc.send(
        new GetCommand({
          TableName: NAME,
          Key: { pk: 'MERCHANT#M1', sk: 'CHARGE#ch_1' },
          ProjectionExpression: '#s, amount, meta.note',
          ExpressionAttributeNames: { '#s': 'status' },
        }),
      ),
    );
    expect(checks).toEqual([
      {
        action: 'dynamodb:GetItem',
        resource: TABLE,
        context: {
          'dynamodb:LeadingKeys': ['MERCHANT#M1'],
          'dynamodb:Attributes': ['amount', 'meta', 'pk', 'sk', 'status'],
          'dynamodb:Select': 'SPECIFIC_ATTRIBUTES',
        },
      },
    ]);
    const plain = await checksFor(() => doc.send(new GetCommand({ TableName: NAME, Key: { pk: 'A', sk: 'B' } })));
    expect(plain[0]?.context['dynamodb:Select']).toBe('ALL_ATTRIBUTES');
  });

  it('PutItem: the item’s attributes and those its condition tests; ReturnValues defaults to NONE', async () => {
    const [check] = await checksFor(() =>
      doc.send(
        new PutCommand({
          TableName: NAME,
          Item: { pk: 'MERCHANT#M1', sk: 'CHARGE#ch_1', amount: 100 },
          ConditionExpression: 'attribute_not_exists(pk) OR #v < :v',
          ExpressionAttributeNames: { '#v': 'version' },
          ExpressionAttributeValues: { ':v': 3 },
        }),
      ),
    );
    expect(check).toEqual({
      action: 'dynamodb:PutItem',
      resource: TABLE,
      context: {
        'dynamodb:LeadingKeys': ['MERCHANT#M1'],
        'dynamodb:Attributes': ['amount', 'pk', 'sk', 'version'],
        'dynamodb:ReturnValues': 'NONE',
      },
    });
  });

  it('UpdateItem: key, updated and tested attributes (top level only), ReturnValues as given', async () => {
    const [check] = await checksFor(() =>
      doc.send(
        new UpdateCommand({
          TableName: NAME,
          Key: { pk: 'MERCHANT#M1', sk: 'CHARGE#ch_1' },
          UpdateExpression:
            'SET #s = :s, history[0] = :h, meta.#n = if_not_exists(meta.#n, :z) ADD attempts :one REMOVE lease',
          ConditionExpression: 'attribute_exists(pk) AND size(history) < :max AND #s IN (:a, :b)',
          ExpressionAttributeNames: { '#s': 'status', '#n': 'note' },
          ExpressionAttributeValues: {
            ':s': 'captured',
            ':h': 'x',
            ':z': '',
            ':one': 1,
            ':max': 10,
            ':a': 'a',
            ':b': 'b',
          },
          ReturnValues: 'ALL_NEW',
          ReturnConsumedCapacity: 'TOTAL',
        }),
      ),
    );
    expect(check?.context).toEqual({
      'dynamodb:LeadingKeys': ['MERCHANT#M1'],
      'dynamodb:Attributes': ['attempts', 'history', 'lease', 'meta', 'pk', 'sk', 'status'],
      'dynamodb:ReturnValues': 'ALL_NEW',
      'dynamodb:ReturnConsumedCapacity': 'TOTAL',
    });
  });

  it('accepts a table ARN as TableName', () => {
    const [check] = dynamoDbAuthorizations(
      'DynamoDB_20120810.DeleteItem',
      { TableName: TABLE, Key: { pk: { S: 'MERCHANT#M9' }, sk: { S: 'x' } } },
      opts,
    );
    expect(check).toMatchObject({ action: 'dynamodb:DeleteItem', resource: TABLE });
    expect(check?.context['dynamodb:LeadingKeys']).toEqual(['MERCHANT#M9']);
  });
});

describe('queries and scans', () => {
  it('Query on an index: the index ARN, the index’s partition-key value, ALL_PROJECTED_ATTRIBUTES', async () => {
    const [check] = await checksFor(() =>
      doc.send(
        new QueryCommand({
          TableName: NAME,
          IndexName: 'gsi1',
          KeyConditionExpression: '#p = :p AND gsi1sk < :before',
          FilterExpression: 'amount > :zero',
          ExpressionAttributeNames: { '#p': 'gsi1pk' },
          ExpressionAttributeValues: { ':p': 'PENDING', ':before': '2024', ':zero': 0 },
        }),
      ),
    );
    expect(check).toEqual({
      action: 'dynamodb:Query',
      resource: `${TABLE}/index/gsi1`,
      context: {
        'dynamodb:LeadingKeys': ['PENDING'],
        'dynamodb:Attributes': ['amount', 'gsi1pk', 'gsi1sk'],
        'dynamodb:Select': 'ALL_PROJECTED_ATTRIBUTES',
      },
    });
  });

  it('Query on the table: the partition key fixed by equality (either side), or none', () => {
    const q = (KeyConditionExpression: string, Select?: string) =>
      dynamoDbAuthorizations(
        'DynamoDB_20120810.Query',
        {
          TableName: NAME,
          KeyConditionExpression,
          ExpressionAttributeValues: { ':p': { S: 'MERCHANT#M1' }, ':s': { S: 'CHARGE#' } },
          ...(Select ? { Select } : {}),
        },
        opts,
      )[0]?.context;
    expect(q('pk = :p AND begins_with(sk, :s)')).toMatchObject({ 'dynamodb:LeadingKeys': ['MERCHANT#M1'] });
    expect(q(':p = pk')).toMatchObject({
      'dynamodb:LeadingKeys': ['MERCHANT#M1'],
      'dynamodb:Select': 'ALL_ATTRIBUTES',
    });
    expect(q('sk = :p', 'COUNT')).toEqual({ 'dynamodb:Attributes': ['sk'], 'dynamodb:Select': 'COUNT' });
    const legacy = dynamoDbAuthorizations(
      'DynamoDB_20120810.Query',
      {
        TableName: NAME,
        KeyConditions: { pk: { ComparisonOperator: 'EQ', AttributeValueList: [{ S: 'MERCHANT#M2' }] } },
      },
      opts,
    );
    expect(legacy[0]?.context['dynamodb:LeadingKeys']).toEqual(['MERCHANT#M2']);
  });

  it('Scan: no leading keys (so ForAllValues on them passes, as in AWS)', async () => {
    const [check] = await checksFor(() => doc.send(new ScanCommand({ TableName: NAME, ProjectionExpression: 'pk' })));
    expect(check).toEqual({
      action: 'dynamodb:Scan',
      resource: TABLE,
      context: { 'dynamodb:Attributes': ['pk'], 'dynamodb:Select': 'SPECIFIC_ATTRIBUTES' },
    });
  });
});

describe('batches and transactions', () => {
  it('BatchGetItem / BatchWriteItem: one check per table, with all its items’ keys', async () => {
    const get = await checksFor(() =>
      doc.send(
        new BatchGetCommand({
          RequestItems: {
            [NAME]: {
              Keys: [
                { pk: 'MERCHANT#M1', sk: 'a' },
                { pk: 'MERCHANT#M2', sk: 'b' },
                { pk: 'MERCHANT#M1', sk: 'c' },
              ],
            },
            other: { Keys: [{ id: '1' }] },
          },
        }),
      ),
    );
    expect(get).toEqual([
      {
        action: 'dynamodb:BatchGetItem',
        resource: TABLE,
        context: {
          'dynamodb:LeadingKeys': ['MERCHANT#M1', 'MERCHANT#M2'],
          'dynamodb:Attributes': ['pk', 'sk'],
          'dynamodb:Select': 'ALL_ATTRIBUTES',
        },
      },
      {
        action: 'dynamodb:BatchGetItem',
        resource: 'arn:aws:dynamodb:us-east-1:000000000000:table/other',
        context: { 'dynamodb:Attributes': ['id'], 'dynamodb:Select': 'ALL_ATTRIBUTES' },
      },
    ]);
    const write = await checksFor(() =>
      doc.send(
        new BatchWriteCommand({
          RequestItems: {
            [NAME]: [
              { PutRequest: { Item: { pk: 'MERCHANT#M1', sk: 'a', v: 1 } } },
              { DeleteRequest: { Key: { pk: 'MERCHANT#M3', sk: 'b' } } },
            ],
          },
        }),
      ),
    );
    expect(write).toEqual([
      {
        action: 'dynamodb:BatchWriteItem',
        resource: TABLE,
        context: { 'dynamodb:LeadingKeys': ['MERCHANT#M1', 'MERCHANT#M3'], 'dynamodb:Attributes': ['pk', 'sk', 'v'] },
      },
    ]);
  });

  it('TransactWriteItems: the per-item action on each item’s table, not dynamodb:TransactWriteItems', async () => {
    const checks = await checksFor(() =>
      doc.send(
        new TransactWriteCommand({
          TransactItems: [
            { Put: { TableName: NAME, Item: { pk: 'MERCHANT#M1', sk: 'CHARGE#1' } } },
            {
              Update: {
                TableName: NAME,
                Key: { pk: 'MERCHANT#M1', sk: 'IDEM#k' },
                UpdateExpression: 'SET #s = :s',
                ExpressionAttributeNames: { '#s': 'status' },
                ExpressionAttributeValues: { ':s': 'done' },
              },
            },
            {
              ConditionCheck: {
                TableName: NAME,
                Key: { pk: 'MERCHANT#M1', sk: 'M' },
                ConditionExpression: 'attribute_exists(pk)',
              },
            },
            { Delete: { TableName: 'other', Key: { id: 'x' } } },
          ],
        }),
      ),
    );
    expect(checks.map((c) => [c.action, c.resource, c.context['dynamodb:LeadingKeys']])).toEqual([
      ['dynamodb:PutItem', TABLE, ['MERCHANT#M1']],
      ['dynamodb:UpdateItem', TABLE, ['MERCHANT#M1']],
      ['dynamodb:ConditionCheckItem', TABLE, ['MERCHANT#M1']],
      ['dynamodb:DeleteItem', 'arn:aws:dynamodb:us-east-1:000000000000:table/other', undefined],
    ]);
    expect(checks[1]?.context['dynamodb:Attributes']).toEqual(['pk', 'sk', 'status']);
  });

  it('TransactGetItems: dynamodb:GetItem per item', async () => {
    const checks = await checksFor(() =>
      doc.send(
        new TransactGetCommand({ TransactItems: [{ Get: { TableName: NAME, Key: { pk: 'MERCHANT#M4', sk: 'a' } } }] }),
      ),
    );
    expect(checks).toEqual([
      {
        action: 'dynamodb:GetItem',
        resource: TABLE,
        context: {
          'dynamodb:LeadingKeys': ['MERCHANT#M4'],
          'dynamodb:Attributes': ['pk', 'sk'],
          'dynamodb:Select': 'ALL_ATTRIBUTES',
        },
      },
    ]);
  });
});

describe('table-level and other calls', () => {
  it('ListTables needs Resource "*"; table calls name the table; an unknown op is dynamodb:<Op>', async () => {
    expect(await checksFor(() => raw.send(new ListTablesCommand({})))).toEqual([
      { action: 'dynamodb:ListTables', resource: '*', context: {} },
    ]);
    for (const op of ['DescribeTable', 'CreateTable', 'UpdateTimeToLive', 'DescribeTimeToLive', 'DeleteTable']) {
      expect(dynamoDbAuthorizations(`DynamoDB_20120810.${op}`, { TableName: NAME }, opts)).toEqual([
        { action: `dynamodb:${op}`, resource: TABLE, context: {} },
      ]);
    }
    expect(dynamoDbAuthorizations('DynamoDB_20120810.TagResource', { ResourceArn: TABLE, Tags: [] }, opts)).toEqual([
      { action: 'dynamodb:TagResource', resource: TABLE, context: {} },
    ]);
    expect(dynamoDbAuthorizations('DynamoDB_20120810.ExecuteStatement', { Statement: 'SELECT' }, opts)).toEqual([
      { action: 'dynamodb:ExecuteStatement', resource: '*', context: {} },
    ]);
  });

  it('throws on a target that is not DynamoDB’s', () => {
    expect(() => dynamoDbAuthorizations('secretsmanager.GetSecretValue', {}, opts)).toThrow(UnknownOperationError);
    expect(() => dynamoDbAuthorizations(undefined, {}, opts)).toThrow(UnknownOperationError);
    expect(() => dynamoDbAuthorizations('DynamoDB_20120810.', {}, opts)).toThrow(UnknownOperationError);
  });

  it('expressionAttributes skips functions, keywords, nested paths, values and indexes', () => {
    expect(
      expressionAttributes('attribute_not_exists(#a) AND NOT b.c BETWEEN :x AND :y OR contains(d[2].e, :z)', {
        '#a': 'A',
      }),
    ).toEqual(['A', 'b', 'd']);
  });
});

describe('against the template’s policies', () => {
  const denial = (fn: string, checks: ReturnType<typeof dynamoDbAuthorizations>) =>
    firstDenial(fns[fn]!.policies, checks);

  it('tokens may read one item but not write, query or scan', async () => {
    const get = await checksFor(() => doc.send(new GetCommand({ TableName: NAME, Key: { pk: 'KEY#h', sk: 'KEY#h' } })));
    expect(denial('tokens', get)).toBeUndefined();
    const put = await checksFor(() => doc.send(new PutCommand({ TableName: NAME, Item: { pk: 'X', sk: 'Y' } })));
    expect(denial('tokens', put)).toMatchObject({ request: { action: 'dynamodb:PutItem' }, decision: 'implicit_deny' });
    const scan = await checksFor(() => doc.send(new ScanCommand({ TableName: NAME })));
    expect(denial('tokens', scan)?.decision).toBe('implicit_deny');
  });

  it('charges may run a transaction on the table though it has no dynamodb:TransactWriteItems', async () => {
    const checks = await checksFor(() =>
      doc.send(
        new TransactWriteCommand({
          TransactItems: [
            { Put: { TableName: NAME, Item: { pk: 'MERCHANT#M1', sk: 'CHARGE#1' } } },
            {
              ConditionCheck: {
                TableName: NAME,
                Key: { pk: 'MERCHANT#M1', sk: 'M' },
                ConditionExpression: 'attribute_exists(pk)',
              },
            },
          ],
        }),
      ),
    );
    expect(denial('charges', checks)).toBeUndefined();
    expect(
      evaluate(fns.charges!.policies, { action: 'dynamodb:TransactWriteItems', resource: TABLE, context: {} }).decision,
    ).toBe('implicit_deny');
    expect(denial('authorizer', checks)).toMatchObject({ request: { action: 'dynamodb:PutItem' } });
  });
});
