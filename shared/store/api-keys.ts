/**
 * Merchant API keys (API.md §1.1). A key is shown once, at creation; only its SHA-256 is stored
 * (the keys carry 190 bits of randomness, so a plain hash is enough). Two items per key, written
 * and revoked together in one transaction: a lookup item found from the key's hash (for the
 * authorizer) and a listing item under the merchant's partition (for `npm run keys -- list`).
 *
 * Every creation and revocation also writes an audit item in that same transaction (so neither
 * can happen without its record): `MERCHANT#<id>` / `AUDIT#<time>#<random>` with the action, the
 * key id and hint, who (`actor`: the operator's user and AWS access key id, from `npm run keys`)
 * and when. Never the key or its hash.
 */
import { GetCommand, QueryCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { dynamo } from '../aws';
import { config } from '../config';
import { randomString, sha256Hex } from '../ids';
import { pk, sk } from './keys';

export type KeyKind = 'publishable' | 'secret';
export type KeyMode = 'test' | 'live';

export interface ApiKeyRecord {
  key_id: string;
  merchant_id: string;
  kind: KeyKind;
  mode: KeyMode;
  /** The visible start and end of the key, for humans: `sk_test_…AbCd`. */
  hint: string;
  created: string;
  revoked_at?: string;
}

const KEY_PATTERN = /^(pk|sk)_(test|live)_([0-9A-Za-z]{32})$/;

export function parseKey(key: string): { kind: KeyKind; mode: KeyMode } | null {
  const m = KEY_PATTERN.exec(key);
  if (!m) return null;
  return { kind: m[1] === 'pk' ? 'publishable' : 'secret', mode: m[2] as KeyMode };
}

export type KeyAuditAction = 'key_created' | 'key_revoked';

export interface KeyAuditRecord {
  action: KeyAuditAction;
  merchant_id: string;
  key_id: string;
  kind: KeyKind;
  hint: string;
  actor: string;
  at: string;
}

/** Who acts when the caller does not say (the local platform's own set-up, test harnesses). */
export const UNNAMED_ACTOR = 'unnamed';

function auditPut(record: KeyAuditRecord) {
  return {
    Put: {
      TableName: config.tableName,
      Item: { pk: pk.merchant(record.merchant_id), sk: sk.audit(record.at, randomString(8)), ...record },
      ConditionExpression: 'attribute_not_exists(pk)',
    },
  };
}

export async function listKeyAudit(merchantId: string): Promise<KeyAuditRecord[]> {
  const r = await dynamo.send(
    new QueryCommand({
      TableName: config.tableName,
      KeyConditionExpression: 'pk = :p AND begins_with(sk, :a)',
      ExpressionAttributeValues: { ':p': pk.merchant(merchantId), ':a': 'AUDIT#' },
    }),
  );
  return (r.Items ?? []) as KeyAuditRecord[];
}

export async function createApiKey(
  merchantId: string,
  kind: KeyKind,
  mode: KeyMode,
  now = new Date(),
  actor = UNNAMED_ACTOR,
): Promise<{ key: string; record: ApiKeyRecord }> {
  const key = `${kind === 'publishable' ? 'pk' : 'sk'}_${mode}_${randomString(32)}`;
  const record: ApiKeyRecord = {
    key_id: `key_${randomString(16)}`,
    merchant_id: merchantId,
    kind,
    mode,
    hint: `${key.slice(0, 8)}…${key.slice(-4)}`,
    created: now.toISOString(),
  };
  const hash = sha256Hex(key);
  await dynamo.send(
    new TransactWriteCommand({
      TransactItems: [
        {
          Put: {
            TableName: config.tableName,
            Item: { pk: pk.apiKey(hash), sk: sk.apiKey, ...record },
            ConditionExpression: 'attribute_not_exists(pk)',
          },
        },
        {
          Put: {
            TableName: config.tableName,
            Item: { pk: pk.merchant(merchantId), sk: sk.merchantKey(record.key_id), key_hash: hash, ...record },
          },
        },
        auditPut({
          action: 'key_created',
          merchant_id: merchantId,
          key_id: record.key_id,
          kind,
          hint: record.hint,
          actor,
          at: record.created,
        }),
      ],
    }),
  );
  return { key, record };
}

/** The authorizer's lookup: one GetItem by hash. */
export async function findApiKey(key: string): Promise<ApiKeyRecord | null> {
  const r = await dynamo.send(
    new GetCommand({ TableName: config.tableName, Key: { pk: pk.apiKey(sha256Hex(key)), sk: sk.apiKey } }),
  );
  return (r.Item as ApiKeyRecord | undefined) ?? null;
}

export async function listApiKeys(merchantId: string): Promise<(ApiKeyRecord & { key_hash: string })[]> {
  const r = await dynamo.send(
    new QueryCommand({
      TableName: config.tableName,
      KeyConditionExpression: 'pk = :p AND begins_with(sk, :k)',
      ExpressionAttributeValues: { ':p': pk.merchant(merchantId), ':k': 'KEY#' },
    }),
  );
  return (r.Items ?? []) as (ApiKeyRecord & { key_hash: string })[];
}

/** Revokes by full key or by key id (with its merchant). Returns the revoked record, or null if none. */
export async function revokeApiKey(
  ref: { key: string } | { merchantId: string; keyId: string },
  now = new Date(),
  actor = UNNAMED_ACTOR,
): Promise<ApiKeyRecord | null> {
  let merchantId: string;
  let keyId: string;
  let hash: string;
  let found: ApiKeyRecord;
  if ('key' in ref) {
    const record = await findApiKey(ref.key);
    if (!record) return null;
    found = record;
    merchantId = record.merchant_id;
    keyId = record.key_id;
    hash = sha256Hex(ref.key);
  } else {
    const item = (await listApiKeys(ref.merchantId)).find((k) => k.key_id === ref.keyId);
    if (!item) return null;
    found = item;
    merchantId = ref.merchantId;
    keyId = ref.keyId;
    hash = item.key_hash;
  }
  const at = now.toISOString();
  await dynamo.send(
    new TransactWriteCommand({
      TransactItems: [
        {
          Update: {
            TableName: config.tableName,
            Key: { pk: pk.apiKey(hash), sk: sk.apiKey },
            UpdateExpression: 'SET revoked_at = if_not_exists(revoked_at, :at)',
            ConditionExpression: 'attribute_exists(pk)',
            ExpressionAttributeValues: { ':at': at },
          },
        },
        {
          Update: {
            TableName: config.tableName,
            Key: { pk: pk.merchant(merchantId), sk: sk.merchantKey(keyId) },
            UpdateExpression: 'SET revoked_at = if_not_exists(revoked_at, :at)',
            ExpressionAttributeValues: { ':at': at },
          },
        },
        auditPut({
          action: 'key_revoked',
          merchant_id: merchantId,
          key_id: keyId,
          kind: found.kind,
          hint: found.hint,
          actor,
          at,
        }),
      ],
    }),
  );
  return (await findApiKeyByHash(hash)) ?? null;
}

async function findApiKeyByHash(hash: string): Promise<ApiKeyRecord | null> {
  const r = await dynamo.send(
    new GetCommand({ TableName: config.tableName, Key: { pk: pk.apiKey(hash), sk: sk.apiKey } }),
  );
  return (r.Item as ApiKeyRecord | undefined) ?? null;
}
