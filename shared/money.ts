/**
 * Money: integer minor units only. An amount is an integer from 1 to 99,999,999 cents (Clover's
 * maximum is $999,999.99); a float, a string or a negative number is refused at the edge.
 */
import * as v from 'valibot';
import type { Cents } from './ids';

export const MAX_AMOUNT = 99_999_999;

export const AmountSchema = v.pipe(
  v.number('amount must be an integer number of cents'),
  v.safeInteger('amount must be an integer number of cents'),
  v.minValue(1, 'amount must be at least 1'),
  v.maxValue(MAX_AMOUNT, `amount must be at most ${MAX_AMOUNT}`),
  v.transform((n) => n as Cents),
);

/**
 * The currencies Clover's ecommerce API takes: it is offered in the US and Canada only
 * (clover-api.md §0), and a merchant charges in its own country's currency.
 */
export const CURRENCIES = ['usd', 'cad'] as const;
export type Currency = (typeof CURRENCIES)[number];

/** USD or CAD, any case in, lower case out (API.md §1). */
export const CurrencySchema = v.pipe(
  v.string('currency must be a string'),
  v.check((c) => (CURRENCIES as readonly string[]).includes(c.toLowerCase()), 'currency must be usd or cad'),
  v.transform((c) => c.toLowerCase() as Currency),
);

/** Sum of cents that stays an integer and never silently loses precision. */
export function addCents(a: number, b: number): Cents {
  const s = a + b;
  if (!Number.isSafeInteger(s)) throw new RangeError('amount overflow');
  return s as Cents;
}
