import fc from 'fast-check';
import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { newSecret, signedHeaders } from '../../../shared/events/signing';

// Verified with the `standardwebhooks` package (the reference implementation), not with our code.
describe('Standard Webhooks signatures', () => {
  it('verify with the standardwebhooks package', () => {
    const secret = newSecret();
    const body = JSON.stringify({ id: 'evt_1', type: 'charge.succeeded' });
    const ts = Math.floor(Date.now() / 1000);
    const headers = signedHeaders([secret], 'evt_1', ts, body);
    expect(headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
    expect(new Webhook(secret).verify(body, { ...headers })).toEqual(JSON.parse(body));
  });

  it('during a rotation both secrets sign, and either verifies', () => {
    const [current, previous] = [newSecret(), newSecret()];
    const body = '{"id":"evt_2"}';
    const headers = signedHeaders([current, previous], 'evt_2', Math.floor(Date.now() / 1000), body);
    expect(headers['webhook-signature'].split(' ')).toHaveLength(2);
    expect(() => new Webhook(current).verify(body, { ...headers })).not.toThrow();
    expect(() => new Webhook(previous).verify(body, { ...headers })).not.toThrow();
    expect(() => new Webhook(newSecret()).verify(body, { ...headers })).toThrow();
  });

  it('a changed body, id or timestamp fails verification', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1 }), fc.string({ minLength: 1, maxLength: 40 }), (body, suffix) => {
        const secret = newSecret();
        const ts = Math.floor(Date.now() / 1000);
        const h = signedHeaders([secret], 'msg_1', ts, body);
        const wh = new Webhook(secret);
        expect(() => wh.verify(body + suffix, { ...h })).toThrow();
        expect(() => wh.verify(body, { ...h, 'webhook-id': `msg_${suffix}x` })).toThrow();
        expect(() => wh.verify(body, { ...h, 'webhook-timestamp': String(ts - 3600) })).toThrow();
      }),
      { numRuns: 50 },
    );
  });

  it('secrets are whsec_ + base64 of 32 random bytes', () => {
    const s = newSecret();
    expect(s).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(Buffer.from(s.slice(6), 'base64')).toHaveLength(32);
    expect(newSecret()).not.toBe(s);
  });
});
