// Card data never leaves the tokens function (API.md §2.3): after card numbers and CVVs have gone
// through every payment path — tokens made and refused, charges made and declined, a session paid,
// a refund — none of them is in the platform's output, in any DynamoDB item or in any secret.
//
// The file makes its own payments so that it can fail on its own; it also scans whatever the other
// payment test files have done by the time it runs.

import { beforeAll, describe, expect, it } from 'vitest';
import { findCardNumbers } from '../../../shared/redact';
import { allItems, allSecretValues, api, newKey, newMerchant, platformLog } from '../../helpers/platform';
import { CARDS, expYear, type Merchant } from './helpers';

/** Every number and CVV this file sends, and the sandbox numbers the other files use. */
const NUMBERS = [
  CARDS.visa,
  CARDS.amex,
  CARDS.decline,
  '4000056655665556',
  '371449635398431',
  '5204245250003294',
  '6011000050617475',
];
const CVVS = ['731', '8264'];

/** A CVV next to its field name, in JSON, a query string or a log line. */
const CVV_FIELD = /\b(cvv2?|cvc2?|security_code)\b["']?\s*[:=]\s*["']?\d{3,4}/i;

function leaksIn(text: string): string[] {
  // Every Luhn-valid 12–19-digit run, except the shapes findCardNumbers documents as not card data
  // (digests, UUIDs, epoch-ms times, an account id of zeros).
  const found = new Set(findCardNumbers(text));
  for (const n of NUMBERS) {
    for (const shape of [n, n.replace(/(\d{4})(?=\d)/g, '$1 '), n.replace(/(\d{4})(?=\d)/g, '$1-')]) {
      if (text.includes(shape)) found.add(shape);
    }
  }
  const cvv = CVV_FIELD.exec(text);
  if (cvv) found.add(cvv[0]);
  return [...found];
}

let m: Merchant;

async function tokenize(number: string, cvv: string, extra: Record<string, unknown> = {}) {
  return api('POST', '/v1/tokens', {
    key: m.publishable_key,
    body: { card: { number, exp_month: '11', exp_year: expYear(), cvv, ...extra } },
  });
}

beforeAll(async () => {
  m = await newMerchant();
  // Tokens made, with the number written three ways, and refused after the number was checked.
  const visa = await tokenize(CARDS.visa, CVVS[0]!);
  const spaced = await tokenize('4242 4242 4242 4242', CVVS[0]!, { name: 'A Shopper', address_zip: '94107' });
  const amex = await tokenize(CARDS.amex, CVVS[1]!);
  const decline = await tokenize('4005-5717-0222-2222', CVVS[0]!);
  await tokenize('4000056655665556', '12');
  await tokenize('371449635398431', CVVS[0]!);
  await tokenize('5204245250003294', CVVS[0]!, { exp_year: '2001' });
  await tokenize('6011000050617475', CVVS[0]!, { exp_month: '13' });
  await api('POST', '/v1/tokens', { key: m.publishable_key, raw: `{"card":{"number":"${CARDS.visa}","cvv":"731"` });
  await api('POST', '/v1/tokens', {
    key: m.publishable_key,
    body: { card: { number: CARDS.visa, exp_month: '11', exp_year: expYear(), cvv: CVVS[0], pin: '1234' } },
  });
  for (const t of [visa, spaced, amex, decline]) expect(t.status).toBe(201);

  // Charges made and declined, a refund, a session paid.
  const pay = (source: string, body: Record<string, unknown> = {}) =>
    api('POST', '/v1/charges', {
      key: m.secret_key,
      idem: newKey(),
      body: { source, amount: 1200, currency: 'usd', ...body },
    });
  const made = await pay(visa.body.id);
  expect(made.status).toBe(201);
  expect((await pay(decline.body.id)).status).toBe(402);
  expect(
    (await api('POST', '/v1/refunds', { key: m.secret_key, idem: newKey(), body: { charge: made.body.id } })).status,
  ).toBe(201);
  const s = await api('POST', '/v1/checkout-sessions', { key: m.secret_key, body: { amount: 800, currency: 'usd' } });
  const paid = await api('POST', `/v1/checkout-sessions/${s.body.id}/pay`, {
    key: m.publishable_key,
    idem: newKey(),
    body: { client_secret: s.body.client_secret, source: amex.body.id },
  });
  expect(paid.status).toBe(201);
  // A card number where a token belongs is refused without being echoed.
  const raw = await pay(CARDS.visa);
  expect(raw.status).toBe(400);
  expect(JSON.stringify(raw.body)).not.toContain(CARDS.visa);
  await pay(spaced.body.id);
});

describe('the leak scanner', () => {
  it('finds a planted card number and CVV, however they are written', () => {
    expect(leaksIn(`{"msg":"charge","card":"${CARDS.visa}"}`)).toContain(CARDS.visa);
    expect(leaksIn('number=4242 4242 4242 4242&x=1')).toContain('4242 4242 4242 4242');
    expect(leaksIn('card 5555555555554444 declined')).toEqual(['5555555555554444']);
    // Short and unusual numbers too: a 13-digit Visa, a 12-digit run, a first digit no brand uses.
    expect(leaksIn('pan 4222222222222 x')).toEqual(['4222222222222']);
    expect(leaksIn('n=123456789015;')).toEqual(['123456789015']);
    expect(leaksIn('"x":"9999999999999995"')).toEqual(['9999999999999995']);
    expect(leaksIn('{"cvv":"731"}')).toHaveLength(1);
    expect(leaksIn('cvc=8264')).toHaveLength(1);
  });

  it('does not mistake timestamps, ids or digests for card numbers', () => {
    const clean = [
      '"lease_until":1795000000000,"expires_at_epoch":1795000000',
      'ch_0abcdefghjkmnpqrstvwxyz re_123 cs_456 clv_1TSTabc',
      '2026-11-24T10:00:00.000Z 4242…4242 424242…4242',
      'arn:aws:sts::000000000000:assumed-role/x request 0d5a2c1e-9b7f-4e21-8c3d-123456789015',
      // A SHA-256 digest with a Luhn-valid 16-digit run inside.
      `a${'5555555555554444'}b${'0'.repeat(46)}`,
    ];
    for (const text of clean) expect(leaksIn(text)).toEqual([]);
  });
});

describe('after card data went through the payment paths', () => {
  it('no card number or CVV is in the platform’s output', () => {
    const log = platformLog();
    expect(log).toContain('/v1/tokens');
    expect(leaksIn(log)).toEqual([]);
  });

  it('no card number or CVV is in any DynamoDB item', async () => {
    const items = await allItems();
    expect(items.some((i) => String(i.pk).includes(m.merchant_id))).toBe(true);
    const text = JSON.stringify(items);
    expect(leaksIn(text)).toEqual([]);
    const keys = new Set<string>();
    const walk = (v: unknown): void => {
      if (Array.isArray(v)) v.forEach(walk);
      else if (v && typeof v === 'object') {
        for (const [k, x] of Object.entries(v)) {
          keys.add(k.toLowerCase());
          walk(x);
        }
      }
    };
    walk(items);
    for (const field of ['number', 'cvv', 'cvc', 'card_number', 'pan']) expect(keys).not.toContain(field);
  });

  it('no card number or CVV is in any secret', async () => {
    const values = await allSecretValues();
    expect(values.length).toBeGreaterThan(0);
    expect(leaksIn(values.join('\n'))).toEqual([]);
  });
});
