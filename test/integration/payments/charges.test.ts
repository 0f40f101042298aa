// POST/GET /v1/charges, GET /v1/charges/{id}, POST /v1/charges/{id}/capture (API.md §2.3, §2.4),
// through the gateway and the Clover emulator.

import { beforeAll, describe, expect, it } from 'vitest';
import { api, newKey, newMerchant } from '../../helpers/platform';
import {
  CARDS,
  charge,
  chargeId,
  cloverCharges,
  cloverRequestsOf,
  expYear,
  ISO_DATE,
  type Merchant,
  missingId,
  tokenFor,
} from './helpers';

let m: Merchant;
beforeAll(async () => {
  m = await newMerchant();
});

const post = (path: string, body: unknown, idem: string | undefined = newKey()) =>
  api('POST', path, { key: m.secret_key, body, ...(idem ? { idem } : {}) });
const get = (path: string) => api('GET', path, { key: m.secret_key });

describe('POST /v1/charges', () => {
  it('answers 201 with the charge object of API.md §2.4', async () => {
    const source = await tokenFor(m);
    const r = await post('/v1/charges', { source, amount: 1099, currency: 'USD' });
    expect(r.status).toBe(201);
    expect(r.body).toEqual({
      id: expect.stringMatching(/^ch_[0-9a-z]+$/),
      object: 'charge',
      amount: 1099,
      currency: 'usd',
      status: 'succeeded',
      captured: true,
      amount_captured: 1099,
      amount_refunded: 0,
      refunded: false,
      description: null,
      external_reference_id: null,
      checkout_session: null,
      source: { brand: 'VISA', first6: '424242', last4: '4242', exp_month: '12', exp_year: expYear() },
      failure_code: null,
      failure_message: null,
      clover: {
        charge_id: expect.stringMatching(/^[0-9A-Z]{13}$/),
        ref_num: expect.any(String),
        auth_code: expect.any(String),
        order_id: expect.any(String),
      },
      created: expect.stringMatching(ISO_DATE),
    });
    expect(Math.abs(Date.parse(r.body.created) - Date.now())).toBeLessThan(60_000);
    // The charge exists at Clover, for this merchant, with the same amount.
    const made = (await cloverCharges(m.merchant_id)).find((c) => c.id === r.body.clover.charge_id);
    expect(made).toMatchObject({ amount: 1099, currency: 'usd', status: 'succeeded', merchant_id: m.merchant_id });
  });

  it('keeps description and external_reference_id, and sends them to Clover', async () => {
    const r = await charge(m, { description: 'Blue mug', external_reference_id: 'ORDER 42' });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ description: 'Blue mug', external_reference_id: 'ORDER 42' });
    const made = (await cloverCharges(m.merchant_id)).find((c) => c.id === r.body.clover.charge_id);
    expect(made).toMatchObject({ description: 'Blue mug', external_reference_id: 'ORDER 42' });
  });

  it('sends customer_ip to Clover as x-forwarded-for, and the caller’s address when it is absent', async () => {
    const before = (await cloverRequestsOf(m.merchant_id, '/v1/charges')).length;
    expect((await charge(m, { customer_ip: '203.0.113.9' })).status).toBe(201);
    expect((await charge(m)).status).toBe(201);
    const sent = (await cloverRequestsOf(m.merchant_id, '/v1/charges'))
      .slice(before)
      .filter((x) => x.method === 'POST');
    expect(sent.map((x) => x.headers['x-forwarded-for'])).toEqual(['203.0.113.9', '127.0.0.1']);
  });

  it('authorises only with capture: false', async () => {
    const r = await charge(m, { capture: false });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ status: 'succeeded', captured: false, amount_captured: 0, amount: 1000 });
  });

  it('accepts the largest amount, 99,999,999', async () => {
    const r = await charge(m, { amount: 99_999_999, capture: false });
    expect(r.status).toBe(201);
    expect(r.body.amount).toBe(99_999_999);
  });

  it('answers a decline with 402 card_declined, its decline_code and the failed charge, readable by GET', async () => {
    const r = await charge(m, {}, { number: CARDS.decline });
    expect(r.status).toBe(402);
    expect(r.body.error).toEqual({
      type: 'card_error',
      code: 'card_declined',
      message: expect.any(String),
      param: 'source',
      decline_code: 'do_not_honor',
      charge: expect.stringMatching(/^ch_/),
      request_id: r.headers.get('request-id'),
    });
    const read = await get(`/v1/charges/${r.body.error.charge}`);
    expect(read.status).toBe(200);
    expect(read.body).toMatchObject({
      id: r.body.error.charge,
      status: 'failed',
      captured: false,
      amount: 1000,
      failure_code: 'card_declined',
      failure_message: expect.any(String),
    });
  });

  describe('refuses bad input with 400 naming the param, without calling Clover', () => {
    const amounts: [string, unknown][] = [
      ['a float', 10.5],
      ['a negative amount', -100],
      ['zero', 0],
      ['100,000,000', 100_000_000],
      ['a string', '1000'],
      ['null', null],
      ['no amount', undefined],
    ];
    it.each(amounts)('amount: %s → invalid_amount', async (_what, amount) => {
      const before = (await cloverRequestsOf(m.merchant_id, '/v1/charges')).length;
      const r = await post('/v1/charges', { source: 'clv_abc123', amount, currency: 'usd' });
      expect(r.status).toBe(400);
      expect(r.body.error).toMatchObject({ type: 'invalid_request_error', code: 'invalid_amount', param: 'amount' });
      expect((await cloverRequestsOf(m.merchant_id, '/v1/charges')).length).toBe(before);
    });

    it.each([
      ['a Stripe-style token', 'tok_visa'],
      ['an empty string', ''],
      ['a number', 42],
      ['no source', undefined],
    ])('source: %s → invalid_source', async (_what, source) => {
      const r = await post('/v1/charges', { source, amount: 1000, currency: 'usd' });
      expect(r.status).toBe(400);
      expect(r.body.error).toMatchObject({ type: 'invalid_request_error', code: 'invalid_source', param: 'source' });
    });

    it.each([['xyz'], ['usdd'], ['us'], [''], [840]])('currency %s → 400 param currency', async (currency) => {
      const r = await post('/v1/charges', { source: 'clv_abc123', amount: 1000, currency });
      expect(r.status).toBe(400);
      expect(r.body.error).toMatchObject({ type: 'invalid_request_error', param: 'currency' });
    });

    it('an unknown field → 400 naming it', async () => {
      const r = await post('/v1/charges', { source: 'clv_abc123', amount: 1000, currency: 'usd', tip: 5 });
      expect(r.status).toBe(400);
      expect(r.body.error).toMatchObject({ type: 'invalid_request_error', param: 'tip' });
    });

    it.each([
      ['capture', 'yes'],
      ['description', 'x'.repeat(256)],
      ['external_reference_id', 'THIRTEEN CHAR'],
      ['customer_ip', 'not-an-ip'],
    ])('a bad %s → 400 naming it', async (field, value) => {
      const r = await post('/v1/charges', { source: 'clv_abc123', amount: 1000, currency: 'usd', [field]: value });
      expect(r.status).toBe(400);
      expect(r.body.error).toMatchObject({ type: 'invalid_request_error', param: field });
    });

    it.each([
      ['malformed JSON', '{"amount": 10'],
      ['an array', '[{"amount": 1000}]'],
      ['a string', '"charge"'],
      ['a number', '1000'],
      ['null', 'null'],
      [
        'more than 16 KiB',
        JSON.stringify({ source: 'clv_abc', amount: 1, currency: 'usd', description: 'x'.repeat(17_000) }),
      ],
    ])('%s → 400 invalid_request_error', async (_what, raw) => {
      const r = await api('POST', '/v1/charges', { key: m.secret_key, idem: newKey(), raw });
      expect(r.status).toBe(400);
      expect(r.body.error).toMatchObject({ type: 'invalid_request_error', request_id: r.headers.get('request-id') });
    });
  });

  it('refuses a token Clover does not know with 400 invalid_source', async () => {
    const r = await post('/v1/charges', { source: 'clv_1TSTnotARealTokenAbcDef', amount: 1000, currency: 'usd' });
    expect(r.status).toBe(400);
    expect(r.body.error).toMatchObject({ type: 'invalid_request_error', code: 'invalid_source', param: 'source' });
    // API.md §1.2: a message never contains a token (Clover's own message quotes it).
    expect(r.body.error.message).not.toContain('clv_');
  });

  it('refuses a token used already (tokens are single-use) with 400, naming source', async () => {
    const source = await tokenFor(m);
    expect((await post('/v1/charges', { source, amount: 1000, currency: 'usd' })).status).toBe(201);
    const again = await post('/v1/charges', { source, amount: 1000, currency: 'usd' });
    expect(again.status).toBe(400);
    expect(again.body.error).toMatchObject({ type: 'invalid_request_error', param: 'source' });
  });
});

