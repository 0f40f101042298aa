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
  /** Epoch seconds; DynamoDB deletes expired idempotency records, leases and checkout sessions. */
  ttlAttribute: 'expires_at_epoch',
  /** Every committed change, old and new image, feeds the events (docs/events.md). */
  stream: 'NEW_AND_OLD_IMAGES',
  globalSecondaryIndexes: [
    /** All merchants, read by the token refresher: gsi1pk = `MERCHANTS`, gsi1sk = merchant id. */
    { indexName: 'gsi1', partitionKey: 'gsi1pk', sortKey: 'gsi1sk', projection: 'ALL' },
    /**
     * Unresolved money operations (charges, captures, refunds), read by the reconciler
     * (shared/store/pending.ts): `pending_shard` = `PENDING#<0..7>` (spread by the operation's id,
     * so no partition is hot), `pending_due` = `<next try ISO>#<pending since ISO>#<P|A>`. Keys only:
     * the reconciler reads the item itself before acting on it.
     */
    { indexName: 'pending', partitionKey: 'pending_shard', sortKey: 'pending_due', projection: 'KEYS_ONLY' },
  ],
} as const;

/** The table name: the deployed stack passes TABLE_NAME; the local platform uses this default. */
export const defaultTableName = 'clover-payments';
