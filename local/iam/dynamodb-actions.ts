/**
 * What IAM checks for one DynamoDB API call (AWS JSON 1.0, `X-Amz-Target: DynamoDB_20120810.<Op>`):
 * the actions, the table or index ARNs, and DynamoDB's condition keys, as the DynamoDB developer
 * guide ("Using IAM policy conditions for fine-grained access control") and the service
 * authorization reference describe them.
 *
 * - Single-item and query calls need `dynamodb:<Op>` on the table (`<table>/index/<name>` for a
 *   Query or Scan with IndexName). Batch calls need `dynamodb:BatchGetItem` / `BatchWriteItem` on
 *   each table. Transactions need the per-item action (PutItem, UpdateItem, DeleteItem,
 *   ConditionCheckItem; GetItem for TransactGetItems) on each item's table, one check per item.
 * - `dynamodb:LeadingKeys`: the partition-key values the call touches (absent for a Scan, and for a
 *   Query whose key condition does not fix the partition key by equality).
 * - `dynamodb:Attributes`: the top-level attribute names the call reads, writes or tests — key,
 *   item, projection, update, condition, filter and key-condition attributes.
 * - `dynamodb:Select` on reads (`ALL_ATTRIBUTES` unless a projection makes it `SPECIFIC_ATTRIBUTES`,
 *   or an index query makes it `ALL_PROJECTED_ATTRIBUTES`), `dynamodb:ReturnValues` on single-item
 *   writes (`NONE` unless given), `dynamodb:ReturnConsumedCapacity` when given.
 */
import { UnknownOperationError } from './errors';
import type { AuthorizationRequest, RequestContext } from './policy';

export interface TableKeySchema {
  readonly partitionKey: string;
  /** Index name → the index's partition key attribute. */
  readonly indexes?: Readonly<Record<string, string>>;
}

export interface DynamoDbAuthorizationOptions {
  readonly region: string;
  readonly accountId: string;
  readonly partition?: string;
  /** The key schema of a table, by table name; undefined leaves dynamodb:LeadingKeys out. */
  readonly keySchema: (tableName: string) => TableKeySchema | undefined;
}

/** Adapts a table definition shaped like shared/table.ts's `tableDefinition`. */
export function keySchemaOf(def: {
  readonly partitionKey: string;
  readonly globalSecondaryIndexes?: readonly { readonly indexName: string; readonly partitionKey: string }[];
}): TableKeySchema {
  return {
    partitionKey: def.partitionKey,
    indexes: Object.fromEntries((def.globalSecondaryIndexes ?? []).map((g) => [g.indexName, g.partitionKey])),
  };
}

const TARGET_PREFIX = 'DynamoDB_20120810.';

type Json = Record<string, unknown>;
const obj = (x: unknown): Json => (typeof x === 'object' && x !== null && !Array.isArray(x) ? (x as Json) : {});
const str = (x: unknown): string | undefined => (typeof x === 'string' ? x : undefined);
const list = (x: unknown): unknown[] => (Array.isArray(x) ? x : []);

/**
 * The checks for one call, in the order they are made. `body` is the parsed JSON request body.
 * Throws UnknownOperationError when the target is not a DynamoDB operation.
 */
