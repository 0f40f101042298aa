// The launch flow's OAuth state (shared/oauth/state.ts): signed, short-lived, bound to a merchant.
// Single use is the table's (shared/store/oauth-states.ts), tested through the platform.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { makeState, STATE_TTL_S, verifyState } from '../../../shared/oauth/state';

const SECRET = 'app-client-secret';
const M = 'ABCDEFGHJKMNP';
const NOW = Date.UTC(2026, 10, 30, 12);

describe('OAuth launch state', () => {
  it('verifies for its merchant until it expires', () => {
    const state = makeState(M, SECRET, NOW);
    const ok = verifyState(state, M, SECRET, NOW + (STATE_TTL_S - 1) * 1000);
    expect(ok).toMatchObject({ ok: true, payload: { m: M, e: NOW / 1000 + STATE_TTL_S } });
    expect(verifyState(state, M, SECRET, NOW + STATE_TTL_S * 1000)).toEqual({ ok: false, reason: 'expired' });
  });

  it('is refused for another merchant, under another secret, and when malformed', () => {
    const state = makeState(M, SECRET, NOW);
    expect(verifyState(state, 'ZZZZZZZZZZZZZ', SECRET, NOW)).toEqual({ ok: false, reason: 'wrong_merchant' });
    expect(verifyState(state, M, 'another-secret', NOW)).toEqual({ ok: false, reason: 'bad_signature' });
    for (const bad of ['', 'v1', 'v1..', 'v2.a.b', `${state}.x`, 'x'.repeat(600)]) {
      expect(verifyState(bad, M, SECRET, NOW).ok, bad).toBe(false);
    }
  });

  it('every nonce is new', () => {
    const nonces = new Set(Array.from({ length: 200 }, () => verifyState(makeState(M, SECRET, NOW), M, SECRET, NOW)));
    expect(new Set([...nonces].map((c) => (c.ok ? c.payload.n : '')))).toHaveProperty('size', 200);
  });

  it('any change to any character of a state makes it fail', () => {
    const state = makeState(M, SECRET, NOW);
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: state.length - 1 }),
        fc.constantFrom(...'ABCabc012-_.'.split('')),
        (i, c) => {
          fc.pre(state[i] !== c);
          const altered = `${state.slice(0, i)}${c}${state.slice(i + 1)}`;
          expect(verifyState(altered, M, SECRET, NOW).ok).toBe(false);
        },
      ),
    );
  });
});
