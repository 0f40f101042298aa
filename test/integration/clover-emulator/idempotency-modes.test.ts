// What a repeated idempotency-key does (clover-api.md §7.4: Clover documents none of it, so the
// emulator plays each possibility), per merchant settings, list lag and `created` filters, the
// lookups the money core relies on, per-merchant faults and clocks.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, type Harness, type Merchant, newMerchant, scl, setConfig, startHarness, tokenize } from './helpers';

let h: Harness;
const clocks = new Map<string, number>();

beforeAll(async () => {
  h = await startHarness({ clockFor: (m) => clocks.get(m) });
  await setConfig(h.url, { rate_limits: false });
});
afterAll(() => h.close());

const post = (m: Merchant, path: string, body: unknown, key?: string) =>
  call(h.url, path, { method: 'POST', headers: scl(m.private_key, key ? { 'idempotency-key': key } : {}), body });
const get = (m: Merchant, path: string) => call(h.url, path, { headers: scl(m.private_key) });
const settings = (m: Merchant, body: unknown) =>
  call(h.url, `/_emulator/merchants/${m.merchant_id}/config`, { method: 'POST', body });

async function merchantIn(mode: 'replay' | 'reject' | 'ignore', lag = 0): Promise<Merchant> {
  const m = await newMerchant(h.url);
  const r = await settings(m, { idempotency_mode: mode, list_lag_ms: lag });
  expect(r.status).toBe(200);
  expect(r.body).toMatchObject({ merchant_id: m.merchant_id, idempotency_mode: mode, list_lag_ms: lag });
  return m;
}

describe('idempotency_mode', () => {
  it('replay: a repeated key answers the first answer again and charges once', async () => {
    const m = await merchantIn('replay');
    const body = { amount: 500, currency: 'usd', source: await tokenize(h.url, m) };
    const first = await post(m, '/v1/charges', body, 'k1');
    const again = await post(m, '/v1/charges', body, 'k1');
    expect(again).toMatchObject({ status: 200, body: first.body });
    expect((await call(h.url, `/_emulator/charges?merchant_id=${m.merchant_id}`)).body).toHaveLength(1);
  });

  it('reject: a repeated key answers 400 idempotency_error whatever the body, and does nothing', async () => {
    const m = await merchantIn('reject');
    const body = { amount: 500, currency: 'usd', source: await tokenize(h.url, m) };
    expect((await post(m, '/v1/charges', body, 'k1')).status).toBe(200);
    const same = await post(m, '/v1/charges', body, 'k1');
    expect(same.status).toBe(400);
    expect(same.body.error).toMatchObject({ type: 'idempotency_error' });
    const other = await post(m, '/v1/charges', { ...body, amount: 600 }, 'k1');
    expect(other.body.error).toMatchObject({ type: 'idempotency_error' });
    expect((await call(h.url, `/_emulator/charges?merchant_id=${m.merchant_id}`)).body).toHaveLength(1);
  });

  it('ignore: the key has no effect — a re-sent charge meets its used token, a re-sent refund or capture the state it left', async () => {
    const m = await merchantIn('ignore');
    const body = { amount: 700, currency: 'usd', source: await tokenize(h.url, m), capture: false };
    const made = await post(m, '/v1/charges', body, 'k1');
    expect(made.status).toBe(200);
    const again = await post(m, '/v1/charges', body, 'k1');
    expect(again.status).toBe(400);
    expect(again.body.error.code).toBe('token_already_used');
    const capture = await post(m, `/v1/charges/${made.body.id}/capture`, { amount: 700 }, 'c1');
    expect(capture.status).toBe(200);
    const captureAgain = await post(m, `/v1/charges/${made.body.id}/capture`, { amount: 700 }, 'c1');
    expect(captureAgain.body.error.code).toBe('charge_already_captured');
    const refund = await post(m, '/v1/refunds', { charge: made.body.id }, 'r1');
    expect(refund.status).toBe(200);
    const refundAgain = await post(m, '/v1/refunds', { charge: made.body.id }, 'r1');
    expect(refundAgain.body.error.code).toBe('charge_already_refunded');
  });

  it('is set for all merchants by POST /_emulator/config, and a merchant override wins', async () => {
    const r = await setConfig(h.url, { idempotency_mode: 'reject' });
    expect(r.body.idempotency_mode).toBe('reject');
    const plain = await newMerchant(h.url);
    const own = await merchantIn('replay');
    const token = async (m: Merchant) => ({ amount: 100, currency: 'usd', source: await tokenize(h.url, m) });
    const a = await token(plain);
    await post(plain, '/v1/charges', a, 'k');
    expect((await post(plain, '/v1/charges', a, 'k')).status).toBe(400);
    const b = await token(own);
    await post(own, '/v1/charges', b, 'k');
    expect((await post(own, '/v1/charges', b, 'k')).status).toBe(200);
    await setConfig(h.url, { idempotency_mode: 'replay' });
    expect((await call(h.url, '/_emulator/config', { body: { idempotency_mode: 'sometimes' } })).status).toBe(400);
  });
});

