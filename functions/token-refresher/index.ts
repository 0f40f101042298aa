/**
 * Scheduled (every 5 minutes): refreshes access tokens that expire within the next 15 minutes, and
 * re-runs the follow-ups of uninstalls that did not complete (shared/uninstall.ts).
 */
import { logger } from '../../shared/log';
import { type RefreshReport, refreshExpiring } from '../../shared/oauth/refresher';
import { listMerchants } from '../../shared/store/merchants';
import { retryUninstallFollowUps } from '../../shared/uninstall';

/** Three schedule periods: a token is renewed even if one run fails. */
const HORIZON_MS = 15 * 60 * 1000;

export interface RefresherReport extends RefreshReport {
  uninstall_followups_done: number;
  uninstall_followups_pending: number;
}

export const handler = async (event?: { horizon_ms?: number }): Promise<RefresherReport> => {
  const merchants = await listMerchants();
  const refreshed = await refreshExpiring(
    typeof event?.horizon_ms === 'number' ? event.horizon_ms : HORIZON_MS,
    merchants,
  );
  const followUps = await retryUninstallFollowUps(merchants);
  const report = {
    ...refreshed,
    uninstall_followups_done: followUps.done.length,
    uninstall_followups_pending: followUps.pending.length,
  };
  logger.info('token refresher run', { ...report });
  return report;
};
