/**
 * The install use case: a merchant's browser arrives from Clover with `merchant_id`, `client_id`
 * and `code`. We exchange the code, keep the token pair in the merchant's secret, and make sure
 * the merchant has its PAKMS key — fetched at most once per merchant, by the lease protocol
 * described in shared/store/merchants.ts.
 */
import { CloverHttp } from './clover/client';
import { exchangeCode } from './clover/oauth';
import { ApiError, invalidRequest } from './http/errors';
import { isMerchantId } from './ids';
import { logger } from './log';
import { emitMetric } from './metrics';
import type { ResolvedAppConfig } from './secrets/app-config';
import { writeInstalledTokens } from './secrets/merchant-tokens';
import {
  acquirePakmsLease,
  activateIfProvisioning,
  getMerchant,
  type MerchantRecord,
  PAKMS_LEASE_MS,
  recordInstall,
  releasePakmsLease,
  storePakmsKey,
} from './store/merchants';

export interface InstallInput {
  merchant_id?: string | undefined;
  client_id?: string | undefined;
  code?: string | undefined;
}

const http = new CloverHttp({ timeoutMs: 5000 });

export async function install(
  input: InstallInput,
  app: ResolvedAppConfig,
  requestId: string,
): Promise<{ merchant_id: string; status: string }> {
  const { merchant_id: merchantId, client_id: clientId, code } = input;
  if (!merchantId) throw invalidRequest('parameter_missing', 'merchant_id is required.', 'merchant_id');
  if (!isMerchantId(merchantId)) {
    throw invalidRequest(
      'invalid_merchant_id',
      'merchant_id must be a 13-character Clover merchant id.',
      'merchant_id',
    );
  }
  if (!clientId) throw invalidRequest('parameter_missing', 'client_id is required.', 'client_id');
  if (clientId !== app.client_id) {
    throw invalidRequest('invalid_client_id', 'client_id is not the client id of this app.', 'client_id');
  }
  if (!code) throw invalidRequest('parameter_missing', 'code is required.', 'code');
  if (code.length > 512) throw invalidRequest('invalid_code', 'code is not a valid authorization code.', 'code');

  const exchanged = await exchangeCode(http, app, code);
  if (exchanged.kind === 'rejected') {
    throw invalidRequest(
      'oauth_code_rejected',
      'Clover rejected the authorization code; reinstall the app to get a new one.',
      'code',
    );
  }
  if (exchanged.kind === 'failed') {
    emitMetric('CloverErrors');
    throw new ApiError(
      502,
      'api_error',
      'clover_oauth_failed',
      'Clover did not complete the token exchange; retry the install.',
    );
  }
  await writeInstalledTokens(merchantId, exchanged.pair);
  let merchant = await recordInstall(merchantId);
  if (!merchant.pakms_key) merchant = await provisionPakms(merchantId, exchanged.pair.access_token, app, requestId);
  logger.info('merchant installed', { merchantId, status: merchant.status });
  return { merchant_id: merchantId, status: merchant.status };
}

/** Waits for, or itself performs, the one PAKMS call of this merchant. */
async function provisionPakms(
  merchantId: string,
  accessToken: string,
  app: ResolvedAppConfig,
  owner: string,
): Promise<MerchantRecord> {
  const deadline = Date.now() + PAKMS_LEASE_MS + 5000;
  while (Date.now() < deadline) {
    if (await acquirePakmsLease(merchantId, owner)) {
      const r = await http.send<{ apiAccessKey?: unknown; active?: unknown }>({
        method: 'GET',
        url: `${app.hosts.scl}/pakms/apikey`,
        headers: { Authorization: `Bearer ${accessToken}` },
      });
      if (r.kind === 'ok' && typeof r.body.apiAccessKey === 'string' && r.body.apiAccessKey) {
        await storePakmsKey(merchantId, r.body.apiAccessKey);
        await activateIfProvisioning(merchantId);
        return (await getMerchant(merchantId, true))!;
      }
      // No key came back: give the lease up so the next callback (or a retry) can provision.
      await releasePakmsLease(merchantId, owner);
      emitMetric('CloverErrors');
      logger.warn('PAKMS call failed', { merchantId, outcome: r.kind, status: 'status' in r ? r.status : undefined });
      throw new ApiError(
        502,
        'api_error',
        'pakms_failed',
        "Clover did not return the merchant's ecommerce key; retry the install.",
      );
    }
    const m = await getMerchant(merchantId, true);
    if (m?.pakms_key) {
      if (m.status === 'provisioning') await activateIfProvisioning(merchantId);
      return (await getMerchant(merchantId, true))!;
    }
    await new Promise((r) => setTimeout(r, 100 + Math.floor(Math.random() * 100)));
  }
  throw new ApiError(
    503,
    'api_error',
    'provisioning_in_progress',
    'The merchant is being provisioned; retry shortly.',
    {
      retryAfter: 1,
    },
  );
}
