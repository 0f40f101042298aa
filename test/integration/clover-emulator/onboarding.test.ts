// Clover's v2 onboarding as the emulator plays it: GET /v3/merchants/{mId} scoped to the token's
// merchant, authorize bound to the merchant logged in (and the older direct redirect), app webhooks
// (verification handshake, batched A: events with X-Clover-Auth on install and uninstall), and a
// control surface no web page can reach.

import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  APP,
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
let a: Merchant;
let b: Merchant;

/** A webhook receiver standing in for the app: records every POST and answers `answer`. */
const received: { headers: IncomingHttpHeaders; body: any }[] = [];
let answer = 200;
let receiver: Server;
let receiverUrl = '';

beforeAll(async () => {
  h = await startHarness();
  await setConfig(h.url, { rate_limits: false });
  a = await newMerchant(h.url);
  b = await newMerchant(h.url);
  receiver = createServer((req, res) => {
    let text = '';
    req.on('data', (c) => {
      text += c;
    });
    req.on('end', () => {
      received.push({ headers: req.headers, body: JSON.parse(text) });
      res.writeHead(answer).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
});
afterAll(async () => {
  await h.close();
  await new Promise<void>((r) => receiver.close(() => r()));
});

const authorizeUrl = (params: Record<string, string>) =>
  `/oauth/v2/authorize?${new URLSearchParams({ client_id: APP.client_id, redirect_uri: 'https://app.test/cb', ...params })}`;

const waitFor = async (what: () => boolean) => {
  for (let i = 0; i < 100 && !what(); i++) await new Promise((r) => setTimeout(r, 20));
  expect(what()).toBe(true);
};

describe('GET /v3/merchants/{mId}', () => {
  it('answers a token for its own merchant only: another merchant’s id is 401, as Clover answers a missing permission', async () => {
    const tokens = await install(h.url, a.merchant_id);
    const own = await call(h.url, `/v3/merchants/${a.merchant_id}`, { headers: bearer(tokens.access_token) });
    expect(own.status).toBe(200);
    expect(own.body).toMatchObject({ id: a.merchant_id, href: `/v3/merchants/${a.merchant_id}` });
    for (const id of [b.merchant_id, 'ZZZZZZZZZZZZZ']) {
      const other = await call(h.url, `/v3/merchants/${id}`, { headers: bearer(tokens.access_token) });
      expect(other.status).toBe(401);
    }
    expect((await call(h.url, `/v3/merchants/${a.merchant_id}`)).status).toBe(401);
    // A dashboard private key reads its own merchant too.
    expect((await call(h.url, `/v3/merchants/${b.merchant_id}`, { headers: bearer(b.private_key) })).status).toBe(200);
  });
});

describe('GET /oauth/v2/authorize', () => {
  it('v2: binds the code to the merchant logged in, whatever merchant_id the URL names, and echoes state', async () => {
    const r = await call(h.url, authorizeUrl({ state: 's-1', merchant_id: a.merchant_id }), {
      headers: { cookie: `other=1; clover_merchant_id=${b.merchant_id}` },
    });
    expect(r.status).toBe(302);
    const back = new URL(r.headers.get('location')!);
    expect(back.searchParams.get('merchant_id')).toBe(b.merchant_id);
    expect(back.searchParams.get('state')).toBe('s-1');
    const tokens = await call(h.url, '/oauth/v2/token', {
      body: { client_id: APP.client_id, client_secret: APP.client_secret, code: back.searchParams.get('code') },
    });
    // The token is B's: it reads B, not A.
    const who = (id: string) => call(h.url, `/v3/merchants/${id}`, { headers: bearer(tokens.body.access_token) });
    expect((await who(b.merchant_id)).status).toBe(200);
    expect((await who(a.merchant_id)).status).toBe(401);
  });

  it('v2 without a login and without merchant_id asks for a login; the older direct redirect still works', async () => {
    const r = await call(h.url, authorizeUrl({ state: 's-2' }));
    expect(r.status).toBe(401);
    expect(r.body.error.code).toBe('login_required');
    const direct = await call(h.url, authorizeUrl({ merchant_id: a.merchant_id }));
    expect(direct.status).toBe(302);
    expect(new URL(direct.headers.get('location')!).searchParams.get('merchant_id')).toBe(a.merchant_id);
    const unknownLogin = await call(h.url, authorizeUrl({}), {
      headers: { cookie: 'clover_merchant_id=ZZZZZZZZZZZZZ' },
    });
    expect(unknownLogin.status).toBe(401);
  });
});

describe('app webhooks', () => {
  beforeEach(() => {
    received.length = 0;
    answer = 200;
  });

  it('registering a URL sends the verification handshake, without X-Clover-Auth', async () => {
    const r = await call(h.url, '/_emulator/apps', {
      body: {
        client_id: APP.client_id,
        client_secret: APP.client_secret,
        webhook_url: receiverUrl,
        webhook_auth_code: 'the-auth-code-1',
      },
    });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({
      client_id: APP.client_id,
      webhook_url: receiverUrl,
      webhook_auth_code: 'the-auth-code-1',
    });
    await waitFor(() => received.length === 1);
    expect(received[0]!.body).toEqual({ verificationCode: r.body.webhook_verification_code });
    expect(received[0]!.headers['x-clover-auth']).toBeUndefined();
    const log = (await call(h.url, `/_emulator/app-webhooks?client_id=${APP.client_id}`)).body;
    expect(log.at(-1)).toMatchObject({ kind: 'verification', status: 200, authenticated: false });
  });

  it('an install sends one batched CREATE, an uninstall revokes the tokens and sends DELETE, with X-Clover-Auth', async () => {
    const m = await newMerchant(h.url);
    const tokens = await install(h.url, m.merchant_id);
    await install(h.url, m.merchant_id); // a second authorize is not a second install
    await waitFor(() => received.length === 1);
    await new Promise((r) => setTimeout(r, 120));
    expect(received).toHaveLength(1);
    const created = received[0]!;
    expect(created.headers['x-clover-auth']).toBe('the-auth-code-1');
    expect(created.body).toEqual({
      appId: APP.client_id,
      merchants: { [m.merchant_id]: [{ objectId: `A:${APP.client_id}`, type: 'CREATE', ts: expect.any(Number) }] },
    });

    const u = await call(h.url, '/_emulator/uninstall', { body: { merchant_id: m.merchant_id } });
    expect(u.status).toBe(200);
    expect(u.body.uninstalled).toEqual([APP.client_id]);
    await waitFor(() => received.length === 2);
    expect(received[1]!.body.merchants[m.merchant_id]).toEqual([
      { objectId: `A:${APP.client_id}`, type: 'DELETE', ts: expect.any(Number) },
    ]);
    expect(received[1]!.headers['x-clover-auth']).toBe('the-auth-code-1');
    // The tokens died with the uninstall.
    expect((await call(h.url, '/pakms/apikey', { headers: bearer(tokens.access_token) })).status).toBe(401);
  });

  it('batches the events of several merchants into one POST, and records what the app answered', async () => {
    answer = 500;
    const [m1, m2] = [await newMerchant(h.url), await newMerchant(h.url)];
    await Promise.all([install(h.url, m1.merchant_id), install(h.url, m2.merchant_id)]);
    await waitFor(() => received.length >= 1);
    await new Promise((r) => setTimeout(r, 120));
    const merchants = received.flatMap((x) => Object.keys(x.body.merchants));
    expect(merchants.sort()).toEqual([m1.merchant_id, m2.merchant_id].sort());
    expect(received.length).toBeLessThanOrEqual(2);
    const log = (await call(h.url, `/_emulator/app-webhooks?client_id=${APP.client_id}`)).body;
    expect(log.at(-1)).toMatchObject({ kind: 'events', status: 500, authenticated: true });
  });

  it('refuses a URL that is not http(s) and an auth code that is too short', async () => {
    expect((await call(h.url, '/_emulator/apps', { body: { webhook_url: 'ftp://x' } })).status).toBe(400);
    expect(
      (await call(h.url, '/_emulator/apps', { body: { webhook_url: receiverUrl, webhook_auth_code: 'x' } })).status,
    ).toBe(400);
  });
});

describe('the control surface', () => {
  it('refuses any request a web page sends (Origin, or a browser’s Sec-Fetch-Site): 403, no CORS', async () => {
    for (const headers of [
      { origin: 'https://evil.example' },
      { origin: 'null' },
      { 'sec-fetch-site': 'cross-site' },
      { 'sec-fetch-site': 'same-site' },
    ] as Record<string, string>[]) {
      const r = await call(h.url, '/_emulator/reset', { method: 'POST', headers });
      expect(r.status).toBe(403);
      expect(r.headers.get('access-control-allow-origin')).toBeNull();
    }
    expect((await call(h.url, '/_emulator/merchants')).body.length).toBeGreaterThan(0);
    // A tool, or an address typed into the browser, is served.
    expect((await call(h.url, '/_emulator/config', { headers: { 'sec-fetch-site': 'none' } })).status).toBe(200);
  });
});
