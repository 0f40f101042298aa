// Money at the edge (shared/money.ts): integer cents from 1 to 99,999,999, ISO 4217 currencies.

import fc from 'fast-check';
import * as v from 'valibot';
import { describe, expect, it } from 'vitest';
import { AmountSchema, addCents, CurrencySchema, MAX_AMOUNT } from '../../../shared/money';

const ok = (schema: v.GenericSchema, x: unknown) => v.safeParse(schema, x).success;

describe('AmountSchema', () => {
  it('accepts every integer from 1 to 99,999,999, unchanged', () => {
    expect(MAX_AMOUNT).toBe(99_999_999);
    fc.assert(
      fc.property(fc.integer({ min: 1, max: MAX_AMOUNT }), (n) => {
        expect(v.parse(AmountSchema, n)).toBe(n);
      }),
    );
  });

  it('refuses integers outside the range', () => {
    fc.assert(
      fc.property(fc.oneof(fc.integer({ max: 0 }), fc.integer({ min: MAX_AMOUNT + 1 })), (n) => {
        expect(ok(AmountSchema, n)).toBe(false);
      }),
    );
  });

  it('refuses fractions, non-finite numbers and anything that is not a number', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.double({ min: 0, max: MAX_AMOUNT, noInteger: true }),
          fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -0.5, 1e300),
          fc.integer({ min: 1, max: MAX_AMOUNT }).map(String),
          fc.constantFrom(null, undefined, true, [], {}, [100], { amount: 100 }),
        ),
        (x) => {
          expect(ok(AmountSchema, x)).toBe(false);
        },
      ),
    );
  });
});

describe('CurrencySchema', () => {
  it.each([
    ['usd', 'usd'],
    ['USD', 'usd'],
    ['Cad', 'cad'],
    ['cAD', 'cad'],
  ])('accepts %s as %s', (input, out) => {
    expect(v.parse(CurrencySchema, input)).toBe(out);
  });

  // Clover's ecommerce API is US and Canada only: other ISO 4217 codes are refused too.
  it.each(['eur', 'gbp', 'JPY', 'xyz', 'us', 'usdd', '', ' usd', 'u$d'])('refuses %j', (c) => {
    expect(ok(CurrencySchema, c)).toBe(false);
  });

  it('refuses anything that is not a string', () => {
    for (const x of [840, null, undefined, ['usd'], { code: 'usd' }]) expect(ok(CurrencySchema, x)).toBe(false);
  });

  it('accepts exactly usd and cad, in any case, and answers lower case', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[A-Za-z]{3}$/), (c) => {
        const r = v.safeParse(CurrencySchema, c);
        expect(r.success).toBe(['usd', 'cad'].includes(c.toLowerCase()));
        if (r.success) expect(r.output).toBe(c.toLowerCase());
      }),
    );
  });
});

describe('addCents', () => {
  it('adds exactly and commutes', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 50 }), fc.integer({ min: 0, max: 2 ** 50 }), (a, b) => {
        expect(addCents(a, b)).toBe(a + b);
        expect(addCents(a, b)).toBe(addCents(b, a));
      }),
    );
  });

  it('throws rather than lose precision', () => {
    expect(() => addCents(Number.MAX_SAFE_INTEGER, 1)).toThrow(RangeError);
    expect(() => addCents(0.5, 1)).toThrow(RangeError);
  });
});
