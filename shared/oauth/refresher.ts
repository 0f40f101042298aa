/**
 * The scheduled token refresher: every merchant whose access token expires within the horizon gets
 * a new one ahead of time, through the same leased refresh as on-demand refreshes (so it never
 * races a request). The horizon comes from the schedule, not from an assumed token lifetime.
 */
import { logger } from '../log';
import { readMerchantTokens } from '../secrets/merchant-tokens';
import { listMerchants, type MerchantRecord } from '../store/merchants';
import { refreshAccessToken } from './access-token';

export interface RefreshReport {
  merchants: number;
  refreshed: number;
  failed: number;
  needs_reauth: number;
}

export async function refreshExpiring(horizonMs: number, all?: readonly MerchantRecord[]): Promise<RefreshReport> {
  const merchants = (all ?? (await listMerchants())).filter(
    (m) => m.status === 'active' || m.status === 'provisioning',
  );
  const report: RefreshReport = { merchants: merchants.length, refreshed: 0, failed: 0, needs_reauth: 0 };
  for (const m of merchants) {
    try {
      const pair = await readMerchantTokens(m.merchant_id, { force: true });
      if (!pair) continue;
      if (pair.access_token_expiration * 1000 - Date.now() > horizonMs) continue;
      await refreshAccessToken(m.merchant_id, pair.access_token, horizonMs);
      report.refreshed++;
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (code === 'merchant_needs_reauth') report.needs_reauth++;
      else report.failed++;
      logger.warn('token refresh failed', { merchantId: m.merchant_id, code });
    }
  }
  return report;
}
