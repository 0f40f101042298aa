// Credentials: Bearer/apikey rules, PAKMS, OAuth v2 code exchange, refresh rotation and expiry.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  APP,
  authorizeCode,
  bearer,
  call,
  type Harness,
  install,
  type Merchant,
  newMerchant,
  setConfig,
  startHarness,
} from './helpers';

let h: Harness;
let merchant: Merchant;

beforeAll(async () => {
  h = await startHarness();
  await setConfig(h.url, { rate_limits: false });
  merchant = await newMerchant(h.url);
});
afterAll(() => h.close());

const UNAUTHORIZED = { message: '401 Unauthorized' };

describe('Bearer authentication on SCL', () => {
  it('401s with a bare message for a missing, unknown, or wrong-kind credential — never 403', async () => {
    const attempts: Record<string, string>[] = [
      {},
      bearer('not-a-token'),
      { authorization: merchant.private_key },
      bearer(merchant.public_key),
      { apikey: merchant.public_key },
    ];
    for (const headers of attempts) {
      for (const path of ['/v1/charges', '/pakms/apikey', '/v1/refunds']) {
        const res = await call(h.url, path, { headers });
        expect(res.status).toBe(401);
        expect(res.body).toEqual(UNAUTHORIZED);
      }
    }
  });

  it('accepts the dashboard private key and an OAuth access token', async () => {
    const tokens = await install(h.url, merchant.merchant_id);
    expect((await call(h.url, '/v1/charges', { headers: bearer(merchant.private_key) })).status).toBe(200);
    expect((await call(h.url, '/v1/charges', { headers: bearer(tokens.access_token) })).status).toBe(200);
  });
});

describe('GET /pakms/apikey', () => {
  it('returns the same 32-hex key every time for a merchant and app', async () => {
    const tokens = await install(h.url, merchant.merchant_id);
    const first = await call(h.url, '/pakms/apikey', { headers: bearer(tokens.access_token) });
    expect(first.status).toBe(200);
    expect(first.body).toEqual({
      active: true,
      apiAccessKey: expect.stringMatching(/^[0-9a-f]{32}$/),
      createdTime: expect.any(Number),
      modifiedTime: expect.any(Number),
      developerAppUuid: APP.client_id,
      merchantUuid: merchant.merchant_id,
    });
    const again = await install(h.url, merchant.merchant_id);
    const second = await call(h.url, '/pakms/apikey', { headers: bearer(again.access_token) });
    expect(second.body).toEqual(first.body);

    // The key works as the token host's apikey.
    const token = await call(h.url, '/v1/tokens', {
      headers: { apikey: first.body.apiAccessKey },
      body: { card: { number: '4242424242424242', exp_month: '12', exp_year: '2040', cvv: '123' } },
    });
    expect(token.status).toBe(200);
  });

  it('gives another app its own key, and 401s for a dashboard private key', async () => {
    const other = await call(h.url, '/_emulator/apps', { body: {} });
    expect(other.status).toBe(201);
    const mine = await install(h.url, merchant.merchant_id);
    const theirs = await install(h.url, merchant.merchant_id, other.body);
    const a = await call(h.url, '/pakms/apikey', { headers: bearer(mine.access_token) });
    const b = await call(h.url, '/pakms/apikey', { headers: bearer(theirs.access_token) });
    expect(b.body.developerAppUuid).toBe(other.body.client_id);
    expect(b.body.apiAccessKey).not.toBe(a.body.apiAccessKey);
    const privateKey = await call(h.url, '/pakms/apikey', { headers: bearer(merchant.private_key) });
    expect(privateKey.status).toBe(401);
  });
});