describe('GET /v1/charges/{id}', () => {
  it('answers 200 with the same charge as the create', async () => {
    const created = await charge(m, { description: 'read me' });
    const r = await get(`/v1/charges/${created.body.id}`);
    expect(r.status).toBe(200);
    expect(r.body).toEqual(created.body);
  });

  it.each([
    ['a well-formed id that names nothing', missingId('ch')],
    ['a malformed id', 'nope'],
    ['a session id', missingId('cs')],
  ])('answers 404 resource_missing for %s', async (_what, id) => {
    const r = await get(`/v1/charges/${id}`);
    expect(r.status).toBe(404);
    expect(r.body.error).toMatchObject({ type: 'invalid_request_error', code: 'resource_missing' });
  });
});

describe('GET /v1/charges', () => {
  it('lists newest first, and pages with limit, starting_after and has_more', async () => {
    const made = [await chargeId(m), await chargeId(m), await chargeId(m)];
    const all = await get('/v1/charges?limit=100');
    expect(all.status).toBe(200);
    expect(all.body).toMatchObject({ object: 'list', has_more: false });
    const ids: string[] = all.body.data.map((c: { id: string }) => c.id);
    const created: string[] = all.body.data.map((c: { created: string }) => c.created);
    expect(created).toEqual([...created].sort().reverse());
    // Our three are there, newest first, with nothing made in between.
    const at = ids.indexOf(made[2]!);
    expect(ids.slice(at, at + 3)).toEqual([...made].reverse());
    expect(all.body.data[0]).toEqual((await get(`/v1/charges/${ids[0]}`)).body);

    const first = await get('/v1/charges?limit=2');
    expect(first.body.data.map((c: { id: string }) => c.id)).toEqual(ids.slice(0, 2));
    expect(first.body.has_more).toBe(true);

    const paged: string[] = [];
    let after: string | undefined;
    for (let page = 0; page < 50; page++) {
      const r = await get(`/v1/charges?limit=2${after ? `&starting_after=${after}` : ''}`);
      expect(r.status).toBe(200);
      paged.push(...r.body.data.map((c: { id: string }) => c.id));
      if (!r.body.has_more) break;
      after = paged.at(-1);
    }
    expect(paged).toEqual(ids);
  });

  it('defaults to 10', async () => {
    while ((await get('/v1/charges?limit=100')).body.data.length < 11) await chargeId(m);
    const r = await get('/v1/charges');
    expect(r.body.data).toHaveLength(10);
    expect(r.body.has_more).toBe(true);
  });

  it('answers limit=1 and limit=100', async () => {
    expect((await get('/v1/charges?limit=1')).body.data).toHaveLength(1);
    expect((await get('/v1/charges?limit=100')).status).toBe(200);
  });

  it.each(['0', '101', '-1', '1.5', 'ten', ''])('refuses limit=%s with 400 param limit', async (limit) => {
    const r = await get(`/v1/charges?limit=${limit}`);
    expect(r.status).toBe(400);
    expect(r.body.error).toMatchObject({ type: 'invalid_request_error', param: 'limit' });
  });

  it('refuses a starting_after that is not a charge id with 400', async () => {
    const r = await get('/v1/charges?starting_after=cs_123');
    expect(r.status).toBe(400);
    expect(r.body.error).toMatchObject({ type: 'invalid_request_error', param: 'starting_after' });
  });
});

