/**
 * Issue 3: OAuth access tokens expire; one refresh per merchant at a time (single-use refresh
 * tokens), on demand and by the scheduled refresher; a merchant whose refresh fails for good is
 * `needs_reauth` and its calls fail with 503 merchant_needs_reauth.
 */
import { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  api,
  cardToken,
  cloverRequests,
  emulator,
  invoke,
  merchantItem,
  merchantSecretId,
  newKey,
  newMerchant,
  secrets,
  sleep,
} from '../../helpers/platform';

const tokensOf = async (m: string) =>
  JSON.parse((await secrets().send(new GetSecretValueCommand({ SecretId: merchantSecretId(m) }))).SecretString!) as {
    access_token: string;
    access_token_expiration: number;
    refresh_token: string;
  };

const refreshCalls = async (clientBodyMatch?: (b: any) => boolean) =>
  (await cloverRequests('/oauth/v2/refresh')).filter((r) => !clientBodyMatch || clientBodyMatch(r.body)).length;

describe('OAuth token lifecycle', () => {
  beforeAll(async () => {
    await emulator('POST', '/_emulator/config', { rate_limits: false, access_token_lifetime_seconds: 3 });
  });
  afterAll(async () => {
    await emulator('POST', '/_emulator/config', { access_token_lifetime_seconds: 3600 });
  });

  it('10 concurrent requests after expiry make exactly one refresh, and all succeed', async () => {
    const m = await newMerchant();
    const before = await tokensOf(m.merchant_id);
    const sources = await Promise.all(
      Array.from({ length: 10 }, () => cardToken('4242424242424242', m.publishable_key)),
    );
    // Let the 3-second access token expire.
    await sleep(Math.max(0, before.access_token_expiration * 1000 - Date.now()) + 500);
    // This merchant's refreshes only: files running beside this one refresh their own merchants'
    // tokens (the 3-second lifetime set above is the emulator's, for every merchant).
    const ownRefreshes = async () =>
      (await cloverRequests('/oauth/v2/refresh')).filter((r) => r.merchant_id === m.merchant_id);
    const refreshesBefore = (await ownRefreshes()).length;
    // The pair the refresh issues lives long: on a loaded machine the burst can outlast 3 seconds,
    // and a second expiry would rightly make a second refresh.
    await emulator('POST', '/_emulator/config', { access_token_lifetime_seconds: 3600 });
    const answers = await Promise.all(
      sources.map((source) =>
        api('POST', '/v1/charges', {
          key: m.secret_key,
          idem: newKey(),
          body: { source, amount: 100, currency: 'usd' },
        }),
      ),
    ).finally(() => emulator('POST', '/_emulator/config', { access_token_lifetime_seconds: 3 }));
    expect(answers.map((a) => a.status)).toEqual(Array(10).fill(201));
    const refreshes = (await ownRefreshes()).slice(refreshesBefore);
    expect(refreshes.length).toBe(1);
    const after = await tokensOf(m.merchant_id);
    expect(after.access_token).not.toBe(before.access_token);
    expect(after.refresh_token).not.toBe(before.refresh_token);
  });

  it('the scheduled refresher renews tokens that expire within its horizon', async () => {
    const m = await newMerchant();
    const before = await tokensOf(m.merchant_id);
    const report = await invoke('token-refresher', { horizon_ms: 3_600_000 });
    expect(report.refreshed).toBeGreaterThanOrEqual(1);
    const after = await tokensOf(m.merchant_id);
    expect(after.access_token).not.toBe(before.access_token);
    // The rotated pair works: a charge goes through with it.
    const r = await api('POST', '/v1/charges', {
      key: m.secret_key,
      idem: newKey(),
      body: { source: await cardToken('4242424242424242', m.publishable_key), amount: 100, currency: 'usd' },
    });
    expect(r.status).toBe(201);
  });

  it('a refresh Clover refuses for good marks the merchant needs_reauth → 503 merchant_needs_reauth', async () => {
    const m = await newMerchant();
    const source = await cardToken('4242424242424242', m.publishable_key);
    // Clover revokes the app's tokens for this merchant (access and refresh).
    expect((await emulator('POST', '/_emulator/revoke', { merchant_id: m.merchant_id })).status).toBe(200);
    const r = await api('POST', '/v1/charges', {
      key: m.secret_key,
      idem: newKey(),
      body: { source, amount: 100, currency: 'usd' },
    });
    expect(r.status).toBe(503);
    expect(r.body.error).toMatchObject({ type: 'api_error', code: 'merchant_needs_reauth' });
    const rec = await merchantItem(m.merchant_id);
    expect(rec?.status).toBe('needs_reauth');
    // Later calls fail the same way without touching Clover's token endpoint again.
    const before = await refreshCalls();
    const again = await api('POST', '/v1/charges', {
      key: m.secret_key,
      idem: newKey(),
      body: { source, amount: 100, currency: 'usd' },
    });
    expect(again.status).toBe(503);
    expect(again.body.error.code).toBe('merchant_needs_reauth');
    expect(await refreshCalls()).toBe(before);
  });
});
