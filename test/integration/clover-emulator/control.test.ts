// The control surface and cross-cutting behaviour: rate limits, faults, the request log, config,
// reset.

import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  APP,
  bearer,
  call,
  card,
  charge,
  type Harness,
  install,
  type Merchant,
  newMerchant,
  scl,
  setConfig,
  startHarness,
  tokenize,
} from './helpers';

let h: Harness;
let merchant: Merchant;
const PAN = '5204245250003294';

beforeAll(async () => {
  h = await startHarness();
  merchant = await newMerchant(h.url);
});
afterAll(() => h.close());
afterEach(async () => {
  await call(h.url, '/_emulator/faults', { method: 'DELETE' });
});

const realCharges = async (m: Merchant) =>
  (await call(h.url, `/_emulator/charges?merchant_id=${m.merchant_id}`)).body as { id: string }[];
const fault = async (body: Record<string, unknown>) => {
  const res = await call(h.url, '/_emulator/faults', { body });
  expect(res.status).toBe(201);
};

describe('rate limits', () => {
  afterEach(async () => {
    await setConfig(h.url, { rate_limits: { token_rps: 16, token_concurrent: 5, app_rps: 50, app_concurrent: 10 } });
  });

  it('defaults to Clover’s limits and answers 429 with X-RateLimit-tokenLimit past 16 rps', async () => {
    const config = await call(h.url, '/_emulator/config');
    expect(config.body.rate_limits).toEqual({ token_rps: 16, token_concurrent: 5, app_rps: 50, app_concurrent: 10 });
    const m = await newMerchant(h.url);
    const statuses: number[] = [];
    let limited: Awaited<ReturnType<typeof call>> | null = null;
    for (let i = 0; i < 20; i++) {
      const res = await call(h.url, '/v1/charges', { headers: bearer(m.private_key) });
      statuses.push(res.status);
      if (res.status === 429) limited ??= res;
    }
    expect(statuses.slice(0, 16).every((s) => s === 200)).toBe(true);
    expect(limited?.headers.get('x-ratelimit-tokenlimit')).toBe('16');
    expect(limited?.body.error.code).toBe('rate_limit');
  });

  it('limits all tokens of one app together (X-RateLimit-crossTokenLimit)', async () => {
    await setConfig(h.url, { rate_limits: { token_rps: 100, app_rps: 3 } });
    const m = await newMerchant(h.url);
    const a = await install(h.url, m.merchant_id);
    const b = await install(h.url, m.merchant_id);
    const results = [];
    for (const token of [a, b, a, b])
      results.push(await call(h.url, '/v1/charges', { headers: bearer(token.access_token) }));
    expect(results.map((r) => r.status)).toEqual([200, 200, 200, 429]);
    expect(results[3]?.headers.get('x-ratelimit-crosstokenlimit')).toBe('3');
  });

  it('limits requests in flight and says when to retry', async () => {
    await setConfig(h.url, { rate_limits: { token_concurrent: 2 } });
    const m = await newMerchant(h.url);
    await fault({ path: '/v1/charges', method: 'GET', delay_ms: 400, times: 2 });
    const slow = [1, 2].map(() => call(h.url, '/v1/charges', { headers: bearer(m.private_key) }));
    await new Promise((r) => setTimeout(r, 150));
    const third = await call(h.url, '/v1/charges', { headers: bearer(m.private_key) });
    expect(third.status).toBe(429);
    expect(third.headers.get('x-ratelimit-tokenconcurrentlimit')).toBe('2');
    expect(third.headers.get('retry-after')).toBe('1');
    expect((await Promise.all(slow)).map((r) => r.status)).toEqual([200, 200]);
    expect((await call(h.url, '/v1/charges', { headers: bearer(m.private_key) })).status).toBe(200);
  });

  it('can be switched off', async () => {
    await setConfig(h.url, { rate_limits: false });
    const m = await newMerchant(h.url);
    for (let i = 0; i < 25; i++) {
      expect((await call(h.url, '/v1/charges', { headers: bearer(m.private_key) })).status).toBe(200);
    }
  });
});

