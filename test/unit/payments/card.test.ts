// Card checks done before Clover is called (shared/card.ts): Luhn, brand, and checkCard's codes,
// by example and by property (fast-check).

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { brandOf, checkCard, luhnValid } from '../../../shared/card';

/** The digit that makes `body` + digit pass Luhn. */
function checkDigit(body: string): string {
  for (let d = 0; d <= 9; d++) if (luhnValid(`${body}${d}`)) return String(d);
  throw new Error('unreachable');
}

const digits = (min: number, max: number) => fc.stringMatching(new RegExp(`^[0-9]{${min},${max}}$`));
const NOW = new Date(Date.UTC(2026, 10, 24, 10)); // November 2026
const card = (over: Record<string, unknown> = {}) => ({
  number: '4242424242424242',
  exp_month: '12',
  exp_year: '2030',
  cvv: '123',
  ...over,
});

describe('luhnValid', () => {
  it.each([
    '4242424242424242',
    '378282246310005',
    '30569309025904',
    '3566002020360505',
    '6011000050617475',
    '5204245250003294',
  ])('accepts the sandbox number %s', (n) => {
    expect(luhnValid(n)).toBe(true);
  });

  it.each(['4242424242424241', '1234567812345678', '', 'abcd', '4242 4242 4242 4242'])('refuses %j', (n) => {
    expect(luhnValid(n)).toBe(false);
  });

  it('accepts any body followed by its check digit, and refuses every other last digit', () => {
    fc.assert(
      fc.property(digits(11, 18), (body) => {
        const d = checkDigit(body);
        expect(luhnValid(`${body}${d}`)).toBe(true);
        for (let x = 0; x <= 9; x++) if (String(x) !== d) expect(luhnValid(`${body}${x}`)).toBe(false);
      }),
    );
  });

  it('detects any single changed digit', () => {
    fc.assert(
      fc.property(digits(11, 18), fc.nat(), fc.integer({ min: 1, max: 9 }), (body, at, delta) => {
        const valid = `${body}${checkDigit(body)}`;
        const i = at % valid.length;
        const changed = `${valid.slice(0, i)}${(Number(valid[i]) + delta) % 10}${valid.slice(i + 1)}`;
        expect(luhnValid(changed)).toBe(false);
      }),
    );
  });
});

describe('brandOf', () => {
  it.each([
    ['4242424242424242', 'VISA'],
    ['378282246310005', 'AMEX'],
    ['371449635398431', 'AMEX'],
    ['5424180273333333', 'MC'],
    ['2223000048400011', 'MC'],
    ['6011000050617475', 'DISCOVER'],
    ['30569309025904', 'DINERS'],
    ['3566002020360505', 'JCB'],
    ['9999999999999995', 'UNKNOWN'],
  ])('%s is %s', (n, brand) => {
    expect(brandOf(n)).toBe(brand);
  });
});

