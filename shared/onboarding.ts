/**
 * The install use case: a merchant's browser arrives from Clover with `merchant_id`, `client_id`
 * and `code` (and our `state` when the install started at GET /v1/oauth/launch). We check the
 * state, exchange the code, **prove the merchant** — nothing in Clover's token answer names it,
 * so the query's `merchant_id` is only a claim (clover-api.md §9.1) — and only then keep the token
 * pair in the merchant's secret and make sure the merchant has its PAKMS key, fetched at most once
 * per merchant by the lease protocol described in shared/store/merchants.ts.
 *
 * The proof: the new access token must read `GET /v3/merchants/{merchant_id}` (a token of another
 * merchant is refused). Every install makes this check before its first write: a mismatch is 400
 * `merchant_mismatch` with no tokens, no merchant record and no status change written (only the
 * launch state, if any, is used up), so a disabled merchant is never reactivated. On a merchant's
 * first install PAKMS is then asked for its key, and its `merchantUuid` / `developerAppUuid` must
 * be the claimed merchant and this app, or the key is not stored (a key is kept forever) and the
 * answer is the same 400. Each refusal writes one security log line and the MerchantMismatch metric.
 */
import { CloverHttp } from './clover/client';
import { exchangeCode } from './clover/oauth';
import { ApiError, invalidRequest } from './http/errors';
import { isMerchantId } from './ids';
import { logger } from './log';
import { emitMetric } from './metrics';
import { makeState, verifyState } from './oauth/state';
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
import { consumeState } from './store/oauth-states';

export interface InstallInput {
  merchant_id?: string | undefined;
  client_id?: string | undefined;
  code?: string | undefined;
  /** Present when the install started at GET /v1/oauth/launch. */
  state?: string | undefined;
}

/** Who called, for the security log line. */
export interface InstallContext {
  readonly requestId: string;
  readonly sourceIp: string;
}

const http = new CloverHttp({ timeoutMs: 5000 });

const mismatch = (): ApiError =>
  invalidRequest(
    'merchant_mismatch',
    'The authorization code does not belong to this merchant_id. Open the app from the merchant’s own Clover dashboard.',
    'merchant_id',
  );

/** One line for the security log, and a metric the MerchantMismatch alarm watches. */
function reportMismatch(ctx: InstallContext, merchantId: string, check: string, detail: Record<string, unknown>): void {
  emitMetric('MerchantMismatch');
  logger.warn('security: install refused, the code does not belong to the claimed merchant', {
    securityEvent: 'merchant_mismatch',
    claimedMerchantId: merchantId,
    check,
    ...detail,
    requestId: ctx.requestId,
    sourceIp: ctx.sourceIp,
  });
}

/** Why a launch state was refused, as the browser is told. */
const STATE_MESSAGES: Record<string, string> = {
  malformed: 'The state parameter is not one this app issued.',
  bad_signature: 'The state parameter is not one this app issued.',
  wrong_merchant: 'The state parameter was issued for another merchant.',
  expired: 'The state parameter has expired; open the app from Clover again.',
  used: 'The state parameter has already been used; open the app from Clover again.',
};
const invalidState = (reason: string): ApiError =>
  invalidRequest('invalid_state', STATE_MESSAGES[reason] ?? STATE_MESSAGES.malformed!, 'state');

/**
 * GET /v1/oauth/launch: where Clover sends a merchant's browser with the merchant id only (the
 * app's Alternate Launch Path). The answer is Clover's authorize URL with our client id, our
 * callback as `redirect_uri` and a fresh state bound to this merchant.
 */
export function launchUrl(merchantIdParam: string | undefined, app: ResolvedAppConfig, redirectUri: string): string {
  const merchantId = checkedMerchantId(merchantIdParam);
  if (!redirectUri) {
    throw new ApiError(500, 'api_error', 'not_configured', 'The OAuth redirect URL of this deployment is not set.');
  }
  const url = new URL('/oauth/v2/authorize', app.hosts.oauth_authorize);
  url.searchParams.set('client_id', app.client_id);
  url.searchParams.set('redirect_uri', redirectUri);
  url.searchParams.set('state', makeState(merchantId, app.client_secret));
  return url.toString();
}

function checkedMerchantId(merchantId: string | undefined): string {
  if (!merchantId) throw invalidRequest('parameter_missing', 'merchant_id is required.', 'merchant_id');
  if (!isMerchantId(merchantId)) {
    throw invalidRequest(
      'invalid_merchant_id',
      'merchant_id must be a 13-character Clover merchant id.',
      'merchant_id',
    );
  }
  return merchantId;
}