export function dynamoDbAuthorizations(
  target: string | undefined,
  body: unknown,
  opts: DynamoDbAuthorizationOptions,
): AuthorizationRequest[] {
  if (target === undefined || !target.startsWith(TARGET_PREFIX) || target.length === TARGET_PREFIX.length) {
    throw new UnknownOperationError(`not a DynamoDB operation: ${target ?? '(no X-Amz-Target)'}`);
  }
  const op = target.slice(TARGET_PREFIX.length);
  const b = obj(body);
  const table = (nameOrArn: unknown) => resolveTable(nameOrArn, opts);
  const check = (action: string, resource: string, context: RequestContext = {}): AuthorizationRequest => ({
    action: `dynamodb:${action}`,
    resource,
    context,
  });

  switch (op) {
    case 'GetItem':
    case 'PutItem':
    case 'UpdateItem':
    case 'DeleteItem': {
      const t = table(b.TableName);
      return [check(op, t.arn, { ...itemContext(op, b, t, opts), ...returnContext(b, op !== 'GetItem') })];
    }
    case 'Query':
    case 'Scan': {
      const t = table(b.TableName);
      const index = str(b.IndexName);
      const resource = index === undefined ? t.arn : `${t.arn}/index/${index}`;
      return [check(op, resource, { ...readContext(op, b, t, index, opts), ...returnContext(b, false) })];
    }
    case 'BatchGetItem':
      return Object.entries(obj(b.RequestItems)).map(([name, r]) => {
        const t = table(name);
        const req = obj(r);
        const keys = list(req.Keys).map(obj);
        const names = attributeNames(req.ExpressionAttributeNames);
        const projected = [
          ...expressionAttributes(str(req.ProjectionExpression), names),
          ...strings(req.AttributesToGet),
        ];
        return check('BatchGetItem', t.arn, {
          ...leadingKeys(keys, partitionKeyOf(t, undefined, opts)),
          'dynamodb:Attributes': sorted([...keys.flatMap(Object.keys), ...projected]),
          'dynamodb:Select': projected.length > 0 ? 'SPECIFIC_ATTRIBUTES' : 'ALL_ATTRIBUTES',
          ...returnContext(b, false),
        });
      });
    case 'BatchWriteItem':
      return Object.entries(obj(b.RequestItems)).map(([name, writes]) => {
        const t = table(name);
        const items = list(writes).map((w) => {
          const write = obj(w);
          return obj(obj(write.PutRequest).Item ?? obj(write.DeleteRequest).Key);
        });
        return check('BatchWriteItem', t.arn, {
          ...leadingKeys(items, partitionKeyOf(t, undefined, opts)),
          'dynamodb:Attributes': sorted(items.flatMap(Object.keys)),
          ...returnContext(b, false),
        });
      });
    case 'TransactWriteItems':
      return list(b.TransactItems).map((entry) => {
        const e = obj(entry);
        const kind = (['ConditionCheck', 'Put', 'Update', 'Delete'] as const).find((k) => e[k] !== undefined);
        if (kind === undefined)
          throw new UnknownOperationError('a TransactItems entry has no Put, Update, Delete or ConditionCheck');
        const action = kind === 'ConditionCheck' ? 'ConditionCheckItem' : `${kind}Item`;
        const item = obj(e[kind]);
        const t = table(item.TableName);
        return check(action, t.arn, itemContext(action, item, t, opts));
      });
    case 'TransactGetItems':
      return list(b.TransactItems).map((entry) => {
        const item = obj(obj(entry).Get);
        const t = table(item.TableName);
        return check('GetItem', t.arn, itemContext('GetItem', item, t, opts));
      });
    case 'ListTables':
    case 'DescribeLimits':
    case 'DescribeEndpoints':
      return [check(op, '*')];
    default: {
      // DescribeTable, CreateTable, UpdateTimeToLive, DescribeTimeToLive, TagResource, ...: the table
      // (or resource ARN) the call names; '*' when it names none, which only `Resource: "*"` allows.
      const named = b.TableName ?? b.TableArn ?? b.ResourceArn;
      return [check(op, named === undefined ? '*' : table(named).arn)];
    }
  }
}

interface TableRef {
  readonly name: string;
  readonly arn: string;
}

/** A TableName may be a name or an ARN (of a table, or of something under it such as a stream). */
function resolveTable(nameOrArn: unknown, opts: DynamoDbAuthorizationOptions): TableRef {
  const value = str(nameOrArn) ?? '';
  if (value.startsWith('arn:')) {
    const name = /:table\/([^/]+)/.exec(value)?.[1] ?? value;
    return { name, arn: value };
  }
  return {
    name: value,
    arn: `arn:${opts.partition ?? 'aws'}:dynamodb:${opts.region}:${opts.accountId}:table/${value}`,
  };
}

function partitionKeyOf(
  t: TableRef,
  index: string | undefined,
  opts: DynamoDbAuthorizationOptions,
): string | undefined {
  const schema = opts.keySchema(t.name);
  if (schema === undefined) return undefined;
  return index === undefined ? schema.partitionKey : schema.indexes?.[index];
}

/** GetItem/PutItem/UpdateItem/DeleteItem and their transaction forms. */
function itemContext(action: string, b: Json, t: TableRef, opts: DynamoDbAuthorizationOptions): RequestContext {
  const names = attributeNames(b.ExpressionAttributeNames);
  const item = obj(action === 'PutItem' ? b.Item : b.Key);
  const projected = [...expressionAttributes(str(b.ProjectionExpression), names), ...strings(b.AttributesToGet)];
  const attributes = [
    ...Object.keys(item),
    ...projected,
    ...expressionAttributes(str(b.UpdateExpression), names),
    ...expressionAttributes(str(b.ConditionExpression), names),
    ...Object.keys(obj(b.AttributeUpdates)),
    ...Object.keys(obj(b.Expected)),
  ];
  const context: Record<string, string | string[]> = {
    ...leadingKeys([item], partitionKeyOf(t, undefined, opts)),
    'dynamodb:Attributes': sorted(attributes),
  };
  if (action === 'GetItem')
    context['dynamodb:Select'] = projected.length > 0 ? 'SPECIFIC_ATTRIBUTES' : 'ALL_ATTRIBUTES';
  return context;
}