describe('checkCard', () => {
  it('accepts a good card and reduces it to brand, first6, last4, padded month and four-digit year', () => {
    const r = checkCard(card({ number: '4242 4242-4242 4242', exp_month: 3, exp_year: '30' }), NOW);
    expect(r).toEqual({
      ok: true,
      card: {
        number: '4242424242424242',
        exp_month: '03',
        exp_year: '2030',
        cvv: '123',
        brand: 'VISA',
        first6: '424242',
        last4: '4242',
      },
    });
  });

  it.each([
    ['a Luhn failure', { number: '4242424242424241' }, 'invalid_number', 'card[number]'],
    ['11 digits', { number: '42424242426' }, 'invalid_number', 'card[number]'],
    // Luhn-valid, but no brand Clover takes issues 12-digit numbers.
    ['12 digits', { number: '424242424242' }, 'invalid_number', 'card[number]'],
    ['20 digits', { number: '42424242424242424242' }, 'invalid_number', 'card[number]'],
    ['letters', { number: '4242x24242424242' }, 'invalid_number', 'card[number]'],
    ['a number of no brand Clover takes', { number: '9999999999999995' }, 'invalid_card_type', 'card[number]'],
    ['month 0', { exp_month: '0' }, 'invalid_expiry_month', 'card[exp_month]'],
    ['month 13', { exp_month: 13 }, 'invalid_expiry_month', 'card[exp_month]'],
    ['month "1a"', { exp_month: '1a' }, 'invalid_expiry_month', 'card[exp_month]'],
    ['a three-digit year', { exp_year: '203' }, 'invalid_expiry_year', 'card[exp_year]'],
    ['a year 51 years ahead', { exp_year: '2077' }, 'invalid_expiry_year', 'card[exp_year]'],
    ['last month', { exp_month: '10', exp_year: '2026' }, 'expired_card', 'card[exp_year]'],
    ['last year', { exp_month: '12', exp_year: '25' }, 'expired_card', 'card[exp_year]'],
    ['a 2-digit CVV', { cvv: '12' }, 'invalid_cvc', 'card[cvv]'],
    ['a 4-digit CVV on a Visa', { cvv: '1234' }, 'invalid_cvc', 'card[cvv]'],
    ['a 3-digit CVV on an Amex', { number: '378282246310005', cvv: '123' }, 'invalid_cvc', 'card[cvv]'],
    ['a 5-digit CVV on an Amex', { number: '378282246310005', cvv: '12345' }, 'invalid_cvc', 'card[cvv]'],
  ])('refuses %s', (_what, over, code, param) => {
    expect(checkCard(card(over), NOW)).toEqual({ ok: false, code, param });
  });

  it('accepts the current month and a four-digit Amex CVV', () => {
    expect(checkCard(card({ exp_month: '11', exp_year: '2026' }), NOW).ok).toBe(true);
    expect(checkCard(card({ number: '378282246310005', cvv: '1234' }), NOW).ok).toBe(true);
  });

  it('accepts every valid number of 13 to 19 digits of a Clover brand, whatever the separators, and keeps first6/last4', () => {
    fc.assert(
      fc.property(
        fc
          .tuple(fc.constantFrom('4', '34', '37', '51', '2221', '6011', '65', '36', '3530'), digits(12, 18))
          .map(([iin, rest]) => `${iin}${rest}`.slice(0, Math.max(12, rest.length))),
        fc.array(fc.constantFrom('', ' ', '-'), { minLength: 19, maxLength: 19 }),
        (b, seps) => {
          const n = `${b}${checkDigit(b)}`;
          const written = [...n].map((d, i) => `${d}${seps[i]}`).join('');
          const r = checkCard(card({ number: written, cvv: brandOf(n) === 'AMEX' ? '1234' : '123' }), NOW);
          expect(r).toMatchObject({ ok: true, card: { number: n, first6: n.slice(0, 6), last4: n.slice(-4) } });
        },
      ),
    );
  });

  it('judges expiry by month: before now is expired, now and later is fine', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2000, max: 2076 }), fc.integer({ min: 1, max: 12 }), (year, month) => {
        const r = checkCard(card({ exp_month: String(month), exp_year: String(year) }), NOW);
        const past = year < 2026 || (year === 2026 && month < 11);
        if (past) expect(r).toMatchObject({ ok: false, code: 'expired_card' });
        else expect(r.ok).toBe(true);
      }),
    );
  });

  it('never puts the number or the CVV in a refusal', () => {
    fc.assert(
      fc.property(
        fc.record({
          number: fc.oneof(digits(0, 24), fc.string()),
          exp_month: fc.oneof(fc.string({ maxLength: 3 }), fc.integer()),
          exp_year: fc.oneof(fc.string({ maxLength: 5 }), fc.integer()),
          cvv: fc.oneof(digits(0, 6), fc.string({ maxLength: 6 })),
        }),
        (input) => {
          const r = checkCard(input, NOW);
          if (!r.ok) expect(Object.keys(r).sort()).toEqual(['code', 'ok', 'param']);
        },
      ),
    );
  });
});