describe('OAuth v2', () => {
  it('redirects an install to redirect_uri with merchant_id, client_id and code', async () => {
    const res = await call(
      h.url,
      `/oauth/v2/authorize?client_id=${APP.client_id}&redirect_uri=${encodeURIComponent('https://app.test/cb?x=1')}&merchant_id=${merchant.merchant_id}`,
    );
    expect(res.status).toBe(302);
    const location = new URL(res.headers.get('location') ?? '');
    expect(location.origin + location.pathname).toBe('https://app.test/cb');
    expect(location.searchParams.get('x')).toBe('1');
    expect(location.searchParams.get('merchant_id')).toBe(merchant.merchant_id);
    expect(location.searchParams.get('client_id')).toBe(APP.client_id);
    expect(location.searchParams.get('code')).toMatch(/.{16,}/);
  });

  it('400s an authorize for an unknown client or merchant', async () => {
    const cb = encodeURIComponent('https://app.test/cb');
    const unknownClient = await call(
      h.url,
      `/oauth/v2/authorize?client_id=NOPE&redirect_uri=${cb}&merchant_id=${merchant.merchant_id}`,
    );
    expect(unknownClient.status).toBe(400);
    const unknownMerchant = await call(
      h.url,
      `/oauth/v2/authorize?client_id=${APP.client_id}&redirect_uri=${cb}&merchant_id=NOPE`,
    );
    expect(unknownMerchant.status).toBe(400);
  });

  it('exchanges a code once for tokens with expirations in epoch seconds', async () => {
    const code = await authorizeCode(h.url, merchant.merchant_id);
    const before = Math.floor(Date.now() / 1000);
    const res = await call(h.url, '/oauth/v2/token', { body: { ...APP, code } });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      access_token: expect.any(String),
      access_token_expiration: expect.any(Number),
      refresh_token: expect.any(String),
      refresh_token_expiration: expect.any(Number),
    });
    expect(res.body.access_token_expiration - before).toBeGreaterThanOrEqual(3599);
    expect(res.body.access_token_expiration - before).toBeLessThanOrEqual(3601);
    expect(res.body.refresh_token_expiration - before).toBeGreaterThanOrEqual(31_536_000 - 1);

    const again = await call(h.url, '/oauth/v2/token', { body: { ...APP, code } });
    expect(again.status).toBe(400);
    expect(again.body).toEqual({
      message: expect.any(String),
      error: expect.objectContaining({ code: 'invalid_grant' }),
    });
  });

  it('rejects a wrong secret (401), an unknown code (400) and a code older than 10 minutes (400)', async () => {
    const code = await authorizeCode(h.url, merchant.merchant_id);
    const wrongSecret = await call(h.url, '/oauth/v2/token', {
      body: { client_id: APP.client_id, client_secret: 'x', code },
    });
    expect(wrongSecret.status).toBe(401);
    expect(wrongSecret.body.message).toEqual(expect.any(String));
    const unknown = await call(h.url, '/oauth/v2/token', { body: { ...APP, code: 'not-a-code' } });
    expect(unknown.status).toBe(400);

    const stale = await authorizeCode(h.url, merchant.merchant_id);
    h.advance(10 * 60_000 + 1000);
    const expired = await call(h.url, '/oauth/v2/token', { body: { ...APP, code: stale } });
    expect(expired.status).toBe(400);
    // The code that failed on a wrong secret was not spent.
    expect((await call(h.url, '/oauth/v2/token', { body: { ...APP, code } })).status).toBe(400);
  });

  it('omits the refresh token with ?no_refresh_token=true', async () => {
    const code = await authorizeCode(h.url, merchant.merchant_id);
    const res = await call(h.url, '/oauth/v2/token?no_refresh_token=true', { body: { ...APP, code } });
    expect(res.status).toBe(200);
    expect(Object.keys(res.body).sort()).toEqual(['access_token', 'access_token_expiration']);
  });

  it('rotates refresh tokens: a used one is rejected', async () => {
    const first = await install(h.url, merchant.merchant_id);
    const refreshed = await call(h.url, '/oauth/v2/refresh', {
      body: { client_id: APP.client_id, refresh_token: first.refresh_token },
    });
    expect(refreshed.status).toBe(200);
    expect(refreshed.body.refresh_token).not.toBe(first.refresh_token);
    expect(refreshed.body.access_token).not.toBe(first.access_token);
    expect((await call(h.url, '/pakms/apikey', { headers: bearer(refreshed.body.access_token) })).status).toBe(200);

    const reused = await call(h.url, '/oauth/v2/refresh', {
      body: { client_id: APP.client_id, refresh_token: first.refresh_token },
    });
    expect(reused.status).toBe(400);
    expect(reused.body.error.code).toBe('invalid_grant');
    // The new one still works, once.
    const next = await call(h.url, '/oauth/v2/refresh', {
      body: { client_id: APP.client_id, refresh_token: refreshed.body.refresh_token },
    });
    expect(next.status).toBe(200);
  });

  it('keeps at most 10 active refresh tokens per merchant and app, dropping the oldest', async () => {
    const m = await newMerchant(h.url);
    const pairs = [];
    for (let i = 0; i < 11; i++) pairs.push(await install(h.url, m.merchant_id));
    const refreshWith = (token: string) =>
      call(h.url, '/oauth/v2/refresh', { body: { client_id: APP.client_id, refresh_token: token } });
    expect((await refreshWith(pairs[0]?.refresh_token ?? '')).status).toBe(400);
    expect((await refreshWith(pairs[1]?.refresh_token ?? '')).status).toBe(200);
  });

  it('401s an expired access token; the lifetime is set at run time', async () => {
    await setConfig(h.url, { access_token_lifetime_seconds: 1 });
    try {
      const tokens = await install(h.url, merchant.merchant_id);
      expect(tokens.access_token_expiration - Math.floor(h.now() / 1000)).toBeLessThanOrEqual(1);
      expect((await call(h.url, '/v1/charges', { headers: bearer(tokens.access_token) })).status).toBe(200);
      h.advance(1500);
      const expired = await call(h.url, '/v1/charges', { headers: bearer(tokens.access_token) });
      expect(expired.status).toBe(401);
      expect(expired.body).toEqual(UNAUTHORIZED);
      // Refreshing brings the merchant back.
      const refreshed = await call(h.url, '/oauth/v2/refresh', {
        body: { client_id: APP.client_id, refresh_token: tokens.refresh_token },
      });
      expect((await call(h.url, '/v1/charges', { headers: bearer(refreshed.body.access_token) })).status).toBe(200);
    } finally {
      await setConfig(h.url, { access_token_lifetime_seconds: 3600 });
    }
  });

  it('401s revoked tokens (as after an uninstall)', async () => {
    const m = await newMerchant(h.url);
    const tokens = await install(h.url, m.merchant_id);
    const revoked = await call(h.url, '/_emulator/revoke', { body: { merchant_id: m.merchant_id } });
    expect(revoked.body.revoked).toBe(2);
    expect((await call(h.url, '/v1/charges', { headers: bearer(tokens.access_token) })).status).toBe(401);
    const refresh = await call(h.url, '/oauth/v2/refresh', {
      body: { client_id: APP.client_id, refresh_token: tokens.refresh_token },
    });
    expect(refresh.status).toBe(400);
  });
});
