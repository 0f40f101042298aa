// Card-data redaction and the leak scanner (shared/redact.ts), by example and by property.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { brandOf, checkCard, luhnValid } from '../../../shared/card';
import { findCardNumbers, maskPan, redact } from '../../../shared/redact';

function checkDigit(body: string): string {
  for (let d = 0; d <= 9; d++) if (luhnValid(`${body}${d}`)) return String(d);
  throw new Error('unreachable');
}

/** Luhn-valid numbers of 12 to 19 digits, any first digit. */
const anyRun = fc.stringMatching(/^[0-9]{11,18}$/).map((body) => `${body}${checkDigit(body)}`);
/** What the scanner must find: every such run except its documented non-card shapes. */
const pan = anyRun.filter((n) => !/^(\d)\1+$/.test(n) && !(n.length === 13 && n.startsWith('1')));
/** Text that cannot run into a number's digits. */
const prose = fc.stringMatching(/^[A-Za-z ,.:"{}=]{0,40}$/);

describe('findCardNumbers', () => {
  it('finds any Luhn-valid 12–19-digit number planted in any text, whatever its first digit', () => {
    fc.assert(
      fc.property(prose, pan, prose, (before, n, after) => {
        expect(findCardNumbers(`${before} ${n} ${after}`)).toEqual([n]);
      }),
    );
  });

  it('finds each of several numbers, the short and unusual ones too', () => {
    expect(
      findCardNumbers(
        'a 4242424242424242 b "378282246310005" c=6011000050617475 d 4222222222222 e 123456789015 f 9999999999999995',
      ),
    ).toEqual([
      '4242424242424242',
      '378282246310005',
      '6011000050617475',
      '4222222222222',
      '123456789015',
      '9999999999999995',
    ]);
  });

  it('finds every number card validation accepts', () => {
    const year = new Date().getUTCFullYear() + 3;
    let accepted = 0;
    fc.assert(
      fc.property(fc.stringMatching(/^[0-9]{10,20}$/), (body) => {
        const n = `${body}${checkDigit(body)}`;
        const cvv = brandOf(n) === 'AMEX' ? '1234' : '123';
        if (!checkCard({ number: n, exp_month: 12, exp_year: year, cvv }).ok) return;
        accepted++;
        expect(findCardNumbers(`"number":"${n}"`)).toEqual([n]);
      }),
    );
    expect(accepted).toBeGreaterThan(0);
  });

  it('ignores runs that fail Luhn or are too short or too long', () => {
    expect(findCardNumbers('4242424242424241')).toEqual([]);
    expect(findCardNumbers('42424242426')).toEqual([]);
    expect(findCardNumbers('42424242424242424242')).toEqual([]);
  });

  it('ignores its documented non-card shapes: epoch-ms times, repeated digits, UUIDs and hex digests', () => {
    expect(findCardNumbers('"created":1795000000000')).toEqual([]);
    fc.assert(
      fc.property(fc.integer({ min: 1_000_000_000_000, max: 1_999_999_999_999 }), (ms) => {
        expect(findCardNumbers(`"at":${ms}`)).toEqual([]);
      }),
    );
    expect(findCardNumbers('arn:aws:sts::000000000000:assumed-role/x')).toEqual([]);
    expect(findCardNumbers('request 0d5a2c1e-9b7f-4e21-8c3d-123456789015 done')).toEqual([]);
    expect(findCardNumbers(`hash a${'5105105105105100'}b${'0'.repeat(46)}`)).toEqual([]);
    // Clover's retrieval reference number (12 digits), as JSON and as JSON inside a log line.
    expect(findCardNumbers('{"ref_num":"123456789015","x":1}')).toEqual([]);
    expect(findCardNumbers('"clover":{\\"ref_num\\":\\"123456789015\\"}')).toEqual([]);
    // The same run outside a UUID, a digest or a ref_num is found, and so is a longer one in ref_num.
    expect(findCardNumbers('id 123456789015')).toEqual(['123456789015']);
    expect(findCardNumbers('{"ref_num":"4242424242424242"}')).toEqual(['4242424242424242']);
  });
});

describe('redact', () => {
  it('masks any Luhn-valid 12–19-digit run, however written, so that the scanner finds nothing', () => {
    fc.assert(
      fc.property(prose, anyRun, fc.constantFrom('', ' ', '-'), prose, (before, n, sep, after) => {
        const written = n.replace(/(\d{4})(?=\d)/g, `$1${sep}`);
        const out = redact(`${before} ${written} ${after}`);
        expect(findCardNumbers(out)).toEqual([]);
        expect(out).not.toContain(written);
        expect(out).toContain(maskPan(n));
      }),
    );
  });

  it('shows first6…last4 only when at least five digits stay hidden, else last4 alone', () => {
    expect(redact('pan 4242424242424242 x')).toBe('pan 424242…4242 x');
    expect(redact('pan 378282246310005 x')).toBe('pan 378282…0005 x');
    expect(redact('pan 4222222222222 x')).toBe('pan …2222 x');
    expect(redact('n 123456789015 x')).toBe('n …9015 x');
  });

  it('leaves request ids and digests alone, as the scanner does', () => {
    const id = 'request 0d5a2c1e-9b7f-4e21-8c3d-123456789015 done';
    expect(redact(id)).toBe(id);
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
