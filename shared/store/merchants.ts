/**
 * Merchant records: `MERCHANT#<id>` / `MERCHANT`.
 *
 * PAKMS provisioning protocol (the key is fetched at most once per merchant, ever):
 *
 *   state        | meaning
 *   -------------|---------------------------------------------------------------
 *   no pakms_key | not provisioned; whoever holds an unexpired lease may call PAKMS
 *   pakms_key    | provisioned for good: nobody calls PAKMS for this merchant again
 *
 * 1. `acquirePakmsLease` is one conditional UpdateItem: it succeeds only when the record has no
 *    `pakms_key` and no unexpired lease, and stamps `pakms_lease_owner` + `pakms_lease_until`.
 *    Of N concurrent callbacks exactly one wins; the others wait for the key to appear.
 * 2. The winner calls `GET /pakms/apikey`, then `storePakmsKey` writes the key with the condition
 *    `attribute_not_exists(pakms_key)` and removes the lease.
 * 3. A crash between 1 and 2 leaves an expired lease and no key: the next callback takes a new
 *    lease and provisions. That is the single case in which PAKMS can be called a second time
 *    (the first call's answer was lost with the crash); PAKMS returns the same key for the same
 *    merchant and app, so the record still ends with the one key. A reinstall finds the key and
 *    never calls PAKMS.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { GetCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { dynamo } from '../aws';
import { config } from '../config';
import { gsi1, pk, sk } from './keys';

export type MerchantStatus = 'provisioning' | 'active' | 'disabled' | 'needs_reauth';

export interface MerchantRecord {
  merchant_id: string;
  status: MerchantStatus;
  pakms_key?: string;
  pakms_lease_owner?: string;
  pakms_lease_until?: number;
  installed_at?: string;
  uninstalled_at?: string;
  /** `ts` of the newest app event applied, so that an older, late delivery changes nothing. */
  last_app_event_ts?: number;
  /**
   * Set by an uninstall until its follow-ups (secret deletion, authorizer cache flush) have both
   * succeeded; the token refresher re-runs them while it is set (shared/uninstall.ts).
   */
  uninstall_followups_since?: string;
  updated_at: string;
}

const key = (merchantId: string) => ({ pk: pk.merchant(merchantId), sk: sk.merchant });

/** What a payment path needs of a merchant (the attributes of keys.ts `merchantSummaryAttributes`). */
export type MerchantSummary = Pick<MerchantRecord, 'merchant_id' | 'status' | 'pakms_key'>;

export async function getMerchantSummary(merchantId: string): Promise<MerchantSummary | null> {
  const r = await dynamo.send(
    new GetCommand({
      TableName: config.tableName,
      Key: key(merchantId),
      ProjectionExpression: 'merchant_id, #s, pakms_key',
      ExpressionAttributeNames: { '#s': 'status' },
    }),
  );
  return (r.Item as MerchantSummary | undefined) ?? null;
}

export async function getMerchant(merchantId: string, consistent = false): Promise<MerchantRecord | null> {
  const r = await dynamo.send(
    new GetCommand({ TableName: config.tableName, Key: key(merchantId), ConsistentRead: consistent }),
  );
  return (r.Item as MerchantRecord | undefined) ?? null;
}

/**
 * Records an install: active at once when the PAKMS key is already known, else provisioning. The
 * status write is conditioned on the key's absence, so that a key stored meanwhile by a concurrent
 * callback is never answered by a stale `provisioning`.
 */
export async function recordInstall(merchantId: string, now = new Date()): Promise<MerchantRecord> {
  const r = await dynamo.send(
    new UpdateCommand({
      TableName: config.tableName,
      Key: key(merchantId),
      UpdateExpression:
        'SET merchant_id = :m, installed_at = :now, updated_at = :now, gsi1pk = :g, gsi1sk = :m REMOVE uninstalled_at, uninstall_followups_since',
      ExpressionAttributeValues: { ':m': merchantId, ':now': now.toISOString(), ':g': gsi1.merchants },
      ReturnValues: 'ALL_NEW',
    }),
  );
  if ((r.Attributes as MerchantRecord).pakms_key) return setStatus(merchantId, 'active', now);
  try {
    const p = await dynamo.send(
      new UpdateCommand({
        TableName: config.tableName,
        Key: key(merchantId),
        UpdateExpression: 'SET #s = :prov',
        ConditionExpression: 'attribute_not_exists(pakms_key)',
        ExpressionAttributeNames: { '#s': 'status' },
        ExpressionAttributeValues: { ':prov': 'provisioning' },
        ReturnValues: 'ALL_NEW',
      }),
    );
    return p.Attributes as MerchantRecord;
  } catch (e) {
    if (!(e instanceof ConditionalCheckFailedException)) throw e;
    return setStatus(merchantId, 'active', now);
  }
}

export async function setStatus(merchantId: string, status: MerchantStatus, now = new Date()): Promise<MerchantRecord> {
  const r = await dynamo.send(
    new UpdateCommand({
      TableName: config.tableName,
      Key: key(merchantId),
      UpdateExpression: 'SET #s = :s, updated_at = :now',
      ConditionExpression: 'attribute_exists(pk)',
      ExpressionAttributeNames: { '#s': 'status' },
      ExpressionAttributeValues: { ':s': status, ':now': now.toISOString() },
      ReturnValues: 'ALL_NEW',
    }),
  );
  return r.Attributes as MerchantRecord;
}

export const PAKMS_LEASE_MS = 15_000;

