/**
 * The DynamoDB table definition, in one place. infra/data.ts builds the CDK table from it and
 * local/dynamodb.ts creates the same table in DynamoDB Local at start.
 *
 * Single-table design: the tenant is in every partition key (`MERCHANT#<id>`), except for the few
 * global lookup items that must be found before the merchant is known (an API key's hash).
 */
export const tableDefinition = {
  partitionKey: 'pk',
  sortKey: 'sk',
  /** Epoch seconds; DynamoDB deletes expired idempotency records and leases. */
  ttlAttribute: 'expires_at_epoch',
  /** Every committed change, old and new image, feeds the events (docs/events.md). */
  stream: 'NEW_AND_OLD_IMAGES',
  globalSecondaryIndexes: [
    /** Pending charges by age, read by the reconciler: gsi1pk = `PENDING`, gsi1sk = ISO created. */
    { indexName: 'gsi1', partitionKey: 'gsi1pk', sortKey: 'gsi1sk' },
  ],
} as const;

/** The table name: the deployed stack passes TABLE_NAME; the local platform uses this default. */
export const defaultTableName = 'clover-payments';
