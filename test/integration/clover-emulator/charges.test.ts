// SCL: charges, declines, idempotency, capture, refunds, reads and lists.

import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  call,
  charge,
  type Harness,
  luhn,
  type Merchant,
  newMerchant,
  scl,
  setConfig,
  startHarness,
  tokenize,
} from './helpers';

let h: Harness;
let merchant: Merchant;

beforeAll(async () => {
  h = await startHarness();
  await setConfig(h.url, { rate_limits: false });
  merchant = await newMerchant(h.url);
});
afterAll(() => h.close());

const post = (path: string, body: unknown, headers: Record<string, string> = {}, m = merchant) =>
  call(h.url, path, { method: 'POST', headers: scl(m.private_key, headers), body });
const get = (path: string, m = merchant) => call(h.url, path, { headers: scl(m.private_key) });
const realCharges = async (m = merchant) =>
  (await call(h.url, `/_emulator/charges?merchant_id=${m.merchant_id}`)).body as unknown[];

describe('POST /v1/charges', () => {
  it('approves a test card with Clover’s charge object', async () => {
    const source = await tokenize(h.url, merchant, '4242424242424242');
    const res = await post('/v1/charges', { amount: 1099, currency: 'usd', source, description: 'Mug' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      id: expect.stringMatching(/^[0-9A-Z]{13}$/),
      amount: 1099,
      amount_captured: 1099,
      amount_refunded: 0,
      currency: 'usd',
      status: 'succeeded',
      paid: true,
      captured: true,
      description: 'Mug',
      outcome: { network_status: 'approved_by_network', type: 'authorized' },
      ref_num: expect.any(String),
      auth_code: expect.any(String),
      order: expect.stringMatching(/^[0-9A-Z]{13}$/),
      source: {
        id: source,
        brand: 'VISA',
        exp_month: '12',
        exp_year: expect.any(String),
        first6: '424242',
        last4: '4242',
      },
    });
    expect(Math.abs(res.body.created - h.now())).toBeLessThan(5000);
  });

  it.each([
    '4242424242424242',
    '378282246310005',
    '371449635398431',
    '30569309025904',
    '38520000023237',
    '3566002020360505',
    '4000056655665556',
    '6011361000006668',
    '4761530001111126',
    '5204245250003294',
    '375186917371340',
    '6011000050617475',
  ])('approves the sandbox approve card %s', async (pan) => {
    expect((await charge(h.url, merchant, {}, pan)).status).toBe(200);
  });

  it('approves any other valid card', async () => {
    const res = await charge(h.url, merchant, {}, luhn('41111111'));
    expect(res.status).toBe(200);
  });

  it.each(['4005571702222222', '4264281511117771', '5424180273333333', '375987654000004', '4005578003333335'])(
    'declines %s with 402 card_declined and a readable failed charge',
    async (pan) => {
      const res = await charge(h.url, merchant, {}, pan);
      expect(res.status).toBe(402);
      expect(res.body).toEqual({
        message: expect.any(String),
        error: {
          code: 'card_declined',
          message: expect.any(String),
          charge: expect.stringMatching(/^[0-9A-Z]{13}$/),
          decline_code: expect.any(String),
        },
      });
      const failed = await get(`/v1/charges/${res.body.error.charge}`);
      expect(failed.status).toBe(200);
      expect(failed.body).toMatchObject({
        status: 'failed',
        paid: false,
        captured: false,
        failure_code: 'card_declined',
      });
    },
  );

  it('answers declines with the configured status', async () => {
    await setConfig(h.url, { decline_status: 400 });
    try {
      expect((await charge(h.url, merchant, {}, '4005571702222222')).status).toBe(400);
    } finally {
      await setConfig(h.url, { decline_status: 402 });
    }
  });

  it('replays the same idempotency key and body without charging again', async () => {
    const m = await newMerchant(h.url);
    const source = await tokenize(h.url, m);
    const key = randomUUID();
    const body = { amount: 500, currency: 'usd', source };
    const first = await post('/v1/charges', body, { 'idempotency-key': key }, m);
    const second = await post('/v1/charges', { source, currency: 'usd', amount: 500 }, { 'Idempotency-Key': key }, m);
    expect(first.status).toBe(200);
    expect(second.status).toBe(200);
    expect(second.body).toEqual(first.body);
    expect(await realCharges(m)).toHaveLength(1);

    // Declines replay too.
    const declineSource = await tokenize(h.url, m, '4005571702222222');
    const dKey = randomUUID();
    const d1 = await post(
      '/v1/charges',
      { amount: 1, currency: 'usd', source: declineSource },
      { 'idempotency-key': dKey },
      m,
    );
    const d2 = await post(
      '/v1/charges',
      { amount: 1, currency: 'usd', source: declineSource },
      { 'idempotency-key': dKey },
      m,
    );
    expect(d2.status).toBe(402);
    expect(d2.body).toEqual(d1.body);
    expect(await realCharges(m)).toHaveLength(2);
  });

  it('rejects a key reused with another body, and scopes keys per merchant', async () => {
    const source = await tokenize(h.url, merchant);
    const key = randomUUID();
    expect(
      (await post('/v1/charges', { amount: 500, currency: 'usd', source }, { 'idempotency-key': key })).status,
    ).toBe(200);
    const reuse = await post('/v1/charges', { amount: 600, currency: 'usd', source }, { 'idempotency-key': key });
    expect(reuse.status).toBe(400);
    expect(reuse.body.error.type).toBe('idempotency_error');

    const other = await newMerchant(h.url);
    const otherSource = await tokenize(h.url, other);
    const theirs = await post(
      '/v1/charges',
      { amount: 500, currency: 'usd', source: otherSource },
      { 'idempotency-key': key },
      other,
    );
    expect(theirs.status).toBe(200);
  });

  it('forgets keys after the retention window', async () => {
    const m = await newMerchant(h.url);
    const key = randomUUID();
    const a = await post(
      '/v1/charges',
      { amount: 5, currency: 'usd', source: await tokenize(h.url, m) },
      { 'idempotency-key': key },
      m,
    );
    h.advance(86_400_000 + 1000);
    const b = await post(
      '/v1/charges',
      { amount: 5, currency: 'usd', source: await tokenize(h.url, m) },
      { 'idempotency-key': key },
      m,
    );
    expect(b.status).toBe(200);
    expect(b.body.id).not.toBe(a.body.id);
  });

  it('requires x-forwarded-for unless configured otherwise', async () => {
    const source = await tokenize(h.url, merchant);
    const res = await call(h.url, '/v1/charges', {
      headers: { authorization: `Bearer ${merchant.private_key}` },
      body: { amount: 100, currency: 'usd', source },
    });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_request');
    await setConfig(h.url, { require_forwarded_for: false });
    try {
      const ok = await call(h.url, '/v1/charges', {
        headers: { authorization: `Bearer ${merchant.private_key}` },
        body: { amount: 100, currency: 'usd', source },
      });
      expect(ok.status).toBe(200);
    } finally {
      await setConfig(h.url, { require_forwarded_for: true });
    }
  });

  it.each([
    ['invalid_charge_amount', { amount: -1 }],
    ['invalid_charge_amount', { amount: 10.5 }],
    ['invalid_charge_amount', { amount: '100' }],
    ['amount_too_large', { amount: 100_000_000 }],
    ['invalid_request', { currency: 'USD' }],
    ['invalid_request', { currency: 'dollars' }],
    ['invalid_tax_amount', { tax_amount: -5 }],
    ['invalid_tip_amount', { tip_amount: 1.5 }],
    ['invalid_request', { external_reference_id: '1234567890123' }],
    ['invalid_request', { description: 'x'.repeat(256) }],
    ['invalid_request', { ecomind: 'retail' }],
    ['invalid_request', { capture: 'false' }],
    ['resource_missing', { source: 'clv_doesnotexist' }],
  ])('400s %s for %o without using the token', async (code, override) => {
    const source = await tokenize(h.url, merchant);
    const res = await post('/v1/charges', { amount: 100, currency: 'usd', source, ...override });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe(code);
    expect(res.body.message).toEqual(expect.any(String));
    // Validation failures leave the token usable.
    expect((await post('/v1/charges', { amount: 100, currency: 'usd', source })).status).toBe(200);
  });
});