export async function acquirePakmsLease(merchantId: string, owner: string, now = Date.now()): Promise<boolean> {
  try {
    await dynamo.send(
      new UpdateCommand({
        TableName: config.tableName,
        Key: key(merchantId),
        UpdateExpression: 'SET pakms_lease_owner = :o, pakms_lease_until = :until',
        ConditionExpression:
          'attribute_exists(pk) AND attribute_not_exists(pakms_key) AND (attribute_not_exists(pakms_lease_until) OR pakms_lease_until < :now)',
        ExpressionAttributeValues: { ':o': owner, ':until': now + PAKMS_LEASE_MS, ':now': now },
      }),
    );
    return true;
  } catch (e) {
    if (e instanceof ConditionalCheckFailedException) return false;
    throw e;
  }
}

/** Stores the key once; returns false when a key was already there (the stored one stands). */
export async function storePakmsKey(merchantId: string, pakmsKey: string, now = new Date()): Promise<boolean> {
  try {
    await dynamo.send(
      new UpdateCommand({
        TableName: config.tableName,
        Key: key(merchantId),
        UpdateExpression: 'SET pakms_key = :k, updated_at = :now REMOVE pakms_lease_owner, pakms_lease_until',
        ConditionExpression: 'attribute_not_exists(pakms_key)',
        ExpressionAttributeValues: { ':k': pakmsKey, ':now': now.toISOString() },
      }),
    );
    await activateIfProvisioning(merchantId, now);
    return true;
  } catch (e) {
    if (e instanceof ConditionalCheckFailedException) return false;
    throw e;
  }
}

/** provisioning → active; a merchant uninstalled meanwhile keeps its key but stays disabled. */
export async function activateIfProvisioning(merchantId: string, now = new Date()): Promise<void> {
  try {
    await dynamo.send(
      new UpdateCommand({
        TableName: config.tableName,
        Key: key(merchantId),
        UpdateExpression: 'SET #s = :active, updated_at = :now',
        ConditionExpression: '#s = :prov AND attribute_exists(pakms_key)',
        ExpressionAttributeNames: { '#s': 'status' },
        ExpressionAttributeValues: { ':active': 'active', ':prov': 'provisioning', ':now': now.toISOString() },
      }),
    );
  } catch (e) {
    if (!(e instanceof ConditionalCheckFailedException)) throw e;
  }
}

/** Gives a lease back early after a failed PAKMS call, so the next callback need not wait. */
export async function releasePakmsLease(merchantId: string, owner: string): Promise<void> {
  try {
    await dynamo.send(
      new UpdateCommand({
        TableName: config.tableName,
        Key: key(merchantId),
        UpdateExpression: 'REMOVE pakms_lease_owner, pakms_lease_until',
        ConditionExpression: 'pakms_lease_owner = :o',
        ExpressionAttributeValues: { ':o': owner },
      }),
    );
  } catch (e) {
    if (!(e instanceof ConditionalCheckFailedException)) throw e;
  }
}

/**
 * Applies an app uninstall event. Out-of-order safe: an event older than the newest one applied
 * (by Clover's `ts`) changes nothing, and so does a duplicate. Returns the follow-ups' `since`
 * when it applied the event (shared/uninstall.ts), null when it changed nothing.
 */
export async function applyUninstall(merchantId: string, ts: number, now = new Date()): Promise<string | null> {
  try {
    await dynamo.send(
      new UpdateCommand({
        TableName: config.tableName,
        Key: key(merchantId),
        UpdateExpression:
          'SET #s = :disabled, uninstalled_at = :now, updated_at = :now, last_app_event_ts = :ts, uninstall_followups_since = :now',
        ConditionExpression:
          'attribute_exists(pk) AND (attribute_not_exists(last_app_event_ts) OR last_app_event_ts < :ts) AND (attribute_not_exists(installed_at) OR installed_at < :tsIso)',
        ExpressionAttributeNames: { '#s': 'status' },
        ExpressionAttributeValues: {
          ':disabled': 'disabled',
          ':now': now.toISOString(),
          ':ts': ts,
          ':tsIso': new Date(ts).toISOString(),
        },
      }),
    );
    return now.toISOString();
  } catch (e) {
    if (e instanceof ConditionalCheckFailedException) return null;
    throw e;
  }
}

/** The uninstall's follow-ups are done; a newer uninstall (another `since`) keeps its own flag. */
export async function clearUninstallFollowUps(merchantId: string, since: string): Promise<void> {
  try {
    await dynamo.send(
      new UpdateCommand({
        TableName: config.tableName,
        Key: key(merchantId),
        UpdateExpression: 'REMOVE uninstall_followups_since',
        ConditionExpression: 'uninstall_followups_since = :since',
        ExpressionAttributeValues: { ':since': since },
      }),
    );
  } catch (e) {
    if (!(e instanceof ConditionalCheckFailedException)) throw e;
  }
}

export async function listMerchants(): Promise<MerchantRecord[]> {
  const out: MerchantRecord[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const r = await dynamo.send(
      new QueryCommand({
        TableName: config.tableName,
        IndexName: 'gsi1',
        KeyConditionExpression: 'gsi1pk = :g',
        ExpressionAttributeValues: { ':g': gsi1.merchants },
        ExclusiveStartKey: start,
      }),
    );
    out.push(...((r.Items ?? []) as MerchantRecord[]));
    start = r.LastEvaluatedKey;
  } while (start);
  return out;
}
