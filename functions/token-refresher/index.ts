/** Scheduled (every 5 minutes): refreshes access tokens that expire within the next 15 minutes. */
import { logger } from '../../shared/log';
import { type RefreshReport, refreshExpiring } from '../../shared/oauth/refresher';

/** Three schedule periods: a token is renewed even if one run fails. */
const HORIZON_MS = 15 * 60 * 1000;

export const handler = async (event?: { horizon_ms?: number }): Promise<RefreshReport> => {
  const report = await refreshExpiring(typeof event?.horizon_ms === 'number' ? event.horizon_ms : HORIZON_MS);
  logger.info('token refresher run', { ...report });
  return report;
};