describe('capture', () => {
  it('captures part of an authorization once', async () => {
    const auth = await charge(h.url, merchant, { amount: 2000, capture: false });
    expect(auth.body).toMatchObject({ captured: false, paid: true, amount_captured: 0, status: 'succeeded' });
    const over = await post(`/v1/charges/${auth.body.id}/capture`, { amount: 2001 });
    expect(over.status).toBe(400);
    expect(over.body.error.code).toBe('amount_too_large');
    const captured = await post(`/v1/charges/${auth.body.id}/capture`, { amount: 1500 });
    expect(captured.status).toBe(200);
    expect(captured.body).toMatchObject({ id: auth.body.id, captured: true, amount: 2000, amount_captured: 1500 });
    const twice = await post(`/v1/charges/${auth.body.id}/capture`, {});
    expect(twice.status).toBe(400);
    expect(twice.body.error.code).toBe('charge_already_captured');
  });

  it('captures the whole authorization by default and replays an idempotent capture', async () => {
    const auth = await charge(h.url, merchant, { amount: 700, capture: false });
    const key = randomUUID();
    const first = await post(`/v1/charges/${auth.body.id}/capture`, undefined, { 'idempotency-key': key });
    expect(first.body.amount_captured).toBe(700);
    const replay = await post(`/v1/charges/${auth.body.id}/capture`, undefined, { 'idempotency-key': key });
    expect(replay.status).toBe(200);
    expect(replay.body).toEqual(first.body);
  });

  it('404s an unknown charge and another merchant’s charge', async () => {
    const unknown = await post('/v1/charges/NOSUCHCHARGE1/capture', {});
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('resource_missing');
    const auth = await charge(h.url, merchant, { capture: false });
    const other = await newMerchant(h.url);
    const foreign = await post(`/v1/charges/${auth.body.id}/capture`, {}, {}, other);
    expect(foreign.status).toBe(404);
    expect((await get(`/v1/charges/${auth.body.id}`, other)).status).toBe(404);
  });
});

