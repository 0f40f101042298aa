// Token host: POST /v1/tokens (raw and encrypted PAN), its error codes, keys.json.

import { constants, createPublicKey, publicEncrypt } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  bearer,
  call,
  card,
  type Harness,
  luhn,
  type Merchant,
  newMerchant,
  scl,
  setConfig,
  startHarness,
} from './helpers';

let h: Harness;
let merchant: Merchant;
const year = new Date().getUTCFullYear();

beforeAll(async () => {
  h = await startHarness();
  await setConfig(h.url, { rate_limits: false });
  merchant = await newMerchant(h.url);
});
afterAll(() => h.close());

const tokenize = (body: unknown, apikey = merchant.public_key) =>
  call(h.url, '/v1/tokens', { headers: { apikey }, body });

describe('POST /v1/tokens', () => {
  it('tokenizes a raw card and answers only brand, first6, last4 and expiry, as strings', async () => {
    const res = await tokenize({ card: { number: '4242424242424242', exp_month: '7', exp_year: '30', cvv: '123' } });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      id: expect.stringMatching(/^clv_[A-Za-z0-9]+$/),
      object: 'token',
      card: { exp_month: '07', exp_year: '2030', first6: '424242', last4: '4242', brand: 'VISA' },
    });
  });

  it.each([
    ['VISA', '4242424242424242'],
    ['MC', '5204245250003294'],
    ['MC', luhn('2221')],
    ['AMEX', '378282246310005'],
    ['DISCOVER', '6011000990139424'],
    ['DINERS', '30569309025904'],
    ['JCB', '3566002020360505'],
  ])('detects %s from %s', async (brand, number) => {
    const res = await tokenize(card(number));
    expect(res.status).toBe(200);
    expect(res.body.card.brand).toBe(brand);
  });

  it('accepts a brand that matches the number, in any case', async () => {
    expect((await tokenize(card('5204245250003294', { brand: 'Mastercard' }))).status).toBe(200);
    expect((await tokenize(card('6011000990139424', { brand: 'Discover' }))).status).toBe(200);
  });

  it.each([
    ['invalid_number', card('4242424242424241')],
    ['invalid_number', card('42424242')],
    ['invalid_number', card('4242-4242-4242-4242')],
    ['incorrect_number', card('4242424242424242', { last4: '1111' })],
    ['invalid_card_type', card(luhn('9'))],
    ['invalid_card_type', card('4242424242424242', { brand: 'AMEX' })],
    ['invalid_card_type', card('4242424242424242', { brand: 'UNIONPAY' })],
    ['invalid_expiry_month', card('4242424242424242', { exp_month: '13' })],
    ['invalid_expiry_month', card('4242424242424242', { exp_month: 'ab' })],
    ['invalid_expiry_year', card('4242424242424242', { exp_year: '203' })],
    ['expired_card', card('4242424242424242', { exp_year: String(year - 1) })],
    ['invalid_cvc', card('4242424242424242', { cvv: '12' })],
    ['invalid_cvc', card('4242424242424242', { cvv: undefined })],
    ['invalid_cvc', card('378282246310005', { cvv: '123' })],
    ['invalid_request', { card: { exp_month: '12', exp_year: String(year + 1), cvv: '123' } }],
    [
      'invalid_request',
      { card: { encrypted_pan: 'bm90IGVuY3J5cHRlZA==', exp_month: '12', exp_year: '2040', cvv: '123' } },
    ],
    ['invalid_request', { nothing: true }],
  ])('answers 400 %s with Clover’s error body', async (code, body) => {
    const res = await tokenize(body);
    expect(res.status).toBe(400);
    expect(res.body).toEqual({
      message: expect.any(String),
      error: expect.objectContaining({ code, message: expect.any(String) }),
    });
    expect(JSON.stringify(res.body)).not.toContain('424242424242');
  });

  it('rejects a card that expired last month but accepts this month', async () => {
    const now = new Date();
    const thisMonth = String(now.getUTCMonth() + 1);
    expect((await tokenize(card('4242424242424242', { exp_month: thisMonth, exp_year: String(year) }))).status).toBe(
      200,
    );
    if (now.getUTCMonth() > 0) {
      const lastMonth = String(now.getUTCMonth());
      const res = await tokenize(card('4242424242424242', { exp_month: lastMonth, exp_year: String(year) }));
      expect(res.body.error.code).toBe('expired_card');
    }
  });

  it('401s without an apikey, with an unknown one, or with a Bearer private key', async () => {
    for (const headers of [{}, { apikey: 'nope' }, bearer(merchant.private_key), { apikey: merchant.private_key }]) {
      const res = await call(h.url, '/v1/tokens', { headers, body: card('4242424242424242') });
      expect(res.status).toBe(401);
      expect(res.body).toEqual({ message: '401 Unauthorized' });
    }
  });

  it('round-trips an encrypted PAN made with the key from /assets/keys.json', async () => {
    const keys = await call(h.url, '/assets/keys.json');
    expect(keys.status).toBe(200);
    expect(Object.keys(keys.body).sort()).toEqual(['TA_PUBLIC_KEY_DEV', 'TA_PUBLIC_KEY_PROD']);
    // The format Clover's client ports parse: 256-byte modulus, then the exponent (§4.3).
    const raw = Buffer.from(keys.body.TA_PUBLIC_KEY_DEV, 'base64');
    expect(raw.length).toBe(512);
    const n = raw.subarray(0, 256);
    const e = Buffer.from(
      BigInt(`0x${raw.subarray(256).toString('hex')}`)
        .toString(16)
        .padStart(6, '0'),
      'hex',
    );
    expect(e.toString('hex')).toBe('010001');
    const publicKey = createPublicKey({
      key: { kty: 'RSA', n: n.toString('base64url'), e: e.toString('base64url') },
      format: 'jwk',
    });
    const pan = '5204245250003294';
    const encrypted = publicEncrypt(
      { key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' },
      Buffer.from(`00000000${pan}`),
    ).toString('base64');
    const res = await tokenize({
      card: {
        encrypted_pan: encrypted,
        first6: '520424',
        last4: '3294',
        exp_month: '12',
        exp_year: String(year + 2),
        cvv: '123',
        brand: 'MC',
      },
    });
    expect(res.status).toBe(200);
    expect(res.body.card).toEqual({
      exp_month: '12',
      exp_year: String(year + 2),
      first6: '520424',
      last4: '3294',
      brand: 'MC',
    });

    // Without the 00000000 prefix the plaintext is not a PAN block.
    const unprefixed = publicEncrypt(
      { key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' },
      Buffer.from(pan),
    ).toString('base64');
    const bad = await tokenize({ card: { encrypted_pan: unprefixed, exp_month: '12', exp_year: '2040', cvv: '123' } });
    expect(bad.body.error.code).toBe('invalid_request');
  });

  it('makes single-use tokens bound to the merchant', async () => {
    const token = (await tokenize(card('4242424242424242'))).body.id as string;
    const other = await newMerchant(h.url);
    const foreign = await call(h.url, '/v1/charges', {
      headers: scl(other.private_key),
      body: { amount: 100, currency: 'usd', source: token },
    });
    expect(foreign.status).toBe(400);
    expect(foreign.body.error.code).toBe('resource_missing');

    const first = await call(h.url, '/v1/charges', {
      headers: scl(merchant.private_key),
      body: { amount: 100, currency: 'usd', source: token },
    });
    expect(first.status).toBe(200);
    const second = await call(h.url, '/v1/charges', {
      headers: scl(merchant.private_key),
      body: { amount: 100, currency: 'usd', source: token },
    });
    expect(second.status).toBe(400);
    expect(second.body.error.code).toBe('token_already_used');
  });
});
