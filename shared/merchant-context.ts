/**
 * What a payment handler needs of its merchant, cached per container with a bounded lifetime
 * (CACHE_TTL_MS): the merchant record (PAKMS key, status) and, through shared/oauth, an access
 * token. A warm request makes no DynamoDB read and no Secrets Manager call for them.
 */
import type { CloverResult } from './clover/client';
import { config } from './config';
import { ApiError, authenticationError } from './http/errors';
import { accessToken, needsReauth, refreshAccessToken } from './oauth/access-token';
import { getMerchant, type MerchantRecord } from './store/merchants';

const cache = new Map<string, { record: MerchantRecord; until: number }>();

export function forgetMerchant(merchantId?: string): void {
  if (merchantId) cache.delete(merchantId);
  else cache.clear();
}

export async function merchantRecord(merchantId: string): Promise<MerchantRecord> {
  const now = Date.now();
  const hit = cache.get(merchantId);
  let record = hit && hit.until > now ? hit.record : null;
  if (!record) {
    record = await getMerchant(merchantId);
    if (!record) throw authenticationError();
    cache.set(merchantId, { record, until: now + config.cacheTtlMs });
  }
  return record;
}

/** The merchant must be able to take payments: active, with its PAKMS key. */
export async function activeMerchant(merchantId: string): Promise<MerchantRecord & { pakms_key: string }> {
  const m = await merchantRecord(merchantId);
  if (m.status === 'disabled') throw authenticationError('This merchant has uninstalled the app.');
  if (m.status === 'needs_reauth') throw needsReauth();
  if (!m.pakms_key) {
    forgetMerchant(merchantId);
    throw new ApiError(503, 'api_error', 'merchant_not_ready', 'The merchant is still being set up; retry shortly.', {
      retryAfter: 1,
    });
  }
  return m as MerchantRecord & { pakms_key: string };
}

/**
 * Calls Clover with the merchant's access token; on a 401 the token is refreshed (once, shared
 * with every concurrent caller) and the call made again. A 401 means Clover did nothing, so the
 * second call cannot double anything.
 */
export async function withAccessToken<T>(
  merchantId: string,
  call: (token: string) => Promise<CloverResult<T>>,
): Promise<CloverResult<T>> {
  try {
    const token = await accessToken(merchantId);
    const first = await call(token);
    if (first.kind !== 'clover_error' || first.status !== 401) return first;
    const renewed = await refreshAccessToken(merchantId, token);
    return await call(renewed);
  } catch (e) {
    // The merchant's status just changed to needs_reauth: don't trust the cached record any longer.
    if (e instanceof ApiError && e.code === 'merchant_needs_reauth') forgetMerchant(merchantId);
    throw e;
  }
}
