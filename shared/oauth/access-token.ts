/**
 * The OAuth access-token lifecycle. Clover's refresh tokens are single-use, so at most one refresh
 * per merchant may run at a time, across every container: a lease item in DynamoDB
 * (`MERCHANT#<id>` / `LEASE#OAUTH`, taken with one conditional put) decides who refreshes; the
 * others wait for the new token to appear in the merchant's secret and use it. In one container,
 * concurrent callers also share one promise. Nothing assumes a token lifetime: expiry comes from
 * Clover's `access_token_expiration`.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { dynamo } from '../aws';
import { CloverHttp } from '../clover/client';
import { refreshTokens, type TokenPair } from '../clover/oauth';
import { config } from '../config';
import { ApiError, needsReauth } from '../http/errors';
import { logger } from '../log';
import { emitMetric } from '../metrics';
import { appConfig } from '../secrets/app-config';
import { readMerchantTokens, writeRefreshedTokens } from '../secrets/merchant-tokens';
import { pk, sk } from '../store/keys';
import { setStatus } from '../store/merchants';

/**
 * A token this close to expiry is refreshed before use: a minute, or a tenth of the token's
 * lifetime when that is shorter (Clover does not promise a lifetime; nothing here assumes one).
 */
export const EXPIRY_SKEW_MS = 60_000;
export function skewFor(pair: TokenPair): number {
  if (!pair.obtained_at) return EXPIRY_SKEW_MS;
  const lifetimeMs = (pair.access_token_expiration - pair.obtained_at) * 1000;
  return Math.max(0, Math.min(EXPIRY_SKEW_MS, lifetimeMs / 10));
}
const LEASE_MS = 10_000;
const WAIT_MS = 12_000;

const http = new CloverHttp({ timeoutMs: 5000 });
const inflight = new Map<string, Promise<string>>();

/** A valid access token for the merchant, refreshed first when it is about to expire. */
export async function accessToken(merchantId: string): Promise<string> {
  const pair = await readMerchantTokens(merchantId);
  if (!pair) throw needsReauth();
  const skew = skewFor(pair);
  if (pair.access_token_expiration * 1000 - Date.now() > skew) return pair.access_token;
  return refreshAccessToken(merchantId, pair.access_token, skew);
}

/**
 * Replaces `staleToken` (expired, expiring, or refused by Clover with a 401). Returns the token that
 * replaced it, whoever refreshed it. `minValidityMs` is how long the result must still be valid.
 */
export function refreshAccessToken(
  merchantId: string,
  staleToken: string,
  minValidityMs = EXPIRY_SKEW_MS,
): Promise<string> {
  const k = `${merchantId}:${staleToken}`;
  let p = inflight.get(k);
  if (!p) {
    p = refreshOnce(merchantId, staleToken, minValidityMs).finally(() => inflight.delete(k));
    inflight.set(k, p);
  }
  return p;
}

async function refreshOnce(merchantId: string, staleToken: string, minValidityMs: number): Promise<string> {
  const deadline = Date.now() + WAIT_MS;
  const owner = `${process.pid}:${Math.random().toString(36).slice(2)}`;
  while (Date.now() < deadline) {
    const current = await readMerchantTokens(merchantId, { force: true });
    if (!current) throw needsReauth();
    if (current.access_token !== staleToken && current.access_token_expiration * 1000 - Date.now() > minValidityMs) {
      return current.access_token;
    }
    if (await acquireLease(merchantId, owner)) {
      try {
        // Re-read under the lease: the previous holder may have just written a new pair.
        const fresh = await readMerchantTokens(merchantId, { force: true });
        if (!fresh?.refresh_token) return await giveUp(merchantId, 'no refresh token');
        if (fresh.access_token !== staleToken && fresh.access_token_expiration * 1000 - Date.now() > minValidityMs) {
          return fresh.access_token;
        }
        const app = await appConfig();
        const r = await refreshTokens(http, app, fresh.refresh_token);
        if (r.kind === 'ok') {
          await storeRefreshed(merchantId, { refresh_token: fresh.refresh_token, ...r.pair });
          logger.info('oauth token refreshed', { merchantId });
          return r.pair.access_token;
        }
        if (r.kind === 'rejected') return await giveUp(merchantId, `refresh rejected (${r.status})`);
        emitMetric('TokenRefreshFailures');
        throw new ApiError(
          503,
          'api_error',
          'clover_unavailable',
          'Clover could not be reached to renew authorization; retry shortly.',
        );
      } finally {
        await releaseLease(merchantId, owner);
      }
    }
    await new Promise((r) => setTimeout(r, 100 + Math.floor(Math.random() * 100)));
  }
  throw new ApiError(503, 'api_error', 'token_refresh_in_progress', 'Authorization is being renewed; retry shortly.', {
    retryAfter: 1,
  });
}

/**
 * The new pair exists nowhere else once Clover has rotated the refresh token: retry the write a
 * few times, and if it still fails (an IAM denial, an outage) say so loudly — the error name lands
 * in the log line, where the AccessDenied alarm's metric filter finds it.
 */
async function storeRefreshed(merchantId: string, pair: TokenPair): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await writeRefreshedTokens(merchantId, pair);
    } catch (e) {
      const name = (e as Error)?.name ?? 'Error';
      if (attempt >= 3 || name === 'AccessDeniedException') {
        logger.error('refreshed oauth tokens could not be stored', { merchantId, errorName: name, attempt });
        emitMetric('TokenStoreFailures');
        throw new ApiError(
          503,
          'api_error',
          'token_store_failed',
          'Authorization could not be renewed; retry shortly.',
          {
            retryAfter: 5,
          },
        );
      }
      await new Promise((r) => setTimeout(r, 100 * attempt));
    }
  }
}

async function giveUp(merchantId: string, why: string): Promise<never> {
  logger.warn('oauth refresh failed for good; merchant needs re-authorization', { merchantId, why });
  emitMetric('TokenRefreshFailures');
  await setStatus(merchantId, 'needs_reauth');
  throw needsReauth();
}

async function acquireLease(merchantId: string, owner: string): Promise<boolean> {
  const now = Date.now();
  try {
    await dynamo.send(
      new PutCommand({
        TableName: config.tableName,
        Item: {
          pk: pk.merchant(merchantId),
          sk: sk.oauthLease,
          owner,
          lease_until: now + LEASE_MS,
          expires_at_epoch: Math.ceil((now + LEASE_MS) / 1000) + 3600,
        },
        ConditionExpression: 'attribute_not_exists(pk) OR lease_until < :now',
        ExpressionAttributeValues: { ':now': now },
      }),
    );
    return true;
  } catch (e) {
    if (e instanceof ConditionalCheckFailedException) return false;
    throw e;
  }
}

async function releaseLease(merchantId: string, owner: string): Promise<void> {
  try {
    await dynamo.send(
      new DeleteCommand({
        TableName: config.tableName,
        Key: { pk: pk.merchant(merchantId), sk: sk.oauthLease },
        ConditionExpression: '#o = :o',
        ExpressionAttributeNames: { '#o': 'owner' },
        ExpressionAttributeValues: { ':o': owner },
      }),
    );
  } catch (e) {
    if (!(e instanceof ConditionalCheckFailedException)) throw e;
  }
}
