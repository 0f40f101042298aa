// Card-testing limits, the pure parts (shared/payments/velocity.ts, shared/payments/sessions.ts):
// fixed windows, which limit is reached and for how long, and when a session is blocked.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isBlocked } from '../../../shared/payments/sessions';
import { counterKeys, overLimit, windowOf } from '../../../shared/payments/velocity';

const limits = { perKey: 20, perIp: 10, windowS: 600 };
const T = Date.UTC(2026, 0, 1, 10, 0, 0); // a window start (a multiple of 600 s)

describe('windowOf', () => {
  it('puts a moment in the fixed window it falls in', () => {
    expect(windowOf(T, 600)).toEqual({ start: T / 1000, end: T / 1000 + 600 });
    expect(windowOf(T + 599_999, 600)).toEqual({ start: T / 1000, end: T / 1000 + 600 });
    expect(windowOf(T + 600_000, 600).start).toBe(T / 1000 + 600);
  });

  it('always contains the moment, and starts at a multiple of the window', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 4_000_000_000_000 }), fc.integer({ min: 1, max: 86_400 }), (now, w) => {
        const { start, end } = windowOf(now, w);
        expect(start % w).toBe(0);
        expect(end - start).toBe(w);
        expect(start * 1000).toBeLessThanOrEqual(now);
        expect(now).toBeLessThan(end * 1000);
      }),
    );
  });
});

describe('overLimit', () => {
  it('lets a pay on below both limits', () => {
    expect(overLimit({ key: 19, ip: 9 }, limits, T)).toBeNull();
    expect(overLimit({ key: 0, ip: 0 }, limits, T)).toBeNull();
  });

  it('stops it at the key limit or the IP limit, until the window ends', () => {
    expect(overLimit({ key: 20, ip: 0 }, limits, T + 100_000)).toEqual({ which: 'key', retryAfter: 500 });
    expect(overLimit({ key: 0, ip: 10 }, limits, T + 599_500)).toEqual({ which: 'ip', retryAfter: 1 });
    expect(overLimit({ key: 25, ip: 12 }, limits, T)).toEqual({ which: 'key', retryAfter: 600 });
  });

  it('a limit of 0 is off', () => {
    expect(overLimit({ key: 1000, ip: 1000 }, { perKey: 0, perIp: 0, windowS: 600 }, T)).toBeNull();
    expect(overLimit({ key: 1000, ip: 1000 }, { perKey: 0, perIp: 10, windowS: 600 }, T)?.which).toBe('ip');
  });

  it('Retry-After is always within the window and at least 1 s', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 4_000_000_000_000 }), (now) => {
        const r = overLimit({ key: 20, ip: 10 }, limits, now);
        expect(r?.retryAfter).toBeGreaterThanOrEqual(1);
        expect(r?.retryAfter).toBeLessThanOrEqual(600);
      }),
    );
  });
});

describe('counterKeys', () => {
  it('one item per key and per IP, in the window', () => {
    expect(counterKeys({ key: 'key_1', ip: '2001:db8::1' }, 1_700_000_400)).toEqual([
      { pk: 'VELOCITY#KEY#key_1', sk: 'WINDOW#1700000400' },
      { pk: 'VELOCITY#IP#2001:db8::1', sk: 'WINDOW#1700000400' },
    ]);
  });
});

describe('isBlocked', () => {
  it('a session is blocked from its 5th decline on', () => {
    expect(isBlocked({}, 5)).toBe(false);
    expect(isBlocked({ declines: 4 }, 5)).toBe(false);
    expect(isBlocked({ declines: 5 }, 5)).toBe(true);
    expect(isBlocked({ declines: 6 }, 5)).toBe(true);
  });
});