describe('lists and lookups', () => {
  it('lag: a charge is listed only list_lag_ms after it was made (the merchant’s clock); GET by id sees it at once', async () => {
    const m = await merchantIn('replay', 20_000);
    clocks.set(m.merchant_id, 1_800_000_000_000);
    const made = await post(m, '/v1/charges', {
      amount: 900,
      currency: 'usd',
      source: await tokenize(h.url, m),
      metadata: { charge: 'ch_ours' },
    });
    expect(made.body.created).toBe(1_800_000_000_000);
    expect((await get(m, `/v1/charges/${made.body.id}`)).status).toBe(200);
    expect((await get(m, '/v1/charges?created.gte=1799999000000')).body.data).toEqual([]);
    clocks.set(m.merchant_id, 1_800_000_020_000);
    const listed = await get(m, '/v1/charges?created.gte=1799999000000&limit=100');
    expect(listed.body.data.map((c: { metadata: unknown }) => c.metadata)).toEqual([{ charge: 'ch_ours' }]);
    expect((await get(m, '/v1/charges?created.gt=1800000000000')).body.data).toEqual([]);
    expect((await get(m, '/v1/charges?created.lte=2027-01-16 00:00:00')).body.data).toHaveLength(1);
    expect((await get(m, '/v1/charges?created.gte=yesterday')).status).toBe(400);
    clocks.delete(m.merchant_id);
  });

  it('GET /v1/refunds?charge= lists a charge’s refunds with the metadata they were sent with', async () => {
    const m = await merchantIn('replay');
    const made = await post(m, '/v1/charges', { amount: 1000, currency: 'usd', source: await tokenize(h.url, m) });
    await post(m, '/v1/refunds', { charge: made.body.id, amount: 300, metadata: { refund: 're_1' } }, 'r1');
    await post(m, '/v1/refunds', { charge: made.body.id, amount: 200, metadata: { refund: 're_2' } }, 'r2');
    const list = await get(m, `/v1/refunds?charge=${made.body.id}`);
    expect(list.body.data.map((r: { amount: number; metadata: unknown }) => [r.amount, r.metadata])).toEqual([
      [200, { refund: 're_2' }],
      [300, { refund: 're_1' }],
    ]);
    const all = await call(h.url, `/_emulator/refunds?merchant_id=${m.merchant_id}`);
    expect(all.body).toHaveLength(2);
  });
});

describe('faults for one merchant', () => {
  it('strike only that merchant’s requests', async () => {
    const a = await merchantIn('replay');
    const b = await merchantIn('replay');
    const f = await call(h.url, '/_emulator/faults', {
      method: 'POST',
      body: { path: '/v1/charges', method: 'POST', merchant_id: a.merchant_id, status: 503, times: 1 },
    });
    expect(f.status).toBe(201);
    const other = await post(b, '/v1/charges', { amount: 100, currency: 'usd', source: await tokenize(h.url, b) });
    expect(other.status).toBe(200);
    const hit = await post(a, '/v1/charges', { amount: 100, currency: 'usd', source: await tokenize(h.url, a) });
    expect(hit.status).toBe(503);
  });
});
