// Keys, Request-Id and tenancy on the payment routes (API.md §1, §1.1): who may call what, and a
// resource of another merchant answered exactly like one that does not exist.

import { beforeAll, describe, expect, it } from 'vitest';
import { api, createKey, keysCli, newKey, newMerchant, type Res } from '../../helpers/platform';
import { chargeId, type Merchant, missingId, sansRequestId, tokenFor } from './helpers';

let a: Merchant;
let b: Merchant;
let aCharge: string;
let aAuth: string;
let aSession: { id: string; client_secret: string };

beforeAll(async () => {
  [a, b] = await Promise.all([newMerchant(), newMerchant()]);
  aCharge = await chargeId(a, { amount: 1000 });
  aAuth = await chargeId(a, { amount: 1000, capture: false });
  aSession = (await api('POST', '/v1/checkout-sessions', { key: a.secret_key, body: { amount: 500, currency: 'usd' } }))
    .body as { id: string; client_secret: string };
});

/** Every secret route of API.md §2.3, with a body that would otherwise be fine. */
const secretRoutes = (): [string, string, unknown?][] => [
  ['POST', '/v1/charges', { source: 'clv_abc', amount: 100, currency: 'usd' }],
  ['GET', '/v1/charges'],
  ['GET', `/v1/charges/${aCharge}`],
  ['POST', `/v1/charges/${aAuth}/capture`, {}],
  ['POST', '/v1/refunds', { charge: aCharge }],
  ['POST', '/v1/checkout-sessions', { amount: 100, currency: 'usd' }],
  ['GET', `/v1/checkout-sessions/${aSession.id}`],
];

function expectRequestId(r: Res): void {
  const id = r.headers.get('request-id');
  expect(id).toMatch(/^\S{8,}$/);
  if (r.status >= 400) expect(r.body.error.request_id).toBe(id);
}

describe('authentication', () => {
  const cases: [string, Record<string, string>][] = [
    ['no Authorization header', {}],
    ['an unknown secret key', { Authorization: `Bearer sk_test_${'x'.repeat(32)}` }],
    ['an unknown publishable key', { Authorization: `Bearer pk_test_${'x'.repeat(32)}` }],
    ['a malformed key', { Authorization: 'Bearer hello' }],
    ['Bearer without a key', { Authorization: 'Bearer' }],
    ['another scheme', { Authorization: 'Basic dXNlcjpwYXNz' }],
  ];
  it.each(cases)('answers %s with 401 authentication_error on every keyed route', async (_what, headers) => {
    const routes: [string, string, unknown?][] = [
      ...secretRoutes(),
      ['GET', '/v1/checkout-config'],
      ['POST', '/v1/tokens', { card: {} }],
      ['POST', `/v1/checkout-sessions/${aSession.id}/pay`, { client_secret: aSession.client_secret, source: 'clv_a' }],
    ];
    for (const [method, path, body] of routes) {
      const r = await api(method, path, { headers, idem: newKey(), ...(body ? { body } : {}) });
      expect(r.status, `${method} ${path}`).toBe(401);
      expect(r.body.error.type, `${method} ${path}`).toBe('authentication_error');
      expectRequestId(r);
    }
  });

  it('answers a revoked key with 401 at once', async () => {
    const key = await createKey(a.merchant_id, 'secret');
    expect((await api('GET', `/v1/charges/${aCharge}`, { key })).status).toBe(200);
    const revoked = await keysCli(['revoke', key]);
    expect(revoked.code).toBe(0);
    const r = await api('GET', `/v1/charges/${aCharge}`, { key });
    expect(r.status).toBe(401);
    expect(r.body.error.type).toBe('authentication_error');
    // The merchant's other keys still work.
    expect((await api('GET', `/v1/charges/${aCharge}`, { key: a.secret_key })).status).toBe(200);
  });
});

describe('permissions', () => {
  it('answers a publishable key on every secret route with 403 permission_error, doing nothing', async () => {
    for (const [method, path, body] of secretRoutes()) {
      const r = await api(method, path, { key: a.publishable_key, idem: newKey(), ...(body ? { body } : {}) });
      expect(r.status, `${method} ${path}`).toBe(403);
      expect(r.body.error.type, `${method} ${path}`).toBe('permission_error');
      expectRequestId(r);
    }
    const ch = await api('GET', `/v1/charges/${aAuth}`, { key: a.secret_key });
    expect(ch.body).toMatchObject({ captured: false, amount_refunded: 0 });
    const charged = await api('GET', `/v1/charges/${aCharge}`, { key: a.secret_key });
    expect(charged.body.amount_refunded).toBe(0);
  });

  it('lets a publishable key call the storefront routes', async () => {
    expect((await api('GET', '/v1/checkout-config', { key: a.publishable_key })).status).toBe(200);
    expect((await tokenFor(a)).startsWith('clv_')).toBe(true);
  });
});