/** Query and Scan. */
function readContext(
  op: 'Query' | 'Scan',
  b: Json,
  t: TableRef,
  index: string | undefined,
  opts: DynamoDbAuthorizationOptions,
): RequestContext {
  const names = attributeNames(b.ExpressionAttributeNames);
  const projected = [...expressionAttributes(str(b.ProjectionExpression), names), ...strings(b.AttributesToGet)];
  const attributes = [
    ...projected,
    ...expressionAttributes(str(b.KeyConditionExpression), names),
    ...expressionAttributes(str(b.FilterExpression), names),
    ...Object.keys(obj(b.KeyConditions)),
    ...Object.keys(obj(b.QueryFilter)),
    ...Object.keys(obj(b.ScanFilter)),
  ];
  const select =
    str(b.Select) ??
    (projected.length > 0
      ? 'SPECIFIC_ATTRIBUTES'
      : index !== undefined
        ? 'ALL_PROJECTED_ATTRIBUTES'
        : 'ALL_ATTRIBUTES');
  const context: Record<string, string | string[]> = {
    'dynamodb:Attributes': sorted(attributes),
    'dynamodb:Select': select,
  };
  if (op === 'Query') {
    const pk = partitionKeyOf(t, index, opts);
    const value = pk === undefined ? undefined : queryPartitionValue(b, pk, names);
    if (value !== undefined) context['dynamodb:LeadingKeys'] = [value];
  }
  return context;
}

function returnContext(b: Json, returnsValues: boolean): RequestContext {
  const context: Record<string, string> = {};
  if (returnsValues) context['dynamodb:ReturnValues'] = str(b.ReturnValues) ?? 'NONE';
  const capacity = str(b.ReturnConsumedCapacity);
  if (capacity !== undefined) context['dynamodb:ReturnConsumedCapacity'] = capacity;
  return context;
}

function leadingKeys(items: readonly Json[], partitionKey: string | undefined): RequestContext {
  if (partitionKey === undefined) return {};
  const values = items.map((i) => scalar(i[partitionKey])).filter((x): x is string => x !== undefined);
  return values.length > 0 ? { 'dynamodb:LeadingKeys': [...new Set(values)] } : {};
}

/** A key attribute's value as IAM compares it: the S, N or B member as sent. */
function scalar(attributeValue: unknown): string | undefined {
  const v = obj(attributeValue);
  return str(v.S) ?? str(v.N) ?? str(v.B);
}

const strings = (x: unknown): string[] => list(x).filter((s): s is string => typeof s === 'string');
const sorted = (xs: readonly string[]): string[] => [...new Set(xs)].sort();
const attributeNames = (x: unknown): Record<string, string> =>
  Object.fromEntries(Object.entries(obj(x)).filter((e): e is [string, string] => typeof e[1] === 'string'));

const TOKEN = /#[A-Za-z0-9_]+|:[A-Za-z0-9_]+|[A-Za-z_][A-Za-z0-9_]*|<>|<=|>=|\d+|\S/g;
const KEYWORDS = new Set(['set', 'remove', 'add', 'delete', 'and', 'or', 'not', 'between', 'in']);

/**
 * The top-level attribute names an expression mentions: names and `#placeholders` that start a
 * document path (not after `.`, not function names, not keywords), resolved through
 * ExpressionAttributeNames.
 */
export function expressionAttributes(
  expression: string | undefined,
  names: Readonly<Record<string, string>>,
): string[] {
  if (expression === undefined) return [];
  const tokens = expression.match(TOKEN) ?? [];
  const out: string[] = [];
  tokens.forEach((token, i) => {
    if (tokens[i - 1] === '.' || tokens[i + 1] === '(') return;
    if (token.startsWith('#')) out.push(names[token] ?? token);
    else if (/^[A-Za-z_]/.test(token) && !KEYWORDS.has(token.toLowerCase())) out.push(token);
  });
  return out;
}

/** The partition-key value a Query's key condition fixes by equality (`pk = :v`, `:v = pk` or KeyConditions EQ). */
function queryPartitionValue(b: Json, pk: string, names: Readonly<Record<string, string>>): string | undefined {
  const values = obj(b.ExpressionAttributeValues);
  const tokens = str(b.KeyConditionExpression)?.match(TOKEN) ?? [];
  const isPk = (t: string | undefined) => t !== undefined && (t.startsWith('#') ? names[t] : t) === pk;
  for (let i = 0; i + 2 < tokens.length; i++) {
    if (tokens[i + 1] !== '=') continue;
    const [left, right] = [tokens[i], tokens[i + 2]];
    if (isPk(left) && right?.startsWith(':')) return scalar(values[right]);
    if (isPk(right) && left?.startsWith(':')) return scalar(values[left]);
  }
  const legacy = obj(obj(b.KeyConditions)[pk]);
  return str(legacy.ComparisonOperator) === 'EQ' ? scalar(list(legacy.AttributeValueList)[0]) : undefined;
}