describe('refunds', () => {
  it('refunds partially, then the rest, then refuses more', async () => {
    const paid = await charge(h.url, merchant, { amount: 1000 });
    const part = await post('/v1/refunds', { charge: paid.body.id, amount: 300, reason: 'requested_by_customer' });
    expect(part.status).toBe(200);
    expect(part.body).toMatchObject({
      id: expect.stringMatching(/^[0-9A-Z]{13}$/),
      object: 'refund',
      amount: 300,
      charge: paid.body.id,
      status: 'succeeded',
      created: expect.any(Number),
    });
    const over = await post('/v1/refunds', { charge: paid.body.id, amount: 701 });
    expect(over.status).toBe(400);
    expect(over.body.error.code).toBe('amount_too_large');
    const rest = await post('/v1/refunds', { charge: paid.body.id });
    expect(rest.body.amount).toBe(700);
    const after = await get(`/v1/charges/${paid.body.id}`);
    expect(after.body).toMatchObject({ amount_refunded: 1000, refunded: true });
    const again = await post('/v1/refunds', { charge: paid.body.id });
    expect(again.status).toBe(400);
    expect(again.body.error.code).toBe('charge_already_refunded');

    const list = await get(`/v1/refunds?charge=${paid.body.id}`);
    expect(list.body).toMatchObject({ object: 'list', url: '/v1/refunds', has_more: false });
    expect(list.body.data.map((r: { id: string }) => r.id)).toEqual([rest.body.id, part.body.id]);
    expect((await get(`/v1/refunds/${part.body.id}`)).body).toEqual(part.body);
  });

  it('refunds the whole charge when no amount is given', async () => {
    const paid = await charge(h.url, merchant, { amount: 450 });
    const full = await post('/v1/refunds', { charge: paid.body.id });
    expect(full.body.amount).toBe(450);
    expect((await get(`/v1/charges/${paid.body.id}`)).body.refunded).toBe(true);
  });

  it('voids an uncaptured authorization only whole', async () => {
    const auth = await charge(h.url, merchant, { amount: 800, capture: false });
    const partial = await post('/v1/refunds', { charge: auth.body.id, amount: 100 });
    expect(partial.status).toBe(400);
    const voided = await post('/v1/refunds', { charge: auth.body.id });
    expect(voided.status).toBe(200);
    expect(voided.body.amount).toBe(800);
    const after = await get(`/v1/charges/${auth.body.id}`);
    expect(after.body).toMatchObject({ captured: false, refunded: true, amount_refunded: 800 });
    expect((await post(`/v1/charges/${auth.body.id}/capture`, {})).status).toBe(400);
    expect((await post('/v1/refunds', { charge: auth.body.id })).body.error.code).toBe('charge_already_refunded');
  });

  it('refunds only what a partial capture took', async () => {
    const auth = await charge(h.url, merchant, { amount: 1000, capture: false });
    await post(`/v1/charges/${auth.body.id}/capture`, { amount: 600 });
    expect((await post('/v1/refunds', { charge: auth.body.id, amount: 601 })).body.error.code).toBe('amount_too_large');
    expect((await post('/v1/refunds', { charge: auth.body.id })).body.amount).toBe(600);
  });

  it('404s another merchant’s charge and refund', async () => {
    const paid = await charge(h.url, merchant);
    const refund = await post('/v1/refunds', { charge: paid.body.id, amount: 1 });
    const other = await newMerchant(h.url);
    expect((await post('/v1/refunds', { charge: paid.body.id }, {}, other)).status).toBe(404);
    expect((await get(`/v1/refunds/${refund.body.id}`, other)).status).toBe(404);
    expect((await get(`/v1/refunds?charge=${paid.body.id}`, other)).body.data).toEqual([]);
  });
});

