// Idempotency-Key on the money-moving POSTs (API.md §1.3): required, replayed with the first status
// and body, refused with another body or route, scoped per merchant, and safe under concurrency.

import { beforeAll, describe, expect, it } from 'vitest';
import { api, newKey, newMerchant } from '../../helpers/platform';
import { CARDS, chargeId, cloverCharges, cloverRequestsOf, type Merchant, missingId, tokenFor } from './helpers';

let m: Merchant;
let other: Merchant;
beforeAll(async () => {
  [m, other] = await Promise.all([newMerchant(), newMerchant()]);
});

const post = (path: string, body: unknown, idem?: string, key = m.secret_key) =>
  api('POST', path, { key, body, ...(idem !== undefined ? { idem } : {}) });
const chargePosts = async (merchant: Merchant) =>
  (await cloverRequestsOf(merchant.merchant_id, '/v1/charges')).filter((r) => r.method === 'POST').length;

describe('Idempotency-Key', () => {
  it('is required on every money-moving POST: 400 idempotency_key_missing, before anything else', async () => {
    const id = await chargeId(m, { capture: false });
    const s = await api('POST', '/v1/checkout-sessions', { key: m.secret_key, body: { amount: 100, currency: 'usd' } });
    const calls: [string, unknown, string][] = [
      ['/v1/charges', { source: 'clv_abc', amount: 100, currency: 'usd' }, m.secret_key],
      // Even an invalid body is refused for its missing key first.
      ['/v1/charges', { amount: 'lots' }, m.secret_key],
      [`/v1/charges/${id}/capture`, {}, m.secret_key],
      ['/v1/refunds', { charge: id }, m.secret_key],
      [
        `/v1/checkout-sessions/${s.body.id}/pay`,
        { client_secret: s.body.client_secret, source: 'clv_a' },
        m.publishable_key,
      ],
    ];
    for (const [path, body, key] of calls) {
      const r = await post(path, body, undefined, key);
      expect(r.status, path).toBe(400);
      expect(r.body.error, path).toMatchObject({
        type: 'idempotency_error',
        code: 'idempotency_key_missing',
        request_id: r.headers.get('request-id'),
      });
    }
    const empty = await post('/v1/charges', { source: 'clv_abc', amount: 100, currency: 'usd' }, '');
    expect(empty.status).toBe(400);
    expect(empty.body.error.code).toBe('idempotency_key_missing');
    // Nothing moved: the authorisation is still there to capture.
    expect((await post(`/v1/charges/${id}/capture`, {}, newKey())).status).toBe(200);
  });

  it('must be 1 to 255 printable ASCII characters', async () => {
    const body = { source: 'clv_abc', amount: 100, currency: 'usd' };
    const long = await post('/v1/charges', body, 'k'.repeat(256));
    expect(long.status).toBe(400);
    expect(long.body.error.type).toBe('idempotency_error');
    const max = await post('/v1/charges', { ...body, source: await tokenFor(m) }, 'k'.repeat(255));
    expect(max.status).toBe(201);
  });

  it('replays a success with the same status and body, Idempotent-Replayed: true, and no second Clover call', async () => {
    const key = newKey();
    const body = { source: await tokenFor(m), amount: 1234, currency: 'usd', description: 'once' };
    const first = await post('/v1/charges', body, key);
    expect(first.status).toBe(201);
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    const sent = await chargePosts(m);
    const made = (await cloverCharges(m.merchant_id)).length;

    // Key order in the body does not matter.
    const reordered = { description: 'once', currency: 'usd', amount: 1234, source: body.source };
    for (const again of [await post('/v1/charges', body, key), await post('/v1/charges', reordered, key)]) {
      expect(again.status).toBe(201);
      expect(again.body).toEqual(first.body);
      expect(again.headers.get('idempotent-replayed')).toBe('true');
      expect(again.headers.get('request-id')).toBeTruthy();
      expect(again.headers.get('request-id')).not.toBe(first.headers.get('request-id'));
    }
    expect(await chargePosts(m)).toBe(sent);
    expect((await cloverCharges(m.merchant_id)).length).toBe(made);
  });

  it('replays a decline (402) as it was, without asking Clover again', async () => {
    const key = newKey();
    const body = { source: await tokenFor(m, CARDS.decline), amount: 500, currency: 'usd' };
    const first = await post('/v1/charges', body, key);
    expect(first.status).toBe(402);
    const sent = await chargePosts(m);
    const again = await post('/v1/charges', body, key);
    expect(again.status).toBe(402);
    expect(again.body).toEqual(first.body);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(await chargePosts(m)).toBe(sent);
  });

  it('replays a capture and a refund without a second Clover call', async () => {
    const id = await chargeId(m, { capture: false, amount: 800 });
    const captureKey = newKey();
    const c1 = await post(`/v1/charges/${id}/capture`, { amount: 800 }, captureKey);
    expect(c1.status).toBe(200);
    const captures = (await cloverRequestsOf(m.merchant_id, '/v1/charges/')).length;
    const c2 = await post(`/v1/charges/${id}/capture`, { amount: 800 }, captureKey);
    expect(c2.status).toBe(200);
    expect(c2.body).toEqual(c1.body);
    expect(c2.headers.get('idempotent-replayed')).toBe('true');
    expect((await cloverRequestsOf(m.merchant_id, '/v1/charges/')).length).toBe(captures);

    const refundKey = newKey();
    const r1 = await post('/v1/refunds', { charge: id, amount: 100 }, refundKey);
    expect(r1.status).toBe(201);
    const refunds = (await cloverRequestsOf(m.merchant_id, '/v1/refunds')).length;
    const r2 = await post('/v1/refunds', { charge: id, amount: 100 }, refundKey);
    expect(r2.status).toBe(201);
    expect(r2.body).toEqual(r1.body);
    expect(r2.headers.get('idempotent-replayed')).toBe('true');
    expect((await cloverRequestsOf(m.merchant_id, '/v1/refunds')).length).toBe(refunds);
    expect((await api('GET', `/v1/charges/${id}`, { key: m.secret_key })).body.amount_refunded).toBe(100);
  });

  it('replays a whole refund, although nothing is left to refund now', async () => {
    const id = await chargeId(m, { amount: 450 });
    const key = newKey();
    const first = await post('/v1/refunds', { charge: id }, key);
    expect(first.status).toBe(201);
    const again = await post('/v1/refunds', { charge: id }, key);
    expect(again.status).toBe(201);
    expect(again.body).toEqual(first.body);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    const reused = await post('/v1/refunds', { charge: id, amount: 1 }, key);
    expect(reused.status).toBe(422);
    expect(reused.body.error.code).toBe('idempotency_key_reused');
  });

  it('replays a checkout session pay, although the session is paid now', async () => {
    const s = (
      await api('POST', '/v1/checkout-sessions', { key: m.secret_key, body: { amount: 300, currency: 'usd' } })
    ).body;
    const key = newKey();
    const body = { client_secret: s.client_secret, source: await tokenFor(m) };
    const first = await post(`/v1/checkout-sessions/${s.id}/pay`, body, key, m.publishable_key);
    expect(first.status).toBe(201);
    const sent = await chargePosts(m);
    const again = await post(`/v1/checkout-sessions/${s.id}/pay`, body, key, m.publishable_key);
    expect(again.status).toBe(201);
    expect(again.body).toEqual(first.body);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(await chargePosts(m)).toBe(sent);
  });

  it('replays a declined checkout session pay after another card paid the session', async () => {
    const s = (
      await api('POST', '/v1/checkout-sessions', { key: m.secret_key, body: { amount: 310, currency: 'usd' } })
    ).body;
    const key = newKey();
    const body = { client_secret: s.client_secret, source: await tokenFor(m, CARDS.decline) };
    const declined = await post(`/v1/checkout-sessions/${s.id}/pay`, body, key, m.publishable_key);
    expect(declined.status).toBe(402);
    const paid = await post(
      `/v1/checkout-sessions/${s.id}/pay`,
      { client_secret: s.client_secret, source: await tokenFor(m) },
      newKey(),
      m.publishable_key,
    );
    expect(paid.status).toBe(201);
    const again = await post(`/v1/checkout-sessions/${s.id}/pay`, body, key, m.publishable_key);
    expect(again.status).toBe(402);
    expect(again.body).toEqual(declined.body);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
  });

  it('refuses the same key with another body: 422 idempotency_key_reused, and charges nothing', async () => {
    const key = newKey();
    const source = await tokenFor(m);
    expect((await post('/v1/charges', { source, amount: 1000, currency: 'usd' }, key)).status).toBe(201);
    const sent = await chargePosts(m);
    const r = await post('/v1/charges', { source: await tokenFor(m), amount: 1001, currency: 'usd' }, key);
    expect(r.status).toBe(422);
    expect(r.body.error).toMatchObject({ type: 'idempotency_error', code: 'idempotency_key_reused' });
    expect(await chargePosts(m)).toBe(sent);
  });

  it('refuses the same key on another route: 422 idempotency_key_reused', async () => {
    const key = newKey();
    const id = await chargeId(m, { amount: 900 });
    expect((await post('/v1/refunds', { charge: id, amount: 100 }, key)).status).toBe(201);
    const onCharges = await post('/v1/charges', { source: await tokenFor(m), amount: 100, currency: 'usd' }, key);
    expect(onCharges.status).toBe(422);
    expect(onCharges.body.error.code).toBe('idempotency_key_reused');
    const onCapture = await post(`/v1/charges/${id}/capture`, {}, key);
    expect(onCapture.status).toBe(422);
    expect(onCapture.body.error.code).toBe('idempotency_key_reused');
  });

  it('refuses the same key on the same route for another resource: 422', async () => {
    const a = await chargeId(m, { capture: false });
    const b = await chargeId(m, { capture: false });
    const key = newKey();
    expect((await post(`/v1/charges/${a}/capture`, {}, key)).status).toBe(200);
    const r = await post(`/v1/charges/${b}/capture`, {}, key);
    expect(r.status).toBe(422);
    expect(r.body.error.code).toBe('idempotency_key_reused');
  });

  it('does not remember a refused request: the key can be used once the body is right', async () => {
    const key = newKey();
    const bad = await post('/v1/charges', { source: 'clv_abc', amount: 1.5, currency: 'usd' }, key);
    expect(bad.status).toBe(400);
    const good = await post('/v1/charges', { source: await tokenFor(m), amount: 150, currency: 'usd' }, key);
    expect(good.status).toBe(201);
  });

  it('is scoped per merchant: two merchants may use one key independently', async () => {
    const key = newKey();
    const [a, b] = await Promise.all([
      post('/v1/charges', { source: await tokenFor(m), amount: 700, currency: 'usd' }, key, m.secret_key),
      post('/v1/charges', { source: await tokenFor(other), amount: 700, currency: 'usd' }, key, other.secret_key),
    ]);
    expect(a.status).toBe(201);
    expect(b.status).toBe(201);
    expect(a.body.id).not.toBe(b.body.id);
    expect(a.headers.get('idempotent-replayed')).toBeNull();
    expect(b.headers.get('idempotent-replayed')).toBeNull();
    expect((await cloverCharges(other.merchant_id)).map((c) => c.id)).toContain(b.body.clover.charge_id);
    expect((await cloverCharges(m.merchant_id)).map((c) => c.id)).toContain(a.body.clover.charge_id);
  });
});

