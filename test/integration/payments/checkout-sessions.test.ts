// Checkout sessions (API.md §2.3): the server fixes the amount with its secret key, the shopper's
// browser pays it with the publishable key and the client_secret, and of any number of concurrent
// pays at most one succeeds.

import { beforeAll, describe, expect, it } from 'vitest';
import { api, newKey, newMerchant } from '../../helpers/platform';
import { CARDS, cloverCharges, ISO_DATE, type Merchant, missingId, sansRequestId, tokenFor } from './helpers';

let m: Merchant;
beforeAll(async () => {
  m = await newMerchant();
});

async function createSession(body: Record<string, unknown> = {}) {
  const r = await api('POST', '/v1/checkout-sessions', {
    key: m.secret_key,
    body: { amount: 2500, currency: 'usd', ...body },
  });
  if (r.status !== 201) throw new Error(`session: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}
const getSession = (id: string) => api('GET', `/v1/checkout-sessions/${id}`, { key: m.secret_key });
const pay = (id: string, body: Record<string, unknown>, idem: string = newKey()) =>
  api('POST', `/v1/checkout-sessions/${id}/pay`, { key: m.publishable_key, idem, body });

describe('POST /v1/checkout-sessions', () => {
  it('answers 201 with an open session, its client_secret and no charge', async () => {
    const r = await api('POST', '/v1/checkout-sessions', {
      key: m.secret_key,
      body: { amount: 2500, currency: 'USD', description: 'Order 7', external_reference_id: 'ORD7' },
    });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({
      id: expect.stringMatching(/^cs_[0-9a-z]+$/),
      object: 'checkout_session',
      client_secret: expect.any(String),
      amount: 2500,
      currency: 'usd',
      status: 'open',
      expires_at: expect.stringMatching(ISO_DATE),
      charge: null,
    });
    expect(r.body.client_secret.length).toBeGreaterThanOrEqual(20);
    expect(Date.parse(r.body.expires_at)).toBeGreaterThan(Date.now());
  });

  it.each([
    ['a float amount', { amount: 10.5 }, 'amount', 'invalid_amount'],
    ['amount 0', { amount: 0 }, 'amount', 'invalid_amount'],
    ['amount over 99,999,999', { amount: 100_000_000 }, 'amount', 'invalid_amount'],
    ['a string amount', { amount: '2500' }, 'amount', 'invalid_amount'],
    ['an unknown currency', { currency: 'abc' }, 'currency', undefined],
    ['an unknown field', { source: 'clv_x' }, 'source', undefined],
  ])('refuses %s with 400 naming the param', async (_what, change, param, code) => {
    const r = await api('POST', '/v1/checkout-sessions', {
      key: m.secret_key,
      body: { amount: 2500, currency: 'usd', ...change },
    });
    expect(r.status).toBe(400);
    expect(r.body.error).toMatchObject({ type: 'invalid_request_error', param, ...(code ? { code } : {}) });
  });

  it('refuses a body that is not a JSON object with 400', async () => {
    for (const raw of ['{', '[]', '7']) {
      const r = await api('POST', '/v1/checkout-sessions', { key: m.secret_key, raw });
      expect(r.status).toBe(400);
      expect(r.body.error.type).toBe('invalid_request_error');
    }
  });
});

describe('GET /v1/checkout-sessions/{id}', () => {
  it('answers 200 with the session', async () => {
    const s = await createSession();
    const r = await getSession(s.id);
    expect(r.status).toBe(200);
    expect(r.body).toEqual(s);
  });

  it.each([missingId('cs'), 'cs_nope'])('answers 404 resource_missing for %s', async (id) => {
    const r = await getSession(id);
    expect(r.status).toBe(404);
    expect(r.body.error).toMatchObject({ type: 'invalid_request_error', code: 'resource_missing' });
  });
});

describe('POST /v1/checkout-sessions/{id}/pay', () => {
  it('charges exactly the session’s amount with the publishable key; the session becomes paid', async () => {
    const s = await createSession({ amount: 2500, description: 'Order 8', capture: true });
    const before = (await cloverCharges(m.merchant_id)).length;
    const r = await pay(s.id, { client_secret: s.client_secret, source: await tokenFor(m) });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({
      id: expect.stringMatching(/^ch_/),
      object: 'charge',
      amount: 2500,
      currency: 'usd',
      status: 'succeeded',
      captured: true,
      description: 'Order 8',
      checkout_session: s.id,
    });
    const after = await cloverCharges(m.merchant_id);
    expect(after.length).toBe(before + 1);
    expect(after[0]).toMatchObject({ id: r.body.clover.charge_id, amount: 2500 });
    const read = await getSession(s.id);
    expect(read.body).toMatchObject({ status: 'paid', charge: r.body.id, amount: 2500 });
    expect((await api('GET', `/v1/charges/${r.body.id}`, { key: m.secret_key })).body).toEqual(r.body);
  });

  it('authorises only when the session says capture: false', async () => {
    const s = await createSession({ capture: false });
    const r = await pay(s.id, { client_secret: s.client_secret, source: await tokenFor(m) });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ captured: false, amount: 2500 });
  });

  it('refuses an amount from the browser with 400 unknown field, and charges nothing', async () => {
    const s = await createSession();
    const before = (await cloverCharges(m.merchant_id)).length;
    const r = await pay(s.id, { client_secret: s.client_secret, source: await tokenFor(m), amount: 1 });
    expect(r.status).toBe(400);
    expect(r.body.error).toMatchObject({ type: 'invalid_request_error', param: 'amount' });
    expect((await cloverCharges(m.merchant_id)).length).toBe(before);
    expect((await getSession(s.id)).body).toMatchObject({ status: 'open', charge: null });
  });

  it('answers a wrong client_secret with 404, exactly like a missing session', async () => {
    const s = await createSession();
    const other = await createSession();
    const source = await tokenFor(m);
    const wrong = await pay(s.id, { client_secret: `${s.client_secret}x`, source });
    const othersSecret = await pay(s.id, { client_secret: other.client_secret, source });
    const missing = await pay(missingId('cs'), { client_secret: s.client_secret, source });
    expect(wrong.status).toBe(404);
    expect(wrong.body.error).toMatchObject({ type: 'invalid_request_error', code: 'resource_missing' });
    expect(sansRequestId(othersSecret.body)).toEqual(sansRequestId(wrong.body));
    expect(sansRequestId(missing.body)).toEqual(sansRequestId(wrong.body));
    expect((await getSession(s.id)).body.status).toBe('open');
  });

  it('refuses to pay a paid session with 409 session_not_open', async () => {
    const s = await createSession();
    expect((await pay(s.id, { client_secret: s.client_secret, source: await tokenFor(m) })).status).toBe(201);
    const before = (await cloverCharges(m.merchant_id)).length;
    const again = await pay(s.id, { client_secret: s.client_secret, source: await tokenFor(m) });
    expect(again.status).toBe(409);
    expect(again.body.error).toMatchObject({ type: 'invalid_request_error', code: 'session_not_open' });
    expect((await cloverCharges(m.merchant_id)).length).toBe(before);
  });

  it('stays open after a decline, and another card then pays it', async () => {
    const s = await createSession();
    const declined = await pay(s.id, { client_secret: s.client_secret, source: await tokenFor(m, CARDS.decline) });
    expect(declined.status).toBe(402);
    expect(declined.body.error).toMatchObject({
      type: 'card_error',
      code: 'card_declined',
      charge: expect.any(String),
    });
    expect((await getSession(s.id)).body).toMatchObject({ status: 'open', charge: null });

    const paid = await pay(s.id, { client_secret: s.client_secret, source: await tokenFor(m) });
    expect(paid.status).toBe(201);
    expect((await getSession(s.id)).body).toMatchObject({ status: 'paid', charge: paid.body.id });
    const failed = await api('GET', `/v1/charges/${declined.body.error.charge}`, { key: m.secret_key });
    expect(failed.body).toMatchObject({ status: 'failed', checkout_session: s.id });
  });

  it.each([
    ['no client_secret', { source: 'clv_abc' }, 'client_secret'],
    ['no source', { client_secret: 'x' }, 'source'],
    ['a source that is not a clv_ token', { client_secret: 'x', source: 'tok_visa' }, 'source'],
    ['a bad customer_ip', { client_secret: 'x', source: 'clv_abc', customer_ip: 'here' }, 'customer_ip'],
  ])('refuses %s with 400 naming the param', async (_what, body, param) => {
    const s = await createSession();
    const r = await pay(s.id, body);
    expect(r.status).toBe(400);
    expect(r.body.error).toMatchObject({ type: 'invalid_request_error', param });
  });
});

describe('concurrent pays of one session', () => {
  it.each([2, 10])('%i pays with different keys and cards produce exactly one succeeded charge', async (n) => {
    const s = await createSession({ amount: 3100 });
    const sources = await Promise.all(Array.from({ length: n }, () => tokenFor(m)));
    const before = (await cloverCharges(m.merchant_id)).length;
    const answers = await Promise.all(sources.map((source) => pay(s.id, { client_secret: s.client_secret, source })));
    const won = answers.filter((a) => a.status === 201);
    expect(won).toHaveLength(1);
    for (const a of answers.filter((x) => x.status !== 201)) {
      expect(a.status).toBe(409);
      expect(a.body.error.type).toMatch(/^(invalid_request_error|idempotency_error)$/);
    }
    const all = await cloverCharges(m.merchant_id);
    const made = all.slice(0, all.length - before);
    expect(made.filter((c) => c.status === 'succeeded')).toHaveLength(1);
    expect(made[0]).toMatchObject({ id: won[0]!.body.clover.charge_id, amount: 3100 });
    expect((await getSession(s.id)).body).toMatchObject({ status: 'paid', charge: won[0]!.body.id });
  });
});
