// API.md §1.2: "No input, however malformed, gets a 500." Property tests (fast-check) send random
// bodies, paths and queries to every payment route and check the answer is a 4xx error of the
// documented shape, or a success — never a 5xx, never a stack trace.

import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { api, newKey, newMerchant, type Res } from '../../helpers/platform';
import { chargeId, type Merchant } from './helpers';

let m: Merchant;
let auth: string;
let session: { id: string; client_secret: string };
beforeAll(async () => {
  m = await newMerchant();
  auth = await chargeId(m, { capture: false, amount: 100_000 });
  session = (await api('POST', '/v1/checkout-sessions', { key: m.secret_key, body: { amount: 100, currency: 'usd' } }))
    .body as typeof session;
});

const TYPES = [
  'invalid_request_error',
  'authentication_error',
  'permission_error',
  'card_error',
  'idempotency_error',
  'rate_limit_error',
];

function expectHandled(r: Res, what: string): void {
  expect(r.status, what).toBeLessThan(500);
  if (r.status >= 400) {
    expect(TYPES, what).toContain(r.body.error?.type);
    expect(r.body.error.code, what).toEqual(expect.any(String));
    expect(r.body.error.request_id, what).toBe(r.headers.get('request-id'));
    expect(r.body.error.message, what).not.toMatch(/\n\s+at |Error:|undefined|\[object Object\]/);
  }
}

/** A body: any JSON, an object with the routes' field names and any values, or any text. */
const fieldNames = [
  'source',
  'amount',
  'currency',
  'capture',
  'description',
  'external_reference_id',
  'customer_ip',
  'charge',
  'reason',
  'client_secret',
  'card',
  '__proto__',
  'constructor',
];
const body = fc.oneof(
  fc.jsonValue().map((v) => JSON.stringify(v)),
  fc
    .dictionary(fc.constantFrom(...fieldNames), fc.oneof(fc.jsonValue(), fc.constant(null)), { maxKeys: 6 })
    .map((v) => JSON.stringify(v)),
  fc
    .record(
      {
        number: fc.oneof(fc.string(), fc.stringMatching(/^[0-9 -]{0,24}$/), fc.integer()),
        exp_month: fc.oneof(fc.string({ maxLength: 6 }), fc.integer()),
        exp_year: fc.oneof(fc.string({ maxLength: 6 }), fc.integer(), fc.double()),
        cvv: fc.oneof(fc.string({ maxLength: 6 }), fc.integer()),
      },
      { requiredKeys: [] },
    )
    .map((card) => JSON.stringify({ card })),
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc.integer({ min: 1, max: 3000 }).map((depth) => `${'['.repeat(depth)}${']'.repeat(depth)}`),
  fc.integer({ min: 1, max: 2000 }).map((depth) => `${'{"amount":'.repeat(depth)}1${'}'.repeat(depth)}`),
);

const runs = { numRuns: 40 };

describe('random bodies', () => {
  const routes = (): Record<string, [string, 'secret' | 'publishable', boolean]> => ({
    'POST /v1/charges': ['/v1/charges', 'secret', true],
    'POST /v1/charges/{id}/capture': [`/v1/charges/${auth}/capture`, 'secret', true],
    'POST /v1/refunds': ['/v1/refunds', 'secret', true],
    'POST /v1/checkout-sessions': ['/v1/checkout-sessions', 'secret', false],
    'POST /v1/checkout-sessions/{id}/pay': [`/v1/checkout-sessions/${session?.id}/pay`, 'publishable', true],
    'POST /v1/tokens': ['/v1/tokens', 'publishable', false],
  });
  it.each(Object.keys(routes()))('%s answers every body with a 4xx of the error shape, or success', async (route) => {
    const [path, kind, idem] = routes()[route]!;
    await fc.assert(
      fc.asyncProperty(body, async (raw) => {
        const key = kind === 'secret' ? m.secret_key : m.publishable_key;
        const r = await api('POST', path, { key, raw, ...(idem ? { idem: newKey() } : {}) });
        expectHandled(r, `${route} ${raw.slice(0, 80)}`);
      }),
      runs,
    );
  });
});

describe('random paths and queries', () => {
  const segment = fc.oneof(
    fc.string({ maxLength: 40 }).map(encodeURIComponent),
    fc.constantFrom('ch_', 'cs_', '%', '%ZZ', '..', 'ch_%00', `ch_${'a'.repeat(500)}`, 'ch_0000000000000000000000%2F'),
  );
  it('GET /v1/charges/{id} and /v1/checkout-sessions/{id} answer 4xx for any id', async () => {
    await fc.assert(
      fc.asyncProperty(segment, fc.constantFrom('charges', 'checkout-sessions'), async (id, what) => {
        const r = await api('GET', `/v1/${what}/${id}`, { key: m.secret_key });
        expect(r.status).toBeLessThan(500);
        if (r.status >= 400 && r.body.error) expectHandled(r, `${what}/${id}`);
      }),
      runs,
    );
  });

  it('GET /v1/charges answers any limit and starting_after with 200 or 400', async () => {
    await fc.assert(
      fc.asyncProperty(fc.option(fc.string({ maxLength: 12 })), fc.option(segment), async (limit, after) => {
        const q = new URLSearchParams();
        if (limit !== null) q.set('limit', limit);
        if (after !== null) q.set('starting_after', decodeURIComponentSafe(after));
        const r = await api('GET', `/v1/charges?${q}`, { key: m.secret_key });
        expect([200, 400]).toContain(r.status);
        expectHandled(r, `?${q}`);
      }),
      runs,
    );
  });

  it('keys of any shape in Idempotency-Key are answered without a 500', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ unit: 'grapheme-ascii', maxLength: 300 }), async (idem) => {
        const r = await api('POST', '/v1/refunds', {
          key: m.secret_key,
          headers: { 'Idempotency-Key': idem },
          body: { charge: 'ch_0', amount: 1 },
        });
        expectHandled(r, JSON.stringify(idem));
      }),
      runs,
    );
  });
});

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
