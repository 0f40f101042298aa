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

/** ISO 4217 codes in current use. */
const ISO_4217 = new Set(
  (
    'AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP BYN BZD CAD CDF ' +
    'CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD ' +
    'HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD ' +
    'MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN ' +
    'PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY ' +
    'TTD TWD TZS UAH UGX USD UYU UZS VES VND VUV WST XAF XCD XOF XPF YER ZAR ZMW ZWL'
  ).split(' '),
);

/** ISO 4217, any case in, lower case out (API.md §1). */
export const CurrencySchema = v.pipe(
  v.string('currency must be a string'),
  v.check((c) => ISO_4217.has(c.toUpperCase()), 'currency must be an ISO 4217 code such as usd'),
  v.transform((c) => c.toLowerCase()),
);

/** Sum of cents that stays an integer and never silently loses precision. */
export function addCents(a: number, b: number): Cents {
  const s = a + b;
  if (!Number.isSafeInteger(s)) throw new RangeError('amount overflow');
  return s as Cents;
}
