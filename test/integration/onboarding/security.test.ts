/**
 * Issue 13: the attacks on onboarding, tried as an attacker would, fail — merchant takeover with
 * another merchant's code, reactivation of an uninstalled merchant, a foreign PAKMS key stored
 * forever, forged/replayed/expired launch states — while both of Clover's ways in (the v2 launch
 * flow and the older direct redirect) still onboard a merchant.
 */
import { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { beforeAll, describe, expect, it } from 'vitest';
import { authorizeRedirect } from '../../../local/demo-merchant';
import { makeState } from '../../../shared/oauth/state';
import {
  api,
  cardToken,
  cloverRequests,
  emulator,
  merchantItem,
  merchantSecretId,
  newKey,
  newMerchant,
  platform,
  platformLog,
  secrets,
  sleep,
} from '../../helpers/platform';

/** A new emulator merchant that has not installed the app. */
const emulatorMerchant = async () =>
  (await emulator<{ merchant_id: string }>('POST', '/_emulator/merchants')).body.merchant_id;

/** The callback URL Clover's older direct redirect sends `merchantId`'s browser to, with a fresh code. */
const directCallback = (merchantId: string) => {
  const p = platform();
  return authorizeRedirect(
    { gatewayUrl: p.gatewayUrl, emulatorUrl: p.emulatorUrl, clientId: p.app.client_id },
    merchantId,
  );
};

/** The same URL with `merchant_id` swapped for the victim's: what the attacker sends. */
const claiming = (url: string, merchantId: string) => {
  const u = new URL(url);
  u.searchParams.set('merchant_id', merchantId);
  return u.toString();
};

const get = (url: string, headers: Record<string, string> = {}) => fetch(url, { redirect: 'manual', headers });

const tokenCalls = async () => (await cloverRequests('/oauth/v2/token')).length;
const secretValue = async (m: string) =>
  (await secrets().send(new GetSecretValueCommand({ SecretId: merchantSecretId(m) }))).SecretString;

beforeAll(async () => {
  await emulator('POST', '/_emulator/config', { rate_limits: false });
});

describe('merchant binding at install', () => {
  it('a code of merchant B presented with merchant A’s id → 400 merchant_mismatch; A untouched; A’s charges still reach A', async () => {
    const a = await newMerchant();
    const before = await merchantItem(a.merchant_id);
    const secretBefore = await secretValue(a.merchant_id);
    const b = await emulatorMerchant();

    const r = await get(claiming(await directCallback(b), a.merchant_id));
    expect(r.status).toBe(400);
    const body = await r.json();
    expect(body.error).toMatchObject({
      type: 'invalid_request_error',
      code: 'merchant_mismatch',
      param: 'merchant_id',
    });

    expect(await merchantItem(a.merchant_id)).toEqual(before);
    expect(await secretValue(a.merchant_id)).toBe(secretBefore);
    // The attacker's merchant got nothing either: no record, no PAKMS call.
    expect(await merchantItem(b)).toBeUndefined();
    expect((await cloverRequests('/pakms/apikey')).filter((x) => x.merchant_id === b)).toEqual([]);

    // A's next charge is A's, at Clover.
    const charge = await api('POST', '/v1/charges', {
      key: a.secret_key,
      idem: newKey(),
      body: { source: await cardToken('4242424242424242', a.publishable_key), amount: 1234, currency: 'usd' },
    });
    expect(charge.status).toBe(201);
    const atClover = (await emulator<{ amount: number }[]>('GET', `/_emulator/charges?merchant_id=${a.merchant_id}`))
      .body;
    expect(atClover.map((c) => c.amount)).toContain(1234);

    // One security log line, and the metric the MerchantMismatch alarm watches.
    await sleep(200);
    const log = platformLog();
    const lines = log
      .split('\n')
      .filter((l) => l.includes('"securityEvent":"merchant_mismatch"') && l.includes(a.merchant_id));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('"check":"v3_merchants"');
    expect(log).toMatch(/"MerchantMismatch":1/);
  });

  it('an uninstalled merchant is never reactivated by another merchant’s code; its old keys stay refused', async () => {
    const a = await newMerchant();
    const ts = Date.now();
    const hook = await api('POST', '/v1/webhooks/clover', {
      body: {
        appId: platform().app.client_id,
        merchants: { [a.merchant_id]: [{ objectId: `A:${platform().app.client_id}`, type: 'DELETE', ts }] },
      },
      headers: { 'X-Clover-Auth': platform().app.webhook_auth_code },
    });
    expect(hook.status).toBe(200);
    expect((await merchantItem(a.merchant_id))?.status).toBe('disabled');

    const r = await get(claiming(await directCallback(await emulatorMerchant()), a.merchant_id));
    expect(r.status).toBe(400);
    expect((await r.json()).error.code).toBe('merchant_mismatch');
    expect((await merchantItem(a.merchant_id))?.status).toBe('disabled');
    expect((await api('GET', '/v1/charges', { key: a.secret_key })).status).toBe(401);
    expect((await api('GET', '/v1/checkout-config', { key: a.publishable_key })).status).toBe(401);
  });

  it('a merchant not yet onboarded gets no record, no secret and no PAKMS key from another merchant’s code', async () => {
    const victim = await emulatorMerchant();
    const r = await get(claiming(await directCallback(await emulatorMerchant()), victim));
    expect(r.status).toBe(400);
    expect((await r.json()).error.code).toBe('merchant_mismatch');
    expect(await merchantItem(victim)).toBeUndefined();
    await expect(secretValue(victim)).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
    expect((await cloverRequests('/pakms/apikey')).filter((x) => x.merchant_id === victim)).toEqual([]);
    // The victim's own install afterwards works and provisions its own key.
    expect((await get(await directCallback(victim))).status).toBe(200);
    expect((await merchantItem(victim))?.status).toBe('active');
  });
});

describe('launch flow (GET /v1/oauth/launch, Clover’s Alternate Launch Path)', () => {
  /** Our launch answer, then Clover's authorize page in a browser logged in as `loggedIn`. */
  async function launch(merchantId: string, loggedIn = merchantId) {
    const start = await get(`${platform().gatewayUrl}/v1/oauth/launch?merchant_id=${merchantId}`);
    expect(start.status).toBe(302);
    const to = new URL(start.headers.get('location')!);
    const back = await get(to.toString(), { Cookie: `clover_merchant_id=${loggedIn}` });
    expect(back.status).toBe(302);
    return { start, to, callback: back.headers.get('location')! };
  }

  it('redirects to Clover’s authorize page with client_id, redirect_uri and a state; the callback completes the install', async () => {
    const m = await emulatorMerchant();
    const { start, to, callback } = await launch(m);
    expect(to.origin).toBe(new URL(platform().emulatorUrl).origin);
    expect(to.pathname).toBe('/oauth/v2/authorize');
    expect(to.searchParams.get('client_id')).toBe(platform().app.client_id);
    expect(to.searchParams.get('redirect_uri')).toBe(`${platform().gatewayUrl}/v1/oauth/callback`);
    expect(to.searchParams.get('state')).toMatch(/^v1\.[\w-]+\.[\w-]+$/);
    expect(start.headers.get('cache-control')).toBe('no-store');

    const cb = new URL(callback);
    expect(cb.searchParams.get('merchant_id')).toBe(m);
    expect(cb.searchParams.get('state')).toBe(to.searchParams.get('state'));
    const done = await get(callback);
    expect(done.status).toBe(200);
    expect(await done.json()).toEqual({ merchant_id: m, status: 'active' });
  });

  it('a replayed state → 400 invalid_state, before any token call', async () => {
    const m = await emulatorMerchant();
    const { callback } = await launch(m);
    expect((await get(callback)).status).toBe(200);
    // The same state again, with a fresh code of the same merchant.
    const again = new URL(await directCallback(m));
    again.searchParams.set('state', new URL(callback).searchParams.get('state')!);
    const calls = await tokenCalls();
    const r = await get(again.toString());
    expect(r.status).toBe(400);
    expect((await r.json()).error).toMatchObject({ code: 'invalid_state', param: 'state' });
    expect(await tokenCalls()).toBe(calls);
  });

  it('a forged, altered, foreign or expired state → 400 invalid_state, and nothing is stored', async () => {
    const m = await emulatorMerchant();
    const other = await emulatorMerchant();
    const secret = platform().app.client_secret;
    const { callback } = await launch(m);
    const genuine = new URL(callback).searchParams.get('state')!;
    const [v, payload, mac] = genuine.split('.');
    const altered = JSON.parse(Buffer.from(payload!, 'base64url').toString());
    altered.m = other;
    const cases = {
      forged: makeState(m, 'not-the-app-secret'),
      altered: `${v}.${Buffer.from(JSON.stringify(altered)).toString('base64url')}.${mac}`,
      foreign: makeState(other, secret),
      expired: makeState(m, secret, Date.now() - 11 * 60_000),
      garbage: 'x'.repeat(600),
    };
    for (const [name, state] of Object.entries(cases)) {
      const u = new URL(callback);
      u.searchParams.set('state', state);
      const r = await get(u.toString());
      expect(r.status, name).toBe(400);
      expect((await r.json()).error.code, name).toBe('invalid_state');
    }
    expect(await merchantItem(m)).toBeUndefined();
    // The genuine state still works once.
    expect((await get(callback)).status).toBe(200);
  });

  it('v2 binds the code to the merchant logged in to Clover: a launch for A completed as B is refused', async () => {
    const a = await emulatorMerchant();
    const b = await emulatorMerchant();
    const { callback } = await launch(a, b);
    expect(new URL(callback).searchParams.get('merchant_id')).toBe(b);
    const r = await get(callback);
    expect(r.status).toBe(400);
    expect((await r.json()).error.code).toBe('invalid_state');
    // And with A's id put back in the URL, the code (B's) is refused as not A's.
    const r2 = await get(claiming(callback, a));
    expect(r2.status).toBe(400);
    expect(await merchantItem(a)).toBeUndefined();
  });

  it('refuses a missing or malformed merchant_id', async () => {
    for (const q of ['', '?merchant_id=abc', '?merchant_id=ABCDEFGHJKMNPQ']) {
      const r = await api('GET', `/v1/oauth/launch${q}`);
      expect(r.status, q).toBe(400);
      expect(r.body.error.param).toBe('merchant_id');
    }
  });
});

describe('response headers', () => {
  it('every answer — functions, API Gateway’s own, redirects — carries Cache-Control: no-store and nosniff', async () => {
    const m = await newMerchant();
    const answers = [
      await api('GET', '/health'),
      await api('GET', '/v1/checkout-config', { key: m.publishable_key }),
      await api('POST', '/v1/checkout-sessions', { key: m.secret_key, body: { amount: 500, currency: 'usd' } }),
      await api('POST', '/v1/charges', { key: m.secret_key, body: {} }),
      await api('GET', '/v1/charges'), // 401 from API Gateway (UNAUTHORIZED)
      await api('GET', '/v1/nothing-here'), // 403 from API Gateway (MISSING_AUTHENTICATION_TOKEN)
      await api('GET', '/v1/oauth/launch'),
    ];
    expect(answers.map((a) => a.status)).toEqual([200, 200, 201, 400, 401, 403, 400]);
    for (const a of answers) {
      expect(a.headers.get('cache-control'), String(a.status)).toBe('no-store');
      expect(a.headers.get('x-content-type-options'), String(a.status)).toBe('nosniff');
    }
    // No CORS for a page of another origin on API Gateway's answers (this stage lists no origins).
    const r = await api('GET', '/v1/charges', { headers: { Origin: 'https://evil.example' } });
    expect(r.headers.get('access-control-allow-origin')).toBeNull();
  });
});

describe('local control routes refuse web pages', () => {
  it('the emulator’s /_emulator routes and the gateway’s Lambda Invoke answer 403 to a browser, without CORS', async () => {
    const attempts = [
      fetch(`${platform().emulatorUrl}/_emulator/requests`, { headers: { Origin: 'https://evil.example' } }),
      fetch(`${platform().emulatorUrl}/_emulator/reset`, { method: 'POST', headers: { Origin: 'null' } }),
      fetch(`${platform().emulatorUrl}/_emulator/faults`, {
        method: 'POST',
        headers: { 'Sec-Fetch-Site': 'cross-site', 'Content-Type': 'text/plain' },
        body: '{"path":"/v1/charges","status":500}',
      }),
      fetch(`${platform().gatewayUrl}/2015-03-31/functions/reconciler/invocations`, {
        method: 'POST',
        headers: { Origin: 'https://evil.example' },
        body: '{}',
      }),
      fetch(`${platform().gatewayUrl}/2015-03-31/functions/token-refresher/invocations`, {
        method: 'POST',
        headers: { 'Sec-Fetch-Site': 'same-site' },
        body: '{}',
      }),
    ];
    for (const r of await Promise.all(attempts)) {
      expect(r.status).toBe(403);
      expect(r.headers.get('access-control-allow-origin')).toBeNull();
    }
    // Nothing was reset: the emulator still knows its merchants.
    expect((await emulator<unknown[]>('GET', '/_emulator/merchants')).body.length).toBeGreaterThan(0);
  });
});

describe('IAM', () => {
  it('the onboarding, webhook, authorizer and card paths ran without an AccessDenied', () => {
    expect(platformLog()).not.toMatch(
      /\[iam\] AccessDenied: (oauth-callback|webhooks|authorizer|checkout-config|token-refresher|ops) /,
    );
  });
});
