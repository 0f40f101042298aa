/**
 * The pending index (GSI `pending`, keys only): every unresolved money operation, spread over
 * PENDING_SHARDS partitions by its id so that no partition is hot, sorted within a shard by when
 * the reconciler should try it next. The sort key `<due ISO>#<since ISO>#<P|A>` also carries when
 * the operation became pending (for the oldest-pending metric) and whether it needs attention, so
 * that the reconciler learns all of that from the index alone and reads only the items it acts on.
 */
import { createHash } from 'node:crypto';
import { QueryCommand, type QueryCommandOutput } from '@aws-sdk/lib-dynamodb';
import { dynamo } from '../aws';
import { config } from '../config';
import { pk } from './keys';

export const PENDING_INDEX = 'pending';
export const PENDING_SHARDS = 8;

export function pendingShard(id: string): string {
  return `PENDING#${createHash('sha256').update(id).digest()[0]! % PENDING_SHARDS}`;
}

export type PendingState = 'P' | 'A';

export interface PendingKeys {
  pending_shard: string;
  pending_due: string;
}

/** The index attributes of an operation due at `dueMs`, pending since `sinceMs`. */
export function pendingKeys(id: string, dueMs: number, sinceMs: number, state: PendingState = 'P'): PendingKeys {
  return {
    pending_shard: pendingShard(id),
    pending_due: `${new Date(dueMs).toISOString()}#${new Date(sinceMs).toISOString()}#${state}`,
  };
}

export interface PendingEntry {
  /** The operation's table keys. */
  pk: string;
  sk: string;
  dueMs: number;
  sinceMs: number;
  state: PendingState;
}

export function parseDue(due: string): { dueMs: number; sinceMs: number; state: PendingState } {
  const [d, s, state] = due.split('#');
  return { dueMs: Date.parse(d ?? ''), sinceMs: Date.parse(s ?? ''), state: state === 'A' ? 'A' : 'P' };
}

/**
 * Every entry of the index (all shards, every page), optionally of one merchant only. Keys only,
 * so a page of 1 MB holds thousands: reading all of it each run is what lets the reconciler emit
 * the oldest pending age and never be blocked by entries it cannot resolve.
 */
export async function listPending(opts: { merchantId?: string } = {}): Promise<PendingEntry[]> {
  const shards = Array.from({ length: PENDING_SHARDS }, (_, i) => `PENDING#${i}`);
  const pages = await Promise.all(shards.map((s) => queryShard(s, opts.merchantId)));
  return pages.flat();
}

async function queryShard(shard: string, merchantId: string | undefined): Promise<PendingEntry[]> {
  const out: PendingEntry[] = [];
  let start: QueryCommandOutput['LastEvaluatedKey'];
  do {
    const r: QueryCommandOutput = await dynamo.send(
      new QueryCommand({
        TableName: config.tableName,
        IndexName: PENDING_INDEX,
        KeyConditionExpression: 'pending_shard = :s',
        ...(merchantId ? { FilterExpression: 'pk = :p' } : {}),
        ExpressionAttributeValues: { ':s': shard, ...(merchantId ? { ':p': pk.merchant(merchantId) } : {}) },
        ExclusiveStartKey: start,
      }),
    );
    for (const item of r.Items ?? []) {
      out.push({ pk: String(item.pk), sk: String(item.sk), ...parseDue(String(item.pending_due)) });
    }
    start = r.LastEvaluatedKey;
  } while (start);
  return out;
}