describe('POST /v1/charges/{id}/capture', () => {
  const capture = (id: string, body: unknown = {}, idem: string = newKey()) =>
    post(`/v1/charges/${id}/capture`, body, idem);
  const cloverCharge = async (clover: string) =>
    (await cloverCharges(m.merchant_id)).find((c) => c.id === clover) ?? null;

  it('captures an authorisation in full: 200 captured: true, and Clover captured it', async () => {
    const auth = await charge(m, { capture: false, amount: 1500 });
    const r = await capture(auth.body.id);
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ ...auth.body, captured: true, amount_captured: 1500 });
    expect(await cloverCharge(auth.body.clover.charge_id)).toMatchObject({ captured: true, amount_captured: 1500 });
    expect((await get(`/v1/charges/${auth.body.id}`)).body).toEqual(r.body);
  });

  it('captures part of an authorisation', async () => {
    const auth = await charge(m, { capture: false, amount: 1500 });
    const r = await capture(auth.body.id, { amount: 600 });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ captured: true, amount: 1500, amount_captured: 600 });
    expect(await cloverCharge(auth.body.clover.charge_id)).toMatchObject({ captured: true, amount_captured: 600 });
  });

  it('refuses a second capture with 409 charge_already_captured', async () => {
    const auth = await charge(m, { capture: false });
    expect((await capture(auth.body.id)).status).toBe(200);
    const again = await capture(auth.body.id);
    expect(again.status).toBe(409);
    expect(again.body.error).toMatchObject({ type: 'invalid_request_error', code: 'charge_already_captured' });
  });

  it('refuses to capture a charge that was captured at creation with 409 charge_already_captured', async () => {
    const id = await chargeId(m);
    const r = await capture(id);
    expect(r.status).toBe(409);
    expect(r.body.error.code).toBe('charge_already_captured');
  });

  it('refuses more than authorised with 400 amount_too_large, and the charge stays capturable', async () => {
    const auth = await charge(m, { capture: false, amount: 1000 });
    const r = await capture(auth.body.id, { amount: 1001 });
    expect(r.status).toBe(400);
    expect(r.body.error).toMatchObject({ type: 'invalid_request_error', code: 'amount_too_large', param: 'amount' });
    expect(await cloverCharge(auth.body.clover.charge_id)).toMatchObject({ captured: false });
    expect((await capture(auth.body.id, { amount: 1000 })).status).toBe(200);
  });

  it('refuses to capture a failed charge with 409 charge_not_capturable', async () => {
    const declined = await charge(m, { capture: false }, { number: CARDS.decline });
    expect(declined.status).toBe(402);
    const r = await capture(declined.body.error.charge);
    expect(r.status).toBe(409);
    expect(r.body.error).toMatchObject({ type: 'invalid_request_error', code: 'charge_not_capturable' });
  });

  it.each([
    ['a float', 10.5],
    ['zero', 0],
    ['a string', '100'],
  ])('refuses amount %s with 400 invalid_amount', async (_what, amount) => {
    const auth = await charge(m, { capture: false });
    const r = await capture(auth.body.id, { amount });
    expect(r.status).toBe(400);
    expect(r.body.error).toMatchObject({ code: 'invalid_amount', param: 'amount' });
  });

  it('refuses an unknown field with 400', async () => {
    const auth = await charge(m, { capture: false });
    const r = await capture(auth.body.id, { amount: 100, currency: 'usd' });
    expect(r.status).toBe(400);
    expect(r.body.error).toMatchObject({ type: 'invalid_request_error', param: 'currency' });
  });

  it('answers 404 for a charge that does not exist', async () => {
    const r = await capture(missingId('ch'));
    expect(r.status).toBe(404);
    expect(r.body.error.code).toBe('resource_missing');
  });
});