describe('concurrent requests with one key', () => {
  it('20 concurrent POST /v1/charges make exactly one charge; every answer is it or 409 in progress', async () => {
    const key = newKey();
    const body = { source: await tokenFor(m), amount: 2020, currency: 'usd' };
    const before = await cloverCharges(m.merchant_id);
    const answers = await Promise.all(Array.from({ length: 20 }, () => post('/v1/charges', body, key)));

    const after = await cloverCharges(m.merchant_id);
    const made = after.slice(0, after.length - before.length);
    expect(made).toHaveLength(1);
    expect(made[0]).toMatchObject({ amount: 2020, status: 'succeeded' });

    const created = answers.filter((a) => a.status === 201);
    expect(created.length).toBeGreaterThanOrEqual(1);
    const id = created[0]!.body.id;
    for (const a of answers) {
      if (a.status === 201) {
        expect(a.body.id).toBe(id);
        expect(a.body.clover.charge_id).toBe(made[0]!.id);
      } else {
        expect(a.status).toBe(409);
        expect(a.body.error).toMatchObject({ type: 'idempotency_error', code: 'idempotency_in_progress' });
        expect(a.headers.get('retry-after')).toBe('1');
      }
    }
    const retry = await post('/v1/charges', body, key);
    expect(retry.status).toBe(201);
    expect(retry.body).toEqual(created[0]!.body);
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    expect((await cloverCharges(m.merchant_id)).length).toBe(after.length);
  });

  it('10 concurrent captures with one key capture once', async () => {
    const id = await chargeId(m, { capture: false, amount: 640 });
    const key = newKey();
    const answers = await Promise.all(Array.from({ length: 10 }, () => post(`/v1/charges/${id}/capture`, {}, key)));
    for (const a of answers) {
      expect([200, 409]).toContain(a.status);
      if (a.status === 200) expect(a.body).toMatchObject({ id, captured: true, amount_captured: 640 });
      else expect(a.body.error.code).toBe('idempotency_in_progress');
    }
    const captures = (await cloverRequestsOf(m.merchant_id, `/v1/charges/`)).filter((r) => r.path.endsWith('/capture'));
    const ours = (await api('GET', `/v1/charges/${id}`, { key: m.secret_key })).body;
    expect(captures.filter((r) => r.path.includes(ours.clover.charge_id))).toHaveLength(1);
  });

  it('10 concurrent captures with different keys reach Clover once', async () => {
    const id = await chargeId(m, { capture: false, amount: 650 });
    const answers = await Promise.all(
      Array.from({ length: 10 }, () => post(`/v1/charges/${id}/capture`, {}, newKey())),
    );
    expect(answers.filter((a) => a.status === 200)).toHaveLength(1);
    for (const a of answers.filter((x) => x.status !== 200)) expect(a.status).toBe(409);
    const ours = (await api('GET', `/v1/charges/${id}`, { key: m.secret_key })).body;
    expect(ours).toMatchObject({ captured: true, amount_captured: 650 });
    const captures = (await cloverRequestsOf(m.merchant_id, `/v1/charges/${ours.clover.charge_id}/capture`)).length;
    expect(captures).toBe(1);
  });

  it('the missing charge of a capture key is answered 404 and not remembered', async () => {
    const key = newKey();
    expect((await post(`/v1/charges/${missingId('ch')}/capture`, {}, key)).status).toBe(404);
    expect((await post(`/v1/charges/${missingId('ch')}/capture`, {}, key)).status).toBe(404);
  });
});
