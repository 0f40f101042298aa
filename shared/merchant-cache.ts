/**
 * The merchant record (PAKMS key, status), cached per container with a bounded lifetime
 * (CACHE_TTL_MS): a warm request makes no DynamoDB read for it. Kept apart from the OAuth token
 * code (shared/merchant-context.ts) so that the tokens and checkout-config functions, which need
 * no token, carry no Secrets Manager client in their bundles.
 */
import { config } from './config';
import { ApiError, authenticationError, needsReauth } from './http/errors';
import { getMerchantSummary, type MerchantSummary } from './store/merchants';

const cache = new Map<string, { record: MerchantSummary; until: number }>();

export function forgetMerchant(merchantId?: string): void {
  if (merchantId) cache.delete(merchantId);
  else cache.clear();
}

export async function merchantRecord(merchantId: string): Promise<MerchantSummary> {
  const now = Date.now();
  const hit = cache.get(merchantId);
  let record = hit && hit.until > now ? hit.record : null;
  if (!record) {
    record = await getMerchantSummary(merchantId);
    if (!record) throw authenticationError();
    cache.set(merchantId, { record, until: now + config.cacheTtlMs });
  }
  return record;
}

/** The merchant must be able to take payments: active, with its PAKMS key. */
export async function activeMerchant(merchantId: string): Promise<MerchantSummary & { pakms_key: string }> {
  const m = await merchantRecord(merchantId);
  if (m.status === 'disabled') throw authenticationError('This merchant has uninstalled the app.');
  if (m.status === 'needs_reauth') throw needsReauth();
  if (!m.pakms_key) {
    forgetMerchant(merchantId);
    throw new ApiError(503, 'api_error', 'merchant_not_ready', 'The merchant is still being set up; retry shortly.', {
      retryAfter: 1,
    });
  }
  return m as MerchantSummary & { pakms_key: string };
}
