/**
 * Clover calls on the merchant's behalf, with its OAuth access token (shared/oauth), over the
 * cached merchant record of shared/merchant-cache.ts.
 */
import type { CloverResult } from './clover/client';
import { ApiError } from './http/errors';
import { forgetMerchant } from './merchant-cache';
import { accessToken, refreshAccessToken } from './oauth/access-token';

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