describe('faults', () => {
  it('answers the next matching request with a canned status and body, without doing it', async () => {
    const source = await tokenize(h.url, merchant);
    await fault({ path: '/v1/charges', method: 'POST', status: 503, body: { message: 'upstream down' } });
    const failed = await call(h.url, '/v1/charges', {
      headers: scl(merchant.private_key),
      body: { amount: 100, currency: 'usd', source },
    });
    expect(failed.status).toBe(503);
    expect(failed.body).toEqual({ message: 'upstream down' });
    const before = (await realCharges(merchant)).length;
    const ok = await call(h.url, '/v1/charges', {
      headers: scl(merchant.private_key),
      body: { amount: 100, currency: 'usd', source },
    });
    expect(ok.status).toBe(200);
    expect(await realCharges(merchant)).toHaveLength(before + 1);
  });

  it('applies `times` and can be cleared', async () => {
    await fault({ path: '/v1/charges', status: 500, times: 2 });
    const statuses = [];
    for (let i = 0; i < 3; i++)
      statuses.push((await call(h.url, '/v1/charges', { headers: bearer(merchant.private_key) })).status);
    expect(statuses).toEqual([500, 500, 200]);
    await fault({ path: '/v1/charges', status: 500, times: 5 });
    expect((await call(h.url, '/_emulator/faults', { method: 'DELETE' })).status).toBe(204);
    expect((await call(h.url, '/v1/charges', { headers: bearer(merchant.private_key) })).status).toBe(200);
  });

  it('delays a request and then carries it out', async () => {
    await fault({ path: '/v1/charges', delay_ms: 300 });
    const started = Date.now();
    const res = await call(h.url, '/v1/charges', { headers: bearer(merchant.private_key) });
    expect(res.status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
  });

  it('drops the connection without doing the request', async () => {
    const m = await newMerchant(h.url);
    const source = await tokenize(h.url, m);
    await fault({ path: '/v1/charges', method: 'POST', drop: true });
    await expect(
      call(h.url, '/v1/charges', { headers: scl(m.private_key), body: { amount: 100, currency: 'usd', source } }),
    ).rejects.toThrow();
    expect(await realCharges(m)).toHaveLength(0);
  });

  it('with after_effect, makes the charge and then drops the response; a retry with the key replays it', async () => {
    const m = await newMerchant(h.url);
    const source = await tokenize(h.url, m);
    const key = randomUUID();
    const send = () =>
      call(h.url, '/v1/charges', {
        headers: scl(m.private_key, { 'idempotency-key': key }),
        body: { amount: 2500, currency: 'usd', source },
      });
    await fault({ path: '/v1/charges', method: 'POST', drop: true, after_effect: true });
    await expect(send()).rejects.toThrow();
    const made = await realCharges(m);
    expect(made).toHaveLength(1);
    const retry = await send();
    expect(retry.status).toBe(200);
    expect(retry.body.id).toBe(made[0]?.id);
    expect(await realCharges(m)).toHaveLength(1);
  });

  it('with after_effect and a status, refunds for real but answers the status', async () => {
    const paid = await charge(h.url, merchant, { amount: 900 });
    await fault({ path: '/v1/refunds', status: 502, after_effect: true });
    const res = await call(h.url, '/v1/refunds', {
      headers: scl(merchant.private_key),
      body: { charge: paid.body.id },
    });
    expect(res.status).toBe(502);
    const after = await call(h.url, `/v1/charges/${paid.body.id}`, { headers: bearer(merchant.private_key) });
    expect(after.body.amount_refunded).toBe(900);
  });

  it('validates fault definitions', async () => {
    for (const body of [
      {},
      { path: 'v1' },
      { path: '/v1' },
      { path: '/v1', status: 42 },
      { path: '/v1', times: 0, status: 500 },
    ]) {
      expect((await call(h.url, '/_emulator/faults', { body })).status).toBe(400);
    }
  });
});

describe('request log', () => {
  it('keeps what arrived, with card data and credentials reduced', async () => {
    await call(h.url, '/_emulator/requests', { method: 'DELETE' });
    await call(h.url, '/v1/tokens', {
      headers: { apikey: merchant.public_key },
      body: card(PAN, { cvv: '987', name: 'Jo Tester' }),
    });
    await fault({ path: '/v1/tokens', drop: true });
    await expect(
      call(h.url, '/v1/tokens', { headers: { apikey: merchant.public_key }, body: card(PAN) }),
    ).rejects.toThrow();
    await call(h.url, '/v1/tokens', {
      headers: { apikey: merchant.public_key },
      body: { card: { encrypted_pan: 'c2VjcmV0', exp_month: '1', exp_year: '2040', cvv: '987' } },
    });
    const bad = await call(h.url, '/v1/charges', { headers: bearer(merchant.private_key), body: `{"number":"${PAN}"` });
    expect(bad.status).toBe(400);

    const log = await call(h.url, '/_emulator/requests?path=/v1/tokens');
    expect(log.status).toBe(200);
    expect(log.body).toHaveLength(3);
    const [first] = log.body;
    expect(first).toMatchObject({
      method: 'POST',
      path: '/v1/tokens',
      merchant_id: merchant.merchant_id,
      at: expect.any(String),
      body: { card: { first6: '520424', last4: '3294', name: 'Jo Tester', exp_month: '12' } },
    });
    expect(first.body.card).not.toHaveProperty('number');
    expect(first.body.card).not.toHaveProperty('cvv');
    expect(first.headers.apikey).toBe(`****${merchant.public_key.slice(-4)}`);
    expect(log.body[2].body.card).not.toHaveProperty('encrypted_pan');

    const everything = JSON.stringify((await call(h.url, '/_emulator/requests')).body);
    expect(everything).not.toContain(PAN);
    expect(everything).not.toContain('987');
    expect(everything).not.toContain('c2VjcmV0');
    expect(everything).not.toContain(merchant.public_key);
    expect(everything).not.toContain(merchant.private_key);
  });

  it('filters by path prefix', async () => {
    await call(h.url, '/v1/refunds', { headers: bearer(merchant.private_key) });
    const refunds = await call(h.url, '/_emulator/requests?path=/v1/refunds');
    expect(refunds.body.length).toBeGreaterThan(0);
    expect(refunds.body.every((r: { path: string }) => r.path.startsWith('/v1/refunds'))).toBe(true);
  });
});

describe('config', () => {
  it('answers the current config and rejects nonsense', async () => {
    const res = await call(h.url, '/_emulator/config', { body: { idempotency_retention_seconds: 60 } });
    expect(res.body).toMatchObject({
      access_token_lifetime_seconds: 3600,
      refresh_token_lifetime_seconds: 31_536_000,
      require_forwarded_for: true,
      decline_status: 402,
      idempotency_retention_seconds: 60,
    });
    for (const body of [
      { access_token_lifetime_seconds: 0 },
      { decline_status: 200 },
      { nope: 1 },
      { rate_limits: 5 },
    ]) {
      expect((await call(h.url, '/_emulator/config', { body })).status).toBe(400);
    }
  });
});

describe('reset', () => {
  it('forgets merchants, charges and added apps but keeps the apps from the options', async () => {
    const m = await newMerchant(h.url);
    await charge(h.url, m);
    const extra = (await call(h.url, '/_emulator/apps', { body: { client_id: 'EXTRAAPP00001' } })).body;
    await setConfig(h.url, { decline_status: 400 });

    expect((await call(h.url, '/_emulator/reset', { method: 'POST' })).status).toBe(200);

    expect((await call(h.url, '/_emulator/requests')).body).toEqual([]);
    expect((await call(h.url, '/v1/charges', { headers: bearer(m.private_key) })).status).toBe(401);
    expect((await call(h.url, '/_emulator/charges')).body).toEqual([]);
    expect((await call(h.url, '/_emulator/config')).body.decline_status).toBe(402);
    const fresh = await newMerchant(h.url);
    const cb = encodeURIComponent('https://app.test/cb');
    const kept = await call(
      h.url,
      `/oauth/v2/authorize?client_id=${APP.client_id}&redirect_uri=${cb}&merchant_id=${fresh.merchant_id}`,
    );
    expect(kept.status).toBe(302);
    const gone = await call(
      h.url,
      `/oauth/v2/authorize?client_id=${extra.client_id}&redirect_uri=${cb}&merchant_id=${fresh.merchant_id}`,
    );
    expect(gone.status).toBe(400);
    merchant = fresh;
  });
});

describe('log option and unknown routes', () => {
  it('writes one line per request (method, path, status, ms) with no card data or keys', async () => {
    const lines: string[] = [];
    const other = await startHarness({ log: (line) => lines.push(line) });
    try {
      const m = await newMerchant(other.url);
      await call(other.url, '/v1/tokens', { headers: { apikey: m.public_key }, body: card(PAN) });
      expect((await call(other.url, '/v1/nothing-here', { headers: bearer(m.private_key) })).status).toBe(404);
      expect(
        (await call(other.url, '/v1/refunds/X', { method: 'DELETE', headers: bearer(m.private_key) })).status,
      ).toBe(405);
      await new Promise((r) => setTimeout(r, 20));
      expect(lines).toContainEqual(expect.stringMatching(/^POST \/v1\/tokens 200 \d+ms$/));
      expect(lines).toContainEqual(expect.stringMatching(/^GET \/v1\/nothing-here 404 \d+ms$/));
      const all = lines.join('\n');
      for (const secret of [PAN, m.public_key, m.private_key]) expect(all).not.toContain(secret);
    } finally {
      await other.close();
    }
  });
});
