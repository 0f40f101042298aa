// Card-data redaction and the leak scanner (shared/redact.ts), by example and by property.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { luhnValid } from '../../../shared/card';
import { findCardNumbers, redact } from '../../../shared/redact';

function checkDigit(body: string): string {
  for (let d = 0; d <= 9; d++) if (luhnValid(`${body}${d}`)) return String(d);
  throw new Error('unreachable');
}

/** Luhn-valid numbers of 13 to 19 digits that start like a card network's (2–6). */
const pan = fc
  .tuple(fc.constantFrom('2', '3', '4', '5', '6'), fc.stringMatching(/^[0-9]{11,17}$/))
  .map(([first, rest]) => `${first}${rest}${checkDigit(`${first}${rest}`)}`);
/** Text that cannot run into a number's digits. */
const prose = fc.stringMatching(/^[A-Za-z ,.:"{}=]{0,40}$/);

describe('findCardNumbers', () => {
  it('finds a card number planted in any text', () => {
    fc.assert(
      fc.property(prose, pan, prose, (before, n, after) => {
        expect(findCardNumbers(`${before}${n}${after}`)).toEqual([n]);
      }),
    );
  });

  it('finds each of several numbers', () => {
    expect(findCardNumbers('a 4242424242424242 b "378282246310005" c=6011000050617475')).toEqual([
      '4242424242424242',
      '378282246310005',
      '6011000050617475',
    ]);
  });

  it('ignores runs that fail Luhn, are too short or too long, or start like a timestamp', () => {
    expect(findCardNumbers('4242424242424241')).toEqual([]);
    expect(findCardNumbers('424242424242')).toEqual([]);
    expect(findCardNumbers('42424242424242424242')).toEqual([]);
    expect(findCardNumbers('"created":1795000000000')).toEqual([]);
    fc.assert(
      fc.property(fc.integer({ min: 1_000_000_000_000, max: 1_999_999_999_999 }), (ms) => {
        expect(findCardNumbers(`"at":${ms}`)).toEqual([]);
      }),
    );
  });
});

describe('redact', () => {
  it('reduces any card number, however written, to first6…last4', () => {
    fc.assert(
      fc.property(prose, pan, fc.constantFrom('', ' ', '-'), prose, (before, n, sep, after) => {
        const written = n.replace(/(\d{4})(?=\d)/g, `$1${sep}`);
        const out = redact(`${before}${written}${after}`);
        expect(findCardNumbers(out)).toEqual([]);
        expect(out).not.toContain(written);
        expect(out).toContain(`${n.slice(0, 6)}…${n.slice(-4)}`);
      }),
    );
  });

  it('leaves Luhn-invalid digit runs alone', () => {
    expect(redact('order 4242424242424241 done')).toBe('order 4242424242424241 done');
  });

  it('masks our API keys and bearer tokens', () => {
    const out = redact(
      `key sk_test_${'a'.repeat(32)} pk_live_${'B9'.repeat(12)} Authorization: Bearer abc.def-ghi_123`,
    );
    expect(out).toBe('key sk_test_… pk_live_… Authorization: Bearer …');
  });
});
