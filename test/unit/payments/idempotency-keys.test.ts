// The pure parts of idempotency (shared/idempotency.ts): the canonical JSON behind the request
// hash, the hash itself, the Clover key derived from the operation's own id, and the
// Idempotency-Key header's syntax.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ApiError } from '../../../shared/http/errors';
import { canonicalJson, cloverIdempotencyKey, requestHash, validateIdempotencyKey } from '../../../shared/idempotency';
import { routes } from '../../../shared/routes';

/** The same value with every object's keys in another order. */
function shuffled(value: unknown, seed: number): unknown {
  if (Array.isArray(value)) return value.map((x, i) => shuffled(x, seed + i));
  if (value === null || typeof value !== 'object') return value;
  const entries = Object.entries(value);
  const order = entries.map((_, i) => (i * 7919 + seed) % (entries.length + 13));
  const sorted = entries.map((e, i) => [order[i]!, e] as const).sort((a, b) => a[0] - b[0]);
  return Object.fromEntries(sorted.map(([, [k, v]]) => [k, shuffled(v, seed + 1)]));
}

const merchantId = fc.stringMatching(/^[A-Z0-9]{13}$/);
const routeKey = fc.constantFrom(...routes.filter((r) => r.idempotent).map((r) => `${r.method} ${r.path}`));
const clientKey = fc.stringMatching(/^[\x20-\x7e]{1,255}$/);

describe('canonicalJson', () => {
  it('ignores key order, at every depth', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.nat(), (value, seed) => {
        expect(canonicalJson(shuffled(value, seed))).toBe(canonicalJson(value));
      }),
    );
  });

  it('is JSON that parses back to the same value', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        expect(JSON.parse(canonicalJson(value))).toEqual(JSON.parse(JSON.stringify(value)));
      }),
    );
  });

  it('keeps array order and drops undefined fields', () => {
    expect(canonicalJson([1, 2])).not.toBe(canonicalJson([2, 1]));
    expect(canonicalJson({ b: 1, a: undefined, c: [{ y: 2, x: 1 }] })).toBe('{"b":1,"c":[{"x":1,"y":2}]}');
  });

  it('tells apart values that differ', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.jsonValue(), (a, b) => {
        const same = JSON.stringify(JSON.parse(canonicalJson(a))) === JSON.stringify(JSON.parse(canonicalJson(b)));
        expect(canonicalJson(a) === canonicalJson(b)).toBe(same);
      }),
    );
  });
});

describe('requestHash', () => {
  it('is a SHA-256 hex digest, the same for the same request in any key order', () => {
    fc.assert(
      fc.property(routeKey, fc.dictionary(fc.string(), fc.string()), fc.jsonValue(), fc.nat(), (r, p, b, seed) => {
        const h = requestHash(r, p, b);
        expect(h).toMatch(/^[0-9a-f]{64}$/);
        expect(requestHash(r, shuffled(p, seed), shuffled(b, seed))).toBe(h);
      }),
    );
  });

  it('differs when the route, a path parameter or the body differs', () => {
    const body = { charge: 'ch_1', amount: 100 };
    const h = requestHash('POST /v1/refunds', {}, body);
    expect(requestHash('POST /v1/charges', {}, body)).not.toBe(h);
    expect(requestHash('POST /v1/refunds', { id: 'x' }, body)).not.toBe(h);
    expect(requestHash('POST /v1/refunds', {}, { ...body, amount: 101 })).not.toBe(h);
    expect(requestHash('POST /v1/refunds', {}, { ...body, reason: 'duplicate' })).not.toBe(h);
  });
});

describe('cloverIdempotencyKey', () => {
  const operationId = fc
    .tuple(fc.constantFrom('ch', 'cp', 're'), fc.stringMatching(/^[0-9a-z]{23}$/))
    .map(([p, r]) => `${p}_${r}`);

  it('is a v4 UUID, the same every time for one merchant and operation', () => {
    fc.assert(
      fc.property(merchantId, operationId, (m, id) => {
        const key = cloverIdempotencyKey(m, id);
        expect(key).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
        expect(cloverIdempotencyKey(m, id)).toBe(key);
      }),
    );
  });

  it('differs when the merchant or the operation differs: no two operations share a Clover key', () => {
    fc.assert(
      fc.property(fc.tuple(merchantId, operationId), fc.tuple(merchantId, operationId), ([m1, id1], [m2, id2]) => {
        const same = m1 === m2 && id1 === id2;
        expect(cloverIdempotencyKey(m1, id1) === cloverIdempotencyKey(m2, id2)).toBe(same);
      }),
    );
  });

  it('does not depend on the client key: a client key reused after expiry gets a new operation, so a new Clover key', () => {
    // The key is a function of (merchant, operation id) only; a capture and a charge never collide.
    expect(cloverIdempotencyKey('AAAAAAAAAAAAA', 'ch_0000000000000000000000a')).not.toBe(
      cloverIdempotencyKey('AAAAAAAAAAAAA', 'cp_0000000000000000000000a'),
    );
    expect(cloverIdempotencyKey('AAAAAAAAAAAAA', 'ch_0000000000000000000000a')).not.toBe(
      cloverIdempotencyKey('BBBBBBBBBBBBB', 'ch_0000000000000000000000a'),
    );
  });
});

describe('validateIdempotencyKey', () => {
  it('accepts 1 to 255 printable ASCII characters as they are', () => {
    fc.assert(
      fc.property(clientKey, (k) => {
        expect(validateIdempotencyKey(k)).toBe(k);
      }),
    );
  });

  it.each([
    [undefined, 'idempotency_key_missing'],
    ['', 'idempotency_key_missing'],
    ['k'.repeat(256), 'idempotency_key_invalid'],
    ['tab\there', 'idempotency_key_invalid'],
    ['clé', 'idempotency_key_invalid'],
    ['new\nline', 'idempotency_key_invalid'],
  ])('refuses %j with 400 %s', (k, code) => {
    const e = (() => {
      try {
        validateIdempotencyKey(k);
      } catch (x) {
        return x;
      }
    })();
    expect(e).toBeInstanceOf(ApiError);
    expect(e).toMatchObject({ status: 400, type: 'idempotency_error', code });
  });
});