export async function install(
  input: InstallInput,
  app: ResolvedAppConfig,
  ctx: InstallContext,
): Promise<{ merchant_id: string; status: string }> {
  const { client_id: clientId, code, state } = input;
  const merchantId = checkedMerchantId(input.merchant_id);
  if (!clientId) throw invalidRequest('parameter_missing', 'client_id is required.', 'client_id');
  if (clientId !== app.client_id) {
    throw invalidRequest('invalid_client_id', 'client_id is not the client id of this app.', 'client_id');
  }
  if (!code) throw invalidRequest('parameter_missing', 'code is required.', 'code');
  if (code.length > 512) throw invalidRequest('invalid_code', 'code is not a valid authorization code.', 'code');
  if (state !== undefined) {
    // Checked, and used up, before the code is: a forged or replayed state costs no Clover call.
    const checked = verifyState(state, merchantId, app.client_secret);
    if (!checked.ok) throw invalidState(checked.reason);
    if (!(await consumeState(checked.payload.n, checked.payload.e, merchantId))) throw invalidState('used');
  }

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
  const proof = await proveMerchant(merchantId, exchanged.pair.access_token, app);
  if (proof.kind === 'mismatch') {
    reportMismatch(ctx, merchantId, 'v3_merchants', { cloverStatus: proof.status });
    throw mismatch();
  }
  if (proof.kind === 'failed') {
    emitMetric('CloverErrors');
    throw new ApiError(
      502,
      'api_error',
      'merchant_check_failed',
      'Clover did not confirm the merchant; open the app from Clover again.',
    );
  }
  await writeInstalledTokens(merchantId, exchanged.pair);
  let merchant = await recordInstall(merchantId);
  if (!merchant.pakms_key) merchant = await provisionPakms(merchantId, exchanged.pair.access_token, app, ctx);
  logger.info('merchant installed', { merchantId, status: merchant.status, launched: state !== undefined });
  return { merchant_id: merchantId, status: merchant.status };
}

/**
 * Whether the new token belongs to the claimed merchant: Clover lets a token read only its own
 * merchant (a 401 for any other, as for every missing permission); the answer's id must match too.
 */
async function proveMerchant(
  merchantId: string,
  accessToken: string,
  app: ResolvedAppConfig,
): Promise<{ kind: 'proved' } | { kind: 'mismatch'; status: number } | { kind: 'failed' }> {
  const r = await http.send<{ id?: unknown }>({
    method: 'GET',
    url: `${app.hosts.api}/v3/merchants/${encodeURIComponent(merchantId)}`,
    headers: { Authorization: `Bearer ${accessToken}` },
  });
  if (r.kind === 'ok') return r.body.id === merchantId ? { kind: 'proved' } : { kind: 'mismatch', status: r.status };
  if (r.kind === 'clover_error' && [401, 403, 404].includes(r.status)) return { kind: 'mismatch', status: r.status };
  return { kind: 'failed' };
}

/** Waits for, or itself performs, the one PAKMS call of this merchant. */
async function provisionPakms(
  merchantId: string,
  accessToken: string,
  app: ResolvedAppConfig,
  ctx: InstallContext,
): Promise<MerchantRecord> {
  const owner = ctx.requestId;
  const deadline = Date.now() + PAKMS_LEASE_MS + 5000;
  while (Date.now() < deadline) {
    if (await acquirePakmsLease(merchantId, owner)) {
      const r = await http.send<{
        apiAccessKey?: unknown;
        active?: unknown;
        merchantUuid?: unknown;
        developerAppUuid?: unknown;
      }>({
        method: 'GET',
        url: `${app.hosts.scl}/pakms/apikey`,
        headers: { Authorization: `Bearer ${accessToken}` },
      });
      if (r.kind === 'ok' && (r.body.merchantUuid !== merchantId || r.body.developerAppUuid !== app.client_id)) {
        // A key of another merchant or app must never be stored: it is kept forever.
        await releasePakmsLease(merchantId, owner);
        reportMismatch(ctx, merchantId, 'pakms', {
          pakmsMerchantMatches: r.body.merchantUuid === merchantId,
          pakmsAppMatches: r.body.developerAppUuid === app.client_id,
        });
        throw mismatch();
      }
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
