/**
 * What an app uninstall does after the merchant is disabled (shared/store/merchants.ts
 * `applyUninstall`): schedule its OAuth secret for deletion and flush the authorizer cache, so its
 * API keys stop at once instead of when their cached answers expire (300 s).
 *
 * Clover sends an uninstall once and a re-delivery changes nothing (the event is applied), so a
 * follow-up that fails here would never be retried by Clover. Each uninstall is therefore recorded
 * with `uninstall_followups_since` in the same write that disables the merchant, cleared only when
 * both follow-ups succeeded, and re-run by the token refresher every five minutes while it is set.
 * Both follow-ups are idempotent (a secret already scheduled for deletion, a cache already empty).
 */
import { flushAuthorizerCache } from './authorizer-cache';
import { logger } from './log';
import { emitMetric } from './metrics';
import { scheduleMerchantTokensDeletion } from './secrets/merchant-tokens';
import { clearUninstallFollowUps, type MerchantRecord } from './store/merchants';

export interface FollowUpReport {
  done: string[];
  pending: string[];
}

/** Runs the follow-ups of these uninstalls (merchant id → its `since`); what failed stays recorded. */
export async function runUninstallFollowUps(uninstalls: ReadonlyMap<string, string>): Promise<FollowUpReport> {
  if (uninstalls.size === 0) return { done: [], pending: [] };
  const deleted: string[] = [];
  for (const merchantId of uninstalls.keys()) {
    try {
      await scheduleMerchantTokensDeletion(merchantId);
      deleted.push(merchantId);
    } catch (e) {
      logger.warn('uninstall follow-up failed: secret deletion', { merchantId, error: (e as Error)?.name });
    }
  }
  let flushed = false;
  try {
    await flushAuthorizerCache();
    flushed = true;
  } catch (e) {
    logger.warn('uninstall follow-up failed: authorizer cache flush', { error: (e as Error)?.name });
  }
  const done = flushed ? deleted : [];
  for (const merchantId of done) await clearUninstallFollowUps(merchantId, uninstalls.get(merchantId)!);
  const pending = [...uninstalls.keys()].filter((m) => !done.includes(m));
  if (pending.length > 0) {
    emitMetric('UninstallFollowUpsPending', pending.length);
    logger.warn('uninstall follow-ups pending; the token refresher retries them', { merchants: pending });
  }
  return { done, pending };
}

/** The token refresher's sweep: every disabled merchant whose follow-ups are still recorded. */
export async function retryUninstallFollowUps(merchants: readonly MerchantRecord[]): Promise<FollowUpReport> {
  const due = new Map<string, string>();
  for (const m of merchants) {
    if (m.status === 'disabled' && m.uninstall_followups_since) due.set(m.merchant_id, m.uninstall_followups_since);
  }
  return runUninstallFollowUps(due);
}