describe('Request-Id', () => {
  it('is on every response, and repeated as request_id in error bodies', async () => {
    const s = await api('POST', '/v1/checkout-sessions', { key: a.secret_key, body: { amount: 100, currency: 'usd' } });
    const answers = [
      await api('GET', '/health'),
      await api('GET', '/v1/checkout-config', { key: a.publishable_key }),
      await api('GET', '/v1/charges', { key: a.secret_key }),
      await api('GET', `/v1/charges/${aCharge}`, { key: a.secret_key }),
      s,
      await api('GET', `/v1/charges/${missingId('ch')}`, { key: a.secret_key }),
      await api('POST', '/v1/charges', { key: a.secret_key, body: {} }),
      await api('POST', '/v1/charges', { key: a.secret_key, idem: newKey(), raw: '{' }),
      await api('POST', '/v1/refunds', { key: a.secret_key, idem: newKey(), body: { charge: aCharge, amount: 5000 } }),
      await api('POST', `/v1/checkout-sessions/${s.body.id}/pay`, {
        key: a.publishable_key,
        idem: newKey(),
        body: { client_secret: 'wrong', source: 'clv_abc' },
      }),
    ];
    expect(new Set(answers.map((r) => r.status))).toEqual(new Set([200, 201, 400, 404]));
    const ids = answers.map((r) => r.headers.get('request-id'));
    for (const r of answers) expectRequestId(r);
    expect(new Set(ids).size).toBe(ids.length);
  });
});

describe('tenancy', () => {
  /** B's answer about A's resource, and B's answer about a resource that does not exist. */
  async function bothMissing(theirs: Promise<Res>, missing: Promise<Res>): Promise<void> {
    const [t, m] = await Promise.all([theirs, missing]);
    expect(t.status).toBe(404);
    expect(t.body.error).toMatchObject({ type: 'invalid_request_error', code: 'resource_missing' });
    expect(sansRequestId(t.body)).toEqual(sansRequestId(m.body));
    expect(m.status).toBe(404);
  }

  it('B reading A’s charge gets 404 exactly like a missing one', async () => {
    await bothMissing(
      api('GET', `/v1/charges/${aCharge}`, { key: b.secret_key }),
      api('GET', `/v1/charges/${missingId('ch')}`, { key: b.secret_key }),
    );
  });

  it('B capturing A’s authorisation gets 404 exactly like a missing one, and nothing is captured', async () => {
    await bothMissing(
      api('POST', `/v1/charges/${aAuth}/capture`, { key: b.secret_key, idem: newKey(), body: {} }),
      api('POST', `/v1/charges/${missingId('ch')}/capture`, { key: b.secret_key, idem: newKey(), body: {} }),
    );
    expect((await api('GET', `/v1/charges/${aAuth}`, { key: a.secret_key })).body.captured).toBe(false);
  });

  it('B refunding A’s charge gets 404 exactly like a missing one, and nothing is refunded', async () => {
    await bothMissing(
      api('POST', '/v1/refunds', { key: b.secret_key, idem: newKey(), body: { charge: aCharge } }),
      api('POST', '/v1/refunds', { key: b.secret_key, idem: newKey(), body: { charge: missingId('ch') } }),
    );
    expect((await api('GET', `/v1/charges/${aCharge}`, { key: a.secret_key })).body.amount_refunded).toBe(0);
  });

  it('B reading A’s checkout session gets 404 exactly like a missing one', async () => {
    await bothMissing(
      api('GET', `/v1/checkout-sessions/${aSession.id}`, { key: b.secret_key }),
      api('GET', `/v1/checkout-sessions/${missingId('cs')}`, { key: b.secret_key }),
    );
  });

  it('B paying A’s session, even with its client_secret, gets 404 exactly like a missing one', async () => {
    const source = await tokenFor(b);
    await bothMissing(
      api('POST', `/v1/checkout-sessions/${aSession.id}/pay`, {
        key: b.publishable_key,
        idem: newKey(),
        body: { client_secret: aSession.client_secret, source },
      }),
      api('POST', `/v1/checkout-sessions/${missingId('cs')}/pay`, {
        key: b.publishable_key,
        idem: newKey(),
        body: { client_secret: aSession.client_secret, source },
      }),
    );
    const s = await api('GET', `/v1/checkout-sessions/${aSession.id}`, { key: a.secret_key });
    expect(s.body).toMatchObject({ status: 'open', charge: null });
  });

  it('B’s list holds none of A’s charges', async () => {
    const ownId = await chargeId(b);
    const list = await api('GET', '/v1/charges?limit=100', { key: b.secret_key });
    const ids = list.body.data.map((c: { id: string }) => c.id);
    expect(ids).toContain(ownId);
    expect(ids).not.toContain(aCharge);
    expect(ids).not.toContain(aAuth);
  });

  it('B cannot charge a token made with A’s key', async () => {
    const source = await tokenFor(a);
    const r = await api('POST', '/v1/charges', {
      key: b.secret_key,
      idem: newKey(),
      body: { source, amount: 100, currency: 'usd' },
    });
    expect(r.status).toBe(400);
    expect(r.body.error).toMatchObject({ type: 'invalid_request_error', param: 'source' });
  });
});
