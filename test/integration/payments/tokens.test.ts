// GET /v1/checkout-config and POST /v1/tokens (API.md §2.3): the storefront's publishable routes.
// Card data is checked before Clover is called, so an invalid card never reaches the token host.

import { beforeAll, describe, expect, it } from 'vitest';
import { api, newMerchant } from '../../helpers/platform';
import { CARDS, cloverRequestsOf, expYear, type Merchant } from './helpers';

let m: Merchant;
beforeAll(async () => {
  m = await newMerchant();
});

const tokenize = (card: Record<string, unknown>, key = m.publishable_key) =>
  api('POST', '/v1/tokens', { key, body: { card } });
const visa = (extra: Record<string, unknown> = {}) => ({
  number: CARDS.visa,
  exp_month: '12',
  exp_year: expYear(),
  cvv: '123',
  ...extra,
});

describe('GET /v1/checkout-config', () => {
  it('answers what the iframe needs, for the merchant of the key', async () => {
    const r = await api('GET', '/v1/checkout-config', { key: m.publishable_key });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({
      merchant_id: m.merchant_id,
      api_access_key: expect.stringMatching(/^\S{8,}$/),
      environment: expect.stringMatching(/^(sandbox|production)$/),
      sdk_url: expect.stringMatching(/^https?:\/\//),
    });
  });

  it('gives the api_access_key that Clover’s token host accepts', async () => {
    const config = await api('GET', '/v1/checkout-config', { key: m.publishable_key });
    const before = (await cloverRequestsOf(m.merchant_id, '/v1/tokens')).length;
    expect((await tokenize(visa())).status).toBe(201);
    const sent = (await cloverRequestsOf(m.merchant_id, '/v1/tokens')).slice(before);
    expect(sent).toHaveLength(1);
    // The emulator keeps only the last four characters of the apikey header.
    expect(sent[0]!.headers.apikey).toBe(`****${String(config.body.api_access_key).slice(-4)}`);
  });
});

describe('POST /v1/tokens', () => {
  it('answers 201 with a clv_ token and the card reduced to brand, first6, last4 and expiry', async () => {
    const r = await tokenize(visa());
    expect(r.status).toBe(201);
    expect(r.body).toEqual({
      id: expect.stringMatching(/^clv_[A-Za-z0-9]+$/),
      object: 'token',
      card: { brand: 'VISA', first6: '424242', last4: '4242', exp_month: '12', exp_year: expYear() },
    });
    expect(JSON.stringify(r.body)).not.toContain(CARDS.visa);
    expect(r.headers.get('request-id')).toBeTruthy();
  });

  it('accepts spaces and dashes in the number, numeric months and a two-digit year', async () => {
    const r = await tokenize(visa({ number: '4242 4242-4242 4242', exp_month: 3, exp_year: expYear().slice(2) }));
    expect(r.status).toBe(201);
    expect(r.body.card).toMatchObject({ last4: '4242', exp_month: '03', exp_year: expYear() });
  });

  it('accepts an Amex with a four-digit CVV', async () => {
    const r = await tokenize(visa({ number: CARDS.amex, cvv: '1234' }));
    expect(r.status).toBe(201);
    expect(r.body.card).toMatchObject({ brand: 'AMEX', first6: '378282', last4: '0005' });
  });

  it('may be called with a secret key too', async () => {
    expect((await tokenize(visa(), m.secret_key)).status).toBe(201);
  });

  const lastYear = String(new Date().getUTCFullYear() - 1);
  const cases: [string, Record<string, unknown>, string, string][] = [
    ['a number failing Luhn', { number: '4242424242424241' }, 'invalid_number', 'card[number]'],
    ['an 11-digit number', { number: '42424242424' }, 'invalid_number', 'card[number]'],
    ['a 20-digit number', { number: '42424242424242424242' }, 'invalid_number', 'card[number]'],
    ['letters in the number', { number: '4242abcd42424242' }, 'invalid_number', 'card[number]'],
    ['month 13', { exp_month: '13' }, 'invalid_expiry_month', 'card[exp_month]'],
    ['month 0', { exp_month: '0' }, 'invalid_expiry_month', 'card[exp_month]'],
    ['a non-numeric month', { exp_month: 'ab' }, 'invalid_expiry_month', 'card[exp_month]'],
    ['a three-digit year', { exp_year: '203' }, 'invalid_expiry_year', 'card[exp_year]'],
    [
      'a year far ahead',
      { exp_year: String(new Date().getUTCFullYear() + 60) },
      'invalid_expiry_year',
      'card[exp_year]',
    ],
    ['last year', { exp_year: lastYear }, 'expired_card', 'card[exp_year]'],
    ['a two-digit CVV', { cvv: '12' }, 'invalid_cvc', 'card[cvv]'],
    ['a four-digit CVV on a Visa', { cvv: '1234' }, 'invalid_cvc', 'card[cvv]'],
    ['a five-digit CVV', { cvv: '12345' }, 'invalid_cvc', 'card[cvv]'],
    ['a three-digit CVV on an Amex', { number: CARDS.amex, cvv: '123' }, 'invalid_cvc', 'card[cvv]'],
    ['letters in the CVV', { cvv: '12a' }, 'invalid_cvc', 'card[cvv]'],
  ];
  it.each(cases)('refuses %s with card_error %s, without calling Clover', async (_what, change, code, param) => {
    const before = (await cloverRequestsOf(m.merchant_id, '/v1/tokens')).length;
    const card = visa(change);
    const r = await tokenize(card);
    expect(r.status).toBe(400);
    expect(r.body.error).toMatchObject({ type: 'card_error', code, param, message: expect.any(String) });
    expect(r.body.error.request_id).toBe(r.headers.get('request-id'));
    // The message never repeats the card data.
    expect(JSON.stringify(r.body)).not.toContain(String(card.number));
    expect((await cloverRequestsOf(m.merchant_id, '/v1/tokens')).length).toBe(before);
  });

  it('refuses a card expired last month as expired_card', async () => {
    const now = new Date();
    const last = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 1, 1));
    const r = await tokenize(
      visa({ exp_month: String(last.getUTCMonth() + 1), exp_year: String(last.getUTCFullYear()) }),
    );
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('expired_card');
  });

  const shapes: [string, unknown, string][] = [
    ['no card', {}, 'card'],
    ['a card without number', { card: { exp_month: '12', exp_year: '2040', cvv: '123' } }, 'card[number]'],
    ['a numeric card number', { card: { ...visa(), number: 4242424242424242 } }, 'card[number]'],
    ['an unknown card field', { card: { ...visa(), pin: '1234' } }, 'card[pin]'],
    ['an unknown top-level field', { card: visa(), amount: 1 }, 'amount'],
  ];
  it.each(shapes)('answers %s with 400 invalid_request_error naming the param', async (_what, body, param) => {
    const before = (await cloverRequestsOf(m.merchant_id, '/v1/tokens')).length;
    const r = await api('POST', '/v1/tokens', { key: m.publishable_key, body });
    expect(r.status).toBe(400);
    expect(r.body.error).toMatchObject({ type: 'invalid_request_error', param });
    expect((await cloverRequestsOf(m.merchant_id, '/v1/tokens')).length).toBe(before);
  });

  it.each([
    ['malformed JSON', '{"card":'],
    ['an array', '[]'],
    ['a string', '"card"'],
    ['null', 'null'],
  ])('answers %s with 400 invalid_request_error', async (_what, raw) => {
    const r = await api('POST', '/v1/tokens', { key: m.publishable_key, raw });
    expect(r.status).toBe(400);
    expect(r.body.error.type).toBe('invalid_request_error');
  });
});