describe('GET /v1/charges', () => {
  it('lists newest first with limit and cursors', async () => {
    const m = await newMerchant(h.url);
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) ids.push((await charge(h.url, m, { amount: 100 + i })).body.id);
    const newest = [...ids].reverse();

    const page1 = await get('/v1/charges', m);
    expect(page1.body).toMatchObject({ object: 'list', url: '/v1/charges', has_more: true });
    expect(page1.body.data.map((c: { id: string }) => c.id)).toEqual(newest.slice(0, 10));

    const page2 = await get(`/v1/charges?limit=5&starting_after=${newest[4]}`, m);
    expect(page2.body.data.map((c: { id: string }) => c.id)).toEqual(newest.slice(5, 10));
    expect(page2.body.has_more).toBe(true);

    const last = await get(`/v1/charges?limit=5&starting_after=${newest[9]}`, m);
    expect(last.body.data.map((c: { id: string }) => c.id)).toEqual(newest.slice(10));
    expect(last.body.has_more).toBe(false);

    const back = await get(`/v1/charges?limit=3&ending_before=${newest[5]}`, m);
    expect(back.body.data.map((c: { id: string }) => c.id)).toEqual(newest.slice(2, 5));
    expect(back.body.has_more).toBe(true);

    expect((await get('/v1/charges?limit=100', m)).body.data).toHaveLength(12);
    for (const bad of ['limit=0', 'limit=101', 'limit=x', 'starting_after=NOPE']) {
      expect((await get(`/v1/charges?${bad}`, m)).status).toBe(400);
    }
    const stranger = await newMerchant(h.url);
    expect((await get('/v1/charges', stranger)).body.data).toEqual([]);
  });
});
